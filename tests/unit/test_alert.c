/*  test_alert.c — the alert record on the wire: names, pack/decode round
    trips, change bodies, topics and labels.
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "../check.h"
#include "alert.h"
#include "json.h"
#include "wire.h"

static char error [WIRE_ERROR_SIZE];

//  A fully set alert; strings are heap copies so alert_clear_fields can run.
static void
s_full_alert (alert_t *alert)
{
    memset (alert, 0, sizeof (alert_t));
    alert->source = strdup ("web1");
    alert->id = strdup ("disk-space-/");
    alert->subject = strdup ("web1 root disk");
    alert->summary = strdup ("/ is 97% full");
    alert->detail = strdup ("Filesystem  Use%\n/dev/sda1   97% \"quoted\"");
    alert->level = LEVEL_URGENT;
    alert->state = ALERT_ACKED;
    alert->raise_at = INT64_C(1795000000000);
    alert->clear_at = INT64_C(1795000600000);
    alert->suppress_until = INT64_C(1795000100000);
    alert->acked_at = INT64_C(1795000050000);
    alert->ack_until = INT64_C(1795003600000);
    alert->acked_by = strdup ("alice");
    alert->ack_note = strdup ("rebooting web1");
    alert->notify_count = 3;
    alert->notified_at = INT64_C(1795000040000);
    alert->created_at = INT64_C(1794000000000);
    alert->updated_at = INT64_C(1795000060000);
    alert->changed_at = INT64_C(1795000050000);
    alert->seq = UINT64_C(12345678901);
    wire_label_t labels [] = { { "team", "ops" }, { "dc", "ams" } };
    alert_copy_labels (&alert->labels, &alert->label_count, labels, 2);
}

static bool
s_same_string (const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp (a, b) == 0);
}

//  Compares every field; reports the first difference.
static bool
s_same_alert (const alert_t *a, const alert_t *b)
{
    const char *strings_a [] = { a->source, a->id, a->subject, a->summary, a->detail,
                                 a->acked_by, a->ack_note };
    const char *strings_b [] = { b->source, b->id, b->subject, b->summary, b->detail,
                                 b->acked_by, b->ack_note };
    for (size_t index = 0; index < 7; index++)
        if (!CHECK (s_same_string (strings_a [index], strings_b [index]), "string field %zu", index))
            return false;
    bool numbers = a->level == b->level && a->state == b->state
        && a->raise_at == b->raise_at && a->clear_at == b->clear_at
        && a->suppress_until == b->suppress_until && a->acked_at == b->acked_at
        && a->ack_until == b->ack_until && a->notify_count == b->notify_count
        && a->notified_at == b->notified_at && a->created_at == b->created_at
        && a->updated_at == b->updated_at && a->changed_at == b->changed_at
        && a->seq == b->seq;
    if (!CHECK (numbers, "numeric fields differ"))
        return false;
    if (!CHECK (a->label_count == b->label_count, "label count %zu vs %zu",
                a->label_count, b->label_count))
        return false;
    for (size_t index = 0; index < a->label_count; index++)
        if (!CHECK (strcmp (a->labels [index].key, b->labels [index].key) == 0
                    && strcmp (a->labels [index].value, b->labels [index].value) == 0,
                    "label %zu", index))
            return false;
    return true;
}

//  Packs alert and unpacks it into unpacked (after wire_check).
static bool
s_pack_unpack (const alert_t *alert, wire_writer_t *writer, msgpack_unpacked *unpacked)
{
    wire_writer_reset (writer);
    alert_pack (&writer->packer, alert);
    if (!CHECK (wire_check (writer->buffer.data, writer->buffer.size, error, sizeof error) == 0,
                "packed alert fails wire_check: %s", error))
        return false;
    size_t offset = 0;
    msgpack_unpacked_init (unpacked);
    return CHECK (msgpack_unpack_next (unpacked, writer->buffer.data, writer->buffer.size, &offset)
                  == MSGPACK_UNPACK_SUCCESS, "unpack");
}

static void
test_names (void)
{
    TEST ("state and level names");
    const char *states [] = { "pending", "raised", "acked", "cleared" };
    for (int index = 0; index < 4; index++) {
        alert_state_t state = ALERT_CLEARED;
        CHECK (strcmp (alert_state_name ((alert_state_t) index), states [index]) == 0, "name %d", index);
        CHECK (alert_state_parse (states [index], &state) == 0 && (int) state == index, "parse %d", index);
    }
    const char *levels [] = { "low", "normal", "urgent" };
    for (int index = 0; index < 3; index++) {
        alert_level_t level = LEVEL_LOW;
        CHECK (strcmp (alert_level_name ((alert_level_t) index), levels [index]) == 0, "level %d", index);
        CHECK (alert_level_parse (levels [index], &level) == 0 && (int) level == index, "parse %d", index);
    }
    alert_state_t state = ALERT_PENDING;
    alert_level_t level = LEVEL_LOW;
    CHECK (alert_state_parse ("acknowledged", &state) == 0 && state == ALERT_ACKED, "long name");
    CHECK (alert_state_parse ("Raised", &state) == -1 && alert_state_parse ("", &state) == -1
           && alert_state_parse (NULL, &state) == -1, "bad states");
    CHECK (alert_level_parse ("critical", &level) == -1 && alert_level_parse (NULL, &level) == -1,
           "bad levels");
    CHECK (strcmp (alert_state_name ((alert_state_t) 9), "unknown") == 0, "out of range state");
    CHECK (strcmp (alert_level_name ((alert_level_t) -1), "unknown") == 0, "out of range level");
}

static void
test_pack_decode (void)
{
    TEST ("alert_pack → alert_decode keeps every field, labels included");
    alert_t alert, decoded;
    s_full_alert (&alert);
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_unpacked unpacked;
    if (s_pack_unpack (&alert, &writer, &unpacked)) {
        CHECK (unpacked.data.type == MSGPACK_OBJECT_MAP && unpacked.data.via.map.size == 21,
               "21 keys, got %u", unpacked.data.via.map.size);
        int rc = alert_decode (&unpacked.data, &decoded, error, sizeof error);
        if (CHECK (rc == 0, "decode: %s", error))
            s_same_alert (&alert, &decoded);
        alert_clear_fields (&decoded);
    }
    msgpack_unpacked_destroy (&unpacked);
    alert_clear_fields (&alert);
    CHECK (alert.source == NULL && alert.labels == NULL && alert.label_count == 0, "cleared");
    alert_clear_fields (&alert);
    alert_clear_fields (NULL);
    wire_writer_free (&writer);
}

static void
test_unset_left_out (void)
{
    TEST ("unset fields are left out and decode as unset");
    alert_t alert = { 0 }, decoded;
    alert.source = "web1";
    alert.id = "heartbeat";
    alert.level = LEVEL_NORMAL;
    alert.state = ALERT_PENDING;
    alert.raise_at = 1;
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_unpacked unpacked;
    if (s_pack_unpack (&alert, &writer, &unpacked)) {
        const msgpack_object *map = &unpacked.data;
        //  source id level state raise_at notify_count created_at updated_at changed_at seq
        CHECK (map->via.map.size == 10, "10 keys, got %u", map->via.map.size);
        CHECK (!wire_get (map, "subject") && !wire_get (map, "labels") && !wire_get (map, "clear_at")
               && !wire_get (map, "acked_by"), "optional keys absent");
        char *json = json_text_from_msgpack (map);
        CHECK (json && strcmp (json, "{\"source\":\"web1\",\"id\":\"heartbeat\",\"level\":\"normal\","
                           "\"state\":\"pending\",\"raise_at\":1,\"notify_count\":0,\"created_at\":0,"
                           "\"updated_at\":0,\"changed_at\":0,\"seq\":0}") == 0, "json: %s", json);
        free (json);
        CHECK (alert_decode (map, &decoded, error, sizeof error) == 0, "decode: %s", error);
        s_same_alert (&alert, &decoded);
        alert_clear_fields (&decoded);
    }
    msgpack_unpacked_destroy (&unpacked);
    wire_writer_free (&writer);
}

//  Decodes a map with only source, id, level, state plus one extra pair.
static int
s_decode_with (const char *drop, const char *key, const char *text, int64_t number)
{
    wire_writer_t writer;
    wire_writer_init (&writer);
    const char *keys [] = { "source", "id", "level", "state" };
    const char *values [] = { "web1", "x", "low", "raised" };
    uint32_t count = 0;
    for (int index = 0; index < 4; index++)
        count += !drop || strcmp (drop, keys [index]) != 0;
    msgpack_pack_map (&writer.packer, count + (key ? 1 : 0));
    for (int index = 0; index < 4; index++)
        if (!drop || strcmp (drop, keys [index]) != 0)
            wire_pack_key_string (&writer.packer, keys [index], values [index]);
    if (key && text)
        wire_pack_key_string (&writer.packer, key, text);
    else
    if (key)
        wire_pack_key_int (&writer.packer, key, number);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    msgpack_unpack_next (&unpacked, writer.buffer.data, writer.buffer.size, &offset);
    alert_t alert;
    error [0] = 0;
    int rc = alert_decode (&unpacked.data, &alert, error, sizeof error);
    if (rc == 0)
        CHECK (alert.level == LEVEL_LOW && alert.state == ALERT_RAISED, "level and state");
    alert_clear_fields (&alert);
    msgpack_unpacked_destroy (&unpacked);
    wire_writer_free (&writer);
    return rc;
}

static void
test_decode_refuses (void)
{
    TEST ("alert_decode: required fields, names and types checked");
    CHECK (s_decode_with (NULL, NULL, NULL, 0) == 0, "minimal: %s", error);
    CHECK (s_decode_with (NULL, "unknown", "ignored", 0) == 0, "unknown key: %s", error);
    CHECK (s_decode_with ("source", NULL, NULL, 0) == WIRE_MALFORMED
           && strcmp (error, "source: missing") == 0, "no source: %s", error);
    CHECK (s_decode_with ("id", NULL, NULL, 0) == WIRE_MALFORMED
           && strcmp (error, "id: missing") == 0, "no id: %s", error);
    CHECK (s_decode_with ("level", NULL, NULL, 0) == WIRE_MALFORMED
           && strcmp (error, "level: missing") == 0, "no level: %s", error);
    CHECK (s_decode_with ("state", NULL, NULL, 0) == WIRE_MALFORMED
           && strcmp (error, "state: missing") == 0, "no state: %s", error);
    CHECK (s_decode_with ("level", "level", "severe", 0) == WIRE_MALFORMED
           && strcmp (error, "level: must be urgent, normal or low") == 0, "bad level: %s", error);
    CHECK (s_decode_with ("state", "state", "gone", 0) == WIRE_MALFORMED
           && s_same_string (error, "state: must be pending, raised, acked or cleared"),
           "bad state: %s", error);
    CHECK (s_decode_with (NULL, "raise_at", "soon", 0) == WIRE_MALFORMED
           && strcmp (error, "raise_at: not an integer") == 0, "string time: %s", error);
    CHECK (s_decode_with (NULL, "summary", NULL, 5) == WIRE_MALFORMED
           && strcmp (error, "summary: not a string") == 0, "int summary: %s", error);
    CHECK (s_decode_with (NULL, "seq", NULL, -1) == WIRE_MALFORMED
           && strcmp (error, "seq: negative") == 0, "negative seq: %s", error);
    CHECK (s_decode_with (NULL, "labels", "x", 0) == WIRE_MALFORMED
           && strcmp (error, "labels: not a map") == 0, "string labels: %s", error);
    CHECK (s_decode_with ("source", "source", "a\nb", 0) == WIRE_MALFORMED, "control char in source");
    msgpack_object nil = { .type = MSGPACK_OBJECT_NIL };
    alert_t alert;
    CHECK (alert_decode (&nil, &alert, error, sizeof error) == WIRE_MALFORMED, "nil");
    CHECK (alert_decode (NULL, &alert, NULL, 0) == WIRE_MALFORMED, "NULL, no error buffer");
}

static void
test_change (void)
{
    TEST ("change body pack → wire_doc_new → alert_change_decode");
    alert_t alert;
    s_full_alert (&alert);
    wire_writer_t writer;
    wire_writer_init (&writer);
    alert_change_pack (&writer.packer, 42, INT64_C(1795000050000), "acked", &alert, NULL);
    wire_doc_t *doc = wire_doc_new (writer.buffer.data, writer.buffer.size, error, sizeof error);
    if (CHECK (doc != NULL, "doc: %s", error)) {
        alert_change_t change;
        int rc = alert_change_decode (wire_doc_root (doc), &change, error, sizeof error);
        if (CHECK (rc == 0, "decode: %s", error)) {
            CHECK (change.seq == 42 && change.at == INT64_C(1795000050000), "seq, at");
            CHECK (change.event && strcmp (change.event, "acked") == 0, "event");
            s_same_alert (&alert, &change.alert);
        }
        alert_change_free (&change);
        CHECK (change.event == NULL && change.alert.source == NULL, "freed");
        alert_change_free (&change);
        alert_change_free (NULL);
    }
    wire_doc_destroy (&doc);

    //  a bad alert inside is reported with its path
    free (alert.ack_note);
    alert.ack_note = malloc (WIRE_MAX_NOTE + 2);
    memset (alert.ack_note, 'n', WIRE_MAX_NOTE + 1);
    alert.ack_note [WIRE_MAX_NOTE + 1] = 0;
    wire_writer_reset (&writer);
    alert_change_pack (&writer.packer, 43, 1, "acked", &alert, NULL);
    doc = wire_doc_new (writer.buffer.data, writer.buffer.size, error, sizeof error);
    if (CHECK (doc != NULL, "doc: %s", error)) {
        alert_change_t change;
        CHECK (alert_change_decode (wire_doc_root (doc), &change, error, sizeof error) == WIRE_MALFORMED
               && strcmp (error, "alert.ack_note: longer than 1024 bytes") == 0, "error: %s", error);
        CHECK (change.event == NULL, "nothing left on failure");
    }
    wire_doc_destroy (&doc);
    alert_clear_fields (&alert);
    wire_writer_free (&writer);
}

//  Decodes a hand-made change body given as msgpack bytes.
static int
s_change_from (const char *bytes, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    msgpack_unpack_next (&unpacked, bytes, size, &offset);
    alert_change_t change;
    error [0] = 0;
    int rc = alert_change_decode (&unpacked.data, &change, error, sizeof error);
    alert_change_free (&change);
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

#define CHANGE_FROM(literal) s_change_from ((literal), sizeof (literal) - 1)

static void
test_change_refuses (void)
{
    TEST ("alert_change_decode: v, seq, at, event, alert required");
    CHECK (CHANGE_FROM ("\x84\xa1v\x02\xa3seq\x01\xa2" "at\x01\xa5" "event\xa1x") == WIRE_MALFORMED
           && strcmp (error, "v: unsupported version 2") == 0, "v=2: %s", error);
    CHECK (CHANGE_FROM ("\x83\xa3seq\x01\xa2" "at\x01\xa5" "event\xa1x") == WIRE_MALFORMED
           && strcmp (error, "v: missing") == 0, "no v: %s", error);
    CHECK (CHANGE_FROM ("\x83\xa1v\x01\xa2" "at\x01\xa5" "event\xa1x") == WIRE_MALFORMED
           && strcmp (error, "seq: missing") == 0, "no seq: %s", error);
    CHECK (CHANGE_FROM ("\x84\xa1v\x01\xa3seq\x01\xa2" "at\x01\xa5" "event\xa1x") == WIRE_MALFORMED
           && strcmp (error, "alert: missing") == 0, "no alert: %s", error);
    CHECK (CHANGE_FROM ("\x85\xa1v\x01\xa3seq\x01\xa2" "at\x01\xa5" "event\xa1x\xa5" "alert\x01")
           == WIRE_MALFORMED && strcmp (error, "alert: not a map") == 0, "int alert: %s", error);
    CHECK (CHANGE_FROM ("\x85\xa1v\x01\xa3seq\x01\xa2" "at\x01\xa5" "event\xa1x\xa5" "alert\x80")
           == WIRE_MALFORMED && strcmp (error, "alert.source: missing") == 0, "empty alert: %s", error);
    CHECK (CHANGE_FROM ("\x91\x01") == WIRE_MALFORMED, "array body");
}

static void
test_topic (void)
{
    TEST ("topic EVENT.LEVEL.SOURCE.ID, truncated to the buffer");
    alert_t alert = { 0 };
    alert.source = "web1";
    alert.id = "disk-space-/";
    alert.level = LEVEL_URGENT;
    char topic [WIRE_MAX_TOPIC];
    alert_topic (topic, sizeof topic, "raised", &alert);
    CHECK (strcmp (topic, "raised.urgent.web1.disk-space-/") == 0, "topic: %s", topic);
    char small [10];
    alert_topic (small, sizeof small, "raised", &alert);
    CHECK (strcmp (small, "raised.ur") == 0, "truncated: %s", small);
    alert_topic (small, 0, "raised", &alert);
    alert.source = NULL;
    alert_topic (topic, sizeof topic, NULL, &alert);
    CHECK (strcmp (topic, ".urgent..disk-space-/") == 0, "NULLs: %s", topic);
}

static void
test_labels (void)
{
    TEST ("label copy and free");
    wire_label_t from [] = { { "a", "1" }, { "b", "" } };
    wire_label_t *to = NULL;
    size_t count = 99;
    CHECK (alert_copy_labels (&to, &count, from, 2) == 0 && count == 2, "copy");
    CHECK (to && to [0].key != from [0].key && strcmp (to [0].key, "a") == 0
           && strcmp (to [1].value, "") == 0, "deep copy");
    alert_free_labels (&to, &count);
    CHECK (to == NULL && count == 0, "freed");
    CHECK (alert_copy_labels (&to, &count, NULL, 0) == 0 && to == NULL && count == 0, "empty");
    alert_free_labels (&to, &count);
    alert_free_labels (NULL, NULL);
}

int
main (void)
{
    test_names ();
    test_pack_decode ();
    test_unset_left_out ();
    test_decode_refuses ();
    test_change ();
    test_change_refuses ();
    test_topic ();
    test_labels ();
    return check_done ();
}
