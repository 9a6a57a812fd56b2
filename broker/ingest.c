/*  ingest.c — the core's ingest: frames accepted, then applied to the
    alert table in arrival order.

    The loop (broker.c) reads frames from the PULL socket without blocking
    and hands each to core_accept_frame, which decodes it (into one of the
    loop's group of batches, whose memory the next group reuses),
    authorizes its source and checks its tx for a repeat: the sender's
    identity rides on the zmq message, so this happens as it is read. Its
    events are not applied at once: the loop reads a group of frames and
    then core_apply_frames applies the group's events in order, through a
    pipeline that hides the two cache misses of each lookup (the table's
    slot, then its entry): an event is hashed and its slot prefetched when
    it joins, its entry prefetched PIPE_ENTRY_LAG events later, and it is
    applied PIPE_APPLY_LAG events after it joined, so each miss has the
    work of a few other events to arrive in. At 100,000 alerts the lookup
    was a third of the refresh path (perf), nearly all waiting on memory.
    The span this replaced (32 events through each prefetch stage in turn)
    measured the same as the pipeline; what made lookups cheaper was the
    slot pointing at its entry, and the entry's prefetch covering its key
    (alert_table.c). One heartbeat per frame or fifty, the pipeline is the
    same.
*/
#include <string.h>
#include "core_internal.h"

void
core_reject (core_t *self, const char *what, const char *why)
{
    self->stats.rejected++;
    log_limited (&self->reject_log, "rejected %s: %s", what, why);
}

static void
s_apply_event (core_t *self, const alert_key_t *key, const wire_event_t *event, int64_t now)
{
    const char *source = key->source;
    entry_t *entry = alert_table_find_key (self->table, key);
    if (entry && lifecycle_event_is_stale (&entry->alert, event, now)) {
        self->stats.stale++;
        log_limited (&self->reject_log, "dropped an event for %s/%s made %" PRId64 " ms ago, "
                     "before a person acted on it", source, event->id, event->age);
        return;
    }
    bool created = !entry;
    if (created)
        entry = alert_table_add (self->table, source, event->id);
    transition_t transition = lifecycle_apply_event (&entry->alert, event, now);
    if (created && (transition == TRANSITION_REFRESH || transition == TRANSITION_UPDATED))
        transition = TRANSITION_CLEARED;    //  a new row is always announced
    if (transition == TRANSITION_REFRESH)
        self->stats.refreshes++;
    self->stats.events_applied++;
    core_record (self, entry, transition, now);
}

//  replace=true: clears every live alert of source that the batch left out.
static void
s_replace (core_t *self, const char *source, const wire_batch_t *batch, int64_t now)
{
    zhashx_t *ids = zhashx_new ();
    if (!ids)
        log_fatal ("out of memory");
    for (size_t index = 0; index < batch->event_count; index++)
        if (zhashx_insert (ids, batch->events [index].id, (void *) 1))
            (void) 0;       //  duplicate id in the batch: already there
    size_t span = alert_table_span (self->table);
    for (size_t position = 0; position < span; position++) {
        entry_t *entry = alert_table_at (self->table, position);
        if (entry && entry->alert.state != ALERT_CLEARED
        &&  strcmp (entry->alert.source, source) == 0
        &&  !zhashx_lookup (ids, entry->alert.id))
            core_record (self, entry, lifecycle_clear (&entry->alert, now, false), now);
    }
    zhashx_destroy (&ids);
}

const char *
core_authorize (core_t *self, const wire_batch_t *batch, const core_caller_t *sender,
                char *error, size_t error_size)
{
    if (!self->secured)
        return batch->source ? batch->source : "unknown";
    const security_client_t *client = sender->client;
    const char *user_id = sender->user_id, *peer = sender->address;
    if (!client) {
        self->stats.rejected++;
        self->stats.unknown_clients++;
        snprintf (error, error_size, "key %s is not in the broker's clients table (removed, "
                  "or added without SIGHUP)", user_id ? user_id : "(none)");
        log_limited (&self->security_log, "rejected a batch from %s: %s", peer ? peer : "?",
                     error);
        return NULL;
    }
    if (!batch->source && !client->source) {
        self->stats.rejected++;
        snprintf (error, error_size, "no source in the batch, and none in the certificate");
        log_limited (&self->security_log, "rejected a batch from %s (%s): %s",
                     peer ? peer : "?", client->file, error);
        return NULL;
    }
    if (!batch->source)
        return client->source;
    if (!role_any_source (client->role)
    &&  (!client->source || strcmp (client->source, batch->source) != 0)) {
        self->stats.rejected++;
        self->stats.spoofed++;
        snprintf (error, error_size, "source '%s' claimed, but certificate %s is for '%s' "
                  "(role %s)", batch->source, client->file, client->source ? client->source : "",
                  role_name (client->role));
        log_limited (&self->security_log, "rejected a batch from %s: %s", peer ? peer : "?",
                     error);
        return NULL;
    }
    return batch->source;
}

