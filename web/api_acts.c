/*  api_acts.c — POST /api/alerts/SOURCE/ID/{ack,unack,clear,suppress}
    and POST /api/actions. See api_acts.h. An act goes to the broker with
    web_call (the HTTP request waits, the loop does not) and its reply is
    answered as JSON. /api/actions sends its acts one after another, each
    from the reply to the one before (web_send), so a thousand acts never
    fill the broker's queue; the last reply answers the request.
*/
#include <string.h>
#include "api_acts.h"
#include "json.h"
#include "mem.h"

#define S_BODY_MAX     (16 * 1024)            //  an act's body, at most
#define S_ACTIONS_MAX  1000                   //  alerts in one POST /api/actions
#define S_ACTIONS_BODY (S_ACTIONS_MAX * 700)   //  its body, at most

static const char *const s_acts [] = { "ack", "unack", "clear", "suppress", NULL };

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

//  until and note from the body (an object, or nothing). 0, or -1 with why.
static int
s_read_body (http_request_t *request, char *until, size_t until_size, char *note,
             size_t note_size, char *error, size_t error_size)
{
    if (http_body_size (request) == 0)
        return 0;
    json_t *body = json_read_object (http_body (request), http_body_size (request), S_BODY_MAX,
                                     error, error_size);
    if (!body)
        return -1;
    int64_t seconds;
    if (json_get_string (body, "until", until, until_size, false) != 0
    &&  json_get_int (body, "until", &seconds) == 0)
        snprintf (until, until_size, "%lld", (long long) seconds);
    json_get_string (body, "note", note, note_size, false);
    json_decref (body);
    return 0;
}

enum MHD_Result
api_acts_one (web_t *web, http_request_t *request)
{
    char source [WIRE_MAX_NAME + 1], id [WIRE_MAX_NAME + 1], op [16];
    if (http_segment_count (request) != 5 || http_segment (request, 2, source, sizeof source)
    ||  http_segment (request, 3, id, sizeof id) || http_segment (request, 4, op, sizeof op))
        return http_reply_error (request, MHD_HTTP_NOT_FOUND,
                                 "want POST /api/alerts/SOURCE/ID/ACT (ack, unack, clear, "
                                 "suppress)");
    size_t known = 0;
    while (s_acts [known] && strcmp (s_acts [known], op))
        known++;
    if (!s_acts [known])
        return http_reply_error (request, MHD_HTTP_NOT_FOUND, "no act '%s' (ack, unack, clear, "
                                 "suppress)", op);
    char until [64] = "", note [WIRE_MAX_NOTE + 1] = "", error [WIRE_ERROR_SIZE];
    if (s_read_body (request, until, sizeof until, note, sizeof note, error, sizeof error))
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "the body: %s", error);
    bool suppress = strcmp (op, "suppress") == 0;
    if (suppress && !*until)
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST,
                                 "suppress wants {\"until\": \"+2h\"} (\"now\" lifts it)");
    char by [WIRE_MAX_NAME + 1];
    web_user (web, request, by, sizeof by);
    ctl_act_t act = { .source = source, .id = id, .by = suppress ? NULL : by,
                      .until = *until && (suppress || strcmp (op, "ack") == 0) ? until : NULL,
                      .note = *note && strcmp (op, "ack") == 0 ? note : NULL };
    wire_writer_t writer;
    ctl_act_request (&writer, op, &act);
    enum MHD_Result rc = web_call (web, request, writer.buffer.data, writer.buffer.size,
                                   s_act_done, NULL);
    wire_writer_free (&writer);
    return rc;
}

//  --- POST /api/actions ----------------------------------------------------------------

//  One POST /api/actions while its acts go out: the alerts, which one is
//  next, and what came back so far.
typedef struct {
    char op [16];
    char by [WIRE_MAX_NAME + 1];
    char until [64];
    char note [WIRE_MAX_NOTE + 1];
    json_t *alerts;                //  [{source, id}], checked
    size_t next;                   //  the alert whose reply is awaited
    size_t done;                   //  acts the broker committed
    json_t *failed;                //  [{source, id, error}]
} s_actions_t;

