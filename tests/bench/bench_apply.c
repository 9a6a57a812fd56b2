/*  bench_apply.c — what the broker's thread spends on an ingest event
    itself: decoding its frame and applying it to the alert table, in one
    process, with no socket and no loader beside it.

    bench_apply DB_PATH EVENTS_PER_FRAME EVENTS
    Opens a core (core.h, the broker's own, on a fresh SQLite file at
    DB_PATH) with ALERTS alerts, packs heartbeat frames the way bench_loader
    does ({id, raise: "+5m"}, ids round-robin, EVENTS_PER_FRAME to a frame),
    then accepts and applies EVENTS events in the loop's groups (ingest.c:
    BROKER_GROUP_FRAMES frames or BROKER_GROUP_EVENTS events, whichever comes
    first), and prints "ns_per_event=N" over that part alone. The frames are
    read from memory, where the broker reads them from libzmq, and the
    table's rows are not written meanwhile (core_work runs before and after
    the timed part only), so this is the decode and apply path alone: the
    figure that moves with the code and not with the machine's other load,
    which the socket figures share two cores with. One-event frames are
    ALERTS distinct frames, as the loader's are, so each one's bytes are a
    cache miss here too.
*/
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../../broker/core.h"
#include "bench_sub.h"
#include "config_report.h"
#include "log.h"
#include "mem.h"
#include "timespec.h"
#include "wire.h"

#define ALERTS              100000  //  distinct alerts, as the ingest figures

static int
s_publish_nowhere (void *arg, const char *topic, const void *body, size_t size)
{
    (void) arg, (void) topic, (void) body, (void) size;
    return 0;
}

//  A frame of count heartbeats from id first on, as bench_loader packs it.
static zframe_t *
s_pack_frame (wire_writer_t *writer, long first, long count)
{
    bench_pack_heartbeats (writer, first, count, ALERTS, 0, NULL);
    zframe_t *frame = zframe_new (writer->buffer.data, writer->buffer.size);
    if (!frame) {
        fprintf (stderr, "bench_apply: out of memory\n");
        exit (1);
    }
    return frame;
}

static core_t *
s_core (const char *path)
{
    broker_config_t config;
    config_report_t *report = config_report_new ();
    int rc = broker_config_load (&config, NULL, report);
    config_report_destroy (&report);
    if (rc) {
        fprintf (stderr, "bench_apply: the default config does not load\n");
        exit (1);
    }
    mem_free (config.database);
    config.database = mem_strdup (path);
    char error [512] = "";
    core_t *core = core_new (&config, false, s_publish_nowhere, NULL, error, sizeof error);
    broker_config_free (&config);
    if (!core) {
        fprintf (stderr, "bench_apply: %s\n", error);
        exit (1);
    }
    return core;
}

//  Accepts and applies at least events events from frames (round-robin),
//  in the loop's groups. Returns how many it applied.
static long
s_apply (core_t *core, zframe_t **frames, long frame_count, long events, int64_t now)
{
    static ingest_frame_t group [BROKER_GROUP_FRAMES];
    core_caller_t sender = { NULL, NULL, NULL };
    long applied = 0, next = 0;
    while (applied < events) {
        size_t count = 0, group_events = 0;
        while (count < BROKER_GROUP_FRAMES && group_events < BROKER_GROUP_EVENTS) {
            zframe_t *frame = frames [next++ % frame_count];
            if (!core_accept_frame (core, &group [count], zframe_data (frame),
                                    zframe_size (frame), &sender, now)) {
                fprintf (stderr, "bench_apply: a frame was refused\n");
                exit (1);
            }
            group_events += group [count++].batch.event_count;
        }
        core_apply_frames (core, group, count, now);
        applied += (long) group_events;
    }
    return applied;
}

int
main (int argc, char *argv [])
{
    if (argc != 4 || atol (argv [2]) < 1 || atol (argv [2]) > 1000 || atol (argv [3]) < 1) {
        fprintf (stderr, "usage: bench_apply DB_PATH EVENTS_PER_FRAME(1..1000) EVENTS\n");
        return 2;
    }
    long per_frame = atol (argv [2]), events = atol (argv [3]);
    log_init ("bench_apply", false);
    core_t *core = s_core (argv [1]);
    long frame_count = (ALERTS + per_frame - 1) / per_frame;
    zframe_t **frames = mem_alloc ((size_t) frame_count * sizeof *frames);
    wire_writer_t writer;
    wire_writer_init (&writer);
    for (long index = 0; index < frame_count; index++)
        frames [index] = s_pack_frame (&writer, index * per_frame, per_frame);
    wire_writer_free (&writer);

    //  The alerts made, written, and refreshed once before the clock starts
    int64_t now = clock_now_ms ();
    core_begin_turn (core, zclock_mono ());
    s_apply (core, frames, frame_count, ALERTS, now);
    core_work (core, now);
    s_apply (core, frames, frame_count, ALERTS, now);
    double started = bench_mono_s ();
    long applied = s_apply (core, frames, frame_count, events, now);
    double seconds = bench_mono_s () - started;
    core_work (core, now);
    printf ("ns_per_event=%.1f events=%ld\n", seconds * 1e9 / (double) applied, applied);

    for (long index = 0; index < frame_count; index++)
        zframe_destroy (&frames [index]);
    mem_free (frames);
    core_destroy (&core);
    return 0;
}
