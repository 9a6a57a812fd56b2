/*  timespec.c — time specs and durations, parsed by hand with checked
    arithmetic.
    Both grammars are small enough to read one character at a time:
        time spec  = "now" | "clear" | sign offset | offset-with-units
                   | iso | ("today" | "tomorrow") " " clock | digits
        offset     = digits [unit] | (digits unit)+        ("90", "1h30m")
        duration   = digits [unit]
        sign       = "+" | "-"
        unit       = "ms" | "s" | "m" | "h" | "d" | "w"   (none: seconds)
        iso        = YYYY "-" MM "-" DD ("T" | " ") clock [zone]
        clock      = HH ":" MM [":" SS]
        zone       = "Z" | sign HH [":"] MM                (none: local time)
    An offset without a sign is from now ("5m" is "+5m"), but a bare number
    is seconds since the epoch, and one too long for seconds (more than
    TIMESPEC_SECONDS_MAX, the year 5138) is refused: it is milliseconds
    (time_spec_why tells the user so). Local times (an ISO time without a
    zone, "tomorrow 09:00") are the process's zone: the lilac command turns
    them into epoch seconds before they leave the user's machine
    (time_spec_is_local). Nothing else is accepted: no other spaces, no
    upper case, no fractions, no trailing characters. Every multiplication
    and addition goes through __builtin_*_overflow, so a long string of
    digits is an error, never a wrapped time. We use no strtoll: it skips
    spaces, accepts signs and sets errno, which are three things to undo.
*/
#include <stdbool.h>
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

//  A unit at *cursor (ms, s, m, h, d, w), its length in ms; advances the
//  cursor. -1 when there is none. A switch, not a table of names: every
//  heartbeat's "+5m" comes through here (a loop of strncmp over the names
//  was a twentieth of the broker's batched ingest, perf).
static int
s_take_unit (const char **cursor, int64_t *scale)
{
    const char *at = *cursor;
    size_t length = 1;
    switch (at [0]) {
        case 'm':
            if (at [1] == 's') {
                *scale = 1;
                length = 2;
            }
            else
                *scale = 60000;
            break;
        case 's': *scale = 1000; break;
        case 'h': *scale = 3600000; break;
        case 'd': *scale = 86400000; break;
        case 'w': *scale = 604800000; break;
        default:  return -1;
    }
    *cursor = at + length;
    return 0;
}