static void
s_actions_destroy (s_actions_t **self_p)
{
    if (*self_p) {
        json_decref ((*self_p)->alerts);
        json_decref ((*self_p)->failed);
        mem_free (*self_p);
        *self_p = NULL;
    }
}

static void
s_actions_fail (s_actions_t *self, size_t index, const char *error)
{
    json_t *alert = json_array_get (self->alerts, index);
    json_array_append_new (self->failed, json_pack ("{s:O,s:O,s:s}",
                           "source", json_object_get (alert, "source"),
                           "id", json_object_get (alert, "id"), "error", error));
}

//  Packs the act on alert index into writer.
static void
s_actions_request (s_actions_t *self, size_t index, wire_writer_t *writer)
{
    json_t *alert = json_array_get (self->alerts, index);
    bool suppress = strcmp (self->op, "suppress") == 0;
    ctl_act_t act = {
        .source = json_string_value (json_object_get (alert, "source")),
        .id = json_string_value (json_object_get (alert, "id")),
        .by = suppress ? NULL : self->by,
        .until = *self->until && (suppress || strcmp (self->op, "ack") == 0) ? self->until : NULL,
        .note = *self->note && strcmp (self->op, "ack") == 0 ? self->note : NULL };
    ctl_act_request (writer, self->op, &act);
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
    while (++self->next < json_array_size (self->alerts)) {
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

//  The body's alerts: an array of 1..S_ACTIONS_MAX objects, each with a
//  source and an id that fit. A new reference, or NULL with why.
static json_t *
s_actions_alerts (const json_t *body, char *error, size_t error_size)
{
    json_t *alerts = json_object_get (body, "alerts");
    size_t count = json_array_size (alerts);
    if (!json_is_array (alerts) || count == 0 || count > S_ACTIONS_MAX) {
        snprintf (error, error_size, "alerts: want an array of 1 to %d {\"source\", \"id\"}",
                  S_ACTIONS_MAX);
        return NULL;
    }
    json_t *alert;
    size_t index;
    json_array_foreach (alerts, index, alert) {
        char source [WIRE_MAX_NAME + 1], id [WIRE_MAX_NAME + 1];
        if (json_get_string (alert, "source", source, sizeof source, false)
        ||  json_get_string (alert, "id", id, sizeof id, false) || !*source || !*id) {
            snprintf (error, error_size, "alerts [%zu]: want {\"source\": \"...\", "
                      "\"id\": \"...\"} (each at most %d bytes)", index, WIRE_MAX_NAME);
            return NULL;
        }
    }
    return json_incref (alerts);
}

//  The act, until and note of the body. 0, or -1 with why.
static int
s_actions_read (const json_t *body, s_actions_t *self, char *error, size_t error_size)
{
    size_t known = 0;
    if (json_get_string (body, "act", self->op, sizeof self->op, false) == 0)
        while (s_acts [known] && strcmp (s_acts [known], self->op))
            known++;
    if (!*self->op || !s_acts [known]) {
        snprintf (error, error_size, "act: want \"ack\", \"unack\", \"clear\" or "
                  "\"suppress\"");
        return -1;
    }
    int64_t seconds;
    if (json_get_string (body, "until", self->until, sizeof self->until, false) != 0
    &&  json_get_int (body, "until", &seconds) == 0)
        snprintf (self->until, sizeof self->until, "%lld", (long long) seconds);
    json_get_string (body, "note", self->note, sizeof self->note, false);
    if (strcmp (self->op, "suppress") == 0 && !*self->until) {
        snprintf (error, error_size, "suppress wants \"until\": \"+2h\" (\"now\" lifts it)");
        return -1;
    }
    self->alerts = s_actions_alerts (body, error, error_size);
    return self->alerts ? 0 : -1;
}

enum MHD_Result
api_acts_many (web_t *web, http_request_t *request)
{
    char error [WIRE_ERROR_SIZE + 64];
    json_t *body = json_read_object (http_body (request), http_body_size (request),
                                     S_ACTIONS_BODY, error, sizeof error);
    if (!body)
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "the body: %s", error);
    s_actions_t *self = mem_alloc (sizeof (s_actions_t));
    int rc = s_actions_read (body, self, error, sizeof error);
    json_decref (body);
    if (rc) {
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
