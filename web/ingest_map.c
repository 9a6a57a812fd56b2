/*  ingest_map.c — JSON bodies into ingest frames. See ingest_map.h.

    Every mapper parses with jansson (duplicate keys refused, no NUL in
    strings, UTF-8 checked), walks the tree once for its depth, then reads
    the fields it knows and packs the frame with msgpack-c: a map's size is
    written before its pairs, so each event's present fields are counted
    first. Strings go out with their JSON lengths.

    Alertmanager alerts are read whole into an s_am_alert_t before any is
    packed, so that the alerts array's count is known; a bad one is
    refused alone. Times: RFC 3339 parsed by hand (no timegm, no locale)
    to ms; the wire's absolute times are whole seconds, so startsAt is
    rounded down (a raise is never later than Prometheus said) and endsAt
    up (a clear never earlier). Go's zero time (0001-01-01T00:00:00Z, what
    amtool sends for unset times), and anything at or before 1970, is
    absent.
*/
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alert.h"
#include "config.h"
#include "ingest_map.h"
#include "mem.h"

void
ingest_map_init (ingest_map_t *self)
{
    memset (self, 0, sizeof *self);
}

void
ingest_map_free (ingest_map_t *self)
{
    for (size_t index = 0; index < self->batch_count; index++) {
        wire_writer_free (&self->batches [index].frame);
        mem_free (self->batches [index].origin);
    }
    mem_free (self->batches);
    mem_free (self->refused);
    memset (self, 0, sizeof *self);
}

static int
s_fail (char *error, size_t error_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
static int
s_fail (char *error, size_t error_size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
    return WIRE_MALFORMED;
}

//  --- reading JSON -----------------------------------------------------------------------

//  True if value nests no deeper than limit (value itself at depth 1).
static bool
s_depth_ok (json_t *value, int limit)
{
    if (limit < 1)
        return false;
    const char *key;
    json_t *member;
    size_t index;
    if (json_is_object (value))
        json_object_foreach (value, key, member)
            if (!s_depth_ok (member, limit - 1))
                return false;
    if (json_is_array (value))
        json_array_foreach (value, index, member)
            if (!s_depth_ok (member, limit - 1))
                return false;
    return true;
}

static json_t *
s_parse (const char *text, size_t size, char *error, size_t error_size)
{
    if (size > INGEST_MAP_BODY_MAX) {
        s_fail (error, error_size, "the body is larger than %d bytes", INGEST_MAP_BODY_MAX);
        return NULL;
    }
    json_error_t parse_error;
    json_t *root = json_loadb (text, size, JSON_REJECT_DUPLICATES, &parse_error);
    if (!root) {
        s_fail (error, error_size, "not valid JSON: line %d, column %d: %s", parse_error.line,
                parse_error.column, parse_error.text);
        return NULL;
    }
    if (!s_depth_ok (root, INGEST_MAP_MAX_DEPTH)) {
        s_fail (error, error_size, "JSON nested deeper than %d levels", INGEST_MAP_MAX_DEPTH);
        json_decref (root);
        return NULL;
    }
    return root;
}

typedef int (s_map_fn) (json_t *root, const ingest_map_options_t *options, ingest_map_t *out,
                        char *error, size_t error_size);

//  Parses text (s_parse) and maps the tree with map: what map returns, or
//  WIRE_MALFORMED when the text is not JSON.
static int
s_parse_and_map (const char *text, size_t size, s_map_fn *map,
                 const ingest_map_options_t *options, ingest_map_t *out, char *error,
                 size_t error_size)
{
    json_t *root = s_parse (text, size, error, error_size);
    if (!root)
        return WIRE_MALFORMED;
    int rc = map (root, options, out, error, error_size);
    json_decref (root);
    return rc;
}

//  A string member at most max bytes; null counts as absent (*value NULL).
static int
s_string (json_t *member, const char *path, const char *key, size_t max,
          json_t **value, char *error, size_t error_size)
{
    *value = NULL;
    if (!member || json_is_null (member))
        return 0;
    if (!json_is_string (member))
        return s_fail (error, error_size, "%s%s: not a string", path, key);
    if (json_string_length (member) > max)
        return s_fail (error, error_size, "%s%s: longer than %zu bytes", path, key, max);
    *value = member;
    return 0;
}

//  A time: a time spec string or integer seconds since the epoch.
static int
s_time (json_t *member, const char *path, const char *key, json_t **value,
        char *error, size_t error_size)
{
    *value = NULL;
    if (!member || json_is_null (member))
        return 0;
    if (json_is_integer (member)) {
        *value = member;
        return 0;
    }
    if (!json_is_string (member))
        return s_fail (error, error_size, "%s%s: a time spec (\"+5m\", \"now\") or integer "
                       "seconds since the epoch", path, key);
    return s_string (member, path, key, INGEST_MAP_TIME_MAX, value, error, error_size);
}

//  Labels: an object of at most WIRE_MAX_LABELS strings, within the byte limits.
static int
s_labels (json_t *member, const char *path, json_t **value,
          char *error, size_t error_size)
{
    *value = NULL;
    if (!member || json_is_null (member))
        return 0;
    if (!json_is_object (member))
        return s_fail (error, error_size, "%slabels: not an object", path);
    if (json_object_size (member) > WIRE_MAX_LABELS)
        return s_fail (error, error_size, "%slabels: more than %d", path, WIRE_MAX_LABELS);
    const char *key;
    json_t *label;
    json_object_foreach (member, key, label) {
        if (!*key || strlen (key) > WIRE_MAX_LABEL_KEY)
            return s_fail (error, error_size, "%slabels: a name must be 1-%d bytes", path,
                           WIRE_MAX_LABEL_KEY);
        if (!json_is_string (label))
            return s_fail (error, error_size, "%slabels.%s: not a string", path, key);
        if (json_string_length (label) > WIRE_MAX_LABEL_VALUE)
            return s_fail (error, error_size, "%slabels.%s: longer than %d bytes", path, key,
                           WIRE_MAX_LABEL_VALUE);
    }
    *value = member;
    return 0;
}

//  --- writing the frame ---------------------------------------------------------------

static void
s_pack_json_string (msgpack_packer *packer, json_t *value)
{
    size_t length = json_string_length (value);
    msgpack_pack_str (packer, length);
    msgpack_pack_str_body (packer, json_string_value (value), length);
}

static void
s_pack_value (msgpack_packer *packer, json_t *value)
{
    if (json_is_integer (value))
        msgpack_pack_int64 (packer, json_integer_value (value));
    else
    if (json_is_string (value))
        s_pack_json_string (packer, value);
    else {                              //  labels: checked by s_labels
        msgpack_pack_map (packer, json_object_size (value));
        const char *key;
        json_t *label;
        json_object_foreach (value, key, label) {
            wire_pack_string (packer, key);
            s_pack_json_string (packer, label);
        }
    }
}

//  Starts the frame: {v, tx, source, [replace], alerts: [count ...
static void
s_pack_head (ingest_map_batch_t *batch, bool replace, size_t count)
{
    msgpack_packer *packer = &batch->frame.packer;
    wire_writer_reset (&batch->frame);
    msgpack_pack_map (packer, replace ? 5 : 4);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key_string (packer, "tx", batch->tx);
    wire_pack_key_string (packer, "source", batch->source);
    if (replace)
        wire_pack_key_bool (packer, "replace", true);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, count);
    batch->events_at = batch->frame.buffer.size;
    batch->origin = mem_realloc (batch->origin, (count ? count : 1) * sizeof (size_t));
    batch->event_count = 0;
}

