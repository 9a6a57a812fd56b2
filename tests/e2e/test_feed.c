/*  test_feed.c — the subscriber library (change_feed) against a real broker.

    The feed runs in this process, on its own loop (s_turn: zmq_poll on the
    feed's two sockets with change_feed_next_wakeup, then change_feed_work), and a
    consumer records every delivery. The broker is the real one, with
    reminders off the clock (reminder_interval 1h) so the only changes are
    the ones a case makes. Cases:
    - a PUB gap forced by not reading while the broker publishes 60,000
      changes: every seq delivered exactly once, in order, and the feed
      counted a gap. (What bounds a lagging subscriber is the broker's PUB
      send HWM, BUS_SEND_HWM = 4,096 messages, plus the SUB's own
      BUS_RECEIVE_HWM and the kernel's buffers between them.)
    - the cursor file: a new feed resumes exactly after the saved cursor;
    - RETRY holds a change and everything after it until retry_at;
    - a broker restart: the changes made after it arrive, none skipped;
    - at least once: the cursor file never runs ahead of a DONE, and a
      change in flight when the feed goes away is delivered again first;
    - the broker frozen (SIGSTOP): change_feed_work never waits (each turn
      is timed) while the feed's requests go unanswered and are asked
      again; after SIGCONT it catches up, nothing missed;
    - snapshot pages 2,500 alerts, each once, in the owner's loop, and
      starts the feed there;
    - a new database (deleted while the broker was stopped): its seqs start
      again at 1, far below the feed's cursor; the feed sees the new epoch,
      rewinds, and delivers them all.
    Every wait is an observation with a deadline; every loop is bounded.
*/
#include "../check.h"
#include "../harness/harness.h"
#include "bus.h"
#include "change_feed.h"
#include "timespec.h"

#define S_BURST_FRAMES    6        //  ingest frames in the burst (> BUS_SEND_HWM + BUS_RECEIVE_HWM changes)
#define S_BURST_SIZE      10000    //  alerts per frame (WIRE_MAX_BATCH)
#define S_SNAPSHOT_SIZE   2500     //  alerts in the snapshot case
#define S_CALL_TIMEOUT_MS 2000     //  the feed's control deadline
#define S_MAX_ATTEMPTS    200000   //  deliveries one consumer records at most

static testbed_t *s_bed;

//  What the consumer saw: every attempt, in order.
typedef struct {
    uint64_t *seqs;                //  seq of each attempt
    bool *done;                    //  did it return DONE?
    int64_t *at;                   //  when (mono ms)
    size_t count;                  //  attempts recorded
    uint64_t retry_seq;            //  return RETRY the first time this seq comes (0: never)
    int64_t retry_delay_ms;        //  ... with retry_at this far ahead
    int64_t retry_at;              //  the retry_at it returned
    bool retried;                  //  it did return RETRY once
    bool in_flight_stop;           //  keep returning RETRY for retry_seq (a "kill")
    const char *cursor_file;       //  check the file never runs ahead of DONE
    uint64_t last_done;            //  seq of the last DONE (or the start)
    int cursor_ahead;              //  times the file was ahead of last_done
} s_consumer_t;

static void
s_consumer_init (s_consumer_t *self)
{
    memset (self, 0, sizeof *self);
    self->seqs = calloc (S_MAX_ATTEMPTS, sizeof *self->seqs);
    self->done = calloc (S_MAX_ATTEMPTS, sizeof *self->done);
    self->at = calloc (S_MAX_ATTEMPTS, sizeof *self->at);
    assert (self->seqs && self->done && self->at);
}

static void
s_consumer_free (s_consumer_t *self)
{
    free (self->seqs);
    free (self->done);
    free (self->at);
    memset (self, 0, sizeof *self);
}

//  The cursor file's seq, or 0 when absent or unreadable.
static uint64_t
s_file_cursor (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    unsigned long long seq = 0;
    if (fscanf (file, "%llu", &seq) != 1)
        seq = 0;
    fclose (file);
    return (uint64_t) seq;
}

