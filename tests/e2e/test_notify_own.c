/*  test_notify_own.c — a notifier's own alerts at the broker (own_alerts.h),
    end to end: the real broker, the real lilac-notify-pushover, and the
    fake Pushover API on loopback.

    The notifier runs with own_source "ownhost", heartbeat 5s (refreshed
    every 1s) and delivery_alarm 2s; one rule sends watch-* alerts to one
    user key, so they share one lane. What is checked is what a human
    would see: changes on the bus for ownhost/lilac-notify-pushover/heartbeat
    and .../delivery, each awaited with a deadline.
    - kill -9 the notifier: its heartbeat raises within 5s (and not within
      3s), and is pending again once it is back;
    - Pushover answers 500 three times: the delivery alert raises after the
      alarm, naming the lane's failure, and clears once the retry gets
      through;
    - Pushover answers 400 (given up at once): the delivery alert raises at
      once naming the lost notification, a second 400 updates its count,
      and the lane's next delivery clears it;
    - bad settings are refused by -n, with the file's line.
*/
#include <stdlib.h>
#include <string.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/notifier_process.h"
#include "../harness/pushover_fake.h"
#include "timespec.h"

#define PROGRAM          "lilac-notify-pushover"
#define OWN_SOURCE       "ownhost"
#define HEARTBEAT_ID     PROGRAM "/heartbeat"
#define DELIVERY_ID      PROGRAM "/delivery"
#define TOKEN            "tokenA1b2C3d4E5f6G7h8I9j0K1l2M3"
#define WATCH_USER       "uwatchKk0Kk0Kk0Kk0Kk0Kk0Kk0Kk0"

static pushover_fake_t *s_fake;
static notifier_process_t *s_notifier;

static char *
s_config (testbed_t *bed, const char *own_settings)
{
    char *state_dir = sandbox_path (bed->sandbox, "state");
    char *token_file = sandbox_path (bed->sandbox, "pushover.token");
    CHECK (file_write_text (token_file, TOKEN "\n") == 0, "token file");
    char head [2048];
    notifier_process_broker_section (bed->broker, state_dir, head, sizeof head);
    char *text = zsys_sprintf (
        "%s%s"
        "pushover\n"
        "    api = %s\n"
        "    token_file = %s\n"
        "    timeout = 1s\n"
        "rule = watch\n"
        "    id = watch-*\n"
        "    user = " WATCH_USER "\n"
        "    on = raised\n",
        head, own_settings, pushover_fake_api (s_fake), token_file);
    free (state_dir);
    free (token_file);
    return text;
}

//  Waits for a change of the notifier's own alert id; fills *change.
static int
s_expect_own (testbed_t *bed, const char *event, const char *id, int timeout_ms,
              alert_change_t *change)
{
    int rc = expect_change (bed->sub, event, OWN_SOURCE, id, timeout_ms, change);
    if (rc)
        harness_note ("no %s change for %s/%s within %d ms", event, OWN_SOURCE, id, timeout_ms);
    return rc;
}

//  Waits for the raise of an own alert id, which must come at not_before
//  or later with summary holding needle. 0 with *change filled (freed by
//  the caller, also on -1: it is zeroed then).
static int
s_expect_raised (testbed_t *bed, const char *id, int64_t not_before, int timeout_ms,
                 const char *needle, alert_change_t *change)
{
    memset (change, 0, sizeof *change);
    if (s_expect_own (bed, "raised", id, timeout_ms, change))
        return -1;
    if (change->at < not_before) {
        harness_note ("%s raised %lld ms too early", id, (long long) (not_before - change->at));
        return -1;
    }
    if (!change->alert.summary || !strstr (change->alert.summary, needle)) {
        harness_note ("%s: summary '%s' lacks '%s'", id,
                      change->alert.summary ? change->alert.summary : "", needle);
        return -1;
    }
    return 0;
}

static void
s_start (testbed_t *bed)
{
    TEST ("own alerts: the notifier starts, says what its own alerts are, and its heartbeat"
          " is pending at the broker, due in 5s");
    s_fake = pushover_fake_new (bed->sandbox);
    if (!CHECK (s_fake, "the fake Pushover did not start"))
        return;
    char *config = s_config (bed, "    own_source = " OWN_SOURCE "\n"
                                  "    heartbeat = 5s\n"
                                  "    delivery_alarm = 2s\n");
    s_notifier = notifier_process_new (bed->sandbox, PROGRAM, "notify", config);
    free (config);
    if (!CHECK (s_notifier && notifier_process_start (s_notifier) == 0,
                "the notifier did not start"))
        return;
    CHECK (notifier_process_count_log (s_notifier, "own alerts: " OWN_SOURCE "/" HEARTBEAT_ID
                                       " raises at the broker when " PROGRAM " is not heard"
                                       " from for 5s (refreshed every 1s)") == 1,
           "the log does not say what the heartbeat is");
    alert_change_t change;
    if (!CHECK (s_expect_own (bed, "pending", HEARTBEAT_ID, 5000, &change) == 0,
                "the heartbeat did not reach the broker"))
        return;
    int64_t due = change.alert.raise_at - change.at;
    CHECK (due >= 4000 && due <= 5000, "the heartbeat is due in %lld ms, not 5 s", (long long) due);
    CHECK (change.alert.level == LEVEL_URGENT, "the heartbeat is not urgent");
    CHECK (change.alert.subject && streq (change.alert.subject, PROGRAM), "subject");
    alert_change_free (&change);
}

