/*  ingest.c — the broker's ingest: frames from the PULL socket, applied to
    the alert table in arrival order.

    A frame is decoded (into one of the group's batches, whose memory the
    next group reuses), its source authorized and its tx checked for a
    repeat as soon as it is read (the sender's identity rides on the zmq
    message). Its events are not applied at once: the turn reads a group of
    frames (up to BROKER_GROUP_FRAMES, or until the group holds
    BROKER_GROUP_EVENTS events) and then applies the group's events in
    order, BROKER_PREFETCH_SPAN at a time. Before applying a span it runs
    every key of the span through the alert table's prefetch stages, so the
    cache misses of a lookup (slot, dense array, entry) of all the span's
    keys are in flight together instead of one after the other: at 100,000
    alerts the lookup was a third of the refresh path (perf), nearly all
    waiting on memory. One heartbeat per frame or fifty, the spans are the
    same.
*/
#include <errno.h>
#include <string.h>
#include "broker_internal.h"

static void
s_reject (broker_t *self, const char *what, const char *why)
{
    self->stats.rejected++;
    log_limited (&self->reject_log, "rejected %s: %s", what, why);
}

static void
s_apply_event (broker_t *self, const char *source, const wire_event_t *event,
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
    broker_record (self, entry, transition, now);
}

//  replace=true: clears every live alert of source that the batch left out.
static void
s_replace (broker_t *self, const char *source, const wire_batch_t *batch, int64_t now)
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
            broker_record (self, entry, lifecycle_clear (&entry->alert, now, false), now);
    }
    zhashx_destroy (&ids);
}
const char *
ingest_authorize (broker_t *self, const wire_batch_t *batch, const security_client_t *client,
                  const char *user_id, const char *peer, char *error, size_t error_size)
{
    if (!self->security)
        return batch->source ? batch->source : "unknown";
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

//  Decodes a frame into frame, authorizes its source and checks its tx.
//  True if its events are to be applied; a refused frame is counted and
//  logged.
static bool
s_accept_frame (broker_t *self, ingest_frame_t *frame, const void *data, size_t size,
                int64_t now, const char *user_id, const char *peer)
{
    char error [WIRE_ERROR_SIZE];
    self->stats.frames_received++;
    if (wire_batch_decode (data, size, now, &frame->batch, error, sizeof error)) {
        s_reject (self, "ingest frame", error);
        return false;
    }
    const security_client_t *client = self->security
                                    ? security_client (self->security, user_id) : NULL;
    frame->source = ingest_authorize (self, &frame->batch, client, user_id, peer,
                                      error, sizeof error);
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

//  Reads one message without blocking. 1: an accepted frame, now in frame;
//  0: a refused one; -1: nothing to read. Multi-part messages are refused
//  whole.
static int
s_read_frame (broker_t *self, ingest_frame_t *frame, int64_t now)
{
    void *socket = zsock_resolve (self->ingest);
    zmq_msg_t message;
    zmq_msg_init (&message);
    if (zmq_msg_recv (&message, socket, ZMQ_DONTWAIT) < 0) {
        if (errno != EAGAIN && errno != EINTR)
            log_limited (&self->reject_log, "ingest receive: %s", zmq_strerror (errno));
        zmq_msg_close (&message);
        return -1;
    }
    //  The sender's identity rides on every frame; read it now, before the
    //  message is closed
    const char *user_id = self->security ? zmq_msg_gets (&message, "User-Id") : NULL;
    const char *peer = self->security ? zmq_msg_gets (&message, "Peer-Address") : NULL;
    bool accepted = false;
    if (zmq_msg_more (&message)) {
        while (zmq_msg_more (&message) && zmq_msg_recv (&message, socket, 0) >= 0)
            ;   //  discard the rest of the message
        s_reject (self, "ingest message", "ingest takes one frame per message");
    }
    else
        accepted = s_accept_frame (self, frame, zmq_msg_data (&message),
                                   zmq_msg_size (&message), now, user_id, peer);
    zmq_msg_close (&message);
    return accepted ? 1 : 0;
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
s_apply_span (broker_t *self, s_span_t *span, int64_t now)
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
s_apply_frame (broker_t *self, s_span_t *span, const char *source, const wire_batch_t *batch,
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

//  Applies the events of the group's first `frames` frames in frame order;
//  a replace runs after its frame's events, before the next frame's.
static void
s_apply_group (broker_t *self, size_t frames, int64_t now)
{
    s_span_t span;
    span.count = 0;
    for (size_t index = 0; index < frames; index++)
        s_apply_frame (self, &span, self->group [index].source, &self->group [index].batch, now);
    s_apply_span (self, &span, now);
}

void
ingest_apply_batch (broker_t *self, const char *source, const wire_batch_t *batch, int64_t now)
{
    s_span_t span;
    span.count = 0;
    s_apply_frame (self, &span, source, batch, now);
    s_apply_span (self, &span, now);
}

//  Reads up to `batch` frames, or about BROKER_EVENTS_PER_TURN events (a
//  frame may hold 10,000), without blocking, so one turn stays short and
//  hugz, control and timers keep their pace under load.
void
broker_drain_ingest (broker_t *self, int64_t now)
{
    int64_t read = 0;                  //  messages read this turn
    size_t events = 0;                 //  events in the frames accepted
    bool empty = false;
    while (!empty && read < self->config.batch && events < BROKER_EVENTS_PER_TURN) {
        size_t frames = 0;
        size_t group_events = 0;
        while (frames < BROKER_GROUP_FRAMES && group_events < BROKER_GROUP_EVENTS
               && read < self->config.batch) {
            int rc = s_read_frame (self, &self->group [frames], now);
            if (rc < 0) {
                empty = true;
                break;
            }
            read++;
            if (rc == 1)
                group_events += self->group [frames++].batch.event_count;
        }
        s_apply_group (self, frames, now);
        events += group_events;
    }
}
