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

void
config_report_add (config_report_t *report, bool warning, const char *format, ...)
{
    if (warning)
        report->warnings++;
    else
        report->errors++;
    if (report->count == CONFIG_REPORT_MAX)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (report->lines [report->count], CONFIG_ERROR_SIZE, format, args);
    va_end (args);
    report->warning [report->count++] = warning;
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

//  One endpoint of a list (not NUL-terminated at length).
static void
s_check_endpoint (const char *start, size_t length, const char *where, config_report_t *report)
{
    static const char *const transports [] = {
        "tcp", "ipc", "inproc", "ws", "wss", "tipc", "vmci", "pgm", "epgm", "udp", NULL
    };
    char endpoint [512];
    snprintf (endpoint, sizeof endpoint, "%.*s", (int) length, start);
    char *separator = strstr (endpoint, "://");
    size_t known = 0;
    while (separator && transports [known]
       &&  (strlen (transports [known]) != (size_t) (separator - endpoint)
       ||   strncmp (endpoint, transports [known], (size_t) (separator - endpoint)) != 0))
        known++;
    if (!separator)
        config_report_add (report, false, "%s: '%s' has no transport (write tcp://HOST:PORT"
                           " or ipc:///PATH)", where, endpoint);
    else
    if (!transports [known])
        config_report_add (report, false, "%s: '%s': unknown transport '%.*s'", where,
                           endpoint, (int) (separator - endpoint), endpoint);
    else
    if (!separator [3] || (strcmp (transports [known], "tcp") == 0 && !strchr (separator + 3, ':')))
        config_report_add (report, false, "%s: '%s' names no %s", where, endpoint,
                           strcmp (transports [known], "tcp") == 0 ? "port (tcp://HOST:PORT)"
                                                                  : "address");
}

void
config_check_endpoints (const char *list, const char *where, config_report_t *report)
{
    const char *cursor = list ? list : "";
    size_t length;
    bool any = false;
    for (const char *start; (start = bus_endpoint_next (&cursor, &length)); ) {
        any = true;
        s_check_endpoint (start, length, where, report);
    }
    if (!any)
        config_report_add (report, false, "%s: no endpoint", where);
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
