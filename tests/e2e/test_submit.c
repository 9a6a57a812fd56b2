/*  test_submit.c — the acknowledged submit (architecture §10), end to end.

    One broker. Submits go through the typed client (ctl.h) as the agent's
    and `lilac send`'s do; the frames are the harness's ingest frames.
    - accepted: the reply says accepted 2 and comes after the commit: the
      broker is killed with SIGKILL the moment the reply is read, and after
      a restart both rows are there (a PUSH frame has no such promise);
    - a bad event: the others are applied, the bad one is named with its
      index, id and reason, and has no row;
    - refused whole: no tx; a source that is not a name;
    - a repeated tx answers success (repeated) and is not applied again;
    - refresh-only: a submit that only moves a pending alert's raise time
      is answered too;
    - PUSH ingest still works beside it.
    `lilac send` (waits by default, --no-wait, exit codes) has its cases at
    the end; its refusals with the broker's reason are in test_security
    (a certificate for another source) and test_agent (through an agent).
    The degraded answer is in test_faults (it needs a full disk).
*/
#include <string.h>
#include "../check.h"
#include "../harness/harness.h"
#include "ctl.h"
#include "timespec.h"

#define SUBMIT_MS   5000

static ctl_t *
s_client (testbed_t *bed)
{
    char error [256];
    ctl_t *ctl = ctl_new (broker_process_control (bed->broker), SUBMIT_MS, false,
                          error, sizeof error);
    if (!ctl)
        harness_note ("ctl_new: %s", error);
    return ctl;
}

//  Submits the batch; 0 with *reply filled, or -1 (printed).
static int
s_submit (ctl_t *ctl, const batch_spec_t *batch, ctl_submit_reply_t *reply)
{
    wire_writer_t frame;
    wire_writer_init (&frame);
    batch_pack (&frame, batch);
    char error [512];
    ctl_failure_t failure;
    int rc = ctl_submit (ctl, frame.buffer.data, frame.buffer.size, reply, &failure,
                         error, sizeof error);
    if (rc)
        harness_note ("submit: %s", error);
    wire_writer_free (&frame);
    return rc;
}

static bool
s_has_row (testbed_t *bed, const char *source, const char *id, alert_state_t state,
           const char *summary)
{
    alert_t row;
    if (control_get_alert (bed->broker, source, id, &row) != 0)
        return false;
    bool same = row.state == state && (!summary || (row.summary && streq (row.summary, summary)));
    if (!same)
        harness_note ("%s/%s is %s '%s'", source, id, alert_state_name (row.state),
                      row.summary ? row.summary : "");
    alert_clear_fields (&row);
    return same;
}

static void
s_accepted_survives_kill (testbed_t *bed)
{
    TEST ("submit: accepted 2, answered after the commit — kill -9 at the reply loses nothing");
    ctl_t *ctl = s_client (bed);
    event_spec_t events [] = {
        { .id = "one", .raise = "now", .summary = "first" },
        { .id = "two", .raise = "+1h", .summary = "second" },
    };
    batch_spec_t batch = { .source = "sub", .tx = "tx-accepted", .events = events, .event_count = 2 };
    ctl_submit_reply_t reply;
    if (CHECK (ctl && s_submit (ctl, &batch, &reply) == 0, "no answer")) {
        CHECK (broker_process_kill (bed->broker) == 0, "kill -9");
        CHECK (reply.ok && reply.accepted == 2 && reply.refused_count == 0
               && streq (reply.tx, "tx-accepted"), "reply: ok %d accepted %lld refused %zu tx %s"
               " error %s", reply.ok, (long long) reply.accepted, reply.refused_count,
               reply.tx, reply.error);
        CHECK (broker_process_start (bed->broker) == 0, "restart");
        CHECK (testbed_rejoin (bed) == 0, "rejoin");
        CHECK (s_has_row (bed, "sub", "one", ALERT_RAISED, "first"), "one after kill -9");
        CHECK (s_has_row (bed, "sub", "two", ALERT_PENDING, "second"), "two after kill -9");
    }
    ctl_destroy (&ctl);
}

