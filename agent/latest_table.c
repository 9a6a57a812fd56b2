/*  latest_table.c — the newest state per alert, and packing it into ingest
    frames. See latest_table.h for why the agent holds state, not a queue.

    Entries live in a hash keyed "source\x1fid" (names never hold control
    characters). A flush collects the entries it sends, sorts them by source
    (a frame has one source), and packs each source's alerts into frames of
    at most LATEST_FRAME_BUDGET bytes and WIRE_MAX_BATCH alerts.

    On disk (latest_store.c) a row's frame is what a flush would send for
    that entry alone — {v, source, alerts: [alert]} with relative times —
    read back with wire_batch_decode, the broker's own hardened decoder,
    against the wall time of the write. The keys of entries changed since
    the last sync are in `unsaved`; a key there whose entry is gone means
    "drop the row".

    Acknowledgement: every put bumps an entry's version. A frame handed over
    is recorded under its tx with the (key, version) of each dirty entry it
    carried, and those entries are marked in flight (sent_version =
    version): a dirty flush skips them. latest_table_acked(tx) cleans the
    entries whose version is still the one sent; an entry put again since
    stays dirty, and is sendable at once (its version moved past
    sent_version). latest_table_forget drops every record, so what was in
    flight is sendable again. `unsent` counts the dirty entries not in
    flight, so the agent knows without a scan whether a flush has work.
*/
#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <string.h>
#include "alert.h"
#include "bus.h"
#include "latest_store.h"
#include "latest_table.h"
#include "log.h"
#include "mem.h"
#include "timespec.h"

//  Bytes of alerts in one frame: under the broker's 256 KiB frame limit with
//  room for the frame's header.
#define LATEST_FRAME_BUDGET (BUS_MAX_MESSAGE - 8 * 1024)
#define LATEST_KEY_SIZE     (2 * WIRE_MAX_NAME + 2)

typedef struct {
    char *source;                  //  whose alert
    wire_event_t event;            //  owned copy; times are offsets from stored_at
    int64_t stored_at;             //  monotonic ms when it was stored
    bool dirty;                    //  not yet acknowledged by the broker
    uint64_t version;              //  bumped at every put
    uint64_t sent_version;         //  the version in flight, 0 when none
} held_t;

//  A frame handed over and not yet acknowledged.
typedef struct {
    char **keys;                   //  the dirty entries it carried
    uint64_t *versions;            //  ... at these versions
    size_t count;
    int64_t sent_at;               //  monotonic ms
} in_flight_t;

struct _latest_table_t {
    zhashx_t *held;                //  key → held_t *, owned by the hash
    size_t max_alerts;             //  cap on entries
    size_t dirty;                  //  entries with dirty set
    size_t unsent;                 //  dirty entries not in flight
    zhashx_t *in_flight;           //  tx → in_flight_t *, owned by the hash
    log_limit_t full_log;          //  rate limit for "table full" lines
    latest_store_t *store;         //  the copy on disk, or NULL
    bool on_disk;                  //  a store is open or being opened: note changes
    zhashx_t *unsaved;             //  key → key copy: changed since the last sync
    wire_writer_t row;             //  one row's frame, reused
};

static void
s_event_free (wire_event_t *event)
{
    mem_free (event->id);
    mem_free (event->subject);
    mem_free (event->summary);
    mem_free (event->detail);
    alert_free_labels (&event->labels, &event->label_count);
}

static void
s_key_destroy (void **item)
{
    mem_free (*item);
    *item = NULL;
}

static void
s_in_flight_destroy (void **item)
{
    in_flight_t *record = *item;
    for (size_t index = 0; index < record->count; index++)
        mem_free (record->keys [index]);
    mem_free (record->keys);
    mem_free (record->versions);
    mem_free (record);
    *item = NULL;
}

//  Counted in `unsent`: dirty, and this version is not in flight.
static bool
s_unsent (const held_t *held)
{
    return held && held->dirty && held->sent_version != held->version;
}

static void
s_held_destroy (void **item)
{
    held_t *held = *item;
    mem_free (held->source);
    s_event_free (&held->event);
    mem_free (held);
    *item = NULL;
}

