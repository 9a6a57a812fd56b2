/*  json.c — msgpack to JSON, JSON text in and out, all through jansson.

    The conversion walks the msgpack object recursively, at most
    JSON_MSGPACK_DEPTH + 1 frames deep (deeper values become null without
    descending), building jansson values; every jansson call that can fail
    is checked and the partial tree dropped. Strings take jansson's own
    UTF-8 check first (json_stringn) and are repaired byte by byte only
    when it refuses them, so valid text costs one pass. Text comes out of
    json_dumps with JSON_COMPACT (jansson keeps an object's insertion
    order); readers use json_loadb, which never reads past its size.

    json_text_from_msgpack skips the tree for what it can write the way
    json_dumps would, byte for byte: nil, booleans, integers up to
    INT64_MAX, UTF-8 strings (an empty one msgpack-c left without bytes
    is null, as json_string_lossy makes it) (escaped as jansson escapes them: \" \\ \b
    \f \n \r \t, other control characters \u00XX in capitals), arrays,
    and maps whose keys are UTF-8 strings without NUL, none repeated.
    Anything else in the object (a float, a key to render or repair, a
    repeated key, a string to repair, ext) makes it start over through the
    tree. lilac-web renders every change it mirrors so (the SSE stream's
    text): the tree and its dump were a third of its time under ingest.
*/
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "wire.h"

#define JSON_REPLACEMENT  "\xEF\xBF\xBD"   //  U+FFFD, for bytes that are not UTF-8

//  --------------------------------------------------------------------------
//  Writing

//  A copy of size bytes with every byte that does not start a valid UTF-8
//  sequence (and every NUL, if key) replaced by U+FFFD; *repaired_size its
//  length. NULL when out of memory. The smallest valid prefix at an offset
//  is one whole sequence.
static char *
s_utf8_repaired (const char *text, size_t size, bool key, size_t *repaired_size)
{
    if (size > (SIZE_MAX - 1) / 3)
        return NULL;
    char *repaired = malloc (3 * size + 1);     //  one byte grows to 3 at most
    if (!repaired)
        return NULL;
    size_t used = 0, offset = 0;
    while (offset < size) {
        size_t length = 1;
        while (length <= 4 && offset + length <= size && !wire_utf8_valid (text + offset, length))
            length++;
        if (length <= 4 && offset + length <= size && !(key && text [offset] == 0)) {
            memcpy (repaired + used, text + offset, length);
            used += length;
            offset += length;
        }
        else {
            memcpy (repaired + used, JSON_REPLACEMENT, 3);
            used += 3;
            offset++;
        }
    }
    repaired [used] = 0;
    *repaired_size = used;
    return repaired;
}

json_t *
json_string_lossy (const char *text, size_t size)
{
    if (!text)
        return json_null ();
    if (wire_utf8_valid (text, size))
        return json_stringn (text, size);
    size_t repaired_size;
    char *repaired = s_utf8_repaired (text, size, false, &repaired_size);
    if (!repaired)
        return NULL;
    json_t *string = json_stringn_nocheck (repaired, repaired_size);
    free (repaired);
    return string;
}

static json_t *s_value (const msgpack_object *object, int depth);

//  Sets object[key] = value (taken, even on failure). 0, or -1.
static int
s_set (json_t *object, const msgpack_object *key, json_t *value, int depth)
{
    const char *bytes = NULL;
    size_t size = 0;
    char *owned = NULL;
    if (key->type == MSGPACK_OBJECT_STR || key->type == MSGPACK_OBJECT_BIN) {
        bytes = key->type == MSGPACK_OBJECT_STR ? key->via.str.ptr : key->via.bin.ptr;
        size = key->type == MSGPACK_OBJECT_STR ? key->via.str.size : key->via.bin.size;
        if (!wire_utf8_valid (bytes, size) || (size && memchr (bytes, 0, size)))
            bytes = owned = s_utf8_repaired (bytes, size, true, &size);
    }
    else {
        json_t *rendered = s_value (key, depth);
        bytes = owned = json_text (rendered);
        size = owned ? strlen (owned) : 0;
        json_decref (rendered);
    }
    if (!bytes) {
        json_decref (value);
        return -1;
    }
    int rc = json_object_setn_new_nocheck (object, bytes, size, value);
    free (owned);
    return rc;
}

