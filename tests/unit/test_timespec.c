/*  test_timespec.c — time specs, durations and their formatting.

    Every form the header promises, every rejection it promises, and the
    edges of int64 arithmetic, against a fixed `now` so results are exact.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../check.h"
#include "timespec.h"

#define NOW  INT64_C(1795000000123)     //  2026-11-18, with milliseconds

static void
s_check_spec (const char *text, int expected_rc, int64_t expected_when)
{
    int64_t when = -42;
    int rc = time_spec_parse (text, NOW, &when);
    CHECK (rc == expected_rc, "'%s': rc %d, expected %d", text, rc, expected_rc);
    if (expected_rc >= 0)
        CHECK (when == expected_when, "'%s': %lld, expected %lld", text,
               (long long) when, (long long) expected_when);
    else
        CHECK (when == -42, "'%s': *when changed on failure", text);
}

static void
s_check_duration (const char *text, int expected_rc, int64_t expected_ms)
{
    int64_t ms = -42;
    int rc = duration_parse (text, &ms);
    CHECK (rc == expected_rc, "'%s': rc %d, expected %d", text, rc, expected_rc);
    if (expected_rc == 0)
        CHECK (ms == expected_ms, "'%s': %lld, expected %lld", text,
               (long long) ms, (long long) expected_ms);
}

int
main (void)
{
    TEST ("time spec: now and clear");
    s_check_spec ("now", 0, NOW);
    s_check_spec ("clear", TIMESPEC_CLEAR, NOW);

    TEST ("time spec: relative forms");
    s_check_spec ("+5m", 0, NOW + 5 * 60000);
    s_check_spec ("-10s", 0, NOW - 10000);
    s_check_spec ("+2h", 0, NOW + 2 * 3600000);
    s_check_spec ("+1d", 0, NOW + 86400000);
    s_check_spec ("+90", 0, NOW + 90000);
    s_check_spec ("+500ms", 0, NOW + 500);
    s_check_spec ("-0", 0, NOW);
    s_check_spec ("+007s", 0, NOW + 7000);
    //  Nine digits and a unit are read by the short path, more by the
    //  general one: the same times either way
    s_check_spec ("+999999999s", 0, NOW + INT64_C(999999999000));
    s_check_spec ("+1000000000s", 0, NOW + INT64_C(1000000000000));
    s_check_spec ("+000000000005m", 0, NOW + 5 * 60000);
    s_check_spec ("+999999999w", 0, NOW + INT64_C(999999999) * 604800000);
    s_check_spec ("-000000001h", 0, NOW - 3600000);

    TEST ("time spec: epoch seconds");
    s_check_spec ("1795000000", 0, INT64_C(1795000000000));
    s_check_spec ("0", -1, 0);                              //  0 means "none"
    s_check_spec ("1", 0, 1000);
    s_check_spec ("1", 0, 1000);

    TEST ("time spec: what people type: 5m, +1w, +1h30m");
    s_check_spec ("5m", 0, NOW + 5 * 60000);
    s_check_spec ("5s", 0, NOW + 5000);
    s_check_spec ("+1w", 0, NOW + 7 * INT64_C(86400000));
    s_check_spec ("+1h30m", 0, NOW + 90 * 60000);
    s_check_spec ("1h30m", 0, NOW + 90 * 60000);
    s_check_spec ("-1d12h", 0, NOW - 36 * 3600000);
    s_check_spec ("2w3d4h5m6s7ms", 0, NOW + ((((17 * INT64_C(24) + 4) * 60 + 5) * 60 + 6) * 1000 + 7));
    const char *half [] = { "+1h30", "1h30", "90x", "+1h 30m", "1hh", "h1", "+1h-30m", NULL };
    for (int index = 0; half [index]; index++)
        s_check_spec (half [index], -1, 0);

    TEST ("time spec: ISO 8601 with a zone, and local without (TZ)");
    setenv ("TZ", "CET-1", 1);                  //  UTC+1, no summer time: no tzdata needed
    tzset ();
    const int64_t christmas = INT64_C(1798102800000);     //  2026-12-24T09:00:00Z
    s_check_spec ("2026-12-24T09:00:00Z", 0, christmas);
    s_check_spec ("2026-12-24T09:00Z", 0, christmas);
    s_check_spec ("2026-12-24T10:00+01:00", 0, christmas);
    s_check_spec ("2026-12-24 04:30-0430", 0, christmas);
    s_check_spec ("2026-12-24T10:00", 0, christmas);         //  local: UTC+1
    s_check_spec ("2026-12-24T10:00:30", 0, christmas + 30000);
    CHECK (time_spec_is_local ("2026-12-24T10:00") && !time_spec_is_local ("2026-12-24T10:00Z")
           && !time_spec_is_local ("+5m") && time_spec_is_local ("tomorrow 09:00"),
           "time_spec_is_local");
    const char *dates [] = { "2026-02-30T09:00Z", "2026-13-01T00:00Z", "2026-12-24T24:00Z",
                             "2026-12-24T09:60Z", "2026-12-24", "2026-12-24T9:00Z",
                             "2026-12-24T09:00+1", "2026-12-24T09:00Zx", "26-12-24T09:00Z",
                             "2026-12-24t09:00Z", NULL };
    for (int index = 0; dates [index]; index++)
        s_check_spec (dates [index], -1, 0);

    TEST ("time spec: today HH:MM and tomorrow HH:MM, local");
    //  NOW is 2026-11-18T11:06:40Z, 12:06:40 in UTC+1
    s_check_spec ("tomorrow 09:00", 0, INT64_C(1795075200000));     //  11-19T08:00Z
    s_check_spec ("today 21:00", 0, INT64_C(1795032000000));        //  11-18T20:00Z
    s_check_spec ("today 09:00:30", 0, INT64_C(1794988830000));     //  past: still today
    s_check_spec ("today 25:00", -1, 0);
    s_check_spec ("tomorrow", -1, 0);
    s_check_spec ("tomorrow  09:00", -1, 0);

    TEST ("time spec: milliseconds since the epoch are refused, and said so");
    s_check_spec ("1796548168289", -1, 0);
    CHECK (strstr (time_spec_why ("1796548168289"), "milliseconds"), "why: %s",
           time_spec_why ("1796548168289"));
    CHECK (strstr (time_spec_why ("yesterday"), "not a time"), "why: %s", time_spec_why ("yesterday"));
    s_check_spec ("99999999999", 0, INT64_C(99999999999000));

    TEST ("time spec: rejects junk");
    const char *junk [] = {
        "", "+", "-", "+m", "+5x", "+5M", "+5 m", " +5m", "+5m ", "+5mm",
        "+5ms5", "NOW", "nowx", "now ", "clear!", "+-5", "-+5",
        "++5", "1795000000.5", "abc", "1e9", "0x10", "+5m#", "+\t5", "+5d1",
        "- 5", "+ 5",
        NULL
    };
    for (int index = 0; junk [index]; index++)
        s_check_spec (junk [index], -1, 0);
    int64_t when = 0;
    CHECK (time_spec_parse (NULL, NOW, &when) == -1, "NULL text accepted");
    CHECK (time_spec_parse ("now", NOW, NULL) == -1, "NULL result accepted");

    TEST ("time spec: overflow and before 1970");
    s_check_spec ("9223372036854775807", -1, 0);            //  * 1000 overflows
    s_check_spec ("9223372036854775", -1, 0);               //  that long: milliseconds
    s_check_spec ("9223372036854776", -1, 0);
    s_check_spec ("99999999999999999999999", -1, 0);        //  digits overflow
    s_check_spec ("+9223372036854775807ms", -1, 0);         //  now + x overflows
    s_check_spec ("+9223372036854775808ms", -1, 0);
    s_check_spec ("+106751991167301d", -1, 0);              //  unit product overflows
    s_check_spec ("-1795000001s", -1, 0);                   //  before 1970
    s_check_spec ("-1795000000123ms", -1, 0);               //  exactly 1970: 0 means "none"
    s_check_spec ("-1795000000122ms", 0, 1);
    when = 0;
    CHECK (time_spec_parse ("-1s", INT64_MIN + 5, &when) == -1, "underflow accepted");
    CHECK (time_spec_parse ("now", -1, &when) == -1, "negative now accepted");

    TEST ("duration: forms");
    s_check_duration ("500ms", 0, 500);
    s_check_duration ("30", 0, 30000);
    s_check_duration ("30s", 0, 30000);
    s_check_duration ("5m", 0, 300000);
    s_check_duration ("2h", 0, 7200000);
    s_check_duration ("7d", 0, 7 * INT64_C(86400000));
    s_check_duration ("0", 0, 0);
    s_check_duration ("0ms", 0, 0);

    TEST ("duration: rejects");
    const char *bad [] = {
        "", "+5m", "-5m", "5x", "5 m", " 5m", "5m ", "m", "ms", "5mss",
        "1.5s", "5M", "five", "5m5", "0x10", "9223372036854775808",
        "9223372036854775807s", "106751991167301d", "1w", "w",
        NULL
    };
    for (int index = 0; bad [index]; index++)
        s_check_duration (bad [index], -1, 0);
    s_check_duration ("9223372036854775807ms", 0, INT64_MAX);
    int64_t ms = 0;
    CHECK (duration_parse (NULL, &ms) == -1, "NULL text accepted");
    CHECK (duration_parse ("5m", NULL) == -1, "NULL result accepted");

    TEST ("duration: format with the largest exact unit");
    struct { int64_t ms; const char *text; } formats [] = {
        { 300000, "5m" }, { 90000, "90s" }, { 86400000, "1d" }, { 250, "250ms" },
        { 7200000, "2h" }, { 0, "0s" }, { 1000, "1s" }, { 90 * 60000, "90m" },
        { 1500, "1500ms" }, { 7 * INT64_C(86400000), "7d" },
    };
    for (size_t index = 0; index < sizeof formats / sizeof formats [0]; index++) {
        char buffer [32];
        duration_format (formats [index].ms, buffer, sizeof buffer);
        CHECK (strcmp (buffer, formats [index].text) == 0, "%lld: '%s', expected '%s'",
               (long long) formats [index].ms, buffer, formats [index].text);
        int64_t back = -1;
        CHECK (duration_parse (buffer, &back) == 0 && back == formats [index].ms,
               "'%s' does not read back", buffer);
    }
    char small [3];
    duration_format (250, small, sizeof small);
    CHECK (strcmp (small, "25") == 0, "truncation: '%s'", small);

    TEST ("time_format");
    char buffer [64];
    time_format (0, buffer, sizeof buffer);
    CHECK (strcmp (buffer, "-") == 0, "0: '%s'", buffer);
    time_format (NOW, buffer, sizeof buffer);
    CHECK (strcmp (buffer, "2026-11-18T11:06:40.123Z") == 0, "NOW: '%s'", buffer);
    time_format (1000, buffer, sizeof buffer);
    CHECK (strcmp (buffer, "1970-01-01T00:00:01.000Z") == 0, "1000: '%s'", buffer);
    time_format (-1, buffer, sizeof buffer);
    CHECK (strcmp (buffer, "1969-12-31T23:59:59.999Z") == 0, "-1: '%s'", buffer);
    time_format (INT64_MAX, buffer, sizeof buffer);     //  must not crash
    CHECK (strlen (buffer) > 0, "INT64_MAX printed nothing");

    TEST ("clock_now_ms");
    int64_t now = clock_now_ms ();
    CHECK (now > INT64_C(1700000000000), "clock says %lld", (long long) now);
    int64_t parsed = 0;
    CHECK (time_spec_parse ("now", now, &parsed) == 0 && parsed == now, "now");

    return check_done ();
}