latest_table_t *
latest_table_new (size_t max_alerts)
{
    latest_table_t *self = mem_alloc (sizeof (latest_table_t));
    self->held = zhashx_new ();
    if (!self->held) {
        mem_free (self);
        return NULL;
    }
    zhashx_set_destructor (self->held, s_held_destroy);
    self->unsaved = zhashx_new ();
    if (!self->unsaved) {
        zhashx_destroy (&self->held);
        mem_free (self);
        return NULL;
    }
    zhashx_set_destructor (self->unsaved, s_key_destroy);
    self->in_flight = zhashx_new ();
    if (!self->in_flight) {
        zhashx_destroy (&self->held);
        zhashx_destroy (&self->unsaved);
        mem_free (self);
        return NULL;
    }
    zhashx_set_destructor (self->in_flight, s_in_flight_destroy);
    wire_writer_init (&self->row);
    self->max_alerts = max_alerts;
    return self;
}

void
latest_table_destroy (latest_table_t **self_p)
{
    if (!*self_p)
        return;
    latest_store_destroy (&(*self_p)->store);
    zhashx_destroy (&(*self_p)->held);
    zhashx_destroy (&(*self_p)->unsaved);
    zhashx_destroy (&(*self_p)->in_flight);
    wire_writer_free (&(*self_p)->row);
    mem_free (*self_p);
    *self_p = NULL;
}

void
latest_table_set_max (latest_table_t *self, size_t max_alerts)
{
    self->max_alerts = max_alerts;
}

static void
s_key (char *key, const char *source, const char *id)
{
    snprintf (key, LATEST_KEY_SIZE, "%s\x1f%s", source, id);
}

//  A deep copy of event with its absolute times turned into offsets.
static void
s_event_copy (wire_event_t *to, const wire_event_t *from, int64_t wall_now)
{
    *to = *from;
    to->id = mem_strdup (from->id);
    to->subject = mem_strdup (from->subject);
    to->summary = mem_strdup (from->summary);
    to->detail = mem_strdup (from->detail);
    to->labels = NULL;
    to->label_count = 0;
    if (alert_copy_labels (&to->labels, &to->label_count, from->labels, from->label_count))
        log_fatal ("out of memory copying labels");
    to->raise_at = from->has_raise ? from->raise_at - wall_now : 0;
    to->clear_at = from->has_clear ? from->clear_at - wall_now : 0;
    to->suppress_until = from->has_suppress ? from->suppress_until - wall_now : 0;
}

//  Remembers that key's entry changed (or went) since the last sync.
static void
s_unsaved (latest_table_t *self, const char *key)
{
    if (!self->on_disk || zhashx_lookup (self->unsaved, key))
        return;
    if (zhashx_insert (self->unsaved, key, mem_strdup (key)))
        log_fatal ("latest table: cannot note %s as unsaved", key);
}

//  Stores event under key with the given dirty flag. 0, or -1 when full.
static int
s_store (latest_table_t *self, const char *key, const char *source, const wire_event_t *event,
         int64_t wall_now, int64_t mono_now, bool dirty)
{
    held_t *held = zhashx_lookup (self->held, key);
    bool unsent_before = s_unsent (held);
    if (!held) {
        if (zhashx_size (self->held) >= self->max_alerts)
            return -1;
        held = mem_alloc (sizeof (held_t));
        held->source = mem_strdup (source);
        if (zhashx_insert (self->held, key, held))
            log_fatal ("latest table: cannot insert %s/%s", source, event->id);
    }
    else
        s_event_free (&held->event);
    s_event_copy (&held->event, event, wall_now);
    held->stored_at = mono_now;
    if (dirty && !held->dirty)
        self->dirty++;
    if (!dirty && held->dirty)
        self->dirty--;
    held->dirty = dirty;
    held->version++;
    self->unsent += s_unsent (held);
    self->unsent -= unsent_before;
    return 0;
}

