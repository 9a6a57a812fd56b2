/*  control.c — the broker's control socket ops (README "Control").

    A request is one msgpack map {v, op, ...}; each op below reads its
    arguments with the wire.h getters, and packs the fields of its reply
    (after {v, ok}) into `out`, returning how many key/value pairs it packed,
    or -1 with a sentence in `error`. Ops that change an alert go through
    core_record(), like ingest: core_answer says the reply waits, and the
    loop sends it only after the change is committed. The caller's
    identity comes with the request (core_caller_t), never from a socket.
*/
#include <fnmatch.h>
#include <string.h>
#include "core_internal.h"
#include "bus.h"
#include "mem.h"
#include "submit.h"
#include "timespec.h"

#define CONTROL_DEFAULT_LIMIT  1000
#define CONTROL_MAX_LIMIT      10000
#define CONTROL_HISTORY_LIMIT  100     //  `history` entries by default
#define CONTROL_HISTORY_MAX    1000    //  ... and at most

typedef int (op_fn) (core_t *self, const msgpack_object *request, msgpack_packer *out,
                     int64_t now, char *error, size_t error_size);

//  --- arguments --------------------------------------------------------------------

static int
s_get_limit (const msgpack_object *request, int64_t *limit, char *error, size_t error_size)
{
    bool present = false;
    *limit = CONTROL_DEFAULT_LIMIT;
    if (wire_get_int (request, "limit", &present, limit, error, error_size))
        return -1;
    if (*limit < 1 || *limit > CONTROL_MAX_LIMIT) {
        snprintf (error, error_size, "limit: must be 1 to %d", CONTROL_MAX_LIMIT);
        return -1;
    }
    return 0;
}

//  Finds the alert named by the request's source and id.
static entry_t *
s_get_entry (core_t *self, const msgpack_object *request, char *error, size_t error_size)
{
    char *source = NULL, *id = NULL;
    entry_t *entry = NULL;
    if (wire_get_name (request, "source", &source, error, error_size) == 0
    &&  wire_get_name (request, "id", &id, error, error_size) == 0) {
        if (!source || !id)
            snprintf (error, error_size, "source and id are required");
        else
        if (!(entry = alert_table_find (self->table, source, id)))
            snprintf (error, error_size, "no alert %s/%s", source, id);
    }
    mem_free (source);
    mem_free (id);
    return entry;
}

static int
s_get_required_name (const msgpack_object *request, const char *key, char **value,
                     char *error, size_t error_size)
{
    *value = NULL;
    if (wire_get_name (request, key, value, error, error_size))
        return -1;
    if (!*value) {
        snprintf (error, error_size, "%s: required", key);
        return -1;
    }
    return 0;
}

//  Who acts (`by` on ack, unack, clear): on a secured broker, the caller's
//  certificate name whatever the request says, unless its role passes on
//  people it authenticated itself (gateway: lilac-web's user), whose `by`
//  is required and kept; on a plain broker the request's `by`, required.
//  `by` stays required either way, so a request means the same to a plain
//  and a secured broker; one the certificate's name replaces is not an
//  error (`lilac ack` sends $USER by default): it is logged, rate-limited.
int
core_get_by (core_t *self, const msgpack_object *request, const char *op, char **by,
             char *error, size_t error_size)
{
    if (s_get_required_name (request, "by", by, error, error_size))
        return -1;
    const security_client_t *caller = self->secured ? self->caller->client : NULL;
    if (!caller || role_trusts_by (caller->role) || strcmp (*by, caller->name) == 0)
        return 0;
    log_limited (&self->security_log, "%s from %s: by '%s' in the request is not used: "
                 "certificate %s (role %s) acts as '%s'", op,
                 self->caller->address ? self->caller->address : "?", *by, caller->file,
                 role_name (caller->role), caller->name);
    mem_free (*by);
    *by = mem_strdup (caller->name);
    return 0;
}

static int
s_get_until (const msgpack_object *request, bool required, int64_t now, int64_t *until,
             char *error, size_t error_size)
{
    bool present = false, is_clear = false;
    *until = 0;
    if (wire_get_time (request, "until", now, &present, until, &is_clear, error, error_size))
        return -1;
    if (required && !present) {
        snprintf (error, error_size, "until: required (a time such as +2h or now)");
        return -1;
    }
    if (is_clear) {
        snprintf (error, error_size, "until: 'clear' is not a time here");
        return -1;
    }
    return 0;
}

