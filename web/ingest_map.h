/*  ingest_map.h — the JSON lilac-web takes in, turned into ingest frames.

    Pure functions, no I/O, no clock: JSON text in, one msgpack ingest
    frame out (wire.h: {v, tx, source, replace?, alerts: [...]}) that
    web/ingest.c sends to the broker as a `submit`, or a reason why not.
    One mapper per dialect:
    - ingest_map_events: lilac's own batch ({tx?, source?, replace?,
      alerts: [{id, raise?, clear?, suppress?, subject?, summary?,
      detail?, level?, labels?}]}), field for field;
    - ingest_map_purppura: purppura's POST /events (one object or an array;
      id, subject, detail, raise, source matched case-insensitively as Go's
      encoding/json does; subject is lilac's summary);
    - ingest_map_alertmanager: Alertmanager API v2 alerts ([{labels,
      annotations, startsAt, endsAt, generatorURL}]), each alert refused
      alone when it cannot be mapped (Prometheus drops a batch answered 4xx);
    - ingest_map_ping: a healthchecks-style ping (no JSON).

    What a mapper checks, with a reason a human can act on
    ("alerts[3].summary: longer than 1024 bytes"): JSON syntax, UTF-8 and
    no NUL in strings (jansson), nesting at most INGEST_MAP_MAX_DEPTH,
    the type of every field it reads, and the byte limits of wire.h
    (WIRE_MAX_*), so that a frame it writes always passes wire_check and is
    never refused whole by the broker's decoder. What it leaves to the
    broker, which refuses such an event alone: whether a time spec, a level
    or a name is valid. Unknown keys are ignored, as on the wire.

    Returns: 0, or WIRE_MALFORMED with the reason in error (the HTTP answer
    is then a 400). Out of memory aborts (mem.h), as everywhere in lilac.
*/
#ifndef LILAC_INGEST_MAP_H
#define LILAC_INGEST_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wire.h"

#define INGEST_MAP_MAX_DEPTH   WIRE_MAX_DEPTH      //  JSON nesting, the root is depth 1
#define INGEST_MAP_BODY_MAX    (1024 * 1024)       //  bytes of JSON read
#define INGEST_MAP_TIME_MAX    64                  //  bytes of a time spec string
#define INGEST_MAP_HASH_MARK   '#'                 //  between alertname and labels' hash

//  Alertmanager's severity label → lilac's level, unless configured.
#define INGEST_MAP_SEVERITY_LEVELS "critical=urgent page=urgent warning=normal info=low"

//  Who sent the body, and what to use when it does not say.
typedef struct {
    const char *peer;              //  the sender's address: the source when none is given
    const char *tx;                //  the batch's tx when the body has none
    const char *source_label;      //  Alertmanager: the label naming the source
    const char *severity_levels;   //  Alertmanager: "SEVERITY=LEVEL ..." (NULL: the default)
    const char *bound_source;      //  a sender bound to a source (a token's): only it,
                                   //  whatever the body says; NULL or "" for none
} ingest_map_options_t;

//  Checks a severity_levels setting: every item SEVERITY=LEVEL. 0, or -1
//  with why in error.
int ingest_map_severity_levels_check (const char *levels, char *error, size_t error_size);

//  One alert the mapper refused (Alertmanager only: the others say 400).
typedef struct {
    size_t index;                  //  its place in the body
    char id [WIRE_MAX_NAME + 1];   //  its id, or what is known of it ("" if nothing)
    char reason [WIRE_ERROR_SIZE]; //  why
} ingest_map_refusal_t;

//  One frame: the events of one source.
typedef struct {
    wire_writer_t frame;           //  the ingest frame
    char tx [WIRE_MAX_NAME + 1];   //  its tx
    char source [WIRE_MAX_NAME + 1];   //  its source
    size_t event_count;            //  events in the frame
    size_t events_at;              //  bytes of the frame before its first event: the
                                   //  events are the rest, whole msgpack maps, so
                                   //  frames of one source can be joined (ingest.c)
    size_t *origin;                //  per event: its place in the body
} ingest_map_batch_t;

//  What a mapper made: one frame, or for Alertmanager one per source (a
//  frame has one source; Prometheus sends alerts of many instances in one
//  POST). The first frame's tx is the body's or the options', the next
//  ones add "-2", "-3"...
typedef struct {
    ingest_map_batch_t *batches;   //  batch_count frames
    size_t batch_count;
    ingest_map_refusal_t *refused; //  refused_count alerts refused here, in body order
    size_t refused_count;
} ingest_map_t;

void ingest_map_init (ingest_map_t *self);
//  Frees what the map holds; it may be used again after ingest_map_init.
void ingest_map_free (ingest_map_t *self);

int ingest_map_events (const char *text, size_t size, const ingest_map_options_t *options,
                       ingest_map_t *out, char *error, size_t error_size);
int ingest_map_purppura (const char *text, size_t size, const ingest_map_options_t *options,
                         ingest_map_t *out, char *error, size_t error_size);
//  Never WIRE_MALFORMED for one bad alert: it goes to out->refused.
int ingest_map_alertmanager (const char *text, size_t size, const ingest_map_options_t *options,
                             ingest_map_t *out, char *error, size_t error_size);

//  A ping of source/id (decoded): status -1 for a plain ping (raise = the
//  raise spec: the heartbeat is refreshed), INGEST_PING_FAIL or an exit
//  status 1-255 (raise now), 0 (clear now, then raise = the raise spec:
//  two events). detail (NULL: none) becomes the events' detail.
#define INGEST_PING_PLAIN   (-1)
#define INGEST_PING_FAIL    (-2)
int ingest_map_ping (const char *source, const char *id, int status, const char *raise,
                     const char *detail, size_t detail_size, const char *tx,
                     ingest_map_t *out, char *error, size_t error_size);

//  An RFC 3339 time ("2026-05-01T10:00:00.123Z", "...+02:00") in ms since
//  the epoch (negative before 1970). 0, or -1 when text is not one.
int ingest_map_rfc3339 (const char *text, int64_t *ms);
//  The id of an Alertmanager alert: alertname{k="v",...} with the labels
//  (less alertname and skip, NULL for none) sorted by name, values escaped
//  as Prometheus does; alertname#HASH (16 hex digits of a hash of every
//  label) when that is not a valid name (longer than WIRE_MAX_NAME bytes,
//  or with control characters). keys/values: count pairs, any order.
//  0, or -1 when not even alertname#HASH is a valid name.
int ingest_map_am_id (const char *const *keys, const char *const *values, size_t count,
                      const char *skip, char *id, size_t id_size);

#endif
