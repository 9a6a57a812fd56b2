/*  test_ack.c — acknowledgement, end to end.

    One broker (reminder_interval 1s); each case uses its own source so
    cases do not see each other's changes. Acknowledge with `until` raises
    the alert again when until passes; clearing drops the acknowledgement;
    unack returns to raised; acknowledging a pending (or unknown) alert is
    refused with an error a human can read. Human acts win: an event made
    before a person cleared or acknowledged its alert (its `age` says so),
    as an agent's resend after a broker restart is, does not raise it
    again; a fresh one does.
*/
#include "../check.h"
#include "../harness/harness.h"
#include "timespec.h"

static void
s_ack_until (testbed_t *bed)
{
    const char *source = "ack-until";
    const char *id = "disk";
    TEST ("ack with until: acked now, raised again after until");
    if (!CHECK (testbed_raise (bed, source, id, NULL) == 0, "not raised"))
        return;
    int64_t acked_when = clock_now_ms ();
    wire_doc_t *reply = control_ok (bed->broker, "ack", ARG_STR ("source", source),
                                    ARG_STR ("id", id), ARG_STR ("by", "alice"),
                                    ARG_STR ("until", "+1s"), ARG_STR ("note", "rebooting"),
                                    ARG_END);
    alert_t alert;
    if (CHECK (reply, "ack refused") && CHECK (reply_alert (reply, &alert) == 0, "no alert in reply")) {
        CHECK (alert.state == ALERT_ACKED, "state %s", alert_state_name (alert.state));
        CHECK (alert.acked_by && streq (alert.acked_by, "alice"), "acked_by %s",
               alert.acked_by? alert.acked_by: "(none)");
        CHECK (alert.ack_note && streq (alert.ack_note, "rebooting"), "ack_note %s",
               alert.ack_note? alert.ack_note: "(none)");
        CHECK (alert.ack_until >= acked_when + 1000 && alert.ack_until <= acked_when + 1500,
               "ack_until %lld ms after the request", (long long) (alert.ack_until - acked_when));
        alert_clear_fields (&alert);
    }
    wire_doc_destroy (&reply);
    alert_change_t change;
    if (CHECK (expect_change (bed->sub, "acked", source, id, 3000, &change) == 0, "no acked change")) {
        CHECK (change.alert.state == ALERT_ACKED, "state %s", alert_state_name (change.alert.state));
        alert_change_free (&change);
    }
    //  The next change for this alert must be the re-raise: nothing (no
    //  reminder) is published while it is acknowledged.
    if (CHECK (expect_change (bed->sub, NULL, source, id, 3000, &change) == 0,
               "not raised again within 3 s of an ack until +1s")) {
        CHECK (streq (change.event, "raised"), "next change after acked is '%s', not raised",
               change.event);
        CHECK (change.at >= acked_when + 1000, "raised again %lld ms after the ack (until +1s)",
               (long long) (change.at - acked_when));
        CHECK (change.at <= acked_when + 1600, "raised again only %lld ms after the ack",
               (long long) (change.at - acked_when));
        CHECK (change.alert.state == ALERT_RAISED, "state %s", alert_state_name (change.alert.state));
        alert_change_free (&change);
    }
}

static void
s_clear_drops_ack (testbed_t *bed)
{
    const char *source = "ack-clear";
    const char *id = "load";
    TEST ("clear drops the acknowledgement (acked_by absent after clear)");
    if (!CHECK (testbed_raise (bed, source, id, NULL) == 0, "not raised"))
        return;
    wire_doc_t *reply = control_ok (bed->broker, "ack", ARG_STR ("source", source),
                                    ARG_STR ("id", id), ARG_STR ("by", "bob"), ARG_END);
    CHECK (reply, "ack refused");
    wire_doc_destroy (&reply);
    alert_change_t change;
    if (CHECK (expect_change (bed->sub, "acked", source, id, 3000, &change) == 0, "no acked"))
        alert_change_free (&change);

    reply = control_ok (bed->broker, "clear", ARG_STR ("source", source),
                        ARG_STR ("id", id), ARG_STR ("by", "bob"), ARG_END);
    alert_t alert;
    if (CHECK (reply, "clear refused") && CHECK (reply_alert (reply, &alert) == 0, "no alert")) {
        CHECK (alert.state == ALERT_CLEARED, "state %s", alert_state_name (alert.state));
        CHECK (alert.acked_by == NULL, "acked_by still %s", alert.acked_by);
        CHECK (alert.acked_at == 0, "acked_at still set");
        alert_clear_fields (&alert);
    }
    wire_doc_destroy (&reply);
    if (CHECK (expect_change (bed->sub, "cleared", source, id, 3000, &change) == 0, "no cleared")) {
        CHECK (change.alert.acked_by == NULL, "cleared change still has acked_by %s",
               change.alert.acked_by);
        alert_change_free (&change);
    }
    if (CHECK (control_get_alert (bed->broker, source, id, &alert) == 0, "get failed")) {
        CHECK (alert.state == ALERT_CLEARED, "get: state %s", alert_state_name (alert.state));
        CHECK (alert.acked_by == NULL, "get: acked_by still %s", alert.acked_by);
        alert_clear_fields (&alert);
    }
}

