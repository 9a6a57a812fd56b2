/*  test_retention.c — cleared alerts and history older than `retention`
    are deleted, from memory and from the SQLite file, and `since` then says
    to take a snapshot instead of silently skipping what was deleted. Each
    deleted alert is a `deleted` change: on the bus (and in `lilac tap`)
    under topic deleted.LEVEL.SOURCE.ID, and in history (`since`).

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
    //  lilac tap, joined (it printed a hugz) before the clear
    cli_t *tap = cli_start (sandbox_dir (bed->sandbox), "tap",
                            "-e", broker_process_publish (bed->broker),
                            "-C", broker_process_control (bed->broker), "--hugz", "deleted.", NULL);
    CHECK (tap && file_wait_count (cli_out_path (tap), " hugz ", 1, 5000) == 0,
           "lilac tap printed no hugz");
    CHECK (ingest_event (bed->push, source, "gone", "clear") == 0, "send clear");
    alert_change_t change;
    if (CHECK (expect_change (bed->sub, "cleared", source, "gone", 3000, &change) == 0, "cleared"))
        alert_change_free (&change);
    CHECK (s_alert_exists (bed->broker, source, "gone"), "still there right after clearing");
    CHECK (s_wait_gone (bed->broker, source, "gone", GONE_DEADLINE_MS),
           "cleared alert not deleted within %d ms", GONE_DEADLINE_MS);
    CHECK (s_alert_exists (bed->broker, source, "kept"), "the raised alert was deleted");

    TEST ("retention: the deletion is published as deleted.LEVEL.SOURCE.ID, tap prints it");
    uint64_t deleted_seq = 0;
    //  expect_change checks that the topic is the body's deleted.normal.retained.gone
    if (CHECK (expect_change (bed->sub, "deleted", source, "gone", 3000, &change) == 0,
               "no deleted change for %s/gone", source)) {
        deleted_seq = change.seq;
        CHECK (change.alert.state == ALERT_CLEARED && change.alert.seq == change.seq,
               "the body's alert: state %s, seq %" PRIu64 " (change %" PRIu64 ")",
               alert_state_name (change.alert.state), change.alert.seq, change.seq);
        alert_change_free (&change);
    }
    CHECK (tap && file_wait_count (cli_out_path (tap), " deleted normal retained gone ", 1,
                                   5000) == 0, "lilac tap did not print the deletion");
    if (tap) {
        cli_result_t tapped;
        cli_finish (&tap, 0, &tapped);
        cli_result_free (&tapped);
    }

    TEST ("retention: the deleted change is in history (since)");
    wire_doc_t *since = control_ok (bed->broker, "since", ARG_INT ("seq", deleted_seq - 1), ARG_END);
    const msgpack_object *changes = since ? reply_get (since, "changes") : NULL;
    bool found = false;
    for (uint32_t index = 0; changes && changes->type == MSGPACK_OBJECT_ARRAY
                             && index < changes->via.array.size; index++) {
        alert_change_t body;
        char reason [128];
        if (alert_change_decode (&changes->via.array.ptr [index], &body, reason, sizeof reason))
            continue;
        found |= body.seq == deleted_seq && strcmp (body.event, "deleted") == 0
              && strcmp (body.alert.id, "gone") == 0;
        alert_change_free (&body);
    }
    CHECK (deleted_seq && found, "since %" PRIu64 " has no deleted change of gone", deleted_seq - 1);
    wire_doc_destroy (&since);

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
