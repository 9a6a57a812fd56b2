/*  bench_raw_pull.c — the raw libzmq baseline: a PULL socket, opened with
    bus_open as the broker opens its ingest (same receive high-water mark and
    size limit), that receives FRAMES frames and counts them, doing nothing
    else.

    bench_raw_pull ENDPOINT FRAMES [block|drain]
    Binds, prints "ready" (the driver starts the loader then), receives, and
    prints one line: frames=N bytes=N end_ms=EPOCH_MS (when the last frame
    arrived). Bounded: exits 1 if no frame arrives for BENCH_IDLE_MS.

    Two ways to receive, so the baseline is the best a receiver can do:
    block (zmq_msg_recv with a timeout, one call a frame) and drain (the
    broker's own pattern: zmq_poll, then ZMQ_DONTWAIT receives until the
    queue is empty). The driver runs both and keeps the better.

    A third way, decode, is not a baseline of the targets but a report
    beside them: the drain pattern, and every frame decoded by the broker's
    own decoder (wire_batch_decode, into one batch reused as the broker
    reuses its group's), so the receiver reads the bytes the raw ones never
    touch. It says how much of the distance between the raw receiver and
    the broker is decoding, and how much is the rest (lookup, apply).

    Over CURVE when BENCH_CURVE_SERVER_CERT names a secret certificate
    (bench_secure, bench_sub.h): the PULL is then a CURVE server as the
    broker's ingest is, in the same ZAP domain, but with no ZAP handler
    running, so libzmq lets any client key in. ZAP is asked once per
    connection, at the handshake, never per frame: what each frame costs
    (decryption, one box per message) is the same as at the broker.
*/
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_sub.h"
#include "bus.h"
#include "timespec.h"
#include "wire.h"

#define BENCH_IDLE_MS 20000          //  give up after this long without a frame

int
main (int argc, char *argv [])
{
    if (argc != 3 && argc != 4) {
        fprintf (stderr, "usage: bench_raw_pull ENDPOINT FRAMES [block|drain|decode]\n");
        return 2;
    }
    bool decode = argc == 4 && strcmp (argv [3], "decode") == 0;
    bool drain = decode || (argc == 4 && strcmp (argv [3], "drain") == 0);
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    int64_t now = clock_now_ms ();      //  the time specs' "now", per wake-up as a turn's
    long frames = atol (argv [2]);
    if (bench_secure ("bench_raw_pull", true))
        return 1;
    char error [256];
    zsock_t *pull = bus_open (ZMQ_PULL, argv [1], BUS_BIND, error, sizeof error);
    if (!pull) {
        fprintf (stderr, "bench_raw_pull: %s\n", error);
        return 1;
    }
    zsock_set_rcvtimeo (pull, BENCH_IDLE_MS);
    void *socket = zsock_resolve (pull);
    printf ("ready\n");
    fflush (stdout);
    long count = 0;
    long long bytes = 0;
    zmq_msg_t message;
    zmq_msg_init (&message);
    bool empty = drain;                //  drain: poll only once the queue ran dry
    while (count < frames) {
        if (empty) {
            zmq_pollitem_t item = { socket, 0, ZMQ_POLLIN, 0 };
            int ready = zmq_poll (&item, 1, BENCH_IDLE_MS);
            if (ready < 0 && errno == EINTR)
                continue;
            if (ready <= 0) {
                if (ready == 0)
                    fprintf (stderr, "bench_raw_pull: no frame for %d ms\n", BENCH_IDLE_MS);
                else
                    fprintf (stderr, "bench_raw_pull: poll: %s\n", zmq_strerror (errno));
                printf ("frames=%ld bytes=%lld end_ms=0\n", count, bytes);
                break;
            }
            empty = false;
            now = clock_now_ms ();
        }
        int size = zmq_msg_recv (&message, socket, drain ? ZMQ_DONTWAIT : 0);
        if (size < 0) {
            if (drain && errno == EAGAIN) {
                empty = true;
                continue;
            }
            if (errno == EINTR)
                continue;
            fprintf (stderr, "bench_raw_pull: received %ld of %ld frames: %s\n",
                     count, frames, zmq_strerror (errno));
            printf ("frames=%ld bytes=%lld end_ms=0\n", count, bytes);
            break;
        }
        if (decode && wire_batch_decode (zmq_msg_data (&message), (size_t) size, now, &batch,
                                         error, sizeof error)) {
            fprintf (stderr, "bench_raw_pull: frame %ld does not decode: %s\n", count, error);
            printf ("frames=%ld bytes=%lld end_ms=0\n", count, bytes);
            break;
        }
        count++;
        bytes += size;
    }
    zmq_msg_close (&message);
    wire_batch_free (&batch);
    if (count == frames)
        printf ("frames=%ld bytes=%lld end_ms=%lld\n", count, bytes, (long long) zclock_time ());
    zsock_destroy (&pull);
    return count == frames ? 0 : 1;
}
