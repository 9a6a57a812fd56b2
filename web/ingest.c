/*  ingest.c — lilac-web's ingest routes. See ingest.h.

    A route maps the body (ingest_map.c) into one frame per source and
    keeps an s_call_t until every frame's reply is in: the accepted count,
    the refusals (local ones and the broker's, each at its place in the
    body), and whether the broker was away or refused a batch whole. The
    last reply answers the HTTP request.

    Group commit. The frames do not go out from the route: they wait in
    the ingest_t for the end of the loop's HTTP turn (ingest_flush, which
    web.c calls after each MHD_run), and the frames of one source that
    arrived in that turn go out as one submit — one request to the broker,
    one decode, one reply, one commit shared — instead of one per POST. The
    joined frame is the first part's head, its tx marked "+N" (N parts: a
    tx no frame had alone), with every part's events after it, in arrival
    order; each part knows where its events begin in it, and takes from
    the reply the refusals whose index falls in its own range (its
    accepted count is its events less those). Nothing is answered before
    the broker's reply, so nothing before its commit; a reply that is
    missing, malformed or degraded answers every part 503 with
    Retry-After. A joined submit the broker refuses whole (it does so when
    every event is refused, with the first one's reason) applied nothing:
    its parts go again, each alone, so each request is answered with its
    own reason.

    What is joined: Alertmanager, purppura and ping frames, whose tx is
    ours. lilac's own POST /api/events is sent alone (its tx is the
    client's, echoed and used by the broker to drop a repeat, and it may
    replace a source). A joined frame holds at most INGEST_JOIN_EVENTS
    events, so the broker's reply, which is read for CTL_MAX_REFUSED
    refusals, names every refusal and each lands on its own request; a
    frame with more events goes alone, and a refusal past the ones read
    is "and N more refused" as before. Frames leave in arrival order, and a
    part joins only the last frame of its source, so the broker applies
    one source's events in the order the requests came.
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

//  One frame of a call's map, and where its events begin in the submit
//  that carries it.
typedef struct {
    s_call_t *call;
    size_t batch;                  //  index in call->map.batches
    size_t first;                  //  its first event's index in the submit's alerts
} s_part_t;

//  One refusal, at its place in the body.
typedef struct {
    int64_t index;                 //  -1: "and N more"
    char id [WIRE_MAX_NAME + 1];
    char reason [WIRE_ERROR_SIZE];
} s_refusal_t;

struct _s_call_t {
    s_dialect_t dialect;
    http_request_t *request;       //  answered once waiting is 0
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

//  One submit: the parts it carries (all of one source), waiting for the
//  end of the turn, then for the broker's reply.
typedef struct {
    char source [WIRE_MAX_NAME + 1];
    s_part_t **parts;              //  part_count, in arrival order
    size_t part_count;
    size_t event_count;            //  in all parts
    size_t size;                   //  bytes of all parts' events
    bool alone;                    //  takes no other part
} s_submit_t;

struct _ingest_t {
    s_submit_t **queued;           //  this turn's submits, in arrival order
    size_t queued_count;
    size_t queued_capacity;
    wire_writer_t joined;          //  a joined frame, reused
    wire_writer_t request;         //  a submit request, reused
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
    if ((a < 0) != (b < 0))
        return a < 0 ? 1 : -1;          //  "and N more" (index -1) goes last
    return (a > b) - (a < b);
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
s_answer (s_call_t *call)
{
    http_request_t *request = call->request;
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

//  --- replies ---------------------------------------------------------------------------

//  What a submit's reply says for all its parts.
typedef enum { VERDICT_APPLIED, VERDICT_UNAVAILABLE, VERDICT_REFUSED } s_verdict_t;

//  Reads a submit reply (NULL: none, and why) into out; the verdict, with
//  the words for a 503 or a 400 in words, and the seconds of a Retry-After
//  in *retry_s (0: the default).
static s_verdict_t
s_read_reply (s_submit_t *submit, wire_doc_t *reply, const char *why, ctl_submit_reply_t *out,
              char *words, size_t words_size, unsigned *retry_s)
{
    char error [WIRE_ERROR_SIZE];
    *retry_s = 0;
    if (!reply) {
        snprintf (words, words_size, "%s", why);
        return VERDICT_UNAVAILABLE;
    }
    if (ctl_submit_decode (reply, out, error, sizeof error)) {
        snprintf (words, words_size, "a malformed reply: %s", error);
        return VERDICT_UNAVAILABLE;
    }
    if (!out->ok && (out->retry_after > 0 || strncmp (out->error, "degraded", 8) == 0)) {
        snprintf (words, words_size, "%s", out->error);
        int64_t seconds = (out->retry_after + 999) / 1000;
        *retry_s = seconds < 1 ? 1 : seconds > 3600 ? 3600 : (unsigned) seconds;
        return VERDICT_UNAVAILABLE;
    }
    if (!out->ok) {
        snprintf (words, words_size, "%s", out->error);
        return VERDICT_REFUSED;
    }
    //  A joined submit has at most INGEST_JOIN_EVENTS events, so a broker
    //  that lists fewer refusals than it counts is not one we understand
    if (submit->part_count > 1 && out->refused_count > CTL_MAX_REFUSED) {
        snprintf (words, words_size, "a malformed reply: %zu refusals for %zu events",
                  out->refused_count, submit->event_count);
        return VERDICT_UNAVAILABLE;
    }
    return VERDICT_APPLIED;
}

//  An applied submit's reply, for one part: the refusals in its range, at
//  their places in the body; accepted, its events less those (alone: the
//  broker's count, and a note for the refusals past the ones read).
static void
s_take_applied (s_part_t *part, const ctl_submit_reply_t *out, bool alone)
{
    s_call_t *call = part->call;
    ingest_map_batch_t *batch = &call->map.batches [part->batch];
    size_t read = out->refused_count < CTL_MAX_REFUSED ? out->refused_count : CTL_MAX_REFUSED;
    int64_t first = (int64_t) part->first, end = first + (int64_t) batch->event_count;
    int64_t mine = 0;
    for (size_t index = 0; index < read; index++) {
        const ctl_refusal_t *refusal = &out->refused [index];
        bool inside = refusal->index >= first && refusal->index < end;
        if (!inside && !alone)
            continue;                   //  another request's
        mine++;
        s_refuse (call, inside ? (int64_t) batch->origin [refusal->index - first]
                               : refusal->index, refusal->id, refusal->reason);
    }
    if (!alone) {
        call->accepted += (int64_t) batch->event_count - mine;
        return;
    }
    call->accepted += out->accepted;
    if (out->refused_count > read) {
        char note [64];
        snprintf (note, sizeof note, "and %zu more refused", out->refused_count - read);
        s_refuse (call, -1, NULL, note);
    }
}

//  One part's share of its submit's reply; answers the request when it
//  was the last.
static void
s_take_part (s_part_t *part, s_verdict_t verdict, const ctl_submit_reply_t *out,
             const char *words, unsigned retry_s, bool alone)
{
    s_call_t *call = part->call;
    if (verdict == VERDICT_UNAVAILABLE) {
        call->unavailable = true;
        snprintf (call->why, sizeof call->why, "%s", words);
        if (retry_s)
            http_retry_after (call->request, retry_s);
    }
    else
    if (verdict == VERDICT_REFUSED) {
        call->refused_whole = true;
        snprintf (call->why, sizeof call->why, "%s", words);
    }
    else
        s_take_applied (part, out, alone);
    if (--call->waiting == 0) {
        s_answer (call);
        s_call_destroy (&call);
    }
}

static void
s_submit_destroy (s_submit_t **submit_p)
{
    s_submit_t *submit = *submit_p;
    mem_free (submit->parts);
    mem_free (submit);
    *submit_p = NULL;
}

static void s_queue (ingest_t *self, s_part_t *part, bool shares);

//  The reply (or NULL and why) to every part of submit, which it frees.
//  A joined submit refused whole (every event refused, or something of
//  the frame: nothing was applied, and the reason may name another
//  request's event) goes again part by part, each alone, at the next
//  flush (self NULL: lilac-web is stopping, and they are answered 503).
static void
s_take_reply (ingest_t *self, s_submit_t *submit, wire_doc_t *reply, const char *why)
{
    ctl_submit_reply_t *out = mem_alloc (sizeof (ctl_submit_reply_t));
    char words [WIRE_ERROR_SIZE + 64];
    unsigned retry_s;
    s_verdict_t verdict = s_read_reply (submit, reply, why, out, words, sizeof words, &retry_s);
    if (verdict == VERDICT_REFUSED && submit->part_count > 1 && !self) {
        verdict = VERDICT_UNAVAILABLE;
        snprintf (words, sizeof words, "lilac-web is stopping");
    }
    for (size_t index = 0; index < submit->part_count; index++)
        if (verdict == VERDICT_REFUSED && submit->part_count > 1)
            s_queue (self, submit->parts [index], false);
        else
            s_take_part (submit->parts [index], verdict, out, words, retry_s,
                         submit->part_count == 1);
    mem_free (out);
    s_submit_destroy (&submit);
}

static void
s_done (web_t *web, http_request_t *request, wire_doc_t *reply, const char *why, void *arg)
{
    (void) request;
    s_take_reply (web_ingest (web), arg, reply, why);
    wire_doc_destroy (&reply);
}

//  --- the turn's submits -----------------------------------------------------------------

ingest_t *
ingest_new (void)
{
    ingest_t *self = mem_alloc (sizeof (ingest_t));
    wire_writer_init (&self->joined);
    wire_writer_init (&self->request);
    return self;
}

void
ingest_destroy (ingest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ingest_t *self = *self_p;
    for (size_t index = 0; index < self->queued_count; index++)
        s_take_reply (NULL, self->queued [index], NULL, "lilac-web is stopping");
    mem_free (self->queued);
    wire_writer_free (&self->joined);
    wire_writer_free (&self->request);
    mem_free (self);
    *self_p = NULL;
}

//  May part ride in submit? Same source, both may share, and the joined
//  frame stays within INGEST_JOIN_EVENTS events and the bus's size.
static bool
s_joins (const s_submit_t *submit, const ingest_map_batch_t *batch, bool shares)
{
    size_t size = batch->frame.buffer.size - batch->events_at;
    return shares && !submit->alone && strcmp (submit->source, batch->source) == 0
        && submit->event_count + batch->event_count <= INGEST_JOIN_EVENTS
        && submit->size + size + INGEST_JOIN_HEAD_MAX <= BUS_MAX_MESSAGE;
}

//  Queues part for the end of the turn: into the last submit of its
//  source when it may join it, else into a new one.
static void
s_queue (ingest_t *self, s_part_t *part, bool shares)
{
    ingest_map_batch_t *batch = &part->call->map.batches [part->batch];
    s_submit_t *submit = NULL;
    for (size_t index = self->queued_count; index > 0 && !submit; index--)
        if (strcmp (self->queued [index - 1]->source, batch->source) == 0)
            submit = self->queued [index - 1];
    if (!submit || !s_joins (submit, batch, shares)) {
        submit = mem_alloc (sizeof (s_submit_t));
        snprintf (submit->source, sizeof submit->source, "%s", batch->source);
        submit->alone = !shares || batch->event_count > INGEST_JOIN_EVENTS;
        if (self->queued_count == self->queued_capacity) {
            self->queued_capacity = self->queued_capacity ? self->queued_capacity * 2 : 16;
            self->queued = mem_realloc (self->queued,
                                        self->queued_capacity * sizeof (s_submit_t *));
        }
        self->queued [self->queued_count++] = submit;
    }
    part->first = submit->event_count;
    submit->parts = mem_realloc (submit->parts, (submit->part_count + 1) * sizeof (s_part_t *));
    submit->parts [submit->part_count++] = part;
    submit->event_count += batch->event_count;
    submit->size += batch->frame.buffer.size - batch->events_at;
}

//  The frame of submit: a part's own, or the first part's head over every
//  part's events. Borrowed from self or the part.
static const wire_writer_t *
s_frame (ingest_t *self, s_submit_t *submit)
{
    ingest_map_batch_t *first = &submit->parts [0]->call->map.batches [submit->parts [0]->batch];
    if (submit->part_count == 1)
        return &first->frame;
    //  A tx no frame had alone: a part sent again alone keeps its own
    char tx [WIRE_MAX_NAME + 1];
    snprintf (tx, sizeof tx, "%.240s+%zu", first->tx, submit->part_count);
    msgpack_packer *packer = &self->joined.packer;
    wire_writer_reset (&self->joined);
    msgpack_pack_map (packer, 4);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key_string (packer, "tx", tx);
    wire_pack_key_string (packer, "source", submit->source);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, submit->event_count);
    for (size_t index = 0; index < submit->part_count; index++) {
        s_part_t *part = submit->parts [index];
        ingest_map_batch_t *batch = &part->call->map.batches [part->batch];
        msgpack_sbuffer_write (&self->joined.buffer, batch->frame.buffer.data + batch->events_at,
                               batch->frame.buffer.size - batch->events_at);
    }
    return &self->joined;
}

void
ingest_flush (ingest_t *self, web_t *web)
{
    for (size_t index = 0; index < self->queued_count; index++) {
        s_submit_t *submit = self->queued [index];
        const wire_writer_t *frame = s_frame (self, submit);
        char error [256], why [300];
        wire_writer_reset (&self->request);
        if (ctl_submit_request (&self->request, frame->buffer.data, frame->buffer.size)) {
            s_take_reply (self, submit, NULL, "lilac-web made a frame that is not a map (a bug)");
            continue;
        }
        if (web_send (web, submit->parts [0]->call->request, self->request.buffer.data,
                      self->request.buffer.size, s_done, submit, error, sizeof error)) {
            snprintf (why, sizeof why, "cannot reach the broker: %s", error);
            s_take_reply (self, submit, NULL, why);
        }
    }
    self->queued_count = 0;
}

//  Queues every batch of the call's map that has events (or all, for
//  lilac's own: an empty batch with replace clears a source) for the end
//  of the turn; answers at once when none goes out, or one is too large.
static enum MHD_Result
s_submit (web_t *web, http_request_t *request, s_call_t *call)
{
    ingest_t *self = web_ingest (web);
    if (!self) {                    //  web_destroy's last HTTP turn
        s_call_destroy (&call);
        return http_reply_error (request, MHD_HTTP_SERVICE_UNAVAILABLE, "lilac-web is stopping");
    }
    call->request = request;
    call->parts = mem_alloc ((call->map.batch_count ? call->map.batch_count : 1)
                             * sizeof (s_part_t));
    size_t sending = 0, too_large = 0;
    for (size_t index = 0; index < call->map.batch_count; index++) {
        ingest_map_batch_t *batch = &call->map.batches [index];
        if (batch->event_count == 0 && call->dialect != DIALECT_EVENTS)
            continue;
        wire_writer_reset (&self->request);
        if (ctl_submit_request (&self->request, batch->frame.buffer.data, batch->frame.buffer.size)
        ||  self->request.buffer.size > BUS_MAX_MESSAGE)
            too_large = self->request.buffer.size;
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
        //  Every part is counted before the first is queued: no reply can
        //  come before the turn's flush
        call->waiting = sending;
        http_retry_after (request, INGEST_RETRY_AFTER_S);
        http_suspend (request);
        for (size_t index = 0; index < call->map.batch_count; index++) {
            ingest_map_batch_t *batch = &call->map.batches [index];
            if (batch->event_count == 0 && call->dialect != DIALECT_EVENTS)
                continue;
            call->parts [index] = (s_part_t) { call, index, 0 };
            s_queue (self, &call->parts [index], call->dialect != DIALECT_EVENTS);
        }
        return MHD_YES;
    }
    s_call_destroy (&call);         //  answered already
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
