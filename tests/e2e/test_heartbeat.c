/*  test_heartbeat.c — heartbeats and ad-hoc checks, end to end.

    One broker (reminder_interval 1s). A heartbeat `raise +2s` refreshed
    every 0.5 s must stay pending without publishing anything after its
    first `pending`; when the refreshes stop it raises 2.0-2.3 s after the
    last one (the `raised` change's `at` against the wall clock of the last
    send, both ms since the epoch) and a reminder follows with notify_count
    2. An ad-hoc check (`raise now`, then `raise clear`) publishes raised,
    then cleared.
*/
#include "../check.h"
#include "../harness/harness.h"
#include "timespec.h"

#define BEATS         6            //  heartbeats sent
#define BEAT_MS       500          //  between heartbeats

static void
s_heartbeat (testbed_t *bed)
{
    const char *source = "hb-host";
    const char *id = "heartbeat";
    TEST ("heartbeat: raise +2s every 0.5 s stays pending (pending first, nothing while refreshing)");
    int64_t last_send = 0;
    int changes_while_refreshing = 0;
    int raised_while_refreshing = 0;
    for (int beat = 0; beat < BEATS; beat++) {
        last_send = clock_now_ms ();
        CHECK (ingest_event (bed->push, source, id, "+2s") == 0, "send beat %d", beat);
        if (beat == 0) {
            alert_change_t first;
            if (CHECK (expect_change (bed->sub, NULL, source, id, 2000, &first) == 0,
                       "no change after the first heartbeat")) {
                CHECK (streq (first.event, "pending"), "first change is '%s', not pending", first.event);
                CHECK (first.alert.state == ALERT_PENDING, "state %s",
                       alert_state_name (first.alert.state));
                CHECK (first.alert.raise_at >= last_send + 2000
                   &&  first.alert.raise_at <= last_send + 2500,
                       "raise_at is %lld ms after the send (expected ~2000)",
                       (long long) (first.alert.raise_at - last_send));
                alert_change_free (&first);
            }
        }
        //  Watch the bus for the rest of this beat: the spec requires that
        //  nothing is published for this alert while it is refreshed.
        if (beat == BEATS - 1)
            break;
        for (int count = 0; count < 100; count++) {
            int64_t left = last_send + BEAT_MS - clock_now_ms ();
            if (left <= 0)
                break;
            alert_change_t change;
            if (expect_change (bed->sub, NULL, source, id, (int) left, &change) != 0)
                break;
            harness_note ("while refreshing: %s seq %llu", change.event,
                          (unsigned long long) change.seq);
            changes_while_refreshing++;
            if (streq (change.event, "raised"))
                raised_while_refreshing++;
            alert_change_free (&change);
        }
    }
    CHECK (raised_while_refreshing == 0, "raised %d times while refreshed every 0.5 s",
           raised_while_refreshing);
    CHECK (changes_while_refreshing == 0,
           "%d changes published for heartbeat refreshes (README: not published)",
           changes_while_refreshing);
    alert_t row;
    if (CHECK (control_get_alert (bed->broker, source, id, &row) == 0, "get failed")) {
        CHECK (row.state == ALERT_PENDING, "get: state %s, expected pending",
               alert_state_name (row.state));
        alert_clear_fields (&row);
    }

    TEST ("heartbeat: raised 2.0-2.3 s after the last send, notify_count 1");
    alert_change_t raised;
    bool got_raised = CHECK (expect_change (bed->sub, "raised", source, id, 4000, &raised) == 0,
                             "no raised within 4 s of the last heartbeat");
    int64_t raised_at = 0;
    if (got_raised) {
        int64_t delay = raised.at - last_send;
        CHECK (delay >= 2000 && delay <= 2300, "raised %lld ms after the last send",
               (long long) delay);
        CHECK (raised.alert.state == ALERT_RAISED, "state %s", alert_state_name (raised.alert.state));
        CHECK (raised.alert.notify_count == 1, "notify_count %lld",
               (long long) raised.alert.notify_count);
        raised_at = raised.at;
        alert_change_free (&raised);
    }

    TEST ("heartbeat: a reminder follows with notify_count 2 (reminder_interval 1s)");
    alert_change_t reminder;
    if (CHECK (got_raised, "no raised change to follow")
    &&  CHECK (expect_change (bed->sub, "reminder", source, id, 3000, &reminder) == 0,
               "no reminder within 3 s of raised")) {
        CHECK (reminder.alert.notify_count == 2, "notify_count %lld",
               (long long) reminder.alert.notify_count);
        CHECK (reminder.alert.state == ALERT_RAISED, "state %s",
               alert_state_name (reminder.alert.state));
        int64_t interval = reminder.at - raised_at;
        CHECK (interval >= 950 && interval <= 1500, "reminder %lld ms after raised (interval 1s)",
               (long long) interval);
        alert_change_free (&reminder);
    }
}

static void
s_adhoc (testbed_t *bed)
{
    const char *source = "adhoc-host";
    const char *id = "disk-space-/";
    TEST ("ad-hoc check: raise now publishes raised (urgent, with summary)");
    event_spec_t event = {
        .id = id, .raise = "now", .level = "urgent", .summary = "/ is 97% full"
    };
    batch_spec_t batch = { .source = source, .events = &event, .event_count = 1 };
    CHECK (ingest_send (bed->push, &batch) == 0, "send");
    alert_change_t change;
    if (CHECK (expect_change (bed->sub, NULL, source, id, 3000, &change) == 0, "no change")) {
        CHECK (streq (change.event, "raised"), "first change is %s", change.event);
        CHECK (change.alert.state == ALERT_RAISED, "state %s", alert_state_name (change.alert.state));
        CHECK (change.alert.level == LEVEL_URGENT, "level %s", alert_level_name (change.alert.level));
        CHECK (change.alert.summary && streq (change.alert.summary, "/ is 97% full"),
               "summary %s", change.alert.summary? change.alert.summary: "(none)");
        CHECK (change.alert.notify_count == 1, "notify_count %lld",
               (long long) change.alert.notify_count);
        alert_change_free (&change);
    }

    TEST ("ad-hoc check: raise clear publishes cleared");
    event_spec_t clear = { .id = id, .raise = "clear" };
    batch.events = &clear;
    CHECK (ingest_send (bed->push, &batch) == 0, "send");
    if (CHECK (expect_change (bed->sub, "cleared", source, id, 3000, &change) == 0, "no cleared")) {
        CHECK (change.alert.state == ALERT_CLEARED, "state %s", alert_state_name (change.alert.state));
        alert_change_free (&change);
    }
    alert_t row;
    if (CHECK (control_get_alert (bed->broker, source, id, &row) == 0, "get failed")) {
        CHECK (row.state == ALERT_CLEARED, "get: state %s", alert_state_name (row.state));
        alert_clear_fields (&row);
    }
    CHECK (subscriber_seq_errors (bed->sub) == 0, "seq not strictly increasing on the bus");
}

int
main (void)
{
    broker_process_config_t config = { .reminder_interval = "1s", .grace = "2s", .checkpoint = "500ms" };
    testbed_t *bed = testbed_new ("heartbeat", &config);
    if (!bed) {
        TEST ("heartbeat: testbed starts");
        CHECK (false, "broker did not start");
        return check_done ();
    }
    s_heartbeat (bed);
    s_adhoc (bed);
    TEST ("heartbeat: broker exits 0 on SIGTERM");
    CHECK (testbed_destroy (&bed, check_failed > 0 || check_case_failed) == 0, "broker did not exit cleanly");
    return check_done ();
}
