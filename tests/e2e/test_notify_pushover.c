/*  test_notify_pushover.c — lilac-notify-pushover end to end: the real
    broker, the real notifier, and a fake Pushover API on loopback
    (tests/fakes/fake_pushover.c) that records every request and answers as
    its script says.

    One broker (testbed: reminder_interval 1s), one fake, one notifier
    (timeout 1s, receipt_poll 5s) whose rules route alerts by id to
    different user keys, so each case reads only its own requests:
      warmup   id warmup    → uwarmKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0K    raised,reminder (until the feed is synced)
      sync     id sync-*    → usyncKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0K    raised (a barrier, see s_barrier)
      basic    id basic-*   → ubasicKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0   raised,reminder,cleared, every 2s
      boss     id basic-*   → ubossKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0K    after 2s (escalation)
      errors   id err-*     → uerrKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0Kk     raised
      emerg    id emerg-*   → uemergKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0   priority 2, raised,cleared
    The token comes from a file and the default user key from
    $PUSHOVER_USER; neither may appear in the notifier's log.

    Synchronization is on what is observed: requests in the fake's log,
    changes on the bus, rows at the broker, lines in the notifier's log,
    each with a deadline. A barrier (a fresh sync-N alert whose POST we wait
    for) proves that every change before it was dealt with, because the
    notifier handles changes strictly in seq order: "not retried" is
    checked that way rather than by waiting. The script is only written
    while nothing else is sending.
*/
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/notifier_process.h"
#include "../harness/pushover_fake.h"
#include "../harness/agent_process.h"
#include "timespec.h"

#define PROGRAM            "lilac-notify-pushover"
#define TOKEN              "tokenA1b2C3d4E5f6G7h8I9j0K1l2M3"
#define DEFAULT_USER       "udefaultK3yK3yK3yK3yK3yK3yK3yK"
#define POST_DEADLINE_MS   6000        //  a change reaches the fake within this
#define URL_BASE           "https://lilac.example.org"

static pushover_fake_t *s_fake;
static notifier_process_t *s_notifier;
static int s_barriers;

//  Needle for the requests of one alert: its URL (each case has its own).
static void
s_needle (const char *source, const char *id, char *needle, size_t size)
{
    snprintf (needle, size, "\"url\":\"" URL_BASE "/alerts/%s/%s\"", source, id);
}

static int
s_raise (testbed_t *bed, const char *source, const char *id, const char *summary,
         const char *subject, const char *level, alert_change_t *change)
{
    event_spec_t event = { .id = id, .raise = "now", .summary = summary, .subject = subject,
                           .level = level };
    batch_spec_t batch = { .source = source, .events = &event, .event_count = 1 };
    if (ingest_send (bed->push, &batch) != 0)
        return -1;
    alert_change_t seen;
    int rc = expect_change (bed->sub, "raised", source, id, 5000, change ? change : &seen);
    if (rc == 0 && !change)
        alert_change_free (&seen);
    return rc;
}

static int
s_clear (testbed_t *bed, const char *source, const char *id)
{
    if (ingest_event (bed->push, source, id, "clear") != 0)
        return -1;
    alert_change_t seen;
    int rc = expect_change (bed->sub, "cleared", source, id, 5000, &seen);
    if (rc == 0)
        alert_change_free (&seen);
    return rc;
}

//  Raises sync-N and waits for its POST: every change before it has been
//  dealt with by then. Clears it again. 0 or -1.
static int
s_barrier (testbed_t *bed)
{
    char id [32], needle [256];
    snprintf (id, sizeof id, "sync-%d", ++s_barriers);
    s_needle ("barrier", id, needle, sizeof needle);
    if (s_raise (bed, "barrier", id, "barrier", NULL, "low", NULL) != 0
    ||  pushover_fake_wait (s_fake, PUSHOVER_FAKE_MESSAGES, needle, 1, POST_DEADLINE_MS) != 0) {
        harness_note ("barrier %s: no POST", id);
        return -1;
    }
    return s_clear (bed, "barrier", id);
}

static size_t
s_count (const char *needle)
{
    return pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES, needle, NULL, 0);
}

//  The string field of a request, compared; prints what it was.
static bool
s_field_is (const fake_request_t *request, const char *key, const char *expected)
{
    char *value = fake_request_field (request, key);
    bool same = value && expected && strcmp (value, expected) == 0;
    if (!same)
        harness_note ("field %s is '%s', expected '%s'", key, value ? value : "(absent)",
                      expected ? expected : "(absent)");
    free (value);
    return same;
}

//  --- the notifier ----------------------------------------------------------------------

