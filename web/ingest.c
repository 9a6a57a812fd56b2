/*  ingest.c — lilac-web's ingest routes. See ingest.h.

    A route maps the body (ingest_map.c), sends each frame as a submit
    request (web_call; an Alertmanager POST makes one per source) and keeps
    an s_call_t until every reply is in: the accepted count, the refusals
    (local ones and the broker's, each at its place in the body), and
    whether the broker was away or refused a batch whole. The last reply
    answers the HTTP request. The broker's reply lists at most
    CTL_MAX_REFUSED refusals per batch; beyond that a refusal without an
    index says how many more there were.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ingest.h"
#include "ingest_map.h"
#include "mem.h"
#include "timespec.h"

typedef enum { DIALECT_EVENTS, DIALECT_PURPPURA, DIALECT_PING, DIALECT_ALERTMANAGER } s_dialect_t;

typedef struct _s_call_t s_call_t;

//  One submit in flight: its call and which batch of the map it carries.
typedef struct {
    s_call_t *call;
    size_t batch;
} s_part_t;

//  One refusal, at its place in the body.
typedef struct {
    int64_t index;                 //  -1: "and N more"
    char id [WIRE_MAX_NAME + 1];
    char reason [WIRE_ERROR_SIZE];
} s_refusal_t;

struct _s_call_t {
    s_dialect_t dialect;
    ingest_map_t map;              //  the frames and the local refusals
    s_part_t *parts;               //  one per batch
    size_t waiting;                //  replies still to come
    int64_t accepted;              //  events the broker applied
    s_refusal_t *refused;          //  refused_count of them
    size_t refused_count;
    bool unavailable;              //  no answer, or degraded: 503
    bool refused_whole;            //  a batch refused whole: 400
    char why [WIRE_ERROR_SIZE + 64];   //  the broker's words for either
};

static void
s_refuse (s_call_t *call, int64_t index, const char *id, const char *reason)
{
    call->refused = mem_realloc (call->refused, (call->refused_count + 1) * sizeof (s_refusal_t));
    s_refusal_t *refusal = &call->refused [call->refused_count++];
    refusal->index = index;
    snprintf (refusal->id, sizeof refusal->id, "%s", id ? id : "");
    snprintf (refusal->reason, sizeof refusal->reason, "%s", reason);
}

static void
s_call_destroy (s_call_t **call_p)
{
    s_call_t *call = *call_p;
    ingest_map_free (&call->map);
    mem_free (call->parts);
    mem_free (call->refused);
    mem_free (call);
    *call_p = NULL;
}

static int
s_compare_refusals (const void *left, const void *right)
{
    int64_t a = ((const s_refusal_t *) left)->index, b = ((const s_refusal_t *) right)->index;
    return (a < 0) - (b < 0) ? (a < 0) - (b < 0) : (a > b) - (a < b);
}

//  {tx?, accepted, refused: [{index, id, reason}]}, or NULL out of memory.
static json_t *
s_result_json (s_call_t *call)
{
    if (call->refused_count)
        qsort (call->refused, call->refused_count, sizeof (s_refusal_t), s_compare_refusals);
    json_t *refused = json_array ();
    for (size_t index = 0; refused && index < call->refused_count; index++) {
        s_refusal_t *refusal = &call->refused [index];
        json_t *item = refusal->index < 0
                     ? json_pack ("{s:s}", "reason", refusal->reason)
                     : json_pack ("{s:I,s:s,s:s}", "index", (json_int_t) refusal->index,
                                  "id", refusal->id, "reason", refusal->reason);
        if (!item || json_array_append_new (refused, item)) {
            json_decref (refused);
            return NULL;
        }
    }
    if (!refused)
        return NULL;
    json_t *result = json_pack ("{s:I,s:o}", "accepted", (json_int_t) call->accepted,
                                "refused", refused);
    if (result && call->dialect == DIALECT_EVENTS && call->map.batch_count
    &&  json_object_set_new (result, "tx", json_string (call->map.batches [0].tx))) {
        json_decref (result);
        return NULL;
    }
    return result;
}

//  For purppura and pings, which answer "OK" or an error: the refusals as
//  one sentence.
static void
s_refusals_text (s_call_t *call, char *text, size_t size)
{
    size_t length = (size_t) snprintf (text, size, "refused:");
    for (size_t index = 0; index < call->refused_count && length < size; index++) {
        s_refusal_t *refusal = &call->refused [index];
        length += (size_t) snprintf (text + length, size - length, "%s %.255s%s%s",
                                     index ? ";" : "", refusal->id, *refusal->id ? ": " : "",
                                     refusal->reason);
    }
}

//  The HTTP answer, once every reply is in.
static void
s_answer (http_request_t *request, s_call_t *call)
{
    char text [2048];
    if (call->unavailable) {
        snprintf (text, sizeof text, "the broker cannot take events now (%s): try again later",
                  call->why);
        http_resume_json (request, MHD_HTTP_SERVICE_UNAVAILABLE, json_pack ("{s:s}", "error", text));
    }
    else
    if (call->refused_whole)
        http_resume_json (request, MHD_HTTP_BAD_REQUEST, json_pack ("{s:s}", "error", call->why));
    else
    if (call->dialect == DIALECT_EVENTS || call->dialect == DIALECT_ALERTMANAGER)
        http_resume_json (request, MHD_HTTP_OK, s_result_json (call));
    else
    if (call->refused_count) {
        s_refusals_text (call, text, sizeof text);
        http_resume_json (request, MHD_HTTP_BAD_REQUEST, json_pack ("{s:s}", "error", text));
    }
    else
        http_resume_text (request, MHD_HTTP_OK, "text/plain", "OK");
}

//  What one submit reply says, into the call.
static void
s_take_reply (s_call_t *call, size_t batch_index, wire_doc_t *reply, const char *why,
              http_request_t *request)
{
    ctl_submit_reply_t *out = mem_alloc (sizeof (ctl_submit_reply_t));
    char error [WIRE_ERROR_SIZE];
    if (!reply) {
        call->unavailable = true;
        snprintf (call->why, sizeof call->why, "%s", why);
    }
    else
    if (ctl_submit_decode (reply, out, error, sizeof error)) {
        call->unavailable = true;
        snprintf (call->why, sizeof call->why, "a malformed reply: %s", error);
    }
    else
    if (!out->ok && (out->retry_after > 0 || strncmp (out->error, "degraded", 8) == 0)) {
        call->unavailable = true;
        snprintf (call->why, sizeof call->why, "%s", out->error);
        int64_t seconds = (out->retry_after + 999) / 1000;
        http_retry_after (request, seconds < 1 ? 1 : seconds > 3600 ? 3600 : (unsigned) seconds);
    }
    else
    if (!out->ok) {
        call->refused_whole = true;
        snprintf (call->why, sizeof call->why, "%s", out->error);
    }
    else {
        ingest_map_batch_t *batch = &call->map.batches [batch_index];
        call->accepted += out->accepted;
        size_t read = out->refused_count < CTL_MAX_REFUSED ? out->refused_count : CTL_MAX_REFUSED;
        for (size_t index = 0; index < read; index++) {
            ctl_refusal_t *refusal = &out->refused [index];
            int64_t at = refusal->index >= 0 && (size_t) refusal->index < batch->event_count
                       ? (int64_t) batch->origin [refusal->index] : refusal->index;
            s_refuse (call, at, refusal->id, refusal->reason);
        }
        if (out->refused_count > read) {
            snprintf (error, sizeof error, "and %zu more refused", out->refused_count - read);
            s_refuse (call, -1, NULL, error);
        }
    }
    mem_free (out);
}

static void
s_done (web_t *web, http_request_t *request, wire_doc_t *reply, const char *why, void *arg)
{
    (void) web;
    s_part_t *part = arg;
    s_call_t *call = part->call;
    s_take_reply (call, part->batch, reply, why, request);
    wire_doc_destroy (&reply);
    if (--call->waiting == 0) {
        s_answer (request, call);
        s_call_destroy (&call);
    }
}

//  Sends every batch of the call's map that has events (or all, for
//  lilac's own: an empty batch with replace clears a source); answers
//  at once when none goes out.
static enum MHD_Result
s_submit (web_t *web, http_request_t *request, s_call_t *call)
{
    wire_writer_t *requests = mem_alloc ((call->map.batch_count ? call->map.batch_count : 1)
                                         * sizeof (wire_writer_t));
    call->parts = mem_alloc ((call->map.batch_count ? call->map.batch_count : 1)
                             * sizeof (s_part_t));
    size_t sending = 0, too_large = 0;
    for (size_t index = 0; index < call->map.batch_count; index++) {
        ingest_map_batch_t *batch = &call->map.batches [index];
        wire_writer_init (&requests [index]);
        if (batch->event_count == 0 && call->dialect != DIALECT_EVENTS)
            continue;
        if (ctl_submit_request (&requests [index], batch->frame.buffer.data,
                                batch->frame.buffer.size) || requests [index].buffer.size
                                > BUS_MAX_MESSAGE)
            too_large = requests [index].buffer.size;
        call->parts [index] = (s_part_t) { call, index };
        sending++;
    }
    enum MHD_Result rc = MHD_YES;
    if (too_large)
        rc = http_reply_error (request, MHD_HTTP_CONTENT_TOO_LARGE, "these events make a "
                               "%zu-byte batch, and the broker takes at most %d bytes in one: "
                               "send fewer events per request", too_large, BUS_MAX_MESSAGE);
    else
    if (sending == 0) {
        json_t *result = call->dialect == DIALECT_EVENTS || call->dialect == DIALECT_ALERTMANAGER
                       ? s_result_json (call) : NULL;
        rc = result ? http_reply_json (request, MHD_HTTP_OK, result)
                    : http_reply_text (request, MHD_HTTP_OK, "text/plain", "OK");
    }
    else {
        //  Every part is counted before the first goes out: a reply cannot
        //  come before this function returns. When the first cannot be sent
        //  (the DEALER's queue is full) the request is answered 503 now and
        //  nothing else goes out; a later part that cannot be sent is taken
        //  as unanswered, so the last reply answers 503 for the whole.
        call->waiting = sending;
        http_retry_after (request, INGEST_RETRY_AFTER_S);
        size_t sent = 0;
        for (size_t index = 0; index < call->map.batch_count; index++) {
            if (!requests [index].buffer.size)
                continue;
            char error [256], why [300];
            if (web_send (web, request, requests [index].buffer.data,
                          requests [index].buffer.size, s_done, &call->parts [index],
                          error, sizeof error) == 0) {
                sent++;
                continue;
            }
            snprintf (why, sizeof why, "cannot reach the broker: %s", error);
            if (sent == 0) {
                rc = http_reply_error (request, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", why);
                sending = 0;
                break;
            }
            s_take_reply (call, index, NULL, why, request);
            call->waiting--;
        }
    }
    for (size_t index = 0; index < call->map.batch_count; index++)
        wire_writer_free (&requests [index]);
    mem_free (requests);
    if (too_large || sending == 0)
        s_call_destroy (&call);     //  answered already
    return rc;
}

//  --- the routes --------------------------------------------------------------------------

typedef int (s_map_fn) (const char *text, size_t size, const ingest_map_options_t *options,
                        ingest_map_t *out, char *error, size_t error_size);

static enum MHD_Result
s_ingest_json (web_t *web, http_request_t *request, s_dialect_t dialect, s_map_fn *map)
{
    char peer [64] = "", tx [WIRE_TX_SIZE];
    if (http_peer_address (request, peer, sizeof peer))
        return http_reply_error (request, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                 "cannot tell the sender's address");
    if (wire_make_tx (tx, sizeof tx))
        return http_reply_error (request, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                 "no randomness for a transmission id");
    ingest_map_options_t options = { .peer = peer, .tx = tx,
                                     .source_label = web_source_label (web),
                                     .severity_levels = web_severity_levels (web),
                                     .bound_source = http_source (request) };
    s_call_t *call = mem_alloc (sizeof (s_call_t));
    call->dialect = dialect;
    ingest_map_init (&call->map);
    char error [WIRE_ERROR_SIZE + 64];
    if (map (http_body (request), http_body_size (request), &options, &call->map,
             error, sizeof error)) {
        s_call_destroy (&call);
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "%s", error);
    }
    for (size_t index = 0; index < call->map.refused_count; index++)
        s_refuse (call, (int64_t) call->map.refused [index].index, call->map.refused [index].id,
                  call->map.refused [index].reason);
    return s_submit (web, request, call);
}

enum MHD_Result
ingest_events (web_t *web, http_request_t *request)
{
    return s_ingest_json (web, request, DIALECT_EVENTS, ingest_map_events);
}

enum MHD_Result
ingest_purppura (web_t *web, http_request_t *request)
{
    return s_ingest_json (web, request, DIALECT_PURPPURA, ingest_map_purppura);
}

enum MHD_Result
ingest_alertmanager (web_t *web, http_request_t *request)
{
    return s_ingest_json (web, request, DIALECT_ALERTMANAGER, ingest_map_alertmanager);
}

//  Splits what follows /ping/ into decoded segments: SOURCE, ID and an
//  optional fail or exit status. 0, or -1 with why.
static int
s_ping_path (const char *path, char segments [3][WIRE_MAX_NAME + 1], size_t *count,
             int *status, char *why, size_t why_size)
{
    *count = 0;
    *status = INGEST_PING_PLAIN;
    for (const char *at = path; ; ) {
        const char *slash = strchr (at, '/');
        size_t size = slash ? (size_t) (slash - at) : strlen (at);
        if (*count == 3 || size == 0
        ||  http_unescape (at, size, segments [*count], WIRE_MAX_NAME + 1) <= 0) {
            snprintf (why, why_size, "the path must be /ping/SOURCE/ID[/fail|/EXIT-STATUS], "
                      "each part 1-%d bytes, percent-encoded (an id with a / is %%2F)",
                      WIRE_MAX_NAME);
            return -1;
        }
        (*count)++;
        if (!slash)
            break;
        at = slash + 1;
    }
    if (*count < 2) {
        snprintf (why, why_size, "the path must be /ping/SOURCE/ID[/fail|/EXIT-STATUS]");
        return -1;
    }
    if (*count == 3) {
        const char *last = segments [2];
        char *end = NULL;
        long number = strtol (last, &end, 10);
        if (strcmp (last, "fail") == 0)
            *status = INGEST_PING_FAIL;
        else
        if (last [0] >= '0' && last [0] <= '9' && !*end && number <= 255 && strlen (last) <= 3)
            *status = (int) number;
        else {
            snprintf (why, why_size, "after /ping/SOURCE/ID comes /fail or an exit status "
                      "0-255, not '%.64s'", last);
            return -1;
        }
    }
    return 0;
}

enum MHD_Result
ingest_ping (web_t *web, http_request_t *request)
{
    char segments [3][WIRE_MAX_NAME + 1], why [WIRE_ERROR_SIZE + 64], tx [WIRE_TX_SIZE];
    size_t count;
    int status;
    if (s_ping_path (http_path (request) + strlen (INGEST_PING_PREFIX), segments, &count,
                     &status, why, sizeof why))
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "%s", why);
    //  ?raise=+25h as typed: the + arrives as a space (form encoding), and
    //  no time spec starts with a space, so it is taken back as a +
    const char *query = http_query (request, "raise");
    char raise [INGEST_MAP_TIME_MAX + 1];
    snprintf (raise, sizeof raise, "%s", query ? query : INGEST_PING_DEFAULT_RAISE);
    if (raise [0] == ' ')
        raise [0] = '+';
    int64_t when;
    if (time_spec_parse (raise, clock_now_ms (), &when) < 0)
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "raise: '%.64s' is not a time "
                                 "spec (+25h, +90m, +1d; the + may need to be sent as %%2B)",
                                 raise);
    if (http_body_size (request) > INGEST_PING_BODY_MAX)
        return http_reply_error (request, MHD_HTTP_CONTENT_TOO_LARGE, "a ping's body (its "
                                 "detail) is at most %d bytes", INGEST_PING_BODY_MAX);
    if (wire_make_tx (tx, sizeof tx))
        return http_reply_error (request, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                 "no randomness for a transmission id");
    s_call_t *call = mem_alloc (sizeof (s_call_t));
    call->dialect = DIALECT_PING;
    ingest_map_init (&call->map);
    const char *detail = http_body_size (request) ? http_body (request) : NULL;
    if (*http_source (request) && strcmp (http_source (request), segments [0])) {
        s_call_destroy (&call);
        return http_reply_error (request, MHD_HTTP_FORBIDDEN, "this sender may only ping as "
                                 "'%s'", http_source (request));
    }
    if (ingest_map_ping (segments [0], segments [1], status, raise, detail,
                         http_body_size (request), tx, &call->map, why, sizeof why)) {
        s_call_destroy (&call);
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "%s", why);
    }
    return s_submit (web, request, call);
}
