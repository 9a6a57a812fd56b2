/*  bench_applied.c — waits until the broker has applied a number of events,
    and says when it saw that: the end of every ingest figure.

    bench_applied CONTROL_ENDPOINT TARGET DEADLINE_MS [INTERVAL_MS]
    Asks `stats` every INTERVAL_MS (default 5) until events_applied >=
    TARGET or the epoch ms DEADLINE_MS passed. Prints "done_ms=N applied=N
    polls=N" (done_ms: the epoch ms of the first reply that showed it) and
    exits 0, or prints "applied=N polls=N" and exits 1.

    One process for the whole wait: a `lilac stats` per poll cost about 7 ms
    of CPU to start, a quarter of a core at 20 ms polls, taken from the broker
    and the loader on a two-core machine while the raw baseline paid nothing.
*/
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include "bus.h"
#include "wire.h"

//  events_applied from one stats call, or -1.
static int64_t
s_applied (const char *endpoint, const wire_writer_t *request)
{
    char error [256];
    wire_doc_t *doc = bus_request (endpoint, request->buffer.data, request->buffer.size, 1000,
                                   NULL, error, sizeof error);
    if (!doc)
        return -1;
    const msgpack_object *applied = wire_get (wire_get (wire_doc_root (doc), "stats"),
                                              "events_applied");
    int64_t value = applied && applied->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                  ? (int64_t) applied->via.u64 : -1;
    wire_doc_destroy (&doc);
    return value;
}

int
main (int argc, char *argv [])
{
    if (argc < 4 || argc > 5) {
        fprintf (stderr, "usage: bench_applied CONTROL TARGET DEADLINE_MS [INTERVAL_MS]\n");
        return 2;
    }
    int64_t target = atoll (argv [2]);
    int64_t deadline = atoll (argv [3]);
    int interval = argc == 5 ? atoi (argv [4]) : 5;
    wire_writer_t request;
    wire_writer_init (&request);
    msgpack_pack_map (&request.packer, 2);
    wire_pack_key_int (&request.packer, "v", WIRE_VERSION);
    wire_pack_key_string (&request.packer, "op", "stats");
    int64_t applied = -1;
    long polls = 0;
    int rc = 1;
    while (zclock_time () < deadline) {
        applied = s_applied (argv [1], &request);
        polls++;
        if (applied >= target) {
            printf ("done_ms=%lld applied=%lld polls=%ld\n", (long long) zclock_time (),
                    (long long) applied, polls);
            rc = 0;
            break;
        }
        zclock_sleep (interval);
    }
    if (rc)
        printf ("applied=%lld polls=%ld\n", (long long) applied, polls);
    wire_writer_free (&request);
    return rc;
}
