/*  api_acts.c — POST /api/alerts/SOURCE/ID/{ack,unack,clear,suppress}
    and POST /api/actions. See api_acts.h. The bodies are read first, by the
    pure parsers at the top (jansson, limits, types; nothing of HTTP). An
    act goes to the broker with web_call (the HTTP request waits, the loop
    does not) and its reply is answered as JSON. /api/actions sends its acts
    one after another, each from the reply to the one before (web_send), so
    a thousand acts never fill the broker's queue; the last reply answers
    the request.
*/
#include <string.h>
#include "api_acts.h"
#include "error_text.h"
#include "json.h"
#include "mem.h"
#include "timespec.h"

static const char *const s_acts [] = { "ack", "unack", "clear", "suppress", NULL };

//  --- the bodies, read ------------------------------------------------------------------

bool
api_act_known (const char *op)
{
    for (size_t index = 0; s_acts [index]; index++)
        if (strcmp (s_acts [index], op) == 0)
            return true;
    return false;
}

//  until of a body object into out (left "" when absent, null or ""): a
//  time spec the broker takes at now_ms (never "clear"), or epoch seconds
//  (a positive integer), that fits out. 0, or -1 with why.
static int
s_read_until (const json_t *body, int64_t now_ms, char *out, size_t out_size, char *error,
              size_t error_size)
{
    const json_t *until = json_object_get (body, "until");
    if (!until || json_is_null (until) || (json_is_string (until) && !json_string_length (until)))
        return 0;
    if (json_is_integer (until) && json_integer_value (until) > 0)
        snprintf (out, out_size, "%lld", (long long) json_integer_value (until));
    else
    if (json_is_string (until) && json_string_length (until) < out_size)
        snprintf (out, out_size, "%s", json_string_value (until));
    int64_t when;
    if (*out && time_spec_parse (out, now_ms, &when) == 0)
        return 0;
    *out = '\0';
    return error_text (error, error_size, -1, "until: want a time such as +2h, now or epoch "
                       "seconds");
}

//  The note of a body object into out (left "" when absent or null): a
//  string that fits, never cut. 0, or -1 with why.
static int
s_read_note (const json_t *body, char *out, size_t out_size, char *error, size_t error_size)
{
    const json_t *note = json_object_get (body, "note");
    if (!note || json_is_null (note) || json_get_string (body, "note", out, out_size, false) == 0)
        return 0;
    return error_text (error, error_size, -1, "note: want a string of at most %zu bytes",
                       out_size - 1);
}

//  until and note of a body object into out. 0, or -1 with why.
static int
s_read_until_note (const json_t *body, int64_t now_ms, api_act_body_t *out, char *error,
                   size_t error_size)
{
    if (s_read_until (body, now_ms, out->until, sizeof out->until, error, error_size))
        return -1;
    return s_read_note (body, out->note, sizeof out->note, error, error_size);
}

//  A suppress needs its until ("now" lifts it). 0, or -1 with why.
static int
s_check_suppress (const char *op, const api_act_body_t *body, char *error, size_t error_size)
{
    if (strcmp (op, "suppress") == 0 && !*body->until)
        return error_text (error, error_size, -1, "suppress wants \"until\": \"+2h\" "
                           "(\"now\" lifts it)");
    return 0;
}

int
api_act_parse (const char *op, const char *body, size_t size, int64_t now_ms,
               api_act_body_t *out, char *error, size_t error_size)
{
    memset (out, 0, sizeof *out);
    if (!api_act_known (op))
        return error_text (error, error_size, -1, "no act '%.15s' (ack, unack, clear, "
                           "suppress)", op);
    if (size > 0) {
        char why [WIRE_ERROR_SIZE];
        json_t *object = json_read_object (body, size, API_ACT_BODY_MAX, why, sizeof why);
        if (!object)
            return error_text (error, error_size, -1, "the body: %s", why);
        int rc = s_read_until_note (object, now_ms, out, error, error_size);
        json_decref (object);
        if (rc)
            return -1;
    }
    return s_check_suppress (op, out, error, error_size);
}

