/*  bench_loader.c — PUSHes a fixed number of ingest frames to an endpoint as
    fast as one PUSH socket can (or at a set pace), and says what it sent and
    how long it took.

    bench_loader ENDPOINT MODE FRAMES IDS [FIRST_ID]
      MODE refresh  one alert per frame, {id, raise: "+5m"}, ids round-robin
                    over IDS distinct ids (a heartbeat refresh once the id
                    exists and is pending)
           batch    50 alerts per frame, the same events, ids round-robin
           content  one alert per frame, {id, raise: "+5m", subject: "sN"}:
                    the subject changes on every event, so each must reach
                    SQLite
    Ids are "bench-%07d" from FIRST_ID (default 0), source "bench".

    Frames of refresh and batch modes are packed before the clock starts (so
    the loader measures sending, not packing); content frames are packed on
    the fly into one reused buffer. The socket is bus_open's, as every
    lilac client's is (send high-water mark BUS_SEND_HWM): a send blocks
    while the peer lags, so nothing is dropped, and close lingers (bounded,
    BENCH_LINGER_MS) until every frame is handed to the kernel. With
    BENCH_CURVE_CLIENT_CERT and BENCH_CURVE_SERVER_KEY in the environment
    (bench_secure, bench_sub.h) it is a CURVE client with that certificate:
    the CURVE figures. Output, one line of key=value pairs:
      frames=N events=N start_ms=EPOCH_MS send_s=S total_s=S
    start_ms is taken just before the first send (the driver measures the
    receiver against it). Bounded: alarm(BENCH_DEADLINE_S) ends a stuck run.

    Pacing: with BENCH_RATE=N in the environment (frames per second), the
    loader sends on a schedule instead of as fast as it can — frame k is due
    k/N s after the start, and it sleeps (CLOCK_MONOTONIC, absolute) only
    when it is more than BENCH_PACE_AHEAD_US ahead of that schedule, so it
    sends in small bursts; behind schedule (a send blocked) it sends without
    sleeping until it is back on it. That is the steady background load of
    the latency figure. Unset
    or 0, the loader is unpaced, as before. A paced run adds rate=N (frames
    per second achieved over send_s) to its output line.
*/
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench_sub.h"
#include "bus.h"
#include "timespec.h"
#include "wire.h"

#define BENCH_BATCH        50       //  alerts per frame in batch mode
#define BENCH_LINGER_MS    60000    //  close waits this long for unsent frames
#define BENCH_DEADLINE_S   240      //  the whole run, then SIGALRM ends it
#define BENCH_PACE_AHEAD_US 200     //  a paced loader runs at most this far ahead
#define BENCH_RATE_MAX     10000000 //  frames per second a pace may ask for

//  The pace from BENCH_RATE (frames/s), 0 when unset or 0; -1 if it is not a
//  number in 0..BENCH_RATE_MAX.
static long
s_rate_from_env (void)
{
    const char *text = getenv ("BENCH_RATE");
    if (!text || !*text)
        return 0;
    char *end = NULL;
    errno = 0;
    long rate = strtol (text, &end, 10);
    if (errno || *end || rate < 0 || rate > BENCH_RATE_MAX)
        return -1;
    return rate;
}

//  Sleeps until frame is due on a schedule of rate frames/s from started
//  (monotonic seconds), unless it is due within BENCH_PACE_AHEAD_US.
static void
s_pace (double started, long frame, long rate)
{
    double due = started + (double) frame / (double) rate;
    if (due - bench_mono_s () <= BENCH_PACE_AHEAD_US / 1e6)
        return;
    struct timespec wake = { .tv_sec = (time_t) due };
    wake.tv_nsec = (long) ((due - (double) wake.tv_sec) * 1e9);
    //  EINTR or an early return only means we check again at the next frame
    int rc = clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL);
    (void) rc;
}

