/*  wire.c — checking, reading and writing lilac's msgpack frames.

    Untrusted bytes meet three layers, in this order. One walk (s_walk) reads
    the raw msgpack itself, without msgpack-c's unpacker: one pass, an
    explicit stack of "elements still to read" per open array or map (at
    most WIRE_MAX_DEPTH entries, so no recursion on input), refusing anything
    msgpack-c could be tricked by (a count of 2^32 it would allocate for) or
    that we never send (ext, bin, 0xc1, non-string map keys, bad UTF-8).
    wire_check() is that walk alone; wire_doc_new() and wire_batch_decode()
    let it build msgpack_objects as it goes, so each header is read once.
    A container's elements are allocated when it opens, and only if every
    element the open containers still expect can have a byte of its own, so
    the zone stays within a small multiple of the frame size. wire_doc_new()
    copies the frame (msgpack-c's strings point into the bytes they were
    unpacked from); the root must be a map with "v": 1. The typed getters check one
    field each, treating nil like an absent key (wire_pack_string packs NULL as
    nil), and write "key: why" into the caller's error buffer.
    wire_batch_decode() turns an ingest frame into plain C structs, all
    strings copied, so the msgpack zone is gone when it returns.

    Memory: our own allocations are checked and fail with -1 ("out of
    memory"); nothing stays allocated on any failure. Writing goes through
    msgpack-c's sbuffer (see the note above wire_writer_init).
*/
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/random.h>
#include "alert.h"
#include "bytes.h"
#include "timespec.h"
#include "wire.h"
#include "error_text.h"

#define WIRE_MAX_TIME_SPEC  64         //  bytes in a time spec string
#define WIRE_MAX_LEVEL      16         //  bytes in a level name

struct _wire_doc_t {
    char *data;                        //  our copy of the frame; strings point into it
    msgpack_zone *zone;                //  holds the objects under root
    msgpack_object root;
};

//  One open array or map during the walk (s_walk).
typedef struct {
    uint64_t remaining;                //  elements still to read (a map counts keys and values)
    uint64_t read;                     //  elements read so far
    bool is_map;                       //  map: even remaining means a key comes next
    msgpack_object *items;             //  an array's elements, when building
    msgpack_object_kv *pairs;          //  a map's pairs, when building
} s_open_t;

//  What one msgpack header announces.
typedef enum { S_SCALAR, S_STRING, S_ARRAY, S_MAP } s_kind_t;


//  --------------------------------------------------------------------------
//  Errors

//  The walk's steps, inlined into both of their callers (s_walk_object and
//  the fast path): as calls they cost the heartbeat frame a fifth more.
#define S_HOT __attribute__ ((always_inline))

#define S_MALFORMED(...) error_text (error, error_size, WIRE_MALFORMED, __VA_ARGS__)
#define S_NO_MEMORY() error_text (error, error_size, -1, "out of memory")


//  --------------------------------------------------------------------------
//  UTF-8 and names

//  Length of the valid UTF-8 sequence at bytes (1..4), or 0 if it is not
//  one: overlongs, surrogates and code points above U+10FFFF are refused.
static size_t
s_utf8_sequence (const unsigned char *bytes, size_t left, uint32_t *code_point)
{
    unsigned char lead = bytes [0];
    size_t length;
    uint32_t code, minimum;
    if (lead < 0x80) {
        *code_point = lead;
        return 1;
    }
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2; code = lead & 0x1f; minimum = 0x80;
    }
    else
    if ((lead & 0xf0) == 0xe0) {
        length = 3; code = lead & 0x0f; minimum = 0x800;
    }
    else
    if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4; code = lead & 0x07; minimum = 0x10000;
    }
    else
        return 0;
    if (left < length)
        return 0;
    for (size_t index = 1; index < length; index++) {
        if ((bytes [index] & 0xc0) != 0x80)
            return 0;
        code = (code << 6) | (bytes [index] & 0x3f);
    }
    if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
        return 0;
    *code_point = code;
    return length;
}

//  Bytes from offset on that are plain ASCII, eight at a time: names and
//  most text are, and this is the ingest path's inner loop.
static size_t
s_ascii_run (const unsigned char *bytes, size_t size, size_t offset)
{
    while (size - offset >= 8) {
        uint64_t word;
        memcpy (&word, bytes + offset, 8);
        if (word & 0x8080808080808080ULL)
            break;
        offset += 8;
    }
    while (offset < size && bytes [offset] < 0x80)
        offset++;
    return offset;
}

bool
wire_utf8_valid (const char *text, size_t size)
{
    const unsigned char *bytes = (const unsigned char *) text;
    size_t offset = 0;
    while ((offset = s_ascii_run (bytes, size, offset)) < size) {
        uint32_t code_point;
        size_t length = s_utf8_sequence (bytes + offset, size - offset, &code_point);
        if (length == 0)
            return false;
        offset += length;
    }
    return true;
}

//  Short strings (keys, names, time specs) are checked a word at a time
//  (bytes.h), the last word overlapping the one before it rather than a
//  byte loop for the tail (the byte loops were a tenth of a heartbeat's
//  decode, perf).

#define S_ONES  0x0101010101010101ULL
#define S_HIGHS 0x8080808080808080ULL

//  The lanes' high bits set for bytes that are not printable ASCII (0x20
//  to 0x7e). In a word of bytes below 0x80, adding 1 to each byte sets a
//  high bit only for 0x7f, and subtracting 0x20 from each only for the
//  lowest byte below 0x20 (the bytes under it borrow nothing).
static inline uint64_t
s_unprintable (uint64_t word)
{
    return (word | (word + S_ONES) | (word - 0x20 * S_ONES)) & S_HIGHS;
}

//  True if every byte of the length at bytes is printable ASCII. The
//  words read cover each byte at least once, and a byte read twice is
//  tested twice; lanes past a short load are zero, which is tested as
//  printable by filling them with spaces.
static inline bool
s_all_printable (const unsigned char *bytes, size_t length)
{
    if (length == 0)
        return true;
    size_t width = bytes_width (length);
    uint64_t fill = width == 8 ? 0 : 0x20 * S_ONES << (8 * width);
    uint64_t bad = 0;
    for (size_t index = 0; index + width <= length; index += width)
        bad |= s_unprintable (bytes_load (bytes + index, width) | fill);
    bad |= s_unprintable (bytes_load (bytes + length - width, width) | fill);
    return bad == 0;
}

//  Why text is not a name of at most max_bytes, or NULL if it is one.
//  Control characters are C0, DEL and C1.
static const char *
s_name_problem (const char *text, size_t size, size_t max_bytes)
{
    if (size == 0)
        return "empty";
    if (size > max_bytes)
        return "too long";
    const unsigned char *bytes = (const unsigned char *) text;
    if (s_all_printable (bytes, size))
        return NULL;                //  printable ASCII, the common case
    size_t offset = 0;
    while (offset < size) {
        if (bytes [offset] >= 0x20 && bytes [offset] < 0x7f) {
            offset++;               //  printable ASCII, the common case
            continue;
        }
        uint32_t code_point;
        size_t length = s_utf8_sequence (bytes + offset, size - offset, &code_point);
        if (length == 0)
            return "not valid UTF-8";
        if (code_point < 0x20 || (code_point >= 0x7f && code_point <= 0x9f))
            return "contains a control character";
        offset += length;
    }
    return NULL;
}

