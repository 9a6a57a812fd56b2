/*  config_report.c — collecting a configuration's problems. See config_report.h.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bus.h"
#include "config_report.h"
#include "log.h"
#include "mem.h"

config_report_t *
config_report_new (void)
{
    return mem_alloc (sizeof (config_report_t));
}

void
config_report_destroy (config_report_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mem_free (*self_p);
    *self_p = NULL;
}

//  Adds text unless it is there already.
static void
s_add (config_report_t *report, bool warning, const char *text)
{
    for (size_t index = 0; index < report->count; index++)
        if (strcmp (report->lines [index], text) == 0)
            return;
    if (warning)
        report->warnings++;
    else
        report->errors++;
    if (report->count == CONFIG_REPORT_MAX)
        return;
    snprintf (report->lines [report->count], CONFIG_ERROR_SIZE, "%s", text);
    report->warning [report->count++] = warning;
}

void
config_report_add (config_report_t *report, bool warning, const char *format, ...)
{
    char text [CONFIG_ERROR_SIZE];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    s_add (report, warning, text);
}

void
config_report_error (config_report_t *report, const char *error)
{
    if (report && error && *error)
        s_add (report, false, error);
}

void
config_report_at (config_report_t *report, config_t *node, const char *format, ...)
{
    char why [CONFIG_ERROR_SIZE];
    va_list args;
    va_start (args, format);
    vsnprintf (why, sizeof why, format, args);
    va_end (args);
    config_report_add (report, false, "%s:%d: %s", config_file (node), config_line (node), why);
}

size_t
config_report_count (const config_report_t *report)
{
    return report ? report->errors : 0;
}

const char *
config_report_get (const config_report_t *report, size_t index)
{
    return report && index < report->count ? report->lines [index] : NULL;
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
config_report_check_keys (config_report_t *report, config_t *section, const char *const *known)
{
    if (!section || !known)
        return;
    const char *name = *config_name (section) ? config_name (section) : "root";
    for (config_t *child = config_child (section); child; child = config_next (child)) {
        if (!s_known (known, config_name (child))) {
            config_report_at (report, child, "unknown key '%s' in section '%s'",
                              config_name (child), name);
            continue;
        }
        if (config_child (child))
            continue;                   //  sections may repeat (rule = NAME)
        for (config_t *earlier = config_child (section); earlier != child;
             earlier = config_next (earlier))
            if (!config_child (earlier) && strcmp (config_name (earlier), config_name (child)) == 0) {
                config_report_at (report, child, "'%s' is set twice (first at line %d)",
                                  config_name (child), config_line (earlier));
                break;
            }
    }
}

void
config_report_log (const config_report_t *report, const char *prefix)
{
    for (size_t index = 0; index < report->count; index++)
        if (report->warning [index])
            log_warn ("%s%s", prefix, report->lines [index]);
        else
            log_error ("%s%s", prefix, report->lines [index]);
    if (report->errors + report->warnings > report->count)
        log_error ("%s%zu more problems not shown", prefix,
                   report->errors + report->warnings - report->count);
}

void
config_report_conclude (const config_report_t *report, bool check_only)
{
    config_report_log (report, "");
    if (report->errors)
        log_fatal ("%zu error%s in the configuration%s", report->errors,
                   report->errors == 1 ? "" : "s", check_only ? "" : ": not starting");
}

void
config_check_endpoints (const char *list, const char *where, config_report_t *report)
{
    char error [CONFIG_ERROR_SIZE];
    if (bus_endpoint_check (list, error, sizeof error))
        config_report_add (report, false, "%s: %s", where, error);
}

void
config_check_dir (const char *dir, const char *where, config_report_t *report)
{
    char path [4096];
    snprintf (path, sizeof path, "%s", dir);
    struct stat info;
    for (int depth = 0; stat (path, &info) != 0; depth++) {
        if (depth > 256) {
            config_report_add (report, false, "%s: %s: no parent can be read", where, dir);
            return;
        }
        char *slash = strrchr (path, '/');
        if (!slash) {
            snprintf (path, sizeof path, ".");
            continue;
        }
        if (slash == path)
            slash [1] = 0;
        else
            *slash = 0;
    }
    if (!S_ISDIR (info.st_mode))
        config_report_add (report, false, "%s: %s: %s is not a directory", where, dir, path);
    else
    if (access (path, W_OK | X_OK) != 0)
        config_report_add (report, false, "%s: %s: %s is not writable (%s)", where, dir,
                           path, strerror (errno));
}

void
config_check_parent_dir (const char *path, const char *where, config_report_t *report)
{
    char dir [4096];
    snprintf (dir, sizeof dir, "%s", path);
    char *slash = strrchr (dir, '/');
    if (!slash)
        snprintf (dir, sizeof dir, ".");
    else
    if (slash == dir)
        slash [1] = 0;
    else
        *slash = 0;
    config_check_dir (dir, where, report);
}
