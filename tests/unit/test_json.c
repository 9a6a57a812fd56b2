/*  test_json.c — proto/json.c: msgpack rendered as JSON text (what `lilac`
    and `lilac tap` print), and JSON objects read from outside with their
    typed getters (Pushover's answers). The text written without a tree
    is checked against the tree's dump on random objects.
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

static uint64_t s_seed = 0x9e3779b97f4a7c15ULL;

//  A pseudo-random number below bound (xorshift64*): the same run each time.
static uint32_t
s_random (uint32_t bound)
{
    s_seed ^= s_seed >> 12;
    s_seed ^= s_seed << 25;
    s_seed ^= s_seed >> 27;
    return (uint32_t) ((s_seed * 2685821657736338717ULL) >> 33) % bound;
}

//  Random bytes from pieces that matter to JSON: plain text, quotes and
//  backslashes, control characters, NUL, UTF-8 of 2 to 4 bytes, and now
//  and then a byte that is not UTF-8.
static void
s_pack_random_text (msgpack_packer *packer, bool bin, bool broken)
{
    static const char *const pieces [] = {
        "a", "key", "\"", "\\", "/", "\n", "\t", "\b", "\f", "\r", "\x01", "\x1f", "\x7f",
        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbd", " ", "{}",
    };
    char text [64];
    size_t size = 0;
    for (uint32_t count = s_random (5); count > 0; count--) {
        const char *piece = pieces [s_random (sizeof pieces / sizeof pieces [0])];
        memcpy (text + size, piece, strlen (piece));
        size += strlen (piece);
    }
    if (broken && s_random (4) == 0)
        text [size++] = s_random (2) ? (char) 0xff : '\0';
    if (bin) {
        msgpack_pack_bin (packer, size);
        msgpack_pack_bin_body (packer, text, size);
    }
    else {
        msgpack_pack_str (packer, size);
        msgpack_pack_str_body (packer, text, size);
    }
}

static void
s_pack_random (msgpack_packer *packer, int depth)
{
    switch (s_random (depth > 6 ? 8 : 10)) {
        case 0: msgpack_pack_nil (packer); break;
        case 1: s_random (2) ? msgpack_pack_true (packer) : msgpack_pack_false (packer); break;
        case 2: msgpack_pack_int64 (packer, (int64_t) s_random (1000) - 500); break;
        case 3: msgpack_pack_uint64 (packer, s_random (8) ? s_random (100000)
                                             : UINT64_MAX - s_random (10)); break;
        case 4: msgpack_pack_int64 (packer, s_random (2) ? INT64_MIN : INT64_MAX); break;
        case 5: s_pack_random_text (packer, s_random (8) == 0, true); break;
        case 6: s_random (30) ? s_pack_random_text (packer, false, false)
                              : msgpack_pack_double (packer, 0.5); break;
        case 7: s_random (40) ? msgpack_pack_str (packer, 0)
                              : msgpack_pack_ext (packer, 0, 1); break;
        case 8: {
            uint32_t count = s_random (4);
            msgpack_pack_array (packer, count);
            while (count--)
                s_pack_random (packer, depth + 1);
            break;
        }
        default: {
            uint32_t count = s_random (5);
            msgpack_pack_map (packer, count);
            while (count--) {
                if (s_random (25) == 0)
                    msgpack_pack_int (packer, (int) s_random (3));
                else
                    s_pack_random_text (packer, s_random (10) == 0, s_random (10) == 0);
                s_pack_random (packer, depth + 1);
            }
        }
    }
}

static void
test_direct_text (void)
{
    TEST ("msgpack to JSON without the tree: the same text as the tree's dump");
    wire_writer_t writer;
    wire_writer_init (&writer);
    int differ = 0, compared = 0;
    for (int round = 0; round < 20000; round++) {
        wire_writer_reset (&writer);
        s_pack_random (&writer.packer, 0);
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        if (msgpack_unpack_next (&unpacked, writer.buffer.data, writer.buffer.size, NULL)
            == MSGPACK_UNPACK_SUCCESS) {
            json_t *tree = json_from_msgpack (&unpacked.data);
            char *dumped = json_text (tree), *written = json_text_from_msgpack (&unpacked.data);
            compared++;
            if (!dumped != !written || (dumped && strcmp (dumped, written))) {
                if (differ++ < 3)
                    CHECK (false, "tree %s\n#   text %s", dumped, written);
            }
            json_decref (tree);
            free (dumped);
            free (written);
        }
        msgpack_unpacked_destroy (&unpacked);
    }
    CHECK (differ == 0 && compared == 20000, "%d of %d differ", differ, compared);
    wire_writer_free (&writer);
    //  Deeper than JSON_MSGPACK_DEPTH (msgpack-c itself unpacks less deep)
    msgpack_object chain [JSON_MSGPACK_DEPTH + 3];
    for (int depth = 0; depth < JSON_MSGPACK_DEPTH + 2; depth++)
        chain [depth] = (msgpack_object) { .type = MSGPACK_OBJECT_ARRAY,
                                           .via.array = { 1, &chain [depth + 1] } };
    chain [JSON_MSGPACK_DEPTH + 2] = (msgpack_object) { .type = MSGPACK_OBJECT_POSITIVE_INTEGER,
                                                        .via.u64 = 7 };
    json_t *tree = json_from_msgpack (chain);
    char *dumped = json_text (tree), *written = json_text_from_msgpack (chain);
    CHECK (dumped && written && strcmp (dumped, written) == 0 && strstr (written, "[null]")
           && !strchr (written, '7'), "tree %s\n#   text %s", dumped, written);
    json_decref (tree);
    free (dumped);
    free (written);
}

int
main (void)
{
    test_values ();
    test_odd_msgpack ();
    test_read_object ();
    test_getters ();
    test_direct_text ();
    return check_done ();
}