static char *
s_config (testbed_t *bed)
{
    char *state_dir = sandbox_path (bed->sandbox, "state");
    char *token_file = sandbox_path (bed->sandbox, "pushover.token");
    FILE *file = fopen (token_file, "w");
    if (file) {
        fputs (TOKEN "\n", file);
        fclose (file);
    }
    char head [2048];
    notifier_process_broker_section (bed->broker, state_dir, head, sizeof head);
    size_t size = 8192;
    char *text = malloc (size);
    if (!text)
        abort ();
    snprintf (text, size,
        "%s"
        "pushover\n"
        "    api = %s\n"
        "    token_file = %s\n"
        "    timeout = 1s\n"
        "    receipt_poll = 5s\n"
        "    retry = 30s\n"
        "    expire = 600s\n"
        "    url_base = " URL_BASE "/\n"
        "rule = warmup\n"
        "    id = warmup\n"
        "    user = uwarmKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0K\n"
        "    on = raised,reminder\n"
        "rule = sync\n"
        "    id = sync-*\n"
        "    user = usyncKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0K\n"
        "    on = raised\n"
        "rule = basic\n"
        "    id = basic-*\n"
        "    user = ubasicKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0\n"
        "    on = raised,reminder,cleared\n"
        "    every = 2s\n"
        "rule = boss\n"
        "    id = basic-*\n"
        "    user = ubossKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0K\n"
        "    after = 2s\n"
        "    every = 60s\n"
        "rule = errors\n"
        "    id = err-*\n"
        "    on = raised\n"
        "rule = emerg\n"
        "    id = emerg-*\n"
        "    user = uemergKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0\n"
        "    priority = 2\n"
        "    on = raised,cleared\n"
        "rule = siren\n"
        "    id = siren-*\n"
        "    user = uemergKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0\n"
        "    priority = 2\n"
        "    on = raised\n",
        head, pushover_fake_api (s_fake), token_file);
    free (state_dir);
    free (token_file);
    return text;
}

static void
s_start (testbed_t *bed)
{
    TEST ("pushover: the notifier starts (token from a file, user key from $PUSHOVER_USER)"
          " and follows the broker");
    setenv ("PUSHOVER_USER", DEFAULT_USER, 1);
    unsetenv ("PUSHOVER_TOKEN");
    s_fake = pushover_fake_new (bed->sandbox);
    if (!CHECK (s_fake, "the fake Pushover did not start"))
        return;
    char *config = s_config (bed);
    s_notifier = notifier_process_new (bed->sandbox, PROGRAM, "notify", config);
    free (config);
    if (!CHECK (s_notifier && notifier_process_start (s_notifier) == 0, "the notifier did not start"))
        return;
    CHECK (notifier_process_count_log (s_notifier, "token from file ") == 1,
           "the log does not say where the token came from");
    CHECK (notifier_process_count_log (s_notifier, "user from $PUSHOVER_USER") == 1,
           "the log does not say where the user key came from");
    //  A fresh notifier starts where the stream stands once it has asked:
    //  the warmup alert's reminders reach it even if the raise did not.
    CHECK (s_raise (bed, "warmup", "warmup", "warmup", NULL, "low", NULL) == 0, "raise warmup");
    CHECK (pushover_fake_wait (s_fake, PUSHOVER_FAKE_MESSAGES, "\"user\":\"uwarmKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0K\"", 1, 10000) == 0,
           "no POST for the warmup alert within 10 s");
    CHECK (s_clear (bed, "warmup", "warmup") == 0, "clear warmup");
    CHECK (s_barrier (bed) == 0, "barrier");
}

//  --- 1. raised, reminders, escalation, ack, clear --------------------------------------------