//  The body's alerts: an array of 1..API_ACTIONS_MAX objects, each with a
//  source and an id that fit, into out. 0, or -1 with why.
static int
s_read_alerts (const json_t *body, api_actions_t *out, char *error, size_t error_size)
{
    json_t *alerts = json_object_get (body, "alerts"), *alert;
    size_t count = json_array_size (alerts), index;
    if (!json_is_array (alerts) || count == 0 || count > API_ACTIONS_MAX)
        return error_text (error, error_size, -1, "alerts: want an array of 1 to %d "
                           "{\"source\", \"id\"}", API_ACTIONS_MAX);
    out->alerts = mem_alloc (count * sizeof *out->alerts);
    json_array_foreach (alerts, index, alert) {
        api_act_alert_t *target = &out->alerts [index];
        if (json_get_string (alert, "source", target->source, sizeof target->source, false)
        ||  json_get_string (alert, "id", target->id, sizeof target->id, false)
        ||  !*target->source || !*target->id)
            return error_text (error, error_size, -1, "alerts [%zu]: want {\"source\": "
                               "\"...\", \"id\": \"...\"} (each at most %d bytes)", index,
                               WIRE_MAX_NAME);
        out->alert_count++;
    }
    return 0;
}

//  The act, until, note and alerts of a body object. 0, or -1 with why.
static int
s_read_actions (const json_t *body, int64_t now_ms, api_actions_t *out, char *error,
                size_t error_size)
{
    if (json_get_string (body, "act", out->op, sizeof out->op, false) != 0
    ||  !api_act_known (out->op))
        return error_text (error, error_size, -1, "act: want \"ack\", \"unack\", \"clear\" "
                           "or \"suppress\"");
    if (s_read_until_note (body, now_ms, &out->body, error, error_size)
    ||  s_check_suppress (out->op, &out->body, error, error_size))
        return -1;
    return s_read_alerts (body, out, error, error_size);
}

int
api_actions_parse (const char *body, size_t size, int64_t now_ms, api_actions_t *out,
                   char *error, size_t error_size)
{
    memset (out, 0, sizeof *out);
    char why [WIRE_ERROR_SIZE];
    json_t *object = json_read_object (body, size, API_ACTIONS_BODY_MAX, why, sizeof why);
    if (!object)
        return error_text (error, error_size, -1, "the body: %s", why);
    int rc = s_read_actions (object, now_ms, out, error, error_size);
    json_decref (object);
    return rc;
}

void
api_actions_free (api_actions_t *self)
{
    mem_free (self->alerts);
    self->alerts = NULL;
    self->alert_count = 0;
}

//  --- POST /api/alerts/SOURCE/ID/ACT ----------------------------------------------------

//  Packs act op on source/id into writer as the broker takes it: by for
//  every act but suppress, until for ack and suppress, the note for ack.
static void
s_act_request (wire_writer_t *writer, const char *op, const char *source, const char *id,
               const char *by, const api_act_body_t *body)
{
    bool suppress = strcmp (op, "suppress") == 0, ack = strcmp (op, "ack") == 0;
    ctl_act_t act = { .source = source, .id = id, .by = suppress ? NULL : by,
                      .until = *body->until && (suppress || ack) ? body->until : NULL,
                      .note = *body->note && ack ? body->note : NULL };
    ctl_act_request (writer, op, &act);
}

static void
s_act_done (web_t *web, http_request_t *request, wire_doc_t *reply, const char *why, void *arg)
{
    (void) arg;
    wire_doc_t *checked = web_reply_checked (web, request, reply, why, MHD_HTTP_CONFLICT);
    if (!checked)
        return;
    json_t *alert = json_from_msgpack (wire_get (wire_doc_root (checked), "alert"));
    wire_doc_destroy (&checked);
    json_t *body = alert ? json_pack ("{s:o}", "alert", alert) : NULL;
    http_resume_json (request, body ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR,
                      body ? body : json_pack ("{s:s}", "error", "out of memory"));
}

enum MHD_Result
api_acts_one (web_t *web, http_request_t *request)
{
    char source [WIRE_MAX_NAME + 1], id [WIRE_MAX_NAME + 1], op [API_OP_SIZE];
    if (http_segment_count (request) != 5 || http_segment (request, 2, source, sizeof source)
    ||  http_segment (request, 3, id, sizeof id) || http_segment (request, 4, op, sizeof op))
        return http_reply_error (request, MHD_HTTP_NOT_FOUND,
                                 "want POST /api/alerts/SOURCE/ID/ACT (ack, unack, clear, "
                                 "suppress)");
    if (!api_act_known (op))
        return http_reply_error (request, MHD_HTTP_NOT_FOUND, "no act '%s' (ack, unack, clear, "
                                 "suppress)", op);
    api_act_body_t body;
    char error [WIRE_ERROR_SIZE];
    if (api_act_parse (op, http_body (request), http_body_size (request), clock_now_ms (),
                       &body, error, sizeof error))
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "%s", error);
    char by [WIRE_MAX_NAME + 1];
    web_user (web, request, by, sizeof by);
    wire_writer_t writer;
    s_act_request (&writer, op, source, id, by, &body);
    enum MHD_Result rc = web_call (web, request, writer.buffer.data, writer.buffer.size,
                                   s_act_done, NULL);
    wire_writer_free (&writer);
    return rc;
}

