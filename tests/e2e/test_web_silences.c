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
    - with API tokens: a reader lists (both APIs) but may not add or
      expire (403), no credentials is 401, an admin's silence is `by` the
      token's name, and amtool with a bearer token in --http.config.file
      adds one (without it, it fails).
*/
#include <jansson.h>
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
        TEST ("lilac-web exits 0 on SIGTERM");
        CHECK (web_process_stop (s_web) == 0, "exit status");
        web_process_destroy (&s_web, false);
        s_auth ();
    }
    bool failed = check_failed > 0 || check_case_failed;
    web_process_destroy (&s_web, failed);
    testbed_destroy (&s_bed, failed);
    return check_done ();
}
