/*  test_latest_table.c — the agent's latest-state table: one entry per
    alert, dirty until handed over, frames the broker's own decoder accepts,
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
    CHECK (latest_table_dirty (table) == 0, "still dirty after a flush");
    CHECK (received.replaced == 0, "replace without asking");

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
    CHECK (latest_table_flush (table, false, false, 0, s_receive, &received) == -1, "no failure");
    CHECK (latest_table_dirty (table) == 1, "dirty %zu", latest_table_dirty (table));
    received = (received_t) { .refuse_after = -1 };
    CHECK (latest_table_flush (table, false, false, 0, s_receive, &received) == 1, "not resent");

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
