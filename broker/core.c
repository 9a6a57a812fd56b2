/*  core.c — the broker's core: recording changes, commit then publish,
    refreshes, retention, start and stop. See core.h for a turn.

    Each change is written once. A publishable change puts its alert on
    the `changed` list and its body (the whole alert) on the changes list;
    the turn commits the changes' history rows and the seq, and publishes.
    The history is the log: the alert's row is not rewritten then. The
    alert goes into the row queue, marked with the seq of its first change
    the row lacks, and its row is written at a checkpoint, within
    `checkpoint` ms, in slices after the turn's changes went out; each
    slice also writes the rows seq (store_set_rows_seq): every change up to
    it is in the rows, so a start loads the rows and lays the history after
    it over them (s_replay). Heartbeat refreshes (an event that only moves
    a pending alert's raise time) are the bulk of traffic and publish
    nothing: they wait in the refresh queue and only their times are
    written, in the same slices. So a change costs one history row, a
    change's commit stays a few rows long under any load, and a crash loses
    at most `checkpoint` of refresh time, which restart grace covers, and
    no change.

    The row queue is in seq order of its marks (alerts join it as their
    chunk commits, chunks commit in seq order), so the rows seq after
    writing the k oldest is the next one's mark minus one, or the last seq
    published when it emptied. Rows are written only when every change is
    committed, so a row never holds a change history does not.

    Restart grace: an alert not updated since start whose due time falls
    before started_at + grace is scheduled at started_at + grace instead
    (s_schedule). Nothing else in the broker knows about grace.

    Silences (silences.c) are changes too: a silence's change takes the next
    seq, is a pending_change_t with no entry, and is written in the same
    chunk as its neighbours (its row in `silences`, its history row), so
    commit, publish, `since` and the clean-stop logic treat it like any
    other. Their start and end times are not in the due heap (which holds
    one due time per alert): the broker keeps silence_due, the earliest
    start or end to come among the few silences, and the loop wakes for it
    as for the heap's top; silences_tick then walks the table once.
*/
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include "core_internal.h"
#include "mem.h"
#include "signals.h"
#include "timespec.h"

//  --- recording changes --------------------------------------------------------

//  The entry's row goes out with the next commit.
static void
s_list_change (core_t *self, entry_t *entry)
{
    entry->stale = true;
    entry->touched = entry->checkpointing;  //  what the checkpoint in flight holds is behind
    if (entry->change_listed)
        return;
    if (self->changed_count == self->changed_capacity) {
        self->changed_capacity = self->changed_capacity ? self->changed_capacity * 2 : 1024;
        self->changed = mem_realloc (self->changed, self->changed_capacity * sizeof (entry_t *));
    }
    self->changed [self->changed_count++] = entry;
    entry->change_listed = true;
}

//  The entry's row may wait for the checkpoint: only its times moved.
static void
s_queue_refresh (core_t *self, entry_t *entry)
{
    entry->stale = true;
    entry->touched = entry->checkpointing;
    if (entry->change_listed || entry->refresh_queued || entry->row_queued)
        return;         //  (a row waiting to be written carries the times)
    refresh_queue_push (self->refreshed, entry, self->tick, 0);
    entry->refresh_queued = true;
}

//  Did anyone (a sender or a human) touch the alert since this broker started?
static bool
s_touched_since_start (core_t *self, const alert_t *alert)
{
    return alert->updated_at >= self->started_at || alert->changed_at >= self->started_at
        || alert->acked_at >= self->started_at || alert->acted_at >= self->started_at;
}

static void
s_schedule (core_t *self, entry_t *entry)
{
    alert_t *alert = &entry->alert;
    int64_t due = lifecycle_next_due (alert, self->config.reminder_interval);
    if (due && due < self->grace_until && !s_touched_since_start (self, alert))
        due = self->grace_until;
    due_heap_set (self->heap, entry, due);
}

//  Fills change's one allocation: the body packed in the scratch buffer,
//  then topic, source and id, each ended by a NUL.
static void
s_change_keep (core_t *self, pending_change_t *change, const char *topic, const char *source,
               const char *id)
{
    size_t size = self->scratch.buffer.size;
    size_t topic_size = strlen (topic), source_size = strlen (source) + 1;
    size_t id_size = strlen (id) + 1;
    char *bytes = mem_alloc (size + topic_size + 1 + source_size + id_size);
    memcpy (bytes, self->scratch.buffer.data, size);
    change->body = bytes;
    change->size = size;
    change->topic = memcpy (bytes + size, topic, topic_size + 1);
    change->topic_size = topic_size;
    change->source = memcpy (bytes + size + topic_size + 1, source, source_size);
    change->id = memcpy (bytes + size + topic_size + 1 + source_size, id, id_size);
}

//  Appends change to the list waiting for the commit, its body a copy of
//  the scratch buffer (where the caller packed it).
static void
s_append_change (core_t *self, pending_change_t change, const char *topic, const char *source,
                 const char *id)
{
    if (self->change_count == self->change_capacity) {
        self->change_capacity = self->change_capacity ? self->change_capacity * 2 : 256;
        self->changes = mem_realloc (self->changes,
                                     self->change_capacity * sizeof (pending_change_t));
    }
    s_change_keep (self, &change, topic, source, id);
    self->changes [self->change_count++] = change;
    self->change_bytes += change.size;
}

static void
s_queue_change (core_t *self, entry_t *entry, const char *event, int64_t now)
{
    alert_t *alert = &entry->alert;
    uint64_t prev_seq = alert->seq;
    alert->seq = ++self->seq;
    wire_writer_reset (&self->scratch);
    alert_change_pack (&self->scratch.packer, alert->seq, now, event, alert, &self->epoch);
    char topic [WIRE_MAX_TOPIC];
    alert_topic (topic, sizeof topic, event, alert);
    s_append_change (self, (pending_change_t) {
        .seq = alert->seq, .prev_seq = prev_seq, .at = now, .event = event, .entry = entry,
    }, topic, alert->source, alert->id);
    log_debug ("%s %s/%s seq %" PRIu64 " notify_count %" PRId64,
               event, alert->source, alert->id, alert->seq, alert->notify_count);
}

