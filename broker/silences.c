/*  silences.c — the broker's silences: the set, its timers, its ops.

    What it keeps: every silence in an array in the order they were added
    (pending, active, and expired ones until retention deletes them, at most
    BROKER_MAX_SILENCES), and silence_due, the wall time of the next start
    or end among them. A silence's changes go through core_record_silence
    (core.c): the next seq, its row and a history row in the turn's
    commit, published on topic silence.ID after it.

    Which alert is silenced. An alert that is not cleared and that a live
    silence (starts <= now < ends) matches carries the id of the first such
    silence, in the order they were added, in silenced_by. That is set on
    every change the broker publishes (silences_cover, from core_record),
    so a new or changed alert is silenced at once; and when a silence is
    added, expired, starts or ends, silences_tick walks the whole table once
    and gives each alert whose silenced_by is no longer right an `updated`
    change. A cleared alert carries none, so a silence over many cleared
    alerts costs no changes until one of them raises.

    Timers. The due heap keeps one due time per alert, and silences are few:
    their starts and ends are not put there. silence_due is recomputed
    (a walk over the silences) after each tick, add and expire; the loop
    sleeps no later than it and calls silences_tick when it passes. The
    first turn after start ticks too, so a silence that started or ended
    while the broker was down takes effect then.

    Limits: a tick walks every alert and tries every silence on those not
    cleared: O(alerts × silences) at each start or end, none between.
*/
#include <string.h>
#include "core_internal.h"
#include "bus.h"
#include "mem.h"
#include "timespec.h"

//  --- the set ----------------------------------------------------------------------

static void
s_append (core_t *self, silence_t *silence)
{
    if (self->silence_count == self->silence_capacity) {
        self->silence_capacity = self->silence_capacity ? self->silence_capacity * 2 : 16;
        self->silences = mem_realloc (self->silences,
                                      self->silence_capacity * sizeof (silence_t *));
    }
    self->silences [self->silence_count++] = silence;
}

static silence_t *
s_find (core_t *self, const char *id)
{
    for (size_t index = 0; index < self->silence_count; index++)
        if (strcmp (self->silences [index]->id, id) == 0)
            return self->silences [index];
    return NULL;
}

//  The earliest start or end after now, 0 for none.
static int64_t
s_next_due (core_t *self, int64_t now)
{
    int64_t due = 0;
    for (size_t index = 0; index < self->silence_count; index++) {
        const silence_t *silence = self->silences [index];
        int64_t next = silence->starts > now ? silence->starts
                     : silence->ends > now ? silence->ends : 0;
        if (next && (!due || next < due))
            due = next;
    }
    return due;
}

//  The id of the first live silence that covers alert, or NULL.
static const char *
s_covering (core_t *self, const alert_t *alert, int64_t now)
{
    if (alert->state == ALERT_CLEARED)
        return NULL;
    for (size_t index = 0; index < self->silence_count; index++) {
        const silence_t *silence = self->silences [index];
        if (silence_live (silence, now) && silence_matches (silence, alert))
            return silence->id;
    }
    return NULL;
}

static bool
s_same (const char *one, const char *other)
{
    return one == other || (one && other && strcmp (one, other) == 0);
}

void
silences_cover (core_t *self, alert_t *alert, int64_t now)
{
    const char *id = self->silence_count ? s_covering (self, alert, now) : NULL;
    if (s_same (id, alert->silenced_by))
        return;
    mem_free (alert->silenced_by);
    alert->silenced_by = mem_strdup (id);
}

void
silences_tick (core_t *self, int64_t now)
{
    for (size_t index = 0; index < self->silence_count; index++) {
        silence_t *silence = self->silences [index];
        if (strcmp (silence->announced, silence_state (silence, now)) != 0) {
            log_info ("silence %s is %s", silence->id, silence_state (silence, now));
            core_record_silence (self, silence, now);
        }
    }
    size_t span = alert_table_span (self->table), changed = 0;
    for (size_t position = 0; position < span; position++) {
        entry_t *entry = alert_table_at (self->table, position);
        if (!entry || (!entry->alert.silenced_by && !self->silence_count))
            continue;
        if (!s_same (s_covering (self, &entry->alert, now), entry->alert.silenced_by)) {
            core_record (self, entry, TRANSITION_UPDATED, now);   //  sets silenced_by
            changed++;
        }
    }
    if (changed)
        log_info ("silences: %zu alerts silenced or unsilenced", changed);
    self->silence_due = s_next_due (self, now);
}

static void
s_load_one (const void *body, size_t size, void *arg)
{
    core_t *self = arg;
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (body, size, error, sizeof error);
    silence_t *silence = doc ? silence_decode (wire_get (wire_doc_root (doc), "silence"),
                                               error, sizeof error) : NULL;
    if (!silence)
        log_error ("skipping a stored silence that does not decode: %s", error);
    else
    if (s_find (self, silence->id) || self->silence_count >= BROKER_MAX_SILENCES) {
        log_error ("skipping stored silence %s: a duplicate, or past %d", silence->id,
                   BROKER_MAX_SILENCES);
        silence_destroy (&silence);
    }
    else
        s_append (self, silence);
    wire_doc_destroy (&doc);
}

int
silences_load (core_t *self)
{
    return store_load_silences (self->store, s_load_one, self);
}

void
silences_forget (core_t *self, int64_t cutoff)
{
    size_t kept = 0;
    for (size_t index = 0; index < self->silence_count; index++) {
        silence_t *silence = self->silences [index];
        if (silence->ends < cutoff)
            silence_destroy (&silence);
        else
            self->silences [kept++] = silence;
    }
    self->silence_count = kept;
}

