/*  test_web_silences.c — silences over HTTP, end to end, with curl and the
    real amtool (Debian prometheus-alertmanager; only its CLI is run, no
    Alertmanager is started and port 9093 is never used).

    A broker and a lilac-web on loopback ports. Cases:
    - lilac's own: POST /api/silences adds one (the broker has it, `by` is
      lilac-web's user, not the body's), GET /api/silences lists it, an
      alert it matches carries silenced_by, POST /api/silences/ID/expire
      ends it (the alert loses silenced_by); 400 for a bad regex, no
      matchers, no ends, a body that is not JSON; 404 for an unknown id;
    - Alertmanager's: GET /api/v2/status answers cluster "ready";
      `amtool silence add alertname=X instance=web1` makes a silence the
      broker lists (`lilac silence list --json`: source web1, label
      alertname=X), an alert posted to /api/v2/alerts with those labels
      carries its id in silenced_by (one on web2 does not), `amtool
      silence query` shows it (and filters by matcher, as Alertmanager
      does), GET /api/v2/silence/ID answers it, `amtool silence expire ID`
      ends it at the broker and query no longer shows it; GET and DELETE
      of an unknown id are 404;
    - the SSE stream (curl -N, filtered to one source): a silence added
      (POST /api/silences) and expired comes as two `event: silence`, data
      equal to what POST answered and GET /api/silences lists, each
      followed by the alert's `updated` change (silenced_by set, then
      gone), every id N:SEQ above the one before; silences=no gets the
      alerts' changes and no silence event, silences=maybe is a 400; a
      client away while a silence (`lilac silence add`, +2s) started and
      ended gets both, in order, when it comes back with Last-Event-ID or
      ?since= (no reset), and none with silences=no; a silence added
      while lilac-web was stopped and its SUB overflowed (60,000 changes
      before it, so the bus dropped it: the feed's gap is before its seq)
      is fetched with `since` and streamed;
    - with API tokens: a reader lists (both APIs) but may not add or
      expire (403), no credentials is 401, an admin's silence is `by` the
      token's name, and amtool with a bearer token in --http.config.file
      adds one (without it, it fails);
    - last, more silences than one broker reply holds: /api/silences says
      truncated, GET /api/v2/silence/ID of one left out is a 500 (not a
      wrong 404), the Alertmanager list is answered and the cut logged.
*/
#include <jansson.h>
#include <signal.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/web_process.h"
#include "silence.h"
#include "timespec.h"

#define S_AMTOOL     "/usr/bin/amtool"
#define S_DEADLINE   10000         //  ms to see a change at the broker

static testbed_t *s_bed;
static web_process_t *s_web;       //  the lilac-web under test

//  METHOD PATH with a JSON body (or NULL) and one more header (or NULL).
static void
s_call (const char *header, const char *method, const char *path, const char *body,
        http_result_t *reply)
{
    char url [256];
    snprintf (url, sizeof url, "%s%s", web_process_base (s_web), path);
    http_options_t options = { .body = body, .header = header };
    if (http_call (sandbox_dir (s_bed->sandbox), method, url, &options, reply) != 0)
        reply->code = 0;
}

static void
s_curl (const char *method, const char *path, const char *body, http_result_t *reply)
{
    s_call (NULL, method, path, body, reply);
}

//  The string at key inside the member object of the reply body (member
//  NULL: the body itself) into out; "" when absent.
static void
s_body_string (const char *body, const char *member, const char *key, char *out, size_t size)
{
    *out = '\0';
    json_t *root = json_loads (body, 0, NULL);
    json_t *object = member ? json_object_get (root, member) : root;
    const char *value = json_string_value (json_object_get (object, key));
    if (value)
        snprintf (out, size, "%s", value);
    json_decref (root);
}

//  Polls the broker until source/id's silenced_by is want ("" for none).
//  0, or -1 at the deadline (got holds the last seen).
static int
s_wait_silenced_by (const char *source, const char *id, const char *want, char *got,
                    size_t size)
{
    for (int64_t end = clock_now_ms () + S_DEADLINE; clock_now_ms () < end; ) {
        alert_t alert;
        *got = '\0';
        if (control_get_alert (s_bed->broker, source, id, &alert) == 0) {
            snprintf (got, size, "%s", alert.silenced_by ? alert.silenced_by : "");
            alert_clear_fields (&alert);
            if (strcmp (got, want) == 0)
                return 0;
        }
        harness_pause_ms (50);
    }
    return -1;
}

//  `lilac silence list --json` against the broker; its stdout (owned).
static char *
s_cli_silences (void)
{
    cli_result_t result;
    cli_run (sandbox_dir (s_bed->sandbox), 10000, &result, "-C",
             broker_process_control (s_bed->broker), "silence", "list", "--json", NULL);
    char *out = result.status == 0 ? strdup (result.out) : strdup ("");
    cli_result_free (&result);
    return out;
}

//  POST /api/v2/alerts one alert with labels alertname, instance (and job).
static long
s_post_am_alert (const char *alertname, const char *instance)
{
    char body [512];
    snprintf (body, sizeof body, "[{\"labels\": {\"alertname\": \"%s\", \"instance\": \"%s\"}}]",
              alertname, instance);
    http_result_t reply;
    s_curl ("POST", "/api/v2/alerts", body, &reply);
    long code = reply.code;
    http_result_free (&reply);
    return code;
}