static feed_result_t
s_deliver (const alert_change_t *change, void *arg, int64_t *retry_at)
{
    s_consumer_t *self = arg;
    bool retry = change->seq == self->retry_seq && (!self->retried || self->in_flight_stop);
    if (self->count < S_MAX_ATTEMPTS) {
        self->seqs [self->count] = change->seq;
        self->done [self->count] = !retry;
        self->at [self->count] = zclock_mono ();
        self->count++;
    }
    if (self->cursor_file && s_file_cursor (self->cursor_file) > self->last_done)
        self->cursor_ahead++;
    if (retry) {
        self->retried = true;
        self->retry_at = zclock_mono () + self->retry_delay_ms;
        *retry_at = self->retry_at;
        return FEED_RETRY;
    }
    self->last_done = change->seq;
    return FEED_DONE;
}

//  Checks the DONE attempts: consecutive seqs, the first being first_seq.
//  Returns how many there were, or -1 (reported) on a break.
static long
s_done_run (s_consumer_t *self, uint64_t first_seq)
{
    uint64_t expected = first_seq;
    long done = 0;
    for (size_t index = 0; index < self->count; index++) {
        if (!self->done [index])
            continue;
        if (self->seqs [index] != expected) {
            harness_note ("delivery %zu: seq %llu, expected %llu", index,
                          (unsigned long long) self->seqs [index], (unsigned long long) expected);
            return -1;
        }
        expected++;
        done++;
    }
    return done;
}

//  Waits until the broker's seq is at least seq. 0, or -1 at the deadline.
static int
s_wait_broker_seq (uint64_t seq, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    for (int poll = 0; poll < 10000 && zclock_mono () < deadline; poll++) {
        if (control_seq (s_bed->broker) >= seq)
            return 0;
        harness_pause_ms (20);
    }
    return -1;
}

//  The longest change_feed_work so far, in ms (s_turn measures each).
static int64_t s_longest_work;

//  One turn of the owner's loop: poll the feed's sockets, then its work.
static void
s_turn (change_feed_t *feed, s_consumer_t *consumer)
{
    zmq_pollitem_t items [FEED_POLL_ITEMS];
    int count = change_feed_poll_items (feed, items, FEED_POLL_ITEMS);
    CHECK (count == FEED_POLL_ITEMS, "poll items %d", count);
    int64_t wait = change_feed_next_wakeup (feed, zclock_mono ());
    CHECK (wait >= 0 && wait <= 1000, "next_wakeup %lld", (long long) wait);
    if (zmq_poll (items, count, wait > 100 ? 100 : wait) < 0)
        harness_pause_ms (1);
    int64_t started = zclock_mono ();
    change_feed_work (feed, started, s_deliver, consumer);
    int64_t took = zclock_mono () - started;
    if (took > s_longest_work)
        s_longest_work = took;
}

//  Runs the feed until it is synced. 0, or -1 at the deadline.
static int
s_run_synced (change_feed_t *feed, s_consumer_t *consumer, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    for (int turn = 0; turn < 100000 && zclock_mono () < deadline; turn++) {
        if (change_feed_synced (feed))
            return 0;
        s_turn (feed, consumer);
    }
    return change_feed_synced (feed) ? 0 : -1;
}

//  Runs the feed until its cursor reaches seq. 0, or -1 at the deadline.
static int
s_run_to (change_feed_t *feed, s_consumer_t *consumer, uint64_t seq, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    for (int turn = 0; turn < 1000000 && zclock_mono () < deadline; turn++) {
        if (change_feed_synced (feed) && change_feed_cursor (feed) >= seq)
            return 0;
        s_turn (feed, consumer);
    }
    harness_note ("cursor %llu, wanted %llu", (unsigned long long) change_feed_cursor (feed),
                  (unsigned long long) seq);
    return -1;
}

static change_feed_t *
s_feed_new (const char *cursor_file)
{
    change_feed_config_t config = {
        .events = broker_process_publish (s_bed->broker),
        .control = broker_process_control (s_bed->broker),
        .cursor_file = cursor_file,
        .call_timeout_ms = S_CALL_TIMEOUT_MS
    };
    char error [256];
    change_feed_t *feed = change_feed_new (&config, error, sizeof error);
    if (!feed)
        harness_note ("change_feed_new: %s", error);
    return feed;
}

//  Sends one event per id "PREFIXn", n in [from, to). 0 or -1.
static int
s_events (const char *source, const char *prefix, int from, int to, const char *raise)
{
    for (int index = from; index < to; index++) {
        char id [64];
        snprintf (id, sizeof id, "%s%d", prefix, index);
        if (ingest_event (s_bed->push, source, id, raise))
            return -1;
    }
    return 0;
}

