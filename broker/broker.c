/*  broker.c — the broker's loop: ingest, timers, commit, publish.
    See broker.h for the shape of a turn.

    Two write paths. A publishable change puts its alert on the `changed`
    list, and the turn commits that list with the history rows at once, so
    the change can be published. Heartbeat refreshes (an event that only
    moves a pending alert's raise time) are the bulk of traffic and publish
    nothing: they wait in the refresh queue and are written within
    `checkpoint` ms, in slices of their own after the turn's changes went
    out (s_refreshes_due). So a change's commit stays a few rows long under
    any refresh load, and a crash loses at most `checkpoint` of refresh
    time, which restart grace covers.

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
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "broker_internal.h"
#include "bus.h"
#include "mem.h"
#include "signals.h"
#include "timespec.h"

//  --- recording changes --------------------------------------------------------

//  The entry's row goes out with the next commit.
static void
s_list_change (broker_t *self, entry_t *entry)
{
    entry->stale = true;
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
s_queue_refresh (broker_t *self, entry_t *entry)
{
    entry->stale = true;
    if (entry->change_listed || entry->refresh_queued)
        return;
    refresh_queue_push (self->refreshed, entry, self->tick);
    entry->refresh_queued = true;
}

//  Did anyone (a sender or a human) touch the alert since this broker started?
static bool
s_touched_since_start (broker_t *self, const alert_t *alert)
{
    return alert->updated_at >= self->started_at || alert->changed_at >= self->started_at
        || alert->acked_at >= self->started_at || alert->acted_at >= self->started_at;
}

static void
s_schedule (broker_t *self, entry_t *entry)
{
    alert_t *alert = &entry->alert;
    int64_t due = lifecycle_next_due (alert, self->config.reminder_interval);
    if (due && due < self->grace_until && !s_touched_since_start (self, alert))
        due = self->grace_until;
    due_heap_set (self->heap, entry, due);
}

static void
s_queue_change (broker_t *self, entry_t *entry, const char *event, int64_t now)
{
    alert_t *alert = &entry->alert;
    uint64_t prev_seq = alert->seq;
    alert->seq = ++self->seq;
    wire_writer_reset (&self->scratch);
    alert_change_pack (&self->scratch.packer, alert->seq, now, event, alert, &self->epoch);

    if (self->change_count == self->change_capacity) {
        self->change_capacity = self->change_capacity ? self->change_capacity * 2 : 256;
        self->changes = mem_realloc (self->changes,
                                     self->change_capacity * sizeof (pending_change_t));
    }
    pending_change_t *change = &self->changes [self->change_count++];
    char topic [WIRE_MAX_TOPIC];
    alert_topic (topic, sizeof topic, event, alert);
    *change = (pending_change_t) {
        .seq = alert->seq, .prev_seq = prev_seq, .at = now, .event = event, .entry = entry,
        .source = mem_strdup (alert->source), .id = mem_strdup (alert->id),
        .topic = mem_strdup (topic),
        .body = mem_alloc (self->scratch.buffer.size), .size = self->scratch.buffer.size,
    };
    memcpy (change->body, self->scratch.buffer.data, change->size);
    self->change_bytes += change->size;
    log_debug ("%s %s/%s seq %" PRIu64 " notify_count %" PRId64,
               event, alert->source, alert->id, alert->seq, alert->notify_count);
}

void
broker_record_silence (broker_t *self, silence_t *silence, int64_t now)
{
    uint64_t prev_seq = silence->seq;
    silence->seq = ++self->seq;
    snprintf (silence->announced, sizeof silence->announced, "%s", silence_state (silence, now));
    wire_writer_reset (&self->scratch);
    silence_change_pack (&self->scratch.packer, silence->seq, now, silence, &self->epoch);
    if (self->change_count == self->change_capacity) {
        self->change_capacity = self->change_capacity ? self->change_capacity * 2 : 256;
        self->changes = mem_realloc (self->changes,
                                     self->change_capacity * sizeof (pending_change_t));
    }
    pending_change_t *change = &self->changes [self->change_count++];
    char topic [WIRE_MAX_TOPIC];
    snprintf (topic, sizeof topic, SILENCE_TOPIC_PREFIX "%s", silence->id);
    *change = (pending_change_t) {
        .seq = silence->seq, .prev_seq = prev_seq, .at = now, .event = SILENCE_EVENT,
        .id = mem_strdup (silence->id), .silence_ends = silence->ends,
        .topic = mem_strdup (topic),
        .body = mem_alloc (self->scratch.buffer.size), .size = self->scratch.buffer.size,
    };
    memcpy (change->body, self->scratch.buffer.data, change->size);
    self->change_bytes += change->size;
    log_debug ("silence %s %s seq %" PRIu64, silence->id, silence->announced, silence->seq);
}

void
broker_record (broker_t *self, entry_t *entry, transition_t transition, int64_t now)
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

//  --- commit, then publish ---------------------------------------------------------

/*  Changes are committed in chunks of at most BROKER_COMMIT_CHUNK, in seq
    order, and each chunk is published as soon as it committed. A chunk
    holds its changes' history rows, the seq counter at its last change, and
    the row of every alert it changed, as the alert stood at its last change
    in the chunk: for most alerts that is the alert as it is now (their
    latest change is in the chunk); an alert changed again in a later chunk
    gets the row its change body carries (the body holds the whole alert).
    So a crash between two chunks leaves rows, history and seq exactly at
    the first chunk's last seq, and a backlog that grew while commits failed
    (a full disk) goes out in transactions small enough for the space that
    came back, instead of one that never fits.

    Invariant, checked before each chunk: every change waiting has a seq
    above the last one published, in strictly increasing order, and its
    alert is on the `changed` list.
*/