//  An event's fields, in wire order; NULL when absent.
typedef enum {
    FIELD_ID, FIELD_RAISE, FIELD_CLEAR, FIELD_SUPPRESS, FIELD_SUBJECT, FIELD_SUMMARY,
    FIELD_DETAIL, FIELD_LEVEL, FIELD_LABELS, FIELD_COUNT
} s_field_t;
static const char *const s_field_keys [FIELD_COUNT] = {
    "id", "raise", "clear", "suppress", "subject", "summary", "detail", "level", "labels"
};

static void
s_pack_event (ingest_map_batch_t *batch, json_t *const fields [FIELD_COUNT], size_t origin)
{
    msgpack_packer *packer = &batch->frame.packer;
    size_t present = 0;
    for (int field = 0; field < FIELD_COUNT; field++)
        present += fields [field] != NULL;
    msgpack_pack_map (packer, present);
    for (int field = 0; field < FIELD_COUNT; field++)
        if (fields [field]) {
            wire_pack_key (packer, s_field_keys [field]);
            s_pack_value (packer, fields [field]);
        }
    batch->origin [batch->event_count++] = origin;
}

//  A new frame for source (the body's, else the peer) with tx (the body's,
//  else the options', "-N" added for the Nth frame). NULL when either is
//  not a valid name (error says which).
static ingest_map_batch_t *
s_add_batch (ingest_map_t *out, const char *source, const char *tx,
             const ingest_map_options_t *options, char *error, size_t error_size)
{
    const char *bound = options->bound_source && *options->bound_source
                      ? options->bound_source : NULL;
    if (bound && source && strcmp (source, bound)) {
        s_fail (error, error_size, "source: this sender may only send as '%s', not '%s'",
                bound, source);
        return NULL;
    }
    source = bound ? bound : source ? source : options->peer;
    tx = tx ? tx : options->tx;
    if (!source || !wire_name_valid (source)) {
        s_fail (error, error_size, "source: must be 1-%d bytes of UTF-8 without control "
                "characters", WIRE_MAX_NAME);
        return NULL;
    }
    char numbered [WIRE_MAX_NAME + 1];
    if (tx && out->batch_count) {
        snprintf (numbered, sizeof numbered, "%.240s-%zu", tx, out->batch_count + 1);
        tx = numbered;
    }
    if (!tx || !wire_name_valid (tx)) {
        s_fail (error, error_size, "tx: must be 1-%d bytes of UTF-8 without control "
                "characters", WIRE_MAX_NAME);
        return NULL;
    }
    out->batches = mem_realloc (out->batches, (out->batch_count + 1) * sizeof *out->batches);
    ingest_map_batch_t *batch = &out->batches [out->batch_count++];
    memset (batch, 0, sizeof *batch);
    wire_writer_init (&batch->frame);
    snprintf (batch->source, sizeof batch->source, "%s", source);
    snprintf (batch->tx, sizeof batch->tx, "%s", tx);
    return batch;
}