static void
s_lifecycle (testbed_t *bed)
{
    TEST ("pushover: a raised alert gives one POST with the right fields; reminders every 2s;"
          " escalation only after 2s; ack stops them; clear sends CLEARED");
    char needle [256], basic [300], boss [300];
    s_needle ("web1", "basic-1", needle, sizeof needle);
    snprintf (basic, sizeof basic, "\"user\":\"ubasicKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0\"");
    snprintf (boss, sizeof boss, "\"user\":\"ubossKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0K\"");
    alert_change_t raised;
    if (!CHECK (s_raise (bed, "web1", "basic-1", "disk full", "db1", "urgent", &raised) == 0,
                "raise basic-1"))
        return;
    int64_t raised_at = raised.at;
    alert_change_free (&raised);
    CHECK (pushover_fake_wait (s_fake, PUSHOVER_FAKE_MESSAGES, basic, 1, POST_DEADLINE_MS) == 0,
           "no POST for the raised alert");
    fake_request_t requests [PUSHOVER_FAKE_MAX_REQUESTS];
    size_t count = pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES, basic, requests, 1);
    if (CHECK (count >= 1, "no request")) {
        char timestamp [32];
        snprintf (timestamp, sizeof timestamp, "%lld", (long long) (raised_at / 1000));
        CHECK (s_field_is (&requests [0], "token", TOKEN), "token");
        CHECK (s_field_is (&requests [0], "user", "ubasicKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0"), "user");
        CHECK (s_field_is (&requests [0], "title", "RAISED: db1"), "title");
        CHECK (s_field_is (&requests [0], "message", "disk full\nweb1"), "message");
        CHECK (s_field_is (&requests [0], "priority", "1"), "priority of an urgent alert");
        CHECK (s_field_is (&requests [0], "timestamp", timestamp), "timestamp");
        CHECK (s_field_is (&requests [0], "html", "0"), "html");
        CHECK (s_field_is (&requests [0], "url", URL_BASE "/alerts/web1/basic-1"), "url");
        CHECK (s_field_is (&requests [0], "url_title", "web1/basic-1"), "url_title");
        char *retry = fake_request_field (&requests [0], "retry");
        CHECK (!retry, "retry sent with priority 1");
        free (retry);
    }
    fake_requests_free (requests, count < 1 ? count : 1);

    //  Reminders: the broker reminds every 1s, the rule passes one per 2s.
    CHECK (pushover_fake_wait (s_fake, PUSHOVER_FAKE_MESSAGES, basic, 3, 9000) == 0,
           "fewer than 3 POSTs (raised + 2 reminders) for ubasicKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0 within 9 s");
    count = pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES, basic, requests,
                                PUSHOVER_FAKE_MAX_REQUESTS);
    for (size_t index = 1; index < count && index < 3; index++) {
        int64_t gap = requests [index].at - requests [index - 1].at;
        CHECK (gap >= 1500 && gap <= 3600, "reminder %zu came %lld ms after the previous POST"
               " (every = 2s)", index, (long long) gap);
        CHECK (s_field_is (&requests [index], "title", "REMINDER: db1"), "reminder title");
    }
    fake_requests_free (requests, count < PUSHOVER_FAKE_MAX_REQUESTS ? count : PUSHOVER_FAKE_MAX_REQUESTS);

    //  Escalation: the boss hears of it only 2 s after the raise.
    CHECK (pushover_fake_wait (s_fake, PUSHOVER_FAKE_MESSAGES, boss, 1, 6000) == 0,
           "no POST for the boss (after = 2s) within 6 s");
    count = pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES, boss, requests, 1);
    if (count >= 1) {
        int64_t delay = requests [0].at - raised_at;
        CHECK (delay >= 1900, "the boss was told %lld ms after the raise (after = 2s)",
               (long long) delay);
        harness_note ("escalation %lld ms after the raise", (long long) delay);
    }
    fake_requests_free (requests, count < 1 ? count : 1);

    //  Ack: no more reminders, for anyone.
    wire_doc_t *reply = control_ok (bed->broker, "ack", ARG_STR ("source", "web1"),
                                    ARG_STR ("id", "basic-1"), ARG_STR ("by", "tester"), ARG_END);
    CHECK (reply, "ack");
    wire_doc_destroy (&reply);
    CHECK (s_barrier (bed) == 0, "barrier after the ack");
    size_t before = s_count (needle);
    CHECK (expect_no_change (bed->sub, "reminder", "web1", "basic-1", 2500),
           "the broker still reminds of an acknowledged alert");
    CHECK (s_barrier (bed) == 0, "barrier");
    size_t after = s_count (needle);
    CHECK (after == before, "%zu POSTs for basic-1 after the ack", after - before);

    //  Clear: the rule's `on` lists cleared.
    CHECK (s_clear (bed, "web1", "basic-1") == 0, "clear basic-1");
    CHECK (pushover_fake_wait (s_fake, PUSHOVER_FAKE_MESSAGES, "CLEARED: db1", 1, POST_DEADLINE_MS) == 0,
           "no CLEARED POST");
    CHECK (s_barrier (bed) == 0, "barrier");
    CHECK (s_count ("\"title\":\"CLEARED: db1\"") == 1, "%zu CLEARED POSTs",
           s_count ("\"title\":\"CLEARED: db1\""));
    CHECK (s_count ("\"title\":\"RAISED: db1\"") == 1, "%zu RAISED POSTs (expected exactly one)",
           s_count ("\"title\":\"RAISED: db1\""));
    CHECK (pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES, "CLEARED: db1\",\"message\":\"disk full\\nweb1\",\"priority\":\"1\"",
                               NULL, 0) == 1, "the CLEARED message");
}

//  --- 2. errors ------------------------------------------------------------------------------

//  Raises err-ID (source src-ID) with a script in place, and returns the
//  alert's POSTs once count of them are in (or what there is at the deadline).
static size_t
s_scripted (testbed_t *bed, const char *name, const char *script, size_t count, int timeout_ms,
            fake_request_t *requests)
{
    char source [64], id [64], needle [256];
    snprintf (source, sizeof source, "src-%s", name);
    snprintf (id, sizeof id, "err-%s", name);
    s_needle (source, id, needle, sizeof needle);
    if (!CHECK (pushover_fake_script (s_fake, script) == 0, "write the script"))
        return 0;
    if (!CHECK (s_raise (bed, source, id, name, NULL, "normal", NULL) == 0, "raise %s", id))
        return 0;
    CHECK (pushover_fake_wait (s_fake, PUSHOVER_FAKE_MESSAGES, needle, count, timeout_ms) == 0,
           "fewer than %zu POSTs for %s within %d ms", count, id, timeout_ms);
    return pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES, needle, requests,
                               PUSHOVER_FAKE_MAX_REQUESTS);
}

static void
s_error_500 (testbed_t *bed)
{
    TEST ("pushover: 500 then 200 → delivered once (two requests, one success)");
    fake_request_t requests [PUSHOVER_FAKE_MAX_REQUESTS];
    size_t count = s_scripted (bed, "500", "500\n", 2, 8000, requests);
    CHECK (s_barrier (bed) == 0, "barrier");
    char needle [256];
    s_needle ("src-500", "err-500", needle, sizeof needle);
    size_t total = s_count (needle);
    CHECK (total == 2, "%zu requests (expected 2)", total);
    if (count >= 2) {
        CHECK (strcmp (requests [0].answer, "500") == 0, "first answer %s", requests [0].answer);
        CHECK (strcmp (requests [1].answer, "200") == 0, "second answer %s", requests [1].answer);
        int64_t gap = requests [1].at - requests [0].at;
        CHECK (gap >= 750, "retried after %lld ms (back-off starts at 1 s, ±20 %%)", (long long) gap);
        harness_note ("500: retried after %lld ms", (long long) gap);
    }
    fake_requests_free (requests, count);
}