bool
wire_name_valid (const char *text)
{
    return text && s_name_problem (text, strlen (text), WIRE_MAX_NAME) == NULL;
}


//  --------------------------------------------------------------------------
//  The walk: checking, and building msgpack-c objects in the same pass

//  The big-endian unsigned integer of width bytes at bytes.
static uint64_t
s_big_endian (const unsigned char *bytes, size_t width)
{
    uint64_t value = 0;
    for (size_t index = 0; index < width; index++)
        value = (value << 8) | bytes [index];
    return value;
}

//  Reads a big-endian unsigned integer of width bytes at *offset.
//  Returns false if the frame ends first.
static bool
s_read_uint (const unsigned char *bytes, size_t size, size_t *offset,
             size_t width, uint64_t *value)
{
    if (size - *offset < width)
        return false;
    *value = s_big_endian (bytes + *offset, width);
    *offset += width;
    return true;
}

//  Reads the header of one object at *offset: its kind, and the byte length
//  of a string or the count of an array or map. Scalars are skipped whole.
static inline S_HOT int
s_read_header (const unsigned char *bytes, size_t size, size_t *offset,
               s_kind_t *kind, uint64_t *count, char *error, size_t error_size)
{
    size_t start = *offset;
    unsigned char lead = bytes [(*offset)++];
    size_t skip = 0;                   //  scalar payload bytes
    size_t width = 0;                  //  bytes of a length or count field
    *kind = S_SCALAR;
    *count = 0;

    if (lead <= 0x7f || lead >= 0xe0 || lead == 0xc0 || lead == 0xc2 || lead == 0xc3)
        return 0;                      //  fixints, nil, false, true
    if (lead <= 0x8f) {
        *kind = S_MAP;
        *count = lead & 0x0f;
        return 0;
    }
    if (lead <= 0x9f) {
        *kind = S_ARRAY;
        *count = lead & 0x0f;
        return 0;
    }
    if (lead <= 0xbf) {
        *kind = S_STRING;
        *count = lead & 0x1f;
        return 0;
    }
    switch (lead) {
        case 0xc1:
            return S_MALFORMED ("reserved byte 0xc1 at byte %zu", start);
        case 0xc4: case 0xc5: case 0xc6:
            return S_MALFORMED ("bin type at byte %zu", start);
        case 0xc7: case 0xc8: case 0xc9:
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            return S_MALFORMED ("ext type at byte %zu", start);
        case 0xca: skip = 4; break;                     //  float 32
        case 0xcb: skip = 8; break;                     //  float 64
        case 0xcc: case 0xd0: skip = 1; break;          //  (u)int 8
        case 0xcd: case 0xd1: skip = 2; break;          //  (u)int 16
        case 0xce: case 0xd2: skip = 4; break;          //  (u)int 32
        case 0xcf: case 0xd3: skip = 8; break;          //  (u)int 64
        case 0xd9: *kind = S_STRING; width = 1; break;
        case 0xda: *kind = S_STRING; width = 2; break;
        case 0xdb: *kind = S_STRING; width = 4; break;
        case 0xdc: *kind = S_ARRAY; width = 2; break;
        case 0xdd: *kind = S_ARRAY; width = 4; break;
        case 0xde: *kind = S_MAP; width = 2; break;
        case 0xdf: *kind = S_MAP; width = 4; break;
        default:
            return S_MALFORMED ("unknown byte 0x%02x at byte %zu", lead, start);
    }
    if (*kind == S_SCALAR) {
        if (size - *offset < skip)
            return S_MALFORMED ("truncated at byte %zu", start);
        *offset += skip;
        return 0;
    }
    if (!s_read_uint (bytes, size, offset, width, count))
        return S_MALFORMED ("truncated at byte %zu", start);
    return 0;
}

//  True if the string is at most 32 bytes of ASCII: keys and names are, and
//  this test, a word at a time (as s_all_printable), saves the validator's
//  call for them.
static inline bool
s_short_ascii (const unsigned char *bytes, size_t length)
{
    if (length > 32)
        return false;
    if (length == 0)
        return true;
    size_t width = bytes_width (length);
    uint64_t high = bytes_load (bytes + length - width, width);
    for (size_t index = 0; index + width <= length; index += width)
        high |= bytes_load (bytes + index, width);
    return (high & S_HIGHS) == 0;
}

//  Checks the string of length bytes at *offset and steps over it.
static inline S_HOT int
s_check_string (const unsigned char *bytes, size_t size, size_t *offset,
                uint64_t length, char *error, size_t error_size)
{
    if (length > WIRE_MAX_STRING)
        return S_MALFORMED ("string at byte %zu longer than %d bytes", *offset, WIRE_MAX_STRING);
    if (length > size - *offset)
        return S_MALFORMED ("truncated string at byte %zu", *offset);
    if (!s_short_ascii (bytes + *offset, (size_t) length)
    &&  !wire_utf8_valid ((const char *) bytes + *offset, (size_t) length))
        return S_MALFORMED ("string at byte %zu is not valid UTF-8", *offset);
    *offset += (size_t) length;
    return 0;
}

//  Scalars as msgpack-c builds them

//  An integer as msgpack-c types it: negative values only are NEGATIVE.
static void
s_build_integer (int64_t value, bool is_signed, uint64_t raw, msgpack_object *object)
{
    if (is_signed && value < 0) {
        object->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        object->via.i64 = value;
    }
    else {
        object->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        object->via.u64 = is_signed ? (uint64_t) value : raw;
    }
}

//  The scalar whose lead byte is bytes[0], already checked.
static inline S_HOT void
s_build_scalar (const unsigned char *bytes, msgpack_object *object)
{
    unsigned char lead = bytes [0];
    if (lead <= 0x7f)
        s_build_integer (0, false, lead, object);
    else
    if (lead >= 0xe0)
        s_build_integer ((int8_t) lead, true, 0, object);
    else
    if (lead == 0xc0)
        object->type = MSGPACK_OBJECT_NIL;
    else
    if (lead == 0xc2 || lead == 0xc3) {
        object->type = MSGPACK_OBJECT_BOOLEAN;
        object->via.boolean = lead == 0xc3;
    }
    else
    if (lead == 0xca) {
        uint32_t bits = (uint32_t) s_big_endian (bytes + 1, 4);
        float value;
        memcpy (&value, &bits, sizeof value);
        object->type = MSGPACK_OBJECT_FLOAT32;
        object->via.f64 = value;
    }
    else
    if (lead == 0xcb) {
        uint64_t bits = s_big_endian (bytes + 1, 8);
        memcpy (&object->via.f64, &bits, sizeof bits);
        object->type = MSGPACK_OBJECT_FLOAT64;
    }
    else {                             //  0xcc..0xcf unsigned, 0xd0..0xd3 signed
        bool is_signed = lead >= 0xd0;
        size_t width = (size_t) 1 << (lead - (is_signed ? 0xd0 : 0xcc));
        uint64_t raw = s_big_endian (bytes + 1, width);
        int64_t value = width == 8 ? (int64_t) raw
                      : (int64_t) (raw ^ (1ULL << (8 * width - 1))) - (int64_t) (1ULL << (8 * width - 1));
        s_build_integer (value, is_signed, raw, object);
    }
}

//  The object an element of parent is built into: arrays fill items in
//  order, maps fill each pair's key, then its value. NULL when checking only.
static msgpack_object *
s_next_object (s_open_t *parent)
{
    uint64_t index = parent->read++;
    if (parent->is_map)
        return parent->pairs ? (index % 2 ? &parent->pairs [index / 2].val
                                          : &parent->pairs [index / 2].key) : NULL;
    return parent->items ? &parent->items [index] : NULL;
}