//  --- lilac's own batch ---------------------------------------------------------------

static int
s_event_fields (json_t *alert, size_t index, json_t *fields [FIELD_COUNT],
                char *error, size_t error_size)
{
    char path [48];
    snprintf (path, sizeof path, "alerts[%zu].", index);
    if (!json_is_object (alert))
        return s_fail (error, error_size, "alerts[%zu]: not an object", index);
    static const size_t text_max [FIELD_COUNT] = {
        [FIELD_ID] = WIRE_MAX_NAME, [FIELD_SUBJECT] = WIRE_MAX_NAME,
        [FIELD_SUMMARY] = WIRE_MAX_SUMMARY, [FIELD_DETAIL] = WIRE_MAX_DETAIL,
        [FIELD_LEVEL] = WIRE_MAX_NAME
    };
    for (int field = 0; field < FIELD_COUNT; field++) {
        json_t *member = json_object_get (alert, s_field_keys [field]);
        int rc = field == FIELD_LABELS
               ? s_labels (member, path, &fields [field], error, error_size)
               : field >= FIELD_RAISE && field <= FIELD_SUPPRESS
               ? s_time (member, path, s_field_keys [field], &fields [field], error, error_size)
               : s_string (member, path, s_field_keys [field], text_max [field],
                           &fields [field], error, error_size);
        if (rc)
            return rc;
    }
    return 0;
}

//  One frame of count events whose fields are read: the batch of source
//  (NULL: the sender's) and tx, its head and each event. 0, or
//  WIRE_MALFORMED with why.
static int
s_batch_of_fields (ingest_map_t *out, const char *source, const char *tx, bool replace,
                   json_t *(*fields) [FIELD_COUNT], size_t count,
                   const ingest_map_options_t *options, char *error, size_t error_size)
{
    ingest_map_batch_t *batch = s_add_batch (out, source, tx, options, error, error_size);
    if (!batch)
        return WIRE_MALFORMED;
    s_pack_head (batch, replace, count);
    for (size_t index = 0; index < count; index++)
        s_pack_event (batch, fields [index], index);
    return 0;
}

static int
s_map_events (json_t *root, const ingest_map_options_t *options, ingest_map_t *out,
              char *error, size_t error_size)
{
    if (!json_is_object (root))
        return s_fail (error, error_size, "the body must be a JSON object {\"alerts\": [...]}");
    json_t *source, *tx, *alerts = json_object_get (root, "alerts");
    json_t *replace = json_object_get (root, "replace");
    int rc = s_string (json_object_get (root, "source"), "", "source", WIRE_MAX_NAME, &source,
                       error, error_size);
    if (!rc)
        rc = s_string (json_object_get (root, "tx"), "", "tx", WIRE_MAX_NAME, &tx,
                       error, error_size);
    if (rc)
        return rc;
    if (replace && !json_is_null (replace) && !json_is_boolean (replace))
        return s_fail (error, error_size, "replace: not true or false");
    if (!json_is_array (alerts))
        return s_fail (error, error_size, "alerts: %s", alerts ? "not an array" : "missing");
    if (json_array_size (alerts) == 0)
        return s_fail (error, error_size, "alerts: empty (a batch holds 1-%d events)",
                       WIRE_MAX_BATCH);
    if (json_array_size (alerts) > WIRE_MAX_BATCH)
        return s_fail (error, error_size, "alerts: more than %d in one batch", WIRE_MAX_BATCH);
    size_t count = json_array_size (alerts);
    json_t *(*fields) [FIELD_COUNT] = mem_alloc ((count ? count : 1) * sizeof *fields);
    for (size_t index = 0; index < count && !rc; index++)
        rc = s_event_fields (json_array_get (alerts, index), index, fields [index],
                             error, error_size);
    if (!rc)
        rc = s_batch_of_fields (out, source ? json_string_value (source) : NULL,
                                tx ? json_string_value (tx) : NULL, json_is_true (replace),
                                fields, count, options, error, error_size);
    mem_free (fields);
    return rc;
}

