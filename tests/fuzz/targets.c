/*  targets.c — see targets.h. */
#include <arpa/inet.h>
#include <assert.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "alert.h"
#include "json.h"
#include "targets.h"
#include "timespec.h"
#include "epoch.h"
#include "submit.h"
#include "wire.h"
#include "../../web/api_acts.h"
#include "../../web/api_silences.h"
#include "../../web/http.h"
#include "../../web/ingest_map.h"

//  Same type, same value; floats by their bits, so a NaN equals itself
//  (msgpack_object_equal says it does not).
static bool
s_same_object (const msgpack_object *ours, const msgpack_object *theirs)
{
    if (ours->type != theirs->type)
        return false;
    switch (ours->type) {
        case MSGPACK_OBJECT_NIL:
            return true;
        case MSGPACK_OBJECT_BOOLEAN:
            return ours->via.boolean == theirs->via.boolean;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return ours->via.u64 == theirs->via.u64;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return memcmp (&ours->via.f64, &theirs->via.f64, sizeof (double)) == 0;
        case MSGPACK_OBJECT_STR:
            return ours->via.str.size == theirs->via.str.size
                && (ours->via.str.size == 0
                    || memcmp (ours->via.str.ptr, theirs->via.str.ptr, ours->via.str.size) == 0);
        case MSGPACK_OBJECT_ARRAY:
            if (ours->via.array.size != theirs->via.array.size)
                return false;
            for (uint32_t index = 0; index < ours->via.array.size; index++)
                if (!s_same_object (&ours->via.array.ptr [index], &theirs->via.array.ptr [index]))
                    return false;
            return true;
        case MSGPACK_OBJECT_MAP:
            if (ours->via.map.size != theirs->via.map.size)
                return false;
            for (uint32_t index = 0; index < ours->via.map.size; index++)
                if (!s_same_object (&ours->via.map.ptr [index].key, &theirs->via.map.ptr [index].key)
                ||  !s_same_object (&ours->via.map.ptr [index].val, &theirs->via.map.ptr [index].val))
                    return false;
            return true;
        default:
            return false;           //  bin and ext never pass wire_check
    }
}

//  wire.c unpacks checked bytes with its own builder: whatever it accepts
//  must come out exactly as msgpack-c unpacks the same bytes.
static void
s_assert_unpacked_as_msgpack_c (const uint8_t *data, size_t size, const msgpack_object *root)
{
    msgpack_unpacked reference;
    msgpack_unpacked_init (&reference);
    size_t offset = 0;
    int result = msgpack_unpack_next (&reference, (const char *) data, size, &offset);
    assert (result == MSGPACK_UNPACK_SUCCESS && offset == size);
    assert (s_same_object (root, &reference.data));
    msgpack_unpacked_destroy (&reference);
}

//  Both NULL, or the same text.
static bool
s_same_text (const char *ours, const char *theirs)
{
    return ours == theirs || (ours && theirs && strcmp (ours, theirs) == 0);
}

static bool
s_same_event (const wire_event_t *ours, const wire_event_t *theirs)
{
    if (!s_same_text (ours->id, theirs->id) || !s_same_text (ours->subject, theirs->subject)
    ||  !s_same_text (ours->summary, theirs->summary) || !s_same_text (ours->detail, theirs->detail)
    ||  ours->has_raise != theirs->has_raise || ours->raise_clear != theirs->raise_clear
    ||  ours->raise_at != theirs->raise_at || ours->has_clear != theirs->has_clear
    ||  ours->clear_at != theirs->clear_at || ours->has_suppress != theirs->has_suppress
    ||  ours->suppress_until != theirs->suppress_until || ours->level != theirs->level
    ||  ours->has_labels != theirs->has_labels || ours->label_count != theirs->label_count)
        return false;
    for (size_t index = 0; index < ours->label_count; index++)
        if (!s_same_text (ours->labels [index].key, theirs->labels [index].key)
        ||  !s_same_text (ours->labels [index].value, theirs->labels [index].value))
            return false;
    return true;
}

//  wire_batch_decode's fast path and its reference reading gave the same.
static bool
s_same_batch (const wire_batch_t *ours, const wire_batch_t *theirs)
{
    if (!s_same_text (ours->tx, theirs->tx) || !s_same_text (ours->source, theirs->source)
    ||  ours->replace != theirs->replace || ours->sent != theirs->sent
    ||  ours->event_count != theirs->event_count)
        return false;
    for (size_t index = 0; index < ours->event_count; index++)
        if (!s_same_event (&ours->events [index], &theirs->events [index]))
            return false;
    return true;
}