int
latest_table_put (latest_table_t *self, const char *source, const wire_event_t *event,
                  int64_t wall_now, int64_t mono_now)
{
    char key [LATEST_KEY_SIZE];
    s_key (key, source, event->id);
    if (s_store (self, key, source, event, wall_now, mono_now, true)) {
        log_limited (&self->full_log, "holding max_alerts = %zu alerts already:"
                     " dropped new alert %s/%s", self->max_alerts, source, event->id);
        return -1;
    }
    s_unsaved (self, key);
    return 0;
}

const wire_event_t *
latest_table_get (latest_table_t *self, const char *source, const char *id)
{
    char key [LATEST_KEY_SIZE];
    s_key (key, source, id);
    held_t *held = zhashx_lookup (self->held, key);
    return held ? &held->event : NULL;
}

bool
latest_table_remove (latest_table_t *self, const char *source, const char *id)
{
    char key [LATEST_KEY_SIZE];
    s_key (key, source, id);
    held_t *held = zhashx_lookup (self->held, key);
    if (!held)
        return false;
    if (held->dirty)
        self->dirty--;
    if (s_unsent (held))
        self->unsent--;
    zhashx_delete (self->held, key);
    s_unsaved (self, key);
    return true;
}

size_t
latest_table_size (latest_table_t *self)
{
    return zhashx_size (self->held);
}

size_t
latest_table_dirty (latest_table_t *self)
{
    return self->dirty;
}

size_t
latest_table_unsent (latest_table_t *self)
{
    return self->unsent;
}

//  --- acknowledgements ---------------------------------------------------------------

int
latest_table_acked (latest_table_t *self, const char *tx)
{
    in_flight_t *record = zhashx_lookup (self->in_flight, tx);
    if (!record)
        return -1;
    int cleaned = 0;
    for (size_t index = 0; index < record->count; index++) {
        held_t *held = zhashx_lookup (self->held, record->keys [index]);
        if (!held || held->version != record->versions [index] || !held->dirty)
            continue;
        held->dirty = false;
        held->sent_version = 0;
        self->dirty--;
        s_unsaved (self, record->keys [index]);
        cleaned++;
    }
    zhashx_delete (self->in_flight, tx);
    return cleaned;
}

//  The record's entries that are still in flight at the version it sent
//  become sendable again.
static void
s_release (latest_table_t *self, const in_flight_t *record)
{
    for (size_t index = 0; index < record->count; index++) {
        held_t *held = zhashx_lookup (self->held, record->keys [index]);
        if (held && held->sent_version == record->versions [index]) {
            held->sent_version = 0;
            self->unsent += s_unsent (held);
        }
    }
}

bool
latest_table_refused (latest_table_t *self, const char *tx)
{
    in_flight_t *record = zhashx_lookup (self->in_flight, tx);
    if (!record)
        return false;
    s_release (self, record);
    zhashx_delete (self->in_flight, tx);
    return true;
}

void
latest_table_forget (latest_table_t *self)
{
    for (in_flight_t *record = zhashx_first (self->in_flight); record;
         record = zhashx_next (self->in_flight))
        s_release (self, record);
    zhashx_purge (self->in_flight);
}

size_t
latest_table_in_flight (latest_table_t *self)
{
    return zhashx_size (self->in_flight);
}

int64_t
latest_table_oldest_sent (latest_table_t *self)
{
    int64_t oldest = 0;
    for (in_flight_t *record = zhashx_first (self->in_flight); record;
         record = zhashx_next (self->in_flight))
        if (!oldest || record->sent_at < oldest)
            oldest = record->sent_at;
    return oldest;
}

//  --- packing frames ---------------------------------------------------------------

//  Packs a time as a relative spec: the stored offset less the time held.
static void
s_pack_time (msgpack_packer *packer, const char *key, int64_t offset, int64_t held_for)
{
    char spec [32];
    int64_t relative = offset - held_for;
    snprintf (spec, sizeof spec, "%c%" PRId64 "ms", relative < 0 ? '-' : '+',
              relative < 0 ? -relative : relative);
    wire_pack_key_string (packer, key, spec);
}

static void
s_pack_labels (msgpack_packer *packer, const wire_event_t *event)
{
    wire_pack_key (packer, "labels");
    msgpack_pack_map (packer, event->label_count);
    for (size_t index = 0; index < event->label_count; index++) {
        wire_pack_string (packer, event->labels [index].key);
        wire_pack_string (packer, event->labels [index].value);
    }
}