static void
s_free_change (broker_t *self, pending_change_t *change)
{
    self->change_bytes -= change->size;
    mem_free (change->source);
    mem_free (change->id);
    mem_free (change->topic);
    mem_free (change->body);
}

//  What holds for every entry between turns, asserted for the entries each
//  commit writes before it writes them (SQLite pager.c's way: the state
//  written down, and checked where it matters):
//  - a listed entry is stale: its row is behind until the commit settles it;
//  - no entry is chunk-marked outside s_write_chunk;
//  - an entry in the due heap has a due time;
//  - a stale entry queued only for its times was written before (its times
//    go over a stored row: a new alert is always a change first).
static bool
s_entry_holds_invariants (broker_t *self, const entry_t *entry)
{
    return (!entry->change_listed || entry->stale)
        && !entry->chunk_marked
        && (entry->heap_index == ALERT_TABLE_NOWHERE || entry->due_at != 0)
        && (!entry->refresh_queued || entry->change_listed || !entry->stale
            || store_handle_written (self->store, entry->store_handle));
}

static bool
s_entries_hold_invariants (broker_t *self)
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
s_changes_hold_invariant (broker_t *self)
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

//  Writes the row of an alert changed again after last_seq as its change
//  body at that change holds it. 0 / -1.
static int
s_put_row_at (broker_t *self, const pending_change_t *change)
{
    alert_change_t then;
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (change->body, change->size, error, sizeof error);
    if (!doc || alert_change_decode (wire_doc_root (doc), &then, error, sizeof error)) {
        log_error ("bug: cannot decode our own change %" PRIu64 ": %s", change->seq, error);
        wire_doc_destroy (&doc);
        return -1;
    }
    entry_t *entry = change->entry;
    int rc = store_put_alert (self->store, &then.alert, &entry->store_handle);
    alert_change_free (&then);
    wire_doc_destroy (&doc);
    return rc;
}

//  The rows of the alerts whose latest change in changes [0, count) is not
//  their latest change, newest first. 0 / -1; entries written are marked.
static int
s_put_split_rows (broker_t *self, size_t count, uint64_t last_seq)
{
    for (size_t index = count; index-- > 0; ) {
        pending_change_t *change = &self->changes [index];
        if (!change->entry || change->entry->alert.seq <= last_seq || change->entry->chunk_marked)
            continue;
        change->entry->chunk_marked = true;
        if (s_put_row_at (self, change))
            return -1;
    }
    return 0;
}

static void
s_unmark_split_rows (broker_t *self, size_t count)
{
    for (size_t index = 0; index < count; index++)
        if (self->changes [index].entry)
            self->changes [index].entry->chunk_marked = false;
}

//  One chunk: the first count changes (ending at last_seq; every listed
//  row when there are none) in one transaction. 0 / -1.
static int
s_write_chunk (broker_t *self, size_t count, uint64_t last_seq)
{
    if (store_begin (self->store, true))
        return -1;
    for (size_t index = 0; index < self->changed_count; index++) {
        entry_t *entry = self->changed [index];
        if (entry->alert.seq <= last_seq
        &&  store_put_alert (self->store, &entry->alert, &entry->store_handle))
            return -1;
    }
    int split = s_put_split_rows (self, count, last_seq);
    s_unmark_split_rows (self, count);
    if (split)
        return -1;
    for (size_t index = 0; index < count; index++) {
        pending_change_t *change = &self->changes [index];
        alert_t key = { .source = change->source ? change->source : (char *) "", .id = change->id };
        if (!change->entry
        &&  store_put_silence (self->store, change->id, change->silence_ends, change->seq,
                               change->body, change->size))
            return -1;
        if (store_put_change (self->store, change->seq, change->at, change->event,
                              &key, change->body, change->size, change->prev_seq))
            return -1;
    }
    if (count && store_set_seq (self->store, last_seq))
        return -1;
    return store_commit (self->store);
}

//  The chunk committed: its alerts' rows are current unless changed later.
static void
s_settle_rows (broker_t *self, size_t count, uint64_t last_seq)
{
    for (size_t index = 0; index < count; index++)
        if (self->changes [index].entry)
            store_row_committed (self->store, &self->changes [index].entry->store_handle);
    size_t kept = 0;
    for (size_t index = 0; index < self->changed_count; index++) {
        entry_t *entry = self->changed [index];
        if (entry->alert.seq <= last_seq) {
            entry->stale = false;
            entry->change_listed = false;
            store_row_committed (self->store, &entry->store_handle);
        }
        else
            self->changed [kept++] = entry;
    }
    self->changed_count = kept;
}