//  A fresh consumer and a feed without a cursor file, synced to the
//  broker; NULL, with the consumer freed, if either step failed.
static change_feed_t *
s_synced_feed (s_consumer_t *consumer)
{
    s_consumer_init (consumer);
    change_feed_t *feed = s_feed_new (NULL);
    if (!CHECK (feed, "no feed") || !CHECK (s_run_synced (feed, consumer, 10000) == 0, "not synced")) {
        change_feed_destroy (&feed);
        s_consumer_free (consumer);
    }
    return feed;
}

static void
s_gap (void)
{
    TEST ("feed: every change exactly once, in order, across a forced PUB gap");
    s_consumer_t consumer;
    change_feed_t *feed = s_synced_feed (&consumer);
    if (!feed)
        return;
    uint64_t base = change_feed_cursor (feed);
    //  Not reading: the burst overflows the SUB's queue and the PUB drops.
    event_spec_t *events = calloc (S_BURST_SIZE, sizeof *events);
    char (*ids) [16] = calloc (S_BURST_SIZE, sizeof *ids);
    assert (events && ids);
    int sent = 0;
    for (int frame = 0; frame < S_BURST_FRAMES; frame++) {
        for (int index = 0; index < S_BURST_SIZE; index++) {
            snprintf (ids [index], sizeof ids [index], "b%d-%05d", frame, index);
            events [index].id = ids [index];
            events [index].raise = "clear";
        }
        batch_spec_t batch = { .source = "burst", .events = events, .event_count = S_BURST_SIZE };
        sent += ingest_send (s_bed->push, &batch) == 0;
    }
    free (events);
    free (ids);
    CHECK (sent == S_BURST_FRAMES, "sent %d of %d frames", sent, S_BURST_FRAMES);
    uint64_t total = S_BURST_FRAMES * S_BURST_SIZE;
    CHECK (s_wait_broker_seq (base + total, 60000) == 0, "the broker did not publish %llu changes",
           (unsigned long long) total);
    uint64_t head = control_seq (s_bed->broker);
    CHECK (s_run_to (feed, &consumer, head, 60000) == 0, "the feed did not reach seq %llu",
           (unsigned long long) head);
    long done = s_done_run (&consumer, base + 1);
    change_feed_stats_t stats = change_feed_stats (feed);
    CHECK (done == (long) (head - base), "%ld deliveries for seqs %llu..%llu", done,
           (unsigned long long) base + 1, (unsigned long long) head);
    CHECK (consumer.count == (size_t) done, "%zu attempts, %ld DONE", consumer.count, done);
    CHECK (stats.gaps > 0, "no gap detected: the burst did not overflow the SUB");
    CHECK (stats.catch_ups > 0, "no since call");
    CHECK (stats.malformed == 0, "%llu malformed", (unsigned long long) stats.malformed);
    CHECK (stats.delivered == (uint64_t) done, "delivered counter %llu",
           (unsigned long long) stats.delivered);
    harness_note ("burst: %llu changes, %llu gaps, %llu since calls", (unsigned long long) total,
                  (unsigned long long) stats.gaps, (unsigned long long) stats.catch_ups);
    change_feed_destroy (&feed);
    s_consumer_free (&consumer);
}

