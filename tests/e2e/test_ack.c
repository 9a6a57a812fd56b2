/*  test_ack.c — acknowledgement, end to end.

    One broker (reminder_interval 1s); each case uses its own source so
    cases do not see each other's changes. Acknowledge with `until` raises
    the alert again when until passes; clearing drops the acknowledgement;
    unack returns to raised; acknowledging a pending (or unknown) alert is
    refused with an error a human can read.
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
    TEST ("ack: seq strictly increasing on the bus; broker exits 0 on SIGTERM");
    CHECK (subscriber_seq_errors (bed->sub) == 0, "seq not strictly increasing on the bus");
    CHECK (testbed_destroy (&bed, check_failed > 0 || check_case_failed) == 0,
           "broker did not exit cleanly");
    return check_done ();
}