//  Reads an optional unit that must end the text; sets *scale to its
//  length in ms (none: seconds). A duration's unit is an offset's but for
//  weeks. Returns -1 on an unknown unit or trailing characters.
static int
s_parse_unit (const char *text, int64_t *scale)
{
    if (*text == 0) {
        *scale = 1000;
        return 0;
    }
    if (*text == 'w' || s_take_unit (&text, scale) || *text != 0)
        return -1;
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

//  An offset: "90" (seconds), "5m", "1h30m", "1w2d": digits and a unit,
//  repeated; a bare number only alone. Into *ms; -1 on anything else.
static int
s_parse_offset (const char *text, bool bare_allowed, int64_t *ms)
{
    int64_t total = 0;
    int parts = 0;
    while (*text) {
        int64_t count, scale = 1000;
        if (s_parse_digits (&text, &count))
            return -1;
        if (s_take_unit (&text, &scale) && !(bare_allowed && parts == 0 && *text == 0))
            return -1;
        if (__builtin_mul_overflow (count, scale, &count)
        ||  __builtin_add_overflow (total, count, &total))
            return -1;
        parts++;
    }
    if (parts == 0)
        return -1;
    *ms = total;
    return 0;
}

//  A heartbeat's offset, "5m" after its sign: digits and one unit, all
//  of text, into *ms without s_parse_offset's loop over parts (a fifth of
//  a heartbeat's decode, perf). false for anything else, which
//  s_parse_offset reads (and refuses where this refused an overflow).
static bool
s_parse_short_offset (const char *text, int64_t *ms)
{
    int64_t count, scale;
    return s_parse_digits (&text, &count) == 0 && s_take_unit (&text, &scale) == 0
        && *text == 0 && !__builtin_mul_overflow (count, scale, ms);
}

//  Exactly width digits at *cursor, as a number; advances. -1 otherwise.
static int
s_take_fixed (const char **cursor, int width, int *value)
{
    int total = 0;
    for (int index = 0; index < width; index++) {
        char digit = (*cursor) [index];
        if (digit < '0' || digit > '9')
            return -1;
        total = total * 10 + (digit - '0');
    }
    *cursor += width;
    *value = total;
    return 0;
}

//  "HH:MM" or "HH:MM:SS" at *cursor into tm; advances. -1 when not.
static int
s_take_clock (const char **cursor, struct tm *tm)
{
    if (s_take_fixed (cursor, 2, &tm->tm_hour) || **cursor != ':')
        return -1;
    (*cursor)++;
    if (s_take_fixed (cursor, 2, &tm->tm_min))
        return -1;
    tm->tm_sec = 0;
    if (**cursor == ':') {
        (*cursor)++;
        if (s_take_fixed (cursor, 2, &tm->tm_sec))
            return -1;
    }
    return tm->tm_hour <= 23 && tm->tm_min <= 59 && tm->tm_sec <= 60 ? 0 : -1;
}

//  The fields in tm as a time: local (mktime) or, with utc_offset_s,
//  UTC minus the offset. -1 when they do not make a real time.
static int
s_tm_to_ms (struct tm *tm, bool local, int64_t utc_offset_s, int64_t *when)
{
    struct tm wanted = *tm;
    tm->tm_isdst = -1;
    time_t seconds = local ? mktime (tm) : timegm (tm);
    if (seconds == (time_t) -1 || tm->tm_mday != wanted.tm_mday || tm->tm_mon != wanted.tm_mon)
        return -1;                  //  "02-30" normalised into March: not a date
    *when = ((int64_t) seconds - (local ? 0 : utc_offset_s)) * 1000;
    return 0;
}

//  ISO 8601: "2026-12-24T09:00", seconds optional, a space for the T
//  allowed, then "Z", "+01:00", "-0500" or nothing (local time).
static int
s_parse_iso (const char *text, int64_t *when, bool *local)
{
    struct tm tm = { 0 };
    const char *cursor = text;
    if (s_take_fixed (&cursor, 4, &tm.tm_year) || *cursor++ != '-'
    ||  s_take_fixed (&cursor, 2, &tm.tm_mon) || *cursor++ != '-'
    ||  s_take_fixed (&cursor, 2, &tm.tm_mday) || (*cursor != 'T' && *cursor != ' '))
        return -1;
    cursor++;
    if (s_take_clock (&cursor, &tm) || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t offset_s = 0;
    *local = *cursor == 0;
    if (*cursor == 'Z')
        cursor++;
    else
    if (*cursor == '+' || *cursor == '-') {
        int sign = *cursor++ == '-' ? -1 : 1, hours, minutes;
        if (s_take_fixed (&cursor, 2, &hours))
            return -1;
        if (*cursor == ':')
            cursor++;
        if (s_take_fixed (&cursor, 2, &minutes) || hours > 23 || minutes > 59)
            return -1;
        offset_s = sign * (hours * 3600 + minutes * 60);
    }
    if (*cursor)
        return -1;
    return s_tm_to_ms (&tm, *local, offset_s, when);
}

//  "today 18:00", "tomorrow 09:00": local time.
static int
s_parse_day (const char *text, int64_t now_ms, int64_t *when)
{
    int days = strncmp (text, "today ", 6) == 0 ? 0 : strncmp (text, "tomorrow ", 9) == 0 ? 1 : -1;
    if (days < 0)
        return -1;
    const char *cursor = text + (days ? 9 : 6);
    time_t now = (time_t) (now_ms / 1000);
    struct tm tm;
    if (!localtime_r (&now, &tm) || s_take_clock (&cursor, &tm) || *cursor)
        return -1;
    tm.tm_mday += days;
    tm.tm_isdst = -1;
    time_t seconds = mktime (&tm);
    if (seconds == (time_t) -1)
        return -1;
    *when = (int64_t) seconds * 1000;
    return 0;
}

int
time_spec_parse (const char *text, int64_t now_ms, int64_t *when_ms)
{
    if (!text || !when_ms)
        return -1;
    int64_t when, offset;
    bool local;
    int rc = 0;
    if (*text == '+' || *text == '-') {     //  a heartbeat's "+5m": the common case
        if (!s_parse_short_offset (text + 1, &offset)
        &&  s_parse_offset (text + 1, true, &offset))
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
    else
    if (s_parse_offset (text, false, &offset) == 0) {     //  "5m": "+5m"
        if (__builtin_add_overflow (now_ms, offset, &when))
            return -1;
    }
    else
    if (s_parse_iso (text, &when, &local) == 0 || s_parse_day (text, now_ms, &when) == 0)
        ;
    else {
        //  Bare seconds since the epoch: digits only, no unit, and not so
        //  many that they can only be milliseconds (time_spec_why says so)
        const char *cursor = text;
        int64_t seconds;
        if (s_parse_digits (&cursor, &seconds)
        ||  *cursor != 0 || seconds > TIMESPEC_SECONDS_MAX
        ||  __builtin_mul_overflow (seconds, 1000, &when))
            return -1;
    }
    if (when <= 0)
        return -1;                  //  1970 or before: 0 means "none" inside lilac
    *when_ms = when;
    return rc;
}

bool
time_spec_is_local (const char *text)
{
    int64_t when;
    bool local = false;
    return text && ((s_parse_iso (text, &when, &local) == 0 && local)
                    || s_parse_day (text, clock_now_ms (), &when) == 0);
}

const char *
time_spec_why (const char *text)
{
    const char *cursor = text ? text : "";
    int64_t number;
    if (s_parse_digits (&cursor, &number) == 0 && *cursor == 0 && number > TIMESPEC_SECONDS_MAX)
        return "a number that long is milliseconds since the epoch; lilac takes seconds "
               "(divide by 1000)";
    return "not a time (try now, +5m, 1h30m, +1w, clear, 2026-12-24T09:00, "
           "tomorrow 09:00 or epoch seconds)";
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