void
core_record_silence (core_t *self, silence_t *silence, int64_t now)
{
    uint64_t prev_seq = silence->seq;
    silence->seq = ++self->seq;
    snprintf (silence->announced, sizeof silence->announced, "%s", silence_state (silence, now));
    wire_writer_reset (&self->scratch);
    silence_change_pack (&self->scratch.packer, silence->seq, now, silence, &self->epoch);
    char topic [WIRE_MAX_TOPIC];
    snprintf (topic, sizeof topic, SILENCE_TOPIC_PREFIX "%s", silence->id);
    s_append_change (self, (pending_change_t) {
        .seq = silence->seq, .prev_seq = prev_seq, .at = now, .event = SILENCE_EVENT,
        .silence_ends = silence->ends,
    }, topic, "", silence->id);
    log_debug ("silence %s %s seq %" PRIu64, silence->id, silence->announced, silence->seq);
}

void
core_record (core_t *self, entry_t *entry, transition_t transition, int64_t now)
{
    alert_table_recount (self->table, entry);
    if (transition == TRANSITION_NONE)
        return;
    const char *event = transition_name (transition);
    if (event) {
        silences_cover (self, &entry->alert, now);
        s_list_change (self, entry);
        s_queue_change (self, entry, event, now);
    }
    else
        s_queue_refresh (self, entry);
    s_schedule (self, entry);
}

/*  A deletion (a person's `delete`, or retention's) is a change like any
    other: the alert's `deleted` change takes the next seq and goes out in
    a chunk with the DELETE of its row (s_send_chunk), then is published.
    So no deletion waits for its commit inside the loop, on PostgreSQL
    either, and a failing commit retries it like the rest.

    The entry leaves the table (and the due heap) at once: an event for the
    same key meanwhile makes a new alert, whose changes come after the
    deletion's and whose row is written only after they commit. The core
    keeps the entry's memory (the `deleted` list) while anything points at
    it: its changes waiting for their commit (it stays listed until the
    deletion commits), the row and refresh queues, the checkpoint in
    flight. A checkpoint never writes a deleted entry's row or times, and
    one row of it queued from a change before the deletion holds the rows
    seq back until the deletion commits, so a crash meanwhile replays
    that change. s_bury frees it once nothing holds it.
*/
void
core_delete_alert (core_t *self, entry_t *entry, int64_t now)
{
    assert (!entry->deleted);
    s_list_change (self, entry);
    s_queue_change (self, entry, ALERT_EVENT_DELETED, now);
    self->changes [self->change_count - 1].deletion = true;
    due_heap_set (self->heap, entry, 0);
    alert_table_detach (self->table, entry);
    entry->deleted = true;
    if (self->deleted_count == self->deleted_capacity) {
        self->deleted_capacity = self->deleted_capacity ? self->deleted_capacity * 2 : 16;
        self->deleted = mem_realloc (self->deleted, self->deleted_capacity * sizeof (entry_t *));
    }
    self->deleted [self->deleted_count++] = entry;
}

//  Frees the deleted entries nothing points at any more.
static void
s_bury (core_t *self)
{
    size_t kept = 0;
    for (size_t index = 0; index < self->deleted_count; index++) {
        entry_t *entry = self->deleted [index];
        if (entry->change_listed || entry->row_queued || entry->refresh_queued
        ||  entry->checkpointing)
            self->deleted [kept++] = entry;
        else
            alert_table_entry_free (&entry);
    }
    self->deleted_count = kept;
}

//  --- commit, then publish ---------------------------------------------------------

/*  Changes are committed in chunks of at most BROKER_COMMIT_CHUNK, in seq
    order, and each chunk is published as soon as it committed. A chunk
    holds its changes' history rows (and a silence's row) and the seq
    counter at its last change. So a crash between two chunks leaves
    history and seq exactly at the first chunk's last seq, and a backlog
    that grew while commits failed (a full disk) goes out in transactions
    small enough for the space that came back, instead of one that never
    fits. The alerts' rows follow at the checkpoint (the row queue).

    Invariant, checked before each chunk: every change waiting has a seq
    above the last one published, in strictly increasing order, and its
    alert is on the `changed` list.
*/

static void
s_free_change (core_t *self, pending_change_t *change)
{
    self->change_bytes -= change->size;
    mem_free (change->body);
}

//  What holds for every entry between turns, asserted for the entries each
//  commit writes (SQLite pager.c's way: the state written down, and
//  checked where it matters):
//  - a listed entry is stale: its change is not even in history yet;
//  - an entry in the row queue is stale: its row lacks a committed change;
//  - an entry in the due heap has a due time;
//  - a stale entry queued only for its times was written before (its times
//    go over a stored row: a new alert is always a change first);
//  - a deleted entry is in no due heap, and listed until its deletion commits.
static bool
s_entry_holds_invariants (core_t *self, const entry_t *entry)
{
    return (!entry->deleted || entry->heap_index == ALERT_TABLE_NOWHERE)
        && (!entry->change_listed || entry->stale)
        && (!entry->row_queued || entry->stale)
        && (entry->heap_index == ALERT_TABLE_NOWHERE || entry->due_at != 0)
        && (!entry->refresh_queued || entry->change_listed || entry->row_queued
            || !entry->stale || store_handle_written (self->store, entry->store_handle));
}

static bool
s_entries_hold_invariants (core_t *self)
{
    for (size_t index = 0; index < self->changed_count; index++)
        if (!s_entry_holds_invariants (self, self->changed [index]))
            return false;
    for (size_t index = 0; index < self->change_count; index++)
        if (self->changes [index].entry
        &&  !s_entry_holds_invariants (self, self->changes [index].entry))
            return false;
    return true;
}

static bool
s_changes_hold_invariant (core_t *self)
{
    uint64_t previous = self->published_seq;
    for (size_t index = 0; index < self->change_count; index++) {
        const entry_t *entry = self->changes [index].entry;
        if (self->changes [index].seq <= previous || (entry && !entry->change_listed))
            return false;
        previous = self->changes [index].seq;
    }
    return true;
}

//  One chunk: the first count changes, ending at last_seq, in one
//  transaction, sent (s_land reads its answer). 0 / -1.
static int
s_send_chunk (core_t *self, size_t count, uint64_t last_seq)
{
    if (store_begin (self->store, true))
        return -1;
    for (size_t index = 0; index < count; index++) {
        pending_change_t *change = &self->changes [index];
        alert_t key = { .source = change->source, .id = change->id };
        if (!change->entry
        &&  store_put_silence (self->store, change->id, change->silence_ends, change->seq,
                               change->body, change->size))
            return -1;
        if (store_put_change (self->store, change->seq, change->at, change->event,
                              &key, change->body, change->size, change->prev_seq))
            return -1;
        if (change->deletion
        &&  store_delete_alert (self->store, change->source, change->id,
                                change->entry->store_handle))
            return -1;
    }
    if (count && store_set_seq (self->store, last_seq))
        return -1;
    return store_commit_send (self->store);
}

