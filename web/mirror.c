/*  mirror.c — lilac-web's live copy of every alert. See mirror.h.

    Alerts are kept in a czmq hash keyed "LEN:SOURCE/ID" (the length makes
    the key unambiguous though sources and ids may hold '/'), each value a
    copy of the row made by packing it with the wire codec and decoding
    that (alert_pack, alert_decode: the one codec, no field-by-field copy).
    An alert's change is packed once, as its body: the alert copy and the
    JSON text the ring keeps are both read from that one document, and the
    hash and the ring share the copy (s_kept_t counts its holders), so a
    change costs one pack, one decode and one JSON text.

    The ring of recent changes holds the alerts' changes and the silences'
    (the feed hands those over too: on_silence), each with the JSON the
    stream sends. A silence's is the silence alone, written as GET
    /api/silences writes one: the broker's packer (silence_pack, inside
    silence_change_pack: state as at the change) and the one msgpack-to-
    JSON writer (json_from_msgpack). Silences are not kept otherwise:
    /api/silences asks the broker. Either kind moves seq, so a resume
    point is a seq of either.
*/
#include <inttypes.h>
#include "json.h"
#include "log.h"
#include "mem.h"
#include "mirror.h"
#include "silence.h"
#include "wire.h"

#define MIRROR_CALL_TIMEOUT_MS  3000
#define MIRROR_RETRY_MS         1000    //  a failed snapshot is tried again after

struct _mirror_t {
    change_feed_t *feed;           //  the broker's changes
    zhashx_t *alerts;              //  "LEN:SOURCE/ID" -> alert_t *
    bool ready;                    //  a snapshot came whole
    bool snapshot_due;             //  a snapshot must (re)start
    int64_t snapshot_at;           //  mono ms: not before
    uint64_t epochs_seen;          //  the feed's epoch rewinds when the copy was made
    uint64_t seq;                  //  last seq applied
    epoch_t epoch;                 //  of the last change applied
    wire_writer_t scratch;         //  for copying alerts
    struct {
        uint64_t epoch_n, seq;
        char event [16];
        alert_t *alert;            //  owned copy; NULL for a silence's change
        char *json;                //  owned
    } recent [MIRROR_RECENT];      //  ring of the last changes
    size_t recent_head;            //  the oldest
    size_t recent_count;
    mirror_change_fn *on_change;   //  listener, or NULL
    void *on_change_arg;
};

//  The change body the scratch writer holds (that of seq) as JSON text
//  (fresh): the whole body, or its member key. NULL when it cannot be
//  written (logged: the stream will not have it).
static char *
s_scratch_json (mirror_t *self, const char *key, uint64_t seq)
{
    char error [WIRE_ERROR_SIZE] = "out of memory";
    wire_doc_t *doc = wire_doc_new (self->scratch.buffer.data, self->scratch.buffer.size,
                                    error, sizeof error);
    const msgpack_object *root = doc ? wire_doc_root (doc) : NULL;
    char *text = root ? json_text_from_msgpack (key ? wire_get (root, key) : root) : NULL;
    wire_doc_destroy (&doc);
    if (!text)
        log_error ("mirror: change %" PRIu64 " cannot be kept for the stream (%s): its "
                   "clients are told to reload", seq, error);
    return text;
}

//  The silence of a silence's change as JSON text (fresh), as GET
//  /api/silences writes one: packed in its change body as the broker
//  packs it (silence_change_pack: its state as at the change).
static char *
s_silence_json (mirror_t *self, const alert_change_t *change, const silence_t *silence)
{
    wire_writer_reset (&self->scratch);
    silence_change_pack (&self->scratch.packer, change->seq, change->at, silence,
                         *change->epoch.db ? &change->epoch : NULL);
    return s_scratch_json (self, "silence", change->seq);
}

//  An alert copy the hash and the ring share: freed with its last holder.
typedef struct {
    alert_t alert;                 //  first: an s_kept_t * is its alert_t *
    size_t holders;
} s_kept_t;

static void s_alert_destroy (void **item);