//  Appends alert to items if the reply stays within budget; false if not.
static bool
s_pack_if_fits (wire_writer_t *items, const alert_t *alert)
{
    size_t before = items->buffer.size;
    alert_pack (&items->packer, alert);
    if (items->buffer.size <= CONTROL_REPLY_BUDGET)
        return true;
    items->buffer.size = before;        //  drop the alert that did not fit
    return false;
}

//  Packs key: [items...] from count alerts already packed into items.
static void
s_pack_items (msgpack_packer *out, const char *key, wire_writer_t *items, size_t count)
{
    wire_pack_key (out, key);
    msgpack_pack_array (out, count);
    msgpack_sbuffer_write (out->data, items->buffer.data, items->buffer.size);
}

//  --- read-only ops ----------------------------------------------------------------------

static int
s_op_ping (core_t *self, const msgpack_object *request, msgpack_packer *out,
           int64_t now, char *error, size_t error_size)
{
    (void) request, (void) error, (void) error_size;
    wire_pack_key_int (out, "seq", (int64_t) self->published_seq);
    wire_pack_key_int (out, "at", now);
    return 2 + core_pack_identity (self, out) + core_pack_health (self, out);
}

static int
s_op_stats (core_t *self, const msgpack_object *request, msgpack_packer *out,
            int64_t now, char *error, size_t error_size)
{
    (void) request, (void) error, (void) error_size;
    alert_table_t *table = self->table;
    const broker_stats_t *stats = &self->stats;
    struct { const char *name; int64_t value; } rows [] = {
        { "alerts", (int64_t) alert_table_size (table) },
        { "pending", (int64_t) alert_table_count (table, ALERT_PENDING) },
        { "raised", (int64_t) alert_table_count (table, ALERT_RAISED) },
        { "acked", (int64_t) alert_table_count (table, ALERT_ACKED) },
        { "cleared", (int64_t) alert_table_count (table, ALERT_CLEARED) },
        { "frames_received", (int64_t) stats->frames_received },
        { "events_received", (int64_t) stats->events_received },
        { "events_applied", (int64_t) stats->events_applied },
        { "refreshes", (int64_t) stats->refreshes },
        { "rejected", (int64_t) stats->rejected },
        { "duplicates", (int64_t) stats->duplicates },
        { "stale", (int64_t) stats->stale },
        { "published", (int64_t) stats->published },
        { "control_requests", (int64_t) stats->control_requests },
        { "control_errors", (int64_t) stats->control_errors },
        { "commits", (int64_t) stats->commits },
        { "commit_failures", (int64_t) stats->commit_failures },
        { "spoofed", (int64_t) stats->spoofed },
        { "unknown_clients", (int64_t) stats->unknown_clients },
        { "denied", (int64_t) stats->denied },
        { "handshake_failures", (int64_t) stats->handshake_failures },
        { "submits", (int64_t) stats->submits },
        { "due", (int64_t) due_heap_size (self->heap) },
        { "seq", (int64_t) self->published_seq },
        { "uptime_ms", now - self->started_at },
        { "commit_backlog", (int64_t) self->change_count },
        { "ingest_paused", self->ingest_paused },
    };
    size_t count = sizeof rows / sizeof rows [0];
    bool standbys = self->standbys >= 0;        //  counted (PostgreSQL)
    wire_pack_key (out, "stats");
    msgpack_pack_map (out, count + standbys);
    for (size_t index = 0; index < count; index++)
        wire_pack_key_int (out, rows [index].name, rows [index].value);
    if (standbys)
        wire_pack_key_int (out, "standbys", self->standbys);
    return 1 + core_pack_health (self, out);
}

typedef struct {
    unsigned states;               //  1 << alert_state_t of each state wanted; 0: any
    char *source;                  //  glob or NULL
    char *id;                      //  glob or NULL
} list_filter_t;

static bool
s_matches (const list_filter_t *filter, const alert_t *alert)
{
    return (!filter->states || (filter->states & (1u << alert->state)))
        && (!filter->source || fnmatch (filter->source, alert->source, 0) == 0)
        && (!filter->id || fnmatch (filter->id, alert->id, 0) == 0);
}

