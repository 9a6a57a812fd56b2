/*  test_ingest.c — batch semantics of the ingest frame, end to end.

    One broker (reminder_interval 1s). `replace` clears every alert of the
    source that is not in the batch; a repeated `tx` is dropped and counted
    as a duplicate; `suppress` silences reminders until it ends, and lifting
    it with the control `suppress` op ("now") brings a reminder at once.
*/
#include "../check.h"
#include "../harness/harness.h"
#include "timespec.h"

static void
s_replace (testbed_t *bed)
{
    const char *source = "replace-host";
    TEST ("replace: a batch with only a clears b and c, not a");
    event_spec_t all [] = {
        { .id = "a", .raise = "now" }, { .id = "b", .raise = "now" }, { .id = "c", .raise = "now" }
    };
    batch_spec_t batch = { .source = source, .events = all, .event_count = 3 };
    CHECK (ingest_send (bed->push, &batch) == 0, "send");
    const char *ids [] = { "a", "b", "c" };
    alert_change_t change;
    for (int index = 0; index < 3; index++)
        if (CHECK (expect_change (bed->sub, "raised", source, ids [index], 3000, &change) == 0,
                   "%s not raised", ids [index]))
            alert_change_free (&change);

    event_spec_t only_a = { .id = "a", .raise = "now" };
    batch_spec_t replace = { .source = source, .replace = true, .events = &only_a, .event_count = 1 };
    CHECK (ingest_send (bed->push, &replace) == 0, "send replace");
    //  b and c are cleared by the same batch, in whatever order; collect
    //  every change of this source until both were seen.
    bool cleared_b = false, cleared_c = false, cleared_a = false;
    int64_t deadline = clock_now_ms () + 3000;
    for (int count = 0; count < 50 && !(cleared_b && cleared_c); count++) {
        int64_t left = deadline - clock_now_ms ();
        if (left <= 0 || expect_change (bed->sub, "cleared", source, NULL, (int) left, &change) != 0)
            break;
        cleared_a = cleared_a || streq (change.alert.id, "a");
        cleared_b = cleared_b || streq (change.alert.id, "b");
        cleared_c = cleared_c || streq (change.alert.id, "c");
        alert_change_free (&change);
    }
    CHECK (cleared_b, "b not cleared by replace");
    CHECK (cleared_c, "c not cleared by replace");
    CHECK (!cleared_a, "a was cleared although it is in the replace batch");
    //  The batch is applied as a whole: by now a's row says what it will say.
    alert_t row;
    if (CHECK (control_get_alert (bed->broker, source, "a", &row) == 0, "get a")) {
        CHECK (row.state == ALERT_RAISED, "a: state %s", alert_state_name (row.state));
        alert_clear_fields (&row);
    }
    for (int index = 1; index < 3; index++)
        if (CHECK (control_get_alert (bed->broker, source, ids [index], &row) == 0, "get %s", ids [index])) {
            CHECK (row.state == ALERT_CLEARED, "%s: state %s", ids [index], alert_state_name (row.state));
            alert_clear_fields (&row);
        }
}

//  Frames sent back to back are read as one group and applied together;
//  a replace still runs between its own frame's events and the next's.
static void
s_replace_order (testbed_t *bed)
{
    const char *source = "order-host";
    TEST ("replace, then a frame naming a cleared alert again: applied in that order");
    event_spec_t both [] = { { .id = "a", .raise = "now" }, { .id = "b", .raise = "now" } };
    batch_spec_t first = { .source = source, .events = both, .event_count = 2 };
    CHECK (ingest_send (bed->push, &first) == 0, "send");
    alert_change_t change;
    for (int index = 0; index < 2; index++)
        if (CHECK (expect_change (bed->sub, "raised", source, both [index].id, 3000,
                                  &change) == 0, "%s not raised", both [index].id))
            alert_change_free (&change);
    //  Two frames in one burst: replace with only a (clears b), then b again
    batch_spec_t replace = { .source = source, .replace = true, .events = &both [0],
                             .event_count = 1 };
    batch_spec_t again = { .source = source, .events = &both [1], .event_count = 1 };
    CHECK (ingest_send (bed->push, &replace) == 0 && ingest_send (bed->push, &again) == 0,
           "send the burst");
    if (CHECK (expect_change (bed->sub, "cleared", source, "b", 3000, &change) == 0,
               "b not cleared by the replace"))
        alert_change_free (&change);
    if (CHECK (expect_change (bed->sub, "raised", source, "b", 3000, &change) == 0,
               "b not raised again by the frame after the replace"))
        alert_change_free (&change);
    alert_t row;
    if (CHECK (control_get_alert (bed->broker, source, "b", &row) == 0, "get b")) {
        CHECK (row.state == ALERT_RAISED, "b: state %s", alert_state_name (row.state));
        alert_clear_fields (&row);
    }
}