static void
s_own_errors (void)
{
    TEST ("POST /api/silences: 400 for a bad regex, no matchers, no ends, not JSON");
    static const char *const bodies [] = {
        "{\"matchers\": {\"labels\": [\"team=~(\"]}, \"ends\": \"+1h\"}",
        "{\"matchers\": {}, \"ends\": \"+1h\"}",
        "{\"matchers\": {\"source\": \"db1\"}}",
        "not json"
    };
    static const char *const needles [] = { "regex", "matchers", "ends", "body" };
    for (size_t index = 0; index < 4; index++) {
        http_result_t reply;
        s_curl ("POST", "/api/silences", bodies [index], &reply);
        CHECK (reply.code == 400 && strstr (reply.body, "\"error\"")
               && strstr (reply.body, needles [index]), "%s: %ld %s", bodies [index],
               reply.code, reply.body);
        http_result_free (&reply);
    }
    TEST ("POST /api/silences/ID/expire: 404 for an unknown id or a bad path");
    http_result_t reply;
    s_curl ("POST", "/api/silences/00000000-0000-4000-8000-000000000000/expire", "{}", &reply);
    CHECK (reply.code == 404 && strstr (reply.body, "no silence"), "%ld %s", reply.code,
           reply.body);
    http_result_free (&reply);
    s_curl ("POST", "/api/silences/nothing/unexpire", "{}", &reply);
    CHECK (reply.code == 404, "%ld %s", reply.code, reply.body);
    http_result_free (&reply);
}

static void
s_own (void)
{
    TEST ("POST /api/silences adds a silence at the broker, by lilac-web's user");
    http_result_t reply;
    s_curl ("POST", "/api/silences", "{\"matchers\": {\"source\": \"db*\", \"labels\": "
            "[\"alertname=Disk\"]}, \"ends\": \"+1h\", \"note\": \"maintenance\", "
            "\"by\": \"mallory\"}", &reply);
    char id [SILENCE_ID_SIZE + 1], by [128];
    s_body_string (reply.body, "silence", "id", id, sizeof id);
    s_body_string (reply.body, "silence", "by", by, sizeof by);
    CHECK (reply.code == 200 && silence_id_valid (id), "%ld %s", reply.code, reply.body);
    CHECK (strcmp (by, "anonymous@127.0.0.1") == 0, "by '%s'", by);
    CHECK (text_has (reply.body, "\"state\":\"active\""), "not active: %s", reply.body);
    http_result_free (&reply);
    char *listed = s_cli_silences ();
    CHECK (strstr (listed, id) && strstr (listed, "maintenance"), "broker: %s", listed);
    free (listed);

    TEST ("GET /api/silences lists it, and says the list is whole");
    s_curl ("GET", "/api/silences", NULL, &reply);
    CHECK (reply.code == 200 && strstr (reply.body, "\"silences\"") && strstr (reply.body, id)
           && text_has (reply.body, "\"truncated\":false"), "%ld %s", reply.code, reply.body);
    http_result_free (&reply);

    TEST ("an alert the silence matches carries silenced_by");
    CHECK (s_post_am_alert ("Disk", "db1") == 200, "POST /api/v2/alerts");
    char got [SILENCE_ID_SIZE + 1];
    CHECK (silence_id_valid (id)
           && s_wait_silenced_by ("db1", "Disk", id, got, sizeof got) == 0,
           "silenced_by '%s', want %s", got, id);

    TEST ("POST /api/silences/ID/expire ends it; the alert loses silenced_by");
    char path [128];
    snprintf (path, sizeof path, "/api/silences/%s/expire", id);
    s_curl ("POST", path, "{}", &reply);
    CHECK (reply.code == 200 && text_has (reply.body, "\"state\":\"expired\""), "%ld %s",
           reply.code, reply.body);
    http_result_free (&reply);
    CHECK (s_wait_silenced_by ("db1", "Disk", "", got, sizeof got) == 0,
           "still silenced_by '%s'", got);
}

static void
s_am_status (void)
{
    TEST ("GET /api/v2/status: cluster ready, versionInfo, config.original");
    http_result_t reply;
    s_curl ("GET", "/api/v2/status", NULL, &reply);
    CHECK (reply.code == 200 && text_has (reply.body, "\"status\":\"ready\"")
           && strstr (reply.body, "versionInfo") && text_has (reply.body, "\"original\":\"\""),
           "%ld %s", reply.code, reply.body);
    http_result_free (&reply);
    s_curl ("DELETE", "/api/v2/silence/00000000-0000-4000-8000-000000000000", NULL, &reply);
    CHECK (reply.code == 404, "DELETE unknown: %ld %s", reply.code, reply.body);
    http_result_free (&reply);
    s_curl ("GET", "/api/v2/silence/00000000-0000-4000-8000-000000000000", NULL, &reply);
    CHECK (reply.code == 404, "GET unknown: %ld %s", reply.code, reply.body);
    http_result_free (&reply);
}

