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

#define CONFIG_REPORT_MAX 32           //  problems kept in a report (all are counted)

typedef struct {
    char lines [CONFIG_REPORT_MAX][CONFIG_ERROR_SIZE];  //  "WHERE: why"
    bool warning [CONFIG_REPORT_MAX];  //  line is a warning, not an error
    size_t count;                      //  lines kept
    size_t errors;                     //  errors found (kept or not)
    size_t warnings;                   //  warnings found (kept or not)
} config_report_t;

void config_report_add (config_report_t *report, bool warning, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  Logs every line (log_error, log_warn), each after prefix, and how many
//  more were found than kept.
void config_report_log (const config_report_t *report, const char *prefix);

//  Every endpoint of the comma-separated list names a transport libzmq has
//  and an address after it (tcp: a port). Problems go to report, each
//  prefixed with where (e.g. "broker.conf:4: ingest").
void config_check_endpoints (const char *list, const char *where, config_report_t *report);
//  dir exists and is writable, or its nearest existing parent is (so the
//  daemon can make it, as it does at start). An error in report otherwise.
void config_check_dir (const char *dir, const char *where, config_report_t *report);
//  config_check_dir for the directory that holds the file at path.
void config_check_parent_dir (const char *path, const char *where, config_report_t *report);

#endif