static int
s_get_filter (const msgpack_object *request, list_filter_t *filter, char *error, size_t error_size)
{
    char *state = NULL;
    *filter = (list_filter_t) { 0 };
    if (wire_get_string (request, "state", WIRE_MAX_NAME, &state, error, error_size)
    ||  wire_get_string (request, "source", WIRE_MAX_NAME, &filter->source, error, error_size)
    ||  wire_get_string (request, "id", WIRE_MAX_NAME, &filter->id, error, error_size))
        return -1;
    char why [128];
    int rc = state ? alert_states_parse (state, &filter->states, why, sizeof why) : 0;
    if (rc)
        snprintf (error, error_size, "state: %s", why);
    mem_free (state);
    return rc;
}

static int
s_op_list (core_t *self, const msgpack_object *request, msgpack_packer *out,
           int64_t now, char *error, size_t error_size)
{
    (void) now;
    list_filter_t filter;
    int64_t limit;
    int rc = s_get_filter (request, &filter, error, error_size);
    if (rc == 0)
        rc = s_get_limit (request, &limit, error, error_size);
    if (rc == 0) {
        const alert_t **found = mem_alloc ((size_t) limit * sizeof (alert_t *));
        size_t matched = 0, span = alert_table_span (self->table);
        for (size_t position = 0; position < span; position++) {
            const entry_t *entry = alert_table_at (self->table, position);
            if (entry && s_matches (&filter, &entry->alert) && matched++ < (size_t) limit)
                found [matched - 1] = &entry->alert;
        }
        size_t found_count = matched < (size_t) limit ? matched : (size_t) limit;
        size_t shown = 0;
        wire_writer_t items;
        wire_writer_init (&items);
        while (shown < found_count && s_pack_if_fits (&items, found [shown]))
            shown++;
        s_pack_items (out, "alerts", &items, shown);
        wire_pack_key_int (out, "count", (int64_t) matched);
        wire_pack_key_bool (out, "truncated", matched > shown);
        wire_writer_free (&items);
        mem_free (found);
        rc = 3;
    }
    mem_free (filter.source);
    mem_free (filter.id);
    return rc;
}

static int
s_op_get (core_t *self, const msgpack_object *request, msgpack_packer *out,
          int64_t now, char *error, size_t error_size)
{
    (void) now;
    entry_t *entry = s_get_entry (self, request, error, error_size);
    if (!entry)
        return -1;
    wire_pack_key (out, "alert");
    alert_pack (out, &entry->alert);
    return 1;
}

static int
s_op_snapshot (core_t *self, const msgpack_object *request, msgpack_packer *out,
               int64_t now, char *error, size_t error_size)
{
    (void) now;
    int64_t cursor = 0, limit;
    bool present;
    if (wire_get_int (request, "cursor", &present, &cursor, error, error_size)
    ||  s_get_limit (request, &limit, error, error_size))
        return -1;
    if (cursor < 0) {
        snprintf (error, error_size, "cursor: must be 0 or more");
        return -1;
    }
    //  The cursor is an ordinal, not a position: removals meanwhile (holes,
    //  compaction) move no entry across it (alert_table.h).
    size_t span = alert_table_span (self->table);
    size_t next = alert_table_seek (self->table, (uint64_t) cursor);
    size_t count = 0;
    wire_writer_t items;
    wire_writer_init (&items);
    for (; next < span && count < (size_t) limit; next++) {
        const entry_t *entry = alert_table_at (self->table, next);
        if (!entry)
            continue;
        if (!s_pack_if_fits (&items, &entry->alert))
            break;
        count++;
    }
    wire_pack_key_int (out, "seq", (int64_t) self->published_seq);
    s_pack_items (out, "alerts", &items, count);
    wire_writer_free (&items);
    if (next == span)
        return 2;
    wire_pack_key_int (out, "cursor", (int64_t) alert_table_ordinal (self->table, next));
    return 3;
}

//  A caller that names the epoch its seq belongs to must name the current
//  one: a seq of another epoch may stand for other changes here.
static int
s_check_epoch (core_t *self, const msgpack_object *request, char *error, size_t error_size)
{
    epoch_t theirs;
    bool present = false;
    if (epoch_decode (request, &theirs, &present, error, error_size))
        return -1;
    if (!present || epoch_equal (&theirs, &self->epoch))
        return 0;
    char asked [64], current [64];
    epoch_format (&theirs, asked, sizeof asked);
    epoch_format (&self->epoch, current, sizeof current);
    snprintf (error, error_size, "epoch %s is not the current one (%s, which began at seq "
              "%" PRIu64 "): take a snapshot", asked, current, self->epoch.first);
    return -1;
}

