/*  bench_applied.c — waits until the broker has applied a number of events,
    and says when it saw that: the end of every ingest figure.

    bench_applied CONTROL_ENDPOINT TARGET DEADLINE_MS [INTERVAL_MS]
    Asks `stats` every INTERVAL_MS (default 5) until events_applied (or
    the counter BENCH_COUNTER names: `published`, for figures whose events
    count only once committed) >= TARGET or the epoch ms DEADLINE_MS passed. Prints "done_ms=N applied=N
    polls=N" (done_ms: the epoch ms of the first reply that showed it) and
    exits 0, or prints "applied=N polls=N" and exits 1.

    One process and one connection for the whole wait (the typed client,
    ctl.h): a `lilac stats` per poll cost about 7 ms of CPU to start, a
    quarter of a core at 20 ms polls, taken from the broker and the loader
    on a two-core machine while the raw baseline paid nothing; and a fresh
    connection per poll would cost the broker a CURVE handshake, with its
    ZAP request, every 5 ms in the CURVE figures. A CURVE client when the
    environment says so (bench_secure, bench_sub.h).
*/
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include "bench_sub.h"
#include "ctl.h"
#include "wire.h"

#define BENCH_STATS_TIMEOUT_MS 1000     //  one stats call waits at most this long

//  The counter (events_applied, or BENCH_COUNTER) from one stats call, or -1.
static int64_t
s_applied (ctl_t *ctl)
{
    char error [256];
    wire_doc_t *doc = ctl_stats (ctl, NULL, error, sizeof error);
    if (!doc)
        return -1;
    const char *counter = getenv ("BENCH_COUNTER");
    const msgpack_object *applied = wire_get (wire_get (wire_doc_root (doc), "stats"),
                                              counter && *counter ? counter : "events_applied");
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
    if (bench_secure ("bench_applied", false))
        return 1;
    char error [256];
    ctl_t *ctl = ctl_new (argv [1], BENCH_STATS_TIMEOUT_MS, false, error, sizeof error);
    if (!ctl) {
        fprintf (stderr, "bench_applied: %s\n", error);
        return 1;
    }
    int64_t applied = -1;
    long polls = 0;
    int rc = 1;
    while (zclock_time () < deadline) {
        applied = s_applied (ctl);
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
    ctl_destroy (&ctl);
    return rc;
}
