/*  change_feed.c — following the broker's changes without missing one.

    What it keeps: the cursor (last seq delivered DONE, saved to the cursor
    file), and a queue of decoded changes waiting for delivery (a silence's
    change with its silence decoded too when the owner takes them, so the
    SUB and `since` hand over the same thing; else only its id). The queue
    holds exactly the seqs cursor+1 .. horizon, in order, with no hole: every
    change is appended only when its seq is horizon + 1 (or, from a `since`
    reply, whatever the broker's history says comes next), so delivery is a
    pop from the head. The queue is bounded by FEED_PENDING_MAX: a change
    that would not fit is dropped and a catch-up marked, which fetches it
    again with `since` once deliveries have made room.

    How it learns of losses: a change on the SUB whose seq is beyond
    horizon + 1 is a gap; a hugz whose seq is beyond horizon means the tail
    was lost (the PUB sends a hugz after the changes it counts, on the same
    pipe); a silence of FEED_SILENCE_MS means the broker or the path to it
    went away, and the first thing heard afterwards (or a periodic try while
    silent) starts a catch-up. A catch-up asks `since horizon` page by page
    (FEED_SINCE_LIMIT) until a reply says `more: false`; changes on the SUB
    that arrive during a catch-up are kept when they extend the queue and
    dropped otherwise — `since` answers with everything up to the broker's
    current seq, so it covers them (one published after the broker answered
    but read before its reply is a gap found by the next change or hugz).

    First sync: with a cursor from the file, it is a completed catch-up
    from it; without, a `ping` gives the broker's seq and the feed starts
    from now (or a snapshot's first page does). What the SUB brings before
    it is dropped: the sync covers it.

    Requests: one at a time, sent without waiting (ctl_send_*), its kind,
    ticket and deadline kept; replies are read with ctl_receive when
    change_feed_work runs, a reply with another ticket (to a request given
    up) is dropped, and a request past its deadline is handled as failed.
    Priority when nothing is in flight: a snapshot page, then the `ping` of
    a jump (since said the history is gone), the first sync, a catch-up
    page. A failed one is tried again after S_RETRY_MS (FEED_SILENCE_MS
    while silent). A `since` reply asked from a horizon that has since been
    rewound or jumped (`repositioned` moved) is dropped and asked again.

    Health: a hugz may also carry `degraded` (why the broker's commits
    fail) and `degraded_since` (wall ms) while that lasts; the last hugz's
    say is kept, with when anything was last heard, for change_feed_health.

    Epochs (epoch.h): the cursor belongs to an epoch, kept beside it in the
    cursor file ("SEQ DB N FIRST"). A change or hugz on the SUB, or a `since`
    reply, from another epoch rewinds the feed: to FIRST - 1 of the new one,
    or to the cursor when that is lower and the database is the same (a
    restart after a crash: what came before FIRST is still in its history),
    and a catch-up follows. So a replaced database, or one that lost its last
    commits, is followed from where its seqs begin again instead of being
    ignored until they pass the old cursor. A live message of the same
    database with a lower epoch number comes from a stale broker: ignored.
    `since` replays bodies of older epochs as they were published; only the
    reply's own epoch (the broker's current one) is compared.

    Limits: one request in flight, so a catch-up moves one page (1,000
    changes) per round trip; a snapshot pauses deliveries and catch-ups
    until its last page.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bus.h"
#include "change_feed.h"
#include "ctl.h"
#include "epoch.h"
#include "error_text.h"
#include "log.h"
#include "mem.h"
#include "silence.h"
#include "wire.h"

#define S_DEFAULT_TIMEOUT_MS  5000     //  call_timeout_ms when 0
#define S_RETRY_MS            1000     //  wait before a failed sync or catch-up is tried again
#define S_REPLIES_PER_WORK    100      //  control replies read in one change_feed_work
#define S_READS_PER_WORK      2000     //  SUB messages read in one change_feed_work
#define S_DELIVERIES_PER_WORK 10000    //  deliveries in one change_feed_work
#define S_MAX_WAKEUP_MS       1000     //  change_feed_next_wakeup at most
#define S_SNAPSHOT_PAGES_MAX  100000   //  snapshot pages followed at most
#define S_CURSOR_TEXT_MAX     96       //  bytes of a cursor file we read

//  What the request in flight asked for (at most one at a time).
typedef enum {
    S_ASK_NONE,
    S_ASK_PING,                    //  the first sync: where does the stream stand?
    S_ASK_JUMP,                    //  the same, after `since` said the history is gone
    S_ASK_SINCE,                   //  a catch-up page
    S_ASK_SNAPSHOT                 //  a snapshot page
} s_ask_t;

struct _change_feed_t {
    char *events;                  //  PUB endpoint (copy)
    char *control;                 //  control endpoint (copy)
    char *cursor_file;             //  cursor file path (copy), or NULL
    int call_timeout_ms;           //  deadline of one control call
    zsock_t *sub;                  //  SUB to every change and hugz
    ctl_t *ctl;                    //  the control client (one DEALER)
    uint64_t cursor;               //  last seq delivered DONE (or the start)
    uint64_t hold;                     //  the owner needs what is after this (change_feed_hold)
    epoch_t epoch;                 //  the epoch the cursor belongs to ("" not known yet)
    bool cursor_from_file;         //  cursor was read from the file
    bool synced;                   //  first sync done
    uint64_t horizon;              //  seq of the queue's tail (cursor when empty)
    struct _s_pending_t **queue;   //  ring of pending changes, cursor+1 .. horizon
    size_t queue_capacity;         //  slots in queue
    size_t queue_head;             //  index of the oldest
    size_t queue_count;            //  changes held
    bool catch_up;                 //  a `since` catch-up is needed
    int64_t next_try_at;           //  mono ms: no sync / catch-up attempt before this
    int64_t held_until;            //  mono ms: head held by a RETRY until then, 0 none
    int64_t last_heard;            //  mono ms: when anything last arrived on the SUB
    bool silent;                   //  FEED_SILENCE_MS passed without a message
    int64_t next_silent_try;       //  mono ms: next catch-up try while silent
    bool backlog;                  //  the last read stopped with messages left
    s_ask_t ask;                   //  the request in flight, S_ASK_NONE if none
    uint64_t ask_ticket;           //  its ticket
    int64_t ask_deadline;          //  mono ms: given up after this
    uint64_t ask_from;             //  a since: the horizon it asked from
    uint64_t ask_repositioned;     //  repositioned when it was sent
    uint64_t repositioned;         //  times the horizon was moved back or jumped
    char jump_reason [WIRE_ERROR_SIZE + 256];   //  since said the history is gone, "" if not
    bool replies_left;             //  the last read of replies stopped with some left
    struct {
        bool running;              //  change_feed_snapshot_start, until done is called
        int64_t cursor;            //  the next page's cursor
        int pages;                 //  pages read
        uint64_t seq;              //  the first page's seq
        change_feed_alert_fn *each;            //  the owner's functions
        change_feed_snapshot_done_fn *done;
        void *arg;
    } snapshot;
    change_feed_stats_t stats;     //  counters
    log_limit_t malformed_log;     //  rate limit for malformed input
    log_limit_t cursor_log;        //  rate limit for cursor file failures
    log_limit_t away_log;          //  rate limit for "the broker does not answer"
    void (*on_hugz) (uint64_t seq, int64_t at, void *arg);   //  hugz callback, or NULL
    void *on_hugz_arg;             //  its argument
    change_feed_silence_fn *on_silence;   //  the owner's silence changes, or NULL
    void *on_silence_arg;          //  its argument
    bool degraded;                 //  the last hugz carried `degraded`
    char degraded_reason [FEED_REASON_MAX];   //  its text, cut to fit
    int64_t degraded_since;        //  and `degraded_since`, wall ms
};

//  --- a pending change ------------------------------------------------------------

//  One change waiting in the queue, with its silence decoded when it is a
//  silence's change and the owner takes them (on_silence); else NULL.
typedef struct _s_pending_t {
    alert_change_t change;         //  the change (silence_id set for a silence's)
    silence_t *silence;            //  the silence it carries, or NULL
} s_pending_t;

static void
s_pending_destroy (s_pending_t **pending_p)
{
    if (*pending_p) {
        alert_change_free (&(*pending_p)->change);
        silence_destroy (&(*pending_p)->silence);
        mem_free (*pending_p);
        *pending_p = NULL;
    }
}

//  Decodes a change body (from the SUB or a `since` reply), and the silence
//  of a silence's change when the owner takes them. The change, or NULL
//  with why in error.
static s_pending_t *
s_pending_decode (change_feed_t *self, const msgpack_object *body, char *error,
                  size_t error_size)
{
    s_pending_t *pending = mem_alloc (sizeof *pending);
    if (alert_change_decode (body, &pending->change, error, error_size) != 0) {
        mem_free (pending);
        return NULL;
    }
    if (pending->change.silence_id && self->on_silence) {
        char reason [WIRE_ERROR_SIZE];
        pending->silence = silence_decode (wire_get (body, "silence"), reason, sizeof reason);
        if (!pending->silence) {
            error_text (error, error_size, -1, "silence: %s", reason);
            s_pending_destroy (&pending);
        }
    }
    return pending;
}

//  --- the pending queue ---------------------------------------------------------

//  True when the queue holds exactly cursor+1 .. horizon (the head is the
//  next seq to deliver). Checked in debug builds.
static bool
s_invariants_hold (change_feed_t *self)
{
    if (self->queue_count == 0)
        return self->horizon >= self->cursor;
    const alert_change_t *head = &self->queue [self->queue_head]->change;
    return head->seq > self->cursor && self->horizon >= head->seq;
}

static s_pending_t *
s_queue_head (change_feed_t *self)
{
    return self->queue_count ? self->queue [self->queue_head] : NULL;
}

//  Appends a change (taking it) if there is room. Returns 0, or -1 when full.
static int
s_queue_push (change_feed_t *self, s_pending_t *pending)
{
    if (self->queue_count >= FEED_PENDING_MAX)
        return -1;
    if (self->queue_count == self->queue_capacity) {
        size_t capacity = self->queue_capacity ? self->queue_capacity * 2 : 64;
        if (capacity > FEED_PENDING_MAX)
            capacity = FEED_PENDING_MAX;
        s_pending_t **grown = mem_alloc (capacity * sizeof *grown);
        for (size_t index = 0; index < self->queue_count; index++)
            grown [index] = self->queue [(self->queue_head + index) % self->queue_capacity];
        mem_free (self->queue);
        self->queue = grown;
        self->queue_capacity = capacity;
        self->queue_head = 0;
    }
    self->queue [(self->queue_head + self->queue_count) % self->queue_capacity] = pending;
    self->queue_count++;
    self->horizon = pending->change.seq;
    return 0;
}

static void
s_queue_pop (change_feed_t *self)
{
    assert (self->queue_count > 0);
    s_pending_destroy (&self->queue [self->queue_head]);
    self->queue_head = (self->queue_head + 1) % self->queue_capacity;
    self->queue_count--;
}

static void
s_queue_clear (change_feed_t *self)
{
    while (self->queue_count)
        s_queue_pop (self);
}

//  --- the cursor file --------------------------------------------------------------

//  Reads the cursor file. 0 with *found false when it does not exist, 0 with
//  the seq, or -1 with a reason.
static int
s_cursor_read (const char *path, bool *found, uint64_t *seq, epoch_t *epoch,
               char *error, size_t error_size)
{
    *found = false;
    FILE *file = fopen (path, "r");
    if (!file) {
        if (errno == ENOENT)
            return 0;
        return error_text (error, error_size, -1, "cannot read cursor file %s: %s",
                           path, strerror (errno));
    }
    char text [S_CURSOR_TEXT_MAX + 1];
    size_t size = fread (text, 1, S_CURSOR_TEXT_MAX, file);
    bool failed = ferror (file) != 0;
    if (fclose (file) != 0)
        failed = true;
    if (failed)
        return error_text (error, error_size, -1, "cannot read cursor file %s", path);
    text [size] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull (text, &end, 10);
    memset (epoch, 0, sizeof (epoch_t));
    if (end && *end == ' ') {          //  "SEQ DB N FIRST\n"
        char db [EPOCH_DB_SIZE + 8];
        int used = 0;
        if (sscanf (end, " %24s %" SCNu64 " %" SCNu64 "%n", db, &epoch->n, &epoch->first,
                    &used) == 3 && strlen (db) == EPOCH_DB_SIZE - 1) {
            memcpy (epoch->db, db, EPOCH_DB_SIZE);
            end += used;
        }
    }
    if (size == 0 || text [0] < '0' || text [0] > '9' || errno != 0
    ||  !end || (*end != '\n' && *end != '\0') || (*end == '\n' && end [1] != '\0'))
        return error_text (error, error_size, -1, "cursor file %s does not hold a seq "
                           "(expected \"SEQ\\n\" or \"SEQ DB N FIRST\\n\")", path);
    *seq = (uint64_t) value;
    *found = true;
    return 0;
}

//  Writes "SEQ\n" (the cursor, or the owner's hold when lower) to FILE.tmp and renames it over FILE. Returns 0 or -1
//  (logged, rate-limited): the old cursor stays, so delivery stays at
//  least once.
static int
s_cursor_save (change_feed_t *self)
{
    if (!self->cursor_file)
        return 0;
    char *temporary = zsys_sprintf ("%s.tmp", self->cursor_file);
    if (!temporary) {
        log_limited (&self->cursor_log, "cursor file %s: out of memory", self->cursor_file);
        return -1;
    }
    int rc = -1;
    const char *failed_step = "open";
    FILE *file = fopen (temporary, "w");
    if (file) {
        failed_step = "write";
        uint64_t saved = self->cursor < self->hold ? self->cursor : self->hold;
        bool written = *self->epoch.db
            ? fprintf (file, "%" PRIu64 " %s %" PRIu64 " %" PRIu64 "\n", saved,
                       self->epoch.db, self->epoch.n, self->epoch.first) > 0
            : fprintf (file, "%" PRIu64 "\n", saved) > 0;
        if (fclose (file) != 0)
            written = false;
        if (written) {
            failed_step = "rename";
            if (rename (temporary, self->cursor_file) == 0)
                rc = 0;
        }
    }
    if (rc)
        log_limited (&self->cursor_log, "cursor file %s: cannot %s: %s", temporary,
                     failed_step, strerror (errno));
    zstr_free (&temporary);
    return rc;
}

//  Moves the cursor (and the horizon, when the queue is empty) and saves it.
static void
s_cursor_set (change_feed_t *self, uint64_t seq)
{
    self->cursor = seq;
    if (self->queue_count == 0 && self->horizon < seq)
        self->horizon = seq;
    int rc = s_cursor_save (self);
    (void) rc;                     //  logged; the old cursor is still safe
}

//  --- epochs ----------------------------------------------------------------------------

typedef enum { S_EPOCH_SAME, S_EPOCH_STALE, S_EPOCH_REWOUND } s_epoch_step_t;

//  A message stamped with seen arrived. SAME: go on (also when it is the
//  first epoch the feed learns, or the broker stamps none); STALE: ignore
//  the message (a broker of our database with a lower epoch); REWOUND: the
//  feed moved to seen and will catch up from where its seqs are ours.
static s_epoch_step_t
s_follow_epoch (change_feed_t *self, const epoch_t *seen)
{
    if (!*seen->db || epoch_equal (&self->epoch, seen))
        return S_EPOCH_SAME;
    if (!*self->epoch.db) {
        self->epoch = *seen;
        s_cursor_set (self, self->cursor);
        return S_EPOCH_SAME;
    }
    char ours [64], theirs [64];
    epoch_format (&self->epoch, ours, sizeof ours);
    epoch_format (seen, theirs, sizeof theirs);
    if (epoch_is_stale (&self->epoch, seen)) {
        log_limited (&self->malformed_log, "ignored a message of epoch %s: ours is %s "
                     "(a stale broker?)", theirs, ours);
        return S_EPOCH_STALE;
    }
    uint64_t resume = seen->first ? seen->first - 1 : 0;
    if (strcmp (seen->db, self->epoch.db) == 0 && self->cursor < resume)
        resume = self->cursor;
    log_warn ("the broker's epoch changed from %s to %s: resuming after seq %" PRIu64
              " (the cursor was %" PRIu64 ")", ours, theirs, resume, self->cursor);
    s_queue_clear (self);
    self->epoch = *seen;
    self->horizon = resume;
    self->held_until = 0;
    self->cursor = resume;
    s_cursor_set (self, resume);
    self->catch_up = true;
    self->repositioned++;
    self->stats.epochs++;
    return S_EPOCH_REWOUND;
}

//  --- catching up with `since` ------------------------------------------------------------

//  Decodes one change of a `since` reply and appends it if it extends the
//  queue. Returns 0 (appended or a repeat), -1 when the queue is full.
static int
s_take_replayed (change_feed_t *self, const msgpack_object *body)
{
    char error [WIRE_ERROR_SIZE];
    s_pending_t *pending = s_pending_decode (self, body, error, sizeof error);
    if (!pending) {
        self->stats.malformed++;
        log_limited (&self->malformed_log, "since: skipped a malformed change: %s", error);
        return 0;
    }
    uint64_t seq = pending->change.seq;
    if (seq <= self->horizon) {
        s_pending_destroy (&pending);
        return 0;
    }
    if (seq != self->horizon + 1)
        log_limited (&self->malformed_log, "since: the history goes from seq %" PRIu64
                     " to %" PRIu64 "; following it", self->horizon, seq);
    if (s_queue_push (self, pending) != 0) {
        s_pending_destroy (&pending);
        return -1;
    }
    return 0;
}

//  --- the request in flight ---------------------------------------------------------

//  Called with the reply to the request in flight (ok; the caller destroys
//  it), or with NULL and why it failed (refused, malformed, no reply
//  before its deadline).
typedef void (s_reply_fn) (change_feed_t *self, wire_doc_t *reply, ctl_failure_t failure,
                           const char *error, int64_t now);

//  Reads seq and the epoch of a `ping` reply. 0, or -1 with error.
static int
s_ping_decode (wire_doc_t *reply, uint64_t *seq, epoch_t *epoch, char *error, size_t error_size)
{
    bool present = false;
    int64_t value = 0;
    int rc = wire_get_int (wire_doc_root (reply), "seq", &present, &value, error, error_size);
    if (rc == 0 && (!present || value < 0))
        rc = error_text (error, error_size, -1, "ping: reply without a seq");
    if (rc == 0)
        rc = epoch_decode (wire_doc_root (reply), epoch, &present, error, error_size);
    if (rc == 0)
        *seq = (uint64_t) value;
    return rc ? -1 : 0;
}

//  When a failed first sync, catch-up or jump is tried again: the watchdog's
//  pace while silent, else S_RETRY_MS.
static void
s_try_later (change_feed_t *self, int64_t now)
{
    self->next_try_at = now + (self->silent ? FEED_SILENCE_MS : S_RETRY_MS);
}

//  A `ping` reply's seq and epoch. false when there is none or it is
//  malformed: logged (rate-limited) and asked again later.
static bool
s_ping_reply (change_feed_t *self, wire_doc_t *reply, const char *error, int64_t now,
              uint64_t *seq, epoch_t *epoch)
{
    char reason [WIRE_ERROR_SIZE];
    if (reply && s_ping_decode (reply, seq, epoch, reason, sizeof reason) != 0) {
        self->stats.malformed++;
        error = reason;
        reply = NULL;
    }
    if (!reply) {
        log_limited (&self->away_log, "cannot ask %s where the stream stands: %s",
                     self->control, error);
        s_try_later (self, now);
        return false;
    }
    return true;
}

//  The first sync's `ping`: the feed starts at the broker's seq.
static void
s_on_ping (change_feed_t *self, wire_doc_t *reply, ctl_failure_t failure, const char *error,
           int64_t now)
{
    (void) failure;
    uint64_t seq = 0;
    epoch_t epoch;
    if (!s_ping_reply (self, reply, error, now, &seq, &epoch))
        return;
    if (self->synced || self->catch_up)
        return;                    //  a snapshot started the feed meanwhile
    self->epoch = epoch;
    self->horizon = seq;
    s_cursor_set (self, seq);
    self->synced = true;
    self->last_heard = now;
}

//  The `ping` after `since` said the history no longer reaches back to the
//  horizon (retention): say so and start from the broker's seq.
static void
s_on_jump (change_feed_t *self, wire_doc_t *reply, ctl_failure_t failure, const char *error,
           int64_t now)
{
    (void) failure;
    uint64_t seq = 0;
    epoch_t epoch;
    if (!s_ping_reply (self, reply, error, now, &seq, &epoch))
        return;                    //  jump_reason stays: asked again
    if (*epoch.db)
        self->epoch = epoch;
    log_error ("changes after seq %" PRIu64 " are lost: %s; resuming at seq %" PRIu64,
               self->horizon, self->jump_reason, seq);
    *self->jump_reason = 0;
    s_queue_clear (self);
    self->horizon = seq;
    self->held_until = 0;
    s_cursor_set (self, seq);
    self->repositioned++;
    self->catch_up = false;
    self->synced = true;
}

//  Applies one `since` reply asked from `from`. 1 when more remains, 0 when
//  caught up, -1 on failure (logged).
static int
s_since_apply (change_feed_t *self, wire_doc_t *reply, uint64_t from)
{
    char error [WIRE_ERROR_SIZE + 64];
    const msgpack_object *root = wire_doc_root (reply);
    epoch_t current;
    bool stamped = false;
    if (epoch_decode (root, &current, &stamped, error, sizeof error) == 0) {
        s_epoch_step_t step = s_follow_epoch (self, &current);
        if (step != S_EPOCH_SAME)
            return step == S_EPOCH_REWOUND ? 1 : -1;    //  again from the new horizon
    }
    const msgpack_object *changes = wire_get (root, "changes");
    bool present = false, more = false;
    if (!changes || changes->type != MSGPACK_OBJECT_ARRAY
    ||  wire_get_bool (root, "more", &present, &more, error, sizeof error) != 0) {
        self->stats.malformed++;
        log_warn ("since %" PRIu64 ": a reply without changes or more", from);
        return -1;
    }
    for (uint32_t index = 0; index < changes->via.array.size; index++)
        if (s_take_replayed (self, &changes->via.array.ptr [index]) != 0)
            return 1;              //  queue full: the rest after deliveries
    if (more && self->horizon == from) {
        log_error ("since %" PRIu64 ": the broker says more but sent nothing", from);
        return -1;
    }
    return more ? 1 : 0;
}

//  A `since` page.
static void
s_on_since (change_feed_t *self, wire_doc_t *reply, ctl_failure_t failure, const char *error,
            int64_t now)
{
    if (!reply && failure == CTL_REFUSED && strstr (error, "snapshot")) {
        snprintf (self->jump_reason, sizeof self->jump_reason, "%s", error);
        return;                    //  a `ping` follows at once
    }
    if (!reply) {
        log_limited (&self->away_log, "since %" PRIu64 " from %s failed: %s", self->ask_from,
                     self->control, error);
        s_try_later (self, now);
        return;
    }
    if (self->ask_repositioned != self->repositioned)
        return;                    //  asked from a horizon that is gone: asked again
    int rc = s_since_apply (self, reply, self->ask_from);
    if (rc < 0)
        s_try_later (self, now);
    if (rc == 0)
        self->catch_up = false;
    //  The feed knows where it stands once caught up, or once the queue is
    //  full (deliveries then make room for the rest)
    if (rc == 0 || self->queue_count >= FEED_PENDING_MAX)
        self->synced = true;
}

//  Ends the snapshot and tells the owner.
static void
s_snapshot_finish (change_feed_t *self, int rc, const char *error)
{
    self->snapshot.running = false;
    self->snapshot.done (rc, self->snapshot.seq, rc ? error : "", self->snapshot.arg);
}

//  Decodes the alerts of one snapshot page and hands each to the owner.
static int
s_snapshot_alerts (change_feed_t *self, const msgpack_object *root, char *error,
                   size_t error_size)
{
    const msgpack_object *alerts = wire_get (root, "alerts");
    if (!alerts || alerts->type != MSGPACK_OBJECT_ARRAY)
        return error_text (error, error_size, -1, "snapshot: a reply without alerts");
    for (uint32_t index = 0; index < alerts->via.array.size; index++) {
        alert_t alert;
        memset (&alert, 0, sizeof alert);
        char reason [WIRE_ERROR_SIZE];
        if (alert_decode (&alerts->via.array.ptr [index], &alert, reason, sizeof reason) != 0) {
            self->stats.malformed++;
            log_limited (&self->malformed_log, "snapshot: skipped a malformed alert: %s", reason);
            continue;
        }
        self->snapshot.each (&alert, self->snapshot.arg);
        alert_clear_fields (&alert);
    }
    return 0;
}

//  The first page starts a feed that has no position yet at its seq.
static void
s_snapshot_position (change_feed_t *self, uint64_t seq, int64_t now)
{
    self->snapshot.seq = seq;
    if (self->synced || self->catch_up || self->cursor_from_file || self->queue_count)
        return;
    self->horizon = seq;
    s_cursor_set (self, seq);
    self->synced = true;
    self->last_heard = now;
}

//  A `snapshot` page.
static void
s_on_snapshot (change_feed_t *self, wire_doc_t *reply, ctl_failure_t failure,
               const char *error, int64_t now)
{
    (void) failure;
    if (!reply) {
        s_snapshot_finish (self, -1, error);
        return;
    }
    char reason [WIRE_ERROR_SIZE];
    const msgpack_object *root = wire_doc_root (reply);
    bool present = false, has_next = false;
    int64_t page_seq = 0, next = 0;
    int rc = wire_get_int (root, "seq", &present, &page_seq, reason, sizeof reason);
    if (rc == 0 && (!present || page_seq < 0))
        rc = error_text (reason, sizeof reason, -1, "snapshot: a reply without seq");
    if (rc == 0)
        rc = wire_get_int (root, "cursor", &has_next, &next, reason, sizeof reason);
    if (rc == 0 && has_next && next <= self->snapshot.cursor)
        rc = error_text (reason, sizeof reason, -1, "snapshot: the cursor did not advance");
    if (rc == 0 && self->snapshot.pages == 0)
        s_snapshot_position (self, (uint64_t) page_seq, now);
    if (rc == 0)
        rc = s_snapshot_alerts (self, root, reason, sizeof reason);
    if (rc != 0) {
        self->stats.malformed++;
        s_snapshot_finish (self, -1, reason);
        return;
    }
    self->snapshot.pages++;
    self->snapshot.cursor = next;
    if (!has_next)
        s_snapshot_finish (self, 0, "");
    else
    if (self->snapshot.pages >= S_SNAPSHOT_PAGES_MAX) {
        snprintf (reason, sizeof reason, "snapshot: more than %d pages", S_SNAPSHOT_PAGES_MAX);
        s_snapshot_finish (self, -1, reason);
    }
}

//  The handler of a kind of request.
static s_reply_fn *
s_handler (s_ask_t ask)
{
    switch (ask) {
        case S_ASK_PING:     return s_on_ping;
        case S_ASK_JUMP:     return s_on_jump;
        case S_ASK_SINCE:    return s_on_since;
        case S_ASK_SNAPSHOT: return s_on_snapshot;
        default:             return NULL;
    }
}

//  Hands the request in flight its reply (or its failure) and forgets it.
static void
s_answered (change_feed_t *self, wire_doc_t *reply, ctl_failure_t failure, const char *error,
            int64_t now)
{
    s_reply_fn *handler = s_handler (self->ask);
    self->ask = S_ASK_NONE;
    self->ask_ticket = 0;
    assert (handler);
    handler (self, reply, failure, error, now);
}

//  Reads the replies waiting on the DEALER: the one to the request in
//  flight is handled; late ones (to requests given up) are dropped.
static void
s_read_replies (change_feed_t *self, int64_t now)
{
    int count = 0;
    for (; count < S_REPLIES_PER_WORK; count++) {
        char error [WIRE_ERROR_SIZE + 256];
        uint64_t ticket = 0;
        wire_doc_t *reply = NULL;
        int rc = ctl_receive (self->ctl, &ticket, &reply, error, sizeof error);
        if (rc == 0)
            break;
        if (rc != 1) {
            self->stats.malformed++;
            log_limited (&self->malformed_log, "%s", error);
            continue;              //  the request in flight waits for its deadline
        }
        if (self->ask == S_ASK_NONE || ticket != self->ask_ticket) {
            wire_doc_destroy (&reply);
            continue;
        }
        ctl_failure_t failure = 0;
        reply = ctl_reply_ok (self->ctl, reply, &failure, error, sizeof error);
        if (!reply && failure == CTL_MALFORMED_REPLY)
            self->stats.malformed++;
        s_answered (self, reply, failure, error, now);
        wire_doc_destroy (&reply);
    }
    self->replies_left = count == S_REPLIES_PER_WORK;
}

//  Gives the request in flight up once its deadline has passed.
static void
s_expire (change_feed_t *self, int64_t now)
{
    if (self->ask == S_ASK_NONE || now < self->ask_deadline)
        return;
    char error [256];
    snprintf (error, sizeof error, "no reply from %s within %d ms: is lilac-broker running?%s",
              self->control, self->call_timeout_ms, bus_secured ()
              ? " (if it is, the CURVE handshake may have failed: check the server key, "
                "and that the broker allows our certificate)" : "");
    s_answered (self, NULL, CTL_NO_REPLY, error, now);
}

//  Notes the request just sent (ticket 0: it could not be sent).
static void
s_asked (change_feed_t *self, s_ask_t ask, uint64_t ticket, const char *error, int64_t now)
{
    if (!ticket) {                 //  ctl_send failed: a failure like no reply
        self->ask = ask;
        s_answered (self, NULL, CTL_NO_REPLY, error, now);
        return;
    }
    self->ask = ask;
    self->ask_ticket = ticket;
    self->ask_deadline = now + self->call_timeout_ms;
    self->ask_repositioned = self->repositioned;
}

//  Sends the next request the feed needs, if none is in flight: a snapshot
//  page first, then the jump's ping, the first sync, a catch-up page.
static void
s_ask_next (change_feed_t *self, int64_t now)
{
    char error [WIRE_ERROR_SIZE + 256] = "";
    if (self->ask != S_ASK_NONE)
        return;
    if (self->snapshot.running) {
        uint64_t ticket = ctl_send_snapshot (self->ctl, self->snapshot.cursor, 0,
                                             error, sizeof error);
        s_asked (self, S_ASK_SNAPSHOT, ticket, error, now);
        return;
    }
    if (now < self->next_try_at)
        return;
    if (*self->jump_reason) {
        s_asked (self, S_ASK_JUMP, ctl_send_ping (self->ctl, error, sizeof error), error, now);
        return;
    }
    if (!self->synced && !self->catch_up) {
        if (!self->cursor_from_file) {
            s_asked (self, S_ASK_PING, ctl_send_ping (self->ctl, error, sizeof error), error,
                     now);
            return;
        }
        self->catch_up = true;     //  synced when the catch-up completes
    }
    if (self->catch_up && self->queue_count < FEED_PENDING_MAX) {
        self->stats.catch_ups++;
        self->ask_from = self->horizon;
        uint64_t ticket = ctl_send_since (self->ctl, self->horizon, NULL, FEED_SINCE_LIMIT,
                                          error, sizeof error);
        s_asked (self, S_ASK_SINCE, ticket, error, now);
    }
}

//  --- reading the SUB ---------------------------------------------------------------------

static void
s_mark_gap (change_feed_t *self, const char *what, uint64_t seq)
{
    if (self->catch_up)
        return;
    self->stats.gaps++;
    log_warn ("gap: %sseq %" PRIu64 " after %" PRIu64 "; catching up with since",
              what, seq, self->horizon);
    self->catch_up = true;
}

static void
s_on_change (change_feed_t *self, s_pending_t *pending)
{
    uint64_t seq = pending->change.seq;
    if (!self->synced || s_follow_epoch (self, &pending->change.epoch) != S_EPOCH_SAME
    ||  seq <= self->horizon) {
        s_pending_destroy (&pending);            //  a repeat, or not for us
        return;
    }
    if (seq == self->horizon + 1) {
        if (s_queue_push (self, pending) == 0)
            return;
        self->catch_up = true;                   //  no room: fetch it again later
    }
    else
        s_mark_gap (self, "", seq);
    s_pending_destroy (&pending);
}

static void
s_on_hugz (change_feed_t *self, uint64_t seq, int64_t at, const epoch_t *epoch)
{
    if (!self->synced)
        ;                          //  the first sync covers it
    else
    if (s_follow_epoch (self, epoch) != S_EPOCH_SAME)
        ;                          //  ignored, or caught up from the new epoch
    else
    if (seq > self->horizon)
        s_mark_gap (self, "hugz ", seq);
    else
    if (seq < self->cursor)
        log_limited (&self->malformed_log, "the broker's seq %" PRIu64 " is behind our cursor %"
                     PRIu64 " (a new database?)", seq, self->cursor);
    if (self->on_hugz)
        self->on_hugz (seq, at, self->on_hugz_arg);
}

//  A hugz's `degraded` (text) and `degraded_since` (wall ms), present only
//  while the broker is degraded. 0, or -1 with why (the hugz is malformed).
static int
s_read_health (change_feed_t *self, const msgpack_object *root, char *error,
               size_t error_size)
{
    char *reason = NULL;
    bool has_since = false;
    int64_t since = 0;
    if (wire_get_string (root, "degraded", WIRE_MAX_SUMMARY, &reason, error, error_size)
    ||  wire_get_int (root, "degraded_since", &has_since, &since, error, error_size)) {
        free (reason);
        return -1;
    }
    self->degraded = reason != NULL;
    self->degraded_since = reason && has_since && since > 0 ? since : 0;
    size_t length = reason ? strlen (reason) : 0;
    if (length >= FEED_REASON_MAX) {
        length = FEED_REASON_MAX - 1;
        while (length > 0 && ((unsigned char) reason [length] & 0xC0) == 0x80)
            length--;              //  not inside a UTF-8 character
    }
    memcpy (self->degraded_reason, reason ? reason : "", length);
    self->degraded_reason [length] = 0;
    free (reason);
    return 0;
}

//  Checks and decodes the two frames. Returns 0 (acted on) or -1 with a
//  reason in error.
static int
s_on_message (change_feed_t *self, zmq_msg_t *topic_frame, zmq_msg_t *body_frame,
              char *error, size_t error_size)
{
    size_t topic_size = zmq_msg_size (topic_frame);
    const char *topic_data = zmq_msg_data (topic_frame);
    if (topic_size == 0 || topic_size > WIRE_MAX_TOPIC || memchr (topic_data, '\0', topic_size))
        return error_text (error, error_size, -1, "bad topic frame (%zu bytes)", topic_size);
    char topic [WIRE_MAX_TOPIC + 1];
    memcpy (topic, topic_data, topic_size);
    topic [topic_size] = '\0';
    wire_doc_t *doc = wire_doc_new (zmq_msg_data (body_frame), zmq_msg_size (body_frame),
                                    error, error_size);
    if (!doc)
        return -1;
    const msgpack_object *root = wire_doc_root (doc);
    int rc = 0;
    if (streq (topic, "hugz")) {
        bool has_seq = false, has_at = false, stamped = false;
        int64_t seq = 0, at = 0;
        epoch_t epoch;
        if (wire_get_int (root, "seq", &has_seq, &seq, error, error_size)
        ||  wire_get_int (root, "at", &has_at, &at, error, error_size)
        ||  epoch_decode (root, &epoch, &stamped, error, error_size)
        ||  s_read_health (self, root, error, error_size))
            rc = -1;
        else
        if (!has_seq || !has_at || seq < 0)
            rc = error_text (error, error_size, -1, "hugz without seq or at");
        else
            s_on_hugz (self, (uint64_t) seq, at, &epoch);
    }
    else {
        s_pending_t *pending = s_pending_decode (self, root, error, error_size);
        char expected [WIRE_MAX_TOPIC + 1];
        if (!pending)
            rc = -1;
        else {
            alert_change_topic (expected, sizeof expected, &pending->change);
            if (!streq (expected, topic)) {
                rc = error_text (error, error_size, -1, "topic does not match the body (%s)",
                                 expected);
                s_pending_destroy (&pending);
            }
            else
                s_on_change (self, pending);
        }
    }
    wire_doc_destroy (&doc);
    return rc;
}

//  Reads one message without waiting. Returns 1 if one was read, 0 if none.
static int
s_read_one (change_feed_t *self, void *handle)
{
    zmq_msg_t frames [2];
    zmq_msg_init (&frames [0]);
    zmq_msg_init (&frames [1]);
    if (zmq_msg_recv (&frames [0], handle, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&frames [0]);
        zmq_msg_close (&frames [1]);
        return 0;
    }
    size_t count = 1;
    if (zmq_msg_more (&frames [0]) && zmq_msg_recv (&frames [1], handle, 0) >= 0)
        count = 2;
    bool extra = count == 2 && zmq_msg_more (&frames [1]);
    if (extra) {
        zmq_msg_t rest;
        zmq_msg_init (&rest);
        for (int frame = 0; frame < 1000 && zmq_msg_recv (&rest, handle, 0) >= 0
             && zmq_msg_more (&rest); frame++)
            ;                      //  discard the rest of the message
        zmq_msg_close (&rest);
    }
    char error [WIRE_ERROR_SIZE] = "";
    if (count != 2 || extra)
        snprintf (error, sizeof error, "a change message is two frames");
    else
        s_on_message (self, &frames [0], &frames [1], error, sizeof error);
    if (*error) {
        self->stats.malformed++;
        log_limited (&self->malformed_log, "skipped a malformed message from %s: %s",
                     self->events, error);
    }
    zmq_msg_close (&frames [0]);
    zmq_msg_close (&frames [1]);
    return 1;
}

//  Reads what the SUB holds, up to S_READS_PER_WORK messages.
static void
s_read (change_feed_t *self, int64_t now)
{
    void *handle = zsock_resolve (self->sub);
    int count = 0;
    while (count < S_READS_PER_WORK && s_read_one (self, handle))
        count++;
    self->backlog = count == S_READS_PER_WORK;
    if (count > 0) {
        self->last_heard = now;
        if (self->silent && self->synced) {
            log_info ("heard from %s again; catching up with since", self->events);
            self->silent = false;
            self->catch_up = true;
        }
    }
}

//  --- the silence watchdog ---------------------------------------------

static void
s_watch_silence (change_feed_t *self, int64_t now)
{
    if (!self->silent && now - self->last_heard > FEED_SILENCE_MS) {
        log_warn ("no hugz from %s for %d s: is lilac-broker running?", self->events,
                  FEED_SILENCE_MS / 1000);
        self->silent = true;
        self->next_silent_try = now + FEED_SILENCE_MS;
    }
    if (self->silent && now >= self->next_silent_try) {
        self->catch_up = true;     //  the broker may be back before the SUB hears it
        self->next_silent_try = now + FEED_SILENCE_MS;
    }
}

//  --- delivery ------------------------------------------------------------------------------

//  Hands one change to the owner: an alert's to deliver, a silence's to
//  on_silence. An owner without on_silence never sees a silence's change
//  (the alerts it covers get their `updated` changes): it moves the cursor
//  only, as a DONE.
static feed_result_t
s_hand_over (change_feed_t *self, const s_pending_t *pending,
             change_feed_deliver_fn *deliver, void *arg, int64_t *retry_at)
{
    if (!pending->change.silence_id)
        return deliver (&pending->change, arg, retry_at);
    if (!self->on_silence)
        return FEED_DONE;
    assert (pending->silence);     //  decoded with the change (s_pending_decode)
    return self->on_silence (&pending->change, pending->silence, self->on_silence_arg,
                             retry_at);
}

static void
s_deliver (change_feed_t *self, int64_t now, change_feed_deliver_fn *deliver, void *arg)
{
    if (self->held_until && now < self->held_until)
        return;
    self->held_until = 0;
    s_pending_t *head;
    for (int count = 0; count < S_DELIVERIES_PER_WORK && (head = s_queue_head (self)); count++) {
        int64_t retry_at = 0;
        if (s_hand_over (self, head, deliver, arg, &retry_at) == FEED_RETRY) {
            self->held_until = retry_at > now ? retry_at : now + 1;
            return;
        }
        self->stats.delivered++;
        uint64_t seq = head->change.seq;
        s_queue_pop (self);
        s_cursor_set (self, seq);
        assert (s_invariants_hold (self));
    }
}

//  --- the API ---------------------------------------------------------------------------------

change_feed_t *
change_feed_new (const change_feed_config_t *config, char *error, size_t error_size)
{
    assert (config);
    if (!config->events || !config->control) {
        error_text (error, error_size, -1, "change feed: events and control endpoints are required");
        return NULL;
    }
    change_feed_t *self = mem_alloc (sizeof *self);
    self->hold = UINT64_MAX;
    self->events = mem_strdup (config->events);
    self->control = mem_strdup (config->control);
    self->cursor_file = mem_strdup (config->cursor_file);
    self->call_timeout_ms = config->call_timeout_ms > 0 ? config->call_timeout_ms
                                                        : S_DEFAULT_TIMEOUT_MS;
    self->on_silence = config->on_silence;
    self->on_silence_arg = config->on_silence_arg;
    if (self->cursor_file
    &&  s_cursor_read (self->cursor_file, &self->cursor_from_file, &self->cursor,
                       &self->epoch, error, error_size) != 0) {
        change_feed_destroy (&self);
        return NULL;
    }
    self->horizon = self->cursor;
    self->ctl = ctl_new (self->control, self->call_timeout_ms, false, error, error_size);
    if (!self->ctl) {
        change_feed_destroy (&self);
        return NULL;
    }
    self->sub = bus_open (ZMQ_SUB, self->events, BUS_CONNECT, error, error_size);
    if (!self->sub) {
        change_feed_destroy (&self);
        return NULL;
    }
    if (zmq_setsockopt (zsock_resolve (self->sub), ZMQ_SUBSCRIBE, "", 0) != 0) {
        error_text (error, error_size, -1, "cannot subscribe: %s", zmq_strerror (zmq_errno ()));
        change_feed_destroy (&self);
        return NULL;
    }
    self->last_heard = zclock_mono ();
    return self;
}

void
change_feed_destroy (change_feed_t **self_p)
{
    assert (self_p);
    change_feed_t *self = *self_p;
    if (!self)
        return;
    s_queue_clear (self);
    mem_free (self->queue);
    zsock_destroy (&self->sub);
    ctl_destroy (&self->ctl);
    mem_free (self->events);
    mem_free (self->control);
    mem_free (self->cursor_file);
    mem_free (self);
    *self_p = NULL;
}

zsock_t *
change_feed_socket (change_feed_t *self)
{
    assert (self);
    return self->sub;
}

int
change_feed_poll_items (change_feed_t *self, zmq_pollitem_t *items, int max)
{
    assert (self);
    assert (items || max == 0);
    if (max < FEED_POLL_ITEMS)
        return -1;
    memset (items, 0, FEED_POLL_ITEMS * sizeof *items);
    items [0].socket = zsock_resolve (self->sub);
    items [0].events = ZMQ_POLLIN;
    items [1].socket = zsock_resolve (ctl_socket (self->ctl));
    items [1].events = ZMQ_POLLIN;
    return FEED_POLL_ITEMS;
}

//  Milliseconds until the next request may be sent, or S_MAX_WAKEUP_MS
//  when none is wanted; while one is in flight, until its deadline (its
//  reply wakes the owner through the DEALER before that).
static int64_t
s_request_wakeup (change_feed_t *self, int64_t mono_now)
{
    if (self->ask != S_ASK_NONE)
        return self->ask_deadline - mono_now;
    if (self->snapshot.running)
        return 0;
    if (*self->jump_reason || ((!self->synced || self->catch_up)
                               && self->queue_count < FEED_PENDING_MAX))
        return self->next_try_at - mono_now;
    return S_MAX_WAKEUP_MS;
}

int64_t
change_feed_next_wakeup (change_feed_t *self, int64_t mono_now)
{
    assert (self);
    int64_t wakeup = s_request_wakeup (self, mono_now);
    bool held = self->held_until && mono_now < self->held_until;
    bool deliverable = self->synced && !self->snapshot.running && self->queue_count;
    if (self->backlog || self->replies_left)
        wakeup = 0;
    if (deliverable && !held)
        wakeup = 0;
    if (deliverable && held && self->held_until - mono_now < wakeup)
        wakeup = self->held_until - mono_now;
    if (self->synced && !self->silent
    &&  self->last_heard + FEED_SILENCE_MS + 1 - mono_now < wakeup)
        wakeup = self->last_heard + FEED_SILENCE_MS + 1 - mono_now;
    if (self->synced && self->silent && self->next_silent_try - mono_now < wakeup)
        wakeup = self->next_silent_try - mono_now;
    if (wakeup < 0)
        wakeup = 0;
    return wakeup < S_MAX_WAKEUP_MS ? wakeup : S_MAX_WAKEUP_MS;
}

void
change_feed_work (change_feed_t *self, int64_t mono_now,
                  change_feed_deliver_fn *deliver, void *arg)
{
    assert (self);
    assert (deliver);
    //  Replies first: a first sync answered now lets the SUB's messages
    //  that follow it be kept. The SUB is read before a first sync too
    //  (what is read then is dropped: the sync covers it), so it never
    //  stays readable.
    s_read_replies (self, mono_now);
    s_expire (self, mono_now);
    s_read (self, mono_now);
    if (self->synced)
        s_watch_silence (self, mono_now);
    s_ask_next (self, mono_now);
    if (self->synced && !self->snapshot.running)
        s_deliver (self, zclock_mono (), deliver, arg);
    assert (s_invariants_hold (self));
}

const epoch_t *
change_feed_epoch (change_feed_t *self)
{
    return &self->epoch;
}

uint64_t
change_feed_cursor (change_feed_t *self)
{
    assert (self);
    return self->cursor;
}

bool
change_feed_synced (change_feed_t *self)
{
    assert (self);
    return self->synced;
}

change_feed_stats_t
change_feed_stats (change_feed_t *self)
{
    assert (self);
    return self->stats;
}

change_feed_health_t
change_feed_health (change_feed_t *self)
{
    assert (self);
    change_feed_health_t health = { .last_heard = self->last_heard,
                                    .degraded = self->degraded,
                                    .degraded_since = self->degraded_since };
    snprintf (health.reason, sizeof health.reason, "%s", self->degraded_reason);
    return health;
}

void
change_feed_on_hugz (change_feed_t *self, change_feed_hugz_fn *fn, void *arg)
{
    assert (self);
    self->on_hugz = fn;
    self->on_hugz_arg = arg;
}

int
change_feed_snapshot_start (change_feed_t *self, change_feed_alert_fn *each,
                            change_feed_snapshot_done_fn *done, void *arg)
{
    assert (self);
    assert (each && done);
    if (self->snapshot.running)
        return -1;
    self->snapshot.running = true;
    self->snapshot.cursor = 0;
    self->snapshot.pages = 0;
    self->snapshot.seq = 0;
    self->snapshot.each = each;
    self->snapshot.done = done;
    self->snapshot.arg = arg;
    if (self->ask == S_ASK_PING) {
        self->ask = S_ASK_NONE;    //  the first page starts the feed instead
        self->ask_ticket = 0;      //  (its late reply is dropped)
    }
    return 0;
}

bool
change_feed_snapshot_running (change_feed_t *self)
{
    assert (self);
    return self->snapshot.running;
}

void
change_feed_hold (change_feed_t *self, uint64_t seq)
{
    assert (self);
    uint64_t before = self->cursor < self->hold ? self->cursor : self->hold;
    self->hold = seq;
    uint64_t after = self->cursor < self->hold ? self->cursor : self->hold;
    if (after != before) {
        int rc = s_cursor_save (self);
        (void) rc;                     //  logged; the old cursor is still safe
    }
}
