/*  config_report.h — every problem of a configuration, not the first.

    A daemon's loader and its start-up checks add each error and warning
    they find, with where it came from ("FILE:LINE", an option, a default),
    to one report; the caller prints them all and refuses to start on any
    error (OpenBSD parse.y's habit: one run shows everything to fix). `-n`
    runs the same checks as a start. The report keeps the first
    CONFIG_REPORT_MAX lines and counts the rest.

    Checks that more than one daemon needs live here too.
*/
#ifndef LILAC_CONFIG_REPORT_H
#define LILAC_CONFIG_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"

#define CONFIG_REPORT_MAX 64           //  problems kept in a report (all are counted)

typedef struct {
    char lines [CONFIG_REPORT_MAX][CONFIG_ERROR_SIZE];  //  "WHERE: why"
    bool warning [CONFIG_REPORT_MAX];  //  line is a warning, not an error
    size_t count;                      //  lines kept
    size_t errors;                     //  errors found (kept or not)
    size_t warnings;                   //  warnings found (kept or not)
} config_report_t;

//  A report on the heap, for owners that keep one (a report is ~32 KB).
config_report_t *config_report_new (void);
//  NULL is a no-op.
void config_report_destroy (config_report_t **self_p);

void config_report_add (config_report_t *report, bool warning, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  Adds error as it is, unless it is NULL or empty (a reader's error text).
void config_report_error (config_report_t *report, const char *error);
//  Adds an error "FILE:LINE: " (node's) followed by the formatted text.
void config_report_at (config_report_t *report, config_t *node, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  Errors found (those past CONFIG_REPORT_MAX included).
size_t config_report_count (const config_report_t *report);
//  The index-th line kept, or NULL past the end.
const char *config_report_get (const config_report_t *report, size_t index);
//  Every child of section must be named in known (NULL-terminated), and no
//  key (a child without children) may be set twice: each offender is an
//  error. NULL section is a no-op.
void config_report_check_keys (config_report_t *report, config_t *section,
                               const char *const *known);
//  Logs every line (log_error, log_warn), each after prefix, and how many
//  more were found than kept.
void config_report_log (const config_report_t *report, const char *prefix);
//  The end of a daemon's checks, at -n and at start alike: logs every line;
//  with errors, a fatal "N errors in the configuration" (exit 1, ": not
//  starting" unless check_only). Returns normally only without errors.
void config_report_conclude (const config_report_t *report, bool check_only);

//  bus_endpoint_check over the comma-separated list: its error goes to
//  report, prefixed with where (e.g. "broker.conf:4: ingest").
void config_check_endpoints (const char *list, const char *where, config_report_t *report);
//  dir exists and is writable, or its nearest existing parent is (so the
//  daemon can make it, as it does at start). An error in report otherwise.
void config_check_dir (const char *dir, const char *where, config_report_t *report);
//  config_check_dir for the directory that holds the file at path.
void config_check_parent_dir (const char *path, const char *where, config_report_t *report);

#endif