static void
s_error_429 (testbed_t *bed)
{
    TEST ("pushover: 429 with X-Limit-App-Reset 2 s ahead → the retry waits until then");
    int64_t reset = (clock_now_ms () + 999) / 1000 + 2;
    char script [64];
    snprintf (script, sizeof script, "429 reset=%lld\n", (long long) reset);
    fake_request_t requests [PUSHOVER_FAKE_MAX_REQUESTS];
    size_t count = s_scripted (bed, "429", script, 2, 9000, requests);
    if (CHECK (count == 2, "%zu requests (expected 2)", count)) {
        CHECK (strncmp (requests [0].answer, "429", 3) == 0, "first answer %s", requests [0].answer);
        CHECK (strcmp (requests [1].answer, "200") == 0, "second answer %s", requests [1].answer);
        int64_t gap = requests [1].at - requests [0].at;
        CHECK (requests [1].at >= reset * 1000 - 50,
               "retried %lld ms before X-Limit-App-Reset", (long long) (reset * 1000 - requests [1].at));
        CHECK (gap >= 1500, "retried after %lld ms", (long long) gap);
        harness_note ("429: retried after %lld ms", (long long) gap);
    }
    fake_requests_free (requests, count);
}

static void
s_error_400 (testbed_t *bed)
{
    TEST ("pushover: 400 invalid user → Pushover's text in the log, not retried");
    fake_request_t requests [PUSHOVER_FAKE_MAX_REQUESTS];
    size_t count = s_scripted (bed, "400", "400 user identifier is invalid\n", 1, POST_DEADLINE_MS,
                               requests);
    fake_requests_free (requests, count);
    CHECK (notifier_process_wait_log (s_notifier, "user identifier is invalid", 1, 5000) == 0,
           "the notifier did not log Pushover's error text");
    CHECK (s_barrier (bed) == 0, "barrier");
    char needle [256];
    s_needle ("src-400", "err-400", needle, sizeof needle);
    CHECK (s_count (needle) == 1, "%zu requests (expected 1: a 400 is permanent)", s_count (needle));
}

static void
s_error_hang (testbed_t *bed)
{
    TEST ("pushover: a hung server → the request times out (timeout 1s) and is retried");
    fake_request_t requests [PUSHOVER_FAKE_MAX_REQUESTS];
    size_t count = s_scripted (bed, "hang", "hang\n", 2, 10000, requests);
    if (CHECK (count >= 2, "%zu requests", count)) {
        CHECK (strcmp (requests [0].answer, "hang") == 0, "first answer %s", requests [0].answer);
        CHECK (strcmp (requests [1].answer, "200") == 0, "second answer %s", requests [1].answer);
        int64_t gap = requests [1].at - requests [0].at;
        CHECK (gap >= 1500, "retried %lld ms after a hung request (timeout 1s + back-off 1s)",
               (long long) gap);
        harness_note ("hang: retried after %lld ms", (long long) gap);
    }
    fake_requests_free (requests, count);
    CHECK (notifier_process_count_log (s_notifier, "timed out") >= 1, "no timeout in the log");
    CHECK (s_barrier (bed) == 0, "barrier");
}

//  --- 3. killed in the middle of a request -------------------------------------------------------

static void
s_killed (testbed_t *bed)
{
    TEST ("pushover: the notifier SIGKILLed mid-request, restarted → the notification is delivered");
    fake_request_t requests [PUSHOVER_FAKE_MAX_REQUESTS];
    size_t count = s_scripted (bed, "kill", "hang\n", 1, POST_DEADLINE_MS, requests);
    fake_requests_free (requests, count);
    CHECK (notifier_process_kill (s_notifier) == 0, "SIGKILL");
    if (!CHECK (notifier_process_start (s_notifier) == 0, "restart"))
        return;
    char needle [256];
    s_needle ("src-kill", "err-kill", needle, sizeof needle);
    CHECK (pushover_fake_wait (s_fake, PUSHOVER_FAKE_MESSAGES, needle, 2, 10000) == 0,
           "no request for err-kill after the restart");
    count = pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES, needle, requests,
                                PUSHOVER_FAKE_MAX_REQUESTS);
    size_t delivered = 0;
    for (size_t index = 0; index < count && index < PUSHOVER_FAKE_MAX_REQUESTS; index++)
        if (strcmp (requests [index].answer, "200") == 0)
            delivered++;
    CHECK (delivered == 1, "%zu successful requests for err-kill (expected 1)", delivered);
    fake_requests_free (requests, count < PUSHOVER_FAKE_MAX_REQUESTS ? count : PUSHOVER_FAKE_MAX_REQUESTS);
    CHECK (s_barrier (bed) == 0, "barrier after the restart");
}

//  --- 4. emergency priority ---------------------------------------------------------------------