static void
s_cursor_file (void)
{
    TEST ("feed: the cursor file resumes exactly after the saved cursor");
    char *path = sandbox_path (s_bed->sandbox, "cursor-b");
    s_consumer_t consumer;
    s_consumer_init (&consumer);
    change_feed_t *feed = s_feed_new (path);
    if (!CHECK (feed, "no feed") || !CHECK (s_run_synced (feed, &consumer, 10000) == 0, "not synced"))
        goto done;
    uint64_t start = change_feed_cursor (feed);
    CHECK (s_file_cursor (path) == start, "file has %llu, cursor %llu",
           (unsigned long long) s_file_cursor (path), (unsigned long long) start);
    CHECK (s_events ("resume", "r", 0, 5, "now") == 0, "send");
    CHECK (s_wait_broker_seq (start + 5, 10000) == 0, "broker seq");
    uint64_t head = control_seq (s_bed->broker);
    CHECK (s_run_to (feed, &consumer, head, 10000) == 0, "first feed did not reach %llu",
           (unsigned long long) head);
    uint64_t saved = change_feed_cursor (feed);
    CHECK (s_file_cursor (path) == saved, "file has %llu, cursor %llu",
           (unsigned long long) s_file_cursor (path), (unsigned long long) saved);
    change_feed_destroy (&feed);

    CHECK (s_events ("resume", "r", 5, 12, "now") == 0, "send");
    CHECK (s_wait_broker_seq (saved + 7, 10000) == 0, "broker seq");
    head = control_seq (s_bed->broker);
    s_consumer_free (&consumer);
    s_consumer_init (&consumer);
    feed = s_feed_new (path);
    if (!CHECK (feed, "no second feed"))
        goto done;
    CHECK (s_run_to (feed, &consumer, head, 10000) == 0, "second feed did not reach %llu",
           (unsigned long long) head);
    CHECK (consumer.count > 0 && consumer.seqs [0] == saved + 1, "first delivery %llu, saved %llu",
           (unsigned long long) (consumer.count ? consumer.seqs [0] : 0), (unsigned long long) saved);
    long done = s_done_run (&consumer, saved + 1);
    CHECK (done == (long) (head - saved), "%ld deliveries, %llu missed",
           done, (unsigned long long) (head - saved));
done:
    change_feed_destroy (&feed);
    s_consumer_free (&consumer);
    free (path);
}

static void
s_retry (void)
{
    TEST ("feed: RETRY holds the change and all after it until retry_at, then redelivers it");
    s_consumer_t consumer;
    change_feed_t *feed = s_synced_feed (&consumer);
    if (!feed)
        return;
    uint64_t start = change_feed_cursor (feed);
    consumer.retry_seq = start + 1;
    consumer.retry_delay_ms = 600;
    CHECK (s_events ("retry", "t", 0, 4, "now") == 0, "send");
    CHECK (s_wait_broker_seq (start + 4, 10000) == 0, "broker seq");
    uint64_t head = control_seq (s_bed->broker);
    CHECK (s_run_to (feed, &consumer, head, 10000) == 0, "feed did not reach %llu",
           (unsigned long long) head);
    if (CHECK (consumer.count >= 3, "%zu attempts", consumer.count)) {
        CHECK (consumer.seqs [0] == start + 1 && !consumer.done [0], "first attempt %llu (done %d)",
               (unsigned long long) consumer.seqs [0], consumer.done [0]);
        CHECK (consumer.seqs [1] == start + 1 && consumer.done [1], "second attempt %llu (done %d)",
               (unsigned long long) consumer.seqs [1], consumer.done [1]);
        CHECK (consumer.at [1] >= consumer.retry_at, "redelivered %lld ms before retry_at",
               (long long) (consumer.retry_at - consumer.at [1]));
    }
    CHECK (s_done_run (&consumer, start + 1) == (long) (head - start), "DONE seqs not consecutive");
    change_feed_destroy (&feed);
    s_consumer_free (&consumer);
}

static void
s_restart (void)
{
    TEST ("feed: a broker restart; the changes made after it arrive, none skipped");
    s_consumer_t consumer;
    change_feed_t *feed = s_synced_feed (&consumer);
    if (!feed)
        return;
    uint64_t start = change_feed_cursor (feed);
    CHECK (s_events ("restart", "x", 0, 3, "now") == 0, "send");
    CHECK (s_wait_broker_seq (start + 3, 10000) == 0, "broker seq");
    CHECK (s_run_to (feed, &consumer, control_seq (s_bed->broker), 10000) == 0, "before the restart");
    CHECK (broker_process_stop (s_bed->broker) == 0, "broker did not exit 0");
    if (!CHECK (broker_process_start (s_bed->broker) == 0, "broker did not restart")
    ||  !CHECK (testbed_rejoin (s_bed) == 0, "rejoin")) {
        change_feed_destroy (&feed);
        s_consumer_free (&consumer);
        return;
    }
    uint64_t before = control_seq (s_bed->broker);
    CHECK (s_events ("restart", "y", 0, 5, "now") == 0, "send");
    CHECK (s_wait_broker_seq (before + 5, 10000) == 0, "broker seq");
    uint64_t head = control_seq (s_bed->broker);
    CHECK (s_run_to (feed, &consumer, head, 20000) == 0, "feed did not reach %llu after the restart",
           (unsigned long long) head);
    long done = s_done_run (&consumer, start + 1);
    CHECK (done == (long) (head - start), "%ld deliveries for %llu changes", done,
           (unsigned long long) (head - start));
    change_feed_destroy (&feed);
    s_consumer_free (&consumer);
}

