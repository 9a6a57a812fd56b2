/*  bench_timers.c — the timer precision figure: with ALERTS heartbeats
    pending at once, their deadlines spread over a window, how late does
    each `raised` change reach a subscriber after its deadline?

    bench_timers INGEST PUBLISH ALERTS LEAD_MS SPREAD_MS
    Sends one heartbeat for each of the ALERTS ids "bench-%07d" (source
    "bench": the ids bench_loader uses, so against a broker that holds them
    already, pending, these are refreshes that publish nothing) in frames
    of BENCH_TIMER_BATCH events. Alert k gets raise "+Dms" with D = LEAD_MS
    + SPREAD_MS * p(k) / ALERTS, where p is a permutation of 0..ALERTS-1
    (multiplication by a number prime to ALERTS), so deadlines fall
    uniformly over a SPREAD_MS window that starts LEAD_MS after the load and
    the due heap does not see them in id order. A relative raise is
    resolved against the broker's receive time, so the exact deadline is
    the raise_at of each raised change, which is what lateness is measured
    from: lateness = arrival (CLOCK_REALTIME, this process) - raise_at (the
    broker's CLOCK_REALTIME; one machine, one clock). The change's `at`
    splits it: fire = at - raise_at (the broker's timer, whole ms) and
    deliver = arrival - at (commit, publish, the SUB).

    The SUB has no receive high-water mark (0), so any loss is the
    broker's: its PUB drops past BUS_SEND_HWM queued messages per
    subscriber. Changes are counted as they come; the run ends when all
    ALERTS arrived or BENCH_TAIL_MS after the last deadline could have
    passed. Output, one line (times in ms):
      expected=N received=N duplicates=N load_s=S first_deadline_s=S
      p50_ms=N p99_ms=N max_ms=N fire_p50_ms=N fire_p99_ms=N
      deliver_p50_ms=N deliver_p99_ms=N raise_rate=N
    first_deadline_s: from the end of the load to the first deadline seen
    (negative: timers fired while the load was still being applied).
    raise_rate: changes per second between the first and the last arrival.
    Exit 0 when it measured (even with losses), 1 when it could not.
    Bounded: LEAD_MS + SPREAD_MS + BENCH_TAIL_MS after the load, and
    alarm(BENCH_DEADLINE_S).
*/
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench_sub.h"

#define BENCH_SOURCE       "bench"      //  bench_loader's source
#define BENCH_TIMER_BATCH  1000         //  heartbeats per frame
#define BENCH_TAIL_MS      10000        //  wait this long past the last deadline
#define BENCH_ALERTS_MAX   10000000     //  alerts one run may schedule
#define BENCH_DEADLINE_S   300          //  the whole run, then SIGALRM ends it

//  A multiplier prime to count, so k -> k * m % count is a permutation.
static long
s_coprime (long count)
{
    static const long candidates [] = { 1000003, 999983, 7919, 104729, 1 };
    for (size_t index = 0; index < sizeof candidates / sizeof candidates [0]; index++) {
        long a = candidates [index] % count, b = count;
        while (b) {
            long rest = a % b;
            a = b;
            b = rest;
        }
        if (a == 1)
            return candidates [index] % count;
    }
    return 1;
}

//  Packs and sends the heartbeats; 0 or -1.
static int
s_load (zsock_t *push, long alerts, long lead_ms, long spread_ms)
{
    wire_writer_t writer;
    wire_writer_init (&writer);
    long multiplier = s_coprime (alerts);
    void *handle = zsock_resolve (push);
    int rc = 0;
    for (long first = 0; rc == 0 && first < alerts; first += BENCH_TIMER_BATCH) {
        long count = alerts - first < BENCH_TIMER_BATCH ? alerts - first : BENCH_TIMER_BATCH;
        msgpack_packer *packer = bench_pack_head (&writer, BENCH_SOURCE, count);
        for (long index = first; index < first + count; index++) {
            char id [32], raise [32];
            long slot = index * multiplier % alerts;
            snprintf (id, sizeof id, "bench-%07ld", index);
            snprintf (raise, sizeof raise, "+%ldms",
                      lead_ms + spread_ms * slot / alerts);
            msgpack_pack_map (packer, 2);
            wire_pack_key_string (packer, "id", id);
            wire_pack_key_string (packer, "raise", raise);
        }
        rc = -1;
        for (int attempt = 0; rc && attempt < 1000; attempt++)
            if (zmq_send (handle, writer.buffer.data, writer.buffer.size, 0) >= 0)
                rc = 0;
            else
            if (errno != EINTR)
                break;
        if (rc)
            fprintf (stderr, "bench_timers: send failed: %s\n", zmq_strerror (errno));
    }
    wire_writer_free (&writer);
    return rc;
}