//  Sends [topic, body] on the PUB socket. PUB never blocks: past its
//  high-water mark libzmq drops, and subscribers catch up with `since`.
static int
s_publish (broker_t *self, const char *topic, const void *body, size_t size)
{
    void *socket = zsock_resolve (self->publisher);
    if (zmq_send (socket, topic, strlen (topic), ZMQ_SNDMORE) < 0
    ||  zmq_send (socket, body, size, 0) < 0) {
        log_limited (&self->store_log, "publish %s failed: %s", topic, zmq_strerror (errno));
        return -1;
    }
    return 0;
}

//  Publishes the first count changes and drops them from the list.
static void
s_publish_changes (broker_t *self, size_t count)
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

static void
s_send_replies (broker_t *self)
{
    zmsg_t *reply;
    while ((reply = zlist_pop (self->replies)))
        if (zmsg_send (&reply, self->control)) {
            log_limited (&self->reject_log, "control reply failed: %s", zmq_strerror (errno));
            zmsg_destroy (&reply);
        }
}

//  A write failed: roll back; everything stays queued for the retry, and
//  the broker says it is degraded (hugz, ping, stats) until a write succeeds.
static void
s_write_failed (broker_t *self)
{
    const char *why = store_error (self->store);
    log_limited (&self->store_log, "cannot write to %s: %s (will retry; %zu changes, "
                 "%zu KiB waiting)", self->config.database, why, self->change_count,
                 self->change_bytes / 1024);
    if (!self->degraded_since) {
        self->degraded_since = clock_now_ms ();
        snprintf (self->degraded_reason, sizeof self->degraded_reason,
                  "commits to %s failing: %s", self->config.database, why);
    }
    store_rollback (self->store);
    self->stats.commit_failures++;
    self->retry_commit_at = self->tick + BROKER_COMMIT_RETRY_MS;
}