//  --- POST /api/actions ----------------------------------------------------------------

//  One POST /api/actions while its acts go out: what the body asked, which
//  alert is next, and what came back so far.
typedef struct {
    api_actions_t actions;         //  the act, until, note and alerts, read
    char by [WIRE_MAX_NAME + 1];
    size_t next;                   //  the alert whose reply is awaited
    size_t done;                   //  acts the broker committed
    json_t *failed;                //  [{source, id, error}]
} s_actions_t;

static void
s_actions_destroy (s_actions_t **self_p)
{
    if (*self_p) {
        api_actions_free (&(*self_p)->actions);
        json_decref ((*self_p)->failed);
        mem_free (*self_p);
        *self_p = NULL;
    }
}

static void
s_actions_fail (s_actions_t *self, size_t index, const char *error)
{
    const api_act_alert_t *alert = &self->actions.alerts [index];
    json_array_append_new (self->failed, json_pack ("{s:s,s:s,s:s}", "source", alert->source,
                                                    "id", alert->id, "error", error));
}

//  Packs the act on alert index into writer.
static void
s_actions_request (s_actions_t *self, size_t index, wire_writer_t *writer)
{
    const api_act_alert_t *alert = &self->actions.alerts [index];
    s_act_request (writer, self->actions.op, alert->source, alert->id, self->by,
                   &self->actions.body);
}

static void s_actions_done (web_t *web, http_request_t *request, wire_doc_t *reply,
                            const char *why, void *arg);

//  Sends the act on alert self->next. 0, or -1 (recorded as its failure).
static int
s_actions_send (web_t *web, http_request_t *request, s_actions_t *self)
{
    wire_writer_t writer;
    s_actions_request (self, self->next, &writer);
    char error [256];
    int rc = web_send (web, request, writer.buffer.data, writer.buffer.size, s_actions_done,
                       self, error, sizeof error);
    wire_writer_free (&writer);
    if (rc) {
        char why [300];
        snprintf (why, sizeof why, "cannot reach the broker: %s", error);
        s_actions_fail (self, self->next, why);
    }
    return rc;
}

//  {done, failed}; 503 when the broker took none and failed them all for
//  want of an answer.
static void
s_actions_answer (http_request_t *request, s_actions_t *self, bool unavailable)
{
    unsigned code = unavailable && self->done == 0 ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
    http_resume_json (request, code, json_pack ("{s:I,s:O}", "done", (json_int_t) self->done,
                                                "failed", self->failed));
}

static void
s_actions_done (web_t *web, http_request_t *request, wire_doc_t *reply, const char *why,
                void *arg)
{
    s_actions_t *self = arg;
    bool unavailable = !reply;
    char error [WIRE_ERROR_SIZE];
    ctl_failure_t failure = 0;
    wire_doc_t *checked = reply ? ctl_reply_ok (web_ctl (web), reply, &failure, error,
                                                sizeof error) : NULL;
    if (checked)
        self->done++;
    else
        s_actions_fail (self, self->next, reply ? error : why ? why : "no answer");
    wire_doc_destroy (&checked);
    //  No answer: the broker is away, and the rest would wait in turn.
    while (++self->next < self->actions.alert_count) {
        if (unavailable)
            s_actions_fail (self, self->next, why ? why : "no answer");
        else
        if (s_actions_send (web, request, self) == 0)
            return;
        else {
            unavailable = true;     //  the rest fail with the reason it did
            json_t *last = json_array_get (self->failed, json_array_size (self->failed) - 1);
            why = json_string_value (json_object_get (last, "error"));
        }
    }
    s_actions_answer (request, self, unavailable);
    s_actions_destroy (&self);
}

enum MHD_Result
api_acts_many (web_t *web, http_request_t *request)
{
    s_actions_t *self = mem_alloc (sizeof (s_actions_t));
    char error [WIRE_ERROR_SIZE + 64];
    if (api_actions_parse (http_body (request), http_body_size (request), clock_now_ms (),
                           &self->actions, error, sizeof error)) {
        s_actions_destroy (&self);
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "%s", error);
    }
    web_user (web, request, self->by, sizeof self->by);
    self->failed = json_array ();
    if (s_actions_send (web, request, self) == 0)
        return MHD_YES;
    enum MHD_Result answered = http_reply_error (request, MHD_HTTP_SERVICE_UNAVAILABLE, "%s",
        json_string_value (json_object_get (json_array_get (self->failed, 0), "error")));
    s_actions_destroy (&self);
    return answered;
}
