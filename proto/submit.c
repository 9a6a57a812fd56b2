/*  submit.c — a submit request's events checked one by one. See submit.h.

    The fast case is the ingest decoder on the whole request. When that
    fails, the request is checked and unpacked (wire_doc_new, so nothing
    hostile reaches msgpack-c unwalked), each element of `alerts` is packed
    alone as {v: 1, alerts: [element]} and decoded, and the request is
    packed again with the elements that decoded, for one last decode into
    the caller's batch. The reason of a refused element loses the decoder's
    "alerts[0]." prefix, which would name the wrong place.
*/
#include <string.h>
#include "error_text.h"
#include "mem.h"
#include "submit.h"

#define SUBMIT_PREFIX "alerts[0]"

void
submit_refusals_free (submit_refusals_t *refused)
{
    for (size_t index = 0; index < refused->count; index++)
        mem_free (refused->items [index].id);
    mem_free (refused->items);
    refused->items = NULL;
    refused->count = 0;
}

void
submit_refuse (submit_refusals_t *refused, size_t index, const char *id, const char *reason)
{
    refused->items = mem_realloc (refused->items,
                                  (refused->count + 1) * sizeof (submit_refusal_t));
    size_t at = refused->count;
    while (at > 0 && refused->items [at - 1].index > index) {
        refused->items [at] = refused->items [at - 1];
        at--;
    }
    refused->count++;
    submit_refusal_t *item = &refused->items [at];
    item->index = index;
    item->id = id ? mem_strdup (id) : NULL;
    snprintf (item->reason, sizeof item->reason, "%s", reason);
}

void
submit_refusals_pack (msgpack_packer *packer, const submit_refusals_t *refused)
{
    wire_pack_key (packer, "refused");
    msgpack_pack_array (packer, refused->count);
    for (size_t index = 0; index < refused->count; index++) {
        const submit_refusal_t *item = &refused->items [index];
        msgpack_pack_map (packer, item->id ? 3 : 2);
        wire_pack_key_int (packer, "index", (int64_t) item->index);
        if (item->id)
            wire_pack_key_string (packer, "id", item->id);
        wire_pack_key_string (packer, "reason", item->reason);
    }
}

static void
s_refuse (submit_refusals_t *refused, size_t index, const msgpack_object *element,
          const char *reason)
{
    refused->items = mem_realloc (refused->items,
                                  (refused->count + 1) * sizeof (submit_refusal_t));
    submit_refusal_t *item = &refused->items [refused->count++];
    item->index = index;
    item->id = NULL;
    char ignored [WIRE_ERROR_SIZE];
    if (wire_get_name (element, "id", &item->id, ignored, sizeof ignored))
        item->id = NULL;
    if (strncmp (reason, SUBMIT_PREFIX, strlen (SUBMIT_PREFIX)) == 0) {
        reason += strlen (SUBMIT_PREFIX);
        reason += strspn (reason, ".: ");
    }
    snprintf (item->reason, sizeof item->reason, "%s", *reason ? reason : "invalid event");
}

//  Decodes element alone; 0, or WIRE_MALFORMED with the reason.
static int
s_check_element (const msgpack_object *element, int64_t now_ms, wire_writer_t *scratch,
                 wire_batch_t *alone, char *error, size_t error_size)
{
    wire_writer_reset (scratch);
    msgpack_pack_map (&scratch->packer, 2);
    wire_pack_key_int (&scratch->packer, "v", WIRE_VERSION);
    wire_pack_key (&scratch->packer, "alerts");
    msgpack_pack_array (&scratch->packer, 1);
    msgpack_pack_object (&scratch->packer, *element);
    return wire_batch_decode (scratch->buffer.data, scratch->buffer.size, now_ms, alone,
                              error, error_size);
}

//  Packs root again with only the elements of alerts not refused.
static void
s_repack (const msgpack_object *root, const msgpack_object *alerts,
          const submit_refusals_t *refused, wire_writer_t *out)
{
    wire_writer_reset (out);
    msgpack_pack_map (&out->packer, root->via.map.size);
    for (uint32_t index = 0; index < root->via.map.size; index++) {
        const msgpack_object_kv *pair = &root->via.map.ptr [index];
        msgpack_pack_object (&out->packer, pair->key);
        if (&pair->val != alerts) {
            msgpack_pack_object (&out->packer, pair->val);
            continue;
        }
        msgpack_pack_array (&out->packer, alerts->via.array.size - (uint32_t) refused->count);
        size_t next = 0;
        for (uint32_t element = 0; element < alerts->via.array.size; element++) {
            if (next < refused->count && refused->items [next].index == element) {
                next++;
                continue;
            }
            msgpack_pack_object (&out->packer, alerts->via.array.ptr [element]);
        }
    }
}

int
submit_decode (const void *data, size_t size, int64_t now_ms, wire_batch_t *batch,
               submit_refusals_t *refused, char *error, size_t error_size)
{
    memset (refused, 0, sizeof *refused);
    if (wire_batch_decode (data, size, now_ms, batch, error, error_size) == 0)
        return 0;
    char whole [WIRE_ERROR_SIZE];
    snprintf (whole, sizeof whole, "%s", error);
    wire_doc_t *doc = wire_doc_new (data, size, error, error_size);
    if (!doc)
        return WIRE_MALFORMED;
    const msgpack_object *root = wire_doc_root (doc);
    const msgpack_object *alerts = wire_get (root, "alerts");
    int rc = WIRE_MALFORMED;
    if (alerts && alerts->type == MSGPACK_OBJECT_ARRAY) {
        wire_writer_t scratch;
        wire_writer_init (&scratch);
        wire_batch_t alone = WIRE_BATCH_EMPTY;
        char reason [WIRE_ERROR_SIZE];
        for (uint32_t index = 0; index < alerts->via.array.size; index++)
            if (s_check_element (&alerts->via.array.ptr [index], now_ms, &scratch, &alone,
                                 reason, sizeof reason))
                s_refuse (refused, index, &alerts->via.array.ptr [index], reason);
        wire_batch_free (&alone);
        if (refused->count) {
            s_repack (root, alerts, refused, &scratch);
            rc = wire_batch_decode (scratch.buffer.data, scratch.buffer.size, now_ms, batch,
                                    error, error_size);
        }
        wire_writer_free (&scratch);
    }
    if (rc) {
        //  Outside the events: the whole batch is refused, for the first reason
        snprintf (error, error_size, "%s", whole);
        submit_refusals_free (refused);
    }
    wire_doc_destroy (&doc);
    return rc ? WIRE_MALFORMED : 0;
}