//  amtool --alertmanager.url=BASE ARGS...
static int
s_amtool (cli_result_t *result, const char *a, const char *b, const char *c, const char *d,
          const char *e, const char *f, const char *g)
{
    char url [128];
    snprintf (url, sizeof url, "--alertmanager.url=%s", web_process_base (s_web));
    return command_run (S_AMTOOL, "amtool", sandbox_dir (s_bed->sandbox), 20000, result, url,
                        a, b, c, d, e, f, g, NULL);
}

static void
s_amtool_silences (void)
{
    TEST ("amtool silence add: the broker has the silence (source web1, alertname=X)");
    if (!CHECK (access (S_AMTOOL, X_OK) == 0, "no %s (make deps installs "
                "prometheus-alertmanager)", S_AMTOOL))
        return;
    cli_result_t result;
    s_amtool (&result, "silence", "add", "alertname=X", "instance=web1", "--duration=1h",
              "--comment=test", "--author=tester");
    char id [SILENCE_ID_SIZE + 1] = "";
    sscanf (result.out, "%36s", id);
    CHECK (result.status == 0 && silence_id_valid (id), "status %d, out '%s', err '%s'",
           result.status, result.out, result.err);
    cli_result_free (&result);
    char *listed = s_cli_silences ();
    CHECK (strstr (listed, id) && text_has (listed, "\"source\":\"web1\"")
           && strstr (listed, "alertname=X") && strstr (listed, "test"), "broker: %s", listed);
    free (listed);

    TEST ("an alert with those labels carries silenced_by; one on web2 does not");
    CHECK (s_post_am_alert ("X", "web1") == 200 && s_post_am_alert ("X", "web2") == 200,
           "POST /api/v2/alerts");
    char got [SILENCE_ID_SIZE + 1];
    CHECK (silence_id_valid (id)
           && s_wait_silenced_by ("web1", "X", id, got, sizeof got) == 0,
           "silenced_by '%s', want %s", got, id);
    CHECK (s_wait_silenced_by ("web2", "X", "", got, sizeof got) == 0,
           "web2 silenced_by '%s'", got);

    TEST ("amtool silence query shows it; a query by a matcher it lacks does not");
    s_amtool (&result, "silence", "query", NULL, NULL, NULL, NULL, NULL);
    CHECK (result.status == 0 && strstr (result.out, id)
           && strstr (result.out, "alertname=\"X\"") && strstr (result.out, "instance=\"web1\""),
           "status %d, out '%s', err '%s'", result.status, result.out, result.err);
    cli_result_free (&result);
    s_amtool (&result, "silence", "query", "-q", "alertname=~X|Z", NULL, NULL, NULL);
    CHECK (result.status == 0 && strstr (result.out, id), "status %d, out '%s', err '%s'",
           result.status, result.out, result.err);
    cli_result_free (&result);
    s_amtool (&result, "silence", "query", "-q", "alertname=Z", NULL, NULL, NULL);
    CHECK (result.status == 0 && !strstr (result.out, id), "status %d, out '%s', err '%s'",
           result.status, result.out, result.err);
    cli_result_free (&result);

    TEST ("GET /api/v2/silence/ID: that one silence, as Alertmanager writes it");
    char path [96];
    snprintf (path, sizeof path, "/api/v2/silence/%s", id);
    http_result_t reply;
    s_curl ("GET", path, NULL, &reply);
    char field [128];
    s_body_string (reply.body, NULL, "id", field, sizeof field);
    CHECK (reply.code == 200 && strcmp (field, id) == 0
           && text_has (reply.body, "\"state\":\"active\"")
           && text_has (reply.body, "\"comment\":\"test\""), "%ld %s", reply.code, reply.body);
    http_result_free (&reply);

    TEST ("amtool silence expire ends it at the broker; query no longer shows it");
    s_amtool (&result, "silence", "expire", id, NULL, NULL, NULL, NULL);
    CHECK (result.status == 0, "status %d, out '%s', err '%s'", result.status, result.out,
           result.err);
    cli_result_free (&result);
    CHECK (s_wait_silenced_by ("web1", "X", "", got, sizeof got) == 0,
           "still silenced_by '%s'", got);
    listed = s_cli_silences ();
    CHECK (strstr (listed, id) && text_has (listed, "\"state\":\"expired\""), "broker: %s",
           listed);
    free (listed);
    s_amtool (&result, "silence", "query", NULL, NULL, NULL, NULL, NULL);
    CHECK (result.status == 0 && !strstr (result.out, id), "status %d, out '%s'",
           result.status, result.out);
    cli_result_free (&result);
}

//  --- the SSE stream -------------------------------------------------------------------

#define S_STREAM_EVENTS  4096      //  events of one capture read at most
#define S_BURST_FRAMES   6         //  ingest frames that overflow lilac-web's SUB
#define S_BURST_SIZE     10000     //  alerts per frame (WIRE_MAX_BATCH)

//  One event of a captured stream.
typedef struct {
    char event [16];               //  "change", "silence", "reset"
    uint64_t epoch_n, seq;         //  its id N:SEQ (0:0 without one)
    json_t *data;                  //  its data parsed, or NULL
} s_event_t;

typedef struct {
    s_event_t *events;
    size_t count;
} s_capture_t;

