/*  test_latest_table.c — the agent's latest-state table: one entry per
    alert, dirty until its batch is acknowledged (and then only if it was
    not put again since), an age on every alert, frames the broker's own decoder accepts,
    times sent relative to how long they were held, replace only when a
    source's alerts fit one frame, and the cap on distinct alerts.
*/
#include <string.h>
#include "../check.h"
#include "../../agent/latest_table.h"
#include "mem.h"

#define WALL 1800000000000LL           //  a wall clock "now", ms

//  What the fake broker received.
typedef struct {
    int frames;                    //  frames accepted
    int refuse_after;              //  refuse once this many were accepted (-1: never)
    size_t alerts;                 //  alerts in all frames
    int replaced;                  //  frames with replace=true
    char last_source [64];         //  source of the last frame
    char first_raise [64];         //  the raise spec of the first alert of the last frame
    char tx [8][WIRE_TX_SIZE];     //  the tx of the first eight frames
    bool ages;                     //  every alert carried an age >= 0
} received_t;

static int
s_receive (const void *frame, size_t size, void *arg)
{
    received_t *received = arg;
    if (received->refuse_after >= 0 && received->frames >= received->refuse_after)
        return -1;
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    char error [WIRE_ERROR_SIZE];
    if (!CHECK (wire_batch_decode (frame, size, WALL, &batch, error, sizeof error) == 0,
                "frame does not decode: %s", error)) {
        wire_batch_free (&batch);
        return -1;
    }
    if (received->frames < 8)
        snprintf (received->tx [received->frames], WIRE_TX_SIZE, "%s", batch.tx);
    received->frames++;
    received->alerts += batch.event_count;
    received->replaced += batch.replace;
    snprintf (received->last_source, sizeof received->last_source, "%s", batch.source);
    wire_batch_free (&batch);
    //  the raw spec of the first alert, read again without resolving it
    wire_doc_t *doc = wire_doc_new (frame, size, error, sizeof error);
    const msgpack_object *alerts = doc ? wire_get (wire_doc_root (doc), "alerts") : NULL;
    char *raise = NULL;
    if (alerts && alerts->via.array.size
    &&  wire_get_string (&alerts->via.array.ptr [0], "raise", 64, &raise, error, sizeof error) == 0
    &&  raise)
        snprintf (received->first_raise, sizeof received->first_raise, "%s", raise);
    mem_free (raise);
    received->ages = true;
    for (uint32_t index = 0; alerts && index < alerts->via.array.size; index++) {
        int64_t age = -1;
        bool present = false;
        if (wire_get_int (&alerts->via.array.ptr [index], "age", &present, &age,
                          error, sizeof error) || !present || age < 0)
            received->ages = false;
    }
    wire_doc_destroy (&doc);
    return 0;
}

static wire_event_t
s_event (char *id, int64_t raise_in)
{
    return (wire_event_t) { .id = id, .has_raise = true, .raise_at = WALL + raise_in, .level = -1 };
}