int
main (int argc, char *argv [])
{
    if (argc < 5 || argc > 6) {
        fprintf (stderr, "usage: bench_loader ENDPOINT refresh|batch|content FRAMES IDS [FIRST_ID]\n");
        return 2;
    }
    const char *endpoint = argv [1];
    const char *mode = argv [2];
    long frames = atol (argv [3]);
    long ids = atol (argv [4]);
    long id_base = argc == 6 ? atol (argv [5]) : 0;
    bool batched = strcmp (mode, "batch") == 0;
    bool content = strcmp (mode, "content") == 0;
    if ((!batched && !content && strcmp (mode, "refresh") != 0) || frames < 1 || ids < 1) {
        fprintf (stderr, "bench_loader: bad arguments\n");
        return 2;
    }
    long rate = s_rate_from_env ();
    if (rate < 0) {
        fprintf (stderr, "bench_loader: BENCH_RATE must be frames per second, 0..%d\n",
                 BENCH_RATE_MAX);
        return 2;
    }
    alarm (BENCH_DEADLINE_S);
    long per_frame = batched ? BENCH_BATCH : 1;

    //  Distinct frames: a frame's content depends on its first id only.
    long distinct = content ? 0 : (batched && ids % BENCH_BATCH ? ids * BENCH_BATCH : ids);
    if (distinct > frames * per_frame)
        distinct = frames * per_frame;
    zframe_t **packed = NULL;
    long packed_count = 0;
    wire_writer_t writer;
    wire_writer_init (&writer);
    if (!content) {
        packed_count = batched ? (distinct + BENCH_BATCH - 1) / BENCH_BATCH : distinct;
        if (packed_count > frames)
            packed_count = frames;
        packed = calloc ((size_t) packed_count, sizeof *packed);
        assert (packed);
        for (long index = 0; index < packed_count; index++) {
            bench_pack_heartbeats (&writer, index * per_frame, per_frame, ids, id_base, NULL);
            packed [index] = zframe_new (writer.buffer.data, writer.buffer.size);
            assert (packed [index]);
        }
    }
    if (bench_secure ("bench_loader", false))
        return 1;
    char error [256];
    zsock_t *push = bus_open (ZMQ_PUSH, endpoint, BUS_CONNECT, error, sizeof error);
    if (!push) {
        fprintf (stderr, "bench_loader: %s\n", error);
        return 1;
    }
    zsock_set_linger (push, BENCH_LINGER_MS);
    void *socket = zsock_resolve (push);
    //  Let the connection complete, so start_ms does not include the
    //  handshake (a CURVE one included: a few ms on loopback).
    zclock_sleep (100);

    int64_t start_ms = clock_now_ms ();
    double started = bench_mono_s ();
    for (long frame = 0; frame < frames; frame++) {
        if (rate)
            s_pace (started, frame, rate);
        const void *data;
        size_t size;
        if (content) {
            char subject [32];
            snprintf (subject, sizeof subject, "s%ld", frame);
            bench_pack_heartbeats (&writer, frame, 1, ids, id_base, subject);
            data = writer.buffer.data;
            size = writer.buffer.size;
        }
        else {
            zframe_t *source = packed [frame % packed_count];
            data = zframe_data (source);
            size = zframe_size (source);
        }
        while (zmq_send (socket, data, size, 0) < 0) {
            if (errno != EINTR) {
                fprintf (stderr, "bench_loader: send: %s\n", zmq_strerror (errno));
                return 1;
            }
        }
    }
    double sent = bench_mono_s ();
    zsock_destroy (&push);
    double closed = bench_mono_s ();
    printf ("frames=%ld events=%ld start_ms=%lld send_s=%.3f total_s=%.3f",
            frames, frames * per_frame, (long long) start_ms, sent - started, closed - started);
    if (rate)
        printf (" rate=%.0f", (double) frames / (sent - started));
    printf ("\n");
    for (long index = 0; index < packed_count; index++)
        zframe_destroy (&packed [index]);
    free (packed);
    wire_writer_free (&writer);
    return 0;
}