static void
s_recent_clear (mirror_t *self)
{
    for (size_t count = 0; count < self->recent_count; count++) {
        size_t slot = (self->recent_head + count) % MIRROR_RECENT;
        void *alert = self->recent [slot].alert;
        s_alert_destroy (&alert);
        free (self->recent [slot].json);
    }
    self->recent_head = self->recent_count = 0;
}

static void
s_key (char *key, size_t size, const char *source, const char *id)
{
    snprintf (key, size, "%zu:%s/%s", strlen (source), source, id);
}

//  Lets go of a copy (the hash's destructor); NULL is a no-op.
static void
s_alert_destroy (void **item)
{
    s_kept_t *kept = *item;
    if (kept && --kept->holders == 0) {
        alert_clear_fields (&kept->alert);
        mem_free (kept);
    }
    *item = NULL;
}

//  A copy (one holder) of the alert packed at row, or NULL (logged).
static s_kept_t *
s_decode (const msgpack_object *row, const alert_t *alert)
{
    char error [WIRE_ERROR_SIZE] = "no alert";
    s_kept_t *kept = mem_alloc (sizeof (s_kept_t));
    if (!row || alert_decode (row, &kept->alert, error, sizeof error)) {
        log_error ("mirror: cannot copy %s/%s: %s", alert->source, alert->id, error);
        mem_free (kept);
        return NULL;
    }
    kept->holders = 1;
    return kept;
}

//  The hash takes a holder of kept (NULL: nothing changes).
static void
s_put (mirror_t *self, s_kept_t *kept)
{
    char key [WIRE_MAX_NAME * 2 + 32];
    if (!kept)
        return;
    s_key (key, sizeof key, kept->alert.source, kept->alert.id);
    kept->holders++;
    zhashx_update (self->alerts, key, kept);
}

//  A snapshot's alert, copied through the codec as a stored row {v, alert}.
static void
s_snapshot_alert (const alert_t *alert, void *arg)
{
    mirror_t *self = arg;
    wire_writer_reset (&self->scratch);
    msgpack_pack_map (&self->scratch.packer, 2);
    wire_pack_key_int (&self->scratch.packer, "v", WIRE_VERSION);
    wire_pack_key (&self->scratch.packer, "alert");
    alert_pack (&self->scratch.packer, alert);
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (self->scratch.buffer.data, self->scratch.buffer.size,
                                    error, sizeof error);
    if (!doc)
        log_error ("mirror: cannot copy %s/%s: %s", alert->source, alert->id, error);
    void *kept = doc ? s_decode (wire_get (wire_doc_root (doc), "alert"), alert) : NULL;
    s_put (self, kept);
    s_alert_destroy (&kept);
    wire_doc_destroy (&doc);
}

static void
s_snapshot_done (int rc, uint64_t seq, const char *error, void *arg)
{
    mirror_t *self = arg;
    if (rc) {
        log_warn ("mirror: snapshot failed: %s; trying again", error ? error : "?");
        self->snapshot_due = true;
        self->snapshot_at = zclock_mono () + MIRROR_RETRY_MS;
        return;
    }
    if (seq > self->seq)
        self->seq = seq;
    if (!self->ready)
        log_info ("mirror: %zu alerts at seq %" PRIu64, zhashx_size (self->alerts), seq);
    self->ready = true;
}

//  Keeps the change in the ring, taking alert (NULL for a silence's) and
//  json, and tells the listener.
static void
s_keep (mirror_t *self, const alert_change_t *change, alert_t *alert, char *json)
{
    size_t slot;
    if (self->recent_count == MIRROR_RECENT) {
        slot = self->recent_head;
        void *old = self->recent [slot].alert;
        s_alert_destroy (&old);
        free (self->recent [slot].json);
        self->recent_head = (self->recent_head + 1) % MIRROR_RECENT;
    }
    else
        slot = (self->recent_head + self->recent_count++) % MIRROR_RECENT;
    self->recent [slot].epoch_n = self->epoch.n;
    self->recent [slot].seq = change->seq;
    snprintf (self->recent [slot].event, sizeof self->recent [slot].event, "%s", change->event);
    self->recent [slot].alert = alert;
    self->recent [slot].json = json;
    if (self->on_change) {
        mirror_change_t told = { self->epoch.n, change->seq, self->recent [slot].event,
                                 alert, json };
        self->on_change (&told, self->on_change_arg);
    }
}