static void
s_duplicate_tx (testbed_t *bed)
{
    const char *source = "dup-host";
    const char *id = "backup";
    TEST ("duplicate tx: the same frame twice makes one change; stats duplicates == 1");
    int64_t duplicates_before = broker_process_stat (bed->broker, "duplicates");
    CHECK (duplicates_before >= 0, "no duplicates counter");
    event_spec_t event = { .id = id, .raise = "now", .summary = "backup failed" };
    batch_spec_t batch = { .source = source, .tx = "tx-5f1c2a9e", .events = &event, .event_count = 1 };
    wire_writer_t frame;
    wire_writer_init (&frame);
    batch_pack (&frame, &batch);
    CHECK (ingest_raw (bed->push, frame.buffer.data, frame.buffer.size) == 0, "send");
    alert_change_t change;
    if (CHECK (expect_change (bed->sub, "raised", source, id, 3000, &change) == 0, "not raised"))
        alert_change_free (&change);
    //  Clear it by hand, so that a second application of the frame would
    //  be visible as a new `raised`.
    wire_doc_t *reply = control_ok (bed->broker, "clear", ARG_STR ("source", source),
                                    ARG_STR ("id", id), ARG_STR ("by", "test"), ARG_END);
    CHECK (reply, "clear refused");
    wire_doc_destroy (&reply);
    if (CHECK (expect_change (bed->sub, "cleared", source, id, 3000, &change) == 0, "not cleared"))
        alert_change_free (&change);
    CHECK (ingest_raw (bed->push, frame.buffer.data, frame.buffer.size) == 0, "send again");
    wire_writer_free (&frame);
    //  A frame after the duplicate, on the same connection: once it is
    //  applied, the duplicate has been handled.
    CHECK (ingest_event (bed->push, source, "marker", "now") == 0, "send marker");
    if (CHECK (expect_change (bed->sub, "raised", source, "marker", 3000, &change) == 0, "marker"))
        alert_change_free (&change);
    alert_t row;
    if (CHECK (control_get_alert (bed->broker, source, id, &row) == 0, "get")) {
        CHECK (row.state == ALERT_CLEARED, "the repeated tx was applied: state %s",
               alert_state_name (row.state));
        alert_clear_fields (&row);
    }
    CHECK (expect_no_change (bed->sub, NULL, source, id, 500), "a change after the repeated tx");
    int64_t duplicates = broker_process_stat (bed->broker, "duplicates");
    CHECK (duplicates - duplicates_before == 1, "duplicates went from %lld to %lld",
           (long long) duplicates_before, (long long) duplicates);
}