static void
s_capture_free (s_capture_t *capture)
{
    for (size_t index = 0; index < capture->count; index++)
        json_decref (capture->events [index].data);
    free (capture->events);
    capture->events = NULL;
    capture->count = 0;
}

//  One line of an event block into event.
static void
s_event_line (s_event_t *event, const char *line, size_t length)
{
    char *text = strndup (line, length);
    unsigned long long n, seq;
    if (!text)
        return;
    if (strncmp (text, "event: ", 7) == 0)
        snprintf (event->event, sizeof event->event, "%s", text + 7);
    else
    if (sscanf (text, "id: %llu:%llu", &n, &seq) == 2) {
        event->epoch_n = n;
        event->seq = seq;
    }
    else
    if (strncmp (text, "data: ", 6) == 0)
        event->data = json_loads (text + 6, 0, NULL);
    free (text);
}

//  The events of the SSE capture at path, in order (comments left out).
static s_capture_t
s_capture_read (const char *path)
{
    s_capture_t capture = { calloc (S_STREAM_EVENTS, sizeof (s_event_t)), 0 };
    char *text = capture.events ? file_read_all (path) : NULL;
    for (const char *block = text; block && *block && capture.count < S_STREAM_EVENTS; ) {
        const char *end = strstr (block, "\n\n");
        if (!end)
            break;                 //  an event still being written
        s_event_t *event = &capture.events [capture.count];
        for (const char *line = block; line < end; ) {
            size_t length = strcspn (line, "\n");
            s_event_line (event, line, length);
            line += length + 1;
        }
        if (*event->event)
            capture.count++;
        else
            json_decref (event->data);
        block = end + 2;
    }
    free (text);
    return capture;
}

//  The string at key in an event's data ("" when absent).
static const char *
s_data_string (const s_event_t *event, const char *key)
{
    const char *value = json_string_value (json_object_get (event->data, key));
    return value ? value : "";
}

//  The index of the first `silence` event at or after from for silence id
//  in state, or -1.
static long
s_find_silence (const s_capture_t *capture, size_t from, const char *id, const char *state)
{
    for (size_t index = from; index < capture->count; index++) {
        const s_event_t *event = &capture->events [index];
        if (strcmp (event->event, "silence") == 0 && strcmp (s_data_string (event, "id"), id) == 0
        &&  strcmp (s_data_string (event, "state"), state) == 0)
            return (long) index;
    }
    return -1;
}

//  The index of the first `change` event at or after from whose change is
//  kind (an event name) of alert id, with silenced_by as given ("" none),
//  or -1.
static long
s_find_change (const s_capture_t *capture, size_t from, const char *kind, const char *id,
               const char *silenced_by)
{
    for (size_t index = from; index < capture->count; index++) {
        const s_event_t *event = &capture->events [index];
        json_t *alert = json_object_get (event->data, "alert");
        const char *alert_id = json_string_value (json_object_get (alert, "id"));
        const char *by = json_string_value (json_object_get (alert, "silenced_by"));
        if (strcmp (event->event, "change") == 0 && strcmp (s_data_string (event, "event"), kind) == 0
        &&  alert_id && strcmp (alert_id, id) == 0 && strcmp (by ? by : "", silenced_by) == 0)
            return (long) index;
    }
    return -1;
}

//  How many events of the capture are of kind ("change", "silence"...).
static size_t
s_count_kind (const s_capture_t *capture, const char *kind)
{
    size_t count = 0;
    for (size_t index = 0; index < capture->count; index++)
        count += strcmp (capture->events [index].event, kind) == 0;
    return count;
}

//  True when every event has an id N:SEQ of one epoch, each seq above the
//  one before and above after.
static bool
s_ids_increase (const s_capture_t *capture, uint64_t after)
{
    for (size_t index = 0; index < capture->count; index++) {
        const s_event_t *event = &capture->events [index];
        if (event->seq <= after || event->epoch_n != capture->events [0].epoch_n)
            return false;
        after = event->seq;
    }
    return true;
}

//  Waits until the capture at path holds the silence id in state. 0, or
//  -1 at the deadline.
static int
s_wait_silence (const char *path, const char *id, const char *state)
{
    for (int64_t end = clock_now_ms () + S_DEADLINE; clock_now_ms () < end; ) {
        s_capture_t capture = s_capture_read (path);
        long found = s_find_silence (&capture, 0, id, state);
        s_capture_free (&capture);
        if (found >= 0)
            return 0;
        harness_pause_ms (50);
    }
    return -1;
}

//  Waits until the capture at path holds a change kind of alert id with
//  silenced_by ("" none). 0, or -1 at the deadline.
static int
s_wait_change (const char *path, const char *kind, const char *id, const char *silenced_by)
{
    for (int64_t end = clock_now_ms () + S_DEADLINE; clock_now_ms () < end; ) {
        s_capture_t capture = s_capture_read (path);
        long found = s_find_change (&capture, 0, kind, id, silenced_by);
        s_capture_free (&capture);
        if (found >= 0)
            return 0;
        harness_pause_ms (50);
    }
    return -1;
}

