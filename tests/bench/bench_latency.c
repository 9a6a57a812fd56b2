/*  bench_latency.c — the transition latency figure: how long from PUSHing a
    `raise now` event to its `raised` change arriving at a subscriber, while
    the broker is busy with other traffic (the driver runs a paced
    bench_loader beside it).

    bench_latency INGEST PUBLISH PROBES RATE
    Connects a SUB to PUBLISH (subscribed to "raised.", synced with warm-up
    events first, see bench_sub.h) and a PUSH to INGEST, then sends PROBES
    one-event frames {v, source: "latency", alerts: [{id: "lat-TAG-N", raise:
    "now"}]}, RATE per second on a fixed schedule (TAG: bench_run_tag, new
    on every run, N from 000000). Each id is new, and a new
    alert raised now is announced as `raised` (broker/lifecycle.c: a new
    alert starts cleared). The monotonic time just before each send is
    kept; the latency of probe N is the arrival of its raised change minus
    that. A probe whose change has not arrived BENCH_LOST_MS after its send
    is lost (a change arriving later still counts as lost).

    The change's `at` (the broker's wall clock at the start of the turn that
    read the probe, in whole ms) splits each latency in two, on one
    machine's CLOCK_REALTIME: wait = at - sent (the frame queued before the
    broker's turn began) and turn = arrived - at (the rest of the turn: the
    ingest drained with it, the SQLite commit, the publish, the SUB).

    Output, one line of key=value pairs (latencies in microseconds, the
    split in milliseconds, resolution 1 ms):
      probes=N received=N lost=N p50_us=N p99_us=N max_us=N
      wait_p50_ms=N wait_p99_ms=N turn_p50_ms=N turn_p99_ms=N
    With BENCH_TRACE set, one line per probe goes to stderr: index, send
    time (CLOCK_MONOTONIC, s), latency (us, -1 if none), wait, turn (ms).
    Exit 0 when it measured (even with losses), 1 when it could not.
    Bounded: the schedule plus BENCH_LOST_MS, and alarm(BENCH_DEADLINE_S).
*/
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench_sub.h"

#define BENCH_SOURCE       "latency"    //  the probes' source
#define BENCH_LOST_MS      2000         //  no raised within this: lost
#define BENCH_PROBES_MAX   1000000      //  probes one run may send
#define BENCH_DEADLINE_S   300          //  the whole run, then SIGALRM ends it

//  What is known about one probe.
typedef struct {
    double sent_mono_s;            //  CLOCK_MONOTONIC just before the send
    double sent_wall_ms;           //  CLOCK_REALTIME then, ms
    double latency_us;             //  arrival - send; < 0 while none arrived
    double wait_ms;                //  broker `at` - sent (wall)
    double turn_ms;                //  arrival - broker `at` (wall)
} probe_t;

//  The probe index of a "PREFIX-N" id, or -1 when it is not one of ours.
int
main (int argc, char *argv [])
{
    if (argc != 5) {
        fprintf (stderr, "usage: bench_latency INGEST PUBLISH PROBES RATE\n");
        return 2;
    }
    long probes = atol (argv [3]);
    long rate = atol (argv [4]);
    if (probes < 1 || probes > BENCH_PROBES_MAX || rate < 1 || rate > 100000) {
        fprintf (stderr, "bench_latency: bad arguments\n");
        return 2;
    }
    alarm (BENCH_DEADLINE_S);
    zsock_t *sub, *push;
    probe_t *probe = calloc ((size_t) probes, sizeof *probe);
    if (!probe || bench_probe_open (argv [1], argv [2], false, BENCH_SOURCE, &sub, &push)) {
        fprintf (stderr, "bench_latency: cannot start\n");
        return 1;
    }
    wire_writer_t writer;
    wire_writer_init (&writer);
    char prefix [BENCH_NAME_MAX];
    snprintf (prefix, sizeof prefix, "lat-%s-", bench_run_tag ());
    long sent = 0, received = 0, stray = 0;
    double started = bench_mono_s ();
    double end = started + (double) probes / (double) rate + BENCH_LOST_MS / 1e3;
    //  Bounded by end; the count only guards against a loop that never waits
    for (long pass = 0; pass < 100 * probes + 1000000 && bench_mono_s () < end
         && received < probes; pass++) {
        double due = started + (double) sent / (double) rate;
        if (sent < probes && bench_mono_s () >= due) {
            probe [sent].latency_us = -1;
            probe [sent].sent_wall_ms = bench_wall_ms ();
            probe [sent].sent_mono_s = bench_mono_s ();
            if (bench_send_raises (push, &writer, BENCH_SOURCE, prefix, sent, 1, "now"))
                return 1;
            sent++;
            continue;
        }
        double wake = sent < probes ? due : end;
        bench_raised_t raised;
        int rc = bench_raised_read (sub, bench_timeout_ms (wake, 1000), &raised);
        if (rc == -1) {
            fprintf (stderr, "bench_latency: receive failed: %s\n", zmq_strerror (errno));
            return 1;
        }
        if (rc != 1)
            continue;
        long index = bench_raised_index (&raised, BENCH_SOURCE, prefix, sent);
        if (index < 0 || probe [index].latency_us >= 0) {
            stray++;
            continue;
        }
        probe_t *mine = &probe [index];
        mine->latency_us = (raised.arrived_mono_s - mine->sent_mono_s) * 1e6;
        mine->wait_ms = (double) raised.at - mine->sent_wall_ms;
        mine->turn_ms = raised.arrived_wall_ms - (double) raised.at;
        received++;
    }
    double *latency = calloc ((size_t) probes, sizeof *latency);
    double *wait = calloc ((size_t) probes, sizeof *wait);
    double *turn = calloc ((size_t) probes, sizeof *turn);
    if (!latency || !wait || !turn) {
        fprintf (stderr, "bench_latency: out of memory\n");
        return 1;
    }
    size_t count = 0;
    if (getenv ("BENCH_TRACE"))
        for (long index = 0; index < sent; index++)
            fprintf (stderr, "%ld %.6f %.0f %.1f %.1f\n", index, probe [index].sent_mono_s,
                     probe [index].latency_us, probe [index].wait_ms, probe [index].turn_ms);
    for (long index = 0; index < sent; index++)
        if (probe [index].latency_us >= 0 && probe [index].latency_us <= BENCH_LOST_MS * 1e3) {
            latency [count] = probe [index].latency_us;
            wait [count] = probe [index].wait_ms;
            turn [count] = probe [index].turn_ms;
            count++;
        }
    qsort (latency, count, sizeof *latency, bench_compare_double);
    printf ("probes=%ld received=%zu lost=%ld p50_us=%.0f p99_us=%.0f max_us=%.0f",
            sent, count, probes - (long) count, bench_percentile (latency, count, 0.50),
            bench_percentile (latency, count, 0.99), count ? latency [count - 1] : 0);
    bench_print_percentiles ("wait_", wait, count);
    bench_print_percentiles ("turn_", turn, count);
    printf (" stray=%ld\n", stray);
    free (latency);
    free (wait);
    free (turn);
    free (probe);
    wire_writer_free (&writer);
    zsock_destroy (&push);
    zsock_destroy (&sub);
    return 0;
}