//  The entry's row lacks a committed change from mark on: into the row
//  queue (once), for the checkpoint.
static void
s_queue_row (core_t *self, entry_t *entry, uint64_t mark)
{
    entry->stale = true;
    if (entry->row_queued)
        return;
    refresh_queue_push (self->rows, entry, self->tick, mark);
    entry->row_queued = true;
}

//  Has entry's deletion committed, up to last_seq? (It is its last change.)
static bool
s_deletion_committed (const entry_t *entry, uint64_t last_seq)
{
    return entry->deleted && entry->alert.seq <= last_seq;
}

//  The chunk committed: its alerts join the row queue, in seq order, but
//  for those whose deletion it holds (their rows are gone); an alert with
//  no change after last_seq leaves the `changed` list (one listed without a
//  change, a row repaired at start, joins the queue marked after
//  everything published).
static void
s_settle_rows (core_t *self, size_t count, uint64_t last_seq)
{
    for (size_t index = 0; index < count; index++) {
        entry_t *entry = self->changes [index].entry;
        if (entry && !s_deletion_committed (entry, last_seq))
            s_queue_row (self, entry, self->changes [index].seq);
    }
    size_t kept = 0;
    for (size_t index = 0; index < self->changed_count; index++) {
        entry_t *entry = self->changed [index];
        if (entry->alert.seq <= last_seq) {
            entry->change_listed = false;
            if (!entry->deleted)
                s_queue_row (self, entry, last_seq == UINT64_MAX ? self->published_seq + 1
                                                                 : last_seq + 1);
        }
        else
            self->changed [kept++] = entry;
    }
    self->changed_count = kept;
}

//  Hands [topic, body] to the loop's PUB socket.
static int
s_publish (core_t *self, const char *topic, const void *body, size_t size)
{
    return self->publish (self->publish_arg, topic, body, size);
}

//  Publishes the first count changes and drops them from the list.
static void
s_publish_changes (core_t *self, size_t count)
{
    for (size_t index = 0; index < count; index++) {
        pending_change_t *change = &self->changes [index];
        if (s_publish (self, change->topic, change->body, change->size) == 0)
            self->stats.published++;
        self->published_seq = change->seq;
        s_free_change (self, change);
    }
    self->change_count -= count;
    if (count && self->change_count)
        memmove (self->changes, self->changes + count,
                 self->change_count * sizeof (pending_change_t));
}

//  After any write failed: is the store lost to this broker (fenced, the
//  session gone)? Then the core stops, said once.
static void
s_check_lost (core_t *self)
{
    if (!store_lost (self->store) || self->lost)
        return;
    log_error ("stopping without writing at seq %" PRIu64 ": %s (%zu changes not published)",
               self->published_seq, store_error (self->store), self->change_count);
    self->lost = true;
}

//  A write failed: roll back; everything stays queued for the retry, and
//  the broker says it is degraded (hugz, ping, stats) until a write succeeds.
static void
s_write_failed (core_t *self)
{
    const char *why = store_error (self->store);
    s_check_lost (self);
    log_limited (&self->store_log, "cannot write to %s: %s (will retry; %zu changes, "
                 "%zu KiB waiting)", self->database_shown, why, self->change_count,
                 self->change_bytes / 1024);
    if (!self->degraded_since) {
        self->degraded_since = clock_now_ms ();
        snprintf (self->degraded_reason, sizeof self->degraded_reason,
                  "commits to %.100s failing: %.130s", self->database_shown, why);
    }
    store_rollback (self->store);
    self->stats.commit_failures++;
    self->retry_commit_at = self->tick + BROKER_COMMIT_RETRY_MS;
}

static void
s_write_succeeded (core_t *self)
{
    if (self->degraded_since) {
        char took [32];
        log_info ("writes to %s succeed again after %s; %zu changes still to write",
                  self->database_shown,
                  duration_format (clock_now_ms () - self->degraded_since, took, sizeof took),
                  self->change_count);
        self->degraded_since = 0;
        self->degraded_reason [0] = 0;
    }
    self->retry_commit_at = 0;
}

//  Before retrying a failed write: give the log's space back (a checkpoint
//  that truncates it), so room freed on a full disk is usable. Failing is
//  expected while the disk is still full; the retry will say so.
static void
s_release_log (core_t *self)
{
    if (store_release_log (self->store))
        log_debug ("cannot truncate the log of %s yet: %s", self->database_shown,
                   store_error (self->store));
}

//  A chunk's answer came: committed. Its alerts join the row queue, its
//  changes are published.
static void
s_chunk_committed (core_t *self, size_t count, uint64_t last_seq)
{
    self->stats.commits++;
    s_write_succeeded (self);
    s_settle_rows (self, count, last_seq);
    s_publish_changes (self, count);
    s_bury (self);
}

static void s_checkpoint_landed (core_t *self, size_t rows, size_t times, bool committed);
static void s_retention_landed (core_t *self, bool committed);

/*  One transaction is in flight at a time: a chunk of changes, a
    checkpoint or a retention run. On SQLite its answer is there when it was sent; on
    PostgreSQL it comes on the store's socket, which the loop polls beside
    its own (core_poll_fd), and the loop goes on meanwhile: ingest is
    applied, control answered, timers fired, into the changes waiting
    behind the chunk in flight. Nothing of a chunk is published before its
    answer said committed.

    Reads the answer of the transaction in flight: 1 still waiting, 0 none
    in flight (any answer settled), -1 it failed (rolled back, degraded).
*/
static int
s_land (core_t *self)
{
    if (self->flight == FLIGHT_NONE)
        return 0;
    int rc = store_commit_poll (self->store);
    if (rc == 1)
        return 1;
    flight_t flight = self->flight;
    self->flight = FLIGHT_NONE;
    if (flight == FLIGHT_CHECKPOINT)
        s_checkpoint_landed (self, self->flight_rows, self->flight_times, rc == 0);
    if (flight == FLIGHT_RETENTION) {
        s_retention_landed (self, rc == 0);
        return 0;               //  a failed run is said and retried at the next period
    }
    if (rc) {
        s_write_failed (self);
        return -1;
    }
    if (flight == FLIGHT_CHUNK)
        s_chunk_committed (self, self->flight_count, self->flight_last_seq);
    return 0;
}

