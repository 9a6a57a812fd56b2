/*  bench_ping.c — waits until the broker answers the control op `ping`, and
    says how long that took: the start-up figure.

    bench_ping CONTROL_ENDPOINT START_MS TIMEOUT_MS
    Calls ping every 10 ms (each call waits at most 200 ms) until one answers
    ok or TIMEOUT_MS passed. Prints "ready_ms=N" (from START_MS, an epoch ms
    taken by the driver when it spawned the broker) and exits 0, or exits 1.
    A CURVE client when the environment says so (bench_secure, bench_sub.h).
*/
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include "bench_sub.h"
#include "bus.h"
#include "wire.h"

int
main (int argc, char *argv [])
{
    if (argc != 4) {
        fprintf (stderr, "usage: bench_ping CONTROL START_MS TIMEOUT_MS\n");
        return 2;
    }
    if (bench_secure ("bench_ping", false))
        return 1;
    int64_t start_ms = atoll (argv [2]);
    int64_t deadline = start_ms + atoll (argv [3]);
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_pack_map (&writer.packer, 2);
    wire_pack_key_int (&writer.packer, "v", WIRE_VERSION);
    wire_pack_key_string (&writer.packer, "op", "ping");
    while (zclock_time () < deadline) {
        char error [256];
        zframe_t *reply = bus_call (argv [1], writer.buffer.data, writer.buffer.size, 200,
                                    error, sizeof error);
        if (reply) {
            int64_t ready = zclock_time ();
            wire_doc_t *doc = wire_doc_new (zframe_data (reply), zframe_size (reply),
                                            error, sizeof error);
            const msgpack_object *ok = doc ? wire_get (wire_doc_root (doc), "ok") : NULL;
            bool answered = ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean;
            wire_doc_destroy (&doc);
            zframe_destroy (&reply);
            if (answered) {
                printf ("ready_ms=%lld\n", (long long) (ready - start_ms));
                wire_writer_free (&writer);
                return 0;
            }
        }
        zclock_sleep (10);
    }
    fprintf (stderr, "bench_ping: no ping answer within %s ms\n", argv [3]);
    wire_writer_free (&writer);
    return 1;
}