static void
s_suppress (testbed_t *bed)
{
    const char *source = "suppress-host";
    const char *id = "raid";
    TEST ("suppress +1m: row has suppress_until, no reminders while suppressed");
    alert_change_t change;
    if (!CHECK (testbed_raise (bed, source, id, NULL) == 0, "not raised"))
        return;
    int64_t sent_at = clock_now_ms ();
    event_spec_t event = { .id = id, .raise = "now", .suppress = "+1m" };
    batch_spec_t batch = { .source = source, .events = &event, .event_count = 1 };
    CHECK (ingest_send (bed->push, &batch) == 0, "send");
    //  Suppression is a change of content: `updated`. Reminders published
    //  before it (the alert raised a moment ago) are skipped on the way.
    if (CHECK (expect_change (bed->sub, "updated", source, id, 3000, &change) == 0,
               "no updated change for the suppression")) {
        CHECK (change.alert.suppress_until >= sent_at + 60000
           &&  change.alert.suppress_until <= sent_at + 61000,
               "suppress_until %lld ms after the send", (long long) (change.alert.suppress_until - sent_at));
        alert_change_free (&change);
    }
    alert_t row;
    if (CHECK (control_get_alert (bed->broker, source, id, &row) == 0, "get")) {
        CHECK (row.suppress_until >= sent_at + 60000, "get: suppress_until %lld",
               (long long) row.suppress_until);
        CHECK (row.state == ALERT_RAISED, "state %s", alert_state_name (row.state));
        alert_clear_fields (&row);
    }
    CHECK (expect_no_change (bed->sub, "reminder", source, id, 1500),
           "a reminder while suppressed (reminder_interval 1s)");

    TEST ("suppress now (control op) lifts it and reminders resume");
    wire_doc_t *reply = control_ok (bed->broker, "suppress", ARG_STR ("source", source),
                                    ARG_STR ("id", id), ARG_STR ("until", "now"), ARG_END);
    alert_t alert;
    if (CHECK (reply, "suppress refused") && CHECK (reply_alert (reply, &alert) == 0, "no alert")) {
        CHECK (alert.suppress_until == 0 || alert.suppress_until <= clock_now_ms (),
               "suppress_until still %lld", (long long) alert.suppress_until);
        alert_clear_fields (&alert);
    }
    wire_doc_destroy (&reply);
    if (CHECK (expect_change (bed->sub, "reminder", source, id, 2500, &change) == 0,
               "no reminder within 2.5 s after the suppression was lifted")) {
        CHECK (change.alert.notify_count >= 2, "notify_count %lld", (long long) change.alert.notify_count);
        alert_change_free (&change);
    }
    if (CHECK (expect_change (bed->sub, "reminder", source, id, 2500, &change) == 0,
               "no second reminder after the suppression was lifted"))
        alert_change_free (&change);
}

//  The broker counts alerts by state as they change; `list` walks them.
static void
s_state_counts (testbed_t *bed)
{
    TEST ("stats: alerts by state as list finds them, after raises, replaces and clears");
    const char *states [] = { "pending", "raised", "acked", "cleared" };
    int64_t total = 0;
    for (size_t index = 0; index < 4; index++) {
        int64_t counted = broker_process_stat (bed->broker, states [index]);
        wire_doc_t *reply = control_ok (bed->broker, "list", ARG_STR ("state", states [index]),
                                        ARG_END);
        int64_t listed = reply ? reply_int (reply, "count", -1) : -1;
        wire_doc_destroy (&reply);
        CHECK (counted == listed && counted >= 0, "%s: stats %" PRId64 ", list %" PRId64,
               states [index], counted, listed);
        total += counted;
    }
    CHECK (broker_process_stat (bed->broker, "raised") >= 3, "the raises of this test counted");
    CHECK (total == broker_process_stat (bed->broker, "alerts"), "states add up to %" PRId64,
           total);
}

int
main (void)
{
    testbed_t *bed = testbed_new ("ingest", NULL);
    if (!bed) {
        TEST ("ingest: testbed starts");
        CHECK (false, "broker did not start");
        return check_done ();
    }
    s_replace (bed);
    s_replace_order (bed);
    s_duplicate_tx (bed);
    s_suppress (bed);
    s_state_counts (bed);
    TEST ("ingest: seq strictly increasing on the bus; broker exits 0 on SIGTERM");
    CHECK (subscriber_seq_errors (bed->sub) == 0, "seq not strictly increasing on the bus");
    CHECK (testbed_destroy (&bed, check_failed > 0 || check_case_failed) == 0,
           "broker did not exit cleanly");
    return check_done ();
}