//  Sends what changed, chunk by chunk, each published once committed. 0
//  all written, 1 a chunk is in flight, -1 failed.
static int
s_commit (core_t *self)
{
    if (self->retry_commit_at)
        s_release_log (self);
    while (self->changed_count || self->change_count) {
        assert (s_changes_hold_invariant (self));
        assert (s_entries_hold_invariants (self));
        size_t count = self->change_count < BROKER_COMMIT_CHUNK
                     ? self->change_count : BROKER_COMMIT_CHUNK;
        uint64_t last_seq = count ? self->changes [count - 1].seq : UINT64_MAX;
        if (s_send_chunk (self, count, last_seq)) {
            s_write_failed (self);
            return -1;
        }
        self->flight = FLIGHT_CHUNK;
        self->flight_count = count;
        self->flight_last_seq = last_seq;
        int rc = s_land (self);
        if (rc)
            return rc;
    }
    self->retry_commit_at = 0;          //  the refreshes may try again
    return 0;
}

//  After a failure, only the retry time; otherwise at once when there is news.
static bool
s_commit_due (core_t *self)
{
    if (self->retry_commit_at)
        return self->tick >= self->retry_commit_at;
    return self->change_count || self->changed_count;
}

//  While writes fail, or while PostgreSQL answers a commit slower than
//  events arrive, unwritten changes pile up in memory; past a bound the
//  loop stops reading ingest (PUSH senders queue, agents hold their latest
//  state) until the backlog is written.
static bool
s_backlog_full (core_t *self)
{
    return (self->retry_commit_at || self->flight != FLIGHT_NONE)
        && (self->change_count >= BROKER_BACKLOG_CHANGES
         || self->change_bytes >= BROKER_BACKLOG_BYTES);
}

int
core_pack_identity (core_t *self, msgpack_packer *out)
{
    epoch_pack (out, &self->epoch);
    wire_pack_key_string (out, "boot", self->boot);
    return 2;
}

//  Why the broker is degraded, and since when (wall ms): failing commits
//  first, then failing reads, then too few standbys; NULL when it is not.
static const char *
s_degraded (core_t *self, int64_t *since)
{
    *since = self->degraded_since ? self->degraded_since
           : self->reads_failing_since ? self->reads_failing_since
           : self->standbys_short_since;
    return self->degraded_since ? self->degraded_reason
         : self->reads_failing_since ? self->reads_failing_reason
         : self->standbys_short_since ? self->standbys_short_reason : NULL;
}

int
core_pack_health (core_t *self, msgpack_packer *out)
{
    int64_t since;
    const char *why = s_degraded (self, &since);
    if (!why)
        return 0;
    wire_pack_key_string (out, "degraded", why);
    wire_pack_key_int (out, "degraded_since", since);
    return 2;
}

bool
core_degraded (core_t *self)
{
    int64_t since;
    return s_degraded (self, &since) != NULL;
}

//  --- the checkpoint: rows and refreshes -----------------------------------------------

//  A queued row or refresh is ripe at nine tenths of `checkpoint`, overdue
//  at all of it.
static int64_t
s_ripe_age (core_t *self)
{
    return self->config.checkpoint - self->config.checkpoint / 10;
}

//  How many of the oldest entries of queue to write now: every overdue
//  one, and up to BROKER_REFRESH_SLICE ripe ones once per
//  BROKER_REFRESH_GAP_MS; all of them when stopping. The tenth of
//  `checkpoint` between ripe and overdue lets a steady load go out in
//  short, even slices (256 rows cost well under a millisecond) instead of
//  one long write per checkpoint that a change arriving meanwhile would
//  wait behind; only a load beyond what the slices carry falls back to
//  writing what is overdue whole.
static size_t
s_queue_due (core_t *self, refresh_queue_t *queue, bool everything)
{
    size_t size = refresh_queue_size (queue);
    if (size > BROKER_CHECKPOINT_MAX)
        size = BROKER_CHECKPOINT_MAX;       //  one transaction stays a bounded round trip
    if (everything)
        return size;
    bool slice_open = self->tick >= self->next_refresh_write;
    size_t count = 0;
    while (count < size) {
        int64_t since;
        refresh_queue_peek (queue, count, &since);
        if (since + self->config.checkpoint <= self->tick
        ||  (slice_open && count < BROKER_REFRESH_SLICE && since + s_ripe_age (self) <= self->tick))
            count++;
        else
            break;
    }
    return count;
}

//  The rows seq once the rows oldest queued rows are written.
static uint64_t
s_rows_seq_after (core_t *self, size_t rows)
{
    if (rows < refresh_queue_size (self->rows))
        return refresh_queue_mark (self->rows, rows) - 1;
    return self->published_seq;
}

//  Of the count oldest queued rows, how many may be written now: those
//  before the first alert with a change not committed yet (a row never
//  holds a change history does not; that alert's row waits for its commit).
static size_t
s_rows_ready (core_t *self, size_t count)
{
    int64_t since;
    size_t ready = 0;
    while (ready < count && !refresh_queue_peek (self->rows, ready, &since)->change_listed)
        ready++;
    return ready;
}

//  May this refreshed alert's times be written now? Not when its whole row
//  waits (it carries them), nor before its change's commit.
static bool
s_times_ready (const entry_t *entry)
{
    return entry->stale && !entry->row_queued && !entry->change_listed && !entry->deleted;
}

//  In one transaction of its own, sent (s_land reads its answer): the
//  whole rows of the `rows` oldest entries of the row queue, with the rows
//  seq that follows, and the times of the `times` oldest queued refreshes
//  (all a refresh moves, a row a tenth the size of the alert's) that are
//  ready. A deleted entry's row is skipped: its deletion committed (the
//  rows ready), and the store must not hold it again. 0 / -1.
static int
s_send_checkpoint (core_t *self, size_t rows, size_t times)
{
    int64_t since;
    int written = store_begin (self->store, false);
    for (size_t index = 0; written == 0 && index < rows; index++) {
        entry_t *entry = refresh_queue_peek (self->rows, index, &since);
        assert (s_entry_holds_invariants (self, entry));
        if (entry->deleted)
            continue;
        written = store_put_alert (self->store, &entry->alert, &entry->store_handle);
        entry->checkpointing = true;
    }
    if (written == 0 && rows)
        written = store_set_rows_seq (self->store, s_rows_seq_after (self, rows));
    for (size_t index = 0; written == 0 && index < times; index++) {
        entry_t *entry = refresh_queue_peek (self->refreshed, index, &since);
        if (s_times_ready (entry)) {
            assert (store_handle_written (self->store, entry->store_handle));    //  a new alert is a change first
            written = store_put_times (self->store, &entry->alert, entry->store_handle);
            entry->checkpointing = true;
        }
    }
    return written ? -1 : store_commit_send (self->store);
}

