/*  log.c — the one logger: one line per call, to stderr, in one write(2).

    A line is "2026-11-24T10:00:00.123Z PROGRAM[PID] LEVEL: text\n". It is
    formatted into a fixed buffer on the stack (LOG_LINE_MAX bytes; longer
    text is cut and ends in "...") and handed to the kernel with a single
    write(2), so lines from one process never interleave, and lines from
    several processes sharing a terminal or journal pipe stay whole (stderr
    writes up to PIPE_BUF are atomic on a pipe).

    The text often carries what a peer sent (a bad frame, a name), so control
    characters are written as "\xNN": one log call is always one line, and a
    peer cannot forge lines of its own.

    log_limited() counts lines in fixed windows of LOG_LIMIT_WINDOW_MS on
    CLOCK_MONOTONIC (a wall-clock step must not reopen or freeze the
    window). The limiter's state lives in the caller's log_limit_t, so each
    kind of complaint has its own budget; the logger itself keeps only the
    program name and the verbose flag.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "log.h"

#define LOG_LINE_MAX     4096    //  bytes per line, newline included
#define LOG_PROGRAM_MAX  64      //  bytes of the program name kept

static char s_program [LOG_PROGRAM_MAX] = "lilac";     //  name in every line
static bool s_verbose;                                  //  print log_debug()?

void
log_init (const char *program, bool verbose)
{
    if (program && *program) {
        //  Keep only the base name: argv[0] may be a path
        const char *slash = strrchr (program, '/');
        if (slash && slash [1])
            program = slash + 1;
        snprintf (s_program, sizeof s_program, "%s", program);
    }
    s_verbose = verbose;
}

bool
log_verbose (void)
{
    return s_verbose;
}

//  Writes the timestamp prefix of a line into buffer; returns its length.
static size_t
s_prefix (char *buffer, size_t size, const char *level)
{
    struct timespec now;
    struct tm utc;
    if (clock_gettime (CLOCK_REALTIME, &now) != 0
    ||  !gmtime_r (&now.tv_sec, &utc)) {
        memset (&utc, 0, sizeof utc);
        utc.tm_year = 70;           //  an obviously wrong 1970-00-00
        now.tv_nsec = 0;
    }
    int length = snprintf (buffer, size,
        "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%ld] %s: ",
        utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
        utc.tm_hour, utc.tm_min, utc.tm_sec, (int) (now.tv_nsec / 1000000),
        s_program, (long) getpid (), level);
    if (length < 0)
        return 0;
    return (size_t) length < size ? (size_t) length : size - 1;
}

//  Copies text into buffer at *used, escaping control characters, leaving
//  room for "...\n". Returns false if the text did not fit.
static bool
s_append_escaped (char *buffer, size_t *used, size_t size, const char *text)
{
    static const char hex [] = "0123456789abcdef";
    size_t at = *used;
    size_t room = size - 5;             //  "...\n" and the terminating NUL
    bool fits = true;
    for (const unsigned char *cursor = (const unsigned char *) text; *cursor; cursor++) {
        unsigned char c = *cursor;
        bool control = (c < 0x20 && c != '\t') || c == 0x7f;
        size_t need = control ? 4 : 1;
        if (at + need > room) {
            fits = false;
            break;
        }
        if (control) {
            buffer [at++] = '\\';
            buffer [at++] = 'x';
            buffer [at++] = hex [c >> 4];
            buffer [at++] = hex [c & 15];
        }
        else
            buffer [at++] = (char) c;
    }
    *used = at;
    return fits;
}

//  Formats one line and writes it to stderr in one write(2).
static void
s_emit (const char *level, const char *suffix, const char *format, va_list args)
{
    char text [LOG_LINE_MAX];
    char line [LOG_LINE_MAX];
    int saved_errno = errno;        //  callers may log, then look at errno

    if (vsnprintf (text, sizeof text, format, args) < 0)
        snprintf (text, sizeof text, "(unprintable log format \"%s\")", format);

    size_t used = s_prefix (line, sizeof line, level);
    bool fits = s_append_escaped (line, &used, sizeof line, text);
    if (fits && suffix)
        fits = s_append_escaped (line, &used, sizeof line, suffix);
    if (!fits) {
        memcpy (line + used, "...", 3);
        used += 3;
    }
    line [used++] = '\n';

    //  One write; retry only the interrupted or partial case
    const char *cursor = line;
    while (used > 0) {
        ssize_t written = write (STDERR_FILENO, cursor, used);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            break;              //  nowhere left to complain
        cursor += written;
        used -= (size_t) written;
    }
    errno = saved_errno;
}

void
log_debug (const char *format, ...)
{
    if (!s_verbose)
        return;
    va_list args;
    va_start (args, format);
    s_emit ("debug", NULL, format, args);
    va_end (args);
}

void
log_info (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_emit ("info", NULL, format, args);
    va_end (args);
}

void
log_warn (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_emit ("warn", NULL, format, args);
    va_end (args);
}

void
log_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_emit ("error", NULL, format, args);
    va_end (args);
}

void
log_fatal (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_emit ("fatal", NULL, format, args);
    va_end (args);
    exit (1);
}

static int64_t
s_monotonic_ms (void)
{
    struct timespec now;
    if (clock_gettime (CLOCK_MONOTONIC, &now) != 0)
        return 0;
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void
log_limited (log_limit_t *limit, const char *format, ...)
{
    if (!limit)
        return;
    int64_t now = s_monotonic_ms ();
    if (now - limit->window_start >= LOG_LIMIT_WINDOW_MS
    ||  now < limit->window_start) {
        limit->window_start = now;
        limit->lines = 0;
    }
    if (limit->lines >= LOG_LIMIT_BURST) {
        if (limit->suppressed < UINT32_MAX)
            limit->suppressed++;
        return;
    }
    limit->lines++;

    char suffix [64];
    const char *tail = NULL;
    if (limit->suppressed) {
        snprintf (suffix, sizeof suffix, " (%u similar lines suppressed)",
                  (unsigned) limit->suppressed);
        tail = suffix;
        limit->suppressed = 0;
    }
    va_list args;
    va_start (args, format);
    s_emit ("warn", tail, format, args);
    va_end (args);
}