static void
s_emergency (testbed_t *bed)
{
    TEST ("pushover: emergency priority: retry/expire/tags sent; the notifier SIGKILLed and"
          " restarted keeps following the receipts (state_dir/pushover-receipts): clear →"
          " cancel by tag; acknowledged on the phone → acked at the broker by pushover:alice");
    char needle_a [256], needle_b [256];
    s_needle ("src-ea", "emerg-a", needle_a, sizeof needle_a);
    s_needle ("src-eb", "emerg-b", needle_b, sizeof needle_b);
    CHECK (s_raise (bed, "src-ea", "emerg-a", "site down", NULL, "urgent", NULL) == 0, "raise a");
    CHECK (s_raise (bed, "src-eb", "emerg-b", "site slow", NULL, "urgent", NULL) == 0, "raise b");
    CHECK (pushover_fake_wait (s_fake, PUSHOVER_FAKE_MESSAGES, needle_a, 1, POST_DEADLINE_MS) == 0
       &&  pushover_fake_wait (s_fake, PUSHOVER_FAKE_MESSAGES, needle_b, 1, POST_DEADLINE_MS) == 0,
           "no emergency POSTs");
    fake_request_t requests [PUSHOVER_FAKE_MAX_REQUESTS];
    size_t count = pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES, needle_b, requests, 1);
    char *tag = NULL;
    if (count >= 1) {
        CHECK (s_field_is (&requests [0], "priority", "2"), "priority");
        CHECK (s_field_is (&requests [0], "retry", "30"), "retry");
        CHECK (s_field_is (&requests [0], "expire", "600"), "expire");
        CHECK (s_field_is (&requests [0], "user", "uemergKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0"), "user");
        tag = fake_request_field (&requests [0], "tags");
        CHECK (tag && strncmp (tag, "src-eb_emerg-b-", 15) == 0, "tags '%s'", tag ? tag : "");
    }
    fake_requests_free (requests, count < 1 ? count : 1);
    //  The receipts survive a restart: both are cancelled or read below by
    //  a process that never sent them.
    CHECK (notifier_process_wait_log (s_notifier, "emergency priority, receipt r2", 1,
                                      POST_DEADLINE_MS) == 0, "no receipt for b in the log");
    CHECK (notifier_process_kill (s_notifier) == 0, "SIGKILL");
    CHECK (notifier_process_start (s_notifier) == 0, "restart");
    CHECK (notifier_process_wait_log (s_notifier, "following 2 emergency receipts of an earlier run",
                                      1, POST_DEADLINE_MS) == 0,
           "the restarted notifier does not follow the 2 receipts");
    //  Clearing b cancels its retries by tag.
    CHECK (s_clear (bed, "src-eb", "emerg-b") == 0, "clear b");
    char cancel [300];
    snprintf (cancel, sizeof cancel, PUSHOVER_FAKE_CANCEL "%s.json", tag ? tag : "?");
    CHECK (pushover_fake_wait (s_fake, cancel, NULL, 1, POST_DEADLINE_MS) == 0,
           "no POST %s", cancel);
    free (tag);
    CHECK (pushover_fake_wait (s_fake, PUSHOVER_FAKE_MESSAGES, "\"title\":\"CLEARED: src-eb\"", 1,
                               POST_DEADLINE_MS) == 0, "no CLEARED message for b");
    CHECK (pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES,
                               "\"title\":\"CLEARED: src-eb\",\"message\":\"site slow\\nsrc-eb\",\"priority\":\"1\"",
                               NULL, 0) == 1, "the CLEARED message is not at priority 1");
    //  Someone acknowledges a on the phone.
    CHECK (pushover_fake_set_flag (s_fake) == 0, "set the flag");
    alert_t row;
    CHECK (wait_alert (bed->broker, "src-ea", "emerg-a", ALERT_ACKED, -1, NULL, 15000, &row) == 0,
           "emerg-a is %s at the broker", row.source ? alert_state_name (row.state) : "(none)");
    CHECK (row.acked_by && strcmp (row.acked_by, "pushover:alice") == 0, "acked_by '%s'",
           row.acked_by ? row.acked_by : "");
    CHECK (row.ack_note && strncmp (row.ack_note, "acknowledged in Pushover by alice", 33) == 0,
           "ack_note '%s'", row.ack_note ? row.ack_note : "");
    alert_clear_fields (&row);
    CHECK (pushover_fake_find (s_fake, PUSHOVER_FAKE_RECEIPTS "r", NULL, NULL, 0) >= 1,
           "no receipt was read");
    //  b was cleared, not acknowledged; its receipt is no longer read.
    if (control_get_alert (bed->broker, "src-eb", "emerg-b", &row) == 0)
        CHECK (row.state == ALERT_CLEARED, "emerg-b is %s", alert_state_name (row.state));
    alert_clear_fields (&row);
    CHECK (pushover_fake_find (s_fake, PUSHOVER_FAKE_RECEIPTS "r2.json", NULL, NULL, 0) == 0,
           "the cancelled receipt r2 was still read");
}

//  --- 5. secrets and the shipped config ----------------------------------------------------------