//  The same bytes as a submit request (proto/submit.c): a frame the
//  ingest decoder accepts whole is accepted whole; otherwise the valid
//  events are kept and each other one is refused with a reason, or the
//  whole request is refused.
static void
s_submit_decode (const uint8_t *data, size_t size, int ingest_rc)
{
    char error [WIRE_ERROR_SIZE] = "";
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    submit_refusals_t refused = { 0 };
    int rc = submit_decode (data, size, FUZZ_NOW_MS, &batch, &refused, error, sizeof error);
    if (ingest_rc == 0)
        assert (rc == 0 && refused.count == 0);
    if (rc == 0)
        for (size_t index = 0; index < batch.event_count; index++)
            assert (wire_name_valid (batch.events [index].id));
    for (size_t index = 0; index < refused.count; index++)
        assert (*refused.items [index].reason);
    submit_refusals_free (&refused);
    wire_batch_free (&batch);
}

int
fuzz_ingest (const uint8_t *data, size_t size)
{
    char error [WIRE_ERROR_SIZE] = "";
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    int rc = wire_batch_decode (data, size, FUZZ_NOW_MS, &batch, error, sizeof error);
    if (rc == 0)
        //  What the broker relies on after a successful decode.
        for (size_t index = 0; index < batch.event_count; index++)
            assert (wire_name_valid (batch.events [index].id));
    else
        assert (batch.events == NULL && batch.event_count == 0);
    //  The fast path decides nothing by itself: the reference reading
    //  accepts every frame it accepts, into the same batch, and refuses the
    //  rest with the same reason
    char reference_error [WIRE_ERROR_SIZE] = "";
    wire_batch_t reference = WIRE_BATCH_EMPTY;
    int reference_rc = wire_batch_decode_reference (data, size, FUZZ_NOW_MS, &reference,
                                                    reference_error, sizeof reference_error);
    assert (rc == reference_rc);
    assert (rc != 0 || s_same_batch (&batch, &reference));
    assert (rc == 0 || strcmp (error, reference_error) == 0);
    wire_batch_free (&reference);
    wire_batch_free (&batch);
    s_submit_decode (data, size, rc);
    wire_doc_t *doc = wire_doc_new (data, size, error, sizeof error);
    if (doc)
        s_assert_unpacked_as_msgpack_c (data, size, wire_doc_root (doc));
    wire_doc_destroy (&doc);
    return 0;
}

//  A string getter's result: freed, and NULL when it failed.
static void
s_free_string (char **value)
{
    free (*value);
    *value = NULL;
}

//  alert_change_decode as a subscriber calls it; frees what it got.
static void
s_change_decode (const msgpack_object *map)
{
    char error [WIRE_ERROR_SIZE] = "";
    alert_change_t change;
    if (alert_change_decode (map, &change, error, sizeof error) == 0) {
        char topic [WIRE_MAX_TOPIC + 1];
        alert_topic (topic, sizeof topic, change.event, &change.alert);
    }
    alert_change_free (&change);
}