//  A change that could not be kept for the stream (its JSON could not be
//  written): no client may go on as if it had seen everything, so the ring
//  starts over (no resume point before it stays) and every client is told
//  to reload.
static void
s_lost (mirror_t *self)
{
    s_recent_clear (self);
    if (self->on_change)
        self->on_change (NULL, self->on_change_arg);
}

//  An alert's change into the ring (taking a holder of kept, and json).
static void
s_remember (mirror_t *self, const alert_change_t *change, s_kept_t *kept, char *json)
{
    if (!json || !kept) {
        free (json);
        s_lost (self);
        return;
    }
    kept->holders++;
    s_keep (self, change, &kept->alert, json);
}

//  The position the copy is consistent with: the change's seq and epoch.
static void
s_advance (mirror_t *self, const alert_change_t *change)
{
    self->seq = change->seq;
    if (*change->epoch.db)
        self->epoch = change->epoch;
}

static feed_result_t
s_deliver (const alert_change_t *change, void *arg, int64_t *retry_at)
{
    (void) retry_at;
    mirror_t *self = arg;
    wire_writer_reset (&self->scratch);
    alert_change_pack (&self->scratch.packer, change->seq, change->at, change->event,
                       &change->alert, *change->epoch.db ? &change->epoch : NULL);
    char error [WIRE_ERROR_SIZE] = "out of memory";
    wire_doc_t *body = wire_doc_new (self->scratch.buffer.data, self->scratch.buffer.size,
                                     error, sizeof error);
    const msgpack_object *root = body ? wire_doc_root (body) : NULL;
    void *kept = root ? s_decode (wire_get (root, "alert"), &change->alert) : NULL;
    char *json = root ? json_text_from_msgpack (root) : NULL;
    wire_doc_destroy (&body);
    if (!json)
        log_error ("mirror: change %" PRIu64 " cannot be kept for the stream (%s): its "
                   "clients are told to reload", change->seq, error);
    if (strcmp (change->event, "deleted") == 0) {
        char key [WIRE_MAX_NAME * 2 + 32];
        s_key (key, sizeof key, change->alert.source, change->alert.id);
        zhashx_delete (self->alerts, key);
    }
    else
        s_put (self, kept);
    s_advance (self, change);
    s_remember (self, change, kept, json);
    s_alert_destroy (&kept);
    return FEED_DONE;
}

//  A silence's change: nothing in the copy changes (its alerts get their
//  own `updated` changes); it moves seq and goes into the ring.
static feed_result_t
s_deliver_silence (const alert_change_t *change, const silence_t *silence, void *arg,
                   int64_t *retry_at)
{
    (void) retry_at;
    mirror_t *self = arg;
    s_advance (self, change);
    char *json = s_silence_json (self, change, silence);
    if (json)
        s_keep (self, change, NULL, json);
    else
        s_lost (self);
    return FEED_DONE;
}

mirror_t *
mirror_new (const char *events, const char *control, char *error, size_t error_size)
{
    mirror_t *self = mem_alloc (sizeof (mirror_t));
    wire_writer_init (&self->scratch);
    self->alerts = zhashx_new ();
    if (!self->alerts) {
        snprintf (error, error_size, "out of memory");
        mirror_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->alerts, s_alert_destroy);
    change_feed_config_t config = { .events = events, .control = control,
                                    .call_timeout_ms = MIRROR_CALL_TIMEOUT_MS,
                                    .on_silence = s_deliver_silence, .on_silence_arg = self };
    self->feed = change_feed_new (&config, error, error_size);
    if (!self->feed) {
        mirror_destroy (&self);
        return NULL;
    }
    self->snapshot_due = true;
    return self;
}