//  An emergency whose rule does not route the clear: the notifier still
//  sees the clear (observe) and cancels at once, not at the next poll.
static void
s_siren (testbed_t *bed)
{
    TEST ("pushover: a clear that no rule routes to Pushover (on = raised) still cancels the"
          " emergency at once, well before the next receipt poll (5s)");
    char needle [256];
    s_needle ("src-siren", "siren-1", needle, sizeof needle);
    CHECK (s_raise (bed, "src-siren", "siren-1", "pager", NULL, "urgent", NULL) == 0, "raise");
    CHECK (pushover_fake_wait (s_fake, PUSHOVER_FAKE_MESSAGES, needle, 1, POST_DEADLINE_MS) == 0,
           "no emergency POST");
    fake_request_t requests [PUSHOVER_FAKE_MAX_REQUESTS];
    size_t count = pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES, needle, requests, 1);
    char *tag = count >= 1 ? fake_request_field (&requests [0], "tags") : NULL;
    fake_requests_free (requests, count < 1 ? count : 1);
    CHECK (tag != NULL, "no tag");
    CHECK (notifier_process_wait_log (s_notifier, "tag src-siren_siren-1", 1,
                                      POST_DEADLINE_MS) == 0, "the receipt is not followed");
    int64_t cleared_at = clock_now_ms ();
    CHECK (s_clear (bed, "src-siren", "siren-1") == 0, "clear");
    char cancel [300];
    snprintf (cancel, sizeof cancel, PUSHOVER_FAKE_CANCEL "%s.json", tag ? tag : "?");
    CHECK (pushover_fake_wait (s_fake, cancel, NULL, 1, 2500) == 0,
           "no POST %s within 2.5 s of the clear", cancel);
    harness_note ("cancelled %lld ms after the clear", (long long) (clock_now_ms () - cleared_at));
    CHECK (pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES, "\"title\":\"CLEARED: src-siren\"",
                               NULL, 0) == 0, "a CLEARED message went out (the rule does not route it)");
    free (tag);
}

static void
s_secrets (void)
{
    TEST ("pushover: neither the token nor a user key is in the notifier's log");
    const char *secrets [] = { TOKEN, DEFAULT_USER, "ubasicKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0", "ubossKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0K", "uemergKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0", "uerrKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0Kk" };
    for (size_t index = 0; index < sizeof secrets / sizeof secrets [0]; index++)
        CHECK (notifier_process_count_log (s_notifier, secrets [index]) == 0,
               "the log holds '%s'", secrets [index]);
}

static void
s_shipped_config (testbed_t *bed)
{
    TEST ("pushover: " PROGRAM " -n on configs/notify-pushover.conf: configuration OK with"
          " $PUSHOVER_TOKEN set; without a token, exit 1 naming $PUSHOVER_TOKEN");
    const char *shipped = "configs/notify-pushover.conf";
    if (!CHECK (access (shipped, R_OK) == 0, "cannot read %s (run from the repository root)", shipped))
        return;
    //  The shipped config takes the secrets from the environment.
    setenv ("PUSHOVER_TOKEN", TOKEN, 1);
    cli_result_t result;
    notifier_command_run (PROGRAM, sandbox_dir (bed->sandbox), 10000, &result,
                          "-c", shipped, "-n", NULL);
    CHECK (result.status == 0, "exit %d: %s", result.status, result.err ? result.err : "");
    CHECK (result.out && strstr (result.out, "configuration OK"), "stdout '%s'",
           result.out ? result.out : "");
    CHECK (result.err && strstr (result.err, "token from $PUSHOVER_TOKEN")
           && !strstr (result.err, TOKEN), "stderr '%s'", result.err ? result.err : "");
    cli_result_free (&result);
    unsetenv ("PUSHOVER_TOKEN");
    notifier_command_run (PROGRAM, sandbox_dir (bed->sandbox), 10000, &result,
                          "-c", shipped, "-n", NULL);
    CHECK (result.status == 1, "exit %d without a token", result.status);
    CHECK (result.err && strstr (result.err, "$PUSHOVER_TOKEN"), "stderr '%s'",
           result.err ? result.err : "");
    cli_result_free (&result);
}

//  --- broker_silence --------------------------------------------------------------------------

//  Requests of the fake whose message holds words, for one user key.
static size_t
s_count_for (const char *words, const char *user)
{
    fake_request_t requests [PUSHOVER_FAKE_MAX_REQUESTS];
    size_t found = pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES, words, requests,
                                       PUSHOVER_FAKE_MAX_REQUESTS);
    size_t kept = found < PUSHOVER_FAKE_MAX_REQUESTS ? found : PUSHOVER_FAKE_MAX_REQUESTS;
    size_t count = 0;
    for (size_t index = 0; index < kept; index++) {
        char *value = fake_request_field (&requests [index], "user");
        count += value && strcmp (value, user) == 0;
        free (value);
    }
    fake_requests_free (requests, kept);
    return count;
}

//  Waits until each user has count messages holding words. 0 or -1.
static int
s_wait_users (const char *words, const char *const *users, size_t count, int timeout_ms)
{
    int64_t deadline = clock_now_ms () + timeout_ms;
    while (true) {
        bool all = true;
        for (size_t index = 0; users [index]; index++)
            all = all && s_count_for (words, users [index]) >= count;
        if (all)
            return 0;
        if (clock_now_ms () >= deadline)
            return -1;
        harness_pause_ms (50);
    }
}

