/*  timespec.c — time specs and durations, parsed by hand with checked
    arithmetic.

    Both grammars are small enough to read one character at a time:

        time spec  = "now" | "clear" | sign digits [unit] | digits
        duration   = digits [unit]
        sign       = "+" | "-"
        unit       = "ms" | "s" | "m" | "h" | "d"      (none: seconds)

    A bare number in a time spec is seconds since the epoch, so "5m" without
    a sign is not a time spec. Nothing else is accepted: no spaces, no upper
    case, no fractions, no trailing characters. Every multiplication and
    addition goes through __builtin_*_overflow, so a long string of digits is
    an error, never a wrapped time. We use no strtoll: it skips spaces,
    accepts signs and sets errno, which are three things to undo.
*/
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "timespec.h"

//  Reads one or more decimal digits at *cursor into *value, advancing the
//  cursor. Returns -1 on no digits or overflow.
static int
s_parse_digits (const char **cursor, int64_t *value)
{
    const char *at = *cursor;
    int64_t total = 0;
    if (*at < '0' || *at > '9')
        return -1;
    while (*at >= '0' && *at <= '9') {
        if (__builtin_mul_overflow (total, 10, &total)
        ||  __builtin_add_overflow (total, *at - '0', &total))
            return -1;
        at++;
    }
    *cursor = at;
    *value = total;
    return 0;
}

//  Reads an optional unit that must end the text; sets *scale to its
//  length in ms. Returns -1 on an unknown unit or trailing characters.
static int
s_parse_unit (const char *text, int64_t *scale)
{
    if (text [0] == 'm' && text [1] == 's' && text [2] == 0) {
        *scale = 1;
        return 0;
    }
    if (text [0] != 0 && text [1] != 0)
        return -1;
    switch (text [0]) {
        case 0:   *scale = 1000; break;
        case 's': *scale = 1000; break;
        case 'm': *scale = 60 * 1000; break;
        case 'h': *scale = 60 * 60 * 1000; break;
        case 'd': *scale = 24 * 60 * 60 * 1000; break;
        default:  return -1;
    }
    return 0;
}

//  Parses digits and an optional unit that make up all of text, in ms.
static int
s_parse_amount (const char *text, int64_t *ms)
{
    int64_t count, scale;
    if (s_parse_digits (&text, &count)
    ||  s_parse_unit (text, &scale)
    ||  __builtin_mul_overflow (count, scale, ms))
        return -1;
    return 0;
}

int
time_spec_parse (const char *text, int64_t now_ms, int64_t *when_ms)
{
    if (!text || !when_ms)
        return -1;
    int64_t when;
    int rc = 0;
    if (*text == '+' || *text == '-') {     //  a heartbeat's "+5m": the common case
        int64_t offset;
        if (s_parse_amount (text + 1, &offset))
            return -1;
        if (*text == '+'
        ?   __builtin_add_overflow (now_ms, offset, &when)
        :   __builtin_sub_overflow (now_ms, offset, &when))
            return -1;
    }
    else
    if (strcmp (text, "now") == 0)
        when = now_ms;
    else
    if (strcmp (text, "clear") == 0) {
        when = now_ms;
        rc = TIMESPEC_CLEAR;
    }
    else {
        //  Bare seconds since the epoch: digits only, no unit
        const char *cursor = text;
        int64_t seconds;
        if (s_parse_digits (&cursor, &seconds)
        ||  *cursor != 0
        ||  __builtin_mul_overflow (seconds, 1000, &when))
            return -1;
    }
    if (when <= 0)
        return -1;                  //  1970 or before: 0 means "none" inside lilac
    *when_ms = when;
    return rc;
}

int
duration_parse (const char *text, int64_t *ms)
{
    int64_t value;
    if (!text || !ms || s_parse_amount (text, &value))
        return -1;
    *ms = value;
    return 0;
}

char *
duration_format (int64_t ms, char *buffer, int size)
{
    static const struct {
        int64_t scale;              //  unit length in ms
        const char *name;           //  suffix duration_parse reads
    } units [] = {
        { 24 * 60 * 60 * 1000, "d" },
        { 60 * 60 * 1000, "h" },
        { 60 * 1000, "m" },
        { 1000, "s" },
    };
    if (!buffer || size <= 0)
        return buffer;
    if (ms == 0) {
        snprintf (buffer, (size_t) size, "0s");
        return buffer;
    }
    for (size_t index = 0; index < sizeof units / sizeof units [0]; index++)
        if (ms % units [index].scale == 0) {
            snprintf (buffer, (size_t) size, "%lld%s",
                      (long long) (ms / units [index].scale), units [index].name);
            return buffer;
        }
    snprintf (buffer, (size_t) size, "%lldms", (long long) ms);
    return buffer;
}

char *
time_format (int64_t ms, char *buffer, int size)
{
    if (!buffer || size <= 0)
        return buffer;
    if (ms == 0) {
        snprintf (buffer, (size_t) size, "-");
        return buffer;
    }
    //  Floor division, so times before 1970 still print sensibly
    int64_t seconds = ms / 1000;
    int64_t millis = ms % 1000;
    if (millis < 0) {
        seconds--;
        millis += 1000;
    }
    time_t clock = (time_t) seconds;
    struct tm utc;
    if (!gmtime_r (&clock, &utc)) {
        snprintf (buffer, (size_t) size, "(bad time %lld)", (long long) ms);
        return buffer;
    }
    snprintf (buffer, (size_t) size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
              utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
              utc.tm_hour, utc.tm_min, utc.tm_sec, (int) millis);
    return buffer;
}

int64_t
clock_now_ms (void)
{
    struct timespec now;
    if (clock_gettime (CLOCK_REALTIME, &now) != 0)
        return 0;               //  cannot happen with CLOCK_REALTIME
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}