void
mirror_destroy (mirror_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mirror_t *self = *self_p;
    change_feed_destroy (&self->feed);
    s_recent_clear (self);
    zhashx_destroy (&self->alerts);
    wire_writer_free (&self->scratch);
    mem_free (self);
    *self_p = NULL;
}

int
mirror_poll_items (mirror_t *self, zmq_pollitem_t *items, int max)
{
    return change_feed_poll_items (self->feed, items, max);
}

int64_t
mirror_next_wakeup (mirror_t *self, int64_t mono_now)
{
    int64_t wait = change_feed_next_wakeup (self->feed, mono_now);
    if (self->snapshot_due && self->snapshot_at - mono_now < wait)
        wait = self->snapshot_at > mono_now ? self->snapshot_at - mono_now : 0;
    return wait;
}

//  A new epoch (a new or replaced database): the copy starts over.
static void
s_follow_epochs (mirror_t *self)
{
    uint64_t epochs = change_feed_stats (self->feed).epochs;
    if (epochs == self->epochs_seen)
        return;
    self->epochs_seen = epochs;
    log_info ("mirror: the broker's epoch changed; paging every alert in again");
    zhashx_purge (self->alerts);
    s_recent_clear (self);
    self->ready = false;
    self->snapshot_due = true;
    if (self->on_change)
        self->on_change (NULL, self->on_change_arg);
}

void
mirror_work (mirror_t *self, int64_t mono_now)
{
    s_follow_epochs (self);
    if (self->snapshot_due && mono_now >= self->snapshot_at
    &&  !change_feed_snapshot_running (self->feed)
    &&  change_feed_snapshot_start (self->feed, s_snapshot_alert, s_snapshot_done, self) == 0)
        self->snapshot_due = false;
    for (int round = 0; round < 100; round++) {
        change_feed_work (self->feed, mono_now, s_deliver, self);
        if (change_feed_next_wakeup (self->feed, mono_now) > 0)
            break;                  //  nothing more to do at once
    }
}

bool mirror_ready (mirror_t *self) { return self->ready; }

bool
mirror_live (mirror_t *self, int64_t silence_ms)
{
    return self->ready
        && zclock_mono () - change_feed_health (self->feed).last_heard < silence_ms;
}
uint64_t mirror_seq (mirror_t *self) { return self->seq; }
const epoch_t *
mirror_epoch (mirror_t *self)
{
    return *self->epoch.db ? &self->epoch : change_feed_epoch (self->feed);
}
size_t mirror_size (mirror_t *self) { return zhashx_size (self->alerts); }

const alert_t *
mirror_find (mirror_t *self, const char *source, const char *id)
{
    char key [WIRE_MAX_NAME * 2 + 32];
    s_key (key, sizeof key, source, id);
    return zhashx_lookup (self->alerts, key);
}

void
mirror_each (mirror_t *self, mirror_each_fn *each, void *arg)
{
    for (alert_t *alert = zhashx_first (self->alerts); alert;
         alert = zhashx_next (self->alerts))
        each (alert, arg);
}

void
mirror_on_change (mirror_t *self, mirror_change_fn *fn, void *arg)
{
    self->on_change = fn;
    self->on_change_arg = arg;
}

bool
mirror_replay (mirror_t *self, uint64_t epoch_n, uint64_t after,
               mirror_change_fn *each, void *arg)
{
    if (epoch_n != mirror_epoch (self)->n || after > self->seq)
        return false;
    if (after == self->seq)
        return true;
    if (self->recent_count == 0
    ||  after + 1 < self->recent [self->recent_head].seq)
        return false;
    for (size_t count = 0; count < self->recent_count; count++) {
        size_t slot = (self->recent_head + count) % MIRROR_RECENT;
        if (self->recent [slot].seq <= after || self->recent [slot].epoch_n != epoch_n)
            continue;
        mirror_change_t change = { self->recent [slot].epoch_n, self->recent [slot].seq,
                                   self->recent [slot].event, self->recent [slot].alert,
                                   self->recent [slot].json };
        each (&change, arg);
    }
    return true;
}
