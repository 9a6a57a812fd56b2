/*  test_wire.c — wire_check, documents, getters and ingest batches (JSON:
    test_json.c).

    One case per class of hostile frame (architecture §3: "never a crash, never a
    stall"), round trips of frames packed with msgpack-c, and a bounded
    random-bytes loop with a fixed seed that must never crash (run it under
    ASan with `make asan`).
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "alert.h"
#include "json.h"
#include "../check.h"
#include "../fuzz/targets.h"
#include "wire.h"

#define NOW_MS  INT64_C(1795000000000)

static char error [WIRE_ERROR_SIZE];

//  wire_check on a byte string given as a literal.
#define CHECK_BYTES(literal) \
    wire_check ((literal), sizeof (literal) - 1, error, sizeof error)

//  True if error begins with prefix.
static bool
s_error_starts (const char *prefix)
{
    return strncmp (error, prefix, strlen (prefix)) == 0;
}

//  Packs a map {v: 1, alerts: [{id: "a", key: <value from the callback>}]}
//  (for key "id", the callback's value is the id).
typedef void (s_pack_value_fn) (msgpack_packer *packer);

static void
s_pack_alert_with (wire_writer_t *writer, const char *key, s_pack_value_fn *pack_value)
{
    wire_writer_reset (writer);
    msgpack_packer *packer = &writer->packer;
    msgpack_pack_map (packer, 2);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 1);
    bool is_id = key && strcmp (key, "id") == 0;
    msgpack_pack_map (packer, key && !is_id ? 2 : 1);
    if (!is_id)
        wire_pack_key_string (packer, "id", "a");
    if (key) {
        wire_pack_key (packer, key);
        pack_value (packer);
    }
}

//  Decodes writer's frame as a batch; returns the rc, frees the batch.
static int
s_decode (wire_writer_t *writer)
{
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    error [0] = 0;
    int rc = wire_batch_decode (writer->buffer.data, writer->buffer.size, NOW_MS,
                                &batch, error, sizeof error);
    wire_batch_free (&batch);
    return rc;
}

static void s_pack_int (msgpack_packer *p) { msgpack_pack_int (p, 7); }
static void s_pack_true (msgpack_packer *p) { msgpack_pack_true (p); }
static void s_pack_float (msgpack_packer *p) { msgpack_pack_double (p, 1.5); }
static void s_pack_array (msgpack_packer *p) { msgpack_pack_array (p, 0); }
static void s_pack_map (msgpack_packer *p) { msgpack_pack_map (p, 0); }
static void s_pack_junk (msgpack_packer *p) { wire_pack_string (p, "junk"); }
static void s_pack_empty (msgpack_packer *p) { wire_pack_string (p, ""); }
static void s_pack_zero (msgpack_packer *p) { msgpack_pack_int (p, 0); }
static void s_pack_negative (msgpack_packer *p) { msgpack_pack_int (p, -5); }

static void
s_pack_label_int (msgpack_packer *p)
{
    msgpack_pack_map (p, 1);
    wire_pack_key_int (p, "k", 1);
}

static void
s_pack_labels_repeat (msgpack_packer *p)
{
    msgpack_pack_map (p, 2);
    wire_pack_key_string (p, "k", "1");
    wire_pack_key_string (p, "k", "2");
}

static void
s_pack_string_of (msgpack_packer *p, size_t size)
{
    char *text = malloc (size + 1);
    memset (text, 'x', size);
    text [size] = 0;
    wire_pack_string (p, text);
    free (text);
}

static void s_pack_256 (msgpack_packer *p) { s_pack_string_of (p, 256); }
static void s_pack_1025 (msgpack_packer *p) { s_pack_string_of (p, 1025); }

static void
s_pack_labels_33 (msgpack_packer *p)
{
    msgpack_pack_map (p, 33);
    for (int index = 0; index < 33; index++) {
        char key [16];
        snprintf (key, sizeof key, "k%d", index);
        wire_pack_key_string (p, key, "v");
    }
}

static void
s_pack_label_key_65 (msgpack_packer *p)
{
    msgpack_pack_map (p, 1);
    s_pack_string_of (p, 65);
    wire_pack_string (p, "v");
}

static void
s_pack_label_value_257 (msgpack_packer *p)
{
    msgpack_pack_map (p, 1);
    wire_pack_string (p, "k");
    s_pack_string_of (p, 257);
}

//  A full ingest frame, packed with msgpack-c as any client would.
static void
s_pack_full_batch (wire_writer_t *writer)
{
    msgpack_packer *packer = &writer->packer;
    msgpack_pack_map (packer, 7);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key_string (packer, "tx", "tx-123");
    wire_pack_key_string (packer, "source", "web1.example.com");
    wire_pack_key_bool (packer, "replace", true);
    wire_pack_key_int (packer, "sent", NOW_MS - 5);
    wire_pack_key_string (packer, "unknown_key", "ignored");
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 3);

    msgpack_pack_map (packer, 9);
    wire_pack_key_string (packer, "id", "heartbeat");
    wire_pack_key_string (packer, "raise", "+5m");
    wire_pack_key_int (packer, "clear", 1800000000);
    wire_pack_key_string (packer, "suppress", "+1h");
    wire_pack_key_string (packer, "subject", "web1");
    wire_pack_key_string (packer, "summary", "web1 stopped sending heartbeats");
    wire_pack_key_string (packer, "detail", "line 1\nline 2 é");
    wire_pack_key_string (packer, "level", "urgent");
    wire_pack_key (packer, "labels");
    msgpack_pack_map (packer, 2);
    wire_pack_key_string (packer, "team", "ops");
    wire_pack_key_string (packer, "dc", "");

    msgpack_pack_map (packer, 3);
    wire_pack_key_string (packer, "id", "disk-space-/");
    wire_pack_key_string (packer, "raise", "clear");
    wire_pack_key (packer, "labels");
    msgpack_pack_map (packer, 0);

    msgpack_pack_map (packer, 2);
    wire_pack_key_string (packer, "id", "plain");
    wire_pack_key_string (packer, "subject", NULL);      //  nil: absent
}

static void
test_empty_frame (void)
{
    TEST ("empty frame refused");
    CHECK (wire_check ("", 0, error, sizeof error) == WIRE_MALFORMED, "size 0");
    CHECK (s_error_starts ("empty frame"), "error: %s", error);
    CHECK (wire_check (NULL, 0, error, sizeof error) == WIRE_MALFORMED, "NULL");
    CHECK (wire_doc_new ("", 0, error, sizeof error) == NULL, "doc of nothing");
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    CHECK (wire_batch_decode ("", 0, NOW_MS, &batch, error, sizeof error) == WIRE_MALFORMED,
           "batch of nothing");
    CHECK (batch.events == NULL && batch.event_count == 0, "batch zeroed");
    wire_batch_free (&batch);
    CHECK (wire_check ("\x90", 1, NULL, 0) == 0, "NULL error buffer is fine");
}

static void
test_truncated (void)
{
    TEST ("truncated frame refused (every prefix of a real frame)");
    wire_writer_t writer;
    wire_writer_init (&writer);
    s_pack_full_batch (&writer);
    CHECK (wire_check (writer.buffer.data, writer.buffer.size, error, sizeof error) == 0,
           "full frame: %s", error);
    int accepted = 0;
    for (size_t size = 1; size < writer.buffer.size; size++)
        if (wire_check (writer.buffer.data, size, error, sizeof error) != WIRE_MALFORMED)
            accepted++;
    CHECK (accepted == 0, "%d prefixes accepted", accepted);
    CHECK (CHECK_BYTES ("\xcd\x01") == WIRE_MALFORMED, "uint16 short");
    CHECK (s_error_starts ("truncated"), "error: %s", error);
    CHECK (CHECK_BYTES ("\xcb\x00\x00") == WIRE_MALFORMED, "float64 short");
    CHECK (CHECK_BYTES ("\xa5" "abc") == WIRE_MALFORMED, "fixstr short");
    CHECK (CHECK_BYTES ("\xdb\x00\x00") == WIRE_MALFORMED, "str32 length short");
    CHECK (CHECK_BYTES ("\x92\x01") == WIRE_MALFORMED, "array missing an element");
    CHECK (CHECK_BYTES ("\x81\xa1k") == WIRE_MALFORMED, "map missing a value");
    wire_writer_free (&writer);
}

static void
test_trailing (void)
{
    TEST ("trailing bytes refused");
    CHECK (CHECK_BYTES ("\x80\x00") == WIRE_MALFORMED, "map then a byte");
    CHECK (s_error_starts ("1 trailing bytes"), "error: %s", error);
    CHECK (CHECK_BYTES ("\x81\xa1v\x01\x81\xa1v\x01") == WIRE_MALFORMED, "two objects");
    CHECK (wire_doc_new ("\x81\xa1v\x01\xc0", 5, error, sizeof error) == NULL, "doc");
    CHECK (CHECK_BYTES ("\x81\xa1v\x01") == 0, "without the trailing byte: %s", error);
}

static void
test_ext (void)
{
    TEST ("ext types refused");
    CHECK (CHECK_BYTES ("\xd4\x01\x00") == WIRE_MALFORMED, "fixext 1");
    CHECK (s_error_starts ("ext type"), "error: %s", error);
    CHECK (CHECK_BYTES ("\xd5\x01\x00\x00") == WIRE_MALFORMED, "fixext 2");
    CHECK (CHECK_BYTES ("\xd6\x01\x00\x00\x00\x00") == WIRE_MALFORMED, "fixext 4");
    CHECK (CHECK_BYTES ("\xd7\x01" "12345678") == WIRE_MALFORMED, "fixext 8");
    CHECK (CHECK_BYTES ("\xd8\x01" "1234567812345678") == WIRE_MALFORMED, "fixext 16");
    CHECK (CHECK_BYTES ("\xc7\x01\x01\x00") == WIRE_MALFORMED, "ext 8");
    CHECK (CHECK_BYTES ("\xc8\x00\x01\x01\x00") == WIRE_MALFORMED, "ext 16");
    CHECK (CHECK_BYTES ("\xc9\x00\x00\x00\x01\x01\x00") == WIRE_MALFORMED, "ext 32");
    //  -1 is the timestamp ext type, the one most likely to be sent
    CHECK (CHECK_BYTES ("\x82\xa1v\x01\xa1t\xd6\xff\x00\x00\x00\x00") == WIRE_MALFORMED,
           "timestamp inside a map");
}

static void
test_bin (void)
{
    TEST ("bin type refused");
    CHECK (CHECK_BYTES ("\xc4\x01\x00") == WIRE_MALFORMED, "bin 8");
    CHECK (s_error_starts ("bin type"), "error: %s", error);
    CHECK (CHECK_BYTES ("\xc5\x00\x01\x00") == WIRE_MALFORMED, "bin 16");
    CHECK (CHECK_BYTES ("\xc6\x00\x00\x00\x01\x00") == WIRE_MALFORMED, "bin 32");
    CHECK (CHECK_BYTES ("\x82\xa1v\x01\xa1" "b\xc4\x00") == WIRE_MALFORMED, "empty bin in a map");
}

static void
test_reserved (void)
{
    TEST ("reserved byte 0xc1 refused");
    CHECK (CHECK_BYTES ("\xc1") == WIRE_MALFORMED, "alone");
    CHECK (s_error_starts ("reserved byte 0xc1"), "error: %s", error);
    CHECK (CHECK_BYTES ("\x91\xc1") == WIRE_MALFORMED, "in an array");
}

//  Builds depth nested single-element arrays around nil (depth 0: nil).
static size_t
s_nested (unsigned char *buffer, int depth, unsigned char container)
{
    size_t size = 0;
    for (int level = 0; level < depth; level++)
        buffer [size++] = container;
    buffer [size++] = 0xc0;
    return size;
}

static void
test_nesting (void)
{
    TEST ("nesting 8 deep accepted, 9 refused");
    unsigned char frame [32];
    size_t size = s_nested (frame, WIRE_MAX_DEPTH, 0x91);
    CHECK (wire_check (frame, size, error, sizeof error) == 0, "8 arrays: %s", error);
    size = s_nested (frame, WIRE_MAX_DEPTH + 1, 0x91);
    CHECK (wire_check (frame, size, error, sizeof error) == WIRE_MALFORMED, "9 arrays");
    CHECK (s_error_starts ("nesting deeper than 8"), "error: %s", error);
    //  an empty container at depth 9 is still 9 deep
    size = s_nested (frame, WIRE_MAX_DEPTH, 0x91);
    frame [size - 1] = 0x90;
    CHECK (wire_check (frame, size, error, sizeof error) == WIRE_MALFORMED, "empty array at 9");
    //  maps: {"v": {"v": ... nil}}
    unsigned char maps [64];
    size_t used = 0;
    for (int level = 0; level < WIRE_MAX_DEPTH; level++) {
        maps [used++] = 0x81;
        maps [used++] = 0xa1;
        maps [used++] = 'k';
    }
    maps [used++] = 0xc0;
    CHECK (wire_check (maps, used, error, sizeof error) == 0, "8 maps: %s", error);
    maps [used - 1] = 0x90;
    CHECK (wire_check (maps, used, error, sizeof error) == WIRE_MALFORMED, "8 maps + array");
    //  siblings do not add depth
    CHECK (CHECK_BYTES ("\x93\x91\x91\x01\x91\x91\x02\x91\x91\x03") == 0, "siblings: %s", error);
    //  a deep doc with v is accepted by wire_doc_new too
    unsigned char doc [64] = { 0x82, 0xa1, 'v', 0x01, 0xa1, 'x' };
    size = 6 + s_nested (doc + 6, WIRE_MAX_DEPTH - 1, 0x91);
    wire_doc_t *parsed = wire_doc_new (doc, size, error, sizeof error);
    CHECK (parsed != NULL, "doc 8 deep: %s", error);
    wire_doc_destroy (&parsed);
    CHECK (parsed == NULL, "destroy sets NULL");
    wire_doc_destroy (&parsed);
    wire_doc_destroy (NULL);
}

static void
test_huge_counts (void)
{
    TEST ("huge declared counts refused before unpacking");
    CHECK (CHECK_BYTES ("\xdd\xff\x00\x00\x00") == WIRE_MALFORMED, "dd ff 00 00 00");
    CHECK (s_error_starts ("array before byte 5 declares 4278190080 elements"), "error: %s", error);
    CHECK (CHECK_BYTES ("\xdf\xff\xff\xff\xff") == WIRE_MALFORMED, "df ff ff ff ff");
    CHECK (s_error_starts ("map"), "error: %s", error);
    CHECK (CHECK_BYTES ("\xdc\xff\xff") == WIRE_MALFORMED, "dc ff ff");
    CHECK (CHECK_BYTES ("\xde\xff\xff") == WIRE_MALFORMED, "de ff ff");
    CHECK (CHECK_BYTES ("\x9f\x01\x02") == WIRE_MALFORMED, "fixarray 15 with 2 bytes");
    CHECK (CHECK_BYTES ("\x82\xa1v\x01") == WIRE_MALFORMED, "map 2 needs 4 bytes, has 3");
    //  nested: the inner count is checked against what remains
    CHECK (CHECK_BYTES ("\x91\xdd\x00\x00\x10\x00\x01") == WIRE_MALFORMED, "inner huge array");
    //  nested counts add up: the outer array still expects 7 elements after
    //  the inner one, so the inner one cannot have 8 of the 14 bytes left
    //  (the doc's zone would hold both arrays before the end is reached)
    static const char promised [] = "\xdc\x00\x08\xdc\x00\x08\x01\x01\x01\x01\x01\x01\x01"
                                    "\x01\x01\x01\x01\x01\x01\x01";
    CHECK (wire_doc_new (promised, sizeof promised - 1, error, sizeof error) == NULL, "nested");
    CHECK (s_error_starts ("array before byte 6 declares 8 elements, only 7 bytes remain"),
           "error: %s", error);
    //  the elements read so far took five bytes each: the outer array still
    //  expects four more than the bytes left, and the last map's count must
    //  not be measured against a negative remainder (a 2^38-byte allocation
    //  under ASan, found by the fuzz corpus)
    static const char overdrawn [] = "\x97\xdf\x00\x00\x00\x00\xdf\x00\x00\x00\x00"
                                     "\xdf\x2b\x01\x73\xb5";
    CHECK (wire_doc_new (overdrawn, sizeof overdrawn - 1, error, sizeof error) == NULL
           && s_error_starts ("map before byte 16 declares"), "overdrawn: %s", error);
    CHECK (wire_doc_new ("\xdd\xff\x00\x00\x00", 5, error, sizeof error) == NULL, "doc");
    //  exactly enough bytes is fine
    CHECK (CHECK_BYTES ("\xdc\x00\x03\x01\x02\x03") == 0, "array16 of 3: %s", error);
    CHECK (CHECK_BYTES ("\xdf\x00\x00\x00\x01\xa1k\xc0") == 0, "map32 of 1: %s", error);
}

static void
test_map_keys (void)
{
    TEST ("non-string map keys refused");
    CHECK (CHECK_BYTES ("\x81\x01\x01") == WIRE_MALFORMED, "int key");
    CHECK (s_error_starts ("map key at byte 1 is not a string"), "error: %s", error);
    CHECK (CHECK_BYTES ("\x81\xc0\x01") == WIRE_MALFORMED, "nil key");
    CHECK (CHECK_BYTES ("\x81\x90\x01") == WIRE_MALFORMED, "array key");
    CHECK (CHECK_BYTES ("\x81\x80\x01") == WIRE_MALFORMED, "map key");
    CHECK (CHECK_BYTES ("\x82\xa1k\x01\xc3\x01") == WIRE_MALFORMED, "second key a bool");
    CHECK (CHECK_BYTES ("\x81\xa1k\x81\xa1" "a\x01") == 0, "string keys, nested: %s", error);
    CHECK (CHECK_BYTES ("\x81\xa1k\x81\x01\x01") == WIRE_MALFORMED, "nested int key");
    CHECK (CHECK_BYTES ("\x81\xa1k\x92\x01\x02") == 0, "array values are not keys: %s", error);
}

static void
test_utf8 (void)
{
    TEST ("invalid UTF-8 refused");
    const char *bad [] = {
        "\x80",                        //  lone continuation byte
        "\xc0\x80",                    //  overlong NUL
        "\xc1\xbf",                    //  overlong two bytes
        "\xe0\x80\xaf",                //  overlong three bytes
        "\xf0\x80\x80\xaf",            //  overlong four bytes
        "\xed\xa0\x80",                //  surrogate U+D800
        "\xed\xbf\xbf",                //  surrogate U+DFFF
        "\xf4\x90\x80\x80",            //  U+110000
        "\xf5\x80\x80\x80",            //  lead byte above F4
        "\xff",                        //  never in UTF-8
        "\xe2\x82",                    //  truncated sequence
        "a\xc3",                       //  truncated at the end
        "\xc3\x28",                    //  bad continuation
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        size_t length = strlen (bad [index]);
        unsigned char frame [16] = { (unsigned char) (0xa0 | length) };
        memcpy (frame + 1, bad [index], length);
        CHECK (wire_check (frame, length + 1, error, sizeof error) == WIRE_MALFORMED,
               "sequence %zu accepted", index);
        CHECK (!wire_utf8_valid (bad [index], length), "wire_utf8_valid %zu", index);
    }
    CHECK (CHECK_BYTES ("\xa1\x80") == WIRE_MALFORMED && s_error_starts ("string at byte 1 is not valid UTF-8"),
           "error: %s", error);
    CHECK (CHECK_BYTES ("\x81\xa2\xc0\x80\x01") == WIRE_MALFORMED, "bad key");
    const char *good = "a\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf";
    CHECK (wire_utf8_valid (good, strlen (good)), "é € 𝄞 U+D7FF U+E000 U+10FFFF");
    unsigned char frame [32] = { (unsigned char) (0xa0 | strlen (good)) };
    memcpy (frame + 1, good, strlen (good));
    CHECK (wire_check (frame, strlen (good) + 1, error, sizeof error) == 0, "good: %s", error);
    CHECK (wire_utf8_valid ("a\0b", 3), "NUL is UTF-8 (wire_get_string refuses it)");
}

static void
test_long_strings (void)
{
    TEST ("over-long strings refused");
    size_t size = WIRE_MAX_STRING + 1;
    unsigned char *frame = calloc (1, size + 8);
    frame [0] = 0xdb;
    frame [1] = (unsigned char) (size >> 24); frame [2] = (unsigned char) (size >> 16);
    frame [3] = (unsigned char) (size >> 8);  frame [4] = (unsigned char) size;
    memset (frame + 5, 'x', size);
    CHECK (wire_check (frame, size + 5, error, sizeof error) == WIRE_MALFORMED, "65537 bytes");
    CHECK (strstr (error, "longer than 65536 bytes") != NULL, "error: %s", error);
    frame [0] = 0xda;
    frame [1] = 0xff; frame [2] = 0xff;
    CHECK (wire_check (frame, 0xffff + 3, error, sizeof error) == 0, "65535 bytes: %s", error);
    free (frame);

    wire_writer_t writer;
    wire_writer_init (&writer);
    s_pack_alert_with (&writer, "summary", s_pack_1025);
    CHECK (s_decode (&writer) == WIRE_MALFORMED, "summary 1025");
    CHECK (strcmp (error, "alerts[0].summary: longer than 1024 bytes") == 0, "error: %s", error);
    s_pack_alert_with (&writer, "subject", s_pack_256);
    CHECK (s_decode (&writer) == WIRE_MALFORMED, "subject 256");
    CHECK (strcmp (error, "alerts[0].subject: longer than 255 bytes") == 0, "error: %s", error);
    s_pack_alert_with (&writer, "labels", s_pack_labels_33);
    CHECK (s_decode (&writer) == WIRE_MALFORMED, "33 labels");
    CHECK (strcmp (error, "alerts[0].labels: more than 32 labels") == 0, "error: %s", error);
    s_pack_alert_with (&writer, "labels", s_pack_label_key_65);
    CHECK (s_decode (&writer) == WIRE_MALFORMED, "label key 65");
    CHECK (s_error_starts ("alerts[0].labels: key 0: too long"), "error: %s", error);
    s_pack_alert_with (&writer, "labels", s_pack_label_value_257);
    CHECK (s_decode (&writer) == WIRE_MALFORMED, "label value 257");
    CHECK (s_error_starts ("alerts[0].labels.k: longer than 256"), "error: %s", error);

    //  a 256-byte id
    wire_writer_reset (&writer);
    msgpack_pack_map (&writer.packer, 2);
    wire_pack_key_int (&writer.packer, "v", 1);
    wire_pack_key (&writer.packer, "alerts");
    msgpack_pack_array (&writer.packer, 1);
    msgpack_pack_map (&writer.packer, 1);
    wire_pack_key (&writer.packer, "id");
    s_pack_string_of (&writer.packer, 256);
    CHECK (s_decode (&writer) == WIRE_MALFORMED, "id 256");
    CHECK (s_error_starts ("alerts[0].id: too long"), "error: %s", error);
    wire_writer_free (&writer);
}

//  One wrong-type case: key in the alert gets a value of the wrong type.
static void
s_wrong_type (wire_writer_t *writer, const char *key, s_pack_value_fn *pack_value,
              const char *expected)
{
    s_pack_alert_with (writer, key, pack_value);
    int rc = s_decode (writer);
    CHECK (rc == WIRE_MALFORMED, "%s accepted", key);
    CHECK (strcmp (error, expected) == 0, "%s: error \"%s\", expected \"%s\"", key, error, expected);
}

//  One wrong-type case at the top of the batch.
static void
s_wrong_top_type (wire_writer_t *writer, const char *key, s_pack_value_fn *pack_value,
                  const char *expected)
{
    wire_writer_reset (writer);
    msgpack_packer *packer = &writer->packer;
    msgpack_pack_map (packer, 3);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key (packer, key);
    pack_value (packer);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 1);
    msgpack_pack_map (packer, 1);
    wire_pack_key_string (packer, "id", "a");
    int rc = s_decode (writer);
    CHECK (rc == WIRE_MALFORMED, "%s accepted", key);
    CHECK (strcmp (error, expected) == 0, "%s: error \"%s\", expected \"%s\"", key, error, expected);
}

static void
test_wrong_types (void)
{
    TEST ("wrong types refused, per field, with the field named");
    wire_writer_t writer;
    wire_writer_init (&writer);
    s_wrong_top_type (&writer, "tx", s_pack_int, "tx: not a string");
    s_wrong_top_type (&writer, "tx", s_pack_empty,
                      "tx: empty (a name is 1..255 bytes of UTF-8 without control characters)");
    s_wrong_top_type (&writer, "source", s_pack_true, "source: not a string");
    s_wrong_top_type (&writer, "replace", s_pack_int, "replace: not a boolean");
    s_wrong_top_type (&writer, "sent", s_pack_junk, "sent: not an integer");
    s_wrong_top_type (&writer, "sent", s_pack_float, "sent: not an integer");
    s_wrong_top_type (&writer, "alerts", s_pack_map, "alerts: not an array");
    s_wrong_top_type (&writer, "alerts", s_pack_array, "alerts: empty");
    s_wrong_type (&writer, "id", s_pack_int, "alerts[0].id: not a string");
    s_wrong_type (&writer, "raise", s_pack_true,
                  "alerts[0].raise: not a time spec or seconds since the epoch");
    s_wrong_type (&writer, "raise", s_pack_junk, "alerts[0].raise: not a time spec");
    s_wrong_type (&writer, "raise", s_pack_zero,
                  "alerts[0].raise: not a time spec or seconds since the epoch");
    s_wrong_type (&writer, "raise", s_pack_negative,
                  "alerts[0].raise: not a time spec or seconds since the epoch");
    s_wrong_type (&writer, "clear", s_pack_array,
                  "alerts[0].clear: not a time spec or seconds since the epoch");
    s_wrong_type (&writer, "suppress", s_pack_float,
                  "alerts[0].suppress: not a time spec or seconds since the epoch");
    s_wrong_type (&writer, "subject", s_pack_int, "alerts[0].subject: not a string");
    s_wrong_type (&writer, "summary", s_pack_map, "alerts[0].summary: not a string");
    s_wrong_type (&writer, "detail", s_pack_true, "alerts[0].detail: not a string");
    s_wrong_type (&writer, "level", s_pack_int, "alerts[0].level: not a string");
    s_wrong_type (&writer, "level", s_pack_junk, "alerts[0].level: must be urgent, normal or low");
    s_wrong_type (&writer, "labels", s_pack_array, "alerts[0].labels: not a map");
    s_wrong_type (&writer, "labels", s_pack_label_int, "alerts[0].labels.k: not a string");
    s_wrong_type (&writer, "labels", s_pack_labels_repeat,
                  "alerts[0].labels: key 1 repeats an earlier key");

    //  an alert that is not a map, the id missing, the second alert bad
    wire_writer_reset (&writer);
    msgpack_packer *packer = &writer.packer;
    msgpack_pack_map (packer, 2);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 2);
    msgpack_pack_map (packer, 1);
    wire_pack_key_string (packer, "id", "ok");
    wire_pack_string (packer, "not a map");
    CHECK (s_decode (&writer) == WIRE_MALFORMED, "string alert");
    CHECK (strcmp (error, "alerts[1]: not a map") == 0, "error: %s", error);
    s_pack_alert_with (&writer, NULL, NULL);
    CHECK (s_decode (&writer) == 0, "just an id: %s", error);
    wire_writer_reset (&writer);
    msgpack_pack_map (packer, 2);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 1);
    msgpack_pack_map (packer, 1);
    wire_pack_key_string (packer, "raise", "now");
    CHECK (s_decode (&writer) == WIRE_MALFORMED, "no id");
    CHECK (strcmp (error, "alerts[0].id: missing") == 0, "error: %s", error);
    wire_writer_reset (&writer);
    msgpack_pack_map (packer, 1);
    wire_pack_key_int (packer, "v", 1);
    CHECK (s_decode (&writer) == WIRE_MALFORMED, "no alerts");
    CHECK (strcmp (error, "alerts: missing") == 0, "error: %s", error);
    wire_writer_free (&writer);
}

static void
test_version (void)
{
    TEST ("v missing, v=2, v not an integer, root not a map: refused");
    wire_doc_t *doc = wire_doc_new ("\x81\xa1w\x01", 4, error, sizeof error);
    CHECK (doc == NULL && strcmp (error, "v: missing") == 0, "missing: %s", error);
    doc = wire_doc_new ("\x81\xa1v\x02", 4, error, sizeof error);
    CHECK (doc == NULL && strcmp (error, "v: unsupported version 2") == 0, "v=2: %s", error);
    doc = wire_doc_new ("\x81\xa1v\xff", 4, error, sizeof error);
    CHECK (doc == NULL && strcmp (error, "v: unsupported version -1") == 0, "v=-1: %s", error);
    doc = wire_doc_new ("\x81\xa1v\xa1" "1", 5, error, sizeof error);
    CHECK (doc == NULL && strcmp (error, "v: not an integer") == 0, "v=\"1\": %s", error);
    doc = wire_doc_new ("\x91\x01", 2, error, sizeof error);
    CHECK (doc == NULL && strcmp (error, "frame is not a map") == 0, "array: %s", error);
    doc = wire_doc_new ("\x01", 1, error, sizeof error);
    CHECK (doc == NULL, "scalar root");
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    CHECK (wire_batch_decode ("\x81\xa1v\x02", 4, NOW_MS, &batch, error, sizeof error)
           == WIRE_MALFORMED, "batch v=2");
    wire_batch_free (&batch);
    doc = wire_doc_new ("\x81\xa1v\x01", 4, error, sizeof error);
    CHECK (doc != NULL, "v=1: %s", error);
    const msgpack_object *root = wire_doc_root (doc);
    CHECK (root && root->type == MSGPACK_OBJECT_MAP, "root is the map");
    wire_doc_destroy (&doc);
    CHECK (wire_doc_root (NULL) == NULL, "root of NULL");
}

static void
test_getters (void)
{
    TEST ("typed getters: present, absent, nil, limits");
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_packer *packer = &writer.packer;
    msgpack_pack_map (packer, 12);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key_string (packer, "name", "web1");
    wire_pack_key_string (packer, "nil", NULL);
    wire_pack_key_bool (packer, "flag", true);
    wire_pack_key_int (packer, "negative", -42);
    wire_pack_key (packer, "big");
    msgpack_pack_uint64 (packer, UINT64_MAX);
    wire_pack_key_string (packer, "soon", "+5m");
    wire_pack_key_string (packer, "clear", "clear");
    wire_pack_key_int (packer, "epoch", 1800000000);
    wire_pack_key (packer, "nul");
    msgpack_pack_str (packer, 3);
    msgpack_pack_str_body (packer, "a\0b", 3);
    wire_pack_key_string (packer, "control", "a\tb");
    wire_pack_key_string (packer, "c1", "a\xc2\x85");

    wire_doc_t *doc = wire_doc_new (writer.buffer.data, writer.buffer.size, error, sizeof error);
    if (!CHECK (doc != NULL, "doc: %s", error)) {
        wire_writer_free (&writer);
        return;
    }
    const msgpack_object *root = wire_doc_root (doc);
    char *text = NULL;
    CHECK (wire_get_string (root, "name", 10, &text, error, sizeof error) == 0
           && text && strcmp (text, "web1") == 0, "name");
    free (text);
    text = NULL;
    CHECK (wire_get_string (root, "name", 3, &text, error, sizeof error) == WIRE_MALFORMED
           && text == NULL, "limit");
    CHECK (strcmp (error, "name: longer than 3 bytes") == 0, "error: %s", error);
    CHECK (wire_get_string (root, "absent", 10, &text, error, sizeof error) == 0 && !text, "absent");
    CHECK (wire_get_string (root, "nil", 10, &text, error, sizeof error) == 0 && !text, "nil");
    CHECK (wire_get_string (root, "nul", 10, &text, error, sizeof error) == WIRE_MALFORMED,
           "NUL inside");
    CHECK (wire_get_name (root, "control", &text, error, sizeof error) == WIRE_MALFORMED,
           "tab in a name");
    CHECK (wire_get_name (root, "c1", &text, error, sizeof error) == WIRE_MALFORMED,
           "C1 control in a name");
    CHECK (wire_get_string (root, "control", 10, &text, error, sizeof error) == 0, "tab in text");
    free (text);

    bool present = true, flag = false;
    int64_t number = 0;
    CHECK (wire_get_bool (root, "flag", &present, &flag, error, sizeof error) == 0
           && present && flag, "flag");
    CHECK (wire_get_bool (root, "absent", &present, &flag, error, sizeof error) == 0
           && !present && flag, "absent bool untouched");
    CHECK (wire_get_int (root, "negative", &present, &number, error, sizeof error) == 0
           && present && number == -42, "negative");
    CHECK (wire_get_int (root, "big", &present, &number, error, sizeof error) == WIRE_MALFORMED,
           "uint64 max is out of range");
    CHECK (wire_get_int (root, "name", &present, &number, error, sizeof error) == WIRE_MALFORMED,
           "string as int");
    CHECK (wire_get_int (root, "nil", &present, &number, error, sizeof error) == 0 && !present,
           "nil int is absent");

    int64_t when = 0;
    bool is_clear = true;
    CHECK (wire_get_time (root, "soon", NOW_MS, &present, &when, &is_clear, error, sizeof error) == 0
           && present && when == NOW_MS + 300000 && !is_clear, "+5m: %" PRId64, when);
    CHECK (wire_get_time (root, "clear", NOW_MS, &present, &when, &is_clear, error, sizeof error) == 0
           && present && when == NOW_MS && is_clear, "clear");
    CHECK (wire_get_time (root, "epoch", NOW_MS, &present, &when, &is_clear, error, sizeof error) == 0
           && when == INT64_C(1800000000000) && !is_clear, "seconds → ms");
    CHECK (wire_get_time (root, "big", NOW_MS, &present, &when, &is_clear, error, sizeof error)
           == WIRE_MALFORMED, "seconds overflow");
    CHECK (wire_get_time (root, "name", NOW_MS, &present, &when, &is_clear, error, sizeof error)
           == WIRE_MALFORMED && strcmp (error, "name: not a time spec") == 0, "error: %s", error);
    CHECK (wire_get (root, "nil") != NULL && wire_get (root, "missing") == NULL, "wire_get");
    CHECK (wire_get (NULL, "v") == NULL && wire_get (&root->via.map.ptr [0].val, "v") == NULL,
           "wire_get on a non-map");
    wire_doc_destroy (&doc);

    CHECK (wire_name_valid ("disk-space-/") && wire_name_valid ("web1.example.com"), "names");
    CHECK (!wire_name_valid ("") && !wire_name_valid (NULL) && !wire_name_valid ("a\nb"),
           "bad names");
    char long_name [WIRE_MAX_NAME + 2];
    memset (long_name, 'n', sizeof long_name);
    long_name [WIRE_MAX_NAME] = 0;
    CHECK (wire_name_valid (long_name), "255 bytes");
    long_name [WIRE_MAX_NAME] = 'n';
    long_name [WIRE_MAX_NAME + 1] = 0;
    CHECK (!wire_name_valid (long_name), "256 bytes");
    wire_writer_free (&writer);
}

static void
test_batch_round_trip (void)
{
    TEST ("batch packed with msgpack-c decodes field by field");
    wire_writer_t writer;
    wire_writer_init (&writer);
    s_pack_full_batch (&writer);
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    int rc = wire_batch_decode (writer.buffer.data, writer.buffer.size, NOW_MS,
                                &batch, error, sizeof error);
    wire_writer_free (&writer);
    if (!CHECK (rc == 0, "decode: %s", error))
        return;
    CHECK (batch.tx && strcmp (batch.tx, "tx-123") == 0, "tx");
    CHECK (batch.source && strcmp (batch.source, "web1.example.com") == 0, "source");
    CHECK (batch.replace, "replace");
    CHECK (batch.sent == NOW_MS - 5, "sent");
    CHECK (batch.event_count == 3, "3 events");
    if (batch.event_count == 3) {
        wire_event_t *event = &batch.events [0];
        CHECK (strcmp (event->id, "heartbeat") == 0, "id");
        CHECK (event->has_raise && !event->raise_clear && event->raise_at == NOW_MS + 300000, "raise");
        CHECK (event->has_clear && event->clear_at == INT64_C(1800000000000), "clear");
        CHECK (event->has_suppress && event->suppress_until == NOW_MS + 3600000, "suppress");
        CHECK (event->subject && strcmp (event->subject, "web1") == 0, "subject");
        CHECK (event->summary && strcmp (event->summary, "web1 stopped sending heartbeats") == 0,
               "summary");
        CHECK (event->detail && strcmp (event->detail, "line 1\nline 2 é") == 0, "detail");
        CHECK (event->level == LEVEL_URGENT, "level");
        CHECK (event->has_labels && event->label_count == 2, "labels");
        if (event->label_count == 2)
            CHECK (strcmp (event->labels [0].key, "team") == 0
                   && strcmp (event->labels [0].value, "ops") == 0
                   && strcmp (event->labels [1].key, "dc") == 0
                   && strcmp (event->labels [1].value, "") == 0, "label pairs");

        event = &batch.events [1];
        CHECK (strcmp (event->id, "disk-space-/") == 0, "id 2");
        CHECK (event->has_raise && event->raise_clear && event->raise_at == NOW_MS, "raise clear");
        CHECK (!event->has_clear && !event->has_suppress, "no clear, suppress");
        CHECK (event->has_labels && event->label_count == 0 && event->labels == NULL,
               "empty labels given");
        CHECK (event->level == -1, "level absent");

        event = &batch.events [2];
        CHECK (!event->has_raise && !event->has_labels && event->subject == NULL
               && event->summary == NULL && event->detail == NULL, "plain alert");
    }
    wire_batch_free (&batch);
    CHECK (batch.events == NULL && batch.tx == NULL && batch.event_count == 0, "freed and zeroed");
    wire_batch_free (&batch);
    wire_batch_free (NULL);
}

static void
test_batch_failure_leaves_nothing (void)
{
    TEST ("batch failure leaves nothing allocated");
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_packer *packer = &writer.packer;
    msgpack_pack_map (packer, 4);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key_string (packer, "tx", "t1");
    wire_pack_key_string (packer, "source", "s1");
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 4);
    for (int index = 0; index < 3; index++) {
        msgpack_pack_map (packer, 3);
        wire_pack_key_string (packer, "id", "good");
        wire_pack_key_string (packer, "summary", "held in memory");
        wire_pack_key (packer, "labels");
        msgpack_pack_map (packer, 1);
        wire_pack_key_string (packer, "k", "v");
    }
    msgpack_pack_map (packer, 2);
    wire_pack_key_string (packer, "id", "bad");
    wire_pack_key_string (packer, "raise", "+5 minutes");
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    int rc = wire_batch_decode (writer.buffer.data, writer.buffer.size, NOW_MS,
                                &batch, error, sizeof error);
    CHECK (rc == WIRE_MALFORMED, "refused");
    CHECK (strcmp (error, "alerts[3].raise: not a time spec") == 0, "error: %s", error);
    CHECK (batch.events == NULL && batch.event_count == 0 && batch.tx == NULL
           && batch.source == NULL, "batch holds nothing");
    wire_batch_free (&batch);
    wire_writer_free (&writer);
}

static void
test_batch_limits (void)
{
    TEST ("batch of WIRE_MAX_BATCH accepted, one more refused");
    wire_writer_t writer;
    wire_writer_init (&writer);
    for (int extra = 0; extra <= 1; extra++) {
        wire_writer_reset (&writer);
        msgpack_pack_map (&writer.packer, 2);
        wire_pack_key_int (&writer.packer, "v", 1);
        wire_pack_key (&writer.packer, "alerts");
        msgpack_pack_array (&writer.packer, WIRE_MAX_BATCH + extra);
        for (int index = 0; index < WIRE_MAX_BATCH + extra; index++) {
            msgpack_pack_map (&writer.packer, 1);
            wire_pack_key_string (&writer.packer, "id", "x");
        }
        int rc = s_decode (&writer);
        if (extra)
            CHECK (rc == WIRE_MALFORMED && strcmp (error, "alerts: more than 10000 alerts") == 0,
                   "10001: %s", error);
        else
            CHECK (rc == 0, "10000: %s", error);
    }
    wire_writer_free (&writer);
}

static void
test_writer (void)
{
    TEST ("writer: reset keeps memory, NULL packs nil, free twice is safe");
    wire_writer_t writer;
    wire_writer_init (&writer);
    wire_pack_string (&writer.packer, NULL);
    wire_pack_key_string (&writer.packer, "k", NULL);
    CHECK (writer.buffer.size == 4
           && memcmp (writer.buffer.data, "\xc0\xa1k\xc0", 4) == 0, "nil packed");
    wire_writer_reset (&writer);
    CHECK (writer.buffer.size == 0, "reset");
    wire_pack_key_int (&writer.packer, "n", -1);
    wire_pack_key_bool (&writer.packer, "b", true);
    CHECK (writer.buffer.size == 6
           && memcmp (writer.buffer.data, "\xa1n\xff\xa1" "b\xc3", 6) == 0, "int and bool");
    wire_writer_free (&writer);
    wire_writer_free (&writer);
}

//  xorshift64*: a fixed seed so a failure can be replayed.
static uint64_t
s_random (uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * UINT64_C(2685821657736338717);
}

//  One ingest frame per way its keys can come: fuzz_ingest aborts if
//  wire_batch_decode's fast path and its reference reading disagree.
static void
s_pack_tricky_frame (msgpack_packer *packer, int shape)
{
    msgpack_pack_map (packer, shape == 0 ? 4 : shape == 4 ? 3 : 4);
    if (shape == 4) {
        //  the version twice: the first counts
        wire_pack_key_int (packer, "v", 1);
        wire_pack_key_int (packer, "v", 7);
        wire_pack_key (packer, "alerts");
        msgpack_pack_array (packer, 1);
        msgpack_pack_map (packer, 1);
        wire_pack_key_string (packer, "id", "x");
        return;
    }
    if (shape == 0) {
        //  alerts first, repeated keys in the event (the first counts), and
        //  keys nobody reads holding containers
        wire_pack_key (packer, "alerts");
        msgpack_pack_array (packer, 1);
        msgpack_pack_map (packer, 5);
        wire_pack_key_string (packer, "id", "first");
        wire_pack_key_string (packer, "id", "second");         //  ignored
        wire_pack_key (packer, "raise");
        msgpack_pack_nil (packer);                              //  absent, and stays so
        wire_pack_key_string (packer, "raise", "+1m");         //  ignored
        wire_pack_key (packer, "extra");
        msgpack_pack_array (packer, 2);
        msgpack_pack_map (packer, 1);
        wire_pack_key_int (packer, "deep", 1);
        msgpack_pack_array (packer, 0);
        wire_pack_key_int (packer, "v", 1);
        wire_pack_key (packer, "other");
        msgpack_pack_map (packer, 1);
        wire_pack_key_string (packer, "k", "v");
        wire_pack_key_string (packer, "source", "web2");
        return;
    }
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key (packer, "source");
    if (shape == 1)
        msgpack_pack_nil (packer);                              //  accepted: no source
    else
        msgpack_pack_array (packer, 0);                         //  refused: not a string
    wire_pack_key_int (packer, "sent", shape == 3 ? -1 : 5);    //  refused when negative
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 2);
    for (int index = 0; index < 2; index++) {
        msgpack_pack_map (packer, 3);
        wire_pack_key_string (packer, "id", index ? "b" : "a");
        wire_pack_key_string (packer, "level", "low");
        wire_pack_key (packer, "labels");
        if (index)
            msgpack_pack_nil (packer);
        else {
            msgpack_pack_map (packer, 2);
            wire_pack_key_string (packer, "x", "1");
            wire_pack_key_string (packer, "y", "2");
        }
    }
}

static void
test_fast_path_agrees (void)
{
    TEST ("the ingest fast path and the reference reading agree, keys in any order");
    for (int shape = 0; shape < 5; shape++) {
        wire_writer_t writer;
        wire_writer_init (&writer);
        s_pack_tricky_frame (&writer.packer, shape);
        wire_batch_t batch = WIRE_BATCH_EMPTY;
        int rc = wire_batch_decode (writer.buffer.data, writer.buffer.size, NOW_MS, &batch,
                                    error, sizeof error);
        CHECK ((rc == 0) == (shape < 2 || shape == 4), "shape %d: rc %d (%s)", shape, rc, error);
        if (shape == 0 && rc == 0)
            CHECK (batch.event_count == 1 && strcmp (batch.events [0].id, "first") == 0
                   && !batch.events [0].has_raise && strcmp (batch.source, "web2") == 0,
                   "the first of repeated keys counts, nil is absent");
        wire_batch_free (&batch);
        fuzz_ingest ((const uint8_t *) writer.buffer.data, writer.buffer.size);
        wire_writer_free (&writer);
    }
    wire_writer_t writer;
    wire_writer_init (&writer);
    s_pack_full_batch (&writer);
    fuzz_ingest ((const uint8_t *) writer.buffer.data, writer.buffer.size);
    msgpack_pack_nil (&writer.packer);      //  a byte after the frame
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    CHECK (wire_batch_decode (writer.buffer.data, writer.buffer.size, NOW_MS, &batch,
                              error, sizeof error) == WIRE_MALFORMED
           && s_error_starts ("1 trailing bytes"), "a trailing byte: %s", error);
    wire_batch_free (&batch);
    fuzz_ingest ((const uint8_t *) writer.buffer.data, writer.buffer.size);
    wire_writer_free (&writer);
}

//  Keys one byte off a field's name, one byte longer or shorter, and
//  eight and nine bytes long, across the lengths a key compare taken a
//  word at a time would split at (the fast path compares bytes now; the
//  case stays for whichever compare it uses); the frame's last key ("v")
//  has fewer than eight bytes after it.
static void
test_fast_path_near_keys (void)
{
    TEST ("the ingest fast path tells keys from names one byte off, at any length");
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_packer *packer = &writer.packer;
    msgpack_pack_map (packer, 5);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 1);
    msgpack_pack_map (packer, 8);
    wire_pack_key_string (packer, "idd", "x");
    wire_pack_key_string (packer, "i", "y");
    wire_pack_key_string (packer, "Id", "z");
    wire_pack_key_string (packer, "id", "real");
    wire_pack_key_string (packer, "suppresss", "+1m");
    wire_pack_key_string (packer, "suppress", "+2m");
    wire_pack_key_string (packer, "raisE", "+9m");
    wire_pack_key_string (packer, "raise", "+5m");
    wire_pack_key_string (packer, "sourcee", "wrong");
    wire_pack_key_string (packer, "source", "web3");
    wire_pack_key_string (packer, "sourc", "wrong");
    wire_pack_key_int (packer, "v", 1);
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    int rc = wire_batch_decode (writer.buffer.data, writer.buffer.size, NOW_MS, &batch,
                                error, sizeof error);
    const wire_event_t *event = rc == 0 && batch.event_count == 1 ? &batch.events [0] : NULL;
    CHECK (event && strcmp (event->id, "real") == 0 && strcmp (batch.source, "web3") == 0
           && event->has_suppress && event->suppress_until == NOW_MS + 120000
           && event->has_raise && event->raise_at == NOW_MS + 300000,
           "rc %d (%s): the near keys were taken for fields", rc, error);
    wire_batch_free (&batch);
    fuzz_ingest ((const uint8_t *) writer.buffer.data, writer.buffer.size);
    wire_writer_free (&writer);
}

static void
test_random_frames (void)
{
    TEST ("20,000 random and mutated frames never crash");
    uint64_t state = UINT64_C(0x6c696c6163);    //  "lilac"
    wire_writer_t writer;
    wire_writer_init (&writer);
    s_pack_full_batch (&writer);
    size_t template_size = writer.buffer.size;
    unsigned char frame [512];
    int accepted = 0, batches = 0;
    for (int round = 0; round < 20000; round++) {
        size_t size;
        if (round % 2 == 0) {
            //  random bytes, biased toward the interesting header bytes
            size = s_random (&state) % 64;
            for (size_t index = 0; index < size; index++) {
                uint64_t value = s_random (&state);
                frame [index] = (value & 0x300) == 0 ? (unsigned char) (0x80 | (value & 0x1f))
                                                      : (unsigned char) value;
            }
        }
        else {
            //  a real frame with a few bytes changed and maybe cut short
            size = template_size <= sizeof frame ? template_size : sizeof frame;
            memcpy (frame, writer.buffer.data, size);
            int changes = 1 + (int) (s_random (&state) % 4);
            for (int change = 0; change < changes; change++)
                frame [s_random (&state) % size] = (unsigned char) s_random (&state);
            if (s_random (&state) % 4 == 0)
                size = s_random (&state) % size;
        }
        if (wire_check (frame, size, error, sizeof error) == 0)
            accepted++;
        wire_doc_t *doc = wire_doc_new (frame, size, error, sizeof error);
        if (doc) {
            char *json = json_text_from_msgpack (wire_doc_root (doc));
            free (json);
        }
        wire_doc_destroy (&doc);
        wire_batch_t batch = WIRE_BATCH_EMPTY;
        if (wire_batch_decode (frame, size, NOW_MS, &batch, error, sizeof error) == 0)
            batches++;
        wire_batch_free (&batch);
        fuzz_ingest (frame, size);          //  the fast path agrees with the reference
    }
    printf ("#   random frames: %d structurally valid, %d decoded as batches\n", accepted, batches);
    CHECK (accepted > 0, "some frames should pass wire_check");
    wire_writer_free (&writer);
}

//  wire_doc_new's own unpacker against msgpack-c's on the same bytes, types
//  included. (The fuzz targets compare the two on every corpus file.)
static bool
s_same_as_msgpack_c (const void *data, size_t size)
{
    wire_doc_t *doc = wire_doc_new (data, size, error, sizeof error);
    if (!doc)
        return false;
    msgpack_unpacked reference;
    msgpack_unpacked_init (&reference);
    size_t offset = 0;
    bool same = msgpack_unpack_next (&reference, data, size, &offset) == MSGPACK_UNPACK_SUCCESS
             && msgpack_object_equal (*wire_doc_root (doc), reference.data);
    msgpack_unpacked_destroy (&reference);
    wire_doc_destroy (&doc);
    return same;
}

static void
test_unpack_matches_msgpack_c (void)
{
    TEST ("every scalar width, float and container unpacks as msgpack-c unpacks it");
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_packer *packer = &writer.packer;
    msgpack_pack_map (packer, 2);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key (packer, "values");
    msgpack_pack_array (packer, 39);
    msgpack_pack_uint8 (packer, 200);   msgpack_pack_uint16 (packer, 65535);
    msgpack_pack_uint32 (packer, 4000000000U); msgpack_pack_uint64 (packer, UINT64_MAX);
    msgpack_pack_int8 (packer, -128);   msgpack_pack_int8 (packer, 100);
    msgpack_pack_int16 (packer, -32768); msgpack_pack_int16 (packer, 300);
    msgpack_pack_int32 (packer, INT32_MIN); msgpack_pack_int32 (packer, 70000);
    msgpack_pack_int64 (packer, INT64_MIN); msgpack_pack_int64 (packer, INT64_MAX);
    msgpack_pack_int64 (packer, -1);    msgpack_pack_int (packer, -32);
    msgpack_pack_int (packer, -33);     msgpack_pack_int (packer, 127);
    msgpack_pack_float (packer, 1.5f);  msgpack_pack_double (packer, -2.25);
    msgpack_pack_nil (packer);          msgpack_pack_true (packer);
    msgpack_pack_false (packer);        wire_pack_string (packer, "");
    char text [300];
    memset (text, 'x', sizeof text - 1);
    text [sizeof text - 1] = 0;
    int lengths [] = { 31, 32, 255, 256, 299 };
    for (size_t index = 0; index < 5; index++) {
        text [lengths [index]] = 0;
        wire_pack_string (packer, text);
        text [lengths [index]] = 'x';
    }
    msgpack_pack_array (packer, 0);     msgpack_pack_map (packer, 0);
    msgpack_pack_array (packer, 16);
    for (int index = 0; index < 16; index++)
        msgpack_pack_int (packer, index);
    msgpack_pack_map (packer, 1);
    wire_pack_key_string (packer, "k", "é");
    for (int index = 0; index < 8; index++)
        msgpack_pack_uint64 (packer, (uint64_t) 1 << (index * 8));
    CHECK (s_same_as_msgpack_c (writer.buffer.data, writer.buffer.size),
           "the crafted document unpacks differently");
    wire_writer_free (&writer);
}

int
main (void)
{
    test_unpack_matches_msgpack_c ();
    test_empty_frame ();
    test_truncated ();
    test_trailing ();
    test_ext ();
    test_bin ();
    test_reserved ();
    test_nesting ();
    test_huge_counts ();
    test_map_keys ();
    test_utf8 ();
    test_long_strings ();
    test_wrong_types ();
    test_version ();
    test_getters ();
    test_batch_round_trip ();
    test_batch_failure_leaves_nothing ();
    test_batch_limits ();
    test_writer ();
    test_fast_path_agrees ();
    test_fast_path_near_keys ();
    test_random_frames ();
    return check_done ();
}