static void
s_pack_held (msgpack_packer *packer, const held_t *held, int64_t mono_now)
{
    const wire_event_t *event = &held->event;
    //  The caller's clock may be read before the put it follows (a turn's
    //  start): a negative hold would move times into the future
    int64_t held_for = mono_now > held->stored_at ? mono_now - held->stored_at : 0;
    size_t fields = 2 + event->has_raise + event->has_clear + event->has_suppress
                  + !!event->subject + !!event->summary + !!event->detail
                  + (event->level >= 0) + event->has_labels;
    msgpack_pack_map (packer, fields);
    wire_pack_key_string (packer, "id", event->id);
    //  How long the agent has held it (architecture §10, "human acts win")
    wire_pack_key_int (packer, "age", held_for);
    if (event->has_raise && event->raise_clear)
        wire_pack_key_string (packer, "raise", "clear");
    else
    if (event->has_raise)
        s_pack_time (packer, "raise", event->raise_at, held_for);
    if (event->has_clear)
        s_pack_time (packer, "clear", event->clear_at, held_for);
    if (event->has_suppress)
        s_pack_time (packer, "suppress", event->suppress_until, held_for);
    if (event->subject)
        wire_pack_key_string (packer, "subject", event->subject);
    if (event->summary)
        wire_pack_key_string (packer, "summary", event->summary);
    if (event->detail)
        wire_pack_key_string (packer, "detail", event->detail);
    if (event->level >= 0)
        wire_pack_key_string (packer, "level", alert_level_name ((alert_level_t) event->level));
    if (event->has_labels)
        s_pack_labels (packer, event);
}

//  Entries of one flush, and where they are going.
typedef struct {
    held_t **entries;              //  what this flush sends, sorted by source
    size_t count;
    int64_t mono_now;              //  for relative times
    latest_send_fn *send;          //  hands a frame over
    void *arg;                     //  for send
    wire_writer_t items;           //  packed alerts of the frame being built
    wire_writer_t frame;           //  the frame itself
    int frames;                    //  frames handed over so far
} flush_t;

static int
s_by_source (const void *left, const void *right)
{
    const held_t *const *a = left, *const *b = right;
    return strcmp ((*a)->source, (*b)->source);
}

//  Records the dirty entries of a frame handed over as in flight under tx.
static void
s_record (latest_table_t *self, flush_t *flush, size_t first, size_t last, const char *tx)
{
    in_flight_t *record = mem_alloc (sizeof (in_flight_t));
    record->keys = mem_alloc ((last - first + 1) * sizeof (char *));
    record->versions = mem_alloc ((last - first + 1) * sizeof (uint64_t));
    record->sent_at = flush->mono_now;
    for (size_t index = first; index < last; index++) {
        held_t *held = flush->entries [index];
        if (!held->dirty)
            continue;
        if (s_unsent (held))
            self->unsent--;
        held->sent_version = held->version;
        char key [LATEST_KEY_SIZE];
        s_key (key, held->source, held->event.id);
        record->keys [record->count] = mem_strdup (key);
        record->versions [record->count++] = held->version;
    }
    if (zhashx_insert (self->in_flight, tx, record))
        log_fatal ("latest table: tx %s twice", tx);
}

//  Sends entries [first, last) as one frame. 0, or -1 if send refused.
static int
s_send_frame (latest_table_t *self, flush_t *flush, size_t first, size_t last, bool replace)
{
    char tx [WIRE_TX_SIZE];
    if (wire_make_tx (tx, sizeof tx))
        log_fatal ("no randomness for a transmission id");
    wire_writer_reset (&flush->frame);
    msgpack_packer *packer = &flush->frame.packer;
    msgpack_pack_map (packer, 6);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key_string (packer, "tx", tx);
    wire_pack_key_string (packer, "source", flush->entries [first]->source);
    wire_pack_key_bool (packer, "replace", replace);
    wire_pack_key_int (packer, "sent", clock_now_ms ());
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, last - first);
    msgpack_sbuffer_write (&flush->frame.buffer, flush->items.buffer.data,
                           flush->items.buffer.size);
    if (flush->send (flush->frame.buffer.data, flush->frame.buffer.size, flush->arg))
        return -1;
    s_record (self, flush, first, last, tx);
    flush->frames++;
    return 0;
}

