/*  alert.c — the alert record on the wire.

    An alert travels as one msgpack map whose keys are the field names of
    alert_t. alert_pack() counts the fields that are set before it writes the
    map header, so the map holds exactly those: NULL strings, zero optional
    times and empty labels are left out, while source, id, level, state,
    notify_count, created_at, updated_at, changed_at and seq are always there
    (the README's row schema). alert_decode() is the tolerant reverse: a
    missing optional field stays unset, unknown keys are ignored, but source,
    id, level and state must be present and valid, and every field that is
    present must have its type and fit its limit (wire.h). Strings are fresh
    copies; on any failure the record is cleared, so nothing leaks.

    A change body wraps the row: {v, seq, at, event, alert}. Its topic,
    "EVENT.LEVEL.SOURCE.ID", lets subscribers pick changes by prefix. EVENT
    is a transition's name, or ALERT_EVENT_DELETED for an alert retention
    removed (the row is the alert as it was).
    Packing ignores msgpack_pack_* returns for the reason given in wire.c.
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alert.h"
#include "wire.h"
#include "error_text.h"

#define ALERT_MAX_NAME_WORD 16         //  bytes in a state or level name

static const char *s_state_names [] = { "pending", "raised", "acked", "cleared" };
static const char *s_level_names [] = { "low", "normal", "urgent" };
#define S_STATES (sizeof s_state_names / sizeof s_state_names [0])
#define S_LEVELS (sizeof s_level_names / sizeof s_level_names [0])

#define S_MALFORMED(...) error_text (error, error_size, WIRE_MALFORMED, __VA_ARGS__)


//  --------------------------------------------------------------------------
//  Names

const char *
alert_headline (const alert_t *alert)
{
    if (alert->summary && *alert->summary)
        return alert->summary;
    if (alert->subject && *alert->subject)
        return alert->subject;
    return alert->id ? alert->id : "";
}

const char *
alert_state_name (alert_state_t state)
{
    return (unsigned) state < S_STATES ? s_state_names [state] : "unknown";
}

int
alert_state_parse (const char *name, alert_state_t *state)
{
    if (!name)
        return -1;
    for (size_t index = 0; index < S_STATES; index++)
        if (strcmp (name, s_state_names [index]) == 0) {
            *state = (alert_state_t) index;
            return 0;
        }
    if (strcmp (name, "acknowledged") == 0) {       //  the long name people write
        *state = ALERT_ACKED;
        return 0;
    }
    return -1;
}

int
alert_states_parse (const char *text, unsigned *states, char *error, size_t error_size)
{
    *states = 0;
    const char *at = text ? text : "";
    do {
        size_t length = strcspn (at, ",");
        char name [16];
        alert_state_t state;
        snprintf (name, sizeof name, "%.*s", (int) (length < 15 ? length : 15), at);
        if (length >= sizeof name || alert_state_parse (name, &state)) {
            snprintf (error, error_size, "'%.*s' is not a state (pending, raised, acked or "
                      "cleared)", (int) (length < 64 ? length : 64), at);
            return -1;
        }
        *states |= 1u << state;
        at += length;
    } while (*at++ == ',');
    return 0;
}

const char *
alert_level_name (alert_level_t level)
{
    return (unsigned) level < S_LEVELS ? s_level_names [level] : "unknown";
}

int
alert_level_parse (const char *name, alert_level_t *level)
{
    if (!name)
        return -1;
    for (size_t index = 0; index < S_LEVELS; index++)
        if (strcmp (name, s_level_names [index]) == 0) {
            *level = (alert_level_t) index;
            return 0;
        }
    return -1;
}


//  --------------------------------------------------------------------------
//  Packing

//  Number of map entries alert_pack writes for this alert.
static uint32_t
s_field_count (const alert_t *alert)
{
    //  level, state, notify_count, created_at, updated_at, changed_at, seq
    uint32_t count = 7;
    const char *strings [] = { alert->source, alert->id, alert->subject, alert->summary,
                               alert->detail, alert->acked_by, alert->ack_note,
                               alert->silenced_by };
    const int64_t times [] = { alert->raise_at, alert->clear_at, alert->suppress_until,
                               alert->acked_at, alert->ack_until, alert->notified_at,
                               alert->acted_at };
    for (size_t index = 0; index < sizeof strings / sizeof strings [0]; index++)
        count += strings [index] != NULL;
    for (size_t index = 0; index < sizeof times / sizeof times [0]; index++)
        count += times [index] != 0;
    count += alert->label_count > 0;
    return count;
}

//  Packs key: text when text is set.
static void
s_pack_optional_string (msgpack_packer *packer, const char *key, const char *text)
{
    if (text)
        wire_pack_key_string (packer, key, text);
}

//  Packs key: ms when the time is set.
static void
s_pack_optional_time (msgpack_packer *packer, const char *key, int64_t ms)
{
    if (ms != 0)
        wire_pack_key_int (packer, key, ms);
}

static void
s_pack_labels (msgpack_packer *packer, const wire_label_t *labels, size_t count)
{
    wire_pack_key (packer, "labels");
    msgpack_pack_map (packer, count);
    for (size_t index = 0; index < count; index++)
        wire_pack_key_string (packer, labels [index].key, labels [index].value);
}

void
alert_pack (msgpack_packer *packer, const alert_t *alert)
{
    msgpack_pack_map (packer, s_field_count (alert));
    s_pack_optional_string (packer, "source", alert->source);
    s_pack_optional_string (packer, "id", alert->id);
    s_pack_optional_string (packer, "subject", alert->subject);
    s_pack_optional_string (packer, "summary", alert->summary);
    s_pack_optional_string (packer, "detail", alert->detail);
    wire_pack_key_string (packer, "level", alert_level_name (alert->level));
    wire_pack_key_string (packer, "state", alert_state_name (alert->state));
    s_pack_optional_time (packer, "raise_at", alert->raise_at);
    s_pack_optional_time (packer, "clear_at", alert->clear_at);
    s_pack_optional_time (packer, "suppress_until", alert->suppress_until);
    s_pack_optional_time (packer, "acked_at", alert->acked_at);
    s_pack_optional_time (packer, "ack_until", alert->ack_until);
    s_pack_optional_string (packer, "acked_by", alert->acked_by);
    s_pack_optional_string (packer, "ack_note", alert->ack_note);
    wire_pack_key_int (packer, "notify_count", alert->notify_count);
    s_pack_optional_time (packer, "notified_at", alert->notified_at);
    s_pack_optional_time (packer, "acted_at", alert->acted_at);
    wire_pack_key_int (packer, "created_at", alert->created_at);
    wire_pack_key_int (packer, "updated_at", alert->updated_at);
    wire_pack_key_int (packer, "changed_at", alert->changed_at);
    wire_pack_key (packer, "seq");
    msgpack_pack_uint64 (packer, alert->seq);
    if (alert->label_count > 0)
        s_pack_labels (packer, alert->labels, alert->label_count);
    s_pack_optional_string (packer, "silenced_by", alert->silenced_by);
}


//  --------------------------------------------------------------------------
//  Decoding

//  A required name field.
static int
s_decode_required_name (const msgpack_object *map, const char *key, char **value,
                        char *error, size_t error_size)
{
    int rc = wire_get_name (map, key, value, error, error_size);
    if (rc == 0 && !*value)
        rc = S_MALFORMED ("%s: missing", key);
    return rc;
}

//  The required state and level names.
static int
s_decode_state_level (const msgpack_object *map, alert_t *alert,
                      char *error, size_t error_size)
{
    char *level = NULL, *state = NULL;
    int rc = wire_get_string (map, "level", ALERT_MAX_NAME_WORD, &level, error, error_size);
    if (rc == 0)
        rc = wire_get_string (map, "state", ALERT_MAX_NAME_WORD, &state, error, error_size);
    if (rc == 0 && !level)
        rc = S_MALFORMED ("level: missing");
    else
    if (rc == 0 && alert_level_parse (level, &alert->level))
        rc = S_MALFORMED ("level: must be urgent, normal or low");
    else
    if (rc == 0 && !state)
        rc = S_MALFORMED ("state: missing");
    else
    if (rc == 0 && alert_state_parse (state, &alert->state))
        rc = S_MALFORMED ("state: must be pending, raised, acked or cleared");
    free (level);
    free (state);
    return rc;
}

//  The optional strings.
static int
s_decode_strings (const msgpack_object *map, alert_t *alert, char *error, size_t error_size)
{
    int rc = wire_get_string (map, "subject", WIRE_MAX_NAME, &alert->subject, error, error_size);
    if (rc == 0)
        rc = wire_get_string (map, "summary", WIRE_MAX_SUMMARY, &alert->summary, error, error_size);
    if (rc == 0)
        rc = wire_get_string (map, "detail", WIRE_MAX_DETAIL, &alert->detail, error, error_size);
    if (rc == 0)
        rc = wire_get_name (map, "acked_by", &alert->acked_by, error, error_size);
    if (rc == 0)
        rc = wire_get_string (map, "ack_note", WIRE_MAX_NOTE, &alert->ack_note, error, error_size);
    if (rc == 0)
        rc = wire_get_name (map, "silenced_by", &alert->silenced_by, error, error_size);
    return rc;
}

//  The integer fields: times (ms), notify_count and seq; absent ones stay 0.
static int
s_decode_numbers (const msgpack_object *map, alert_t *alert, char *error, size_t error_size)
{
    struct { const char *key; int64_t *value; } fields [] = {
        { "raise_at", &alert->raise_at },         { "clear_at", &alert->clear_at },
        { "suppress_until", &alert->suppress_until }, { "acked_at", &alert->acked_at },
        { "ack_until", &alert->ack_until },       { "notify_count", &alert->notify_count },
        { "notified_at", &alert->notified_at },   { "created_at", &alert->created_at },
        { "updated_at", &alert->updated_at },     { "changed_at", &alert->changed_at },
        { "acted_at", &alert->acted_at }
    };
    for (size_t index = 0; index < sizeof fields / sizeof fields [0]; index++) {
        int rc = wire_get_int (map, fields [index].key, NULL, fields [index].value,
                               error, error_size);
        if (rc)
            return rc;
    }
    int64_t seq = 0;
    int rc = wire_get_int (map, "seq", NULL, &seq, error, error_size);
    if (rc == 0 && seq < 0)
        rc = S_MALFORMED ("seq: negative");
    alert->seq = (uint64_t) seq;
    return rc;
}

int
alert_decode (const msgpack_object *map, alert_t *alert, char *error, size_t error_size)
{
    memset (alert, 0, sizeof (alert_t));
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return S_MALFORMED ("not a map");
    bool present = false;
    int rc = s_decode_required_name (map, "source", &alert->source, error, error_size);
    if (rc == 0)
        rc = s_decode_required_name (map, "id", &alert->id, error, error_size);
    if (rc == 0)
        rc = s_decode_state_level (map, alert, error, error_size);
    if (rc == 0)
        rc = s_decode_strings (map, alert, error, error_size);
    if (rc == 0)
        rc = s_decode_numbers (map, alert, error, error_size);
    if (rc == 0)
        rc = wire_get_labels (map, "labels", &present, &alert->labels, &alert->label_count,
                              error, error_size);
    if (rc)
        alert_clear_fields (alert);
    return rc;
}

void
alert_clear_fields (alert_t *alert)
{
    if (!alert)
        return;
    free (alert->source);
    free (alert->id);
    free (alert->subject);
    free (alert->summary);
    free (alert->detail);
    free (alert->acked_by);
    free (alert->ack_note);
    free (alert->silenced_by);
    alert_free_labels (&alert->labels, &alert->label_count);
    memset (alert, 0, sizeof (alert_t));
}


//  --------------------------------------------------------------------------
//  Labels

//  A fresh copy of text, or NULL (also for NULL text).
static char *
s_strdup (const char *text)
{
    return text ? strdup (text) : NULL;
}

int
alert_copy_labels (wire_label_t **to, size_t *to_count,
                   const wire_label_t *from, size_t from_count)
{
    *to = NULL;
    *to_count = 0;
    if (!from || from_count == 0)
        return 0;
    wire_label_t *copy = (wire_label_t *) calloc (from_count, sizeof (wire_label_t));
    if (!copy)
        return -1;
    size_t filled = 0;
    for (; filled < from_count; filled++) {
        copy [filled].key = s_strdup (from [filled].key);
        copy [filled].value = s_strdup (from [filled].value);
        if ((from [filled].key && !copy [filled].key)
        ||  (from [filled].value && !copy [filled].value)) {
            filled++;                  //  free this entry's half too
            alert_free_labels (&copy, &filled);
            return -1;
        }
    }
    *to = copy;
    *to_count = filled;
    return 0;
}

void
alert_free_labels (wire_label_t **labels, size_t *count)
{
    if (!labels)
        return;
    if (*labels && count)
        for (size_t index = 0; index < *count; index++) {
            free ((*labels) [index].key);
            free ((*labels) [index].value);
        }
    free (*labels);
    *labels = NULL;
    if (count)
        *count = 0;
}


//  --------------------------------------------------------------------------
//  Change messages

void
alert_change_pack (msgpack_packer *packer, uint64_t seq, int64_t at,
                   const char *event, const alert_t *alert, const epoch_t *epoch)
{
    msgpack_pack_map (packer, epoch ? 6 : 5);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key (packer, "seq");
    msgpack_pack_uint64 (packer, seq);
    wire_pack_key_int (packer, "at", at);
    wire_pack_key_string (packer, "event", event);
    wire_pack_key (packer, "alert");
    alert_pack (packer, alert);
    if (epoch)
        epoch_pack (packer, epoch);
}

//  The envelope of a change body: v, seq, at, event.
static int
s_decode_envelope (const msgpack_object *map, alert_change_t *change,
                   char *error, size_t error_size)
{
    bool present = false;
    int64_t version = 0, seq = 0;
    int rc = wire_get_int (map, "v", &present, &version, error, error_size);
    if (rc == 0 && !present)
        return S_MALFORMED ("v: missing");
    if (rc == 0 && version != WIRE_VERSION)
        return S_MALFORMED ("v: unsupported version %" PRId64, version);
    if (rc == 0)
        rc = wire_get_int (map, "seq", &present, &seq, error, error_size);
    if (rc == 0 && (!present || seq < 0))
        return S_MALFORMED ("seq: %s", present ? "negative" : "missing");
    change->seq = (uint64_t) seq;
    if (rc == 0)
        rc = wire_get_int (map, "at", &present, &change->at, error, error_size);
    if (rc == 0 && !present)
        return S_MALFORMED ("at: missing");
    if (rc == 0)
        rc = s_decode_required_name (map, "event", &change->event, error, error_size);
    return rc;
}

int
alert_change_decode (const msgpack_object *map, alert_change_t *change,
                     char *error, size_t error_size)
{
    memset (change, 0, sizeof (alert_change_t));
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return S_MALFORMED ("change: not a map");
    int rc = s_decode_envelope (map, change, error, error_size);
    bool stamped = false;
    if (rc == 0)
        rc = epoch_decode (map, &change->epoch, &stamped, error, error_size);
    if (rc == 0 && strcmp (change->event, "silence") == 0) {
        rc = wire_get_name (wire_get (map, "silence"), "id", &change->silence_id,
                            error, error_size);
        if (rc == 0 && !change->silence_id)
            rc = S_MALFORMED ("silence.id: missing");
        if (rc)
            alert_change_free (change);
        return rc;
    }
    const msgpack_object *alert = wire_get (map, "alert");
    if (rc == 0 && !alert)
        rc = S_MALFORMED ("alert: missing");
    else
    if (rc == 0 && alert->type != MSGPACK_OBJECT_MAP)
        rc = S_MALFORMED ("alert: not a map");
    if (rc == 0) {
        char reason [WIRE_ERROR_SIZE] = "";
        rc = alert_decode (alert, &change->alert, reason, sizeof reason);
        if (rc == WIRE_MALFORMED)
            S_MALFORMED ("alert.%s", reason);
        else
        if (rc)
            error_text (error, error_size, rc, "%s", reason);
    }
    if (rc)
        alert_change_free (change);
    return rc;
}

void
alert_change_free (alert_change_t *change)
{
    if (!change)
        return;
    free (change->event);
    free (change->silence_id);
    alert_clear_fields (&change->alert);
    memset (change, 0, sizeof (alert_change_t));
}

void
alert_topic (char *buffer, size_t size, const char *event, const alert_t *alert)
{
    if (!buffer || size == 0)
        return;
    snprintf (buffer, size, "%s.%s.%s.%s", event ? event : "",
              alert_level_name (alert->level),
              alert->source ? alert->source : "", alert->id ? alert->id : "");
}

void
alert_change_topic (char *buffer, size_t size, const alert_change_t *change)
{
    if (change->silence_id)
        snprintf (buffer, size, "silence.%s", change->silence_id);
    else
        alert_topic (buffer, size, change->event, &change->alert);
}