int
main (int argc, char *argv [])
{
    if (argc != 6) {
        fprintf (stderr, "usage: bench_timers INGEST PUBLISH ALERTS LEAD_MS SPREAD_MS\n");
        return 2;
    }
    long alerts = atol (argv [3]);
    long lead_ms = atol (argv [4]);
    long spread_ms = atol (argv [5]);
    if (alerts < 1 || alerts > BENCH_ALERTS_MAX || lead_ms < 0 || spread_ms < 1
    ||  lead_ms + spread_ms + BENCH_TAIL_MS > (BENCH_DEADLINE_S - 60) * 1000L) {
        fprintf (stderr, "bench_timers: bad arguments\n");
        return 2;
    }
    alarm (BENCH_DEADLINE_S);
    zsock_t *sub, *push;
    double *lateness = calloc ((size_t) alerts, sizeof *lateness);
    double *fire = calloc ((size_t) alerts, sizeof *fire);
    double *deliver = calloc ((size_t) alerts, sizeof *deliver);
    uint8_t *seen = calloc ((size_t) alerts, 1);
    if (!lateness || !fire || !deliver || !seen
    ||  bench_probe_open (argv [1], argv [2], true, "timers", &sub, &push)) {
        fprintf (stderr, "bench_timers: cannot start\n");
        return 1;
    }
    double load_started = bench_mono_s ();
    if (s_load (push, alerts, lead_ms, spread_ms))
        return 1;
    double loaded = bench_mono_s ();
    double loaded_wall_ms = bench_wall_ms ();
    double end = loaded + (lead_ms + spread_ms + BENCH_TAIL_MS) / 1e3;
    size_t received = 0;
    long duplicates = 0, stray = 0;
    double first_arrival = 0, last_arrival = 0;
    int64_t first_deadline = 0;
    //  Bounded by end; the count only guards against a loop that never waits
    for (long pass = 0; pass < 4 * alerts + 1000000 && received < (size_t) alerts
         && bench_mono_s () < end; pass++) {
        bench_raised_t raised;
        int rc = bench_raised_read (sub, bench_timeout_ms (end, 1000), &raised);
        if (rc == -1) {
            fprintf (stderr, "bench_timers: receive failed: %s\n", zmq_strerror (errno));
            return 1;
        }
        if (rc != 1)
            continue;
        long index = bench_raised_index (&raised, BENCH_SOURCE, "bench-", alerts);
        if (index < 0 || raised.raise_at == 0) {
            stray++;
            continue;
        }
        if (seen [index]) {
            duplicates++;
            continue;
        }
        seen [index] = 1;
        lateness [received] = raised.arrived_wall_ms - (double) raised.raise_at;
        fire [received] = (double) (raised.at - raised.raise_at);
        deliver [received] = raised.arrived_wall_ms - (double) raised.at;
        if (!first_deadline || raised.raise_at < first_deadline)
            first_deadline = raised.raise_at;
        if (!received)
            first_arrival = raised.arrived_mono_s;
        last_arrival = raised.arrived_mono_s;
        received++;
    }
    qsort (lateness, received, sizeof *lateness, bench_compare_double);
    printf ("expected=%ld received=%zu duplicates=%ld load_s=%.3f first_deadline_s=%.3f "
            "p50_ms=%.1f p99_ms=%.1f max_ms=%.1f", alerts, received, duplicates,
            loaded - load_started, first_deadline ? (first_deadline - loaded_wall_ms) / 1e3 : 0,
            bench_percentile (lateness, received, 0.50), bench_percentile (lateness, received, 0.99),
            received ? lateness [received - 1] : 0);
    bench_print_percentiles ("fire_", fire, received);
    bench_print_percentiles ("deliver_", deliver, received);
    printf (" raise_rate=%.0f stray=%ld\n", last_arrival > first_arrival
            ? (double) (received - 1) / (last_arrival - first_arrival) : 0, stray);
    free (lateness);
    free (fire);
    free (deliver);
    free (seen);
    zsock_destroy (&push);
    zsock_destroy (&sub);
    return 0;
}