int
ingest_map_events (const char *text, size_t size, const ingest_map_options_t *options,
                   ingest_map_t *out, char *error, size_t error_size)
{
    return s_parse_and_map (text, size, s_map_events, options, out, error, error_size);
}

//  --- purppura -------------------------------------------------------------------------

//  object's member named key in any case; the last one when several are
//  (Go's encoding/json matches field names so, and the last value wins).
static json_t *
s_member_nocase (json_t *object, const char *name)
{
    const char *key;
    json_t *member, *found = NULL;
    json_object_foreach (object, key, member)
        if (strcasecmp (key, name) == 0)
            found = member;
    return found;
}

static int
s_purppura_event (json_t *event, size_t index, json_t *fields [FIELD_COUNT],
                  json_t **source, char *error, size_t error_size)
{
    char path [48];
    snprintf (path, sizeof path, "events[%zu].", index);
    if (!json_is_object (event))
        return s_fail (error, error_size, "events[%zu]: not an object", index);
    for (int field = 0; field < FIELD_COUNT; field++)
        fields [field] = NULL;
    int rc = s_string (s_member_nocase (event, "id"), path, "id", WIRE_MAX_NAME,
                       &fields [FIELD_ID], error, error_size);
    if (!rc)    //  purppura's subject is what lilac calls the summary
        rc = s_string (s_member_nocase (event, "subject"), path, "subject", WIRE_MAX_SUMMARY,
                       &fields [FIELD_SUMMARY], error, error_size);
    if (!rc)
        rc = s_string (s_member_nocase (event, "detail"), path, "detail", WIRE_MAX_DETAIL,
                       &fields [FIELD_DETAIL], error, error_size);
    if (!rc)
        rc = s_string (s_member_nocase (event, "raise"), path, "raise", INGEST_MAP_TIME_MAX,
                       &fields [FIELD_RAISE], error, error_size);
    if (!rc)
        rc = s_string (s_member_nocase (event, "source"), path, "source", WIRE_MAX_NAME,
                       source, error, error_size);
    if (fields [FIELD_RAISE] && json_string_length (fields [FIELD_RAISE]) == 0)
        fields [FIELD_RAISE] = NULL;    //  "": raise now, the broker's default
    if (*source && json_string_length (*source) == 0)
        *source = NULL;
    return rc;
}

static int
s_map_purppura (json_t *root, const ingest_map_options_t *options, ingest_map_t *out,
                char *error, size_t error_size)
{
    if (!json_is_object (root) && !json_is_array (root))
        return s_fail (error, error_size, "the body must be one JSON object or an array of them");
    size_t count = json_is_array (root) ? json_array_size (root) : 1;
    if (count > WIRE_MAX_BATCH)
        return s_fail (error, error_size, "more than %d events in one request", WIRE_MAX_BATCH);
    json_t *(*fields) [FIELD_COUNT] = mem_alloc ((count ? count : 1) * sizeof *fields);
    json_t *batch_source = NULL;
    int rc = 0;
    for (size_t index = 0; index < count && !rc; index++) {
        json_t *source = NULL;
        json_t *event = json_is_array (root) ? json_array_get (root, index) : root;
        rc = s_purppura_event (event, index, fields [index], &source, error, error_size);
        if (!rc && index > 0 && !json_equal (source, batch_source) && (source || batch_source))
            rc = s_fail (error, error_size, "events[%zu].source: every event of one request "
                         "must have the same source", index);
        batch_source = source;
    }
    if (!rc)
        rc = s_batch_of_fields (out, batch_source ? json_string_value (batch_source) : NULL,
                                NULL, false, fields, count, options, error, error_size);
    mem_free (fields);
    return rc;
}

int
ingest_map_purppura (const char *text, size_t size, const ingest_map_options_t *options,
                     ingest_map_t *out, char *error, size_t error_size)
{
    return s_parse_and_map (text, size, s_map_purppura, options, out, error, error_size);
}

//  --- ping ------------------------------------------------------------------------------

//  Packs one event {id, raise, detail?} from C strings.
static void
s_pack_ping_event (ingest_map_batch_t *batch, const char *id, const char *raise_key,
                   const char *raise, const char *detail, size_t detail_size)
{
    msgpack_packer *packer = &batch->frame.packer;
    msgpack_pack_map (packer, detail ? 3 : 2);
    wire_pack_key_string (packer, "id", id);
    wire_pack_key_string (packer, raise_key, raise);
    if (detail) {
        wire_pack_key (packer, "detail");
        msgpack_pack_str (packer, detail_size);
        msgpack_pack_str_body (packer, detail, detail_size);
    }
    batch->origin [batch->event_count++] = 0;
}

