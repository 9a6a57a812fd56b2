/*  ingest.c — the core's ingest: frames accepted, then applied to the
    alert table in arrival order.

    The loop (broker.c) reads frames from the PULL socket without blocking
    and hands each to core_accept_frame, which decodes it (into one of the
    loop's group of batches, whose memory the next group reuses),
    authorizes its source and checks its tx for a repeat: the sender's
    identity rides on the zmq message, so this happens as it is read. Its
    events are not applied at once: the loop reads a group of frames and
    then core_apply_frames applies the group's events in order,
    BROKER_PREFETCH_SPAN at a time. Before applying a span it runs every
    key of the span through the alert table's prefetch stages, so the cache
    misses of a lookup (slot, dense array, entry) of all the span's keys
    are in flight together instead of one after the other: at 100,000
    alerts the lookup was a third of the refresh path (perf), nearly all
    waiting on memory. One heartbeat per frame or fifty, the spans are the
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
s_apply_event (core_t *self, const char *source, const wire_event_t *event,
               uint32_t hash, int64_t now)
{
    entry_t *entry = alert_table_find_hashed (self->table, hash, source, event->id);
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

//  Events of the group waiting to be applied, at most BROKER_PREFETCH_SPAN.
typedef struct {
    const char *source [BROKER_PREFETCH_SPAN];
    const wire_event_t *event [BROKER_PREFETCH_SPAN];
    uint32_t hash [BROKER_PREFETCH_SPAN];
    size_t count;
} s_span_t;

//  Applies the span's events in order, their lookups prefetched together.
static void
s_apply_span (core_t *self, s_span_t *span, int64_t now)
{
    for (size_t index = 0; index < span->count; index++)
        span->hash [index] = alert_table_hash (span->source [index], span->event [index]->id);
    for (int stage = 0; stage < ALERT_TABLE_PREFETCH_STAGES; stage++)
        for (size_t index = 0; index < span->count; index++)
            alert_table_prefetch (self->table, span->hash [index], stage);
    for (size_t index = 0; index < span->count; index++)
        s_apply_event (self, span->source [index], span->event [index], span->hash [index], now);
    span->count = 0;
}

//  Adds one batch's events to the span, applying it whenever it is full; a
//  replace runs after the batch's events.
static void
s_apply_frame (core_t *self, s_span_t *span, const char *source, const wire_batch_t *batch,
               int64_t now)
{
    for (size_t event = 0; event < batch->event_count; event++) {
        if (span->count == BROKER_PREFETCH_SPAN)
            s_apply_span (self, span, now);
        span->source [span->count] = source;
        span->event [span->count++] = &batch->events [event];
    }
    if (batch->replace) {
        s_apply_span (self, span, now);
        s_replace (self, source, batch, now);
    }
}

//  Applies the events of count frames in frame order; a replace runs
//  after its frame's events, before the next frame's.
void
core_apply_frames (core_t *self, ingest_frame_t *frames, size_t count, int64_t now)
{
    s_span_t span;
    span.count = 0;
    for (size_t index = 0; index < count; index++)
        s_apply_frame (self, &span, frames [index].source, &frames [index].batch, now);
    s_apply_span (self, &span, now);
}

void
core_apply_batch (core_t *self, const char *source, const wire_batch_t *batch, int64_t now)
{
    s_span_t span;
    span.count = 0;
    s_apply_frame (self, &span, source, batch, now);
    s_apply_span (self, &span, now);
}
