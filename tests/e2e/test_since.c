/*  test_since.c — replay (`since`) and paging (`snapshot`), end to end.

    One broker with reminders off the clock (reminder_interval 1h), so the
    history holds exactly the transitions the test makes. `since` must return
    every change after a seq, in order, with strictly increasing seqs, the
    same bodies the bus carried, and `more` when a small limit cuts it.
    `snapshot` pages 2,500 alerts with limit 1000 through `cursor`: each
    alert exactly once, `seq` on every page, no cursor on the last.
*/
#include "../check.h"
#include "../harness/harness.h"
#include "timespec.h"

#define TRANSITIONS   8            //  changes made by the since case
#define SNAPSHOT_SIZE 2500         //  alerts in the snapshot case

typedef struct {
    uint64_t seq;                  //  as published
    char event [16];               //  as published
    char id [16];                  //  as published
} seen_t;

//  Collects the changes of one `since` reply into list (up to capacity),
//  checking seqs strictly increase from *last. Returns the number added, or
//  -1 if the reply was not usable.
static int
s_collect (wire_doc_t *reply, seen_t *list, int capacity, uint64_t *last, int *disorder)
{
    const msgpack_object *changes = reply_get (reply, "changes");
    if (!changes || changes->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    int added = 0;
    for (uint32_t index = 0; index < changes->via.array.size; index++) {
        alert_change_t change;
        char error [WIRE_ERROR_SIZE];
        if (alert_change_decode (&changes->via.array.ptr [index], &change, error, sizeof error) != 0) {
            harness_note ("since: undecodable change: %s", error);
            return -1;
        }
        if (change.seq <= *last)
            (*disorder)++;
        *last = change.seq;
        if (added < capacity) {
            list [added].seq = change.seq;
            snprintf (list [added].event, sizeof list [added].event, "%s", change.event);
            snprintf (list [added].id, sizeof list [added].id, "%s", change.alert.id);
        }
        added++;
        alert_change_free (&change);
    }
    return added;
}

static void
s_since (testbed_t *bed)
{
    const char *source = "since-host";
    TEST ("since: every transition after a seq, in order, strictly increasing, as published");
    wire_doc_t *ping = control_ok (bed->broker, "ping", ARG_END);
    if (!CHECK (ping, "ping"))
        return;
    uint64_t base = (uint64_t) reply_int (ping, "seq", 0);
    wire_doc_destroy (&ping);

    //  Five raises in one batch, then two clears and an ack by hand.
    event_spec_t events [5] = {
        { .id = "s0", .raise = "now" }, { .id = "s1", .raise = "now" }, { .id = "s2", .raise = "now" },
        { .id = "s3", .raise = "now" }, { .id = "s4", .raise = "now" }
    };
    batch_spec_t batch = { .source = source, .events = events, .event_count = 5 };
    CHECK (ingest_send (bed->push, &batch) == 0, "send");
    seen_t published [TRANSITIONS];
    int published_count = 0;
    alert_change_t change;
    for (int index = 0; index < 5; index++)
        if (expect_change (bed->sub, NULL, source, NULL, 3000, &change) == 0) {
            published [published_count].seq = change.seq;
            snprintf (published [published_count].event, 16, "%s", change.event);
            snprintf (published [published_count].id, 16, "%s", change.alert.id);
            published_count++;
            alert_change_free (&change);
        }
    const char *ops [3][2] = { { "clear", "s0" }, { "clear", "s1" }, { "ack", "s2" } };
    for (int index = 0; index < 3; index++) {
        wire_doc_t *reply = control_ok (bed->broker, ops [index][0], ARG_STR ("source", source),
                                        ARG_STR ("id", ops [index][1]), ARG_STR ("by", "test"), ARG_END);
        CHECK (reply, "%s %s refused", ops [index][0], ops [index][1]);
        wire_doc_destroy (&reply);
        if (expect_change (bed->sub, NULL, source, ops [index][1], 3000, &change) == 0) {
            published [published_count].seq = change.seq;
            snprintf (published [published_count].event, 16, "%s", change.event);
            snprintf (published [published_count].id, 16, "%s", change.alert.id);
            published_count++;
            alert_change_free (&change);
        }
    }
    if (!CHECK (published_count == TRANSITIONS, "saw %d of %d changes on the bus",
                published_count, TRANSITIONS))
        return;

    wire_doc_t *reply = control_ok (bed->broker, "since", ARG_INT ("seq", base), ARG_END);
    if (!CHECK (reply, "since refused"))
        return;
    seen_t replayed [TRANSITIONS + 4];
    uint64_t last = base;
    int disorder = 0;
    int count = s_collect (reply, replayed, TRANSITIONS + 4, &last, &disorder);
    CHECK (count == TRANSITIONS, "since %llu returned %d changes, %d were published",
           (unsigned long long) base, count, TRANSITIONS);
    CHECK (disorder == 0, "seqs not strictly increasing above %llu", (unsigned long long) base);
    CHECK (!reply_bool (reply, "more", true), "more is not false");
    CHECK (reply_get (reply, "seq") != NULL, "no seq in the reply");
    CHECK ((uint64_t) reply_int (reply, "seq", 0) >= published [TRANSITIONS - 1].seq,
           "reply seq %lld below the last change", (long long) reply_int (reply, "seq", 0));
    wire_doc_destroy (&reply);
    for (int index = 0; index < TRANSITIONS && index < count; index++)
        CHECK (replayed [index].seq == published [index].seq
           &&  streq (replayed [index].event, published [index].event)
           &&  streq (replayed [index].id, published [index].id),
               "change %d: since has %llu %s %s, the bus had %llu %s %s", index,
               (unsigned long long) replayed [index].seq, replayed [index].event, replayed [index].id,
               (unsigned long long) published [index].seq, published [index].event, published [index].id);

    TEST ("since: a small limit sets more, and paging from the last seq yields the rest");
    seen_t paged [TRANSITIONS + 4];
    int paged_count = 0;
    last = base;
    disorder = 0;
    bool first_more = false;
    int pages = 0;
    for (; pages < 10; pages++) {
        reply = control_ok (bed->broker, "since", ARG_INT ("seq", last), ARG_INT ("limit", 3), ARG_END);
        if (!CHECK (reply, "since limit 3 refused"))
            break;
        int added = s_collect (reply, paged + paged_count, TRANSITIONS + 4 - paged_count, &last, &disorder);
        bool more = reply_bool (reply, "more", false);
        CHECK (reply_get (reply, "more") != NULL, "no more in the reply");
        wire_doc_destroy (&reply);
        if (!CHECK (added >= 0 && added <= 3, "page %d has %d changes (limit 3)", pages, added))
            break;
        if (pages == 0)
            first_more = more;
        paged_count += added;
        if (!more)
            break;
    }
    CHECK (first_more, "more is false with limit 3 and %d changes", TRANSITIONS);
    CHECK (paged_count == TRANSITIONS, "paging returned %d changes of %d", paged_count, TRANSITIONS);
    CHECK (pages >= 2 && pages <= 3, "took %d pages", pages + 1);
    CHECK (disorder == 0, "paged seqs not strictly increasing");
    for (int index = 0; index < TRANSITIONS && index < paged_count; index++)
        CHECK (paged [index].seq == published [index].seq, "page change %d: seq %llu, the bus had %llu",
               index, (unsigned long long) paged [index].seq, (unsigned long long) published [index].seq);

    TEST ("since: a seq at the head returns no changes and more false");
    reply = control_ok (bed->broker, "since", ARG_INT ("seq", published [TRANSITIONS - 1].seq), ARG_END);
    if (CHECK (reply, "since refused")) {
        last = published [TRANSITIONS - 1].seq;
        CHECK (s_collect (reply, paged, TRANSITIONS, &last, &disorder) == 0, "changes after the head");
        CHECK (!reply_bool (reply, "more", true), "more is not false");
    }
    wire_doc_destroy (&reply);
}

static void
s_snapshot (testbed_t *bed)
{
    const char *source = "snap-host";
    TEST ("snapshot: 2,500 alerts paged with limit 1000 come each exactly once, seq on every page");
    event_spec_t *events = calloc (SNAPSHOT_SIZE, sizeof *events);
    char (*ids) [8] = calloc (SNAPSHOT_SIZE, sizeof *ids);
    assert (events && ids);
    for (int index = 0; index < SNAPSHOT_SIZE; index++) {
        snprintf (ids [index], sizeof ids [index], "a%04d", index);
        events [index].id = ids [index];
        events [index].raise = "+1h";
    }
    batch_spec_t batch = { .source = source, .events = events, .event_count = SNAPSHOT_SIZE };
    CHECK (ingest_send (bed->push, &batch) == 0, "send");
    free (events);
    free (ids);
    //  Applied when `list` counts them all (polled within a deadline).
    int64_t matched = 0;
    int64_t deadline = clock_now_ms () + 10000;
    for (int poll = 0; poll < 500 && clock_now_ms () < deadline; poll++) {
        wire_doc_t *reply = control_ok (bed->broker, "list", ARG_STR ("source", source),
                                        ARG_INT ("limit", 1), ARG_END);
        matched = reply_int (reply, "count", 0);
        wire_doc_destroy (&reply);
        if (matched >= SNAPSHOT_SIZE)
            break;
        harness_pause_ms (20);
    }
    if (!CHECK (matched == SNAPSHOT_SIZE, "list counts %lld of %d alerts", (long long) matched, SNAPSHOT_SIZE))
        return;

    unsigned char *seen = calloc (SNAPSHOT_SIZE, 1);
    assert (seen);
    int64_t cursor = 0;
    int pages = 0, twice = 0, foreign = 0, bad = 0;
    bool done = false;
    for (; pages < 20 && !done; pages++) {
        wire_doc_t *reply = control_ok (bed->broker, "snapshot", ARG_INT ("cursor", cursor),
                                        ARG_INT ("limit", 1000), ARG_END);
        if (!CHECK (reply, "snapshot page %d refused", pages))
            break;
        CHECK (reply_get (reply, "seq") != NULL, "page %d has no seq", pages);
        const msgpack_object *alerts = reply_get (reply, "alerts");
        if (CHECK (alerts && alerts->type == MSGPACK_OBJECT_ARRAY, "page %d has no alerts", pages)) {
            CHECK (alerts->via.array.size <= 1000, "page %d has %u alerts (limit 1000)", pages,
                   alerts->via.array.size);
            for (uint32_t index = 0; index < alerts->via.array.size; index++) {
                alert_t alert;
                char error [WIRE_ERROR_SIZE];
                if (alert_decode (&alerts->via.array.ptr [index], &alert, error, sizeof error) != 0) {
                    bad++;
                    continue;
                }
                int number = -1;
                if (streq (alert.source, source) && sscanf (alert.id, "a%d", &number) == 1
                &&  number >= 0 && number < SNAPSHOT_SIZE) {
                    if (seen [number])
                        twice++;
                    seen [number] = 1;
                }
                else
                    foreign++;
                alert_clear_fields (&alert);
            }
        }
        const msgpack_object *next = reply_get (reply, "cursor");
        if (!next)
            done = true;
        else
        if (CHECK (next->type == MSGPACK_OBJECT_POSITIVE_INTEGER, "page %d: cursor is not an integer", pages))
            cursor = (int64_t) next->via.u64;
        else
            done = true;
        wire_doc_destroy (&reply);
    }
    int missing = 0;
    for (int index = 0; index < SNAPSHOT_SIZE; index++)
        missing += !seen [index];
    free (seen);
    CHECK (done, "no page without a cursor after %d pages", pages);
    CHECK (pages >= 3, "%d pages for %d alerts with limit 1000", pages, SNAPSHOT_SIZE);
    CHECK (missing == 0, "%d alerts missing from the snapshot", missing);
    CHECK (twice == 0, "%d alerts came twice", twice);
    CHECK (bad == 0, "%d undecodable alerts", bad);
    harness_note ("snapshot: %d pages, %d alerts of other sources", pages, foreign);
}

int
main (void)
{
    broker_process_config_t config = { .reminder_interval = "1h", .grace = "2s", .checkpoint = "500ms" };
    testbed_t *bed = testbed_new ("since", &config);
    if (!bed) {
        TEST ("since: testbed starts");
        CHECK (false, "broker did not start");
        return check_done ();
    }
    s_since (bed);
    s_snapshot (bed);
    TEST ("since: seq strictly increasing on the bus; broker exits 0 on SIGTERM");
    CHECK (subscriber_seq_errors (bed->sub) == 0, "seq not strictly increasing on the bus");
    CHECK (testbed_destroy (&bed, check_failed > 0 || check_case_failed) == 0,
           "broker did not exit cleanly");
    return check_done ();
}
