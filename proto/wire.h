/*  wire.h — lilac's msgpack protocol: checking untrusted frames, reading and
    writing the three message families of architecture §3.

    Every frame from outside goes through wire_check() before msgpack-c sees
    it. msgpack-c allocates for a declared array/map count before reading the
    elements, so "dd ff 00 00 00" would ask it for gigabytes: wire_check walks
    the bytes itself and refuses, with a reason, a frame that is truncated,
    has trailing bytes, nests deeper than WIRE_MAX_DEPTH, declares more
    elements than bytes remain, uses ext or bin types, or holds a string that
    is not UTF-8 or longer than WIRE_MAX_STRING. Only then wire_doc_new()
    unpacks it. Field-level checks (types, per-field limits, required keys)
    are in the typed getters and in wire_batch_decode().

    Families (every map carries "v": 1; unknown keys are ignored):
    - ingest, one frame:
        {v, tx?, source?, replace?, sent?, alerts: [{id, raise?, clear?,
         suppress?, subject?, summary?, detail?, level?, labels?, age?}, ...]}
      raise/clear/suppress are time specs (timespec.h) as strings, or
      integers (seconds since the epoch).
    - change, two frames [topic, body]: topic "EVENT.LEVEL.SOURCE.ID",
      body {v, seq, at, event, alert: {...alert_pack()...}, epoch};
      and "hugz" with body {v, seq, at, epoch, boot, degraded?,
      degraded_since?}. Times are ms since the epoch.
    - control: request {v, op, ...}, reply {v, ok, error?, ...}.

    Return convention: 0 ok, WIRE_MALFORMED (-2) for bad input, with a human
    reason in `error` ("alerts[3].raise: not a time spec").
*/
#ifndef LILAC_WIRE_H
#define LILAC_WIRE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION        1
#define WIRE_MALFORMED      (-2)
#define WIRE_ERROR_SIZE     256        //  enough for any decode error text

#define WIRE_MAX_DEPTH      8          //  nesting of arrays/maps, the root is depth 1
#define WIRE_MAX_STRING     65536      //  bytes in any one string
#define WIRE_MAX_NAME       255        //  bytes in source, id, subject, tx, op, by
#define WIRE_MAX_SUMMARY    1024       //  bytes in summary (phones show ~100 chars)
#define WIRE_MAX_DETAIL     65536      //  bytes in detail
#define WIRE_MAX_AGE_MS     (3650LL * 24 * 3600 * 1000)    //  an event's age, at most
#define WIRE_MAX_NOTE       1024       //  bytes in an ack note
#define WIRE_MAX_LABELS     32         //  labels per alert
#define WIRE_MAX_LABEL_KEY  64         //  bytes in a label key
#define WIRE_MAX_LABEL_VALUE 256       //  bytes in a label value
#define WIRE_MAX_BATCH      10000      //  alerts in one ingest frame
#define WIRE_MAX_TOPIC      (16 + 8 + 2 * WIRE_MAX_NAME + 4)

//  --- checking and reading untrusted frames --------------------------------

//  Structural check of one frame (see above). Returns 0 or WIRE_MALFORMED.
int wire_check (const void *data, size_t size, char *error, size_t error_size);

//  A checked, unpacked frame. The root must be a map with "v": 1.
typedef struct _wire_doc_t wire_doc_t;
//  Checks and unpacks; NULL with a reason in error if malformed.
wire_doc_t *wire_doc_new (const void *data, size_t size, char *error, size_t error_size);
void wire_doc_destroy (wire_doc_t **self_p);
const msgpack_object *wire_doc_root (wire_doc_t *self);

//  map[key], or NULL when absent (or map is not a map).
const msgpack_object *wire_get (const msgpack_object *map, const char *key);

//  Typed getters. Absent: *present = false (if given), value untouched, 0.
//  A nil value counts as absent (wire_pack_string packs NULL as nil).
//  Out of memory: -1 with "out of memory" in error.
//  Wrong type or too long: WIRE_MALFORMED with "key: why" in error.
//  wire_get_string copies into a fresh NUL-terminated string (caller frees);
//  strings with NUL bytes are refused.
int wire_get_string (const msgpack_object *map, const char *key, size_t max_bytes,
                     char **value, char *error, size_t error_size);
//  As wire_get_string, and also refuses empty strings and control characters:
//  for source, id, tx, op, by.
int wire_get_name (const msgpack_object *map, const char *key,
                   char **value, char *error, size_t error_size);
int wire_get_int (const msgpack_object *map, const char *key, bool *present,
                  int64_t *value, char *error, size_t error_size);
int wire_get_bool (const msgpack_object *map, const char *key, bool *present,
                   bool *value, char *error, size_t error_size);