//  Checks an array or map header at outer + depth open containers, and
//  opens it;
//  given an object, makes it that container, its elements in zone.
//  *promised counts the elements the open containers still expect: each
//  needs a byte of its own past offset, so a container that declares more
//  than the unpromised bytes cannot be whole. That bounds what the zone
//  holds for containers still open, however deep, by the frame's size.
static int
s_open_container (s_open_t *stack, size_t *depth, size_t outer, uint64_t *promised,
                  s_kind_t kind, uint64_t count, size_t size, size_t offset,
                  msgpack_zone *zone, msgpack_object *object, char *error, size_t error_size)
{
    if (outer + *depth + 1 > WIRE_MAX_DEPTH)
        return S_MALFORMED ("nesting deeper than %d at byte %zu", WIRE_MAX_DEPTH, offset);
    //  Each element needs at least one byte, so a map entry two. Elements
    //  already read may have taken more than one byte each, so the open
    //  containers may expect more elements than bytes remain: none is left.
    uint64_t elements = kind == S_MAP ? 2 * count : count;
    uint64_t left = size - offset;
    uint64_t unpromised = left > *promised ? left - *promised : 0;
    if (elements > unpromised)
        return S_MALFORMED ("%s before byte %zu declares %" PRIu64 " elements, only %" PRIu64
                            " bytes remain for them", kind == S_MAP ? "map" : "array",
                            offset, count, unpromised);
    void *memory = NULL;
    if (object && elements > 0
    &&  !(memory = msgpack_zone_malloc (zone, elements * sizeof (msgpack_object))))
        return S_NO_MEMORY ();
    if (object && kind == S_MAP)
        *object = (msgpack_object) { .type = MSGPACK_OBJECT_MAP,
                                     .via.map = { (uint32_t) count, memory } };
    else
    if (object)
        *object = (msgpack_object) { .type = MSGPACK_OBJECT_ARRAY,
                                     .via.array = { (uint32_t) count, memory } };
    if (elements > 0) {
        stack [(*depth)++] = (s_open_t) {
            .remaining = elements, .is_map = kind == S_MAP,
            .items = kind == S_ARRAY ? memory : NULL, .pairs = kind == S_MAP ? memory : NULL,
        };
        *promised += elements;
    }
    return 0;
}

//  The one walk over untrusted bytes: checks the object at *offset (see
//  wire_check), which sits inside `outer` open containers, steps over it,
//  and, given a zone and root, builds it as it goes into msgpack-c objects
//  whose strings point into the bytes. Checking and building in one pass
//  read each header once; as two passes (check, then a recursive build)
//  they were a fifth of the refresh path (perf). 0, WIRE_MALFORMED, or -1
//  when the zone cannot grow.
static int
s_walk_object (const unsigned char *bytes, size_t size, size_t *offset_p, size_t outer,
               msgpack_zone *zone, msgpack_object *root, char *error, size_t error_size)
{
    s_open_t stack [WIRE_MAX_DEPTH];
    size_t depth = 0;                  //  open containers
    uint64_t promised = 0;             //  elements they still expect
    size_t offset = *offset_p;

    do {
        if (offset >= size)
            return S_MALFORMED ("truncated at byte %zu", offset);
        bool is_key = false;
        msgpack_object *object = root;
        if (depth > 0) {
            s_open_t *parent = &stack [depth - 1];
            is_key = parent->is_map && parent->remaining % 2 == 0;
            parent->remaining--;
            promised--;
            object = s_next_object (parent);
        }
        size_t start = offset;
        s_kind_t kind;
        uint64_t count;
        int rc = s_read_header (bytes, size, &offset, &kind, &count, error, error_size);
        if (rc)
            return rc;
        if (is_key && kind != S_STRING)
            return S_MALFORMED ("map key at byte %zu is not a string", start);
        if (kind == S_STRING) {
            rc = s_check_string (bytes, size, &offset, count, error, error_size);
            if (rc == 0 && object)
                *object = (msgpack_object) { .type = MSGPACK_OBJECT_STR,
                    .via.str = { (uint32_t) count, (const char *) bytes + offset - count } };
        }
        else
        if (kind == S_SCALAR) {
            if (object)
                s_build_scalar (bytes + start, object);
        }
        else
            rc = s_open_container (stack, &depth, outer, &promised, kind, count, size, offset,
                                   zone, object, error, error_size);
        if (rc)
            return rc;
        while (depth > 0 && stack [depth - 1].remaining == 0)
            depth--;
    } while (depth > 0);
    *offset_p = offset;
    return 0;
}

//  Walks a whole frame: one object, nothing after it.
static int
s_walk (const unsigned char *bytes, size_t size, msgpack_zone *zone, msgpack_object *root,
        char *error, size_t error_size)
{
    if (!bytes || size == 0)
        return S_MALFORMED ("empty frame");
    size_t offset = 0;
    int rc = s_walk_object (bytes, size, &offset, 0, zone, root, error, error_size);
    if (rc == 0 && offset != size)
        return S_MALFORMED ("%zu trailing bytes after the first object", size - offset);
    return rc;
}

int
wire_check (const void *data, size_t size, char *error, size_t error_size)
{
    return s_walk ((const unsigned char *) data, size, NULL, NULL, error, error_size);
}


//  --------------------------------------------------------------------------
//  Documents

