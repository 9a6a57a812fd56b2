/*  options.c — checking what the user typed, before anything is sent.

    Every value the `lilac` command puts on the wire is checked here first,
    against the same limits the broker enforces (wire.h), so that a typo is
    a clear message and exit 2 on the user's terminal rather than a frame
    the broker rejects and only counts. Times are checked with
    time_spec_parse but sent as the text the user gave: the broker resolves
    relative times against its own clock. Also here: the error printers that
    give every subcommand the same "lilac CMD: why" shape, and the defaults
    for endpoints, the deadline and the acting user's name.
*/
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ctl.h"
#include "alert.h"
#include "cli.h"
#include "mem.h"
#include "timespec.h"
#include "wire.h"

int
cli_usage_error (const char *command, const char *usage, const char *format, ...)
{
    if (!format) {
        fputs (usage, stderr);
        return CLI_EXIT_USAGE;
    }
    fprintf (stderr, "lilac%s%s: ", command ? " " : "", command ? command : "");
    va_list args;
    va_start (args, format);
    vfprintf (stderr, format, args);
    va_end (args);
    fprintf (stderr, "\ntry 'lilac%s%s --help'\n", command ? " " : "", command ? command : "");
    return CLI_EXIT_USAGE;
}

ctl_t *
cli_ctl_open (const char *endpoint, int timeout_ms, char *error, size_t error_size)
{
    ctl_t *ctl = ctl_new (endpoint, timeout_ms, false, error, error_size);
    if (ctl && ctl_watch_connection (ctl, error, error_size))
        ctl_destroy (&ctl);
    return ctl;
}

int
cli_fail (const char *command, const char *format, ...)
{
    fprintf (stderr, "lilac%s%s: ", command ? " " : "", command ? command : "");
    va_list args;
    va_start (args, format);
    vfprintf (stderr, format, args);
    va_end (args);
    fputc ('\n', stderr);
    return CLI_EXIT_FAILURE;
}

//  getopt_long leaves the failing option in optopt (short) or in the
//  element just before optind (long, or a short one at the end of a cluster).
int
cli_option_error (const char *command, const char *usage, int result,
                  int argc, char **argv)
{
    const char *text = (optind > 0 && optind <= argc) ? argv [optind - 1] : "?";
    if (result == ':') {
        if (optopt)
            return cli_usage_error (command, usage, "option -%c needs a value", optopt);
        return cli_usage_error (command, usage, "option %s needs a value", text);
    }
    if (optopt)
        return cli_usage_error (command, usage, "unknown option -%c", optopt);
    return cli_usage_error (command, usage, "unknown option '%s'", text);
}

int
cli_check_time (const char *what, char *text, char *error, size_t error_size)
{
    int64_t when;
    if (!text || time_spec_parse (text, clock_now_ms (), &when) < 0) {
        snprintf (error, error_size, "%s: '%s': %s", what, text ? text : "",
                  time_spec_why (text));
        return -1;
    }
    if (time_spec_is_local (text)) {
        char seconds [32];
        snprintf (seconds, sizeof seconds, "%lld", (long long) (when / 1000));
        assert (strlen (seconds) <= strlen (text));
        strcpy (text, seconds);
    }
    return 0;
}

int
cli_check_name (const char *what, const char *text, char *error, size_t error_size)
{
    if (!text || !wire_name_valid (text)) {
        snprintf (error, error_size,
                  "%s: '%s' is not a valid name (1 to %d bytes of UTF-8, "
                  "no control characters)", what, text ? text : "", WIRE_MAX_NAME);
        return -1;
    }
    return 0;
}

int
cli_check_text (const char *what, const char *text, size_t max_bytes,
                char *error, size_t error_size)
{
    size_t size = strlen (text);
    if (size > max_bytes) {
        snprintf (error, error_size, "%s: %zu bytes is too long (at most %zu)",
                  what, size, max_bytes);
        return -1;
    }
    if (!wire_utf8_valid (text, size)) {
        snprintf (error, error_size, "%s: not valid UTF-8", what);
        return -1;
    }
    return 0;
}

int
cli_check_level (const char *what, const char *text, char *error, size_t error_size)
{
    alert_level_t level;
    if (alert_level_parse (text, &level) != 0) {
        snprintf (error, error_size,
                  "%s: '%s' is not a level (urgent, normal or low)", what, text);
        return -1;
    }
    return 0;
}

int
cli_parse_label (const char *what, const char *text, char **key, char **value,
                 char *error, size_t error_size)
{
    const char *equals = strchr (text, '=');
    if (!equals || equals == text) {
        snprintf (error, error_size, "%s: '%s' is not KEY=VALUE", what, text);
        return -1;
    }
    size_t key_size = (size_t) (equals - text);
    if (key_size > WIRE_MAX_LABEL_KEY) {
        snprintf (error, error_size, "%s: key of %zu bytes is too long (at most %d)",
                  what, key_size, WIRE_MAX_LABEL_KEY);
        return -1;
    }
    if (!wire_utf8_valid (text, key_size)) {
        snprintf (error, error_size, "%s: key is not valid UTF-8", what);
        return -1;
    }
    for (size_t at = 0; at < key_size; at++)
        if ((unsigned char) text [at] < 0x20 || text [at] == 0x7f) {
            snprintf (error, error_size, "%s: key holds a control character", what);
            return -1;
        }
    if (cli_check_text (what, equals + 1, WIRE_MAX_LABEL_VALUE, error, error_size))
        return -1;
    *key = mem_alloc (key_size + 1);
    memcpy (*key, text, key_size);
    *value = mem_strdup (equals + 1);
    return 0;
}

int
cli_parse_timeout (const char *what, const char *text, int *timeout_ms,
                   char *error, size_t error_size)
{
    char *end = NULL;
    errno = 0;
    double seconds = strtod (text, &end);
    if (errno || end == text || *end || !isfinite (seconds)
    ||  seconds <= 0 || seconds * 1000 > CLI_MAX_TIMEOUT_MS) {
        snprintf (error, error_size,
                  "%s: '%s' is not a number of seconds (more than 0, at most a day)",
                  what, text);
        return -1;
    }
    *timeout_ms = (int) ceil (seconds * 1000);
    return 0;
}

int
cli_parse_count (const char *what, const char *text, long min, long max,
                 long *value, char *error, size_t error_size)
{
    char *end = NULL;
    errno = 0;
    long number = strtol (text, &end, 10);
    if (errno || end == text || *end || number < min || number > max) {
        snprintf (error, error_size, "%s: '%s' is not a whole number from %ld to %ld",
                  what, text, min, max);
        return -1;
    }
    *value = number;
    return 0;
}

int
cli_timeout_ms (const cli_t *cli)
{
    return cli->timeout_ms > 0 ? cli->timeout_ms : CLI_DEFAULT_TIMEOUT_MS;
}

const char *
cli_endpoint (const char *given, const char *variable, const char *fallback)
{
    if (given && *given)
        return given;
    const char *value = getenv (variable);
    if (value && *value)
        return value;
    return fallback;
}

const char *
cli_user_name (void)
{
    const char *name = getenv ("USER");
    if (name && *name)
        return name;
    name = getlogin ();
    if (name && *name)
        return name;
    struct passwd *entry = getpwuid (geteuid ());
    if (entry && entry->pw_name && *entry->pw_name)
        return entry->pw_name;
    return "unknown";
}

void
cli_print_plain (FILE *out, const char *text)
{
    for (const char *at = text; *at; at++) {
        unsigned char byte = (unsigned char) *at;
        fputc (byte < 0x20 || byte == 0x7f ? ' ' : byte, out);
    }
}
