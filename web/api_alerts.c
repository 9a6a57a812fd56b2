/*  api_alerts.c — GET /api/alerts and GET /api/alerts/SOURCE/ID. See
    api_alerts.h.

    An alert goes out as the JSON of its wire form (alert_pack, then
    json_from_msgpack): the same fields, names and units as `lilac get
    --json` and the change bodies.
*/
#include "api_alerts.h"
#include "filter.h"
#include "json.h"
#include "mem.h"

//  The alert's JSON: its wire form, converted.
static json_t *
s_alert_json (const alert_t *alert)
{
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_pack_map (&writer.packer, 2);              //  {v, alert}: a document
    wire_pack_key_int (&writer.packer, "v", WIRE_VERSION);
    wire_pack_key (&writer.packer, "alert");
    alert_pack (&writer.packer, alert);
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (writer.buffer.data, writer.buffer.size, error, sizeof error);
    json_t *json = doc ? json_from_msgpack (wire_get (wire_doc_root (doc), "alert")) : NULL;
    wire_doc_destroy (&doc);
    wire_writer_free (&writer);
    return json;
}

//  Raised first (urgent, normal, low), then acked, pending, cleared.
static int
s_rank (const alert_t *alert)
{
    static const int by_state [] = { [ALERT_RAISED] = 0, [ALERT_ACKED] = 1,
                                     [ALERT_PENDING] = 2, [ALERT_CLEARED] = 3 };
    return by_state [alert->state] * 3 + (int) alert->level;
}

static int
s_compare (const void *left, const void *right)
{
    const alert_t *a = *(const alert_t *const *) left, *b = *(const alert_t *const *) right;
    int rank = s_rank (a) - s_rank (b);
    if (rank)
        return rank;
    int source = strcmp (a->source, b->source);
    return source ? source : strcmp (a->id, b->id);
}

typedef struct {
    const filter_t *filter;
    const alert_t **found;
    size_t count;
    size_t capacity;
} s_collect_t;

static void
s_collect (const alert_t *alert, void *arg)
{
    s_collect_t *collect = arg;
    if (!filter_matches (collect->filter, alert))
        return;
    if (collect->count == collect->capacity) {
        collect->capacity = collect->capacity ? collect->capacity * 2 : 256;
        collect->found = mem_realloc (collect->found, collect->capacity * sizeof (alert_t *));
    }
    collect->found [collect->count++] = alert;
}

static json_t *
s_epoch_json (const epoch_t *epoch)
{
    return json_pack ("{s:s, s:I, s:I}", "db", epoch->db, "n", (json_int_t) epoch->n,
                      "first", (json_int_t) epoch->first);
}

enum MHD_Result
api_alerts_list (web_t *web, http_request_t *request)
{
    mirror_t *mirror = web_mirror (web);
    if (!mirror_ready (mirror))
        return http_reply_error (request, MHD_HTTP_SERVICE_UNAVAILABLE,
                                 "not in step with the broker yet (%s): try again shortly",
                                 web_control_endpoint (web));
    filter_t filter;
    if (filter_read (&filter, request))
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "%s", filter.error);
    s_collect_t collect = { .filter = &filter };
    mirror_each (mirror, s_collect, &collect);
    if (collect.count)
        qsort (collect.found, collect.count, sizeof (alert_t *), s_compare);
    json_t *alerts = json_array ();
    for (size_t index = 0; alerts && index < collect.count; index++)
        if (json_array_append_new (alerts, s_alert_json (collect.found [index])))
            break;
    mem_free (collect.found);
    json_t *body = json_pack ("{s:o, s:I, s:I, s:o}", "epoch", s_epoch_json (mirror_epoch (mirror)),
                              "seq", (json_int_t) mirror_seq (mirror),
                              "count", (json_int_t) collect.count, "alerts", alerts);
    if (!body)
        return http_reply_error (request, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    return http_reply_json (request, MHD_HTTP_OK, body);
}

//  The broker's answer to `history`: its change bodies, as JSON.
static void
s_history_done (web_t *web, http_request_t *request, wire_doc_t *reply, const char *why,
                void *arg)
{
    (void) arg;
    wire_doc_t *checked = web_reply_checked (web, request, reply, why, MHD_HTTP_BAD_REQUEST);
    if (!checked)
        return;
    char error [WIRE_ERROR_SIZE];
    const msgpack_object *root = wire_doc_root (checked);
    json_t *changes = json_from_msgpack (wire_get (root, "changes"));
    bool more = false, present = false;
    wire_get_bool (root, "more", &present, &more, error, sizeof error);
    int64_t before = 0;
    wire_get_int (root, "before", &present, &before, error, sizeof error);
    json_t *body = json_pack ("{s:o, s:b}", "changes", changes ? changes : json_array (),
                              "more", more);
    if (body && more)
        json_object_set_new (body, "before", json_integer (before));
    wire_doc_destroy (&checked);
    http_resume_json (request, body ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR,
                      body ? body : json_pack ("{s:s}", "error", "out of memory"));
}

//  GET /api/alerts/SOURCE/ID/history[?limit=N&before=SEQ], from the broker.
static enum MHD_Result
s_history (web_t *web, http_request_t *request, const char *source, const char *id)
{
    const char *limit_text = http_query (request, "limit");
    const char *before_text = http_query (request, "before");
    char *end = NULL;
    long long limit = limit_text ? strtoll (limit_text, &end, 10) : 0;
    if (limit_text && (*end || limit < 1 || limit > 1000))
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "limit: 1 to 1000");
    unsigned long long before = before_text ? strtoull (before_text, &end, 10) : 0;
    if (before_text && (*end || !*before_text))
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "before: a seq");
    wire_writer_t writer;
    ctl_history_request (&writer, source, id, limit, before);
    enum MHD_Result rc = web_call (web, request, writer.buffer.data, writer.buffer.size,
                                   s_history_done, NULL);
    wire_writer_free (&writer);
    return rc;
}

enum MHD_Result
api_alerts_one (web_t *web, http_request_t *request)
{
    char source [WIRE_MAX_NAME + 1], id [WIRE_MAX_NAME + 1], tail [16] = "";
    size_t segments = http_segment_count (request);
    if (http_segment (request, 2, source, sizeof source)
    ||  http_segment (request, 3, id, sizeof id) || segments < 4 || segments > 5
    ||  (segments == 5 && (http_segment (request, 4, tail, sizeof tail)
                           || strcmp (tail, "history"))))
        return http_reply_error (request, MHD_HTTP_NOT_FOUND, "want /api/alerts/SOURCE/ID or "
                                 "/api/alerts/SOURCE/ID/history (a '/' inside written %%2F)");
    if (segments == 5)
        return s_history (web, request, source, id);
    mirror_t *mirror = web_mirror (web);
    if (!mirror_ready (mirror))
        return http_reply_error (request, MHD_HTTP_SERVICE_UNAVAILABLE,
                                 "not in step with the broker yet: try again shortly");
    const alert_t *alert = mirror_find (mirror, source, id);
    if (!alert)
        return http_reply_error (request, MHD_HTTP_NOT_FOUND, "no alert %s/%s", source, id);
    json_t *body = json_pack ("{s:o}", "alert", s_alert_json (alert));
    if (!body)
        return http_reply_error (request, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    return http_reply_json (request, MHD_HTTP_OK, body);
}