//  Sends one source's entries [first, end): one replace frame if asked and
//  they fit, otherwise as many frames as it takes, without replace.
static int
s_send_source (latest_table_t *self, flush_t *flush, size_t first, size_t end, bool replace)
{
    size_t start = first;
    wire_writer_reset (&flush->items);
    for (size_t index = first; index < end; index++) {
        size_t before = flush->items.buffer.size;
        s_pack_held (&flush->items.packer, flush->entries [index], flush->mono_now);
        bool full = flush->items.buffer.size > LATEST_FRAME_BUDGET
                 || index - start == WIRE_MAX_BATCH;
        if (!full)
            continue;
        if (replace)
            log_info ("%s: %zu alerts do not fit one frame: resync sends them without replace",
                      flush->entries [first]->source, end - first);
        replace = false;
        flush->items.buffer.size = before;      //  this one starts the next frame
        if (s_send_frame (self, flush, start, index, false))
            return -1;
        start = index;
        wire_writer_reset (&flush->items);
        s_pack_held (&flush->items.packer, flush->entries [index], flush->mono_now);
    }
    return s_send_frame (self, flush, start, end, replace);
}

static void
s_collect (latest_table_t *self, flush_t *flush, bool everything)
{
    flush->entries = mem_alloc ((zhashx_size (self->held) + 1) * sizeof (held_t *));
    for (held_t *held = zhashx_first (self->held); held; held = zhashx_next (self->held))
        if (everything || s_unsent (held))
            flush->entries [flush->count++] = held;
    qsort (flush->entries, flush->count, sizeof (held_t *), s_by_source);
}

int
latest_table_flush (latest_table_t *self, bool everything, bool replace,
                    int64_t mono_now, latest_send_fn *send, void *arg)
{
    flush_t flush = { .mono_now = mono_now, .send = send, .arg = arg };
    s_collect (self, &flush, everything);
    wire_writer_init (&flush.items);
    wire_writer_init (&flush.frame);
    int rc = 0;
    for (size_t first = 0; first < flush.count && rc == 0; ) {
        size_t end = first + 1;
        while (end < flush.count
           &&  strcmp (flush.entries [end]->source, flush.entries [first]->source) == 0)
            end++;
        rc = s_send_source (self, &flush, first, end, everything && replace);
        first = end;
    }
    wire_writer_free (&flush.items);
    wire_writer_free (&flush.frame);
    mem_free (flush.entries);
    return rc ? -1 : flush.frames;
}

//  --- on disk --------------------------------------------------------------------------

//  What loading has done so far.
typedef struct {
    latest_table_t *self;
    int64_t wall_now;              //  load time, wall ms
    int64_t mono_now;              //  load time, monotonic ms
    size_t dropped;                //  rows past max_alerts
} loading_t;

//  The age its row's alert carried when written (0 when it has none).
static int64_t
s_row_age (const latest_row_t *row)
{
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (row->frame, row->size, error, sizeof error);
    const msgpack_object *alerts = doc ? wire_get (wire_doc_root (doc), "alerts") : NULL;
    int64_t age = 0;
    bool present = false;
    if (alerts && alerts->type == MSGPACK_OBJECT_ARRAY && alerts->via.array.size == 1
    &&  (wire_get_int (&alerts->via.array.ptr [0], "age", &present, &age, error, sizeof error)
      || age < 0))
        age = 0;
    wire_doc_destroy (&doc);
    return age;
}

