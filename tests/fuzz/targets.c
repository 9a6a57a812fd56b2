/*  targets.c — see targets.h. */
#include <assert.h>
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