//  `lilac silence add --source SOURCE --id ID --ends ENDS`: the new id
//  into id ("" on failure).
static void
s_cli_silence_add (const char *source, const char *alert_id, const char *ends, char *id,
                   size_t size)
{
    cli_result_t result;
    cli_run (sandbox_dir (s_bed->sandbox), 10000, &result, "-C",
             broker_process_control (s_bed->broker), "silence", "add", "--source", source,
             "--id", alert_id, "--ends", ends, "--note", "sse", NULL);
    *id = '\0';
    if (result.status == 0)
        snprintf (id, size, "%.*s", (int) strcspn (result.out, " \n"), result.out);
    cli_result_free (&result);
}

//  The streams the cases share: one that watches every change of
//  sse-host (and every silence), one that asked silences=no.
static char *s_watch_path, *s_quiet_path;
static pid_t s_watch_pid, s_quiet_pid;

//  The silence id's object in GET /api/silences (NULL when not there).
static json_t *
s_listed_silence (const char *id)
{
    http_result_t reply;
    s_curl ("GET", "/api/silences", NULL, &reply);
    json_t *root = json_loads (reply.body ? reply.body : "", 0, NULL);
    http_result_free (&reply);
    json_t *silences = json_object_get (root, "silences"), *found = NULL;
    for (size_t index = 0; index < json_array_size (silences); index++) {
        json_t *silence = json_array_get (silences, index);
        const char *its = json_string_value (json_object_get (silence, "id"));
        if (its && strcmp (its, id) == 0)
            found = json_incref (silence);
    }
    json_decref (root);
    return found;
}

//  A silence added and expired: both as `event: silence`, in seq order
//  with the alert's `updated` changes, its data as /api/silences writes it.
static void
s_stream_silences (void)
{
    TEST ("GET /api/stream: event: silence for a silence added and expired, ids N:SEQ in "
          "order with the alert's updated changes (silenced_by), data as /api/silences");
    s_watch_path = sandbox_path (s_bed->sandbox, "stream-watch");
    s_quiet_path = sandbox_path (s_bed->sandbox, "stream-quiet");
    s_watch_pid = web_process_stream (s_web, "?source=sse-host", NULL, s_watch_path);
    s_quiet_pid = web_process_stream (s_web, "?source=sse-host&silences=no", NULL, s_quiet_path);
    CHECK (testbed_raise (s_bed, "sse-host", "disk", NULL) == 0, "raise");
    CHECK (s_wait_change (s_watch_path, "raised", "disk", "") == 0, "no raised change");
    http_result_t reply;
    s_curl ("POST", "/api/silences", "{\"matchers\": {\"source\": \"sse-host\"}, "
            "\"ends\": \"+1h\", \"note\": \"stream\"}", &reply);
    json_t *added = json_loads (reply.body ? reply.body : "", 0, NULL);
    http_result_free (&reply);
    const char *id = json_string_value (json_object_get (json_object_get (added, "silence"),
                                                         "id"));
    if (!CHECK (id && silence_id_valid (id), "POST /api/silences failed")) {
        json_decref (added);
        return;
    }
    CHECK (s_wait_change (s_watch_path, "updated", "disk", id) == 0, "no updated change "
           "with silenced_by %s", id);
    char path [128];
    snprintf (path, sizeof path, "/api/silences/%s/expire", id);
    s_curl ("POST", path, "{}", &reply);
    CHECK (reply.code == 200, "expire: %ld %s", reply.code, reply.body);
    http_result_free (&reply);
    CHECK (s_wait_change (s_watch_path, "updated", "disk", "") == 0, "no updated change "
           "without silenced_by");
    s_capture_t capture = s_capture_read (s_watch_path);
    long active = s_find_silence (&capture, 0, id, "active");
    long covered = active < 0 ? -1 : s_find_change (&capture, active, "updated", "disk", id);
    long expired = covered < 0 ? -1 : s_find_silence (&capture, covered, id, "expired");
    long freed = expired < 0 ? -1 : s_find_change (&capture, expired, "updated", "disk", "");
    CHECK (active >= 0 && covered > active && expired > covered && freed > expired,
           "silence %ld, updated %ld, expired %ld, updated %ld", active, covered, expired,
           freed);
    CHECK (s_ids_increase (&capture, 0), "the ids N:SEQ do not increase");
    CHECK (active >= 0 && json_equal (capture.events [active].data,
                                      json_object_get (added, "silence")),
           "the silence event is not what POST /api/silences answered");
    json_t *listed = s_listed_silence (id);
    CHECK (expired >= 0 && listed && json_equal (capture.events [expired].data, listed),
           "the expired event is not what GET /api/silences lists");
    json_decref (listed);
    s_capture_free (&capture);
    json_decref (added);
}

//  silences=no: the alerts' changes only; any other value is a 400.
static void
s_stream_quiet (void)
{
    TEST ("GET /api/stream?silences=no: the alerts' changes (silenced_by too), no silence "
          "event; silences=maybe is a 400");
    CHECK (s_wait_change (s_quiet_path, "updated", "disk", "") == 0, "the alerts' changes "
           "never came");
    s_capture_t capture = s_capture_read (s_quiet_path);
    CHECK (s_count_kind (&capture, "silence") == 0, "%zu silence events",
           s_count_kind (&capture, "silence"));
    CHECK (s_find_change (&capture, 0, "raised", "disk", "") >= 0
           && s_count_kind (&capture, "change") >= 3, "%zu change events",
           s_count_kind (&capture, "change"));
    s_capture_free (&capture);
    http_result_t reply;
    s_curl ("GET", "/api/stream?silences=maybe", NULL, &reply);
    CHECK (reply.code == 400 && strstr (reply.body, "silences"), "%ld %.200s", reply.code,
           reply.body);
    http_result_free (&reply);
}