static int
s_op_since (core_t *self, const msgpack_object *request, msgpack_packer *out,
            int64_t now, char *error, size_t error_size)
{
    (void) now;
    int64_t after = 0, limit;
    bool present = false;
    if (wire_get_int (request, "seq", &present, &after, error, error_size)
    ||  s_get_limit (request, &limit, error, error_size))
        return -1;
    if (!present || after < 0) {
        snprintf (error, error_size, "seq: required, 0 or more");
        return -1;
    }
    if (s_check_epoch (self, request, error, error_size))
        return -1;
    return core_read_since (self, (uint64_t) after, (size_t) limit, out, error, error_size);
}

//  --- history: one alert's changes, newest first ---------------------------------------

//  The alert's newest committed change: its seq, unless that change still
//  waits for its commit (then the one before, and so on).
static uint64_t
s_newest_committed (core_t *self, const entry_t *entry)
{
    uint64_t seq = entry->alert.seq;
    for (size_t index = self->change_count; index-- > 0 && seq > self->published_seq; )
        if (self->changes [index].seq == seq)
            seq = self->changes [index].prev_seq;
    return seq;
}

static int
s_op_history (core_t *self, const msgpack_object *request, msgpack_packer *out,
              int64_t now, char *error, size_t error_size)
{
    (void) now;
    int64_t limit = CONTROL_HISTORY_LIMIT, before = 0;
    bool present = false;
    entry_t *entry = s_get_entry (self, request, error, error_size);
    if (!entry
    ||  wire_get_int (request, "limit", &present, &limit, error, error_size)
    ||  wire_get_int (request, "before", &present, &before, error, error_size))
        return -1;
    if (limit < 1 || limit > CONTROL_HISTORY_MAX || before < 0) {
        snprintf (error, error_size, limit < 1 || limit > CONTROL_HISTORY_MAX
                  ? "limit: must be 1 to %d" : "before: must be a seq", CONTROL_HISTORY_MAX);
        return -1;
    }
    const alert_t *alert = &entry->alert;
    return core_read_history (self, alert, s_newest_committed (self, entry), (uint64_t) before,
                              (size_t) limit, out, error, error_size);
}

//  --- ops that change an alert ----------------------------------------------------------

//  Records the transition and packs the alert; -1 if the op was refused.
static int
s_changed (core_t *self, entry_t *entry, transition_t transition, const char *refusal,
           msgpack_packer *out, int64_t now, char *error, size_t error_size)
{
    if (refusal) {
        snprintf (error, error_size, "%s/%s: %s", entry->alert.source, entry->alert.id, refusal);
        return -1;
    }
    core_record (self, entry, transition, now);
    wire_pack_key (out, "alert");
    alert_pack (out, &entry->alert);
    return 1;
}

static int
s_op_ack (core_t *self, const msgpack_object *request, msgpack_packer *out,
          int64_t now, char *error, size_t error_size)
{
    entry_t *entry = s_get_entry (self, request, error, error_size);
    char *by = NULL, *note = NULL;
    int64_t until;
    int rc = -1;
    if (entry
    &&  core_get_by (self, request, "ack", &by, error, error_size) == 0
    &&  wire_get_string (request, "note", WIRE_MAX_NOTE, &note, error, error_size) == 0
    &&  s_get_until (request, false, now, &until, error, error_size) == 0) {
        const char *refusal = NULL;
        transition_t transition = lifecycle_ack (&entry->alert, by, until, note, now, &refusal);
        rc = s_changed (self, entry, transition, refusal, out, now, error, error_size);
        if (rc > 0) {
            char when [40];
            log_info ("%s/%s acknowledged by %s until %s%s%s", entry->alert.source,
                      entry->alert.id, by, until ? time_format (until, when, sizeof when) : "cleared",
                      note ? ": " : "", note ? note : "");
        }
    }
    mem_free (by);
    mem_free (note);
    return rc;
}

