/*  test_snapshot_retention.c — a `snapshot` paging slowly does not hold off
    retention, and retention deleting meanwhile does not make it skip or
    repeat an alert.

    Broker config: retention 2s (a run every 2 s). 3,000 alerts are raised,
    every other one is then cleared; the test pages through `snapshot` 50
    alerts at a time, one page per hugz (so a page is never more than ~1 s
    after the last: a broker that paused retention after each page would
    never run it), until `stats` shows retention deleted the cleared ones,
    then pages on at once. Every raised alert must come exactly once.
*/
#include <string.h>
#include "../check.h"
#include "../harness/harness.h"

#define ALERTS          3000
#define FRAME_EVENTS    500
#define PAGE_LIMIT      50
#define CHANGE_DEADLINE_MS 10000

//  Sends ids 0..ALERTS-1 (every other one when odd_only) with raise, in frames.
static int
s_send_all (zsock_t *push, const char *source, const char *raise, bool odd_only)
{
    static char ids [ALERTS][16];
    static event_spec_t events [FRAME_EVENTS];
    size_t count = 0;
    for (int key = 0; key < ALERTS; key++) {
        if (odd_only && key % 2 == 0)
            continue;
        snprintf (ids [key], sizeof ids [key], "%d", key);
        events [count++] = (event_spec_t) { .id = ids [key], .raise = raise };
        if (count == FRAME_EVENTS || key == ALERTS - 1) {
            batch_spec_t batch = { .source = source, .events = events, .event_count = count };
            if (ingest_send (push, &batch))
                return -1;
            count = 0;
        }
    }
    return 0;
}

//  Counts the alerts of one page into seen; *cursor becomes the next
//  cursor, or -1 when done. 0, or -1 when the page was refused.
static int
s_page (broker_process_t *broker, int64_t *cursor, int *seen)
{
    wire_doc_t *reply = control_ok (broker, "snapshot", ARG_INT ("cursor", *cursor),
                                    ARG_INT ("limit", PAGE_LIMIT), ARG_END);
    if (!reply)
        return -1;
    const msgpack_object *alerts = reply_get (reply, "alerts");
    for (uint32_t index = 0; alerts && alerts->type == MSGPACK_OBJECT_ARRAY
                             && index < alerts->via.array.size; index++) {
        alert_t alert = { 0 };
        char reason [128];
        if (alert_decode (&alerts->via.array.ptr [index], &alert, reason, sizeof reason) == 0) {
            int key = atoi (alert.id);
            if (key >= 0 && key < ALERTS)
                seen [key]++;
        }
        alert_clear_fields (&alert);
    }
    *cursor = reply_int (reply, "cursor", -1);
    wire_doc_destroy (&reply);
    return 0;
}

int
main (void)
{
    broker_process_config_t config = { .reminder_interval = "1h", .grace = "1s",
                                       .retention = "2s", .checkpoint = "500ms" };
    testbed_t *bed = testbed_new ("snapshot-retention", &config);
    if (!bed) {
        TEST ("snapshot and retention: testbed starts");
        CHECK (false, "could not start the broker");
        return check_done ();
    }
    const char *source = "paged";
    char last [16];
    snprintf (last, sizeof last, "%d", ALERTS - 1);
    alert_change_t change;

    TEST ("snapshot and retention: 3000 alerts raised, every other one cleared");
    CHECK (s_send_all (bed->push, source, "now", false) == 0, "send raises");
    if (CHECK (expect_change (bed->sub, "raised", source, last, CHANGE_DEADLINE_MS, &change) == 0,
               "last alert raised"))
        alert_change_free (&change);
    CHECK (s_send_all (bed->push, source, "clear", true) == 0, "send clears");
    if (CHECK (expect_change (bed->sub, "cleared", source, last, CHANGE_DEADLINE_MS, &change) == 0,
               "last alert cleared"))
        alert_change_free (&change);

    TEST ("snapshot and retention: retention runs while a snapshot pages slowly");
    static int seen [ALERTS];
    int64_t cursor = 0;
    int pages = 0, paged_after_retention = 0;
    bool retained = false, refused = false;
    while (cursor >= 0 && !refused) {
        refused = s_page (bed->broker, &cursor, seen) != 0;
        pages++;
        paged_after_retention += retained;
        if (!retained && cursor >= 0) {
            CHECK (expect_hugz (bed->sub, zclock_time (), 3000) == 0, "no hugz");
            int64_t alerts = broker_process_stat (bed->broker, "alerts");
            retained = alerts >= 0 && alerts < ALERTS;
        }
    }
    CHECK (!refused, "a snapshot page was refused");
    CHECK (retained && paged_after_retention > 0,
           "retention did not run while the snapshot paged (%d pages)", pages);

    TEST ("snapshot and retention: every raised alert came exactly once, none twice");
    int missed = 0, twice = 0;
    for (int key = 0; key < ALERTS; key++) {
        twice += seen [key] > 1;
        missed += key % 2 == 0 && seen [key] != 1;
    }
    CHECK (missed == 0, "%d raised alerts missed or repeated", missed);
    CHECK (twice == 0, "%d alerts came twice", twice);

    bool failed = check_failed > 0 || check_case_failed;
    testbed_destroy (&bed, failed);
    return check_done ();
}