//  The id N:SEQ of the last event of the capture at path, into last.
static void
s_last_id (const char *path, char *last, size_t size)
{
    s_capture_t capture = s_capture_read (path);
    *last = '\0';
    if (capture.count)
        snprintf (last, size, "%llu:%llu",
                  (unsigned long long) capture.events [capture.count - 1].epoch_n,
                  (unsigned long long) capture.events [capture.count - 1].seq);
    s_capture_free (&capture);
}

//  A resumed capture holds the silence id's changes (started, ended by
//  itself) and the updated changes between, all after last, no reset.
static bool
s_resumed_whole (const char *path, const char *id, const char *last)
{
    unsigned long long n = 0, after = 0;
    sscanf (last, "%llu:%llu", &n, &after);
    s_capture_t capture = s_capture_read (path);
    long active = s_find_silence (&capture, 0, id, "active");
    long covered = active < 0 ? -1 : s_find_change (&capture, active, "updated", "resume", id);
    long expired = covered < 0 ? -1 : s_find_silence (&capture, covered, id, "expired");
    bool whole = expired > covered && covered > active && active >= 0
              && s_count_kind (&capture, "reset") == 0 && s_ids_increase (&capture, after)
              && capture.events [0].epoch_n == n;
    if (!whole)
        harness_note ("%s: %zu events, silence %ld, updated %ld, expired %ld, %zu resets",
                      path, capture.count, active, covered, expired,
                      s_count_kind (&capture, "reset"));
    s_capture_free (&capture);
    return whole;
}

//  A client away while a silence starts and ends gets both when it comes
//  back (Last-Event-ID, or ?since= on a first connection); silences=no
//  gets the alert's changes alone.
static void
s_stream_resume (void)
{
    TEST ("GET /api/stream: a client that comes back (Last-Event-ID, ?since=) gets the "
          "silence changes it missed, in order; with silences=no none");
    char *away = sandbox_path (s_bed->sandbox, "stream-away");
    pid_t away_pid = web_process_stream (s_web, "?source=sse-host", NULL, away);
    CHECK (testbed_raise (s_bed, "sse-host", "resume", NULL) == 0, "raise");
    CHECK (s_wait_change (away, "raised", "resume", "") == 0, "no raised change");
    process_kill (&away_pid, 5000);
    char last [64], id [SILENCE_ID_SIZE + 8];
    s_last_id (away, last, sizeof last);
    s_cli_silence_add ("sse-host", "resume", "+2s", id, sizeof id);
    CHECK (silence_id_valid (id), "lilac silence add: '%s'", id);
    //  Seen by the watcher: lilac-web has it all in its recent changes.
    CHECK (s_wait_silence (s_watch_path, id, "expired") == 0
           && s_wait_change (s_watch_path, "updated", "resume", "") == 0,
           "the watcher did not see the silence start and end");
    pid_t header_pid = web_process_stream (s_web, "?source=sse-host", last, away);
    CHECK (s_wait_silence (away, id, "expired") == 0 && s_resumed_whole (away, id, last),
           "Last-Event-ID %s did not bring the silence's changes", last);
    process_kill (&header_pid, 5000);
    char query [128];
    snprintf (query, sizeof query, "?since=%s&source=sse-host", last);
    pid_t since_pid = web_process_stream (s_web, query, NULL, away);
    CHECK (s_wait_silence (away, id, "expired") == 0 && s_resumed_whole (away, id, last),
           "?since=%s did not bring the silence's changes", last);
    process_kill (&since_pid, 5000);
    pid_t quiet_pid = web_process_stream (s_web, "?source=sse-host&silences=no", last, away);
    CHECK (s_wait_change (away, "updated", "resume", "") == 0, "silences=no: no updated");
    CHECK (!file_has_text (away, "event: silence"), "silences=no got silence events");
    process_kill (&quiet_pid, 5000);
    free (away);
}

//  S_BURST_FRAMES × S_BURST_SIZE cleared alerts of source burst, and the
//  broker's seq once it has published them all. 0 on failure.
static uint64_t
s_burst (void)
{
    uint64_t base = control_seq (s_bed->broker);
    event_spec_t *events = calloc (S_BURST_SIZE, sizeof *events);
    char (*ids) [16] = calloc (S_BURST_SIZE, sizeof *ids);
    int sent = 0;
    for (int frame = 0; events && ids && frame < S_BURST_FRAMES; frame++) {
        for (int index = 0; index < S_BURST_SIZE; index++) {
            snprintf (ids [index], sizeof ids [index], "b%d-%05d", frame, index);
            events [index].id = ids [index];
            events [index].raise = "clear";
        }
        batch_spec_t batch = { .source = "burst", .events = events, .event_count = S_BURST_SIZE };
        sent += ingest_send (s_bed->push, &batch) == 0;
    }
    free (events);
    free (ids);
    uint64_t want = base + S_BURST_FRAMES * S_BURST_SIZE;
    for (int64_t end = clock_now_ms () + 60000; sent == S_BURST_FRAMES && clock_now_ms () < end; ) {
        uint64_t seq = control_seq (s_bed->broker);
        if (seq >= want)
            return seq;
        harness_pause_ms (50);
    }
    return 0;
}