int
main (void)
{
    TEST ("one entry per alert; a flush sends the dirty ones, one frame per source");
    latest_table_t *table = latest_table_new (100);
    wire_event_t event = s_event ("a", 0);
    latest_table_put (table, "web1", &event, WALL, 0);
    event = s_event ("a", 60000);
    latest_table_put (table, "web1", &event, WALL, 0);      //  supersedes
    event = s_event ("b", 0);
    latest_table_put (table, "web1", &event, WALL, 0);
    event = s_event ("c", 0);
    latest_table_put (table, "web2", &event, WALL, 0);
    CHECK (latest_table_size (table) == 3, "size %zu", latest_table_size (table));
    CHECK (latest_table_dirty (table) == 3, "dirty %zu", latest_table_dirty (table));
    received_t received = { .refuse_after = -1 };
    int frames = latest_table_flush (table, false, false, 0, s_receive, &received);
    CHECK (frames == 2 && received.alerts == 3, "%d frames, %zu alerts", frames, received.alerts);
    CHECK (received.replaced == 0, "replace without asking");
    CHECK (received.ages, "an alert without its age");

    TEST ("sent is not clean: dirty until acknowledged, and not sent twice meanwhile");
    CHECK (latest_table_dirty (table) == 3 && latest_table_unsent (table) == 0
           && latest_table_in_flight (table) == 2, "dirty %zu unsent %zu in flight %zu",
           latest_table_dirty (table), latest_table_unsent (table),
           latest_table_in_flight (table));
    received_t again = { .refuse_after = -1 };
    CHECK (latest_table_flush (table, false, false, 0, s_receive, &again) == 0,
           "in-flight entries sent again");
    //  b is put again after its batch went out: the ack must leave it dirty
    event = s_event ("b", 5000);
    latest_table_put (table, "web1", &event, WALL, 0);
    CHECK (latest_table_unsent (table) == 1, "b changed: unsent %zu", latest_table_unsent (table));
    int cleaned = latest_table_acked (table, received.tx [0])
                + latest_table_acked (table, received.tx [1]);
    CHECK (cleaned == 2 && latest_table_dirty (table) == 1, "cleaned %d, dirty %zu", cleaned,
           latest_table_dirty (table));
    CHECK (latest_table_acked (table, received.tx [0]) == -1, "acked twice");
    again = (received_t) { .refuse_after = -1 };
    CHECK (latest_table_flush (table, false, false, 0, s_receive, &again) == 1
           && again.alerts == 1, "b not sent again");
    latest_table_forget (table);
    CHECK (latest_table_unsent (table) == 1 && latest_table_in_flight (table) == 0,
           "after forget: unsent %zu", latest_table_unsent (table));
    again = (received_t) { .refuse_after = -1 };
    CHECK (latest_table_flush (table, false, false, 0, s_receive, &again) == 1, "b after forget");
    CHECK (latest_table_refused (table, again.tx [0]) && latest_table_unsent (table) == 1,
           "refused: b not sendable again");
    again = (received_t) { .refuse_after = -1 };
    latest_table_flush (table, false, false, 0, s_receive, &again);
    CHECK (latest_table_acked (table, again.tx [0]) == 1 && latest_table_dirty (table) == 0,
           "b clean at last: dirty %zu", latest_table_dirty (table));

    TEST ("times go out relative to how long they were held");
    event = s_event ("d", 300000);
    latest_table_put (table, "web3", &event, WALL, 1000);
    received = (received_t) { .refuse_after = -1 };
    latest_table_flush (table, false, false, 31000, s_receive, &received);
    CHECK (strcmp (received.first_raise, "+270000ms") == 0, "raise sent as %s", received.first_raise);
    event = s_event ("d", 1000);
    latest_table_put (table, "web3", &event, WALL, 1000);
    received = (received_t) { .refuse_after = -1 };
    latest_table_flush (table, false, false, 5000, s_receive, &received);
    CHECK (strcmp (received.first_raise, "-3000ms") == 0, "raise sent as %s", received.first_raise);
    //  A check's "raise now", flushed with the turn's clock read before the
    //  put: a negative hold must not push it into the future (the broker
    //  would make a raised alert pending for a millisecond, then page again).
    event = s_event ("d", 0);
    latest_table_put (table, "web3", &event, WALL, 7001);
    received = (received_t) { .refuse_after = -1 };
    latest_table_flush (table, false, false, 7000, s_receive, &received);
    CHECK (strcmp (received.first_raise, "+0ms") == 0, "raise now sent as %s", received.first_raise);

    TEST ("a refused frame stays dirty and is sent by the next flush");
    event = s_event ("e", 0);
    latest_table_put (table, "web4", &event, WALL, 0);
    received = (received_t) { .refuse_after = 0 };
    latest_table_forget (table);
    size_t dirty = latest_table_dirty (table);
    CHECK (latest_table_flush (table, false, false, 0, s_receive, &received) == -1, "no failure");
    CHECK (latest_table_unsent (table) == dirty, "unsent %zu of %zu dirty",
           latest_table_unsent (table), dirty);
    received = (received_t) { .refuse_after = -1 };
    CHECK (latest_table_flush (table, false, false, 0, s_receive, &received) >= 1
           && latest_table_unsent (table) == 0, "not resent");

    TEST ("everything with replace: one replace frame per source that fits");
    received = (received_t) { .refuse_after = -1 };
    frames = latest_table_flush (table, true, true, 0, s_receive, &received);
    CHECK (frames == 4 && received.replaced == 4, "%d frames, %d with replace",
           frames, received.replaced);

    TEST ("the cap on distinct alerts refuses new ids, not updates");
    latest_table_set_max (table, latest_table_size (table));
    event = s_event ("new", 0);
    CHECK (latest_table_put (table, "web1", &event, WALL, 0) == -1, "accepted past the cap");
    event = s_event ("a", 0);
    CHECK (latest_table_put (table, "web1", &event, WALL, 0) == 0, "update refused at the cap");
    latest_table_destroy (&table);

    TEST ("a source too big for one frame goes out in several, without replace");
    table = latest_table_new (20000);
    char id [32];
    for (int index = 0; index < 12000; index++) {
        snprintf (id, sizeof id, "alert-%d", index);
        event = s_event (id, 0);
        latest_table_put (table, "big", &event, WALL, 0);
    }
    received = (received_t) { .refuse_after = -1 };
    frames = latest_table_flush (table, true, true, 0, s_receive, &received);
    CHECK (frames >= 2 && received.alerts == 12000 && received.replaced == 0,
           "%d frames, %zu alerts, %d replaced", frames, received.alerts, received.replaced);
    latest_table_destroy (&table);
    return check_done ();
}
