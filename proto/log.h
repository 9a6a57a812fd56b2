/*  log.h — the one logger every lilac program uses.

    Lines go to stderr as "2026-11-24T10:00:00.123Z lilac-broker[123] info: text",
    so systemd's journal and a terminal both read them. log_debug() prints only
    when the program was started with -v. Before a daemon's loop starts, fatal
    errors use log_fatal() (message, exit 1) — the err(3) habit.

    log_limit_t keeps a bad peer from flooding the log: at most
    LOG_LIMIT_BURST lines per LOG_LIMIT_WINDOW_MS; the first line after a
    quiet window says how many were suppressed.
*/
#ifndef LILAC_LOG_H
#define LILAC_LOG_H

#include <stdbool.h>
#include <stdint.h>

#define LOG_LIMIT_BURST      10      //  lines allowed per window
#define LOG_LIMIT_WINDOW_MS  10000   //  window length

typedef struct {
    int64_t window_start;           //  ms, start of the current window
    uint32_t lines;                 //  lines printed in this window
    uint32_t suppressed;            //  lines dropped since the last printed one
} log_limit_t;

//  Names the program in every line; verbose enables log_debug().
void log_init (const char *program, bool verbose);
bool log_verbose (void);

void log_debug (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void log_info (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void log_warn (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void log_error (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
//  Prints at error level and exits 1. For start-up only.
void log_fatal (const char *format, ...) __attribute__ ((format (printf, 1, 2), noreturn));

//  A warning through a rate limit: printed only if the limit allows; the
//  first printed line after drops says "(N similar lines suppressed)".
void log_limited (log_limit_t *limit, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

#endif
