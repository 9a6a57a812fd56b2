/*  test_history.c — `history {source, id, limit?, before?}`: one alert's
    changes, newest first, walked through each history row's prev_seq; pages
    with `before`; and `lilac history SOURCE ID`.

    One alert goes raised, acked, unacked, cleared, raised while another
    changes in between (so the chain must skip its rows); the test waits
    for each change on the bus before the next act.
*/
#include <string.h>
#include "../check.h"
#include "../harness/harness.h"

#define WAIT_MS 5000

//  Events and seqs of a history reply's changes into events/seqs (at most
//  max); returns how many, or -1 when the reply is not ok.
static int
s_changes (wire_doc_t *reply, char events [][16], uint64_t *seqs, int max)
{
    if (!reply || !reply_ok (reply))
        return -1;
    const msgpack_object *changes = reply_get (reply, "changes");
    int count = 0;
    for (uint32_t index = 0; changes && changes->type == MSGPACK_OBJECT_ARRAY
                             && index < changes->via.array.size && count < max; index++) {
        alert_change_t change;
        char reason [128];
        if (alert_change_decode (&changes->via.array.ptr [index], &change, reason, sizeof reason))
            return -1;
        snprintf (events [count], 16, "%s", change.event);
        seqs [count++] = change.seq;
        bool ours = strcmp (change.alert.id, "disk") == 0;
        alert_change_free (&change);
        if (!ours)
            return -1;
    }
    return count;
}

static int
s_act (testbed_t *bed, const char *op, const char *event)
{
    wire_doc_t *reply = control_ok (bed->broker, op, ARG_STR ("source", "web1"),
                                    ARG_STR ("id", "disk"), ARG_STR ("by", "ann"), ARG_END);
    wire_doc_destroy (&reply);
    alert_change_t change;
    if (expect_change (bed->sub, event, "web1", "disk", WAIT_MS, &change))
        return -1;
    alert_change_free (&change);
    return 0;
}

int
main (void)
{
    testbed_t *bed = testbed_new ("history", NULL);
    if (!bed) {
        TEST ("history: testbed starts");
        CHECK (false, "could not start the broker");
        return check_done ();
    }

    TEST ("history: five changes of one alert, another alert's in between");
    CHECK (testbed_raise (bed, "web1", "disk", NULL) == 0, "raise");
    CHECK (testbed_raise (bed, "web1", "other", NULL) == 0, "raise other");
    CHECK (s_act (bed, "ack", "acked") == 0, "ack");
    CHECK (testbed_raise (bed, "web2", "disk", NULL) == 0, "raise web2/disk");
    CHECK (s_act (bed, "unack", "unacked") == 0, "unack");
    CHECK (s_act (bed, "clear", "cleared") == 0, "clear");
    CHECK (testbed_raise (bed, "web1", "disk", NULL) == 0, "raise again");

    TEST ("history: newest first, only this alert's changes");
    char events [8][16];
    uint64_t seqs [8];
    wire_doc_t *reply = control_call (bed->broker, "history", ARG_STR ("source", "web1"),
                                      ARG_STR ("id", "disk"), ARG_END);
    int count = s_changes (reply, events, seqs, 8);
    const char *expected [] = { "raised", "cleared", "unacked", "acked", "raised" };
    CHECK (count == 5, "%d changes (%s)", count, reply ? reply_error (reply) : "no reply");
    for (int index = 0; index < count && index < 5; index++)
        CHECK (strcmp (events [index], expected [index]) == 0
               && (index == 0 || seqs [index] < seqs [index - 1]),
               "change %d: %s seq %" PRIu64, index, events [index], seqs [index]);
    CHECK (reply && !reply_bool (reply, "more", true), "more should be false");
    wire_doc_destroy (&reply);

    TEST ("history: limit 2 and before page through the rest, nothing twice");
    int paged = 0;
    int64_t before = 0;
    bool more = true;
    char page_events [8][16];
    uint64_t page_seqs [8];
    for (int page = 0; page < 5 && more; page++) {
        reply = before
              ? control_call (bed->broker, "history", ARG_STR ("source", "web1"),
                              ARG_STR ("id", "disk"), ARG_INT ("limit", 2),
                              ARG_INT ("before", before), ARG_END)
              : control_call (bed->broker, "history", ARG_STR ("source", "web1"),
                              ARG_STR ("id", "disk"), ARG_INT ("limit", 2), ARG_END);
        int got = s_changes (reply, page_events, page_seqs, 8);
        CHECK (got >= 0 && got <= 2, "page %d: %d changes", page, got);
        for (int index = 0; index < got && paged < 8; index++, paged++)
            CHECK (paged < count && page_seqs [index] == seqs [paged],
                   "page %d: seq %" PRIu64 " where %" PRIu64 " was expected", page,
                   page_seqs [index], paged < count ? seqs [paged] : 0);
        more = reply && reply_bool (reply, "more", false);
        before = reply ? reply_int (reply, "before", 0) : 0;
        CHECK (!more || before == (int64_t) page_seqs [got - 1], "before %" PRId64, before);
        wire_doc_destroy (&reply);
    }
    CHECK (paged == 5 && !more, "paged %d changes", paged);

    TEST ("history: bad arguments are refused with a reason");
    reply = control_call (bed->broker, "history", ARG_STR ("source", "web1"),
                          ARG_STR ("id", "disk"), ARG_INT ("limit", 1001), ARG_END);
    CHECK (reply && !reply_ok (reply) && strstr (reply_error (reply), "limit"), "limit 1001");
    wire_doc_destroy (&reply);
    reply = control_call (bed->broker, "history", ARG_STR ("source", "web1"),
                          ARG_STR ("id", "nothing"), ARG_END);
    CHECK (reply && !reply_ok (reply) && strstr (reply_error (reply), "no alert"), "no alert");
    wire_doc_destroy (&reply);

    TEST ("history: lilac history SOURCE ID prints one line a change, newest first");
    cli_result_t result;
    cli_run (sandbox_dir (bed->sandbox), 10000, &result, "-C",
             broker_process_control (bed->broker), "history", "web1", "disk", NULL);
    CHECK (result.status == 0, "exit %d: %s", result.status, result.err ? result.err : "");
    const char *raised = result.out ? strstr (result.out, " raised raised ") : NULL;
    const char *acked = result.out ? strstr (result.out, " acked acked ") : NULL;
    CHECK (raised && acked && raised < acked, "output: %s", result.out ? result.out : "");
    cli_result_free (&result);

    bool failed = check_failed > 0 || check_case_failed;
    testbed_destroy (&bed, failed);
    return check_done ();
}