static int
s_op_unack (core_t *self, const msgpack_object *request, msgpack_packer *out,
            int64_t now, char *error, size_t error_size)
{
    entry_t *entry = s_get_entry (self, request, error, error_size);
    char *by = NULL;
    int rc = -1;
    if (entry && core_get_by (self, request, "unack", &by, error, error_size) == 0) {
        const char *refusal = NULL;
        transition_t transition = lifecycle_unack (&entry->alert, now, &refusal);
        rc = s_changed (self, entry, transition, refusal, out, now, error, error_size);
        if (rc > 0)
            log_info ("%s/%s unacknowledged by %s", entry->alert.source, entry->alert.id, by);
    }
    mem_free (by);
    return rc;
}

static int
s_op_clear (core_t *self, const msgpack_object *request, msgpack_packer *out,
            int64_t now, char *error, size_t error_size)
{
    entry_t *entry = s_get_entry (self, request, error, error_size);
    char *by = NULL;
    int rc = -1;
    if (entry && core_get_by (self, request, "clear", &by, error, error_size) == 0) {
        bool was_cleared = entry->alert.state == ALERT_CLEARED;
        rc = s_changed (self, entry, lifecycle_clear (&entry->alert, now, true), NULL,
                        out, now, error, error_size);
        if (!was_cleared)
            log_info ("%s/%s cleared by %s", entry->alert.source, entry->alert.id, by);
    }
    mem_free (by);
    return rc;
}

//  `delete`: a cleared alert goes now, not at the end of retention (a
//  decommissioned server's, a typo's). Only a cleared one: what is still
//  raised must be cleared first, by a person who sees that it is. The
//  reply waits for the deletion's commit, as an ack's does.
static int
s_op_delete (core_t *self, const msgpack_object *request, msgpack_packer *out,
             int64_t now, char *error, size_t error_size)
{
    entry_t *entry = s_get_entry (self, request, error, error_size);
    char *by = NULL;
    int rc = -1;
    if (entry && core_get_by (self, request, "delete", &by, error, error_size) == 0) {
        const alert_t *alert = &entry->alert;
        if (alert->state != ALERT_CLEARED)
            snprintf (error, error_size, "%s/%s is %s: clear it first, then delete it",
                      alert->source, alert->id, alert_state_name (alert->state));
        else {
            log_info ("%s/%s deleted by %s", alert->source, alert->id, by);
            wire_pack_key_string (out, "source", alert->source);
            wire_pack_key_string (out, "id", alert->id);
            core_delete_alert (self, entry, now);       //  (the entry stays until its commit)
            rc = 2;
        }
    }
    mem_free (by);
    return rc;
}

static int
s_op_suppress (core_t *self, const msgpack_object *request, msgpack_packer *out,
               int64_t now, char *error, size_t error_size)
{
    entry_t *entry = s_get_entry (self, request, error, error_size);
    int64_t until;
    if (!entry || s_get_until (request, true, now, &until, error, error_size))
        return -1;
    transition_t transition = lifecycle_suppress (&entry->alert, until, now);
    char when [40];
    log_info ("%s/%s suppressed until %s", entry->alert.source, entry->alert.id,
              time_format (entry->alert.suppress_until, when, sizeof when));
    return s_changed (self, entry, transition, NULL, out, now, error, error_size);
}

//  --- submit ------------------------------------------------------------------------------

//  Packs the reply of a batch applied (or already applied): accepted and
//  refused.
static int
s_submit_reply (msgpack_packer *out, size_t accepted, const submit_refusals_t *refused,
                bool repeated)
{
    wire_pack_key_int (out, "accepted", (int64_t) accepted);
    submit_refusals_pack (out, refused);
    if (repeated)
        wire_pack_key_bool (out, "repeated", true);
    return 2 + repeated;
}