static void
s_at_least_once (void)
{
    TEST ("feed: the cursor file never runs ahead of DONE; a change in flight comes again first");
    char *path = sandbox_path (s_bed->sandbox, "cursor-e");
    s_consumer_t consumer;
    s_consumer_init (&consumer);
    consumer.cursor_file = path;
    change_feed_t *feed = s_feed_new (path);
    if (!CHECK (feed, "no feed") || !CHECK (s_run_synced (feed, &consumer, 10000) == 0, "not synced"))
        goto done;
    uint64_t start = change_feed_cursor (feed);
    consumer.last_done = start;
    //  The third change is "in flight" when the feed goes away: its action
    //  never finishes (RETRY far ahead), as if the process were killed.
    consumer.retry_seq = start + 3;
    consumer.retry_delay_ms = 60000;
    consumer.in_flight_stop = true;
    CHECK (s_events ("once", "o", 0, 6, "now") == 0, "send");
    CHECK (s_wait_broker_seq (start + 6, 10000) == 0, "broker seq");
    int64_t deadline = zclock_mono () + 10000;
    for (int turn = 0; turn < 100000 && !consumer.retried && zclock_mono () < deadline; turn++)
        s_turn (feed, &consumer);
    CHECK (consumer.retried, "change %llu never came", (unsigned long long) start + 3);
    CHECK (change_feed_cursor (feed) == start + 2, "cursor %llu", (unsigned long long) change_feed_cursor (feed));
    CHECK (s_file_cursor (path) == start + 2, "cursor file %llu after DONE %llu",
           (unsigned long long) s_file_cursor (path), (unsigned long long) start + 2);
    CHECK (consumer.cursor_ahead == 0, "cursor file ahead of DONE %d times", consumer.cursor_ahead);
    change_feed_destroy (&feed);

    uint64_t head = control_seq (s_bed->broker);
    consumer.retry_seq = 0;
    consumer.count = 0;
    feed = s_feed_new (path);
    if (!CHECK (feed, "no second feed"))
        goto done;
    CHECK (s_run_to (feed, &consumer, head, 10000) == 0, "second feed did not reach %llu",
           (unsigned long long) head);
    CHECK (consumer.count > 0 && consumer.seqs [0] == start + 3, "first delivery %llu, in flight %llu",
           (unsigned long long) (consumer.count ? consumer.seqs [0] : 0), (unsigned long long) start + 3);
    CHECK (s_done_run (&consumer, start + 3) == (long) (head - start - 2), "not every change after it");
    CHECK (consumer.cursor_ahead == 0, "cursor file ahead of DONE %d times", consumer.cursor_ahead);
    CHECK (s_file_cursor (path) == head, "cursor file %llu at the end, head %llu",
           (unsigned long long) s_file_cursor (path), (unsigned long long) head);
done:
    change_feed_destroy (&feed);
    s_consumer_free (&consumer);
    free (path);
}

typedef struct {
    unsigned char *seen;           //  per alert number
    int twice;                     //  alerts seen twice
    int others;                    //  alerts of other sources
    int done;                      //  times done was called
    int rc;                        //  and what it said
    uint64_t seq;
    char error [256];
} s_snapshot_seen_t;

static void
s_snapshot_done (int rc, uint64_t seq, const char *error, void *arg)
{
    s_snapshot_seen_t *self = arg;
    self->done++;
    self->rc = rc;
    self->seq = seq;
    snprintf (self->error, sizeof self->error, "%s", error);
}

static void
s_snapshot_each (const alert_t *alert, void *arg)
{
    s_snapshot_seen_t *self = arg;
    int number = -1;
    if (streq (alert->source, "snap") && sscanf (alert->id, "a%d", &number) == 1
    &&  number >= 0 && number < S_SNAPSHOT_SIZE) {
        self->twice += self->seen [number];
        self->seen [number] = 1;
    }
    else
        self->others++;
}