bool
core_accept_frame (core_t *self, ingest_frame_t *frame, const void *data, size_t size,
                   const core_caller_t *sender, int64_t now)
{
    char error [WIRE_ERROR_SIZE];
    self->stats.frames_received++;
    if (wire_batch_decode (data, size, now, &frame->batch, error, sizeof error)) {
        core_reject (self, "ingest frame", error);
        return false;
    }
    frame->source = core_authorize (self, &frame->batch, sender, error, sizeof error);
    if (!frame->source)
        return false;
    self->stats.events_received += frame->batch.event_count;
    if (frame->batch.tx && tx_window_seen (self->recent_tx, frame->batch.tx, now)) {
        self->stats.duplicates++;
        log_debug ("dropped a repeated batch, tx %s", frame->batch.tx);
        return false;
    }
    return true;
}

#define PIPE_ENTRY_LAG  4          //  events between prefetching a slot and its entry
#define PIPE_APPLY_LAG  8          //  events between prefetching a slot and applying
#define PIPE_SIZE       16         //  a power of two above PIPE_APPLY_LAG

//  Events joined and not applied yet: joined - applied <= PIPE_APPLY_LAG,
//  event k at k % PIPE_SIZE.
typedef struct {
    alert_key_t key [PIPE_SIZE];
    const wire_event_t *event [PIPE_SIZE];
    size_t joined;
    size_t applied;
} s_pipe_t;

static void
s_pipe_apply_next (core_t *self, s_pipe_t *pipe, int64_t now)
{
    size_t at = pipe->applied++ % PIPE_SIZE;
    s_apply_event (self, &pipe->key [at], pipe->event [at], now);
}

//  Event k's entry, unless it was applied already.
static void
s_pipe_prefetch_entry (core_t *self, s_pipe_t *pipe, size_t k)
{
    if (k >= pipe->applied)
        alert_table_prefetch_entry (self->table, pipe->key [k % PIPE_SIZE].hash);
}

static void
s_pipe_join (core_t *self, s_pipe_t *pipe, const alert_source_t *source,
             const wire_event_t *event, int64_t now)
{
    size_t at = pipe->joined % PIPE_SIZE;
    pipe->key [at] = alert_table_key (source, event->id);
    pipe->event [at] = event;
    alert_table_prefetch_slot (self->table, pipe->key [at].hash);
    if (pipe->joined >= PIPE_ENTRY_LAG)
        s_pipe_prefetch_entry (self, pipe, pipe->joined - PIPE_ENTRY_LAG);
    pipe->joined++;
    if (pipe->joined - pipe->applied > PIPE_APPLY_LAG)
        s_pipe_apply_next (self, pipe, now);
}

//  Applies every event joined, the entries of the last ones prefetched first.
static void
s_pipe_flush (core_t *self, s_pipe_t *pipe, int64_t now)
{
    size_t first = pipe->joined > PIPE_ENTRY_LAG ? pipe->joined - PIPE_ENTRY_LAG : 0;
    for (size_t k = first; k < pipe->joined; k++)
        s_pipe_prefetch_entry (self, pipe, k);
    while (pipe->applied < pipe->joined)
        s_pipe_apply_next (self, pipe, now);
}

//  Joins one batch's events to the pipeline; a replace runs after the
//  batch's events, and before any later one.
static void
s_apply_frame (core_t *self, s_pipe_t *pipe, const char *source, const wire_batch_t *batch,
               int64_t now)
{
    alert_source_t keyed = alert_table_source (source);
    for (size_t event = 0; event < batch->event_count; event++)
        s_pipe_join (self, pipe, &keyed, &batch->events [event], now);
    if (batch->replace) {
        s_pipe_flush (self, pipe, now);
        s_replace (self, source, batch, now);
    }
}

//  Applies the events of count frames in frame order; a replace runs
//  after its frame's events, before the next frame's.
void
core_apply_frames (core_t *self, ingest_frame_t *frames, size_t count, int64_t now)
{
    s_pipe_t pipe = { .joined = 0, .applied = 0 };
    for (size_t index = 0; index < count; index++)
        s_apply_frame (self, &pipe, frames [index].source, &frames [index].batch, now);
    s_pipe_flush (self, &pipe, now);
}

void
core_apply_batch (core_t *self, const char *source, const wire_batch_t *batch, int64_t now)
{
    s_pipe_t pipe = { .joined = 0, .applied = 0 };
    s_apply_frame (self, &pipe, source, batch, now);
    s_pipe_flush (self, &pipe, now);
}