int
ingest_map_ping (const char *source, const char *id, int status, const char *raise,
                 const char *detail, size_t detail_size, const char *tx,
                 ingest_map_t *out, char *error, size_t error_size)
{
    ingest_map_options_t options = { .peer = source, .tx = tx };
    if (!wire_name_valid (id))
        return s_fail (error, error_size, "the id must be 1-%d bytes of UTF-8 without control "
                       "characters", WIRE_MAX_NAME);
    if (strlen (raise) > INGEST_MAP_TIME_MAX)
        return s_fail (error, error_size, "raise: longer than %d bytes", INGEST_MAP_TIME_MAX);
    if (detail && (detail_size > WIRE_MAX_DETAIL || !wire_utf8_valid (detail, detail_size)
                   || memchr (detail, 0, detail_size)))
        return s_fail (error, error_size, "the body (the detail) must be UTF-8 text of at "
                       "most %d bytes without NUL", WIRE_MAX_DETAIL);
    ingest_map_batch_t *batch = s_add_batch (out, NULL, NULL, &options, error, error_size);
    if (!batch)
        return WIRE_MALFORMED;
    s_pack_head (batch, false, status == 0 ? 2 : 1);
    if (status == 0)                    //  the job succeeded: clear, then refresh
        s_pack_ping_event (batch, id, "clear", "now", detail, detail_size);
    if (status == INGEST_PING_PLAIN || status == 0)
        s_pack_ping_event (batch, id, "raise", raise, detail, detail_size);
    else
        s_pack_ping_event (batch, id, "raise", "now", detail, detail_size);
    return 0;
}

//  --- RFC 3339 ------------------------------------------------------------------------