//  A time spec as a string, or integer seconds since the epoch, resolved
//  against now_ms (see timespec.h). *is_clear set for "clear".
int wire_get_time (const msgpack_object *map, const char *key, int64_t now_ms,
                   bool *present, int64_t *when_ms, bool *is_clear,
                   char *error, size_t error_size);

//  True if text is a valid name: 1..WIRE_MAX_NAME bytes, valid UTF-8, no
//  control characters.
bool wire_name_valid (const char *text);
//  True if the bytes are valid UTF-8 (no overlongs, no surrogates).
bool wire_utf8_valid (const char *text, size_t size);

//  --- writing ----------------------------------------------------------------

//  A growable msgpack buffer with its packer.
typedef struct {
    msgpack_sbuffer buffer;        //  bytes written so far
    msgpack_packer packer;         //  writes into buffer
} wire_writer_t;

void wire_writer_init (wire_writer_t *writer);
void wire_writer_reset (wire_writer_t *writer);     //  empty it, keep memory
void wire_writer_free (wire_writer_t *writer);

//  Pack helpers. A NULL string packs as nil.
void wire_pack_string (msgpack_packer *packer, const char *text);
void wire_pack_key_string (msgpack_packer *packer, const char *key, const char *text);
void wire_pack_key_int (msgpack_packer *packer, const char *key, int64_t value);
void wire_pack_key_bool (msgpack_packer *packer, const char *key, bool value);
//  Packs the key only; the caller packs the value next.
void wire_pack_key (msgpack_packer *packer, const char *key);

//  --- ingest batches ---------------------------------------------------------

#define WIRE_TX_SIZE        33         //  a tx id: 16 random bytes in hex, and NUL

//  Writes a fresh random transmission id into tx (WIRE_TX_SIZE bytes).
//  Returns 0, or -1 if the kernel gave no randomness.
int wire_make_tx (char *tx, size_t size);

typedef struct {
    char *key;                     //  label name
    char *value;                   //  label value
} wire_label_t;

//  Labels: a map of at most WIRE_MAX_LABELS pairs, keys 1..WIRE_MAX_LABEL_KEY
//  bytes without control characters (no repeats), values strings of at most
//  WIRE_MAX_LABEL_VALUE bytes. On success *labels / *count are a fresh array
//  (NULL / 0 for an empty map) that the caller frees with alert_free_labels.
//  Absent: *present = false, labels untouched, 0. (Added for alert.c and
//  wire_batch_decode, which both read labels.)
int wire_get_labels (const msgpack_object *map, const char *key, bool *present,
                     wire_label_t **labels, size_t *count, char *error, size_t error_size);

typedef struct {
    char *id;                      //  required name
    bool has_raise;                //  raise given?
    bool raise_clear;              //  raise was "clear"
    int64_t raise_at;              //  ms, resolved against the receive time
    bool has_clear;                //  clear given?
    int64_t clear_at;              //  ms ("clear" as a clear time means now)
    bool has_suppress;             //  suppress given?
    int64_t suppress_until;        //  ms
    char *subject;                 //  NULL when absent
    char *summary;                 //  NULL when absent
    char *detail;                  //  NULL when absent
    int level;                     //  alert_level_t, or -1 when absent
    bool has_labels;               //  labels given (possibly empty: drops labels)
    wire_label_t *labels;          //  label_count entries
    size_t label_count;
    int64_t age;                   //  ms the sender held it before sending; 0 fresh
} wire_event_t;

//  A decoded ingest frame. Its events, strings and labels live in its zone,
//  which the next decode into the same batch reuses: a batch starts zeroed
//  (WIRE_BATCH_EMPTY), may be decoded into any number of times (each decode
//  drops what the last one left), and ends with wire_batch_free.
typedef struct {
    char *tx;                      //  transmission id or NULL
    char *source;                  //  claimed source or NULL
    bool replace;                  //  clear this source's alerts not in the batch
    int64_t sent;                  //  sender's clock, ms, 0 when absent
    wire_event_t *events;          //  event_count entries, in frame order
    size_t event_count;
    msgpack_zone *zone;            //  holds all of the above; NULL before the first decode
} wire_batch_t;

#define WIRE_BATCH_EMPTY { 0 }

//  Decodes and validates an ingest frame into batch, resolving relative
//  times against now_ms. On failure batch holds no events.
int wire_batch_decode (const void *data, size_t size, int64_t now_ms,
                       wire_batch_t *batch, char *error, size_t error_size);
//  Frees the batch's memory and leaves it empty; NULL is a no-op.
void wire_batch_free (wire_batch_t *batch);
//  wire_batch_decode reads a frame straight off its bytes when it can, and
//  falls back to walking it into msgpack objects and reading those. This is
//  the second way alone, for tests that check the two agree.
int wire_batch_decode_reference (const void *data, size_t size, int64_t now_ms,
                                 wire_batch_t *batch, char *error, size_t error_size);

#endif
