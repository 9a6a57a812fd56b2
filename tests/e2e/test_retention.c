/*  test_retention.c — cleared alerts and history older than `retention`
    are deleted, from memory and from the SQLite file, and `since` then says
    to take a snapshot instead of silently skipping what was deleted.

    Broker config: retention 2s (so its retention run comes every 2 s),
    reminders off the clock. The test polls `get` until the cleared alert is
    gone, within a deadline.
*/
#include <string.h>
#include "../check.h"
#include "../harness/harness.h"

#define GONE_DEADLINE_MS 8000          //  retention 2s + run period 2s + slack

static bool
s_alert_exists (broker_process_t *broker, const char *source, const char *id)
{
    alert_t alert = { 0 };
    if (control_get_alert (broker, source, id, &alert))
        return false;
    alert_clear_fields (&alert);
    return true;
}

//  Polls until (source, id) is gone or the deadline passes; true if gone.
static bool
s_wait_gone (broker_process_t *broker, const char *source, const char *id, int deadline_ms)
{
    for (int waited = 0; waited < deadline_ms; waited += 100) {
        if (!s_alert_exists (broker, source, id))
            return true;
        harness_pause_ms (100);
    }
    return false;
}

int
main (void)
{
    broker_process_config_t config = { .reminder_interval = "1h", .grace = "2s",
                                       .retention = "2s", .checkpoint = "500ms" };
    testbed_t *bed = testbed_new ("retention", &config);
    if (!bed) {
        TEST ("retention: testbed starts");
        CHECK (false, "could not start the broker");
        return check_done ();
    }
    const char *source = "retained";

    TEST ("retention: a cleared alert older than retention is deleted, a raised one is kept");
    CHECK (testbed_raise (bed, source, "gone", NULL) == 0, "raise gone");
    CHECK (testbed_raise (bed, source, "kept", NULL) == 0, "raise kept");
    CHECK (ingest_event (bed->push, source, "gone", "clear") == 0, "send clear");
    alert_change_t change;
    if (CHECK (expect_change (bed->sub, "cleared", source, "gone", 3000, &change) == 0, "cleared"))
        alert_change_free (&change);
    CHECK (s_alert_exists (bed->broker, source, "gone"), "still there right after clearing");
    CHECK (s_wait_gone (bed->broker, source, "gone", GONE_DEADLINE_MS),
           "cleared alert not deleted within %d ms", GONE_DEADLINE_MS);
    CHECK (s_alert_exists (bed->broker, source, "kept"), "the raised alert was deleted");

    TEST ("retention: since from before the kept history says to take a snapshot");
    wire_doc_t *reply = control_call (bed->broker, "since", ARG_INT ("seq", 0), ARG_END);
    CHECK (reply && !reply_ok (reply), "since 0 answered ok after history was pruned");
    const char *error = reply ? reply_error (reply) : NULL;
    CHECK (error && strstr (error, "snapshot"), "error: %s", error ? error : "(none)");
    wire_doc_destroy (&reply);

    TEST ("retention: the deletion is in the database (gone after a restart)");
    CHECK (broker_process_stop (bed->broker) == 0, "SIGTERM exit 0");
    CHECK (broker_process_start (bed->broker) == 0, "restart");
    CHECK (!s_alert_exists (bed->broker, source, "gone"), "deleted alert came back");
    CHECK (s_alert_exists (bed->broker, source, "kept"), "kept alert lost");

    bool failed = check_failed > 0 || check_case_failed;
    testbed_destroy (&bed, failed);
    return check_done ();
}