static void
s_bad_event (testbed_t *bed)
{
    TEST ("submit: a bad event is refused alone, with its index, id and reason");
    ctl_t *ctl = s_client (bed);
    event_spec_t events [] = {
        { .id = "good-a", .raise = "now" },
        { .id = "bad", .raise = "yesterday" },
        { .id = "good-b", .raise = "now", .level = "urgent" },
        { .id = "bad-level", .raise = "now", .level = "high" },
    };
    batch_spec_t batch = { .source = "sub", .tx = "tx-bad", .events = events, .event_count = 4 };
    ctl_submit_reply_t reply;
    if (CHECK (ctl && s_submit (ctl, &batch, &reply) == 0, "no answer")) {
        CHECK (reply.ok && reply.accepted == 2 && reply.refused_count == 2,
               "ok %d accepted %lld refused %zu (%s)", reply.ok, (long long) reply.accepted,
               reply.refused_count, reply.error);
        if (reply.refused_count == 2) {
            harness_note ("refused: [%lld] %s: %s; [%lld] %s: %s",
                          (long long) reply.refused [0].index, reply.refused [0].id,
                          reply.refused [0].reason, (long long) reply.refused [1].index,
                          reply.refused [1].id, reply.refused [1].reason);
            CHECK (reply.refused [0].index == 1 && streq (reply.refused [0].id, "bad")
                   && strstr (reply.refused [0].reason, "raise"), "first refusal");
            CHECK (reply.refused [1].index == 3 && streq (reply.refused [1].id, "bad-level")
                   && strstr (reply.refused [1].reason, "level"), "second refusal");
        }
        CHECK (s_has_row (bed, "sub", "good-a", ALERT_RAISED, NULL), "good-a");
        CHECK (s_has_row (bed, "sub", "good-b", ALERT_RAISED, NULL), "good-b");
        alert_t row;
        CHECK (control_get_alert (bed->broker, "sub", "bad", &row) != 0, "bad has a row");
    }
    ctl_destroy (&ctl);
}

static void
s_refused_whole (testbed_t *bed)
{
    TEST ("submit: no tx, or a source that is not a name, refuses the whole batch");
    ctl_t *ctl = s_client (bed);
    event_spec_t event = { .id = "never", .raise = "now" };
    batch_spec_t no_tx = { .source = "sub", .events = &event, .event_count = 1 };
    ctl_submit_reply_t reply;
    if (CHECK (ctl && s_submit (ctl, &no_tx, &reply) == 0, "no answer"))
        CHECK (!reply.ok && strstr (reply.error, "tx"), "no tx: ok %d: %s", reply.ok, reply.error);
    batch_spec_t bad_source = { .source = "bad\nsource", .tx = "tx-whole", .events = &event,
                                .event_count = 1 };
    if (CHECK (ctl && s_submit (ctl, &bad_source, &reply) == 0, "no answer"))
        CHECK (!reply.ok && streq (reply.tx, "tx-whole") && strstr (reply.error, "source"),
               "bad source: ok %d tx %s: %s", reply.ok, reply.tx, reply.error);
    alert_t row;
    CHECK (control_get_alert (bed->broker, "sub", "never", &row) != 0, "never has a row");
    ctl_destroy (&ctl);
}

static void
s_repeated_tx (testbed_t *bed)
{
    TEST ("submit: a repeated tx answers success and is not applied again");
    ctl_t *ctl = s_client (bed);
    event_spec_t first = { .id = "rep", .raise = "now", .summary = "v1" };
    event_spec_t second = { .id = "rep", .raise = "now", .summary = "v2" };
    batch_spec_t one = { .source = "sub", .tx = "tx-repeat", .events = &first, .event_count = 1 };
    batch_spec_t two = { .source = "sub", .tx = "tx-repeat", .events = &second, .event_count = 1 };
    int64_t duplicates = broker_process_stat (bed->broker, "duplicates");
    ctl_submit_reply_t reply;
    if (CHECK (ctl && s_submit (ctl, &one, &reply) == 0 && reply.ok, "first submit")
    &&  CHECK (s_submit (ctl, &two, &reply) == 0, "second submit")) {
        CHECK (reply.ok && reply.accepted == 1 && streq (reply.tx, "tx-repeat"),
               "repeat: ok %d accepted %lld: %s", reply.ok, (long long) reply.accepted,
               reply.error);
        CHECK (s_has_row (bed, "sub", "rep", ALERT_RAISED, "v1"), "the repeat was applied");
        CHECK (broker_process_stat (bed->broker, "duplicates") == duplicates + 1,
               "duplicates not counted");
    }
    ctl_destroy (&ctl);
}