//  A second broker whose database is on a small tmpfs, filled: one message
//  "degraded since ...: ... disk is full" per user key, then one "no
//  longer degraded" once the filler is gone.
static bool
s_broker_degraded_case (testbed_t *bed, const char *filler)
{
    char *state_dir = sandbox_path (bed->sandbox, "degraded-state");
    char head [2048], config [4096];
    notifier_process_broker_section (bed->broker, state_dir, head, sizeof head);
    snprintf (config, sizeof config,
              "%s"
              "    broker_silence = 3s\n"
              "pushover\n"
              "    api = %s\n"
              "    token = " TOKEN "\n"
              "    timeout = 1s\n"
              "rule = a\n    source = nothing-a\n    user = udegraded1Kk0Kk0Kk0Kk0Kk0Kk0Kk\n",
              head, pushover_fake_api (s_fake));
    free (state_dir);
    notifier_process_t *watcher = notifier_process_new (bed->sandbox, PROGRAM, "degraded", config);
    if (!CHECK (watcher && notifier_process_start (watcher) == 0, "the notifier did not start")) {
        notifier_process_destroy (&watcher, true);
        return check_case_failed;
    }
    const char *users [] = { "udegraded1Kk0Kk0Kk0Kk0Kk0Kk0Kk", NULL };
    CHECK (disk_fill (filler) == 0, "cannot fill the broker's disk");
    for (int event = 0; event < 100 && broker_process_stat (bed->broker, "commit_failures") <= 0;
         event++) {
        char id [32];
        snprintf (id, sizeof id, "fill-%d", event);
        CHECK (ingest_event (bed->push, "degraded-src", id, "now") == 0, "send");
        harness_pause_ms (50);
    }
    CHECK (s_wait_users ("lilac broker degraded since", users, 1, 15000) == 0,
           "the user key never heard that the broker is degraded");
    CHECK (unlink (filler) == 0, "free the disk");
    CHECK (s_wait_users ("lilac broker no longer degraded", users, 1, 15000) == 0,
           "the user key never heard that the broker recovered");
    size_t raised = s_count_for ("lilac broker degraded since", users [0]);
    size_t cleared = s_count_for ("lilac broker no longer degraded", users [0]);
    CHECK (raised == 1 && cleared == 1, "%zu degraded, %zu no longer degraded", raised, cleared);
    CHECK (notifier_process_stop (watcher) == 0, "the watcher did not exit 0 on SIGTERM");
    notifier_process_destroy (&watcher, check_case_failed);
    return check_case_failed;
}

static void
s_broker_degraded (void)
{
    TEST ("pushover: broker_silence 3s: the broker's disk fills up → one \"degraded since ...:"
          " ... disk is full\"; space back → one \"no longer degraded\"");
    broker_process_config_t config = { .reminder_interval = "1h", .grace = "2s",
                                       .checkpoint = "500ms" };
    CHECK (testbed_on_tmpfs ("pushover-degraded", "8m", config, s_broker_degraded_case) == 0,
           "sandbox, tmpfs or testbed");
}

static void
s_broker_silence (testbed_t *bed)
{
    TEST ("pushover: broker_silence 2s: the broker killed → one message \"lilac broker"
          " unreachable since\" to each distinct user key (the default, and a rule's out of"
          " hours); the broker back → one \"reachable again\" to each");
    char *state_dir = sandbox_path (bed->sandbox, "silence-state");
    char head [2048], config [4096];
    notifier_process_broker_section (bed->broker, state_dir, head, sizeof head);
    time_t now = time (NULL);
    struct tm local;
    localtime_r (&now, &local);
    snprintf (config, sizeof config,
              "%s"
              "    broker_silence = 2s\n"
              "pushover\n"
              "    api = %s\n"
              "    token = " TOKEN "\n"
              "    timeout = 1s\n"
              "rule = a\n    source = nothing-a\n    user = usilence1Kk0Kk0Kk0Kk0Kk0Kk0Kk0\n"
              "rule = b\n    source = nothing-b\n    user = usilence1Kk0Kk0Kk0Kk0Kk0Kk0Kk0\n"
              "rule = c\n    source = nothing-c\n    user = usilence2Kk0Kk0Kk0Kk0Kk0Kk0Kk0\n    hours = %d\n"
              "    limit = \"1 per 1h\"\n"
              "rule = d\n    source = nothing-d\n",
              head, pushover_fake_api (s_fake), (local.tm_hour + 2) % 24);
    free (state_dir);
    notifier_process_t *watcher = notifier_process_new (bed->sandbox, PROGRAM, "silence", config);
    if (!CHECK (watcher && notifier_process_start (watcher) == 0, "the notifier did not start")) {
        notifier_process_destroy (&watcher, true);
        return;
    }
    //  Whether or not it heard the broker before the kill, the silence
    //  counts from its start at the latest.
    const char *users [] = { "usilence1Kk0Kk0Kk0Kk0Kk0Kk0Kk0", "usilence2Kk0Kk0Kk0Kk0Kk0Kk0Kk0", DEFAULT_USER, NULL };
    int64_t killed_at = clock_now_ms ();
    CHECK (broker_process_kill (bed->broker) == 0, "kill -9 the broker");
    CHECK (s_wait_users ("lilac broker unreachable since", users, 1, 15000) == 0,
           "not every user key heard that the broker is unreachable");
    harness_note ("unreachable told %lld ms after the kill",
                  (long long) (clock_now_ms () - killed_at));
    CHECK (pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES,
                               "\"title\":\"RAISED: lilac broker\"", NULL, 0) >= 3,
           "the title is not RAISED: lilac broker");
    CHECK (broker_process_start (bed->broker) == 0, "restart the broker");
    CHECK (s_wait_users ("lilac broker reachable again", users, 1, 20000) == 0,
           "not every user key heard that the broker is back");
    for (size_t index = 0; users [index]; index++) {
        size_t raised = s_count_for ("lilac broker unreachable since", users [index]);
        size_t cleared = s_count_for ("lilac broker reachable again", users [index]);
        CHECK (raised == 1 && cleared == 1, "user %.3s…: %zu unreachable, %zu reachable again",
               users [index], raised, cleared);
    }
    CHECK (pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES,
                               "\"title\":\"CLEARED: lilac broker\"", NULL, 0) >= 3,
           "the title is not CLEARED: lilac broker");
    CHECK (notifier_process_stop (watcher) == 0, "the watcher did not exit 0 on SIGTERM");
    notifier_process_destroy (&watcher, check_case_failed);
    CHECK (testbed_rejoin (bed) == 0, "rejoin the restarted broker");
}

