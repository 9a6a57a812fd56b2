/*  submit.h — reading a submit request: an ingest batch whose bad events
    are refused one by one instead of sinking the whole batch (architecture §10).

    A PUSH sender never hears why a frame was dropped, so ingest refuses a
    frame whole at its first bad event. A submit is answered, so a bad
    event costs only itself: the others are applied and the reply lists
    each refused event with its place in the batch, its id and why. The
    validation is the ingest decoder's own (wire_batch_decode), run on the
    batch and, when it fails, on each event alone; only a problem outside
    the events (the map, v, tx, source, replace, sent, the alerts array
    itself) refuses the whole batch. Used by the broker's `submit` op and by
    the agent's local submit endpoint.

    Costs: a valid batch is decoded once. One with a bad event is decoded
    again per event and once more without the refused ones.
*/
#ifndef LILAC_SUBMIT_H
#define LILAC_SUBMIT_H

#include <stddef.h>
#include <stdint.h>
#include "wire.h"

//  One refused event.
typedef struct {
    size_t index;                  //  its place in the request's alerts
    char *id;                      //  its id if it had a readable one, else NULL
    char reason [WIRE_ERROR_SIZE]; //  why ("raise: not a time spec")
} submit_refusal_t;

//  The refused events of one request.
typedef struct {
    submit_refusal_t *items;       //  count of them, in batch order
    size_t count;
} submit_refusals_t;

//  Decodes the request (an ingest frame's map, with op and anything else
//  the decoder ignores) into batch (as wire_batch_decode: start it empty,
//  end it with wire_batch_free), resolving times against now_ms. 0: batch
//  holds the valid events in order and refused the others (caller frees
//  with submit_refusals_free); WIRE_MALFORMED: the batch is refused whole,
//  the reason in error, refused empty.
int submit_decode (const void *data, size_t size, int64_t now_ms, wire_batch_t *batch,
                   submit_refusals_t *refused, char *error, size_t error_size);
//  Adds a refusal at index (kept in index order): for a receiver that
//  refuses an event the decoder accepted (an agent whose table is full).
void submit_refuse (submit_refusals_t *refused, size_t index, const char *id,
                    const char *reason);
//  Frees what submit_decode put in refused; it is empty after.
void submit_refusals_free (submit_refusals_t *refused);
//  Packs `refused: [{index, id?, reason}, ...]` into a map being packed.
void submit_refusals_pack (msgpack_packer *packer, const submit_refusals_t *refused);

#endif