static json_t *
s_container (const msgpack_object *object, int depth)
{
    if (object->type == MSGPACK_OBJECT_ARRAY) {
        json_t *array = json_array ();
        for (uint32_t index = 0; array && index < object->via.array.size; index++)
            if (json_array_append_new (array, s_value (&object->via.array.ptr [index], depth + 1))) {
                json_decref (array);
                array = NULL;
            }
        return array;
    }
    json_t *map = json_object ();
    for (uint32_t index = 0; map && index < object->via.map.size; index++) {
        const msgpack_object_kv *pair = &object->via.map.ptr [index];
        if (s_set (map, &pair->key, s_value (&pair->val, depth + 1), depth + 1)) {
            json_decref (map);
            map = NULL;
        }
    }
    return map;
}

static json_t *
s_value (const msgpack_object *object, int depth)
{
    if (!object || depth > JSON_MSGPACK_DEPTH)
        return json_null ();
    switch (object->type) {
        case MSGPACK_OBJECT_BOOLEAN:
            return json_boolean (object->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return object->via.u64 <= INT64_MAX ? json_integer ((json_int_t) object->via.u64)
                                                 : json_real ((double) object->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return json_integer (object->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return isfinite (object->via.f64) ? json_real (object->via.f64) : json_null ();
        case MSGPACK_OBJECT_STR:
            return json_string_lossy (object->via.str.ptr, object->via.str.size);
        case MSGPACK_OBJECT_BIN:
            return json_string_lossy (object->via.bin.ptr, object->via.bin.size);
        case MSGPACK_OBJECT_ARRAY:
        case MSGPACK_OBJECT_MAP:
            return s_container (object, depth);
        default:                       //  nil, ext
            return json_null ();
    }
}

json_t *
json_from_msgpack (const msgpack_object *object)
{
    return s_value (object, 1);
}

char *
json_text (const json_t *value)
{
    if (!value)
        return NULL;
    return json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
}

//  Text written without a tree: a growing buffer, and whether what was
//  met can be written so (false: the tree must do it).
typedef struct {
    char *data;
    size_t size;
    size_t capacity;
    bool direct;                   //  still writable without the tree
    bool failed;                   //  out of memory
} s_text_t;

static void
s_put_bytes (s_text_t *text, const char *bytes, size_t size)
{
    if (text->failed)
        return;
    if (text->size + size + 1 > text->capacity) {
        size_t capacity = text->capacity ? text->capacity : 256;
        while (capacity < text->size + size + 1)
            capacity *= 2;
        char *grown = realloc (text->data, capacity);
        if (!grown) {
            text->failed = true;
            return;
        }
        text->data = grown;
        text->capacity = capacity;
    }
    memcpy (text->data + text->size, bytes, size);
    text->size += size;
    text->data [text->size] = 0;
}

//  An integer in decimal, as "%" PRId64 writes it (snprintf was a tenth of
//  the text's time).
static void
s_put_integer (s_text_t *text, int64_t value)
{
    char digits [24];
    size_t at = sizeof digits;
    uint64_t magnitude = value < 0 ? (uint64_t) 0 - (uint64_t) value : (uint64_t) value;
    do
        digits [--at] = (char) ('0' + magnitude % 10);
    while ((magnitude /= 10));
    if (value < 0)
        digits [--at] = '-';
    s_put_bytes (text, digits + at, sizeof digits - at);
}

//  A JSON string of valid UTF-8, escaped as jansson's dump escapes.
static void
s_put_string (s_text_t *text, const char *bytes, size_t size)
{
    s_put_bytes (text, "\"", 1);
    size_t start = 0;
    for (size_t index = 0; index < size; index++) {
        unsigned char byte = (unsigned char) bytes [index];
        if (byte >= 0x20 && byte != '"' && byte != '\\')
            continue;
        s_put_bytes (text, bytes + start, index - start);
        char escape [8];
        const char *named = byte == '"' ? "\\\"" : byte == '\\' ? "\\\\"
                          : byte == '\b' ? "\\b" : byte == '\f' ? "\\f"
                          : byte == '\n' ? "\\n" : byte == '\r' ? "\\r"
                          : byte == '\t' ? "\\t" : NULL;
        if (!named) {
            snprintf (escape, sizeof escape, "\\u%04X", byte);
            named = escape;
        }
        s_put_bytes (text, named, strlen (named));
        start = index + 1;
    }
    s_put_bytes (text, bytes + start, size - start);
    s_put_bytes (text, "\"", 1);
}

//  True if the key of pair index of map is a string or bin that is
//  UTF-8 without NUL, and no earlier key has its bytes.
static bool
s_key_plain (const msgpack_object *map, uint32_t index)
{
    const msgpack_object *key = &map->via.map.ptr [index].key;
    if (key->type != MSGPACK_OBJECT_STR && key->type != MSGPACK_OBJECT_BIN)
        return false;
    const char *bytes = key->type == MSGPACK_OBJECT_STR ? key->via.str.ptr : key->via.bin.ptr;
    uint32_t size = key->type == MSGPACK_OBJECT_STR ? key->via.str.size : key->via.bin.size;
    if (!bytes || !wire_utf8_valid (bytes, size) || memchr (bytes, 0, size))
        return false;               //  (no bytes: the tree fails the whole text)
    for (uint32_t earlier = 0; earlier < index; earlier++) {
        const msgpack_object *other = &map->via.map.ptr [earlier].key;
        const char *other_bytes = other->type == MSGPACK_OBJECT_STR ? other->via.str.ptr
                                                                    : other->via.bin.ptr;
        uint32_t other_size = other->type == MSGPACK_OBJECT_STR ? other->via.str.size
                                                                : other->via.bin.size;
        if (other_size == size && memcmp (other_bytes, bytes, size) == 0)
            return false;
    }
    return true;
}

static void s_put_value (s_text_t *text, const msgpack_object *object, int depth);

static void
s_put_container (s_text_t *text, const msgpack_object *object, int depth)
{
    bool array = object->type == MSGPACK_OBJECT_ARRAY;
    uint32_t size = array ? object->via.array.size : object->via.map.size;
    s_put_bytes (text, array ? "[" : "{", 1);
    for (uint32_t index = 0; index < size && text->direct; index++) {
        if (index)
            s_put_bytes (text, ",", 1);
        if (array) {
            s_put_value (text, &object->via.array.ptr [index], depth + 1);
            continue;
        }
        const msgpack_object *key = &object->via.map.ptr [index].key;
        if (!s_key_plain (object, index)) {
            text->direct = false;
            return;
        }
        if (key->type == MSGPACK_OBJECT_STR)
            s_put_string (text, key->via.str.ptr, key->via.str.size);
        else
            s_put_string (text, key->via.bin.ptr, key->via.bin.size);
        s_put_bytes (text, ":", 1);
        s_put_value (text, &object->via.map.ptr [index].val, depth + 1);
    }
    s_put_bytes (text, array ? "]" : "}", 1);
}

//  What s_value would make of object, dumped; or text->direct false.
static void
s_put_value (s_text_t *text, const msgpack_object *object, int depth)
{
    if (!object || depth > JSON_MSGPACK_DEPTH || object->type == MSGPACK_OBJECT_NIL) {
        s_put_bytes (text, "null", 4);
        return;
    }
    switch (object->type) {
        case MSGPACK_OBJECT_BOOLEAN:
            s_put_bytes (text, object->via.boolean ? "true" : "false",
                         object->via.boolean ? 4 : 5);
            return;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            if (object->type == MSGPACK_OBJECT_POSITIVE_INTEGER && object->via.u64 > INT64_MAX)
                break;
            s_put_integer (text, object->via.i64);
            return;
        case MSGPACK_OBJECT_STR:
        case MSGPACK_OBJECT_BIN: {
            const char *bytes = object->type == MSGPACK_OBJECT_STR ? object->via.str.ptr
                                                                   : object->via.bin.ptr;
            uint32_t size = object->type == MSGPACK_OBJECT_STR ? object->via.str.size
                                                               : object->via.bin.size;
            if (!bytes)                 //  msgpack-c's empty string: null, as the tree has it
                s_put_bytes (text, "null", 4);
            else
            if (wire_utf8_valid (bytes, size))
                s_put_string (text, bytes, size);
            else
                break;
            return;
        }
        case MSGPACK_OBJECT_ARRAY:
        case MSGPACK_OBJECT_MAP:
            s_put_container (text, object, depth);
            return;
        default:                        //  floats, ext: through the tree
            break;
    }
    text->direct = false;
}

char *
json_text_from_msgpack (const msgpack_object *object)
{
    s_text_t text = { .direct = true };
    s_put_value (&text, object, 1);
    if (text.direct && !text.failed)
        return text.data;
    free (text.data);
    json_t *value = json_from_msgpack (object);
    char *dumped = json_text (value);
    json_decref (value);
    return dumped;
}

//  --------------------------------------------------------------------------
//  Reading

json_t *
json_read_object (const char *text, size_t size, size_t max_size, char *error, size_t error_size)
{
    if (!text || size > max_size) {
        snprintf (error, error_size, "too large (%zu bytes, at most %zu)", size, max_size);
        return NULL;
    }
    json_error_t parse_error;
    json_t *root = json_loadb (text, size, JSON_REJECT_DUPLICATES, &parse_error);
    if (!root) {
        snprintf (error, error_size, "%d:%d: %s", parse_error.line, parse_error.column,
                  parse_error.text);
        return NULL;
    }
    if (!json_is_object (root)) {
        snprintf (error, error_size, "not an object");
        json_decref (root);
        return NULL;
    }
    return root;
}

int
json_get_int (const json_t *object, const char *key, int64_t *value)
{
    const json_t *member = json_is_object (object) ? json_object_get (object, key) : NULL;
    if (json_is_integer (member))
        *value = json_integer_value (member);
    else
    if (json_is_boolean (member))
        *value = json_is_true (member) ? 1 : 0;
    else
    if (json_is_string (member)) {
        const char *digits = json_string_value (member);
        if (*digits != '-' && (*digits < '0' || *digits > '9'))
            return -1;
        char *end = NULL;
        errno = 0;
        long long number = strtoll (digits, &end, 10);
        if (!*digits || *end || errno || end - digits != (ptrdiff_t) json_string_length (member))
            return -1;
        *value = number;
    }
    else
        return -1;
    return 0;
}

//  Copies a UTF-8 string into out, cut at a character boundary. Returns
//  the bytes copied.
static size_t
s_copy_cut (char *out, size_t out_size, const char *text, size_t size)
{
    assert (out_size > 0);
    size_t keep = size < out_size - 1 ? size : out_size - 1;
    while (keep > 0 && keep < size && ((unsigned char) text [keep] & 0xc0) == 0x80)
        keep--;
    memcpy (out, text, keep);
    out [keep] = 0;
    return keep;
}

int
json_get_string (const json_t *object, const char *key, char *out, size_t out_size, bool cut)
{
    const json_t *member = json_is_object (object) ? json_object_get (object, key) : NULL;
    if (!json_is_string (member) || out_size == 0)
        return -1;
    size_t size = json_string_length (member);
    if (!cut && size >= out_size)
        return -1;
    s_copy_cut (out, out_size, json_string_value (member), size);
    return 0;
}

int
json_get_strings (const json_t *object, const char *key, const char *separator,
                  char *out, size_t out_size)
{
    const json_t *member = json_is_object (object) ? json_object_get (object, key) : NULL;
    if (!json_is_array (member) || out_size == 0)
        return -1;
    size_t used = 0, index;
    const json_t *element;
    out [0] = 0;
    json_array_foreach (member, index, element) {
        if (!json_is_string (element))
            continue;
        if (used > 0)
            used += s_copy_cut (out + used, out_size - used, separator, strlen (separator));
        used += s_copy_cut (out + used, out_size - used, json_string_value (element),
                            json_string_length (element));
    }
    return 0;
}
