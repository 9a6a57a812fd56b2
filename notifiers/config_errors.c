/*  config_errors.c — every error of a config file, found in one run. See
    config_errors.h.

    A plain array of owned strings in the order found; a lookup before each
    add keeps them distinct (a config has tens of errors at worst, so the
    linear scan is nothing).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config_errors.h"
#include "mem.h"

struct _config_errors_t {
    char **errors;                 //  kept errors, owned
    size_t kept;                   //  entries in errors
    size_t dropped;                //  distinct errors past CONFIG_ERRORS_MAX
};

config_errors_t *
config_errors_new (void)
{
    return mem_alloc (sizeof (config_errors_t));
}

void
config_errors_destroy (config_errors_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    config_errors_t *self = *self_p;
    for (size_t index = 0; index < self->kept; index++)
        mem_free (self->errors [index]);
    mem_free (self->errors);
    mem_free (self);
    *self_p = NULL;
}

void
config_errors_add (config_errors_t *self, const char *error)
{
    if (!self || !error || !*error)
        return;
    for (size_t index = 0; index < self->kept; index++)
        if (strcmp (self->errors [index], error) == 0)
            return;
    if (self->kept == CONFIG_ERRORS_MAX) {
        self->dropped++;
        return;
    }
    self->errors = mem_realloc (self->errors, (self->kept + 1) * sizeof (char *));
    self->errors [self->kept++] = mem_strdup (error);
}

void
config_errors_at (config_errors_t *self, config_t *node, const char *format, ...)
{
    char why [CONFIG_ERROR_SIZE], error [CONFIG_ERROR_SIZE + 300];
    va_list args;
    va_start (args, format);
    vsnprintf (why, sizeof why, format, args);
    va_end (args);
    snprintf (error, sizeof error, "%s:%d: %s", config_file (node), config_line (node), why);
    config_errors_add (self, error);
}

size_t
config_errors_count (config_errors_t *self)
{
    return self ? self->kept + self->dropped : 0;
}

const char *
config_errors_get (config_errors_t *self, size_t index)
{
    return self && index < self->kept ? self->errors [index] : NULL;
}

static bool
s_known (const char *const *known, const char *name)
{
    for (; *known; known++)
        if (strcmp (*known, name) == 0)
            return true;
    return false;
}

void
config_errors_check_keys (config_errors_t *self, config_t *section, const char *const *known)
{
    if (!section || !known)
        return;
    const char *name = *config_name (section) ? config_name (section) : "root";
    for (config_t *child = config_child (section); child; child = config_next (child)) {
        if (!s_known (known, config_name (child))) {
            config_errors_at (self, child, "unknown key '%s' in section '%s'",
                              config_name (child), name);
            continue;
        }
        if (config_child (child))
            continue;                   //  sections may repeat (rule = NAME)
        for (config_t *earlier = config_child (section); earlier != child;
             earlier = config_next (earlier))
            if (!config_child (earlier) && strcmp (config_name (earlier), config_name (child)) == 0) {
                config_errors_at (self, child, "'%s' is set twice (first at line %d)",
                                  config_name (child), config_line (earlier));
                break;
            }
    }
}