static int
s_load_row (const latest_row_t *row, void *arg)
{
    loading_t *loading = arg;
    latest_table_t *self = loading->self;
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    char error [WIRE_ERROR_SIZE];
    bool readable = wire_batch_decode (row->frame, row->size, row->written_at, &batch,
                                       error, sizeof error) == 0
                 && batch.event_count == 1 && batch.source
                 && streq (batch.source, row->source) && streq (batch.events [0].id, row->id);
    if (readable) {
        char key [LATEST_KEY_SIZE];
        s_key (key, row->source, row->id);
        //  Held since before the row was written: keep counting its age
        int64_t held_for = loading->wall_now - row->written_at + s_row_age (row);
        if (held_for < 0)
            held_for = 0;
        if (s_store (self, key, row->source, &batch.events [0], loading->wall_now - held_for,
                     loading->mono_now - held_for, row->dirty)) {
            loading->dropped++;
            s_unsaved (self, key);              //  not held: the next sync drops the row
        }
    }
    wire_batch_free (&batch);
    return readable ? 0 : -1;
}

int
latest_table_open_disk (latest_table_t *self, const char *dir, int64_t wall_now,
                        int64_t mono_now, char *note, size_t note_size,
                        char *error, size_t error_size)
{
    assert (!self->store);
    loading_t loading = { .self = self, .wall_now = wall_now, .mono_now = mono_now };
    bool rewrite;
    char damage [LATEST_STORE_NOTE];
    self->on_disk = true;
    self->store = latest_store_open (dir, s_load_row, &loading, &rewrite, damage, sizeof damage,
                                     error, error_size);
    if (!self->store) {
        self->on_disk = false;
        zhashx_purge (self->unsaved);
        return -1;
    }
    if (rewrite)            //  a fresh file: everything kept goes into it
        for (held_t *held = zhashx_first (self->held); held; held = zhashx_next (self->held))
            s_unsaved (self, zhashx_cursor (self->held));
    char dropped [128] = "";
    if (loading.dropped)
        snprintf (dropped, sizeof dropped, "%s%zu entries past max_alerts = %zu dropped",
                  *damage ? "; " : "", loading.dropped, self->max_alerts);
    snprintf (note, note_size, "%s%s", damage, dropped);
    return 0;
}

//  Writes held's row: its event as a flush would send it alone now.
static int
s_save_held (latest_table_t *self, const held_t *held, int64_t wall_now, int64_t mono_now,
             char *error, size_t error_size)
{
    wire_writer_reset (&self->row);
    msgpack_packer *packer = &self->row.packer;
    msgpack_pack_map (packer, 3);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key_string (packer, "source", held->source);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 1);
    s_pack_held (packer, held, mono_now);
    latest_row_t row = { .source = held->source, .id = held->event.id, .dirty = held->dirty,
                         .written_at = wall_now, .frame = self->row.buffer.data,
                         .size = self->row.buffer.size };
    return latest_store_put (self->store, &row, error, error_size);
}

//  Drops the row of a key whose entry is gone.
static int
s_drop_key (latest_table_t *self, const char *key, char *error, size_t error_size)
{
    char source [LATEST_KEY_SIZE];
    snprintf (source, sizeof source, "%s", key);
    char *separator = strchr (source, '\x1f');
    assert (separator);
    *separator = 0;
    return latest_store_drop (self->store, source, separator + 1, error, error_size);
}

int
latest_table_sync (latest_table_t *self, int64_t wall_now, int64_t mono_now,
                   char *error, size_t error_size)
{
    if (!self->store || zhashx_size (self->unsaved) == 0)
        return 0;
    if (latest_store_begin (self->store, error, error_size))
        return -1;
    int written = 0;
    for (const char *key = zhashx_first (self->unsaved); key; key = zhashx_next (self->unsaved)) {
        const held_t *held = zhashx_lookup (self->held, key);
        int rc = held ? s_save_held (self, held, wall_now, mono_now, error, error_size)
                      : s_drop_key (self, key, error, error_size);
        if (rc) {
            latest_store_rollback (self->store);
            return -1;
        }
        written++;
    }
    if (latest_store_commit (self->store, error, error_size))
        return -1;
    zhashx_purge (self->unsaved);
    return written;
}

size_t
latest_table_unsaved (latest_table_t *self)
{
    return zhashx_size (self->unsaved);
}

const char *
latest_table_path (latest_table_t *self)
{
    return self->store ? latest_store_path (self->store) : NULL;
}