static int
s_op_submit (core_t *self, const msgpack_object *request, msgpack_packer *out,
             int64_t now, char *error, size_t error_size)
{
    char *tx = NULL;
    if (wire_get_name (request, "tx", &tx, error, error_size))
        return -1;
    mem_free (tx);
    if (!tx) {
        snprintf (error, error_size, "tx: required for submit (a random id the reply echoes)");
        return -1;
    }
    if (self->ingest_paused) {
        self->retry_after = BROKER_SUBMIT_RETRY_MS;
        snprintf (error, error_size, "degraded: %s; %zu changes not written yet: retry after "
                  "%d ms", *self->degraded_reason ? self->degraded_reason
                                               : "the database is behind",
                  self->change_count, BROKER_SUBMIT_RETRY_MS);
        return -1;
    }
    self->stats.frames_received++;
    self->stats.submits++;
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    submit_refusals_t refused;
    if (submit_decode (self->request, self->request_size, now, &batch, &refused,
                       error, error_size)) {
        self->stats.rejected++;
        log_limited (&self->reject_log, "rejected a submit: %s", error);
        wire_batch_free (&batch);
        return -1;
    }
    int pairs = -1;
    const char *source = core_authorize (self, &batch, self->caller, error, error_size);
    if (source) {
        self->stats.events_received += batch.event_count;
        self->stats.rejected += refused.count ? 1 : 0;
        bool repeated = tx_window_seen (self->recent_tx, batch.tx, now);
        if (repeated) {
            self->stats.duplicates++;
            //  The first may still wait for its commit
            self->reply_after_commit = self->change_count || self->changed_count;
        }
        else
            core_apply_batch (self, source, &batch, now);
        pairs = s_submit_reply (out, batch.event_count, &refused, repeated);
    }
    submit_refusals_free (&refused);
    wire_batch_free (&batch);
    return pairs;
}

//  --- dispatch -----------------------------------------------------------------------------

//  Each op with the least role that may run it when the broker is secured
//  (a plain broker checks nothing): readers read, admins also change.
static const struct {
    const char *name;
    op_fn *run;
    role_t role;
} s_ops [] = {
    { "ping", s_op_ping, ROLE_READER }, { "stats", s_op_stats, ROLE_READER },
    { "list", s_op_list, ROLE_READER }, { "get", s_op_get, ROLE_READER },
    { "ack", s_op_ack, ROLE_ADMIN }, { "unack", s_op_unack, ROLE_ADMIN },
    { "clear", s_op_clear, ROLE_ADMIN }, { "suppress", s_op_suppress, ROLE_ADMIN },
    { "delete", s_op_delete, ROLE_ADMIN },
    { "snapshot", s_op_snapshot, ROLE_READER }, { "since", s_op_since, ROLE_READER },
    { "history", s_op_history, ROLE_READER },
    { "submit", s_op_submit, ROLE_AGENT },
    { "silence_add", silences_op_add, ROLE_ADMIN },
    { "silence_list", silences_op_list, ROLE_READER },
    { "silence_expire", silences_op_expire, ROLE_ADMIN },
};

static op_fn *
s_find_op (const char *name, role_t *role)
{
    for (size_t index = 0; index < sizeof s_ops / sizeof s_ops [0]; index++)
        if (strcmp (s_ops [index].name, name) == 0) {
            *role = s_ops [index].role;
            return s_ops [index].run;
        }
    return NULL;
}

//  May the caller of the request being answered run op? Roles are ordered
//  agent < reader < admin for control; relay is an agent here, gateway an
//  admin (role_permits). ROLE_AGENT: any certificate in the clients table
//  (submit's source is checked then).
static bool
s_permitted (core_t *self, const char *op, role_t needed, char *error, size_t error_size)
{
    if (!self->secured)
        return true;
    const security_client_t *caller = self->caller->client;
    if (caller && role_permits (caller->role, needed))
        return true;
    self->stats.denied++;
    if (caller)
        snprintf (error, error_size, "permission denied: role %s may not %s (it needs a "
                  "certificate with role %s)", role_name (caller->role), op, role_name (needed));
    else {
        self->stats.unknown_clients++;
        snprintf (error, error_size, "permission denied: this certificate is not in the "
                  "broker's clients table (added without SIGHUP, or removed)");
    }
    log_limited (&self->security_log, "refused control op %s from %s: %s", op,
                 self->caller->address ? self->caller->address : "?", error);
    return false;
}

//  The request's tx, if it has a readable one (caller frees).
static char *
s_request_tx (wire_doc_t *doc)
{
    char *tx = NULL, ignored [WIRE_ERROR_SIZE];
    if (!doc || wire_get_name (wire_doc_root (doc), "tx", &tx, ignored, sizeof ignored))
        return NULL;
    return tx;
}