static void
s_heartbeat (testbed_t *bed)
{
    TEST ("own alerts: kill -9 the notifier and its heartbeat raises within 5s (not before"
          " 3s); started again, the heartbeat is pending again");
    alert_change_t change;
    //  A refresh of a pending alert publishes nothing: the first raise after
    //  the kill is the one we wait for.
    CHECK (notifier_process_kill (s_notifier) == 0, "kill -9");
    CHECK (s_expect_raised (bed, HEARTBEAT_ID, clock_now_ms () + 3000, 8000, PROGRAM " stopped",
                            &change) == 0, "the heartbeat of a dead notifier did not raise, or"
                                           " not after its 5 s");
    alert_change_free (&change);
    if (!CHECK (notifier_process_start (s_notifier) == 0, "the notifier did not start again"))
        return;
    if (CHECK (s_expect_own (bed, "pending", HEARTBEAT_ID, 5000, &change) == 0,
               "the heartbeat is not pending again after the restart"))
        alert_change_free (&change);
}

static int
s_raise_watch (testbed_t *bed, const char *id)
{
    event_spec_t event = { .id = id, .raise = "now", .summary = id, .level = "urgent" };
    batch_spec_t batch = { .source = "web1", .events = &event, .event_count = 1 };
    return ingest_send (bed->push, &batch);
}

static void
s_failing (testbed_t *bed)
{
    TEST ("own alerts: Pushover answering 500 for longer than delivery_alarm (2s) raises the"
          " delivery alert, naming the lane's failure; the retry that gets through clears it");
    //  Attempts at about 0, 1, 3 and 7 s: three 500s, then 200.
    CHECK (pushover_fake_script (s_fake, "500\n500\n500\n") == 0, "script");
    CHECK (s_raise_watch (bed, "watch-1") == 0, "raise watch-1");
    alert_change_t change;
    if (!CHECK (pushover_fake_wait (s_fake, PUSHOVER_FAKE_MESSAGES, "watch-1", 1, 6000) == 0,
                "no POST for watch-1"))
        return;
    if (CHECK (s_expect_raised (bed, DELIVERY_ID, clock_now_ms () + 1500, 6000,
                                PROGRAM " cannot deliver to", &change) == 0,
               "a destination failing for 2 s raised nothing, or raised before that")) {
        CHECK (strstr (change.alert.summary, "500"), "summary '%s'", change.alert.summary);
        CHECK (change.alert.level == LEVEL_URGENT, "not urgent");
        CHECK (change.alert.clear_at > change.at, "no clear time to clear it if the notifier goes");
    }
    alert_change_free (&change);
    if (!CHECK (s_expect_own (bed, "cleared", DELIVERY_ID, 12000, &change) == 0,
                "the delivery alert did not clear once Pushover took the message"))
        return;
    //  Cleared by the notifier once delivered, not by its clear time (3 s
    //  after the raise, unless the refreshes move it): the 4th attempt is
    //  5.6 s or more after the first, the raise 2 s.
    fake_request_t requests [4];
    size_t count = pushover_fake_find (s_fake, PUSHOVER_FAKE_MESSAGES, "watch-1", requests, 4);
    if (CHECK (count == 4, "%zu attempts for watch-1, not 4", count))
        CHECK (change.at >= requests [3].at, "cleared at %lld ms, before the delivery at %lld:"
               " the clear time was not refreshed", (long long) change.at,
               (long long) requests [3].at);
    fake_requests_free (requests, count < 4 ? count : 4);
    alert_change_free (&change);
}