void
silences_destroy (core_t *self)
{
    for (size_t index = 0; index < self->silence_count; index++)
        silence_destroy (&self->silences [index]);
    mem_free (self->silences);
    self->silences = NULL;
    self->silence_count = self->silence_capacity = 0;
}

//  --- ops ----------------------------------------------------------------------------

//  A time argument (a spec such as +2h, or epoch seconds); 0 when absent.
static int
s_get_time (const msgpack_object *request, const char *key, int64_t now, int64_t *when,
            char *error, size_t error_size)
{
    bool present = false, is_clear = false;
    *when = 0;
    if (wire_get_time (request, key, now, &present, when, &is_clear, error, error_size))
        return -1;
    if (is_clear) {
        snprintf (error, error_size, "%s: 'clear' is not a time here", key);
        return -1;
    }
    return 0;
}

//  The arguments of silence_add into silence. 0, or -1 with error.
static int
s_read_add (core_t *self, const msgpack_object *request, silence_t *silence, int64_t now,
            char *error, size_t error_size)
{
    if (silence_matchers_decode (wire_get (request, "matchers"), silence, error, error_size)
    ||  s_get_time (request, "starts", now, &silence->starts, error, error_size)
    ||  s_get_time (request, "ends", now, &silence->ends, error, error_size)
    ||  core_get_by (self, request, "silence_add", &silence->by, error, error_size)
    ||  wire_get_string (request, "note", WIRE_MAX_NOTE, &silence->note, error, error_size))
        return -1;
    if (!silence->by) {
        snprintf (error, error_size, "by: required");
        return -1;
    }
    if (silence->starts < now)
        silence->starts = now;      //  absent or past: from now
    if (silence->ends <= silence->starts) {
        snprintf (error, error_size, silence->ends ? "ends: must be after starts and now"
                  : "ends: required (a time such as +2h)");
        return -1;
    }
    return 0;
}

int
silences_op_add (core_t *self, const msgpack_object *request, msgpack_packer *out,
                 int64_t now, char *error, size_t error_size)
{
    if (self->silence_count >= BROKER_MAX_SILENCES) {
        snprintf (error, error_size, "too many silences (%d, expired ones included until "
                  "retention): expire some, or wait", BROKER_MAX_SILENCES);
        return -1;
    }
    silence_t *silence = silence_new ();
    if (s_read_add (self, request, silence, now, error, error_size)
    ||  silence_make_id (silence->id)) {
        if (!*error)
            snprintf (error, error_size, "no randomness for an id");
        silence_destroy (&silence);
        return -1;
    }
    silence->created_at = now;
    s_append (self, silence);
    core_record_silence (self, silence, now);
    silences_tick (self, now);
    char starts [40], ends [40];
    log_info ("silence %s added by %s, %s to %s%s%s", silence->id, silence->by,
              time_format (silence->starts, starts, sizeof starts),
              time_format (silence->ends, ends, sizeof ends),
              silence->note ? ": " : "", silence->note ? silence->note : "");
    wire_pack_key (out, "silence");
    silence_pack (out, silence, now);
    return 1;
}

int
silences_op_list (core_t *self, const msgpack_object *request, msgpack_packer *out,
                  int64_t now, char *error, size_t error_size)
{
    (void) request, (void) error, (void) error_size;
    //  Clients drop frames over BUS_MAX_MESSAGE: a longer list is cut there
    //  and says so (truncated); the newest silences are the ones left out.
    wire_writer_t items;
    wire_writer_init (&items);
    size_t shown = 0;
    for (; shown < self->silence_count; shown++) {
        size_t before = items.buffer.size;
        silence_pack (&items.packer, self->silences [shown], now);
        if (items.buffer.size > BUS_MAX_MESSAGE - 32 * 1024) {
            items.buffer.size = before;
            break;
        }
    }
    wire_pack_key (out, "silences");
    msgpack_pack_array (out, shown);
    msgpack_sbuffer_write (out->data, items.buffer.data, items.buffer.size);
    wire_pack_key_bool (out, "truncated", shown < self->silence_count);
    wire_writer_free (&items);
    return 2;
}

int
silences_op_expire (core_t *self, const msgpack_object *request, msgpack_packer *out,
                    int64_t now, char *error, size_t error_size)
{
    char *id = NULL, *by = NULL;
    silence_t *silence = NULL;
    if (wire_get_name (request, "id", &id, error, error_size) == 0
    &&  core_get_by (self, request, "silence_expire", &by, error, error_size) == 0) {
        if (!id || !by)
            snprintf (error, error_size, "id and by are required");
        else
        if (!(silence = s_find (self, id)))
            snprintf (error, error_size, "no silence %s", id);
        else
        if (silence->ends <= now) {
            snprintf (error, error_size, "silence %s has already ended", id);
            silence = NULL;
        }
    }
    if (silence) {
        if (silence->starts > now)
            silence->starts = now;          //  a pending one: it ends before it began
        silence->ends = now;
        mem_free (silence->expired_by);
        silence->expired_by = by;
        by = NULL;
        log_info ("silence %s expired by %s", silence->id, silence->expired_by);
        silences_tick (self, now);          //  publishes it, and unsilences its alerts
        wire_pack_key (out, "silence");
        silence_pack (out, silence, now);
    }
    mem_free (id);
    mem_free (by);
    return silence ? 1 : -1;
}