int
fuzz_control (const uint8_t *data, size_t size)
{
    char error [WIRE_ERROR_SIZE] = "";
    wire_doc_t *doc = wire_doc_new (data, size, error, sizeof error);
    if (!doc)
        return 0;
    const msgpack_object *root = wire_doc_root (doc);
    assert (root && root->type == MSGPACK_OBJECT_MAP);
    s_assert_unpacked_as_msgpack_c (data, size, root);

    //  The getters of broker/control.c, each as one of its ops calls it.
    static const char *names [] = { "op", "source", "id", "by" };
    for (size_t index = 0; index < sizeof names / sizeof names [0]; index++) {
        char *value = NULL;
        if (wire_get_name (root, names [index], &value, error, sizeof error) == 0 && value)
            assert (wire_name_valid (value));
        s_free_string (&value);
    }
    static const struct {
        const char *key;            //  request key
        size_t max_bytes;           //  the limit control.c passes
    } strings [] = {
        { "note", WIRE_MAX_NOTE }, { "state", WIRE_MAX_NAME },
        { "source", WIRE_MAX_NAME }, { "id", WIRE_MAX_NAME },
    };
    for (size_t index = 0; index < sizeof strings / sizeof strings [0]; index++) {
        char *value = NULL;
        if (wire_get_string (root, strings [index].key, strings [index].max_bytes,
                             &value, error, sizeof error) == 0 && value)
            assert (strlen (value) <= strings [index].max_bytes);
        s_free_string (&value);
    }
    bool present = false, is_clear = false;
    int64_t until = 0;
    wire_get_time (root, "until", FUZZ_NOW_MS, &present, &until, &is_clear, error, sizeof error);
    static const char *integers [] = { "limit", "seq", "cursor" };
    for (size_t index = 0; index < sizeof integers / sizeof integers [0]; index++) {
        int64_t value = 0;
        wire_get_int (root, integers [index], &present, &value, error, sizeof error);
    }

    //  The epoch of a hugz, a ping or a since reply, as a subscriber reads it.
    epoch_t epoch;
    if (epoch_decode (root, &epoch, &present, error, sizeof error) == 0 && present)
        assert (strlen (epoch.db) == EPOCH_DB_SIZE - 1);

    //  A change body, as the subscriber library reads it.
    s_change_decode (root);
    s_change_decode (wire_get (root, "alert"));

    //  lilac (the command) prints replies as JSON: always JSON a reader takes.
    char *text = json_text_from_msgpack (root);
    json_t *back = text ? json_loads (text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
    assert (!text || back);
    json_decref (back);
    free (text);
    wire_doc_destroy (&doc);
    assert (doc == NULL);
    return 0;
}

int
fuzz_timespec (const uint8_t *data, size_t size)
{
    if (size > FUZZ_SPEC_MAX)
        return 0;
    char text [FUZZ_SPEC_MAX + 1];
    memcpy (text, data, size);
    text [size] = 0;

    static const int64_t nows [] = {
        0, 1, FUZZ_NOW_MS, INT64_C(4102444800000) /* 2100-01-01 */, INT64_MAX / 2
    };
    for (size_t index = 0; index < sizeof nows / sizeof nows [0]; index++) {
        int64_t when = -1;
        int rc = time_spec_parse (text, nows [index], &when);
        assert (rc == 0 || rc == TIMESPEC_CLEAR || rc == -1);
        if (rc == 0)
            assert (when > 0);          //  "at or before 1970" is refused
        if (rc == TIMESPEC_CLEAR)
            assert (when == nows [index]);
    }

    //  Our invariant: a parsed duration formats back to text that parses to
    //  the same value.
    int64_t ms = -1;
    if (duration_parse (text, &ms) == 0) {
        assert (ms >= 0);
        char formatted [32];
        duration_format (ms, formatted, sizeof formatted);
        int64_t again = -1;
        assert (duration_parse (formatted, &again) == 0);
        assert (again == ms);
    }
    return 0;
}

//  A string getter's output: NUL-terminated within size, valid UTF-8.
static void
s_assert_text (const char *text, size_t size)
{
    size_t length = strnlen (text, size);
    assert (length < size);
    assert (wire_utf8_valid (text, length));
}

int
fuzz_json (const uint8_t *data, size_t size)
{
    char error [128];
    json_t *reply = json_read_object ((const char *) data, size, FUZZ_JSON_MAX,
                                      error, sizeof error);
    if (!reply)
        return 0;
    //  What lilac-notify-pushover reads of an answer (notifiers/pushover.c).
    int64_t number;
    json_get_int (reply, "status", &number);
    json_get_int (reply, "acknowledged", &number);
    json_get_int (reply, "expired", &number);
    char receipt [64] = "", user [257] = "", device [256] = "", errors [512] = "";
    json_get_string (reply, "receipt", receipt, sizeof receipt, false);
    json_get_string (reply, "acknowledged_by", user, sizeof user, false);
    json_get_string (reply, "acknowledged_by_device", device, sizeof device, false);
    json_get_strings (reply, "errors", "; ", errors, sizeof errors);
    s_assert_text (receipt, sizeof receipt);
    s_assert_text (user, sizeof user);
    s_assert_text (device, sizeof device);
    s_assert_text (errors, sizeof errors);
    //  What we read, we can write, and read back the same.
    char *text = json_text (reply);
    assert (text);
    json_t *back = json_read_object (text, strlen (text), SIZE_MAX, error, sizeof error);
    assert (back && json_equal (reply, back));
    json_decref (back);
    free (text);
    json_decref (reply);
    return 0;
}

//  --- lilac-web's JSON mappers -------------------------------------------------------------

typedef int (s_web_map_fn) (const char *text, size_t size, const ingest_map_options_t *options,
                            ingest_map_t *out, char *error, size_t error_size);

static int
s_fuzz_web (s_web_map_fn *map, bool alertmanager, const uint8_t *data, size_t size)
{
    ingest_map_options_t options = { .peer = "192.0.2.1", .tx = "fuzz-tx",
                                     .source_label = "instance" };
    ingest_map_t out;
    ingest_map_init (&out);
    char error [WIRE_ERROR_SIZE];
    if (map ((const char *) data, size, &options, &out, error, sizeof error)) {
        assert (memchr (error, 0, sizeof error));
        ingest_map_free (&out);
        return 0;
    }
    size_t mapped = 0;
    for (size_t index = 0; index < out.batch_count; index++) {
        ingest_map_batch_t *batch = &out.batches [index];
        if (batch->event_count == 0)
            continue;               //  not sent
        assert (wire_check (batch->frame.buffer.data, batch->frame.buffer.size,
                            error, sizeof error) == 0);
        wire_batch_t decoded = WIRE_BATCH_EMPTY;
        submit_refusals_t refused;
        int rc = submit_decode (batch->frame.buffer.data, batch->frame.buffer.size, FUZZ_NOW_MS,
                                &decoded, &refused, error, sizeof error);
        //  Refused whole only when every event is bad (submit_decode then
        //  gives the first one's reason), never for the envelope
        assert (rc == 0 || (!alertmanager && strncmp (error, "alerts[", 7) == 0));
        if (rc == 0) {
            assert (strcmp (decoded.source, batch->source) == 0);
            assert (decoded.event_count + refused.count == batch->event_count);
        }
        if (alertmanager)
            assert (refused.count == 0);
        for (size_t event = 1; event < batch->event_count; event++)
            assert (batch->origin [event] > batch->origin [event - 1]);
        mapped += batch->event_count;
        submit_refusals_free (&refused);
        wire_batch_free (&decoded);
    }
    if (alertmanager) {             //  each alert mapped or refused, once
        json_error_t parse_error;
        json_t *root = json_loadb ((const char *) data, size, 0, &parse_error);
        assert (root && json_is_array (root));
        assert (mapped + out.refused_count == json_array_size (root));
        json_decref (root);
    }
    ingest_map_free (&out);
    return 0;
}

int
fuzz_web_events (const uint8_t *data, size_t size)
{
    return s_fuzz_web (ingest_map_events, false, data, size);
}

int
fuzz_web_purppura (const uint8_t *data, size_t size)
{
    return s_fuzz_web (ingest_map_purppura, false, data, size);
}

int
fuzz_web_alertmanager (const uint8_t *data, size_t size)
{
    return s_fuzz_web (ingest_map_alertmanager, true, data, size);
}

//  --- lilac-web's requests ----------------------------------------------------------------

#define S_SOURCE_LABEL  "instance"          //  lilac-web's default source_label

//  A refusal's sentence: not empty, NUL-terminated within its buffer.
static void
s_assert_refused (const char *error, size_t size)
{
    assert (memchr (error, 0, size) && *error);
}

//  The body read again, as the target's own reference (any JSON value), or
//  NULL for none.
static json_t *
s_reference_body (const uint8_t *data, size_t size)
{
    return size ? json_loadb ((const char *) data, size, JSON_DECODE_ANY, NULL) : NULL;
}

//  kept is what the body said of member: a string as it is; nothing ("")
//  when it said nothing (absent or null).
static void
s_assert_said (const json_t *member, const char *kept)
{
    assert (json_is_string (member) ? strcmp (kept, json_string_value (member)) == 0
                                    : (!member || json_is_null (member)) && !*kept);
}

//  A control request lilac-web packed, opened as the broker opens it.
static wire_doc_t *
s_request_doc (wire_writer_t *writer)
{
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (writer->buffer.data, writer->buffer.size, error,
                                    sizeof error);
    assert (doc);
    return doc;
}

//  The time of key in a request, read as the broker reads it at FUZZ_NOW_MS:
//  a time (never "clear"), present when required.
static void
s_assert_broker_time (const msgpack_object *request, const char *key, bool required)
{
    char error [WIRE_ERROR_SIZE];
    bool present = false, is_clear = false;
    int64_t when = 0;
    assert (wire_get_time (request, key, FUZZ_NOW_MS, &present, &when, &is_clear, error,
                           sizeof error) == 0);
    assert (!is_clear && (present || !required) && (!present || when > 0));
}

//  The note of a request, read as the broker reads it.
static void
s_assert_broker_note (const msgpack_object *request)
{
    char error [WIRE_ERROR_SIZE], *note = NULL;
    assert (wire_get_string (request, "note", WIRE_MAX_NOTE, &note, error, sizeof error) == 0);
    s_free_string (&note);
}

//  until and note as an act body gave them: NUL-terminated UTF-8 within
//  their buffers, and what the body said — until a string as it is or a
//  positive integer as its digits, the note as it is.
static void
s_assert_act_body (const json_t *root, const api_act_body_t *body)
{
    s_assert_text (body->until, sizeof body->until);
    s_assert_text (body->note, sizeof body->note);
    const json_t *until = json_object_get (root, "until");
    if (json_is_integer (until)) {
        char digits [32];
        snprintf (digits, sizeof digits, "%lld", (long long) json_integer_value (until));
        assert (json_integer_value (until) > 0 && strcmp (body->until, digits) == 0);
    }
    else
        s_assert_said (until, body->until);
    s_assert_said (json_object_get (root, "note"), body->note);
}

//  Act op on source/id packed as lilac-web sends it (api_acts.c) and read
//  back as the broker's control.c reads it: the until of ack and suppress
//  is a time (suppress's required), ack's note fits.
static void
s_assert_act_sent (const char *op, const char *source, const char *id,
                   const api_act_body_t *body)
{
    bool suppress = strcmp (op, "suppress") == 0, ack = strcmp (op, "ack") == 0;
    ctl_act_t act = { .source = source, .id = id, .by = suppress ? NULL : "fuzz",
                      .until = *body->until && (suppress || ack) ? body->until : NULL,
                      .note = *body->note && ack ? body->note : NULL };
    wire_writer_t writer;
    ctl_act_request (&writer, op, &act);
    wire_doc_t *doc = s_request_doc (&writer);
    const msgpack_object *request = wire_doc_root (doc);
    char error [WIRE_ERROR_SIZE], *name = NULL;
    assert (wire_get_string (request, "source", WIRE_MAX_NAME, &name, error, sizeof error) == 0);
    s_free_string (&name);
    assert (wire_get_string (request, "id", WIRE_MAX_NAME, &name, error, sizeof error) == 0);
    s_free_string (&name);
    s_assert_broker_time (request, "until", suppress);
    s_assert_broker_note (request);
    wire_doc_destroy (&doc);
    wire_writer_free (&writer);
}

int
fuzz_web_act (const uint8_t *data, size_t size)
{
    json_t *root = s_reference_body (data, size);
    static const char *const ops [] = { "ack", "unack", "clear", "suppress" };
    for (size_t index = 0; index < sizeof ops / sizeof ops [0]; index++) {
        api_act_body_t body;
        char error [WIRE_ERROR_SIZE];
        if (api_act_parse (ops [index], (const char *) data, size, FUZZ_NOW_MS, &body, error,
                           sizeof error)) {
            s_assert_refused (error, sizeof error);
            continue;
        }
        assert (size == 0 || json_is_object (root));
        s_assert_act_body (root, &body);
        s_assert_act_sent (ops [index], "web1", "disk", &body);
    }
    json_decref (root);
    return 0;
}

int
fuzz_web_actions (const uint8_t *data, size_t size)
{
    api_actions_t actions;
    char error [WIRE_ERROR_SIZE];
    if (api_actions_parse ((const char *) data, size, FUZZ_NOW_MS, &actions, error,
                           sizeof error)) {
        s_assert_refused (error, sizeof error);
        api_actions_free (&actions);
        return 0;
    }
    json_t *root = s_reference_body (data, size);
    assert (json_is_object (root) && api_act_known (actions.op));
    s_assert_act_body (root, &actions.body);
    //  Every alert of the body, in its order, each a source and an id that fit.
    const json_t *alerts = json_object_get (root, "alerts");
    assert (actions.alert_count >= 1 && actions.alert_count <= API_ACTIONS_MAX);
    assert (actions.alert_count == json_array_size (alerts));
    for (size_t index = 0; index < actions.alert_count; index++) {
        const api_act_alert_t *alert = &actions.alerts [index];
        s_assert_text (alert->source, sizeof alert->source);
        s_assert_text (alert->id, sizeof alert->id);
        assert (*alert->source && *alert->id);
        const json_t *said = json_array_get (alerts, index);
        s_assert_said (json_object_get (said, "source"), alert->source);
        s_assert_said (json_object_get (said, "id"), alert->id);
    }
    //  The first and the last as the broker reads them.
    s_assert_act_sent (actions.op, actions.alerts [0].source, actions.alerts [0].id,
                       &actions.body);
    const api_act_alert_t *last = &actions.alerts [actions.alert_count - 1];
    s_assert_act_sent (actions.op, last->source, last->id, &actions.body);
    json_decref (root);
    api_actions_free (&actions);
    return 0;
}

//  The times of a silence, resolved at FUZZ_NOW_MS as the broker will:
//  ends a time, starts none or a time, and ends after both starts and now.
static void
s_assert_silence_times (const api_silence_t *silence)
{
    s_assert_text (silence->starts, sizeof silence->starts);
    s_assert_text (silence->ends, sizeof silence->ends);
    int64_t starts = FUZZ_NOW_MS, ends = 0;
    if (*silence->starts)
        assert (time_spec_parse (silence->starts, FUZZ_NOW_MS, &starts) == 0);
    assert (time_spec_parse (silence->ends, FUZZ_NOW_MS, &ends) == 0);
    assert (ends > (starts > FUZZ_NOW_MS ? starts : FUZZ_NOW_MS));
}

//  A silence accepted: at least one matcher, globs that fit, each label
//  matcher one the broker parses (its regex compiled), times as above, a
//  note that fits.
static void
s_assert_silence (const api_silence_t *silence)
{
    const char *globs [] = { silence->source, silence->id, silence->subject };
    for (size_t index = 0; index < 3; index++) {
        s_assert_text (globs [index], API_GLOB_SIZE);
        assert (strlen (globs [index]) <= WIRE_MAX_NAME);
    }
    assert (*silence->source || *silence->id || *silence->subject || silence->label_count);
    assert (silence->label_count <= SILENCE_MAX_LABELS);
    for (size_t index = 0; index < silence->label_count; index++) {
        silence_label_t label;
        char error [256];
        assert (wire_utf8_valid (silence->labels [index], strlen (silence->labels [index])));
        assert (silence_label_parse (silence->labels [index], &label, error, sizeof error) == 0);
        silence_label_free (&label);
    }
    s_assert_silence_times (silence);
    s_assert_text (silence->note, sizeof silence->note);
}

//  The silence packed as lilac-web sends it (api_silences.c) and read back
//  as the broker's silences.c reads it.
static void
s_assert_silence_sent (const api_silence_t *silence)
{
    wire_writer_t writer;
    api_silence_request (silence, "fuzz", &writer);
    wire_doc_t *doc = s_request_doc (&writer);
    const msgpack_object *request = wire_doc_root (doc);
    silence_t *decoded = silence_new ();
    char error [WIRE_ERROR_SIZE];
    assert (silence_matchers_decode (wire_get (request, "matchers"), decoded, error,
                                     sizeof error) == 0);
    assert (decoded->label_count == silence->label_count);
    s_assert_broker_time (request, "starts", false);
    s_assert_broker_time (request, "ends", true);
    s_assert_broker_note (request);
    silence_destroy (&decoded);
    wire_doc_destroy (&doc);
    wire_writer_free (&writer);
}

//  A time member as sent: a positive integer as its digits, RFC 3339 as
//  epoch seconds within a second of it (rounded up for an end), any other
//  string as it is; nothing for none, null or a time at or before 1970.
static void
s_assert_time_said (const json_t *member, const char *kept, bool round_up)
{
    int64_t ms = 0, seconds = 0;
    if (json_is_integer (member)) {
        char digits [32];
        snprintf (digits, sizeof digits, "%lld", (long long) json_integer_value (member));
        assert (json_integer_value (member) > 0 && strcmp (kept, digits) == 0);
    }
    else
    if (json_is_string (member) && ingest_map_rfc3339 (json_string_value (member), &ms) == 0) {
        if (!*kept)
            assert (ms <= 0);
        else {
            assert (time_spec_parse (kept, FUZZ_NOW_MS, &seconds) == 0);
            assert (round_up ? seconds >= ms && seconds - ms < 1000
                             : seconds <= ms && ms - seconds < 1000);
        }
    }
    else
        s_assert_said (member, kept);
}

int
fuzz_web_silence (const uint8_t *data, size_t size)
{
    api_silence_t silence;
    char error [WIRE_ERROR_SIZE];
    if (api_silence_parse ((const char *) data, size, FUZZ_NOW_MS, &silence, error,
                           sizeof error)) {
        s_assert_refused (error, sizeof error);
        return 0;
    }
    s_assert_silence (&silence);
    s_assert_silence_sent (&silence);
    //  What the body said, kept as it said it.
    json_t *root = s_reference_body (data, size);
    const json_t *matchers = json_object_get (root, "matchers");
    s_assert_said (json_object_get (matchers, "source"), silence.source);
    s_assert_said (json_object_get (matchers, "id"), silence.id);
    s_assert_said (json_object_get (matchers, "subject"), silence.subject);
    const json_t *labels = json_object_get (matchers, "labels");
    assert (json_array_size (labels) == silence.label_count);
    for (size_t index = 0; index < silence.label_count; index++)
        s_assert_said (json_array_get (labels, index), silence.labels [index]);
    s_assert_time_said (json_object_get (root, "starts"), silence.starts, false);
    s_assert_time_said (json_object_get (root, "ends"), silence.ends, true);
    s_assert_said (json_object_get (root, "note"), silence.note);
    json_decref (root);
    api_silence_free (&silence);
    return 0;
}

//  glob (escaped by lilac-web) matches value and nothing else: without its
//  escapes it is value.
static void
s_assert_exact_glob (const char *glob, const char *value)
{
    assert (fnmatch (glob, value, 0) == 0);
    const char *at = glob;
    for (; *at && *value; at++, value++) {
        if (*at == '\\')
            at++;
        assert (*at == *value);
    }
    assert (!*at && !*value);
}

//  An Alertmanager matcher {name, value, isRegex, isEqual} became the
//  label matcher text of the same meaning: its name, and a regex as
//  written, or a match of value itself (for = and !=).
static void
s_assert_am_label (const char *text, const char *name, const char *value, bool equal,
                   bool regex)
{
    silence_label_t label;
    char error [256], other [WIRE_MAX_LABEL_VALUE + 2];
    assert (silence_label_parse (text, &label, error, sizeof error) == 0);
    assert (strcmp (label.name, name) == 0);
    if (regex) {
        assert (label.op == (equal ? SILENCE_REGEX : SILENCE_NOT_REGEX));
        assert (strcmp (label.value, value) == 0);
    }
    else {
        snprintf (other, sizeof other, "%sx", value);
        assert (silence_label_matches (&label, value) == equal);
        assert (silence_label_matches (&label, other) == !equal);
    }
    silence_label_free (&label);
}

//  Each matcher of an Alertmanager body, in its order, became one of the
//  silence: the first `instance="V"` (V not empty) the source glob V, the
//  others label matchers of the same meaning. isEqual absent or null is
//  true, as in Alertmanager.
static void
s_assert_am_matchers (const json_t *matchers, const api_silence_t *silence)
{
    const json_t *matcher;
    size_t index, labels = 0;
    bool source = false;
    json_array_foreach (matchers, index, matcher) {
        const json_t *is_equal = json_object_get (matcher, "isEqual");
        const json_t *is_regex = json_object_get (matcher, "isRegex");
        assert (!is_equal || json_is_null (is_equal) || json_is_boolean (is_equal));
        assert (!is_regex || json_is_null (is_regex) || json_is_boolean (is_regex));
        const char *name = json_string_value (json_object_get (matcher, "name"));
        const char *value = json_string_value (json_object_get (matcher, "value"));
        bool equal = !json_is_false (is_equal), regex = json_is_true (is_regex);
        assert (name && value);
        if (equal && !regex && !source && *value && strcmp (name, S_SOURCE_LABEL) == 0) {
            s_assert_exact_glob (silence->source, value);
            source = true;
            continue;
        }
        assert (labels < silence->label_count);
        s_assert_am_label (silence->labels [labels++], name, value, equal, regex);
    }
    assert (labels == silence->label_count && source == (*silence->source != '\0'));
    assert (!*silence->id && !*silence->subject);
}

int
fuzz_web_am_silence (const uint8_t *data, size_t size)
{
    api_silence_t silence;
    char error [WIRE_ERROR_SIZE];
    if (api_silence_parse_am ((const char *) data, size, S_SOURCE_LABEL, FUZZ_NOW_MS,
                              &silence, error, sizeof error)) {
        s_assert_refused (error, sizeof error);
        return 0;
    }
    s_assert_silence (&silence);
    s_assert_silence_sent (&silence);
    json_t *root = s_reference_body (data, size);
    s_assert_am_matchers (json_object_get (root, "matchers"), &silence);
    s_assert_time_said (json_object_get (root, "startsAt"), silence.starts, false);
    s_assert_time_said (json_object_get (root, "endsAt"), silence.ends, true);
    //  An update (a non-empty id) is refused; the comment is the note, cut
    //  at a character boundary.
    const json_t *id = json_object_get (root, "id"), *comment = json_object_get (root, "comment");
    assert (!id || json_is_null (id) || (json_is_string (id) && !json_string_length (id)));
    assert (!comment || json_is_null (comment) || json_is_string (comment));
    assert (strncmp (silence.note, json_is_string (comment) ? json_string_value (comment) : "",
                     strlen (silence.note)) == 0);
    json_decref (root);
    api_silence_free (&silence);
    return 0;
}

//  The address's 16 bytes (IPv4 mapped into IPv6); false if text is not a
//  numeric address. The target's own reading, to check http.c's.
static bool
s_address (const char *text, unsigned char bytes [16])
{
    static const unsigned char mapped [12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (inet_pton (AF_INET, text, bytes + 12) == 1) {
        memcpy (bytes, mapped, sizeof mapped);
        return true;
    }
    return inet_pton (AF_INET6, text, bytes) == 1;
}

//  Is address one of list's (split at commas and white space)?
static bool
s_listed (const char *list, const char *address)
{
    unsigned char want [16], have [16];
    char copy [FUZZ_FORWARDED_MAX + 1], *rest = NULL;
    if (!list || !s_address (address, want))
        return false;
    snprintf (copy, sizeof copy, "%s", list);
    for (char *item = strtok_r (copy, ", \t\r\n", &rest); item;
         item = strtok_r (NULL, ", \t\r\n", &rest))
        if (s_address (item, have) && memcmp (want, have, 16) == 0)
            return true;
    return false;
}

//  Hop index of header (entries between commas, counted from the left;
//  blanks trimmed) into out; false if it is not an address.
static bool
s_hop (const char *header, size_t index, char *out, size_t out_size)
{
    const char *from = header;
    while (index-- > 0)
        from = strchr (from, ',') + 1;
    size_t length = strcspn (from, ",");
    while (length && (*from == ' ' || *from == '\t'))
        from++, length--;
    while (length && (from [length - 1] == ' ' || from [length - 1] == '\t'))
        length--;
    if (length >= out_size)
        return false;               //  longer than any address
    memcpy (out, from, length);
    out [length] = '\0';
    unsigned char bytes [16];
    return s_address (out, bytes);
}

//  The client by the rule, computed another way: from a trusted peer, walk
//  the hops from the right while they are addresses; the client is the
//  first that is not trusted, else the last address seen (the leftmost
//  hop, or the last before garbage: only then a trusted proxy), else the
//  peer.
static void
s_expected_client (const char *header, const char *peer, const char *trusted, char *out,
                   size_t out_size)
{
    snprintf (out, out_size, "%s", peer);
    if (!header || !s_listed (trusted, peer))
        return;
    size_t hops = 1;
    for (const char *at = header; (at = strchr (at, ',')); at++)
        hops++;
    char hop [64];
    while (hops-- > 0 && s_hop (header, hops, hop, sizeof hop)) {
        snprintf (out, out_size, "%s", hop);
        if (!s_listed (trusted, hop))
            return;
    }
}

int
fuzz_web_forwarded (const uint8_t *data, size_t size)
{
    if (size > FUZZ_FORWARDED_MAX)
        return 0;
    //  "TRUSTED\nPEER\nHEADER" ("TRUSTED\nPEER": no header), or a header alone
    //  from a trusted peer.
    char text [FUZZ_FORWARDED_MAX + 1];
    memcpy (text, data, size);
    text [size] = '\0';
    const char *trusted = "10.0.0.1, ::1 192.0.2.7", *peer = "10.0.0.1";
    char *header = text, *newline = strchr (text, '\n');
    if (newline) {
        *newline = '\0';
        trusted = text;
        peer = newline + 1;
        header = strchr (newline + 1, '\n');
        if (header)
            *header++ = '\0';
    }
    unsigned char bytes [16];
    if (!s_address (peer, bytes))
        return 0;                   //  a socket's peer is always an address
    char client [64], expected [64];
    assert (http_forwarded_client (header, peer, trusted, client, sizeof client) == 0);
    s_expected_client (header, peer, trusted, expected, sizeof expected);
    assert (strcmp (client, expected) == 0);
    return 0;
}