static void
s_unack (testbed_t *bed)
{
    const char *source = "ack-unack";
    const char *id = "mail";
    TEST ("unack: back to raised, acked_by dropped, unacked published");
    if (!CHECK (testbed_raise (bed, source, id, NULL) == 0, "not raised"))
        return;
    wire_doc_t *reply = control_ok (bed->broker, "ack", ARG_STR ("source", source),
                                    ARG_STR ("id", id), ARG_STR ("by", "carol"), ARG_END);
    CHECK (reply, "ack refused");
    wire_doc_destroy (&reply);
    reply = control_ok (bed->broker, "unack", ARG_STR ("source", source),
                        ARG_STR ("id", id), ARG_STR ("by", "carol"), ARG_END);
    alert_t alert;
    if (CHECK (reply, "unack refused") && CHECK (reply_alert (reply, &alert) == 0, "no alert")) {
        CHECK (alert.state == ALERT_RAISED, "state %s", alert_state_name (alert.state));
        CHECK (alert.acked_by == NULL, "acked_by still %s", alert.acked_by);
        alert_clear_fields (&alert);
    }
    wire_doc_destroy (&reply);
    alert_change_t change;
    if (CHECK (expect_change (bed->sub, "unacked", source, id, 3000, &change) == 0, "no unacked")) {
        CHECK (change.alert.state == ALERT_RAISED, "state %s", alert_state_name (change.alert.state));
        alert_change_free (&change);
    }
}

static void
s_ack_refused (testbed_t *bed)
{
    const char *source = "ack-pending";
    const char *id = "heartbeat";
    TEST ("ack of a pending alert is refused with an error text");
    CHECK (ingest_event (bed->push, source, id, "+1h") == 0, "send");
    alert_change_t change;
    if (!CHECK (expect_change (bed->sub, "pending", source, id, 3000, &change) == 0, "no pending"))
        return;
    alert_change_free (&change);
    wire_doc_t *reply = control_call (bed->broker, "ack", ARG_STR ("source", source),
                                      ARG_STR ("id", id), ARG_STR ("by", "dave"), ARG_END);
    if (CHECK (reply, "no reply")) {
        CHECK (!reply_ok (reply), "ack of a pending alert was accepted");
        const char *error = reply_error (reply);
        CHECK (error && *error, "no error text");
        if (error)
            harness_note ("error text: %s", error);
    }
    wire_doc_destroy (&reply);
    alert_t alert;
    if (CHECK (control_get_alert (bed->broker, source, id, &alert) == 0, "get failed")) {
        CHECK (alert.state == ALERT_PENDING, "state %s", alert_state_name (alert.state));
        CHECK (alert.acked_by == NULL, "acked_by %s", alert.acked_by);
        alert_clear_fields (&alert);
    }

    TEST ("ack of an unknown alert is refused with an error text");
    reply = control_call (bed->broker, "ack", ARG_STR ("source", source),
                          ARG_STR ("id", "no-such-alert"), ARG_STR ("by", "dave"), ARG_END);
    if (CHECK (reply, "no reply")) {
        CHECK (!reply_ok (reply), "ack of an unknown alert was accepted");
        const char *error = reply_error (reply);
        CHECK (error && *error, "no error text");
    }
    wire_doc_destroy (&reply);
}