//  After a checkpoint's answer: what it wrote of the entry is on disk
//  unless the entry changed or was refreshed while the answer was awaited
//  (touched): then it is still behind.
static void
s_checkpoint_settle (entry_t *entry, bool committed)
{
    if (committed && !entry->touched)
        entry->stale = false;
    entry->checkpointing = false;
    entry->touched = false;
}

//  An entry still behind after a checkpoint, in no queue and not listed
//  (a refresh while its row was in flight): its times go in the refresh
//  queue (its row is written: they go over it). A change of it joins the
//  row queue at its commit anyway.
static void
s_requeue_if_behind (core_t *self, entry_t *entry)
{
    if (entry->stale && !entry->change_listed && !entry->row_queued && !entry->refresh_queued
    &&  !entry->deleted) {
        refresh_queue_push (self->refreshed, entry, self->tick, 0);
        entry->refresh_queued = true;
    }
}

//  A checkpoint's answer came (committed or not). Committed: its rows and
//  times are written, and they leave their queues (the times not written
//  too: their rows carry them).
static void
s_checkpoint_landed (core_t *self, size_t rows, size_t times, bool committed)
{
    int64_t since;
    for (size_t index = 0; index < rows; index++) {
        entry_t *entry = refresh_queue_peek (self->rows, index, &since);
        if (committed) {
            entry->row_queued = false;
            store_row_committed (self->store, &entry->store_handle);
        }
        s_checkpoint_settle (entry, committed);
    }
    for (size_t index = 0; index < times; index++) {
        entry_t *entry = refresh_queue_peek (self->refreshed, index, &since);
        if (committed)
            entry->refresh_queued = false;
        if (entry->checkpointing && committed)
            store_times_committed (self->store, &entry->store_handle);
        if (entry->checkpointing)
            s_checkpoint_settle (entry, committed);
    }
    if (!committed)
        return;
    self->stats.commits++;
    s_write_succeeded (self);
    if (rows)
        self->rows_seq = s_rows_seq_after (self, rows);
    //  (pushed at the tail: the pops below take only what was there before)
    for (size_t index = 0; index < rows; index++)
        s_requeue_if_behind (self, refresh_queue_peek (self->rows, index, &since));
    for (size_t index = 0; index < times; index++)
        s_requeue_if_behind (self, refresh_queue_peek (self->refreshed, index, &since));
    refresh_queue_pop (self->rows, rows);
    refresh_queue_pop (self->refreshed, times);
    self->next_refresh_write = self->tick + BROKER_REFRESH_GAP_MS;
    s_bury (self);
}

//  Reads the answer in flight, sends the turn's changes, then the
//  checkpoint's slice that is due (everything: all of it), then, with
//  everything published, copies the log into the database if it has grown.
//  0 done, 1 a transaction is in flight, -1 a write failed.
static int
s_write_some (core_t *self, bool everything)
{
    int rc = s_land (self);
    if (rc)
        return rc;
    if (s_commit_due (self) && (rc = s_commit (self)) != 0)
        return rc;
    if (self->retry_commit_at)
        return -1;
    size_t rows = s_rows_ready (self, s_queue_due (self, self->rows, everything));
    size_t times = s_queue_due (self, self->refreshed, everything);
    if (rows || times) {
        if (s_send_checkpoint (self, rows, times)) {
            s_checkpoint_landed (self, rows, times, false);
            s_write_failed (self);
            return -1;
        }
        self->flight = FLIGHT_CHECKPOINT;
        self->flight_rows = rows;
        self->flight_times = times;
        if ((rc = s_land (self)) != 0)
            return rc;
    }
    if (store_maintain (self->store))
        log_limited (&self->store_log, "upkeep of %s (a checkpoint) failed: %s (will retry)",
                     self->database_shown, store_error (self->store));
    return 0;
}

//  Waits (bounded by the store's deadline) until the transaction in flight
//  may have its answer.
static void
s_wait_flight (core_t *self)
{
    short events = 0;
    int fd = self->flight == FLIGHT_NONE ? -1 : store_poll_fd (self->store, &events);
    if (fd < 0)
        return;
    int64_t left = store_poll_deadline (self->store) - zclock_mono ();
    struct pollfd item = { fd, events, 0 };
    if (poll (&item, 1, left > 0 ? (int) left : 0) < 0 && errno != EINTR)
        log_limited (&self->store_log, "poll: %s", strerror (errno));
}

//  Alerts whose rows still wait to be written (one may be counted twice),
//  and a transaction in flight.
static size_t
s_unwritten (core_t *self)
{
    return self->changed_count + self->change_count + refresh_queue_size (self->refreshed)
         + refresh_queue_size (self->rows) + (self->flight != FLIGHT_NONE);
}

//  Writes everything now, each answer waited for (bounded): stopping. 0,
//  or -1 when a write failed.
static int
s_write_all (core_t *self)
{
    for (int round = 0; round < BROKER_WRITE_ALL_ROUNDS; round++) {
        int rc = s_write_some (self, true);
        if (rc == 1)
            s_wait_flight (self);
        else
        if (rc < 0)
            return -1;
        else
        if (!s_unwritten (self))
            return 0;
    }
    return -1;
}

static void
s_write (core_t *self)
{
    s_write_some (self, self->finishing);
}

//  --- timers and hugz ------------------------------------------------------------------------

static void
s_fire_due (core_t *self, int64_t now)
{
    entry_t *entry;
    for (int count = 0; count < BROKER_FIRE_PER_TURN
         && (entry = due_heap_due (self->heap, now)); count++) {
        transition_t transition = lifecycle_fire (&entry->alert, now, self->config.reminder_interval);
        if (transition == TRANSITION_NONE) {
            s_schedule (self, entry);
            if (entry->due_at && entry->due_at <= now) {
                log_error ("bug: %s/%s due at %" PRId64 " but nothing fires; unscheduled",
                           entry->alert.source, entry->alert.id, entry->due_at);
                due_heap_set (self->heap, entry, 0);
            }
        }
        else
            core_record (self, entry, transition, now);
    }
}

