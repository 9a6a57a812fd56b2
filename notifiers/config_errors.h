/*  config_errors.h — every error of a config file, found in one run.

    A notifier's `-n`, its start and its SIGHUP reload check the whole file
    and report each problem ("FILE:LINE: why"), not only the first (the
    OpenBSD parse.y habit): a collector is handed to every check, which adds
    what it finds and carries on. The same text is never added twice (a
    check at start and again when the destination opens must not say it
    twice); at most CONFIG_ERRORS_MAX are kept, the rest counted.

    Generic on purpose: the broker and the agent could use it as it is
    (it would then move to proto/).
*/
#ifndef LILAC_CONFIG_ERRORS_H
#define LILAC_CONFIG_ERRORS_H

#include <stdarg.h>
#include <stddef.h>
#include "config.h"

#define CONFIG_ERRORS_MAX  100         //  errors kept; later ones only counted

typedef struct _config_errors_t config_errors_t;

config_errors_t *config_errors_new (void);
//  NULL is a no-op.
void config_errors_destroy (config_errors_t **self_p);
//  Adds a copy of error unless it is NULL, empty or already there.
void config_errors_add (config_errors_t *self, const char *error);
//  Adds "FILE:LINE: " (the node's) followed by the formatted text.
void config_errors_at (config_errors_t *self, config_t *node, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  Errors found (those dropped past CONFIG_ERRORS_MAX included).
size_t config_errors_count (config_errors_t *self);
//  The index-th error kept, or NULL past the end.
const char *config_errors_get (config_errors_t *self, size_t index);
//  Every child of section must be named in known (NULL-terminated), and no
//  key (a child without children) may be set twice: each offender is added
//  as config_check_keys words it. NULL section is a no-op.
void config_errors_check_keys (config_errors_t *self, config_t *section,
                               const char *const *known);

#endif
