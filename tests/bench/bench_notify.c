/*  bench_notify.c — the notifier path figure: how many `raised` changes per
    second bin/lilac-notify-exec turns into runs of its command.

    bench_notify INGEST PUBLISH CURSOR_FILE COUNT
    The driver starts lilac-notify-exec first, with a rule that runs
    /bin/true on the raised changes of source "notify", and waits for its
    cursor file to appear (the notifier writes it once it has synced with
    the broker). This program then subscribes to the raised changes itself
    (synced with warm-up events of another source, which the notifier's
    rule leaves alone), sends COUNT raise-now events with fresh ids
    "run-TAG-N" in frames of BENCH_NOTIFY_BATCH, and notes when the first
    of their raised changes arrives and the highest seq among them.

    The notifier delivers changes one at a time, in seq order, and its
    cursor file ("SEQ DB N FIRST\n", replaced by rename, proto/change_feed.c) moves
    past a change only once every action for it is done: its command
    exited, or was given up. So the cursor file reaching the last seq means
    every run is over; it is polled every BENCH_CURSOR_POLL_MS until then,
    or until BENCH_RUNS_DEADLINE_S. Whether each run succeeded is in the
    notifier's log ("delivered" per run): the driver counts those lines.

    Output, one line:
      count=N raised=N done=N seconds=S rate=N
    raised: changes of ours this SUB saw; done: how many of them the cursor
    has passed; seconds: from the first raised change's arrival to the
    cursor passing the last (or to the deadline); rate = done / seconds.
    Exit 0 when it measured (even short of COUNT), 1 when it could not.
    Bounded: BENCH_RAISED_MS for the changes, BENCH_RUNS_DEADLINE_S for the
    runs, and alarm(BENCH_DEADLINE_S).
*/
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench_sub.h"

#define BENCH_SOURCE          "notify"   //  the source the notifier's rule matches
#define BENCH_NOTIFY_BATCH    50         //  events per frame
#define BENCH_RAISED_MS       20000      //  all raised changes arrive within this
#define BENCH_CURSOR_POLL_MS  2          //  how often the cursor file is read
#define BENCH_RUNS_DEADLINE_S 120        //  the runs must be over by then
#define BENCH_COUNT_MAX       1000000    //  events one run may send
#define BENCH_DEADLINE_S      300        //  the whole run, then SIGALRM ends it

//  Reads the cursor file's seq into *seq. 0, or -1 when it cannot be read
//  (missing, or caught between a write and a rename: try again).
static int
s_cursor_read (const char *path, uint64_t *seq)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    char text [32] = "";
    size_t size = fread (text, 1, sizeof text - 1, file);
    if (fclose (file) != 0 || size == 0)
        return -1;
    text [size] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno || end == text || (*end && *end != '\n' && *end != ' '))
        return -1;                 //  "SEQ\n", or "SEQ DB N FIRST\n" (the epoch after it)
    *seq = value;
    return 0;
}

static int
s_compare_seq (const void *left, const void *right)
{
    uint64_t a = *(const uint64_t *) left, b = *(const uint64_t *) right;
    return a < b ? -1 : a > b;
}

int
main (int argc, char *argv [])
{
    if (argc != 5) {
        fprintf (stderr, "usage: bench_notify INGEST PUBLISH CURSOR_FILE COUNT\n");
        return 2;
    }
    const char *cursor_file = argv [3];
    long count = atol (argv [4]);
    if (count < 1 || count > BENCH_COUNT_MAX) {
        fprintf (stderr, "bench_notify: bad arguments\n");
        return 2;
    }
    alarm (BENCH_DEADLINE_S);
    zsock_t *sub, *push;
    uint64_t *seqs = calloc ((size_t) count, sizeof *seqs);
    if (!seqs || bench_probe_open (argv [1], argv [2], true, "notify-warm", &sub, &push)) {
        fprintf (stderr, "bench_notify: cannot start\n");
        return 1;
    }
    char prefix [BENCH_NAME_MAX];
    snprintf (prefix, sizeof prefix, "run-%s-", bench_run_tag ());
    wire_writer_t writer;
    wire_writer_init (&writer);
    for (long first = 0; first < count; first += BENCH_NOTIFY_BATCH)
        if (bench_send_raises (push, &writer, BENCH_SOURCE, prefix, first,
                               count - first < BENCH_NOTIFY_BATCH ? count - first
                                                                  : BENCH_NOTIFY_BATCH, "now"))
            return 1;
    wire_writer_free (&writer);

    //  Our raised changes: when the first came, and their seqs
    long raised_count = 0;
    double first_arrival = 0;
    double raised_end = bench_mono_s () + BENCH_RAISED_MS / 1e3;
    for (long pass = 0; pass < 100 * count + 100000 && raised_count < count
         && bench_mono_s () < raised_end; pass++) {
        bench_raised_t raised;
        int rc = bench_raised_read (sub, bench_timeout_ms (raised_end, 1000), &raised);
        if (rc == -1) {
            fprintf (stderr, "bench_notify: receive failed: %s\n", zmq_strerror (errno));
            return 1;
        }
        if (rc != 1 || bench_raised_index (&raised, BENCH_SOURCE, prefix, count) < 0)
            continue;
        if (!raised_count)
            first_arrival = raised.arrived_mono_s;
        seqs [raised_count++] = raised.seq;
    }
    if (raised_count == 0) {
        fprintf (stderr, "bench_notify: no raised change of ours within %d ms\n", BENCH_RAISED_MS);
        return 1;
    }
    qsort (seqs, (size_t) raised_count, sizeof *seqs, s_compare_seq);
    uint64_t last_seq = seqs [raised_count - 1];

    //  The runs: poll the cursor until it passes the last seq
    double runs_end = first_arrival + BENCH_RUNS_DEADLINE_S;
    uint64_t cursor = 0;
    double finished = 0;
    for (long poll = 0; poll < BENCH_RUNS_DEADLINE_S * 1000L / BENCH_CURSOR_POLL_MS + 1; poll++) {
        uint64_t seq;
        if (s_cursor_read (cursor_file, &seq) == 0)
            cursor = seq;
        double now = bench_mono_s ();
        if (cursor >= last_seq || now >= runs_end) {
            finished = now;
            break;
        }
        zclock_sleep (BENCH_CURSOR_POLL_MS);
    }
    if (!finished)
        finished = bench_mono_s ();
    long done = 0;
    while (done < raised_count && seqs [done] <= cursor)
        done++;
    double seconds = finished - first_arrival;
    printf ("count=%ld raised=%ld done=%ld seconds=%.3f rate=%.0f\n", count, raised_count, done,
            seconds, seconds > 0 ? (double) done / seconds : 0);
    free (seqs);
    zsock_destroy (&push);
    zsock_destroy (&sub);
    return 0;
}