static void
s_write_succeeded (broker_t *self)
{
    if (self->degraded_since) {
        char took [32];
        log_info ("writes to %s succeed again after %s; %zu changes still to write",
                  self->config.database,
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
s_release_log (broker_t *self)
{
    if (store_release_log (self->store))
        log_debug ("cannot truncate the log of %s yet: %s", self->config.database,
                   store_error (self->store));
}

//  Writes what changed, chunk by chunk, publishing each; with everything
//  written, sends the replies that waited for it. 0 / -1.
static int
s_commit (broker_t *self)
{
    if (self->retry_commit_at)
        s_release_log (self);
    while (self->changed_count || self->change_count) {
        assert (s_changes_hold_invariant (self));
        assert (s_entries_hold_invariants (self));
        size_t count = self->change_count < BROKER_COMMIT_CHUNK
                     ? self->change_count : BROKER_COMMIT_CHUNK;
        uint64_t last_seq = count ? self->changes [count - 1].seq : UINT64_MAX;
        if (s_write_chunk (self, count, last_seq)) {
            s_write_failed (self);
            return -1;
        }
        self->stats.commits++;
        s_write_succeeded (self);
        s_settle_rows (self, count, last_seq);
        s_publish_changes (self, count);
    }
    self->retry_commit_at = 0;          //  the refreshes may try again
    s_send_replies (self);
    return 0;
}

//  After a failure, only the retry time; otherwise at once when there is news
//  or a waiting reply.
static bool
s_commit_due (broker_t *self)
{
    if (self->retry_commit_at)
        return self->tick >= self->retry_commit_at;
    return self->change_count || self->changed_count || zlist_size (self->replies);
}

//  While writes fail, unwritten changes pile up in memory; past a bound the
//  loop stops reading ingest (PUSH senders queue, agents hold their latest
//  state) until the backlog is written.
static bool
s_backlog_full (broker_t *self)
{
    return self->retry_commit_at
        && (self->change_count >= BROKER_BACKLOG_CHANGES
         || self->change_bytes >= BROKER_BACKLOG_BYTES);
}

int
broker_pack_identity (broker_t *self, msgpack_packer *out)
{
    epoch_pack (out, &self->epoch);
    wire_pack_key_string (out, "boot", self->boot);
    return 2;
}

int
broker_pack_health (broker_t *self, msgpack_packer *out)
{
    if (!self->degraded_since)
        return 0;
    wire_pack_key_string (out, "degraded", self->degraded_reason);
    wire_pack_key_int (out, "degraded_since", self->degraded_since);
    return 2;
}

//  --- writing refreshes ----------------------------------------------------------------

//  A queued refresh is ripe at nine tenths of `checkpoint`, overdue at all
//  of it.
static int64_t
s_ripe_age (broker_t *self)
{
    return self->config.checkpoint - self->config.checkpoint / 10;
}

//  How many of the oldest queued refreshes to write now: every overdue
//  one, and up to BROKER_REFRESH_SLICE ripe ones once per
//  BROKER_REFRESH_GAP_MS. The tenth of `checkpoint` between ripe and
//  overdue lets a steady load go out in short, even slices (256 rows cost
//  well under a millisecond) instead of one long write per checkpoint that
//  a change arriving meanwhile would wait behind; only a load beyond what
//  the slices carry falls back to writing what is overdue whole.
static size_t
s_refreshes_due (broker_t *self)
{
    size_t size = refresh_queue_size (self->refreshed);
    if (self->stopping)
        return size;
    bool slice_open = self->tick >= self->next_refresh_write;
    size_t count = 0;
    while (count < size) {
        int64_t since;
        refresh_queue_peek (self->refreshed, count, &since);
        if (since + self->config.checkpoint <= self->tick
        ||  (slice_open && count < BROKER_REFRESH_SLICE && since + s_ripe_age (self) <= self->tick))
            count++;
        else
            break;
    }
    return count;
}

//  Writes the times of the count oldest queued refreshes in a transaction
//  of their own (all a refresh moves, and a row a tenth the size of the
//  alert's); an entry already written by a change's commit is only
//  dropped. 0 / -1.
static int
s_write_refreshes (broker_t *self, size_t count)
{
    int written = store_begin (self->store, false);
    for (size_t index = 0; written == 0 && index < count; index++) {
        int64_t since;
        entry_t *entry = refresh_queue_peek (self->refreshed, index, &since);
        if (entry->stale && !entry->change_listed) {
            assert (store_handle_written (self->store, entry->store_handle));    //  a new alert is a change first
            written = store_put_times (self->store, &entry->alert, entry->store_handle);
        }
    }
    if (written || store_commit (self->store)) {
        s_write_failed (self);
        return -1;
    }
    self->stats.commits++;
    s_write_succeeded (self);
    for (size_t index = 0; index < count; index++) {
        int64_t since;
        entry_t *entry = refresh_queue_peek (self->refreshed, index, &since);
        entry->refresh_queued = false;
        if (entry->stale && !entry->change_listed) {
            entry->stale = false;
            store_times_committed (self->store, &entry->store_handle);
        }
    }
    refresh_queue_pop (self->refreshed, count);
    self->next_refresh_write = self->tick + BROKER_REFRESH_GAP_MS;
    return 0;
}

//  Commits the turn's changes, then the refreshes that are due, then, with
//  everything published, copies the log into the database if it has grown.
static void
s_write (broker_t *self)
{
    if (s_commit_due (self) && s_commit (self))
        return;
    if (self->retry_commit_at)
        return;
    size_t count = s_refreshes_due (self);
    if (count && s_write_refreshes (self, count))
        return;
    if (store_maintain (self->store))
        log_limited (&self->store_log, "upkeep of %s (a checkpoint) failed: %s (will retry)",
                     self->config.database, store_error (self->store));
}

//  --- control ---------------------------------------------------------------------

static void
s_handle_control (broker_t *self, int64_t now)
{
    zmsg_t *request = zmsg_recv (self->control);
    if (!request)
        return;
    self->stats.control_requests++;
    zframe_t *body = zmsg_last (request);      //  a ROUTER adds the sender's id first
    self->caller = NULL;
    self->caller_address = NULL;
    self->caller_user_id = NULL;
    self->reply_after_commit = false;
    if (self->security) {
        self->caller_user_id = zframe_meta (body, "User-Id");
        self->caller = security_client (self->security, self->caller_user_id);
        self->caller_address = zframe_meta (body, "Peer-Address");
    }
    wire_writer_t reply;
    wire_writer_init (&reply);
    size_t changes_before = self->change_count, changed_before = self->changed_count;
    control_answer (self, zframe_data (body), zframe_size (body), &reply, now);
    self->caller = NULL;
    self->caller_address = NULL;
    self->caller_user_id = NULL;
    //  A reply that waits for the commit: the op changed something (ack,
    //  a submit with a change), or asked to wait (a repeated submit while
    //  changes are still unwritten). A submit whose events were all
    //  refreshes changed nothing that is published: it is answered now,
    //  once applied, and restart grace covers the refresh until the
    //  checkpoint writes it.
    bool changed = self->change_count != changes_before || self->changed_count != changed_before
                || self->reply_after_commit;
    zmsg_remove (request, body);
    zframe_destroy (&body);
    if (zmsg_addmem (request, reply.buffer.data, reply.buffer.size) == 0) {
        if (!changed) {
            if (zmsg_send (&request, self->control))
                log_limited (&self->reject_log, "control reply failed: %s", zmq_strerror (errno));
        }
        else
        if (zlist_append (self->replies, request) == 0)
            request = NULL;             //  answered once the change is committed
    }
    zmsg_destroy (&request);
    wire_writer_free (&reply);
}

//  --- timers ------------------------------------------------------------------------

static void
s_fire_due (broker_t *self, int64_t now)
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
            broker_record (self, entry, transition, now);
    }
}

//  A database deleted or replaced under the running broker: every later
//  write would go into an unlinked file, or beside the new one. That is a
//  fatal stop, logged; a restart opens what is at the path now (a new
//  epoch, which subscribers follow).
static void
s_check_file (broker_t *self)
{
    char why [600];
    if (self->fatal || store_file_intact (self->store, why, sizeof why) == 0)
        return;
    log_error ("database deleted or replaced under the running broker: %s; stopping at "
               "seq %" PRIu64 " without writing %zu unwritten changes into it", why,
               self->published_seq, self->change_count);
    self->fatal = true;
    self->stopping = true;
}

static void
s_send_hugz (broker_t *self, int64_t now)
{
    wire_writer_reset (&self->scratch);
    msgpack_pack_map (&self->scratch.packer, 5 + (self->degraded_since ? 2 : 0));
    wire_pack_key_int (&self->scratch.packer, "v", WIRE_VERSION);
    wire_pack_key_int (&self->scratch.packer, "seq", (int64_t) self->published_seq);
    wire_pack_key_int (&self->scratch.packer, "at", now);
    broker_pack_identity (self, &self->scratch.packer);
    broker_pack_health (self, &self->scratch.packer);
    s_publish (self, "hugz", self->scratch.buffer.data, self->scratch.buffer.size);
    self->next_hugz = self->tick + BROKER_HUGZ_MS;
}

//  Cleared alerts nobody has sent or touched for the whole retention, at
//  most BROKER_PRUNE_PER_RUN of them; *count says how many.
static entry_t **
s_expired_alerts (broker_t *self, int64_t cutoff, size_t *count)
{
    entry_t **expired = mem_alloc (BROKER_PRUNE_PER_RUN * sizeof (entry_t *));
    *count = 0;
    size_t span = alert_table_span (self->table);
    for (size_t position = 0; position < span && *count < BROKER_PRUNE_PER_RUN; position++) {
        entry_t *entry = alert_table_at (self->table, position);
        if (!entry)
            continue;
        const alert_t *alert = &entry->alert;
        if (alert->state == ALERT_CLEARED && !entry->stale && !entry->refresh_queued
        &&  alert->changed_at < cutoff && alert->updated_at < cutoff)
            expired [(*count)++] = entry;
    }
    return expired;
}

//  Writes the deletion of each expired alert as a change, inside the open
//  transaction: the next seq, a history row whose body is the alert as it
//  was with event "deleted", the row deleted. The changes to publish after
//  COMMIT go into deletions (count of them). 0 / -1.
static int
s_write_deletions (broker_t *self, entry_t **expired, size_t count, int64_t now,
                   pending_change_t *deletions)
{
    for (size_t index = 0; index < count; index++) {
        entry_t *entry = expired [index];
        alert_t row = entry->alert;         //  a shallow copy, to pack with the new seq
        row.seq = self->seq + 1;
        wire_writer_reset (&self->scratch);
        alert_change_pack (&self->scratch.packer, row.seq, now, ALERT_EVENT_DELETED, &row,
                           &self->epoch);
        if (store_put_change (self->store, row.seq, now, ALERT_EVENT_DELETED, &row,
                              self->scratch.buffer.data, self->scratch.buffer.size,
                              entry->alert.seq)
        ||  store_delete_alert (self->store, row.source, row.id, entry->store_handle))
            return -1;
        char topic [WIRE_MAX_TOPIC];
        alert_topic (topic, sizeof topic, ALERT_EVENT_DELETED, &row);
        deletions [index] = (pending_change_t) {
            .seq = ++self->seq, .at = now, .event = ALERT_EVENT_DELETED, .entry = entry,
            .topic = mem_strdup (topic), .body = mem_alloc (self->scratch.buffer.size),
            .size = self->scratch.buffer.size,
        };
        memcpy (deletions [index].body, self->scratch.buffer.data, deletions [index].size);
    }
    return count ? store_set_seq (self->store, self->seq) : 0;
}

int
broker_delete_alert (broker_t *self, entry_t *entry, int64_t now, char *error, size_t error_size)
{
    s_write (self);
    if (self->change_count || self->retry_commit_at) {
        snprintf (error, error_size, "the broker cannot write now (degraded): try again later");
        return -1;
    }
    if (entry->stale || entry->refresh_queued) {
        snprintf (error, error_size, "%s/%s is being written: try again in a second",
                  entry->alert.source, entry->alert.id);
        return -1;
    }
    assert (self->seq == self->published_seq);
    pending_change_t deletion = { 0 };
    int rc = -1;
    if (store_begin (self->store, true) == 0
    &&  s_write_deletions (self, &entry, 1, now, &deletion) == 0
    &&  store_commit (self->store) == 0) {
        if (s_publish (self, deletion.topic, deletion.body, deletion.size) == 0)
            self->stats.published++;
        self->published_seq = deletion.seq;
        self->stats.commits++;
        due_heap_set (self->heap, entry, 0);
        alert_table_remove (self->table, entry);
        rc = 0;
    }
    else {
        snprintf (error, error_size, "the deletion was not written: %s", store_error (self->store));
        store_rollback (self->store);
        self->seq = self->published_seq;
    }
    mem_free (deletion.topic);
    mem_free (deletion.body);
    return rc;
}

//  Deletes history and cleared alerts older than the retention, in bounded
//  runs of its own transaction between turns (a long backlog is worked off
//  over several turns). Each deleted alert is a `deleted` change, committed
//  like any other (synced with durability full) and published after the
//  COMMIT, so mirrors drop it; memory follows only once the deletion
//  committed. A snapshot paging meanwhile is not disturbed (alert_table.h).
//  While changes wait for their commit (writes failing) retention waits
//  too: its seqs must come after theirs.
static void
s_retain (broker_t *self, int64_t now)
{
    self->next_retention = self->tick + self->retention_period;
    if (self->change_count || self->retry_commit_at)
        return;
    assert (self->seq == self->published_seq);
    int64_t cutoff = now - self->config.retention;
    int history = 0;
    size_t alerts = 0, written_count = 0;
    entry_t **expired = s_expired_alerts (self, cutoff, &alerts);
    pending_change_t *deletions = mem_alloc ((alerts ? alerts : 1) * sizeof (pending_change_t));
    int silences = 0;
    bool written = store_begin (self->store, alerts > 0) == 0
                && store_prune_history (self->store, cutoff, BROKER_PRUNE_PER_RUN, &history) == 0
                && store_prune_silences (self->store, cutoff, &silences) == 0
                && s_write_deletions (self, expired, alerts, now, deletions) == 0;
    written_count = self->seq - self->published_seq;
    if (written && store_commit (self->store) == 0) {
        for (size_t index = 0; index < alerts; index++) {
            pending_change_t *deletion = &deletions [index];
            if (s_publish (self, deletion->topic, deletion->body, deletion->size) == 0)
                self->stats.published++;
            self->published_seq = deletion->seq;
            alert_table_remove (self->table, deletion->entry);
        }
        if (alerts)
            self->stats.commits++;
        if (silences)
            silences_forget (self, cutoff);
        if (history == BROKER_PRUNE_PER_RUN || alerts == BROKER_PRUNE_PER_RUN)
            self->next_retention = self->tick;          //  more to do: next turn
        if (history || alerts) {
            char age [32];
            log_info ("retention: deleted %zu cleared alerts and %d history rows older than %s",
                      alerts, history, duration_format (self->config.retention, age, sizeof age));
        }
    }
    else {
        log_error ("retention failed: %s", store_error (self->store));
        store_rollback (self->store);
        self->seq = self->published_seq;    //  the seqs handed out were not committed
    }
    for (size_t index = 0; index < written_count; index++) {
        mem_free (deletions [index].topic);
        mem_free (deletions [index].body);
    }
    mem_free (deletions);
    mem_free (expired);
}

//  --- start and the loop --------------------------------------------------------------

static void
s_adopt_loaded (alert_t *alert, store_handle_t handle, void *arg)
{
    broker_t *self = arg;
    entry_t *entry = alert_table_find (self->table, alert->source, alert->id);
    if (entry) {
        log_error ("duplicate stored alert %s/%s skipped", alert->source, alert->id);
        alert_clear_fields (alert);
        return;
    }
    entry = alert_table_adopt (self->table, alert);
    entry->store_handle = handle;
    const char *repaired = lifecycle_repair (&entry->alert, self->started_at);
    if (repaired) {
        log_warn ("stored alert %s/%s had %s: repaired", entry->alert.source,
                  entry->alert.id, repaired);
        s_list_change (self, entry);
    }
    s_schedule (self, entry);
}

//  With security, zauth starts (and bus_open turns CURVE on) before the
//  first bind; monitors count refused handshakes on each socket.
static int
s_open_sockets (broker_t *self, char *error, size_t error_size)
{
    if (self->config.security_cert) {
        self->security = security_new (self->config.security_cert,
                                       self->config.security_clients, log_verbose (),
                                       error, error_size);
        if (!self->security)
            return -1;
    }
    self->ingest = bus_open (ZMQ_PULL, self->config.ingest, BUS_BIND, error, error_size);
    if (!self->ingest)
        return -1;
    self->publisher = bus_open (ZMQ_PUB, self->config.publish, BUS_BIND, error, error_size);
    if (!self->publisher)
        return -1;
    self->control = bus_open (ZMQ_ROUTER, self->config.control, BUS_BIND, error, error_size);
    if (!self->control)
        return -1;
    if (self->security
    &&  (security_monitor (self->security, self->ingest, "ingest", error, error_size)
    ||   security_monitor (self->security, self->publisher, "publish", error, error_size)
    ||   security_monitor (self->security, self->control, "control", error, error_size)))
        return -1;
    return 0;
}

static void
s_copy_config (broker_config_t *to, const broker_config_t *from)
{
    *to = *from;
    to->config_file = mem_strdup (from->config_file);
    to->ingest = mem_strdup (from->ingest);
    to->publish = mem_strdup (from->publish);
    to->control = mem_strdup (from->control);
    to->database = mem_strdup (from->database);
    to->security_cert = mem_strdup (from->security_cert);
    to->security_clients = mem_strdup (from->security_clients);
    to->security_cert_at = mem_strdup (from->security_cert_at);
    to->database_at = mem_strdup (from->database_at);
    for (int index = 0; index < 3; index++)
        to->origins [index] = mem_strdup (from->origins [index]);
}

broker_t *
broker_new (const broker_config_t *config, char *error, size_t error_size)
{
    broker_t *self = mem_alloc (sizeof (broker_t));
    s_copy_config (&self->config, config);
    self->signal_fd = -1;
    self->started_at = clock_now_ms ();
    self->grace_until = self->started_at + config->grace;
    wire_writer_init (&self->scratch);
    self->table = alert_table_new ();
    self->heap = due_heap_new ();
    self->refreshed = refresh_queue_new ();
    self->recent_tx = tx_window_new ();
    self->replies = zlist_new ();
    if (!self->table || !self->recent_tx || !self->replies) {
        snprintf (error, error_size, "out of memory");
        broker_destroy (&self);
        return NULL;
    }
    char dir [4096];
    snprintf (dir, sizeof dir, "%s", config->database);
    char *slash = strrchr (dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (paths_make_dirs (dir, error, error_size)) {
            broker_destroy (&self);
            return NULL;
        }
    }
    self->store = store_open (config->database, config->durability_full, error, error_size);
    if (!self->store
    ||  store_last_seq (self->store, &self->seq)
    ||  store_load (self->store, s_adopt_loaded, self)
    ||  silences_load (self)) {
        if (self->store)
            snprintf (error, error_size, "cannot load %s: %s", config->database,
                      store_error (self->store));
        broker_destroy (&self);
        return NULL;
    }
    self->published_seq = self->seq;
    self->silence_due = self->started_at;   //  the first turn checks every silenced_by
    const char *why = NULL;
    if (store_epoch_start (self->store, self->seq, &self->epoch, &why)
    ||  epoch_new_db_id (self->boot)) {
        snprintf (error, error_size, "cannot start an epoch in %s: %s", config->database,
                  store_error (self->store));
        broker_destroy (&self);
        return NULL;
    }
    char epoch [64];
    epoch_format (&self->epoch, epoch, sizeof epoch);
    if (why)
        log_info ("epoch %s begins: %s", epoch, why);
    else
        log_info ("epoch %s goes on (the last run stopped cleanly)", epoch);
    if (s_open_sockets (self, error, error_size)) {
        broker_destroy (&self);
        return NULL;
    }
    return self;
}

void
broker_destroy (broker_t **self_p)
{
    if (!*self_p)
        return;
    broker_t *self = *self_p;
    for (size_t index = 0; index < self->change_count; index++)
        s_free_change (self, &self->changes [index]);
    mem_free (self->changes);
    mem_free (self->changed);
    refresh_queue_destroy (&self->refreshed);
    zmsg_t *reply;
    while (self->replies && (reply = zlist_pop (self->replies)))
        zmsg_destroy (&reply);
    zlist_destroy (&self->replies);
    zsock_destroy (&self->ingest);
    zsock_destroy (&self->publisher);
    zsock_destroy (&self->control);
    security_destroy (&self->security);
    if (self->signal_fd >= 0)
        close (self->signal_fd);
    due_heap_destroy (&self->heap);
    silences_destroy (self);
    alert_table_destroy (&self->table);
    tx_window_destroy (&self->recent_tx);
    store_destroy (&self->store);
    wire_writer_free (&self->scratch);
    for (size_t index = 0; index < BROKER_GROUP_FRAMES; index++)
        wire_batch_free (&self->group [index].batch);
    broker_config_free (&self->config);
    mem_free (self);
    *self_p = NULL;
}

static void
s_read_signal (broker_t *self)
{
    struct signalfd_siginfo info;
    while (read (self->signal_fd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP) {
            if (self->security)
                security_reload (self->security);
            else
                log_info ("SIGHUP: nothing to reload (no security section)");
            continue;
        }
        log_info ("%s: finishing the turn, committing, exiting", strsignal ((int) info.ssi_signo));
        self->stopping = true;
    }
}

//  Alerts whose rows still wait to be written (one may be counted twice).
static size_t
s_unwritten (broker_t *self)
{
    return self->changed_count + self->change_count + refresh_queue_size (self->refreshed);
}

static void
s_sooner (int64_t *wait, int64_t candidate)
{
    if (candidate < *wait)
        *wait = candidate;
}

//  How long the loop may sleep: until the first thing it must do, and never
//  more than BROKER_MAX_SLEEP_MS. Alerts are due by the wall clock (their
//  times are wall times); the loop's own timers run on the tick.
static long
s_poll_timeout (broker_t *self, int64_t now, int64_t tick)
{
    int64_t wait = BROKER_MAX_SLEEP_MS;
    s_sooner (&wait, self->next_hugz - tick);
    s_sooner (&wait, self->next_retention - tick);
    if (self->retry_commit_at)
        s_sooner (&wait, self->retry_commit_at - tick);
    else
    if (refresh_queue_size (self->refreshed)) {
        int64_t since;
        refresh_queue_peek (self->refreshed, 0, &since);
        int64_t ripe = since + s_ripe_age (self);
        int64_t slice = ripe > self->next_refresh_write ? ripe : self->next_refresh_write;
        int64_t overdue = since + self->config.checkpoint;
        s_sooner (&wait, (slice < overdue ? slice : overdue) - tick);
    }
    int64_t next_due = due_heap_next (self->heap);
    if (next_due)
        s_sooner (&wait, next_due - now);
    if (self->silence_due)
        s_sooner (&wait, self->silence_due - now);
    return wait < 0 ? 0 : (long) wait;
}

//  Gives memory the process freed back to the system: glibc keeps freed
//  chunks in its arenas (libzmq's I/O thread has its own), so the queue of
//  a subscriber that went away, or a refused many-frame message, would
//  otherwise stay resident for good. malloc_trim walks every arena.
static void
s_trim (broker_t *self)
{
    malloc_trim (0);
    self->next_trim = self->tick + BROKER_TRIM_MS;
}

static void
s_turn (broker_t *self, zmq_pollitem_t *items, int64_t now)
{
    self->tick = zclock_mono ();
    if (items [0].revents & ZMQ_POLLIN)
        broker_drain_ingest (self, now);
    for (int count = 0; count < 100 && (zsock_events (self->control) & ZMQ_POLLIN); count++)
        s_handle_control (self, now);
    if (items [2].revents & ZMQ_POLLIN)
        s_read_signal (self);
    for (int index = 0; index < security_monitor_count (self->security); index++)
        if (items [3 + index].revents & ZMQ_POLLIN) {
            char what [300] = "";
            int failures = security_read_monitor (self->security, index, what, sizeof what);
            self->stats.handshake_failures += (uint64_t) failures;
            if (failures)
                log_limited (&self->security_log, "refused %d handshake%s on %s", failures,
                             failures == 1 ? "" : "s", what);
        }
    s_fire_due (self, now);
    if (self->silence_due && now >= self->silence_due)
        silences_tick (self, now);
    s_write (self);
    if (self->tick >= self->next_hugz) {
        s_check_file (self);
        s_send_hugz (self, now);
    }
    if (self->tick >= self->next_retention)
        s_retain (self, now);
    if (self->tick >= self->next_trim)
        s_trim (self);
}

int
broker_run (broker_t *self)
{
    //  SIGINT and SIGTERM arrive on a signalfd the loop polls: the loop
    //  finishes its turn and commits
    self->signal_fd = signals_open_fd ((const int []) { SIGINT, SIGTERM, SIGHUP }, 3);
    if (self->signal_fd < 0) {
        log_error ("cannot set up signal handling: %s", strerror (errno));
        return -1;
    }
    //  SQLite frees memory at the top of the heap after each statement and
    //  takes it again at the next: at glibc's default threshold every such
    //  free went back to the system (brk, then page faults on the way up
    //  again), a tenth of the broker's time under small commits. s_trim
    //  gives freed memory back every BROKER_TRIM_MS instead.
    if (mallopt (M_TRIM_THRESHOLD, BROKER_TRIM_THRESHOLD) != 1)
        log_warn ("cannot raise malloc's trim threshold: freed memory goes back at once");
    self->tick = zclock_mono ();
    self->next_hugz = self->tick;
    self->retention_period = self->config.retention < BROKER_RETENTION_MS
                           ? self->config.retention : BROKER_RETENTION_MS;
    self->next_retention = self->tick + self->retention_period;
    log_info ("ready: %zu alerts, seq %" PRIu64 ", ingest %s, publish %s, control %s, database %s",
              alert_table_size (self->table), self->seq, self->config.ingest,
              self->config.publish, self->config.control, self->config.database);
    while (!self->stopping) {
        bool paused = s_backlog_full (self);
        if (paused != self->ingest_paused) {
            self->ingest_paused = paused;
            if (paused)
                log_warn ("ingest paused: %zu changes (%zu KiB) not written to %s",
                          self->change_count, self->change_bytes / 1024, self->config.database);
            else
                log_info ("ingest resumed");
        }
        zmq_pollitem_t items [3 + SECURITY_MONITORS_MAX] = {
            { zsock_resolve (self->ingest), 0, paused ? 0 : ZMQ_POLLIN, 0 },
            { zsock_resolve (self->control), 0, ZMQ_POLLIN, 0 },
            { NULL, self->signal_fd, ZMQ_POLLIN, 0 },
        };
        int monitors = security_monitor_count (self->security);
        for (int index = 0; index < monitors; index++)
            items [3 + index] = (zmq_pollitem_t) {
                security_monitor_handle (self->security, index), 0, ZMQ_POLLIN, 0 };
        long timeout = s_poll_timeout (self, clock_now_ms (), zclock_mono ());
        if (zmq_poll (items, 3 + monitors, timeout) < 0 && errno != EINTR) {
            log_error ("poll failed: %s", zmq_strerror (errno));
            continue;
        }
        s_turn (self, items, clock_now_ms ());
    }
    if (self->fatal)
        return -1;
    for (int attempt = 0; attempt < 3 && s_unwritten (self); attempt++) {
        if (attempt)
            zclock_sleep (BROKER_COMMIT_RETRY_MS);      //  shutting down: nothing else to do
        self->tick = zclock_mono ();
        self->retry_commit_at = 0;
        s_write (self);
    }
    if (s_unwritten (self)) {
        log_error ("stopped at seq %" PRIu64 " with %zu alerts not written to %s: %s",
                   self->published_seq, s_unwritten (self), self->config.database,
                   store_error (self->store));
        return -1;
    }
    if (store_mark_clean (self->store, &self->epoch, self->published_seq)) {
        log_error ("stopped at seq %" PRIu64 " but cannot mark the stop clean in %s: %s "
                   "(the next start begins a new epoch)", self->published_seq,
                   self->config.database, store_error (self->store));
        return -1;
    }
    log_info ("stopped at seq %" PRIu64, self->published_seq);
    return 0;
}