static void
s_snapshot (void)
{
    TEST ("feed: snapshot pages 2,500 alerts in the owner's loop, each once, and starts the feed"
          " at its seq");
    event_spec_t *events = calloc (S_SNAPSHOT_SIZE, sizeof *events);
    char (*ids) [8] = calloc (S_SNAPSHOT_SIZE, sizeof *ids);
    assert (events && ids);
    for (int index = 0; index < S_SNAPSHOT_SIZE; index++) {
        snprintf (ids [index], sizeof ids [index], "a%04d", index);
        events [index].id = ids [index];
        events [index].raise = "+1h";
    }
    uint64_t before = control_seq (s_bed->broker);
    batch_spec_t batch = { .source = "snap", .events = events, .event_count = S_SNAPSHOT_SIZE };
    CHECK (ingest_send (s_bed->push, &batch) == 0, "send");
    free (events);
    free (ids);
    CHECK (s_wait_broker_seq (before + S_SNAPSHOT_SIZE, 20000) == 0, "broker seq");
    change_feed_t *feed = s_feed_new (NULL);
    if (!CHECK (feed, "no feed"))
        return;
    s_snapshot_seen_t seen = { .seen = calloc (S_SNAPSHOT_SIZE, 1) };
    assert (seen.seen);
    CHECK (change_feed_snapshot_start (feed, s_snapshot_each, s_snapshot_done, &seen) == 0,
           "start");
    CHECK (change_feed_snapshot_start (feed, s_snapshot_each, s_snapshot_done, &seen) == -1,
           "a second snapshot while one runs");
    s_consumer_t consumer;
    s_consumer_init (&consumer);
    int64_t deadline = zclock_mono () + 20000;
    while (zclock_mono () < deadline && change_feed_snapshot_running (feed))
        s_turn (feed, &consumer);
    CHECK (seen.done == 1 && seen.rc == 0, "snapshot: done %d, rc %d: %s", seen.done, seen.rc,
           seen.error);
    uint64_t seq = seen.seq;
    int missing = 0;
    for (int index = 0; index < S_SNAPSHOT_SIZE; index++)
        missing += !seen.seen [index];
    CHECK (missing == 0, "%d alerts missing", missing);
    CHECK (seen.twice == 0, "%d alerts twice", seen.twice);
    CHECK (seq >= before + S_SNAPSHOT_SIZE, "snapshot seq %llu", (unsigned long long) seq);
    CHECK (change_feed_synced (feed) && change_feed_cursor (feed) == seq,
           "feed not started at the snapshot's seq (cursor %llu)",
           (unsigned long long) change_feed_cursor (feed));
    harness_note ("snapshot: %d alerts of other sources", seen.others);
    free (seen.seen);
    change_feed_destroy (&feed);
    s_consumer_free (&consumer);
}

static void
s_broker_away (void)
{
    TEST ("feed: the owner's loop never waits while the broker does not answer (SIGSTOP);"
          " the feed keeps asking, and once it is back catches up with nothing missed");
    s_consumer_t consumer;
    change_feed_t *feed = s_synced_feed (&consumer);
    if (!feed)
        return;
    uint64_t start = change_feed_cursor (feed);
    CHECK (s_events ("away", "w", 0, 3, "now") == 0, "send");
    CHECK (s_wait_broker_seq (start + 3, 10000) == 0, "broker seq");
    CHECK (s_run_to (feed, &consumer, start + 3, 10000) == 0, "before the broker stops");
    //  Frozen, not gone: its sockets accept requests and never answer, the
    //  worst case for a caller that waits for a reply.
    if (!CHECK (broker_process_signal (s_bed->broker, SIGSTOP) == 0, "SIGSTOP")) {
        change_feed_destroy (&feed);
        s_consumer_free (&consumer);
        return;
    }
    uint64_t asked = change_feed_stats (feed).catch_ups;
    s_longest_work = 0;
    int turns = 0;
    //  Silent after 3 s: a `since`; no reply by its deadline (2 s), given
    //  up; asked again 3 s later. Two requests sent while frozen.
    int64_t deadline = zclock_mono () + 30000;
    while (zclock_mono () < deadline && change_feed_stats (feed).catch_ups < asked + 2) {
        s_turn (feed, &consumer);
        turns++;
    }
    int64_t longest = s_longest_work;
    CHECK (change_feed_stats (feed).catch_ups >= asked + 2, "%llu since requests while frozen",
           (unsigned long long) (change_feed_stats (feed).catch_ups - asked));
    //  A call that waits would take S_CALL_TIMEOUT_MS: a quarter of it is
    //  room for a loaded machine, and far from that
    CHECK (longest < S_CALL_TIMEOUT_MS / 4, "change_feed_work took %lld ms", (long long) longest);
    harness_note ("broker frozen: %d turns, the longest change_feed_work %lld ms", turns,
                  (long long) longest);
    CHECK (s_events ("away", "z", 0, 4, "now") == 0, "send while frozen");
    CHECK (broker_process_signal (s_bed->broker, SIGCONT) == 0, "SIGCONT");
    CHECK (s_wait_broker_seq (start + 7, 10000) == 0, "broker seq after SIGCONT");
    uint64_t head = control_seq (s_bed->broker);
    CHECK (s_run_to (feed, &consumer, head, 20000) == 0, "the feed did not reach %llu",
           (unsigned long long) head);
    long done = s_done_run (&consumer, start + 1);
    CHECK (done == (long) (head - start), "%ld deliveries for %llu changes", done,
           (unsigned long long) (head - start));
    change_feed_destroy (&feed);
    s_consumer_free (&consumer);
}

