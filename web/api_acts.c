/*  api_acts.c — POST /api/alerts/SOURCE/ID/{ack,unack,clear,suppress}.
    See api_acts.h. The act goes to the broker with web_call (the HTTP
    request waits, the loop does not) and its reply is answered as JSON.
*/
#include <string.h>
#include "api_acts.h"
#include "json.h"

#define S_BODY_MAX  (16 * 1024)    //  an act's body, at most

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
