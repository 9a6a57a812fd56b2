/*  timespec.h — the one parser of times and durations.

    A time spec says when something happens, in the words of mauvesend and
    purppura and what people type: "now", "clear" (for a raise: clear now
    instead), "+5m", "-10s", "+2h", "+1d", "+1w", "+1h30m", "+90" (seconds),
    "5m" (from now, like "+5m"), bare seconds since the epoch
    ("1795000000"), ISO 8601 ("2026-12-24T09:00", "2026-12-24T09:00:00Z",
    "2026-12-24 09:00+01:00"; without a zone, local time) and "today 18:00"
    or "tomorrow 09:00" (local time). Relative specs resolve against the
    `now` the caller gives: the broker passes its receive time, so senders'
    clocks do not matter. A bare number too long to be seconds is refused
    (it is milliseconds); time_spec_why says so.

    A duration is a config value: "30", "30s", "5m", "2h", "7d" (also "500ms"),
    never negative.

    Times inside lilac are int64 milliseconds since the epoch; 0 means "none".
*/
#ifndef LILAC_TIMESPEC_H
#define LILAC_TIMESPEC_H

#include <stdbool.h>
#include <stdint.h>

#define TIMESPEC_CLEAR 1    //  time_spec_parse: the spec was "clear"
#define TIMESPEC_SECONDS_MAX 99999999999LL  //  epoch seconds beyond: milliseconds

//  Parses text into *when (ms since epoch). Returns 0, TIMESPEC_CLEAR for
//  "clear" (*when is set to now), or -1 if the text is not a time spec
//  (empty, junk, trailing characters, overflow, at or before 1970).
int time_spec_parse (const char *text, int64_t now_ms, int64_t *when_ms);

//  True when text is a time spec in local time (an ISO time without a zone,
//  "today HH:MM", "tomorrow HH:MM"): one the sender must resolve itself.
bool time_spec_is_local (const char *text);

//  Why text is not a time spec, for a user: a fixed sentence.
const char *time_spec_why (const char *text);

//  Parses a duration into *ms. Returns 0 or -1 on bad text or overflow.
int duration_parse (const char *text, int64_t *ms);

//  Formats a duration the way duration_parse reads it ("5m", "90s", "1d"),
//  in the largest unit that is exact; 0 is "0s".
//  Writes at most size bytes; returns buffer.
char *duration_format (int64_t ms, char *buffer, int size);

//  Formats ms since epoch as UTC ISO 8601 "2026-11-24T10:00:00.123Z",
//  or "-" for 0. Returns buffer.
char *time_format (int64_t ms, char *buffer, int size);

//  Wall clock, ms since the epoch.
int64_t clock_now_ms (void);

#endif