//  Sends {id, raise: now} for source held age ms by its sender.
static int
s_send_aged (testbed_t *bed, const char *source, const char *id, int64_t age)
{
    event_spec_t event = { .id = id, .raise = "now", .age = age };
    batch_spec_t batch = { .source = source, .events = &event, .event_count = 1 };
    return ingest_send (bed->push, &batch);
}

#define S_AGE_MARGIN_MS  1000       //  an event's age beyond the act it must lose to

static void
s_human_acts_win (testbed_t *bed)
{
    const char *source = "acts-win";
    TEST ("human acts win: an event older than a clear or an ack does not undo it");
    int64_t sent_at = clock_now_ms ();
    if (!CHECK (testbed_raise (bed, source, "backup", NULL) == 0, "not raised"))
        return;
    wire_doc_t *reply = control_ok (bed->broker, "clear", ARG_STR ("source", source),
                                    ARG_STR ("id", "backup"), ARG_STR ("by", "alice"), ARG_END);
    CHECK (reply, "clear refused");
    wire_doc_destroy (&reply);
    alert_change_t change;
    CHECK (expect_change (bed->sub, "cleared", source, "backup", 3000, &change) == 0, "cleared");
    alert_change_free (&change);
    //  The resend of the raise, held by its sender since before the clear.
    int64_t stale_before = broker_process_stat (bed->broker, "stale");
    //  Its age is measured by the sender, its trip is not: the broker takes
    //  it as made `age` before it read it, later than it truly was by the
    //  time it waited on the way (ms under load). A second more of age
    //  keeps the check about order, not about the machine's speed.
    CHECK (s_send_aged (bed, source, "backup", clock_now_ms () - sent_at + S_AGE_MARGIN_MS) == 0,
           "send");
    CHECK (expect_no_change (bed->sub, NULL, source, "backup", 1000),
           "an event older than the clear changed the alert");
    CHECK (broker_process_stat (bed->broker, "stale") == stale_before + 1, "stale not counted");
    //  The same for an ack: a clear made before it does not touch it.
    int64_t made = clock_now_ms ();
    CHECK (s_send_aged (bed, source, "backup", 0) == 0
           && expect_change (bed->sub, "raised", source, "backup", 3000, &change) == 0,
           "a fresh event raises it again");
    alert_change_free (&change);
    reply = control_ok (bed->broker, "ack", ARG_STR ("source", source), ARG_STR ("id", "backup"),
                        ARG_STR ("by", "alice"), ARG_END);
    CHECK (reply, "ack refused");
    wire_doc_destroy (&reply);
    CHECK (expect_change (bed->sub, "acked", source, "backup", 3000, &change) == 0, "acked");
    alert_change_free (&change);
    event_spec_t clear = { .id = "backup", .raise = "clear",
                           .age = clock_now_ms () - made + S_AGE_MARGIN_MS };
    batch_spec_t batch = { .source = source, .events = &clear, .event_count = 1 };
    CHECK (ingest_send (bed->push, &batch) == 0, "send");
    CHECK (expect_no_change (bed->sub, NULL, source, "backup", 1000),
           "an event older than the ack changed the alert");
    alert_t alert;
    if (CHECK (control_get_alert (bed->broker, source, "backup", &alert) == 0, "get")) {
        CHECK (alert.state == ALERT_ACKED && alert.acted_at > 0, "state %s, acted_at %" PRId64,
               alert_state_name (alert.state), alert.acted_at);
        alert_clear_fields (&alert);
    }
}

int
main (void)
{
    testbed_t *bed = testbed_new ("ack", NULL);
    if (!bed) {
        TEST ("ack: testbed starts");
        CHECK (false, "broker did not start");
        return check_done ();
    }
    s_ack_until (bed);
    s_clear_drops_ack (bed);
    s_unack (bed);
    s_ack_refused (bed);
    s_human_acts_win (bed);
    TEST ("ack: seq strictly increasing on the bus; broker exits 0 on SIGTERM");
    CHECK (subscriber_seq_errors (bed->sub) == 0, "seq not strictly increasing on the bus");
    CHECK (testbed_destroy (&bed, check_failed > 0 || check_case_failed) == 0,
           "broker did not exit cleanly");
    return check_done ();
}