//  Checks that the value of "v" (NULL: absent) is 1.
static int
s_version_value (const msgpack_object *version, char *error, size_t error_size)
{
    if (!version)
        return S_MALFORMED ("v: missing");
    if (version->type == MSGPACK_OBJECT_POSITIVE_INTEGER && version->via.u64 == WIRE_VERSION)
        return 0;
    if (version->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return S_MALFORMED ("v: unsupported version %" PRIu64, version->via.u64);
    if (version->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return S_MALFORMED ("v: unsupported version %" PRId64, version->via.i64);
    return S_MALFORMED ("v: not an integer");
}

//  Checks that root is a map with "v": 1.
static int
s_check_version (const msgpack_object *root, char *error, size_t error_size)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return S_MALFORMED ("frame is not a map");
    return s_version_value (wire_get (root, "v"), error, error_size);
}

//  Checks and unpacks bytes (which must outlive *root) into zone, then
//  checks the version. On failure the zone may hold partial objects.
static int
s_unpack (msgpack_zone *zone, msgpack_object *root, const char *data, size_t size,
          char *error, size_t error_size)
{
    int rc = s_walk ((const unsigned char *) data, size, zone, root, error, error_size);
    return rc ? rc : s_check_version (root, error, error_size);
}

wire_doc_t *
wire_doc_new (const void *data, size_t size, char *error, size_t error_size)
{
    if (!data || size == 0) {
        S_MALFORMED ("empty frame");
        return NULL;
    }
    wire_doc_t *self = (wire_doc_t *) calloc (1, sizeof (wire_doc_t));
    char *copy = (char *) malloc (size);
    if (!self || !copy) {
        free (self);
        free (copy);
        S_NO_MEMORY ();
        return NULL;
    }
    memcpy (copy, data, size);
    self->data = copy;
    self->zone = msgpack_zone_new (MSGPACK_ZONE_CHUNK_SIZE);
    if (!self->zone) {
        S_NO_MEMORY ();
        wire_doc_destroy (&self);
        return NULL;
    }
    if (s_unpack (self->zone, &self->root, self->data, size, error, error_size)) {
        wire_doc_destroy (&self);
        return NULL;
    }
    return self;
}

void
wire_doc_destroy (wire_doc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wire_doc_t *self = *self_p;
    if (self->zone)
        msgpack_zone_free (self->zone);
    free (self->data);
    free (self);
    *self_p = NULL;
}

const msgpack_object *
wire_doc_root (wire_doc_t *self)
{
    return self ? &self->root : NULL;
}


//  --------------------------------------------------------------------------
//  Getters

//  A key s_get_fields and the fast path look for: at most 8 bytes, kept
//  in a zeroed array so that the fast path reads it as one word.
#define S_FIELD_BYTES 8
typedef struct {
    char name [S_FIELD_BYTES + 1];
    size_t size;                   //  strlen (name)
} s_field_t;

#define S_FIELD(text) { .name = text, .size = sizeof text - 1 }
#define S_FIELDS_MAX 16            //  keys one s_get_fields call looks for, at most

//  True if key is the name of size bytes. Keys are a few bytes: a byte
//  loop, no call.
static inline bool
s_is_key (const msgpack_object_str *key, const char *name, size_t size)
{
    if (key->size != size)
        return false;
    for (uint32_t index = 0; index < key->size; index++)
        if (key->ptr [index] != name [index])
            return false;
    return true;
}

static inline bool
s_is_field (const msgpack_object_str *key, const s_field_t *field)
{
    return s_is_key (key, field->name, field->size);
}

const msgpack_object *
wire_get (const msgpack_object *map, const char *key)
{
    if (!map || !key || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t size = strlen (key);
    for (uint32_t index = 0; index < map->via.map.size; index++) {
        const msgpack_object *entry_key = &map->via.map.ptr [index].key;
        if (entry_key->type == MSGPACK_OBJECT_STR && s_is_key (&entry_key->via.str, key, size))
            return &map->via.map.ptr [index].val;
    }
    return NULL;
}

//  map[key], or NULL when absent or nil.
static const msgpack_object *
s_get_present (const msgpack_object *map, const char *key)
{
    const msgpack_object *value = wire_get (map, key);
    return value && value->type != MSGPACK_OBJECT_NIL ? value : NULL;
}

//  values[i] = s_get_present (map, fields[i].name) for every i < count, in
//  one pass over the map's entries: the ingest path asks an event for nine
//  keys, and wire_get scans the whole map for each (a tenth of the refresh
//  path, perf). The first entry with a key wins, as in wire_get.
static void
s_get_fields (const msgpack_object *map, const s_field_t *fields, size_t count,
              const msgpack_object **values)
{
    bool seen [S_FIELDS_MAX] = { false };
    assert (count <= S_FIELDS_MAX);
    for (size_t index = 0; index < count; index++)
        values [index] = NULL;
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return;
    for (uint32_t entry = 0; entry < map->via.map.size; entry++) {
        const msgpack_object_str *key = &map->via.map.ptr [entry].key.via.str;
        if (map->via.map.ptr [entry].key.type != MSGPACK_OBJECT_STR)
            continue;
        for (size_t index = 0; index < count; index++)
            if (!seen [index] && s_is_field (key, &fields [index])) {
                const msgpack_object *value = &map->via.map.ptr [entry].val;
                seen [index] = true;
                values [index] = value->type != MSGPACK_OBJECT_NIL ? value : NULL;
                break;
            }
    }
}

//  A NUL-terminated copy of size bytes, or NULL: in zone (gone when the
//  zone is cleared, and not aligned: a string needs none, and aligning cost
//  a heartbeat frame 10 ns) or, without one, fresh from malloc (the caller
//  frees).
static char *
s_copy (msgpack_zone *zone, const char *bytes, size_t size)
{
    char *copy = (char *) (zone ? msgpack_zone_malloc_no_align (zone, size + 1) : malloc (size + 1));
    if (copy) {
        if (size <= 16)                //  names and ids: no call (an empty
            bytes_copy_short (copy, bytes, size);  //  string's ptr may be NULL)
        else
            memcpy (copy, bytes, size);
        copy [size] = 0;
    }
    return copy;
}

//  Checks that value is a string of at most max_bytes valid UTF-8 bytes
//  without NUL; key names it in the error.
static int
s_check_text (const msgpack_object *value, const char *key, size_t max_bytes,
              char *error, size_t error_size)
{
    if (value->type != MSGPACK_OBJECT_STR)
        return S_MALFORMED ("%s: not a string", key);
    const msgpack_object_str *text = &value->via.str;
    if (text->size > max_bytes)
        return S_MALFORMED ("%s: longer than %zu bytes", key, max_bytes);
    if (text->size > 0 && memchr (text->ptr, 0, text->size))
        return S_MALFORMED ("%s: contains a NUL byte", key);
    if (!wire_utf8_valid (text->ptr, text->size))
        return S_MALFORMED ("%s: not valid UTF-8", key);
    return 0;
}

//  The getters below read a value found under key (NULL: absent), so that
//  wire_get_* and the one-pass readers of ingest batches share them. Their
//  copies go into zone, or without one (wire_get_*) are the caller's.

static int
s_string_value (const msgpack_object *object, const char *key, size_t max_bytes,
                msgpack_zone *zone, char **value, char *error, size_t error_size)
{
    if (!object)
        return 0;
    int rc = s_check_text (object, key, max_bytes, error, error_size);
    if (rc)
        return rc;
    char *copy = s_copy (zone, object->via.str.ptr, object->via.str.size);
    if (!copy)
        return S_NO_MEMORY ();
    *value = copy;
    return 0;
}

int
wire_get_string (const msgpack_object *map, const char *key, size_t max_bytes,
                 char **value, char *error, size_t error_size)
{
    return s_string_value (s_get_present (map, key), key, max_bytes, NULL, value,
                           error, error_size);
}

static int
s_name_value (const msgpack_object *object, const char *key, msgpack_zone *zone,
              char **value, char *error, size_t error_size)
{
    if (!object)
        return 0;
    if (object->type != MSGPACK_OBJECT_STR)
        return S_MALFORMED ("%s: not a string", key);
    const msgpack_object_str *text = &object->via.str;
    //  The common name, printable ASCII, is checked here without a call
    const char *problem = text->size > 0 && text->size <= WIRE_MAX_NAME
                        && s_all_printable ((const unsigned char *) text->ptr, text->size)
                        ? NULL : s_name_problem (text->ptr, text->size, WIRE_MAX_NAME);
    if (problem)
        return S_MALFORMED ("%s: %s (a name is 1..%d bytes of UTF-8 without control characters)",
                            key, problem, WIRE_MAX_NAME);
    char *copy = s_copy (zone, text->ptr, text->size);
    if (!copy)
        return S_NO_MEMORY ();
    *value = copy;
    return 0;
}

int
wire_get_name (const msgpack_object *map, const char *key,
               char **value, char *error, size_t error_size)
{
    return s_name_value (s_get_present (map, key), key, NULL, value, error, error_size);
}

static int
s_int_value (const msgpack_object *object, const char *key, bool *present,
             int64_t *value, char *error, size_t error_size)
{
    if (present)
        *present = false;
    if (!object)
        return 0;
    if (object->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (object->via.u64 > INT64_MAX)
            return S_MALFORMED ("%s: out of range", key);
        *value = (int64_t) object->via.u64;
    }
    else
    if (object->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *value = object->via.i64;
    else
        return S_MALFORMED ("%s: not an integer", key);
    if (present)
        *present = true;
    return 0;
}

int
wire_get_int (const msgpack_object *map, const char *key, bool *present,
              int64_t *value, char *error, size_t error_size)
{
    return s_int_value (s_get_present (map, key), key, present, value, error, error_size);
}

static int
s_bool_value (const msgpack_object *object, const char *key, bool *present,
              bool *value, char *error, size_t error_size)
{
    if (present)
        *present = false;
    if (!object)
        return 0;
    if (object->type != MSGPACK_OBJECT_BOOLEAN)
        return S_MALFORMED ("%s: not a boolean", key);
    *value = object->via.boolean;
    if (present)
        *present = true;
    return 0;
}

int
wire_get_bool (const msgpack_object *map, const char *key, bool *present,
               bool *value, char *error, size_t error_size)
{
    return s_bool_value (s_get_present (map, key), key, present, value, error, error_size);
}

//  Resolves a time spec string; sets *is_clear for "clear".
static int
s_time_from_text (const msgpack_object_str *text, const char *key, int64_t now_ms,
                  int64_t *when_ms, bool *is_clear, char *error, size_t error_size)
{
    char spec [WIRE_MAX_TIME_SPEC + 1];
    if (text->size == 0 || text->size > WIRE_MAX_TIME_SPEC)
        return S_MALFORMED ("%s: not a time spec", key);
    //  A few bytes: copied and checked for NUL in one loop, no calls
    for (uint32_t index = 0; index < text->size; index++)
        if ((spec [index] = text->ptr [index]) == 0)
            return S_MALFORMED ("%s: not a time spec", key);
    spec [text->size] = 0;
    int64_t when = 0;
    int rc = time_spec_parse (spec, now_ms, &when);
    if (rc != 0 && rc != TIMESPEC_CLEAR)
        return S_MALFORMED ("%s: not a time spec", key);
    *when_ms = when;
    *is_clear = rc == TIMESPEC_CLEAR;
    return 0;
}

static int
s_time_value (const msgpack_object *object, const char *key, int64_t now_ms,
              bool *present, int64_t *when_ms, bool *is_clear,
              char *error, size_t error_size)
{
    if (present)
        *present = false;
    if (!object)
        return 0;
    int64_t when = 0;
    bool clear = false;
    if (object->type == MSGPACK_OBJECT_STR) {
        int rc = s_time_from_text (&object->via.str, key, now_ms, &when, &clear,
                                   error, error_size);
        if (rc)
            return rc;
    }
    else
    if (object->type == MSGPACK_OBJECT_POSITIVE_INTEGER
    &&  object->via.u64 > 0 && object->via.u64 <= (uint64_t) (INT64_MAX / 1000))
        when = (int64_t) object->via.u64 * 1000;
    else
        return S_MALFORMED ("%s: not a time spec or seconds since the epoch", key);
    *when_ms = when;
    if (is_clear)
        *is_clear = clear;
    if (present)
        *present = true;
    return 0;
}

int
wire_get_time (const msgpack_object *map, const char *key, int64_t now_ms,
               bool *present, int64_t *when_ms, bool *is_clear,
               char *error, size_t error_size)
{
    return s_time_value (s_get_present (map, key), key, now_ms, present, when_ms, is_clear,
                         error, error_size);
}

//  Checks and copies entry index of a labels map into label.
static int
s_label_read (const msgpack_object_kv *entry, const char *key, uint32_t index,
              msgpack_zone *zone, wire_label_t *label, char *error, size_t error_size)
{
    if (entry->key.type != MSGPACK_OBJECT_STR)
        return S_MALFORMED ("%s: key %u is not a string", key, index);
    const msgpack_object_str *name = &entry->key.via.str;
    const char *problem = s_name_problem (name->ptr, name->size, WIRE_MAX_LABEL_KEY);
    if (problem)
        return S_MALFORMED ("%s: key %u: %s (at most %d bytes, no control characters)",
                            key, index, problem, WIRE_MAX_LABEL_KEY);
    char where [96];
    snprintf (where, sizeof where, "%s.%.*s", key, (int) name->size, name->ptr);
    int rc = s_check_text (&entry->val, where, WIRE_MAX_LABEL_VALUE, error, error_size);
    if (rc)
        return rc;
    label->key = s_copy (zone, name->ptr, name->size);
    label->value = s_copy (zone, entry->val.via.str.ptr, entry->val.via.str.size);
    if (!label->key || !label->value)
        return S_NO_MEMORY ();
    return 0;
}

//  True if entry index repeats the key of an earlier entry.
static bool
s_label_repeats (const msgpack_object_map *labels, uint32_t index)
{
    const msgpack_object_str *name = &labels->ptr [index].key.via.str;
    for (uint32_t earlier = 0; earlier < index; earlier++) {
        const msgpack_object_str *other = &labels->ptr [earlier].key.via.str;
        if (other->size == name->size && memcmp (other->ptr, name->ptr, name->size) == 0)
            return true;
    }
    return false;
}

static int
s_labels_value (const msgpack_object *object, const char *key, bool *present,
                msgpack_zone *zone, wire_label_t **labels, size_t *count,
                char *error, size_t error_size)
{
    if (present)
        *present = false;
    if (!object)
        return 0;
    if (object->type != MSGPACK_OBJECT_MAP)
        return S_MALFORMED ("%s: not a map", key);
    const msgpack_object_map *source = &object->via.map;
    if (source->size > WIRE_MAX_LABELS)
        return S_MALFORMED ("%s: more than %d labels", key, WIRE_MAX_LABELS);
    wire_label_t *result = NULL;
    size_t filled = 0;
    size_t bytes = source->size * sizeof (wire_label_t);
    if (source->size > 0) {
        result = (wire_label_t *) (zone ? msgpack_zone_malloc (zone, bytes) : malloc (bytes));
        if (!result)
            return S_NO_MEMORY ();
        memset (result, 0, bytes);
    }
    int rc = 0;
    for (uint32_t index = 0; index < source->size && rc == 0; index++) {
        rc = s_label_read (&source->ptr [index], key, index, zone, &result [index],
                           error, error_size);
        filled = index + 1;            //  a failed entry may hold one string
        if (rc == 0 && s_label_repeats (source, index))
            rc = S_MALFORMED ("%s: key %u repeats an earlier key", key, index);
    }
    if (rc) {
        if (!zone)
            alert_free_labels (&result, &filled);
        return rc;
    }
    *labels = result;
    *count = filled;
    if (present)
        *present = true;
    return 0;
}

int
wire_get_labels (const msgpack_object *map, const char *key, bool *present,
                 wire_label_t **labels, size_t *count, char *error, size_t error_size)
{
    return s_labels_value (s_get_present (map, key), key, present, NULL, labels, count,
                           error, error_size);
}


//  --------------------------------------------------------------------------
//  Writing
//
//  msgpack_pack_* into an sbuffer can fail only when realloc fails. We do not
//  check each call: a frame with a missing piece is short or misaligned, and
//  the receiver's wire_check refuses it; a process that cannot grow a small
//  buffer will not get much further anyway. Every msgpack_pack_* return in
//  this module and in alert.c is ignored for that reason.

void
wire_writer_init (wire_writer_t *writer)
{
    msgpack_sbuffer_init (&writer->buffer);
    msgpack_packer_init (&writer->packer, &writer->buffer, msgpack_sbuffer_write);
}

void
wire_writer_reset (wire_writer_t *writer)
{
    msgpack_sbuffer_clear (&writer->buffer);
}

void
wire_writer_free (wire_writer_t *writer)
{
    if (!writer)
        return;
    msgpack_sbuffer_destroy (&writer->buffer);
    wire_writer_init (writer);         //  empty and usable again; freeing twice is safe
}

void
wire_pack_string (msgpack_packer *packer, const char *text)
{
    if (!text) {
        msgpack_pack_nil (packer);
        return;
    }
    size_t size = strlen (text);
    msgpack_pack_str (packer, size);
    msgpack_pack_str_body (packer, text, size);
}

void
wire_pack_key (msgpack_packer *packer, const char *key)
{
    wire_pack_string (packer, key);
}

void
wire_pack_key_string (msgpack_packer *packer, const char *key, const char *text)
{
    wire_pack_key (packer, key);
    wire_pack_string (packer, text);
}

void
wire_pack_key_int (msgpack_packer *packer, const char *key, int64_t value)
{
    wire_pack_key (packer, key);
    msgpack_pack_int64 (packer, value);
}

void
wire_pack_key_bool (msgpack_packer *packer, const char *key, bool value)
{
    wire_pack_key (packer, key);
    if (value)
        msgpack_pack_true (packer);
    else
        msgpack_pack_false (packer);
}


//  --------------------------------------------------------------------------
//  Ingest batches

//  The level field: absent leaves *level at -1.
static int
s_event_level (const msgpack_object *value, int *level, char *error, size_t error_size)
{
    if (!value)
        return 0;
    int rc = s_check_text (value, "level", WIRE_MAX_LEVEL, error, error_size);
    if (rc)
        return rc;
    char name [WIRE_MAX_LEVEL + 1];
    memcpy (name, value->via.str.ptr, value->via.str.size);
    name [value->via.str.size] = 0;
    alert_level_t parsed;
    if (alert_level_parse (name, &parsed))
        return S_MALFORMED ("level: must be urgent, normal or low");
    *level = (int) parsed;
    return 0;
}

//  The keys of an event, in the order s_event_from_values checks them.
typedef enum {
    EVENT_ID, EVENT_RAISE, EVENT_CLEAR, EVENT_SUPPRESS, EVENT_SUBJECT,
    EVENT_SUMMARY, EVENT_DETAIL, EVENT_LEVEL, EVENT_LABELS, EVENT_AGE, EVENT_FIELDS
} s_event_field_t;

static const s_field_t s_event_fields [EVENT_FIELDS] = {
    [EVENT_ID] = S_FIELD ("id"), [EVENT_RAISE] = S_FIELD ("raise"),
    [EVENT_CLEAR] = S_FIELD ("clear"), [EVENT_SUPPRESS] = S_FIELD ("suppress"),
    [EVENT_SUBJECT] = S_FIELD ("subject"), [EVENT_SUMMARY] = S_FIELD ("summary"),
    [EVENT_DETAIL] = S_FIELD ("detail"), [EVENT_LEVEL] = S_FIELD ("level"),
    [EVENT_LABELS] = S_FIELD ("labels"), [EVENT_AGE] = S_FIELD ("age"),
};

//  age: how long the sender held the event, in ms, from 0 to ten years.
static int
s_event_age (const msgpack_object *value, int64_t *age, char *error, size_t error_size)
{
    if (!value || value->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (value->type != MSGPACK_OBJECT_POSITIVE_INTEGER
    ||  value->via.u64 > (uint64_t) WIRE_MAX_AGE_MS)
        return S_MALFORMED ("age: must be an integer number of ms from 0 to ten years");
    *age = (int64_t) value->via.u64;
    return 0;
}

//  The three times of an event.
static int
s_event_times (const msgpack_object **values, int64_t now_ms, wire_event_t *event,
               char *error, size_t error_size)
{
    bool is_clear = false;
    int rc = s_time_value (values [EVENT_RAISE], "raise", now_ms, &event->has_raise,
                           &event->raise_at, &event->raise_clear, error, error_size);
    //  "clear" as a clear or suppress time means now, which time_spec_parse gives.
    if (rc == 0 && values [EVENT_CLEAR])
        rc = s_time_value (values [EVENT_CLEAR], "clear", now_ms, &event->has_clear,
                           &event->clear_at, &is_clear, error, error_size);
    if (rc == 0 && values [EVENT_SUPPRESS])
        rc = s_time_value (values [EVENT_SUPPRESS], "suppress", now_ms, &event->has_suppress,
                           &event->suppress_until, &is_clear, error, error_size);
    return rc;
}

//  Reads one alert of a batch, found as values (s_event_fields; NULL:
//  absent), into a zeroed event, its strings in zone.
static int
s_event_from_values (const msgpack_object **values, int64_t now_ms, msgpack_zone *zone,
                     wire_event_t *event, char *error, size_t error_size)
{
    event->level = -1;
    int rc = s_name_value (values [EVENT_ID], "id", zone, &event->id, error, error_size);
    if (rc == 0 && !event->id)
        rc = S_MALFORMED ("id: missing");
    if (rc == 0)
        rc = s_event_times (values, now_ms, event, error, error_size);
    //  A heartbeat has none of the rest: each absent field costs a test,
    //  not a call
    if (rc == 0 && values [EVENT_SUBJECT])
        rc = s_string_value (values [EVENT_SUBJECT], "subject", WIRE_MAX_NAME,
                             zone, &event->subject, error, error_size);
    if (rc == 0 && values [EVENT_SUMMARY])
        rc = s_string_value (values [EVENT_SUMMARY], "summary", WIRE_MAX_SUMMARY,
                             zone, &event->summary, error, error_size);
    if (rc == 0 && values [EVENT_DETAIL])
        rc = s_string_value (values [EVENT_DETAIL], "detail", WIRE_MAX_DETAIL,
                             zone, &event->detail, error, error_size);
    if (rc == 0 && values [EVENT_LEVEL])
        rc = s_event_level (values [EVENT_LEVEL], &event->level, error, error_size);
    if (rc == 0 && values [EVENT_LABELS])
        rc = s_labels_value (values [EVENT_LABELS], "labels", &event->has_labels, zone,
                             &event->labels, &event->label_count, error, error_size);
    if (rc == 0 && values [EVENT_AGE])
        rc = s_event_age (values [EVENT_AGE], &event->age, error, error_size);
    return rc;
}

//  Room for count zeroed events in the batch's zone. 0 / -1.
static int
s_batch_events (wire_batch_t *batch, size_t count)
{
    batch->events = (wire_event_t *) msgpack_zone_malloc (batch->zone,
                                                          count * sizeof (wire_event_t));
    if (!batch->events)
        return -1;
    memset (batch->events, 0, count * sizeof (wire_event_t));
    batch->event_count = count;
    return 0;
}

//  Reads the alerts array; errors are prefixed "alerts[N].".
static int
s_batch_alerts (const msgpack_object *alerts, int64_t now_ms, wire_batch_t *batch,
                char *error, size_t error_size)
{
    if (!alerts)
        return S_MALFORMED ("alerts: missing");
    if (alerts->type != MSGPACK_OBJECT_ARRAY)
        return S_MALFORMED ("alerts: not an array");
    if (alerts->via.array.size == 0)
        return S_MALFORMED ("alerts: empty");
    if (alerts->via.array.size > WIRE_MAX_BATCH)
        return S_MALFORMED ("alerts: more than %d alerts", WIRE_MAX_BATCH);
    if (s_batch_events (batch, alerts->via.array.size))
        return S_NO_MEMORY ();
    for (size_t index = 0; index < batch->event_count; index++) {
        const msgpack_object *map = &alerts->via.array.ptr [index];
        if (map->type != MSGPACK_OBJECT_MAP)
            return S_MALFORMED ("alerts[%zu]: not a map", index);
        const msgpack_object *values [EVENT_FIELDS];
        s_get_fields (map, s_event_fields, EVENT_FIELDS, values);
        char reason [WIRE_ERROR_SIZE];     //  written when rc says so
        int rc = s_event_from_values (values, now_ms, batch->zone, &batch->events [index],
                                      reason, sizeof reason);
        if (rc == -1)
            return S_NO_MEMORY ();
        if (rc)
            return S_MALFORMED ("alerts[%zu].%s", index, reason);
    }
    return 0;
}

//  The keys of a batch (the version is the walk's, s_check_version; the
//  fast path reads it here).
typedef enum {
    BATCH_TX, BATCH_SOURCE, BATCH_REPLACE, BATCH_SENT, BATCH_ALERTS, BATCH_VERSION,
    BATCH_FIELDS
} s_batch_field_t;

static const s_field_t s_batch_fields [BATCH_FIELDS] = {
    [BATCH_TX] = S_FIELD ("tx"), [BATCH_SOURCE] = S_FIELD ("source"),
    [BATCH_REPLACE] = S_FIELD ("replace"), [BATCH_SENT] = S_FIELD ("sent"),
    [BATCH_ALERTS] = S_FIELD ("alerts"), [BATCH_VERSION] = S_FIELD ("v"),
};

//  Reads the batch's own fields, found as values (s_batch_fields).
static int
s_batch_header (const msgpack_object **values, wire_batch_t *batch,
                char *error, size_t error_size)
{
    bool present = false;
    int rc = s_name_value (values [BATCH_TX], "tx", batch->zone, &batch->tx, error, error_size);
    if (rc == 0)
        rc = s_name_value (values [BATCH_SOURCE], "source", batch->zone, &batch->source,
                           error, error_size);
    if (rc == 0)
        rc = s_bool_value (values [BATCH_REPLACE], "replace", &present, &batch->replace,
                           error, error_size);
    if (rc == 0)
        rc = s_int_value (values [BATCH_SENT], "sent", &present, &batch->sent, error, error_size);
    if (rc == 0 && batch->sent < 0)
        rc = S_MALFORMED ("sent: negative");
    return rc;
}

//  The reference reading of an ingest frame: walk it into msgpack objects,
//  then read the fields off them.
static int
s_batch_reference (const void *data, size_t size, int64_t now_ms, wire_batch_t *batch,
                   char *error, size_t error_size)
{
    msgpack_object root;
    int rc = s_unpack (batch->zone, &root, (const char *) data, size, error, error_size);
    const msgpack_object *values [BATCH_FIELDS];
    if (rc == 0) {
        s_get_fields (&root, s_batch_fields, BATCH_FIELDS, values);
        rc = s_batch_header (values, batch, error, error_size);
    }
    if (rc == 0)
        rc = s_batch_alerts (values [BATCH_ALERTS], now_ms, batch, error, error_size);
    return rc;
}

//  --- The fast path for ingest frames ---
//
//  A heartbeat frame read straight off its bytes: keys as they come, each
//  value taken as s_walk would build it, and the same readers
//  (s_batch_header, s_event_from_values) turn the values into the batch.
//  No object tree, no scan of each map for its keys: a heartbeat frame
//  decodes in 106 ns instead of 151 (best of 20, in a loop on one core),
//  and the broker takes a fifth more heartbeats a second; 75 ns since
//  keys, names and short strings are read a word at a time. It gives up on
//  anything it does not read whole and accept, and wire_batch_decode then
//  reads the frame the reference way, which accepts or refuses it and says
//  why: the fast path decides nothing by itself. Every frame it accepts,
//  the reference accepts into the same batch (test_wire and the fuzz target
//  compare the two).

typedef struct {
    const unsigned char *bytes;
    size_t size;
    size_t offset;
} s_cursor_t;

//  The element at the cursor as s_walk builds it: a scalar, or a checked
//  string, whole; a container as its header only (type and count; its
//  elements follow). 0, or -1 for anything the reference must look at.
static inline S_HOT int
s_fast_element (s_cursor_t *cursor, msgpack_object *object)
{
    size_t start = cursor->offset;
    s_kind_t kind;
    uint64_t count;
    if (start >= cursor->size
    ||  s_read_header (cursor->bytes, cursor->size, &cursor->offset, &kind, &count, NULL, 0))
        return -1;
    if (kind == S_SCALAR)
        s_build_scalar (cursor->bytes + start, object);
    else
    if (kind == S_STRING) {
        if (s_check_string (cursor->bytes, cursor->size, &cursor->offset, count, NULL, 0))
            return -1;
        *object = (msgpack_object) { .type = MSGPACK_OBJECT_STR, .via.str = {
            (uint32_t) count, (const char *) cursor->bytes + cursor->offset - count } };
    }
    else
    if (count > cursor->size - cursor->offset)
        return -1;
    else
    if (kind == S_MAP)
        *object = (msgpack_object) { .type = MSGPACK_OBJECT_MAP, .via.map.size = (uint32_t) count };
    else
        *object = (msgpack_object) { .type = MSGPACK_OBJECT_ARRAY,
                                     .via.array.size = (uint32_t) count };
    return 0;
}

//  s_fast_key for any key: read as an element, compared byte by byte.
static __attribute__ ((noinline)) int
s_fast_key_read (s_cursor_t *cursor, const s_field_t *fields, size_t count, uint32_t *seen,
                 int *field)
{
    msgpack_object key;
    if (s_fast_element (cursor, &key) || key.type != MSGPACK_OBJECT_STR)
        return -1;
    *field = -1;
    for (size_t index = 0; index < count; index++)
        if (s_is_field (&key.via.str, &fields [index])) {
            if (!(*seen & (1u << index)))
                *field = (int) index;
            *seen |= 1u << index;
            break;
        }
    return 0;
}

//  Reads the key at the cursor: *field is its index among fields, or -1
//  for a key that is not one of them or was seen before in this map (the
//  first wins, as in s_get_fields). 0, or -1 if the key is not a string.
//  The common key, a fixstr of at most 8 bytes with 8 bytes to read after
//  its head, is compared as one word with each field's, inline (a byte
//  loop per field, and the call, were a fifth of a heartbeat's decode,
//  perf); a key that is a field's name is ASCII, so it needs no further
//  check. Any other key is s_fast_key_read's.
static inline S_HOT int
s_fast_key (s_cursor_t *cursor, const s_field_t *fields, size_t count, uint32_t *seen,
            int *field)
{
    static const unsigned char masks [S_FIELD_BYTES + 1][S_FIELD_BYTES] = {
        { 0 }, { 255 }, { 255, 255 }, { 255, 255, 255 }, { 255, 255, 255, 255 },
        { 255, 255, 255, 255, 255 }, { 255, 255, 255, 255, 255, 255 },
        { 255, 255, 255, 255, 255, 255, 255 }, { 255, 255, 255, 255, 255, 255, 255, 255 }
    };
    size_t at = cursor->offset;
    if (cursor->size - at > S_FIELD_BYTES && (cursor->bytes [at] & 0xe0) == 0xa0
    &&  (cursor->bytes [at] & 0x1f) <= S_FIELD_BYTES) {
        size_t length = cursor->bytes [at] & 0x1f;
        uint64_t word, mask, name;
        memcpy (&word, cursor->bytes + at + 1, 8);
        memcpy (&mask, masks [length], 8);
        word &= mask;
        for (size_t index = 0; index < count; index++) {
            memcpy (&name, fields [index].name, 8);
            if (fields [index].size == length && name == word) {
                *field = *seen & (1u << index) ? -1 : (int) index;
                *seen |= 1u << index;
                cursor->offset = at + 1 + length;
                return 0;
            }
        }
    }
    return s_fast_key_read (cursor, fields, count, seen, field);
}

//  Steps over a value nobody reads, checking it as the walk would; it sits
//  inside `outer` open containers.
static int
s_fast_skip (s_cursor_t *cursor, size_t outer)
{
    return s_walk_object (cursor->bytes, cursor->size, &cursor->offset, outer, NULL, NULL,
                          NULL, 0) ? -1 : 0;
}

//  Reads one event map of `pairs` entries (the map is the third open
//  container) into event. Labels are walked into zone whole.
static int
s_fast_event (s_cursor_t *cursor, uint32_t pairs, int64_t now_ms, msgpack_zone *zone,
              wire_event_t *event)
{
    msgpack_object found [EVENT_FIELDS];
    const msgpack_object *values [EVENT_FIELDS] = { NULL };
    uint32_t seen = 0;
    for (uint32_t pair = 0; pair < pairs; pair++) {
        int field;
        if (s_fast_key (cursor, s_event_fields, EVENT_FIELDS, &seen, &field))
            return -1;
        msgpack_object *value = field >= 0 ? &found [field] : NULL;
        int rc = !value ? s_fast_skip (cursor, 3)
               : field == EVENT_LABELS
               ? (s_walk_object (cursor->bytes, cursor->size, &cursor->offset, 3, zone, value,
                                 NULL, 0) ? -1 : 0)
               : s_fast_element (cursor, value);
        if (rc || (value && field != EVENT_LABELS && (value->type == MSGPACK_OBJECT_MAP
                                                   || value->type == MSGPACK_OBJECT_ARRAY)))
            return -1;
        if (value && value->type != MSGPACK_OBJECT_NIL)
            values [field] = value;
    }
    return s_event_from_values (values, now_ms, zone, event, NULL, 0) ? -1 : 0;
}

//  Reads the alerts array whose header the cursor is at (the second open
//  container) into the batch.
static int
s_fast_alerts (s_cursor_t *cursor, int64_t now_ms, wire_batch_t *batch)
{
    msgpack_object alerts, map;
    if (s_fast_element (cursor, &alerts) || alerts.type != MSGPACK_OBJECT_ARRAY
    ||  alerts.via.array.size == 0 || alerts.via.array.size > WIRE_MAX_BATCH
    ||  s_batch_events (batch, alerts.via.array.size))
        return -1;
    for (size_t index = 0; index < batch->event_count; index++)
        if (s_fast_element (cursor, &map) || map.type != MSGPACK_OBJECT_MAP
        ||  s_fast_event (cursor, map.via.map.size, now_ms, batch->zone, &batch->events [index]))
            return -1;
    return 0;
}

//  The whole frame, or -1.
static int
s_fast_batch (const void *data, size_t size, int64_t now_ms, wire_batch_t *batch)
{
    s_cursor_t cursor = { (const unsigned char *) data, size, 0 };
    msgpack_object root;
    if (!data || s_fast_element (&cursor, &root) || root.type != MSGPACK_OBJECT_MAP)
        return -1;
    msgpack_object found [BATCH_FIELDS];
    const msgpack_object *values [BATCH_FIELDS] = { NULL };
    uint32_t seen = 0;
    bool alerts_read = false;
    for (uint32_t pair = 0; pair < root.via.map.size; pair++) {
        int field;
        if (s_fast_key (&cursor, s_batch_fields, BATCH_FIELDS, &seen, &field))
            return -1;
        int rc = field < 0 ? s_fast_skip (&cursor, 1)
               : field == BATCH_ALERTS ? s_fast_alerts (&cursor, now_ms, batch)
               : s_fast_element (&cursor, &found [field]);
        if (rc)
            return -1;
        alerts_read |= field == BATCH_ALERTS;
        if (field >= 0 && field != BATCH_ALERTS) {
            if (found [field].type == MSGPACK_OBJECT_MAP || found [field].type == MSGPACK_OBJECT_ARRAY)
                return -1;
            if (found [field].type != MSGPACK_OBJECT_NIL)
                values [field] = &found [field];
        }
    }
    if (cursor.offset != size || !alerts_read
    ||  s_version_value (values [BATCH_VERSION], NULL, 0))
        return -1;
    return s_batch_header (values, batch, NULL, 0) ? -1 : 0;
}

//  A batch's zone grows in chunks this big: a frame of 50 heartbeats
//  (objects, events, copies: about 12 KiB) fits in one, so decoding it
//  allocates nothing.
#define WIRE_BATCH_CHUNK (16 * 1024)

//  Empties the batch for a decode, keeping (or making) its zone. 0 / -1.
static int
s_batch_reset (wire_batch_t *batch)
{
    msgpack_zone *zone = batch->zone;
    if (zone)
        msgpack_zone_clear (zone);
    else
    if (!(zone = msgpack_zone_new (WIRE_BATCH_CHUNK)))
        return -1;
    *batch = (wire_batch_t) { .zone = zone };
    return 0;
}

int
wire_batch_decode_reference (const void *data, size_t size, int64_t now_ms,
                             wire_batch_t *batch, char *error, size_t error_size)
{
    if (s_batch_reset (batch))
        return S_NO_MEMORY ();
    //  No copy of the frame: the objects point into data, and every string
    //  the batch keeps is copied into the zone
    int rc = s_batch_reference (data, size, now_ms, batch, error, error_size);
    if (rc)
        *batch = (wire_batch_t) { .zone = batch->zone };
    return rc;
}

int
wire_batch_decode (const void *data, size_t size, int64_t now_ms,
                   wire_batch_t *batch, char *error, size_t error_size)
{
    if (s_batch_reset (batch))
        return S_NO_MEMORY ();
    if (s_fast_batch (data, size, now_ms, batch) == 0)
        return 0;
    return wire_batch_decode_reference (data, size, now_ms, batch, error, error_size);
}

void
wire_batch_free (wire_batch_t *batch)
{
    if (!batch)
        return;
    if (batch->zone)
        msgpack_zone_free (batch->zone);
    *batch = (wire_batch_t) { 0 };
}

//  --------------------------------------------------------------------------
//  Transmission ids

int
wire_make_tx (char *tx, size_t size)
{
    unsigned char bytes [(WIRE_TX_SIZE - 1) / 2];
    size_t have = 0;
    if (size < WIRE_TX_SIZE)
        return -1;
    while (have < sizeof bytes) {
        ssize_t got = getrandom (bytes + have, sizeof bytes - have, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        have += (size_t) got;
    }
    for (size_t index = 0; index < sizeof bytes; index++)
        snprintf (tx + 2 * index, 3, "%02x", bytes [index]);
    return 0;
}
