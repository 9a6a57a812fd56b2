/*  check.h — the smallest test harness that tells the truth.

    A test binary is a main() that runs named cases. Each case opens with
    TEST("name"), makes CHECK()s, and is closed by the next TEST() or by
    check_done(). A case passes when none of its CHECKs failed. Output is one
    line per case, "ok - name" or "not ok - name", plus the failing CHECKs with
    file:line, so tests/run can count cases across binaries. check_done()
    returns the exit status: 0 when every case passed.

    Header-only on purpose: every test binary includes it once.
*/
#ifndef LILAC_CHECK_H
#define LILAC_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static const char *check_case;        //  name of the open case, or NULL
static bool check_case_failed;        //  did a CHECK in the open case fail?
static int check_passed;              //  cases that passed so far
static int check_failed;              //  cases that failed so far

static inline void
check_close_case (void)
{
    if (!check_case)
        return;
    if (check_case_failed)
        check_failed++;
    else
        check_passed++;
    printf ("%s - %s\n", check_case_failed ? "not ok" : "ok", check_case);
    fflush (stdout);
    check_case = NULL;
}

//  Opens a case. Its name is copied: a caller may build it in a buffer of
//  its own that is gone when the case is closed (at the next TEST).
static inline void
TEST (const char *name)
{
    static char copy [512];
    check_close_case ();
    snprintf (copy, sizeof copy, "%s", name);
    check_case = copy;
    check_case_failed = false;
}

static inline bool
check_report (bool ok, const char *file, int line, const char *expr, const char *format, ...)
{
    if (ok)
        return true;
    check_case_failed = true;
    printf ("#   %s:%d: CHECK(%s) failed: ", file, line, expr);
    va_list args;
    va_start (args, format);
    vprintf (format, args);
    va_end (args);
    printf ("\n");
    fflush (stdout);
    return false;
}

//  CHECK(condition, "format", args...) — evaluates to the condition, so a
//  case can stop early: if (!CHECK (p, "no reply")) return; The condition
//  is evaluated before the message's arguments (the comma operator orders
//  them; a function's arguments have no order), so a message shows what
//  a condition with side effects, CHECK (read (&n) && n == 2, "%d", n),
//  has just read.
static bool check_condition;
#define CHECK(cond, ...) \
    (check_condition = (cond), \
     check_report (check_condition, __FILE__, __LINE__, #cond, __VA_ARGS__))

static inline int
check_done (void)
{
    check_close_case ();
    printf ("# %d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