static void
s_new_database (void)
{
    TEST ("feed: a new database under a synced feed: it rewinds to the new epoch, nothing skipped");
    s_consumer_t consumer;
    change_feed_t *feed = s_synced_feed (&consumer);
    if (!feed)
        return;
    uint64_t before = change_feed_cursor (feed);
    CHECK (broker_process_stop (s_bed->broker) == 0, "broker did not exit 0");
    const char *database = broker_process_database (s_bed->broker);
    char path [4200];
    CHECK (unlink (database) == 0, "delete %s", database);
    snprintf (path, sizeof path, "%s-wal", database);
    unlink (path);
    snprintf (path, sizeof path, "%s-shm", database);
    unlink (path);
    if (!CHECK (broker_process_start (s_bed->broker) == 0 && testbed_rejoin (s_bed) == 0,
                "restart")) {
        change_feed_destroy (&feed);
        s_consumer_free (&consumer);
        return;
    }
    CHECK (s_events ("newdb", "n", 0, 3, "now") == 0, "send");
    CHECK (s_wait_broker_seq (3, 10000) == 0, "broker seq");
    size_t attempts = consumer.count;
    int64_t deadline = zclock_mono () + 15000;
    while (zclock_mono () < deadline
       &&  (change_feed_stats (feed).epochs == 0 || change_feed_cursor (feed) < 3))
        s_turn (feed, &consumer);
    CHECK (change_feed_stats (feed).epochs == 1, "rewinds %llu",
           (unsigned long long) change_feed_stats (feed).epochs);
    CHECK (change_feed_cursor (feed) == 3, "cursor %llu (before the new database: %llu)",
           (unsigned long long) change_feed_cursor (feed), (unsigned long long) before);
    bool in_order = consumer.count == attempts + 3;
    for (size_t index = attempts; in_order && index < consumer.count; index++)
        in_order = consumer.seqs [index] == index - attempts + 1 && consumer.done [index];
    CHECK (in_order, "%zu deliveries after the new database, want seqs 1, 2, 3",
           consumer.count - attempts);
    change_feed_destroy (&feed);
    s_consumer_free (&consumer);
}

int
main (void)
{
    broker_process_config_t config = { .reminder_interval = "1h", .grace = "2s",
                                       .checkpoint = "500ms" };
    s_bed = testbed_new ("feed", &config);
    if (!s_bed) {
        TEST ("feed: testbed starts");
        CHECK (false, "broker did not start");
        return check_done ();
    }
    s_cursor_file ();
    s_retry ();
    s_at_least_once ();
    s_restart ();
    s_broker_away ();
    s_snapshot ();
    s_gap ();
    s_new_database ();
    TEST ("feed: broker exits 0 on SIGTERM");
    CHECK (testbed_destroy (&s_bed, check_failed > 0 || check_case_failed) == 0,
           "broker did not exit cleanly");
    return check_done ();
}