//  A database deleted or replaced under the running broker (every later
//  write would go into an unlinked file, or beside the new one), or, on
//  PostgreSQL, a session gone and the lock with it (another broker may be
//  active now): a fatal stop, logged; a restart opens what is at the path
//  now (a new epoch, which subscribers follow), or waits as a standby.
static bool
s_file_intact (core_t *self)
{
    char why [600];
    if (store_file_intact (self->store, why, sizeof why) == 0)
        return true;
    log_error ("the database was deleted, replaced or taken over under the running broker: "
               "%s; stopping at seq %" PRIu64 " without writing %zu unwritten changes into it", why,
               self->published_seq, self->change_count);
    return false;
}

bool
core_hugz (core_t *self, int64_t now)
{
    if (!s_file_intact (self))
        return false;               //  not a word more from a broker that is not the one
    wire_writer_reset (&self->scratch);
    msgpack_pack_map (&self->scratch.packer, 5 + (core_degraded (self) ? 2 : 0));
    wire_pack_key_int (&self->scratch.packer, "v", WIRE_VERSION);
    wire_pack_key_int (&self->scratch.packer, "seq", (int64_t) self->published_seq);
    wire_pack_key_int (&self->scratch.packer, "at", now);
    core_pack_identity (self, &self->scratch.packer);
    core_pack_health (self, &self->scratch.packer);
    s_publish (self, "hugz", self->scratch.buffer.data, self->scratch.buffer.size);
    return true;
}

/*  Retention deletes history and silences older than the retention, and
    cleared alerts nobody touched for as long, in bounded runs between
    turns (a long backlog is worked off over several turns, one run a
    turn). It waits while writes fail or another transaction is in flight
    (s_retain).

    The alerts' deletions are changes (core_delete_alert), written in the
    turn's chunk and published after their commit, so mirrors drop them.
    The pruning of history and silences is a transaction of its own, in
    flight like a checkpoint while the loop goes on (FLIGHT_RETENTION; on
    PostgreSQL a DELETE of thousands of rows takes tens of ms): nothing of
    it is published, and its counts come with the answer. A snapshot
    paging meanwhile is not disturbed (alert_table.h).
*/

//  Deletes the cleared alerts nobody has sent or touched since cutoff, at
//  most BROKER_PRUNE_PER_RUN of them (gathered first: a deletion moves the
//  table's entries). Returns how many.
static size_t
s_delete_expired (core_t *self, int64_t cutoff, int64_t now)
{
    entry_t **expired = mem_alloc (BROKER_PRUNE_PER_RUN * sizeof (entry_t *));
    size_t count = 0;
    size_t span = alert_table_span (self->table);
    for (size_t position = 0; position < span && count < BROKER_PRUNE_PER_RUN; position++) {
        entry_t *entry = alert_table_at (self->table, position);
        if (entry && entry->alert.state == ALERT_CLEARED
        &&  entry->alert.changed_at < cutoff && entry->alert.updated_at < cutoff)
            expired [count++] = entry;
    }
    for (size_t index = 0; index < count; index++)
        core_delete_alert (self, expired [index], now);
    mem_free (expired);
    return count;
}

//  The rows seq retention writes: with no row waiting, the rows hold
//  everything published, and it catches up with changes that queue no row
//  (silences, deletions).
static uint64_t
s_retention_rows_seq (core_t *self)
{
    return refresh_queue_size (self->rows) ? self->rows_seq : self->published_seq;
}

//  Opens the run's transaction: the rows seq, then history and silences
//  pruned (counted into the core's retention counts). 0 / -1.
static int
s_send_prune (core_t *self, int64_t cutoff, uint64_t rows_seq)
{
    return store_begin (self->store, false) == 0
        && (rows_seq == self->rows_seq || store_set_rows_seq (self->store, rows_seq) == 0)
        && store_prune_history (self->store, cutoff, rows_seq, BROKER_PRUNE_PER_RUN,
                                &self->retention_history) == 0
        && store_prune_silences (self->store, cutoff, &self->retention_silences) == 0 ? 0 : -1;
}

//  A run's answer came (s_land). Committed: what is in memory follows, and
//  a full run asks for the next at once. Changes applied meanwhile hold the
//  seqs after it.
static void
s_retention_landed (core_t *self, bool committed)
{
    if (!committed) {
        log_error ("retention failed: %s", store_error (self->store));
        store_rollback (self->store);
        s_check_lost (self);
        return;
    }
    int history = self->retention_history;
    self->rows_seq = self->flight_rows_seq;
    if (self->retention_silences)
        silences_forget (self, self->flight_cutoff);
    if (history == BROKER_PRUNE_PER_RUN)
        self->next_retention = self->tick;          //  more to do: next turn
    if (history) {
        char age [32];
        log_info ("retention: deleted %d history rows older than %s", history,
                  duration_format (self->config.retention, age, sizeof age));
    }
}

//  A run first reads the answer of the transaction in flight; while one
//  is still out, or writes fail, it is tried again a moment later.
//  core_work runs it before the turn's chunk, so a steady load (a chunk in
//  flight at the end of every turn, on PostgreSQL) cannot put it off for
//  good.
static void
s_retain (core_t *self, int64_t now)
{
    if (s_land (self) != 0 || self->retry_commit_at) {
        self->next_retention = self->tick + BROKER_COMMIT_RETRY_MS;
        return;
    }
    self->next_retention = self->tick + self->retention_period;
    int64_t cutoff = now - self->config.retention;
    //  (deletions add to the changes waiting: not while they pile up)
    size_t alerts = self->change_count < BROKER_BACKLOG_CHANGES / 2
                  ? s_delete_expired (self, cutoff, now) : 0;
    if (alerts) {
        char age [32];
        log_info ("retention: deleting %zu cleared alerts untouched for %s", alerts,
                  duration_format (self->config.retention, age, sizeof age));
    }
    if (alerts == BROKER_PRUNE_PER_RUN)
        self->next_retention = self->tick;          //  more to do: next turn
    uint64_t rows_seq = s_retention_rows_seq (self);
    if (s_send_prune (self, cutoff, rows_seq) || store_commit_send (self->store)) {
        s_retention_landed (self, false);
        return;
    }
    self->flight = FLIGHT_RETENTION;
    self->flight_rows_seq = rows_seq;
    self->flight_cutoff = cutoff;
    s_land (self);
}

//  --- start and stop ---------------------------------------------------------------