static void
s_refresh_only (testbed_t *bed)
{
    TEST ("submit: a batch of refreshes only (a pending alert's raise time) is answered");
    ctl_t *ctl = s_client (bed);
    event_spec_t event = { .id = "beat", .raise = "+1h" };
    batch_spec_t first = { .source = "sub", .tx = "tx-beat-1", .events = &event, .event_count = 1 };
    batch_spec_t again = { .source = "sub", .tx = "tx-beat-2", .events = &event, .event_count = 1 };
    ctl_submit_reply_t reply;
    int64_t refreshes = broker_process_stat (bed->broker, "refreshes");
    if (CHECK (ctl && s_submit (ctl, &first, &reply) == 0 && reply.ok, "first beat")
    &&  CHECK (s_submit (ctl, &again, &reply) == 0, "second beat: no answer"))
        CHECK (reply.ok && reply.accepted == 1, "second beat: ok %d: %s", reply.ok, reply.error);
    CHECK (broker_process_stat (bed->broker, "refreshes") == refreshes + 1,
           "the second beat was not a refresh");
    ctl_destroy (&ctl);
}

static void
s_push_still_works (testbed_t *bed)
{
    TEST ("PUSH ingest still works beside submit");
    CHECK (ingest_event (bed->push, "sub", "pushed", "now") == 0, "push");
    alert_change_t change;
    if (CHECK (expect_change (bed->sub, "raised", "sub", "pushed", 5000, &change) == 0,
               "pushed not raised"))
        alert_change_free (&change);
}

//  --- lilac send ------------------------------------------------------------------

static void
s_send_waits (testbed_t *bed)
{
    TEST ("lilac send: submits and waits — exit 0 when accepted, kill -9 after it loses nothing");
    const char *dir = sandbox_dir (bed->sandbox);
    cli_result_t result;
    cli_run (dir, 10000, &result, "-C", broker_process_control (bed->broker), "send",
             "-o", "cli", "-i", "sent-1", "-r", "now", "-s", "waited", NULL);
    CHECK (result.status == 0, "lilac send: exit %d: %s", result.status, result.err);
    cli_result_free (&result);
    CHECK (broker_process_kill (bed->broker) == 0, "kill -9");
    CHECK (broker_process_start (bed->broker) == 0, "restart");
    CHECK (testbed_rejoin (bed) == 0, "rejoin");
    CHECK (s_has_row (bed, "cli", "sent-1", ALERT_RAISED, "waited"), "sent-1 after kill -9");

    TEST ("lilac send: no broker there exits 1 at once, saying the connection was refused");
    cli_run (dir, 10000, &result, "send", "-C", "tcp://127.0.0.1:1", "-t", "5",
             "-o", "cli", "-i", "nobody", "-r", "now", NULL);
    CHECK (result.status == 1 && strstr (result.err, "connection refused by tcp://127.0.0.1:1")
           && result.elapsed_ms < 2000,
           "nobody there: exit %d after %lld ms: %s", result.status,
           (long long) result.elapsed_ms, result.err);
    cli_result_free (&result);

    TEST ("lilac send --no-wait: today's PUSH to the ingest endpoint");
    cli_run (dir, 10000, &result, "send", "--no-wait", "-b", broker_process_ingest (bed->broker),
             "-o", "cli", "-i", "pushed-1", "-r", "now", NULL);
    CHECK (result.status == 0, "--no-wait: exit %d: %s", result.status, result.err);
    cli_result_free (&result);
    alert_change_t change;
    if (CHECK (expect_change (bed->sub, "raised", "cli", "pushed-1", 5000, &change) == 0,
               "pushed-1 not raised"))
        alert_change_free (&change);
}

int
main (void)
{
    testbed_t *bed = testbed_new ("submit", NULL);
    if (!CHECK (bed, "broker did not start"))
        return check_done ();
    s_accepted_survives_kill (bed);
    s_bad_event (bed);
    s_refused_whole (bed);
    s_repeated_tx (bed);
    s_refresh_only (bed);
    s_push_still_works (bed);
    s_send_waits (bed);
    bool failed = check_failed > 0 || check_case_failed;
    CHECK (testbed_destroy (&bed, failed) == 0, "broker did not exit cleanly");
    return check_done ();
}
