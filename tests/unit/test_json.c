/*  test_json.c — proto/json.c: msgpack rendered as JSON text (what `lilac`
    and `lilac tap` print), and JSON objects read from outside with their
    typed getters (Pushover's answers).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../check.h"
#include "json.h"
#include "wire.h"

//  Renders the one msgpack value packed in writer; a fresh string or NULL.
static char *
s_render (wire_writer_t *writer)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    char *json = NULL;
    if (msgpack_unpack_next (&unpacked, writer->buffer.data, writer->buffer.size, NULL)
        == MSGPACK_UNPACK_SUCCESS)
        json = json_text_from_msgpack (&unpacked.data);
    msgpack_unpacked_destroy (&unpacked);
    return json;
}

static void
test_values (void)
{
    TEST ("msgpack to JSON: escaping and values, keys in their order");
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_packer *packer = &writer.packer;
    msgpack_pack_map (packer, 10);
    wire_pack_key_string (packer, "s", "q\"b\\n\nt\tc\x01\x1f" "d\x7f" "é€/");
    wire_pack_key_int (packer, "neg", -5);
    wire_pack_key (packer, "big");
    msgpack_pack_uint64 (packer, UINT64_MAX);
    wire_pack_key (packer, "f");
    msgpack_pack_double (packer, 0.1);
    wire_pack_key (packer, "nan");
    msgpack_pack_double (packer, NAN);
    wire_pack_key (packer, "inf");
    msgpack_pack_float (packer, -INFINITY);
    wire_pack_key_string (packer, "nil", NULL);
    wire_pack_key_bool (packer, "b", false);
    wire_pack_key (packer, "a");
    msgpack_pack_array (packer, 3);
    msgpack_pack_int (packer, 1);
    msgpack_pack_map (packer, 0);
    msgpack_pack_array (packer, 0);
    wire_pack_key (packer, "k\"ey");
    msgpack_pack_true (packer);
    char *json = s_render (&writer);
    //  jansson: \u00XX in capitals, DEL as it is, U+FFFD and the rest as
    //  UTF-8; a uint64 above INT64_MAX is the nearest real.
    const char *expected =
        "{\"s\":\"q\\\"b\\\\n\\nt\\tc\\u0001\\u001Fd\x7f" "é€/\",\"neg\":-5,"
        "\"big\":1.8446744073709552e19,\"f\":0.10000000000000001,\"nan\":null,\"inf\":null,"
        "\"nil\":null,\"b\":false,\"a\":[1,{},[]],\"k\\\"ey\":true}";
    CHECK (json && strcmp (json, expected) == 0, "got      %s\n#   expected %s", json, expected);
    free (json);
    wire_writer_free (&writer);

    json = json_text_from_msgpack (NULL);
    CHECK (json && strcmp (json, "null") == 0, "NULL object: %s", json);
    free (json);
    CHECK (json_text (NULL) == NULL, "json_text (NULL) is NULL");
}

static void
test_odd_msgpack (void)
{
    TEST ("msgpack to JSON: non-string keys, bin, ext, bad UTF-8, duplicates, depth");
    //  non-string keys and bytes that are not UTF-8 still make valid JSON
    msgpack_object seven = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 7 };
    msgpack_object bad = { .type = MSGPACK_OBJECT_STR, .via.str = { .size = 3, .ptr = "a\xff" "b" } };
    msgpack_object one = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1 };
    msgpack_object list = { .type = MSGPACK_OBJECT_ARRAY, .via.array = { .size = 1, .ptr = &one } };
    msgpack_object bin = { .type = MSGPACK_OBJECT_BIN, .via.bin = { .size = 4, .ptr = "b\0\xc0x" } };
    msgpack_object ext = { .type = MSGPACK_OBJECT_EXT, .via.ext = { .type = 1, .size = 1, .ptr = "e" } };
    msgpack_object bad_key = { .type = MSGPACK_OBJECT_STR, .via.str = { .size = 2, .ptr = "k\xfe" } };
    msgpack_object key_x = { .type = MSGPACK_OBJECT_STR, .via.str = { .size = 1, .ptr = "x" } };
    msgpack_object nul_key = { .type = MSGPACK_OBJECT_STR, .via.str = { .size = 2, .ptr = "n\0" } };
    msgpack_object_kv pairs [] = {
        { seven, bad }, { list, bin }, { bad_key, ext }, { key_x, one }, { key_x, seven },
        { nul_key, one },
    };
    msgpack_object map = { .type = MSGPACK_OBJECT_MAP,
                           .via.map = { .size = 6, .ptr = pairs } };
    char *json = json_text_from_msgpack (&map);
    const char *expected = "{\"7\":\"a\xEF\xBF\xBD" "b\",\"[1]\":\"b\\u0000\xEF\xBF\xBD" "x\","
                           "\"k\xEF\xBF\xBD\":null,\"x\":7,\"n\xEF\xBF\xBD\":1}";
    CHECK (json && strcmp (json, expected) == 0, "got      %s\n#   expected %s", json, expected);
    //  and jansson reads it back (NUL kept in values only)
    json_t *back = json ? json_loads (json, JSON_ALLOW_NUL, NULL) : NULL;
    CHECK (back != NULL, "reads back");
    json_decref (back);
    free (json);

    //  JSON_MSGPACK_DEPTH arrays deep are kept; one more level is null.
    msgpack_object nested [JSON_MSGPACK_DEPTH + 1];
    for (int index = 0; index < JSON_MSGPACK_DEPTH + 1; index++) {
        nested [index].type = MSGPACK_OBJECT_ARRAY;
        nested [index].via.array.size = index < JSON_MSGPACK_DEPTH ? 1 : 0;
        nested [index].via.array.ptr = index < JSON_MSGPACK_DEPTH ? &nested [index + 1] : NULL;
    }
    json = json_text_from_msgpack (&nested [0]);
    size_t opens = 0;
    for (const char *at = json; at && *at; at++)
        opens += *at == '[';
    CHECK (json && opens == JSON_MSGPACK_DEPTH && strstr (json, "[null]"),
           "%zu levels: %s", opens, json);
    free (json);
}

static void
test_read_object (void)
{
    TEST ("reading: objects only, bounded, strict");
    char error [128];
    const char *text = "{\"status\":1,\"request\":\"req-1\"}";
    json_t *object = json_read_object (text, strlen (text), 1024, error, sizeof error);
    CHECK (object != NULL, "read: %s", error);
    json_decref (object);
    CHECK (!json_read_object (text, strlen (text), 10, error, sizeof error)
           && strstr (error, "too large"), "size limit: %s", error);
    CHECK (!json_read_object (text, strlen (text) - 1, 1024, error, sizeof error),
           "cut short");
    CHECK (!json_read_object ("[1]", 3, 1024, error, sizeof error)
           && strcmp (error, "not an object") == 0, "array: %s", error);
    CHECK (!json_read_object ("{\"a\":1,\"a\":2}", 13, 1024, error, sizeof error),
           "duplicate keys refused");
    CHECK (!json_read_object ("{} x", 4, 1024, error, sizeof error), "trailing bytes");
    CHECK (!json_read_object ("{\"a\":\"\\u0000\"}", 14, 1024, error, sizeof error),
           "NUL in a string refused");
    CHECK (!json_read_object ("<html>server error</html>", 25, 1024, error, sizeof error),
           "HTML");
    CHECK (!json_read_object ("", 0, 1024, error, sizeof error), "empty");
    //  deeper than jansson's parser allows: an error, not a crash
    char deep [5000];
    memset (deep, '[', sizeof deep);
    CHECK (!json_read_object (deep, sizeof deep, sizeof deep, error, sizeof error), "deep");
}

static void
test_getters (void)
{
    TEST ("reading: typed getters");
    const char *text = "{\"n\":12,\"t\":true,\"f\":false,\"d\":\"-34\",\"x\":\"3x\",\"r\":1.5,"
                       "\"s\":\"h\\u00e9llo\",\"e\":[\"one\",2,\"two\"],\"big\":99999999999999999999}";
    char error [128];
    json_t *object = json_read_object (text, strlen (text), 1024, error, sizeof error);
    CHECK (!object, "an integer beyond int64 is refused by jansson: %s", error);
    text = "{\"n\":12,\"t\":true,\"f\":false,\"d\":\"-34\",\"x\":\"3x\",\"r\":1.5,"
           "\"s\":\"h\\u00e9llo\",\"e\":[\"one\",2,\"two\"],\"sp\":\" 5\"}";
    object = json_read_object (text, strlen (text), 1024, error, sizeof error);
    CHECK (object != NULL, "read: %s", error);
    int64_t value = -1;
    CHECK (json_get_int (object, "n", &value) == 0 && value == 12, "n %lld", (long long) value);
    CHECK (json_get_int (object, "t", &value) == 0 && value == 1, "true");
    CHECK (json_get_int (object, "f", &value) == 0 && value == 0, "false");
    CHECK (json_get_int (object, "d", &value) == 0 && value == -34, "decimal string");
    value = 99;
    CHECK (json_get_int (object, "x", &value) == -1 && value == 99, "3x is no integer");
    CHECK (json_get_int (object, "sp", &value) == -1, "leading space is no integer");
    CHECK (json_get_int (object, "r", &value) == -1, "a real is no integer");
    CHECK (json_get_int (object, "missing", &value) == -1, "absent");
    CHECK (json_get_int (NULL, "n", &value) == -1, "NULL object");

    char out [8];
    CHECK (json_get_string (object, "s", out, sizeof out, false) == 0
           && strcmp (out, "h\xC3\xA9llo") == 0, "unescaped: %s", out);
    char small [3];
    CHECK (json_get_string (object, "s", small, sizeof small, true) == 0
           && strcmp (small, "h") == 0, "cut at a character boundary: '%s'", small);
    CHECK (json_get_string (object, "s", small, sizeof small, false) == -1,
           "too long and not cut: absent");
    CHECK (json_get_string (object, "n", out, sizeof out, true) == -1, "not a string");
    char joined [64];
    CHECK (json_get_strings (object, "e", "; ", joined, sizeof joined) == 0
           && strcmp (joined, "one; two") == 0, "joined: %s", joined);
    char short_join [6];
    CHECK (json_get_strings (object, "e", "; ", short_join, sizeof short_join) == 0
           && strcmp (short_join, "one; ") == 0, "cut: '%s'", short_join);
    CHECK (json_get_strings (object, "s", "; ", joined, sizeof joined) == -1, "not an array");
    json_decref (object);
}

int
main (void)
{
    test_values ();
    test_odd_msgpack ();
    test_read_object ();
    test_getters ();
    return check_done ();
}