static void
s_adopt_loaded (alert_t *alert, store_handle_t handle, void *arg)
{
    core_t *self = arg;
    entry_t *entry = alert_table_find (self->table, alert->source, alert->id);
    if (entry) {
        log_error ("duplicate stored alert %s/%s skipped", alert->source, alert->id);
        alert_clear_fields (alert);
        return;
    }
    entry = alert_table_adopt (self->table, alert);
    entry->store_handle = handle;
}

//  Where a replay of history over the rows stands.
typedef struct {
    core_t *self;
    uint64_t after;                //  the last seq read
    size_t replayed;               //  changes laid over a row
} s_replay_t;

//  Lays one change after the rows seq over the table: its body is the
//  whole alert as it stood then. A row that holds it already (its seq is
//  not older) is left alone: it may hold newer times too.
static void
s_replay_one (uint64_t seq, const void *body, size_t size, void *arg)
{
    s_replay_t *replay = arg;
    core_t *self = replay->self;
    replay->after = seq;
    char error [WIRE_ERROR_SIZE];
    alert_change_t change = { 0 };
    wire_doc_t *doc = wire_doc_new (body, size, error, sizeof error);
    if (!doc || alert_change_decode (wire_doc_root (doc), &change, error, sizeof error)) {
        log_error ("history row %" PRIu64 " does not decode (%s): not replayed", seq, error);
        wire_doc_destroy (&doc);
        return;
    }
    wire_doc_destroy (&doc);
    entry_t *entry = change.silence_id ? NULL
                   : alert_table_find (self->table, change.alert.source, change.alert.id);
    if (change.silence_id || (entry && entry->alert.seq >= seq))
        ;                           //  a silence's row is written with its change
    else
    if (strcmp (change.event, ALERT_EVENT_DELETED) == 0) {
        if (entry)
            alert_table_remove (self->table, entry);
    }
    else {
        if (entry)
            alert_table_replace (self->table, entry, &change.alert);
        else
            entry = alert_table_adopt (self->table, &change.alert);
        entry->stale = true;        //  its row is behind: s_settle_loaded queues it
        replay->replayed++;
    }
    alert_change_free (&change);
}

//  The history committed after the last checkpoint, laid over the rows
//  loaded, oldest first. 0 / -1.
static int
s_replay (core_t *self)
{
    if (store_rows_seq (self->store, &self->rows_seq))
        return -1;
    s_replay_t replay = { self, self->rows_seq, 0 };
    size_t count = 0;
    do {
        if (store_since (self->store, replay.after, BROKER_REPLAY_PAGE, s_replay_one, &replay,
                         &count))
            return -1;
    } while (count == BROKER_REPLAY_PAGE);
    if (replay.after > self->rows_seq)
        log_info ("replayed %zu changes after seq %" PRIu64 " over the rows (up to seq %"
                  PRIu64 ")", replay.replayed, self->rows_seq, replay.after);
    return 0;
}

//  After the load and the replay, every entry once: a row with an
//  impossible state is repaired (a change of its own, listed), a replayed
//  one joins the row queue, and each is scheduled.
static void
s_settle_loaded (core_t *self)
{
    size_t span = alert_table_span (self->table);
    for (size_t position = 0; position < span; position++) {
        entry_t *entry = alert_table_at (self->table, position);
        if (!entry)
            continue;
        const char *repaired = lifecycle_repair (&entry->alert, self->started_at);
        if (entry->stale)           //  replayed: the rows seq holds until it is written
            s_queue_row (self, entry, self->rows_seq + 1);
        if (repaired) {
            log_warn ("stored alert %s/%s had %s: repaired", entry->alert.source,
                      entry->alert.id, repaired);
            s_list_change (self, entry);
        }
        s_schedule (self, entry);
    }
}

//  Makes the database's directory, opens the store, loads alerts and
//  silences, resumes the seq and begins the epoch. 0 / -1 with error.
static int
s_open_store (core_t *self, char *error, size_t error_size)
{
    const char *database = self->config.database;
    store_redact (database, self->database_shown, sizeof self->database_shown);
    char dir [4096];
    snprintf (dir, sizeof dir, "%s", database);
    char *slash = store_is_postgresql (database) ? NULL : strrchr (dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (paths_make_dirs (dir, error, error_size))
            return -1;
    }
    self->store = store_open (database, self->config.durability_full, error, error_size);
    if (!self->store)
        return -1;
    //  A standby waited in store_open: "start", for restart grace, is the
    //  moment this broker became the active one
    self->started_at = clock_now_ms ();
    self->grace_until = self->started_at + self->config.grace;
    //  The standbys are first counted a while after: brokers started
    //  together, or the one a takeover left (restarted as a standby), have
    //  had time to connect and wait
    self->next_standby_count = zclock_mono () + BROKER_STANDBYS_FIRST_MS;
    if (store_last_seq (self->store, &self->seq)
    ||  store_load (self->store, s_adopt_loaded, self)
    ||  s_replay (self)
    ||  silences_load (self)) {
        snprintf (error, error_size, "cannot load %s: %s", self->database_shown,
                  store_error (self->store));
        return -1;
    }
    self->published_seq = self->seq;
    s_settle_loaded (self);
    self->silence_due = self->started_at;   //  the first turn checks every silenced_by
    const char *why = NULL;
    if (store_epoch_start (self->store, self->seq, &self->epoch, &why)
    ||  epoch_new_db_id (self->boot)) {
        snprintf (error, error_size, "cannot start an epoch in %s: %s", self->database_shown,
                  store_error (self->store));
        return -1;
    }
    char epoch [64];
    epoch_format (&self->epoch, epoch, sizeof epoch);
    if (why)
        log_info ("epoch %s begins: %s", epoch, why);
    else
        log_info ("epoch %s goes on (the last run stopped cleanly)", epoch);
    return 0;
}

core_t *
core_new (const broker_config_t *config, bool secured, core_publish_fn *publish,
          void *publish_arg, char *error, size_t error_size)
{
    core_t *self = mem_alloc (sizeof (core_t));
    broker_config_copy (&self->config, config);
    self->secured = secured;
    self->publish = publish;
    self->publish_arg = publish_arg;
    self->started_at = clock_now_ms ();
    self->grace_until = self->started_at + config->grace;
    self->tick = zclock_mono ();
    self->retention_period = config->retention < BROKER_RETENTION_MS
                           ? config->retention : BROKER_RETENTION_MS;
    self->next_retention = self->tick + self->retention_period;
    self->standbys = -1;
    wire_writer_init (&self->scratch);
    self->table = alert_table_new ();
    self->heap = due_heap_new ();
    self->refreshed = refresh_queue_new ();
    self->rows = refresh_queue_new ();
    self->recent_tx = tx_window_new ();
    if (!self->table || !self->recent_tx) {
        snprintf (error, error_size, "out of memory");
        core_destroy (&self);
        return NULL;
    }
    if (s_open_store (self, error, error_size)) {
        core_destroy (&self);
        return NULL;
    }
    return self;
}