//  Where lilac-web's feed stood at its gap number skip + 1 (the seq in
//  "gap: ... after SEQ" of its log), or 0 when there is none.
static uint64_t
s_gap_horizon (int skip)
{
    char *log = file_read_all (web_process_log (s_web));
    const char *at = log;
    for (int count = 0; at && (at = strstr (at, "gap:")) && count < skip; count++)
        at += 4;
    const char *after = at ? strstr (at, " after ") : NULL;
    unsigned long long horizon = 0;
    if (after && sscanf (after, " after %llu", &horizon) != 1)
        horizon = 0;
    free (log);
    return horizon;
}

//  A silence's change that lilac-web's feed lost on the bus (its SUB full
//  while it was stopped) is fetched with `since` and still streamed.
static void
s_stream_gap (void)
{
    TEST ("GET /api/stream: a silence change lost on the bus (a PUB gap while lilac-web was "
          "stopped) is fetched with since and streamed");
    pid_t web = web_process_pid (s_web);
    int gaps = file_count_text (web_process_log (s_web), "gap:");
    if (!CHECK (kill (web, SIGSTOP) == 0, "SIGSTOP"))
        return;
    uint64_t published = s_burst ();
    CHECK (published > 0, "the broker did not publish the burst");
    char id [SILENCE_ID_SIZE + 8];
    s_cli_silence_add ("sse-gap", "*", "+1h", id, sizeof id);
    CHECK (silence_id_valid (id), "lilac silence add: '%s'", id);
    CHECK (kill (web, SIGCONT) == 0, "SIGCONT");
    CHECK (s_wait_silence (s_watch_path, id, "active") == 0, "the silence never came");
    uint64_t horizon = s_gap_horizon (gaps);
    s_capture_t capture = s_capture_read (s_watch_path);
    long found = s_find_silence (&capture, 0, id, "active");
    uint64_t seq = found >= 0 ? capture.events [found].seq : 0;
    harness_note ("burst to seq %llu; the feed's gap after seq %llu; the silence at seq %llu",
                  (unsigned long long) published, (unsigned long long) horizon,
                  (unsigned long long) seq);
    CHECK (found < 0 || (horizon > 0 && horizon < seq), "the silence was not behind the gap: "
           "the burst did not overflow lilac-web's SUB");
    CHECK (s_ids_increase (&capture, 0) && s_count_kind (&capture, "reset") == 0,
           "the ids do not increase, or a reset came");
    s_capture_free (&capture);
}

static void
s_stream_stop (void)
{
    process_kill (&s_watch_pid, 5000);
    process_kill (&s_quiet_pid, 5000);
    free (s_watch_path);
    free (s_quiet_path);
}

#define S_ADMIN   "Authorization: Bearer ops-admin-token"
#define S_READER  "Authorization: Bearer ops-reader-token"

static long
s_code_as (const char *header, const char *method, const char *path, const char *body)
{
    http_result_t reply;
    s_call (header, method, path, body, &reply);
    long code = reply.code;
    http_result_free (&reply);
    return code;
}

//  A second lilac-web with API tokens: ops (admin), viewer (reader).
static void
s_auth (void)
{
    TEST ("with tokens: a reader lists but cannot add (403), none is 401, by is the admin's name");
    char *tokens = sandbox_path (s_bed->sandbox, "tokens");
    char *http_config = sandbox_path (s_bed->sandbox, "amtool-http.yml");
    char extra [4200];
    snprintf (extra, sizeof extra, "    tokens = \"%s\"\n", tokens);
    CHECK (file_write_text (tokens, "ops admin - "
               "a8bce09f0b71dc220a09b1604ecc78d06f75d060ef69abddf6e492d319e9a2ac\n"
               "viewer reader - "
               "1de0cd868516a52f83e3e7265d692853ccc829e5afeef1870c8d99098ff0a3dc\n") == 0
           && file_write_text (http_config, "authorization:\n  type: Bearer\n"
                               "  credentials: ops-admin-token\n") == 0, "files");
    s_web = web_process_new (s_bed->sandbox, s_bed->broker, extra);
    if (!CHECK (s_web && web_process_start (s_web) == 0, "not ready"))
        goto done;
    const char *body = "{\"matchers\": {\"source\": \"auth1\"}, \"ends\": \"+1h\"}";
    CHECK (s_code_as (NULL, "GET", "/api/silences", NULL) == 401, "no credentials");
    CHECK (s_code_as (S_READER, "GET", "/api/silences", NULL) == 200, "a reader could not list");
    CHECK (s_code_as (S_READER, "GET", "/api/v2/silences", NULL) == 200, "reader, AM list");
    CHECK (s_code_as (S_READER, "POST", "/api/silences", body) == 403, "a reader added");
    CHECK (s_code_as (S_READER, "DELETE", "/api/v2/silence/00000000-0000-4000-8000-000000000000",
                      NULL) == 403, "a reader expired");
    http_result_t reply;
    s_call (S_ADMIN, "POST", "/api/silences", body, &reply);
    char by [128];
    s_body_string (reply.body, "silence", "by", by, sizeof by);
    CHECK (reply.code == 200 && strcmp (by, "ops") == 0, "%ld %s", reply.code, reply.body);
    http_result_free (&reply);

    TEST ("with tokens: amtool with --http.config.file (a bearer token) adds a silence by it");
    cli_result_t result;
    char config_arg [4300];
    snprintf (config_arg, sizeof config_arg, "--http.config.file=%s", http_config);
    s_amtool (&result, config_arg, "silence", "add", "instance=auth2", "--duration=1h",
              "--comment=auth", NULL);
    char id [SILENCE_ID_SIZE + 1] = "";
    sscanf (result.out, "%36s", id);
    CHECK (result.status == 0 && silence_id_valid (id), "status %d, out '%s', err '%s'",
           result.status, result.out, result.err);
    cli_result_free (&result);
    char *listed = s_cli_silences ();
    CHECK (*id && strstr (listed, id) && text_has (listed, "\"by\":\"ops\""), "broker: %s",
           listed);
    free (listed);
    s_amtool (&result, "silence", "add", "instance=auth3", "--duration=1h", "--comment=x", NULL,
              NULL);
    CHECK (result.status != 0, "amtool without credentials: status %d", result.status);
    cli_result_free (&result);
done:
    free (tokens);
    free (http_config);
}