void
core_pack_error (wire_writer_t *reply, const char *error, const char *tx, int64_t retry_after)
{
    msgpack_pack_map (&reply->packer, 3 + (tx != NULL) + (retry_after > 0));
    wire_pack_key_int (&reply->packer, "v", WIRE_VERSION);
    wire_pack_key_bool (&reply->packer, "ok", false);
    wire_pack_key_string (&reply->packer, "error", error);
    if (tx)
        wire_pack_key_string (&reply->packer, "tx", tx);
    if (retry_after > 0)
        wire_pack_key_int (&reply->packer, "retry_after", retry_after);
}

void
core_pack_ok (wire_writer_t *reply, int pairs, const wire_writer_t *fields, const char *tx)
{
    msgpack_pack_map (&reply->packer, 2 + (size_t) pairs + (tx != NULL));
    wire_pack_key_int (&reply->packer, "v", WIRE_VERSION);
    wire_pack_key_bool (&reply->packer, "ok", true);
    if (tx)
        wire_pack_key_string (&reply->packer, "tx", tx);
    msgpack_sbuffer_write (&reply->buffer, fields->buffer.data, fields->buffer.size);
}

//  Runs the op named in the request; -1 with error if there is none.
static int
s_run_op (core_t *self, const msgpack_object *request, wire_writer_t *fields,
          int64_t now, char *error, size_t error_size)
{
    char *name = NULL;
    if (s_get_required_name (request, "op", &name, error, error_size))
        return -1;
    role_t needed = ROLE_READER;
    op_fn *run = s_find_op (name, &needed);
    int pairs = -1;
    if (run && s_permitted (self, name, needed, error, error_size))
        pairs = run (self, request, &fields->packer, now, error, error_size);
    else
    if (!run)               //  (a refused op has its reason in error already)
        snprintf (error, error_size, "unknown op '%s' (try ping, stats, list, get, ack,"
                  " unack, clear, suppress, snapshot, since, history, submit, silence_add,"
                  " silence_list, silence_expire)", name);
    mem_free (name);
    return pairs;
}

//  Packs the reply to one request into reply.
static void
s_answer (core_t *self, const void *request, size_t size, wire_writer_t *reply, int64_t now)
{
    char error [WIRE_ERROR_SIZE] = "";
    wire_doc_t *doc = wire_doc_new (request, size, error, sizeof error);
    if (!doc) {
        self->stats.rejected++;
        self->stats.control_errors++;
        log_limited (&self->reject_log, "rejected control request: %s", error);
        core_pack_error (reply, error, NULL, 0);
        return;
    }
    wire_writer_t fields;
    wire_writer_init (&fields);
    self->request = request;
    self->request_size = size;
    self->retry_after = 0;
    int pairs = s_run_op (self, wire_doc_root (doc), &fields, now, error, sizeof error);
    self->request = NULL;
    self->request_size = 0;
    char *tx = s_request_tx (doc);
    if (pairs == CORE_READ_LATER) {
        core_read_answers_tx (self, tx);    //  the reply comes with the store's answer
        tx = NULL;
        self->reply_later = true;
    }
    else
    if (pairs < 0) {
        self->stats.control_errors++;
        log_debug ("control request refused: %s", error);
        core_pack_error (reply, error, tx, self->retry_after);
    }
    else
        core_pack_ok (reply, pairs, &fields, tx);
    mem_free (tx);
    wire_writer_free (&fields);
    wire_doc_destroy (&doc);
}

//  A reply waits for the commit when the op changed something (ack, a
//  submit with a change) or asked to wait (a repeated submit while changes
//  are still unwritten). A submit whose events were all refreshes changed
//  nothing that is published: it is answered at once, and restart grace
//  covers the refresh until the checkpoint writes it.
core_reply_t
core_answer (core_t *self, const core_caller_t *caller, const void *request, size_t size,
             wire_writer_t *reply, int64_t now)
{
    static const core_caller_t nobody = { NULL, NULL, NULL };
    self->stats.control_requests++;
    self->caller = caller ? caller : &nobody;
    self->reply_after_commit = false;
    self->reply_later = false;
    size_t changes_before = self->change_count, changed_before = self->changed_count;
    s_answer (self, request, size, reply, now);
    self->caller = &nobody;
    if (self->reply_later)
        return CORE_REPLY_LATER;
    return self->change_count != changes_before || self->changed_count != changed_before
        || self->reply_after_commit ? CORE_REPLY_AFTER_COMMIT : CORE_REPLY_NOW;
}