void
core_destroy (core_t **self_p)
{
    if (!*self_p)
        return;
    core_t *self = *self_p;
    for (size_t index = 0; index < self->change_count; index++)
        s_free_change (self, &self->changes [index]);
    mem_free (self->changes);
    mem_free (self->changed);
    for (size_t index = 0; index < self->deleted_count; index++)
        alert_table_entry_free (&self->deleted [index]);
    mem_free (self->deleted);
    refresh_queue_destroy (&self->refreshed);
    refresh_queue_destroy (&self->rows);
    due_heap_destroy (&self->heap);
    silences_destroy (self);
    core_reads_destroy (self);
    alert_table_destroy (&self->table);
    tx_window_destroy (&self->recent_tx);
    store_destroy (&self->store);
    wire_writer_free (&self->scratch);
    broker_config_free (&self->config);
    mem_free (self);
    *self_p = NULL;
}

void
core_begin_turn (core_t *self, int64_t tick)
{
    self->tick = tick;
}

void
core_work (core_t *self, int64_t now)
{
    s_fire_due (self, now);
    if (self->silence_due && now >= self->silence_due)
        silences_tick (self, now);
    if (self->tick >= self->next_retention)
        s_retain (self, now);
    s_write (self);
    if (self->tick >= self->next_standby_count) {
        self->next_standby_count = self->tick + BROKER_STANDBYS_MS;
        core_count_standbys (self);
    }
    core_reads_work (self, false);
}

int
core_poll_fd (core_t *self, short *events)
{
    return self->flight == FLIGHT_NONE ? -1 : store_poll_fd (self->store, events);
}

bool
core_lost (core_t *self)
{
    return self->lost;
}

size_t
core_unpublished (core_t *self)
{
    return self->change_count + self->changed_count;
}

bool
core_backlog_full (core_t *self)
{
    bool paused = s_backlog_full (self);
    if (paused != self->ingest_paused) {
        self->ingest_paused = paused;
        bool degraded = self->retry_commit_at != 0;     //  else flow control: the
        if (paused && degraded)                         //  database is only behind
            log_warn ("ingest paused: %zu changes (%zu KiB) not written to %s",
                      self->change_count, self->change_bytes / 1024, self->database_shown);
        else
        if (paused)
            log_debug ("ingest paused while %s catches up: %zu changes waiting",
                       self->database_shown, self->change_count);
        else
        if (self->pause_logged)
            log_info ("ingest resumed");
        self->pause_logged = paused && degraded;
    }
    return paused;
}

void
core_count_handshake_failures (core_t *self, int failures)
{
    self->stats.handshake_failures += (uint64_t) failures;
}

size_t
core_alert_count (core_t *self)
{
    return alert_table_size (self->table);
}

const char *
core_database (core_t *self)
{
    return self->database_shown;
}

uint64_t
core_published_seq (core_t *self)
{
    return self->published_seq;
}

static void
s_sooner (int64_t *wait, int64_t candidate)
{
    if (candidate < *wait)
        *wait = candidate;
}

//  The tick at which queue's oldest entry is to be written (a slice once
//  ripe, whole once overdue), INT64_MAX for an empty queue.
static int64_t
s_queue_wakes (core_t *self, refresh_queue_t *queue)
{
    if (!refresh_queue_size (queue))
        return INT64_MAX;
    int64_t since;
    refresh_queue_peek (queue, 0, &since);
    int64_t ripe = since + s_ripe_age (self);
    int64_t slice = ripe > self->next_refresh_write ? ripe : self->next_refresh_write;
    int64_t overdue = since + self->config.checkpoint;
    return slice < overdue ? slice : overdue;
}

//  Alerts are due by the wall clock (their times are wall times); the
//  core's own timers run on the tick.
long
core_poll_timeout (core_t *self, int64_t now, int64_t tick, long max_ms)
{
    int64_t wait = max_ms;
    s_sooner (&wait, self->next_retention - tick);
    if (store_reads_later (self->store))
        s_sooner (&wait, self->next_standby_count - tick);
    if (self->retry_commit_at)
        s_sooner (&wait, self->retry_commit_at - tick);
    else {
        s_sooner (&wait, s_queue_wakes (self, self->refreshed) - tick);
        s_sooner (&wait, s_queue_wakes (self, self->rows) - tick);
    }
    if (self->flight != FLIGHT_NONE && store_poll_deadline (self->store))
        s_sooner (&wait, store_poll_deadline (self->store) - tick);
    if (store_read_deadline (self->store))
        s_sooner (&wait, store_read_deadline (self->store) - tick);
    int64_t next_due = due_heap_next (self->heap);
    if (next_due)
        s_sooner (&wait, next_due - now);
    if (self->silence_due)
        s_sooner (&wait, self->silence_due - now);
    return wait < 0 ? 0 : (long) wait;
}

int
core_finish (core_t *self)
{
    core_reads_work (self, true);       //  reads waiting are refused: ask again
    if (self->lost)
        return -1;
    self->finishing = true;
    for (int attempt = 0; attempt < 3 && s_unwritten (self); attempt++) {
        if (attempt)
            zclock_sleep (BROKER_COMMIT_RETRY_MS);      //  shutting down: nothing else to do
        self->tick = zclock_mono ();
        self->retry_commit_at = 0;
        if (s_write_all (self) && self->lost)
            break;
    }
    if (s_unwritten (self)) {
        log_error ("stopped at seq %" PRIu64 " with %zu alerts not written to %s: %s",
                   self->published_seq, s_unwritten (self), self->database_shown,
                   store_error (self->store));
        return -1;
    }
    if (store_mark_clean (self->store, &self->epoch, self->published_seq)) {
        log_error ("stopped at seq %" PRIu64 " but cannot mark the stop clean in %s: %s "
                   "(the next start begins a new epoch)", self->published_seq,
                   self->database_shown, store_error (self->store));
        return -1;
    }
    log_info ("stopped at seq %" PRIu64, self->published_seq);
    return 0;
}