//  More silences than one broker reply holds (each with a 1,000-byte note
//  and long globs matching nothing): the list says truncated, an id the
//  broker left out is a 500 (not a wrong 404), Alertmanager's list is
//  answered and the cut is logged.
static void
s_truncated_list (void)
{
    TEST ("a silence list longer than one reply: truncated, GET /api/v2/silence/ID 500, logged");
    char note [1001], glob [201], body [2048], last [SILENCE_ID_SIZE + 1] = "";
    memset (note, 'n', sizeof note - 1);
    note [sizeof note - 1] = 0;
    memset (glob, 'g', sizeof glob - 1);
    glob [sizeof glob - 1] = 0;
    bool truncated = false;
    http_result_t reply;
    for (int added = 0; !truncated && added < 400; added++) {
        snprintf (body, sizeof body, "{\"matchers\": {\"source\": \"nothing-%s\", \"id\": "
                  "\"%s\", \"subject\": \"%s\"}, \"ends\": \"+1h\", \"note\": \"%s\"}",
                  glob, glob, glob, note);
        s_curl ("POST", "/api/silences", body, &reply);
        s_body_string (reply.body, "silence", "id", last, sizeof last);
        bool ok = reply.code == 200;
        http_result_free (&reply);
        if (!CHECK (ok, "silence %d refused", added))
            return;
        if (added % 20 == 19) {
            s_curl ("GET", "/api/silences", NULL, &reply);
            truncated = text_has (reply.body, "\"truncated\":true");
            http_result_free (&reply);
        }
    }
    CHECK (truncated, "400 silences of 2 KB and the list is still whole");
    char path [128];
    snprintf (path, sizeof path, "/api/v2/silence/%s", last);
    s_curl ("GET", path, NULL, &reply);
    CHECK (reply.code == 500 && text_has (reply.body, "cannot tell whether this one exists"),
           "the newest, left out: %ld %.200s", reply.code, reply.body);
    http_result_free (&reply);
    s_curl ("GET", "/api/v2/silences", NULL, &reply);
    CHECK (reply.code == 200, "the Alertmanager list: %ld", reply.code);
    http_result_free (&reply);
    CHECK (file_has_text (web_process_log (s_web), "the broker's silence_list is full"),
           "the cut Alertmanager list was not logged");
}

int
main (void)
{
    s_bed = testbed_new ("web_silences", NULL);
    if (!s_bed) {
        TEST ("testbed");
        CHECK (false, "no testbed");
        return check_done ();
    }
    s_web = web_process_new (s_bed->sandbox, s_bed->broker, NULL);
    TEST ("lilac-web starts");
    if (CHECK (s_web, "no web process")
    &&  CHECK (web_process_start (s_web) == 0, "not ready")) {
        s_own ();
        s_own_errors ();
        s_am_status ();
        s_amtool_silences ();
        s_stream_silences ();
        s_stream_quiet ();
        s_stream_resume ();
        s_stream_gap ();
        s_stream_stop ();
        TEST ("lilac-web exits 0 on SIGTERM");
        CHECK (web_process_stop (s_web) == 0, "exit status");
        web_process_destroy (&s_web, false);
        s_auth ();
        //  Last: the broker's list stays over-long from here on.
        web_process_destroy (&s_web, false);
        s_web = web_process_new (s_bed->sandbox, s_bed->broker, NULL);
        if (CHECK (s_web && web_process_start (s_web) == 0, "lilac-web did not start again"))
            s_truncated_list ();
    }
    bool failed = check_failed > 0 || check_case_failed;
    web_process_destroy (&s_web, failed);
    testbed_destroy (&s_bed, failed);
    return check_done ();
}