static void
s_given_up (testbed_t *bed)
{
    TEST ("own alerts: a notification Pushover refuses (400) is given up at once and raises"
          " the delivery alert naming it; a second updates its count; the lane's next"
          " delivery clears it");
    CHECK (pushover_fake_script (s_fake, "400 user identifier is invalid\n") == 0, "script");
    CHECK (s_raise_watch (bed, "watch-2") == 0, "raise watch-2");
    alert_change_t change;
    if (CHECK (s_expect_own (bed, "raised", DELIVERY_ID, 6000, &change) == 0,
               "a notification given up raised nothing")) {
        CHECK (change.alert.summary && strstr (change.alert.summary, "gave up 1 notification to")
           &&  strstr (change.alert.summary, "user identifier is invalid"), "summary '%s'",
               change.alert.summary ? change.alert.summary : "");
        CHECK (change.alert.detail && strstr (change.alert.detail, "raised web1/watch-2"),
               "the detail does not name the lost notification: '%s'",
               change.alert.detail ? change.alert.detail : "");
        alert_change_free (&change);
    }
    //  A second one: the count goes with the next refresh, as an update
    CHECK (pushover_fake_script (s_fake, "400 user identifier is invalid\n") == 0, "script");
    CHECK (s_raise_watch (bed, "watch-2b") == 0, "raise watch-2b");
    if (CHECK (s_expect_own (bed, "updated", DELIVERY_ID, 6000, &change) == 0,
               "a second notification given up did not update the delivery alert")) {
        CHECK (change.alert.summary && strstr (change.alert.summary, "gave up 2 notifications")
           &&  change.alert.state == ALERT_RAISED, "summary '%s'",
               change.alert.summary ? change.alert.summary : "");
        alert_change_free (&change);
    }
    CHECK (s_raise_watch (bed, "watch-3") == 0, "raise watch-3");
    if (CHECK (s_expect_own (bed, "cleared", DELIVERY_ID, 6000, &change) == 0,
               "the delivery alert did not clear once the lane delivered again"))
        alert_change_free (&change);
}

static void
s_bad_settings (testbed_t *bed)
{
    TEST ("own alerts: -n refuses a heartbeat under 5s, a negative alarm and an own_name that"
          " makes no name, each at its line; and shows the alerts of a good config");
    if (!CHECK (s_fake, "no fake Pushover to write a config for"))
        return;
    char long_name [300], settings [512];
    memset (long_name, 'n', sizeof long_name - 1);
    long_name [sizeof long_name - 1] = 0;
    snprintf (settings, sizeof settings, "    heartbeat = 2s\n"            //  line 5
                                         "    delivery_alarm = -1s\n"     //  line 6
                                         "    own_name = %s\n", long_name);   //  line 7
    char *config = s_config (bed, settings);
    char *path = sandbox_path (bed->sandbox, "bad.conf");
    CHECK (file_write_text (path, config) == 0, "write");
    free (config);
    cli_result_t result;
    if (CHECK (notifier_command_run (PROGRAM, sandbox_dir (bed->sandbox), 10000, &result,
                                     "-n", "-c", path, NULL) == 0, "run -n")) {
        CHECK (result.status == 1, "exit %d", result.status);
        CHECK (text_has (result.err, "bad.conf:5: notifier/heartbeat: must be 0 (off) or at"
                         " least 5s"), "heartbeat 2s: %s", result.err);
        CHECK (text_has (result.err, "bad.conf:6: "), "delivery_alarm -1s: %s", result.err);
        CHECK (text_has (result.err, "bad.conf:7: notifier/own_name: 'nnnn"), "own_name: %s",
               result.err);
        cli_result_free (&result);
    }
    config = s_config (bed, "    own_source = " OWN_SOURCE "\n");
    CHECK (file_write_text (path, config) == 0, "write");
    free (config);
    if (CHECK (notifier_command_run (PROGRAM, sandbox_dir (bed->sandbox), 10000, &result,
                                     "-n", "-c", path, NULL) == 0, "run -n")) {
        CHECK (result.status == 0, "exit %d: %s", result.status, result.err);
        CHECK (text_has (result.out, "own alerts: " OWN_SOURCE "/" HEARTBEAT_ID " raises at the"
                         " broker when " PROGRAM " is not heard from for 5m (refreshed every"
                         " 1m); " OWN_SOURCE "/" DELIVERY_ID " raises when a destination fails"
                         " for 5m or a notification is given up"), "-n says: %s", result.out);
        cli_result_free (&result);
    }
    free (path);
}

int
main (void)
{
    TEST ("own alerts tests: the testbed starts");
    testbed_t *bed = testbed_new ("notify-own", NULL);
    if (!CHECK (bed, "broker did not start"))
        return check_done ();
    s_start (bed);
    if (s_fake && s_notifier && !check_case_failed) {
        s_heartbeat (bed);
        s_failing (bed);
        s_given_up (bed);
    }
    s_bad_settings (bed);
    TEST ("own alerts tests: the notifier exits 0 on SIGTERM, saying what its heartbeat will"
          " do; the broker too");
    if (s_notifier && notifier_process_running (s_notifier)) {
        CHECK (notifier_process_stop (s_notifier) == 0, "the notifier did not exit 0");
        CHECK (notifier_process_count_log (s_notifier, OWN_SOURCE "/" HEARTBEAT_ID " raises at"
                                           " the broker in 5s unless " PROGRAM " is back") == 1,
               "the notifier did not say its heartbeat will raise");
    }
    bool failed = check_failed > 0 || check_case_failed;
    notifier_process_destroy (&s_notifier, failed);
    pushover_fake_destroy (&s_fake, failed);
    CHECK (testbed_destroy (&bed, failed) == 0, "broker did not exit cleanly");
    return check_done ();
}