//  Days from 1970-01-01 to year-month-day (proleptic Gregorian; Howard
//  Hinnant's days_from_civil).
static int64_t
s_days_from_civil (int64_t year, int64_t month, int64_t day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

//  Reads exactly count digits at *cursor.
static bool
s_digits (const char **cursor, int count, int64_t *value)
{
    *value = 0;
    for (int index = 0; index < count; index++, (*cursor)++) {
        if (!isdigit ((unsigned char) **cursor))
            return false;
        *value = *value * 10 + (**cursor - '0');
    }
    return true;
}

static bool
s_expect (const char **cursor, const char *one_of)
{
    if (!**cursor || !strchr (one_of, **cursor))
        return false;
    (*cursor)++;
    return true;
}

int
ingest_map_rfc3339 (const char *text, int64_t *ms)
{
    static const int month_days [12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    const char *at = text;
    int64_t year, month, day, hour, minute, second, fraction = 0, zone = 0;
    if (!s_digits (&at, 4, &year) || !s_expect (&at, "-") || !s_digits (&at, 2, &month)
    ||  !s_expect (&at, "-") || !s_digits (&at, 2, &day) || !s_expect (&at, "Tt ")
    ||  !s_digits (&at, 2, &hour) || !s_expect (&at, ":") || !s_digits (&at, 2, &minute)
    ||  !s_expect (&at, ":") || !s_digits (&at, 2, &second))
        return -1;
    if (month < 1 || month > 12 || day < 1 || day > month_days [month - 1]
    ||  hour > 23 || minute > 59 || second > 60)
        return -1;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap)
        return -1;
    if (*at == '.') {                   //  a fraction: ms kept, the rest dropped
        int digits = 0;
        for (at++; isdigit ((unsigned char) *at); at++, digits++)
            if (digits < 3)
                fraction = fraction * 10 + (*at - '0');
        if (digits == 0 || digits > 9)
            return -1;
        for (; digits < 3; digits++)
            fraction *= 10;
    }
    if (*at == 'Z' || *at == 'z')
        at++;
    else {
        bool east = *at == '+';
        int64_t zone_hours, zone_minutes;
        if (!s_expect (&at, "+-") || !s_digits (&at, 2, &zone_hours) || !s_expect (&at, ":")
        ||  !s_digits (&at, 2, &zone_minutes) || zone_hours > 23 || zone_minutes > 59)
            return -1;
        zone = (zone_hours * 60 + zone_minutes) * 60 * (east ? 1 : -1);
    }
    if (*at)
        return -1;
    int64_t seconds = s_days_from_civil (year, month, day) * 86400
                    + hour * 3600 + minute * 60 + (second == 60 ? 59 : second) - zone;
    *ms = seconds * 1000 + fraction;
    return 0;
}

//  --- Alertmanager ------------------------------------------------------------------------

typedef struct {
    const char *key;
    const char *value;
} s_label_t;

//  64-bit FNV-1a over every label, sorted, as key NUL value NUL.
static uint64_t
s_labels_hash (const s_label_t *labels, size_t count)
{
    uint64_t hash = 14695981039346656037ULL;
    for (size_t index = 0; index < count; index++) {
        const char *parts [2] = { labels [index].key, labels [index].value };
        for (int part = 0; part < 2; part++) {
            for (const char *byte = parts [part]; ; byte++) {
                hash = (hash ^ (unsigned char) *byte) * 1099511628211ULL;
                if (!*byte)
                    break;
            }
        }
    }
    return hash;
}

static int
s_compare_labels (const void *left, const void *right)
{
    return strcmp (((const s_label_t *) left)->key, ((const s_label_t *) right)->key);
}

static int
s_compare_names (const void *left, const void *right)
{
    return strcmp (*(const char *const *) left, *(const char *const *) right);
}

//  Appends text to id, escaped as Prometheus writes label values when
//  escape. False when it does not fit.
static bool
s_id_append (char *id, size_t id_size, size_t *length, const char *text, bool escape)
{
    for (; *text; text++) {
        char pair [3] = { *text, 0, 0 };
        if (escape && (*text == '\\' || *text == '"' || *text == '\n'))
            pair [0] = '\\', pair [1] = *text == '\n' ? 'n' : *text;
        size_t size = strlen (pair);
        if (*length + size >= id_size)
            return false;
        memcpy (id + *length, pair, size + 1);
        *length += size;
    }
    return true;
}

int
ingest_map_am_id (const char *const *keys, const char *const *values, size_t count,
                  const char *skip, char *id, size_t id_size)
{
    const char *alertname = NULL;
    s_label_t *sorted = mem_alloc ((count ? count : 1) * sizeof (s_label_t));
    for (size_t index = 0; index < count; index++) {
        sorted [index] = (s_label_t) { keys [index], values [index] };
        if (strcmp (keys [index], "alertname") == 0)
            alertname = values [index];
    }
    qsort (sorted, count, sizeof (s_label_t), s_compare_labels);
    size_t length = 0, written = 0;
    bool fits = alertname && id_size > 0 && s_id_append (id, id_size, &length, alertname, false);
    for (size_t index = 0; index < count && fits; index++) {
        const char *key = sorted [index].key;
        if (strcmp (key, "alertname") == 0 || (skip && strcmp (key, skip) == 0))
            continue;
        fits = s_id_append (id, id_size, &length, written++ ? "," : "{", false)
            && s_id_append (id, id_size, &length, key, false)
            && s_id_append (id, id_size, &length, "=\"", false)
            && s_id_append (id, id_size, &length, sorted [index].value, true)
            && s_id_append (id, id_size, &length, "\"", false);
    }
    if (fits && written)
        fits = s_id_append (id, id_size, &length, "}", false);
    int rc = 0;
    if (!fits || !wire_name_valid (id)) {
        char hash [24];
        snprintf (hash, sizeof hash, "%c%016llx", INGEST_MAP_HASH_MARK,
                  (unsigned long long) s_labels_hash (sorted, count));
        length = 0;
        if (!alertname || !s_id_append (id, id_size, &length, alertname, false)
        ||  !s_id_append (id, id_size, &length, hash, false) || !wire_name_valid (id))
            rc = -1;
    }
    mem_free (sorted);
    return rc;
}

//  One Alertmanager alert, as read.
typedef struct {
    char id [WIRE_MAX_NAME + 1];
    json_t *labels;          //  the labels object
    const char *level;             //  "urgent", "normal", "low" or NULL
    int64_t raise;                 //  seconds since the epoch, 0 absent
    int64_t clear;                 //  seconds since the epoch, 0 absent
    const char *summary;           //  annotations, or NULL
    const char *detail;
} s_am_alert_t;

//  A time member: 0 when absent or at/before 1970, seconds rounded down
//  or up. -1 when not RFC 3339.
static int
s_am_time (json_t *alert, const char *key, bool round_up, int64_t *seconds)
{
    json_t *member = json_object_get (alert, key);
    int64_t ms;
    *seconds = 0;
    if (!member || json_is_null (member)
    ||  (json_is_string (member) && json_string_length (member) == 0))
        return 0;
    if (!json_is_string (member) || json_string_length (member) > INGEST_MAP_TIME_MAX
    ||  ingest_map_rfc3339 (json_string_value (member), &ms))
        return -1;
    if (ms > 0)
        *seconds = ms / 1000 + (round_up && ms % 1000 ? 1 : 0);
    return 0;
}

//  The level the severity label names in levels ("NAME=LEVEL ...", NULL:
//  INGEST_MAP_SEVERITY_LEVELS; names compared without case), or NULL for
//  none (the broker's default).
static const char *
s_am_level (const char *severity, const char *levels)
{
    char item [128];
    if (!severity)
        return NULL;
    for (const char *at = levels ? levels : INGEST_MAP_SEVERITY_LEVELS;
         (at = config_list_next (at, item, sizeof item)); ) {
        char *equals = strchr (item, '=');
        alert_level_t level;
        if (!equals)
            continue;
        *equals = '\0';
        if (strcasecmp (item, severity) == 0 && alert_level_parse (equals + 1, &level) == 0)
            return alert_level_name (level);
    }
    return NULL;
}

int
ingest_map_severity_levels_check (const char *levels, char *error, size_t error_size)
{
    char item [128];
    for (const char *at = levels; at && (at = config_list_next (at, item, sizeof item)); ) {
        char *equals = strchr (item, '=');
        alert_level_t level;
        if (!equals || equals == item || alert_level_parse (equals + 1, &level)) {
            snprintf (error, error_size, "'%s' is not SEVERITY=LEVEL (a level: low, normal, "
                      "urgent)", item);
            return -1;
        }
    }
    return 0;
}

//  An annotation string, or NULL; -1 when not a string.
static int
s_am_annotation (json_t *annotations, const char *key, const char **text)
{
    json_t *member = json_is_object (annotations) ? json_object_get (annotations, key)
                                                         : NULL;
    *text = NULL;
    if (!member || json_is_null (member))
        return 0;
    if (!json_is_string (member))
        return -1;
    *text = json_string_value (member);
    return 0;
}

//  Reads the labels into keys/values (at most max); the source label's value.
static const char *
s_am_labels (json_t *labels, const char *source_label, const char **keys,
             const char **values, size_t *count, char *reason, size_t reason_size)
{
    const char *key, *source = NULL;
    json_t *value;
    *count = 0;
    json_object_foreach (labels, key, value) {
        if (!json_is_string (value)) {
            snprintf (reason, reason_size, "labels.%.64s: not a string", key);
            return NULL;
        }
        keys [*count] = key;
        values [(*count)++] = json_string_value (value);
        if (source_label && strcmp (key, source_label) == 0 && json_string_length (value))
            source = json_string_value (value);
    }
    *reason = 0;
    return source;
}

//  Reads one alert; "" in reason when it maps, else why not.
static void
s_am_alert (json_t *alert, const ingest_map_options_t *options, s_am_alert_t *out, char *source,
            char *reason, size_t reason_size)
{
    const char *source_label = options->source_label;
    memset (out, 0, sizeof *out);
    json_t *labels = json_is_object (alert) ? json_object_get (alert, "labels") : NULL;
    if (!json_is_object (alert)) {
        snprintf (reason, reason_size, "not an object");
        return;
    }
    if (!json_is_object (labels)) {
        snprintf (reason, reason_size, "labels: %s", labels ? "not an object" : "missing");
        return;
    }
    size_t count = json_object_size (labels);
    const char **keys = mem_alloc ((count ? count : 1) * sizeof (char *));
    const char **values = mem_alloc ((count ? count : 1) * sizeof (char *));
    const char *label_source = s_am_labels (labels, source_label, keys, values, &count,
                                            reason, reason_size);
    const char *severity = json_object_get (labels, "severity")
                         ? json_string_value (json_object_get (labels, "severity")) : NULL;
    out->labels = labels;
    out->level = s_am_level (severity, options->severity_levels);
    snprintf (source, WIRE_MAX_NAME + 1, "%s", label_source ? label_source : options->peer);
    if (*reason)
        ;
    else
    if (!json_object_get (labels, "alertname"))
        snprintf (reason, reason_size, "labels.alertname: missing");
    else
    if (label_source && !wire_name_valid (label_source))
        snprintf (reason, reason_size, "labels.%.64s: not a valid source (1-%d bytes, no "
                  "control characters)", source_label, WIRE_MAX_NAME);
    else
    if (ingest_map_am_id (keys, values, count, label_source ? source_label : NULL,
                          out->id, sizeof out->id))
        snprintf (reason, reason_size, "labels.alertname: not a valid id (1-%d bytes less "
                  "a hash, no control characters)", WIRE_MAX_NAME);
    else
    if (s_am_time (alert, "startsAt", false, &out->raise))
        snprintf (reason, reason_size, "startsAt: not an RFC 3339 time");
    else
    if (s_am_time (alert, "endsAt", true, &out->clear))
        snprintf (reason, reason_size, "endsAt: not an RFC 3339 time");
    else {
        json_t *annotations = json_object_get (alert, "annotations");
        if (s_am_annotation (annotations, "summary", &out->summary)
        ||  s_am_annotation (annotations, "description", &out->detail))
            snprintf (reason, reason_size, "annotations: summary and description must be "
                      "strings");
    }
    mem_free (keys);
    mem_free (values);
}

//  Packs text cut to at most max bytes at a character boundary.
static void
s_pack_cut (msgpack_packer *packer, const char *key, const char *text, size_t max)
{
    size_t length = strlen (text);
    if (length > max) {
        length = max;
        while (length > 0 && ((unsigned char) text [length] & 0xc0) == 0x80)
            length--;
    }
    wire_pack_key (packer, key);
    msgpack_pack_str (packer, length);
    msgpack_pack_str_body (packer, text, length);
}

//  Labels that fit the wire's limits, in name order, at most WIRE_MAX_LABELS.
static void
s_pack_am_labels (msgpack_packer *packer, json_t *labels)
{
    size_t count = json_object_size (labels), kept = 0;
    const char **keys = mem_alloc ((count ? count : 1) * sizeof (char *));
    const char *key;
    json_t *value;
    json_object_foreach (labels, key, value)
        if (strlen (key) <= WIRE_MAX_LABEL_KEY && json_string_length (value) <= WIRE_MAX_LABEL_VALUE
        &&  wire_name_valid (key))
            keys [kept++] = key;
    qsort (keys, kept, sizeof (char *), s_compare_names);
    if (kept > WIRE_MAX_LABELS)
        kept = WIRE_MAX_LABELS;
    wire_pack_key (packer, "labels");
    msgpack_pack_map (packer, kept);
    for (size_t index = 0; index < kept; index++) {
        wire_pack_string (packer, keys [index]);
        s_pack_json_string (packer, json_object_get (labels, keys [index]));
    }
    mem_free (keys);
}

static void
s_pack_am_alert (ingest_map_batch_t *batch, const s_am_alert_t *alert, size_t origin)
{
    msgpack_packer *packer = &batch->frame.packer;
    msgpack_pack_map (packer, 2 + !!alert->level + !!alert->raise + !!alert->clear
                              + !!alert->summary + !!alert->detail);
    wire_pack_key_string (packer, "id", alert->id);
    if (alert->raise)
        wire_pack_key_int (packer, "raise", alert->raise);
    if (alert->clear)
        wire_pack_key_int (packer, "clear", alert->clear);
    if (alert->level)
        wire_pack_key_string (packer, "level", alert->level);
    if (alert->summary)
        s_pack_cut (packer, "summary", alert->summary, WIRE_MAX_SUMMARY);
    if (alert->detail)
        s_pack_cut (packer, "detail", alert->detail, WIRE_MAX_DETAIL);
    s_pack_am_labels (packer, alert->labels);
    batch->origin [batch->event_count++] = origin;
}

static void
s_am_refuse (ingest_map_t *out, size_t index, const char *id, const char *reason)
{
    out->refused = mem_realloc (out->refused,
                                (out->refused_count + 1) * sizeof (ingest_map_refusal_t));
    ingest_map_refusal_t *refusal = &out->refused [out->refused_count++];
    refusal->index = index;
    snprintf (refusal->id, sizeof refusal->id, "%s", id);
    snprintf (refusal->reason, sizeof refusal->reason, "%s", reason);
}

//  Reads every alert, refusing the bad ones, then packs one frame per
//  source, in the order sources first appear.
static int
s_map_alertmanager (json_t *root, const ingest_map_options_t *options, ingest_map_t *out,
                    char *error, size_t error_size)
{
    if (!json_is_array (root))
        return s_fail (error, error_size, "the body must be a JSON array of alerts");
    size_t count = json_array_size (root), mapped_count = 0;
    s_am_alert_t *alerts = mem_alloc ((count ? count : 1) * sizeof (s_am_alert_t));
    char (*sources) [WIRE_MAX_NAME + 1] = mem_alloc ((count ? count : 1) * sizeof *sources);
    bool *mapped = mem_alloc ((count ? count : 1) * sizeof (bool));
    for (size_t index = 0; index < count; index++) {
        char reason [WIRE_ERROR_SIZE];
        s_am_alert (json_array_get (root, index), options, &alerts [index], sources [index],
                    reason, sizeof reason);
        if (!*reason && mapped_count == WIRE_MAX_BATCH)
            snprintf (reason, sizeof reason, "more than %d alerts in one request",
                      WIRE_MAX_BATCH);
        if (*reason)
            s_am_refuse (out, index, alerts [index].id, reason);
        else
            mapped [index] = true, mapped_count++;
    }
    int rc = 0;
    for (size_t first = 0; first < count && !rc; first++) {
        if (!mapped [first])
            continue;
        size_t events = 0;
        for (size_t index = first; index < count; index++)
            events += mapped [index] && strcmp (sources [index], sources [first]) == 0;
        ingest_map_batch_t *batch = s_add_batch (out, sources [first], NULL, options,
                                                 error, error_size);
        if (!batch) {
            rc = WIRE_MALFORMED;
            break;
        }
        s_pack_head (batch, false, events);
        for (size_t index = first; index < count; index++)
            if (mapped [index] && strcmp (sources [index], sources [first]) == 0) {
                s_pack_am_alert (batch, &alerts [index], index);
                if (index > first)
                    mapped [index] = false;     //  packed
            }
    }
    mem_free (alerts);
    mem_free (sources);
    mem_free (mapped);
    return rc;
}

int
ingest_map_alertmanager (const char *text, size_t size, const ingest_map_options_t *options,
                         ingest_map_t *out, char *error, size_t error_size)
{
    return s_parse_and_map (text, size, s_map_alertmanager, options, out, error, error_size);
}