static void
s_no_user_key (testbed_t *bed)
{
    TEST ("pushover -n: no user key anywhere (none in section pushover, none in a rule, no"
          " $PUSHOVER_USER) names each rule that could never notify, with an endpoint"
          " without a transport, in one run with FILE:LINE; exit 1. A default key: OK");
    char *saved_user = getenv ("PUSHOVER_USER") ? strdup (getenv ("PUSHOVER_USER")) : NULL;
    unsetenv ("PUSHOVER_USER");
    char *path = sandbox_path (bed->sandbox, "nouser.conf");
    const char *text =
        "notifier\n"                                      //  1
        "    events = tcp://127.0.0.1:1\n"                //  2
        "    control = 127.0.0.1:42111\n"                 //  3
        "pushover\n"                                      //  4
        "    token = " TOKEN "\n"                         //  5
        "rule = first\n"                                  //  6
        "    level = urgent\n"                            //  7
        "rule = second\n"                                 //  8
        "    priority = 7\n";                             //  9
    CHECK (path && file_write_text (path, text) == 0, "write the config");
    cli_result_t result;
    notifier_command_run (PROGRAM, sandbox_dir (bed->sandbox), 10000, &result,
                          "-c", path, "-n", NULL);
    CHECK (result.status == 1, "exit %d (expected 1)", result.status);
    struct { int line; const char *why; } expected [] = {
        { 3, "'127.0.0.1:42111' has no transport" },
        { 6, "rule first has no user key" },
        { 8, "rule second has no user key" },
        { 9, "priority" },
    };
    for (size_t index = 0; index < sizeof expected / sizeof expected [0]; index++) {
        char where [1200];
        snprintf (where, sizeof where, "%s:%d: ", path, expected [index].line);
        const char *at = result.err ? strstr (result.err, where) : NULL;
        const char *end = at ? strchr (at, '\n') : NULL;
        const char *why = at ? strstr (at, expected [index].why) : NULL;
        CHECK (at && why && (!end || why < end), "no '%s... %s' in stderr:\n%s", where,
               expected [index].why, result.err ? result.err : "");
    }
    CHECK (result.err && !strstr (result.err, TOKEN), "the token is in stderr");
    harness_note ("-n without a user key:\n%s", result.err ? result.err : "");
    cli_result_free (&result);
    //  The same rules with a default key (and the other errors fixed) are fine.
    char fixed [2048];
    snprintf (fixed, sizeof fixed,
              "notifier\n    events = tcp://127.0.0.1:1\n    control = tcp://127.0.0.1:2\n"
              "pushover\n    token = " TOKEN "\n    user = " DEFAULT_USER "\n"
              "rule = first\n    level = urgent\nrule = second\n    priority = 1\n");
    CHECK (file_write_text (path, fixed) == 0, "write the config");
    notifier_command_run (PROGRAM, sandbox_dir (bed->sandbox), 10000, &result,
                          "-c", path, "-n", NULL);
    CHECK (result.status == 0 && result.out && strstr (result.out, "configuration OK"),
           "exit %d: %s", result.status, result.err ? result.err : "");
    cli_result_free (&result);
    free (path);
    if (saved_user) {
        setenv ("PUSHOVER_USER", saved_user, 1);
        free (saved_user);
    }
}

int
main (void)
{
    int64_t started = clock_now_ms ();
    TEST ("pushover tests: the testbed starts");
    testbed_t *bed = testbed_new ("notify-pushover", NULL);
    if (!CHECK (bed, "broker did not start"))
        return check_done ();
    s_start (bed);
    if (s_fake && s_notifier && !check_case_failed) {
        s_lifecycle (bed);
        s_error_500 (bed);
        s_error_429 (bed);
        s_error_400 (bed);
        s_error_hang (bed);
        s_killed (bed);
        s_emergency (bed);
        s_siren (bed);
        s_secrets ();
        s_broker_silence (bed);
        s_broker_degraded ();
    }
    s_shipped_config (bed);
    s_no_user_key (bed);
    TEST ("pushover tests: the notifier exits 0 on SIGTERM, the broker too");
    bool failed = check_failed > 0 || check_case_failed;
    if (s_notifier && notifier_process_running (s_notifier))
        CHECK (notifier_process_stop (s_notifier) == 0, "the notifier did not exit 0 on SIGTERM");
    failed = failed || check_case_failed;
    notifier_process_destroy (&s_notifier, failed);
    pushover_fake_destroy (&s_fake, failed);
    CHECK (testbed_destroy (&bed, failed) == 0, "broker did not exit cleanly");
    harness_note ("test_notify_pushover took %lld ms", (long long) (clock_now_ms () - started));
    return check_done ();
}
