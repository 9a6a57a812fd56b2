/*  test_web.c — lilac-web, end to end, with curl as the client.

    A broker and a lilac-web on loopback ports; every request is made by
    the real curl binary. Cases:
    - -n: the shipped configs/web.conf is OK; a listen beyond loopback
      without TLS, a bad listen, an endpoint without a transport and
      unreadable TLS files are each reported, in one run, exit 1;
      `insecure = yes` lets plain HTTP out, with a warning;
    - /healthz is 200 "ok" while the broker answers, 503 naming it when
      the broker is frozen (SIGSTOP), 200 again once it runs;
    - while the broker is frozen, lilac-web still answers at once (its loop
      never waits on the broker);
    - /metrics carries the broker's stats and lilac-web's request counts;
    - an unknown path is a 404 with a JSON error, a POST to /metrics a 405;
    - GET /api/alerts from the live mirror: a change at the broker shows
      within a deadline, with the epoch and seq the list is consistent
      with; the state, label, q and glob filters; a bad filter is a 400;
      GET /api/alerts/SOURCE/ID with an id holding a '/' (%2F); 404;
    - POST /api/actions: an ack of three alerts and one unknown (done 3,
      the unknown failed alone, each acked at the broker), a chain of 300
      clears, 400 for every bad body;
    - POST /api/alerts/SOURCE/ID/{ack,unack,clear,suppress}: the act at
      the broker, `by` not the client's to choose; 409 for a refused act,
      404 for no alert, 400 for a bad body;
    - GET /api/stream (curl -N): changes arrive as events with id N:SEQ,
      a filter keeps others out; a client that disconnects and comes back
      with Last-Event-ID gets exactly what it missed; an unknown resume
      point gets a reset;
    - GET / and /ui/FILE serve the UI's files from the binary with an ETag
      (If-None-Match: 304), a Content-Security-Policy and their types;
      unknown files, "..", and a path under a file are 404;
    - with authentication off, a Host that is not an address, localhost or
      a server_names name is 421 (DNS rebinding), logged;
    - authentication (a second lilac-web with users and tokens): a user
      written by `lilac-web user add` (bcrypt), roles admin / reader /
      sender, an API token (its SHA-256 in the tokens file), 401 without
      credentials, 403 beyond the role, the act's `by` is the user, and
      five failed logins from an address refuse it (429), logged.
*/
#include <signal.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/web_process.h"
#include "timespec.h"

static testbed_t *s_bed;
static web_process_t *s_web;            //  lilac-web
static char s_login [128];             //  -u USER:PASSWORD, "" for none
static char s_token [128];             //  Authorization: Bearer TOKEN, "" for none

//  curl METHOD PATH against lilac-web with the credentials set in s_login
//  and s_token, and body (NULL: none).
static void
s_curl_body (const char *method, const char *path, const char *body, http_result_t *result)
{
    char url [1024];
    snprintf (url, sizeof url, "%s%s", web_process_base (s_web), path);
    http_options_t options = { .login = *s_login ? s_login : NULL,
                               .token = *s_token ? s_token : NULL, .body = body };
    http_call (sandbox_dir (s_bed->sandbox), method, url, &options, result);
}

static void
s_curl (const char *method, const char *path, http_result_t *result)
{
    s_curl_body (method, path, NULL, result);
}

//  Polls /healthz until it answers code. 0, or -1 at the deadline.
static int
s_wait_health (long code, int timeout_ms)
{
    for (int64_t end = clock_now_ms () + timeout_ms; clock_now_ms () < end; ) {
        http_result_t result;
        s_curl ("GET", "/healthz", &result);
        long got = result.code;
        http_result_free (&result);
        if (got == code)
            return 0;
        harness_pause_ms (100);
    }
    return -1;
}

static void
s_check_configs (void)
{
    TEST ("lilac-web -n: the shipped config is OK; every problem of a bad one in one run, exit 1");
    cli_result_t result;
    const char *dir = sandbox_dir (s_bed->sandbox);
    command_run ("lilac-web", "web-n", dir, 10000, &result, "-n", "-c", "configs/web.conf", NULL);
    CHECK (result.status == 0 && strstr (result.out, "configuration OK"), "exit %d: %s%s",
           result.status, result.out, result.err);
    cli_result_free (&result);
    char *bad = sandbox_path (s_bed->sandbox, "bad-web.conf");
    CHECK (file_write_text (bad, "web\n    listen = \"0.0.0.0:8080\"\n    control = \"127.0.0.1:1\"\n"
                                 "    tls_key = \"/nonexistent/key.pem\"\n    colour = blue\n"
                                 "    session_lifetime = 5s\n") == 0,
           "write");
    command_run ("lilac-web", "web-n", dir, 10000, &result, "-n", "-c", bad, NULL);
    const char *wanted [] = { "bad-web.conf:5: unknown key 'colour'", "is not a loopback address",
                              "control: '127.0.0.1:1' has no transport",
                              "tls_cert and tls_key go together", "cannot read /nonexistent/key.pem",
                              "bad-web.conf:6: session_lifetime: '5s' is not a duration" };
    CHECK (result.status == 1, "exit %d", result.status);
    for (size_t index = 0; index < sizeof wanted / sizeof wanted [0]; index++)
        CHECK (strstr (result.err, wanted [index]), "-n does not say \"%s\": %s", wanted [index],
               result.err);
    cli_result_free (&result);
    CHECK (file_write_text (bad, "web\n    listen = \"0.0.0.0:8080\"\n    insecure = yes\n") == 0,
           "write");
    command_run ("lilac-web", "web-n", dir, 10000, &result, "-n", "-c", bad, NULL);
    CHECK (result.status == 0 && strstr (result.err, "INSECURE"), "insecure: exit %d: %s",
           result.status, result.err);
    cli_result_free (&result);
    free (bad);
}

static void
s_health (void)
{
    TEST ("/healthz: 200 while the broker answers, 503 naming it while frozen, 200 after");
    CHECK (s_wait_health (200, 10000) == 0, "never healthy");
    pid_t broker = broker_process_pid (s_bed->broker);
    CHECK (kill (broker, SIGSTOP) == 0, "SIGSTOP");
    CHECK (s_wait_health (503, 10000) == 0, "still 200 with the broker frozen");
    http_result_t result;
    s_curl ("GET", "/healthz", &result);
    CHECK (strstr (result.body, "broker unreachable") && strstr (result.body,
           broker_process_control (s_bed->broker)), "503 says: %s", result.body);
    http_result_free (&result);

    TEST ("lilac-web answers at once while the broker is frozen (its loop never waits)");
    for (int request = 0; request < 5; request++) {
        s_curl ("GET", "/metrics", &result);
        CHECK (result.code == 200 && result.elapsed_ms < 1000, "/metrics: %ld after %lld ms",
               result.code, (long long) result.elapsed_ms);
        CHECK (strstr (result.body, "lilac_broker_up 0"), "not down: %.200s", result.body);
        http_result_free (&result);
    }
    CHECK (kill (broker, SIGCONT) == 0, "SIGCONT");
    CHECK (s_wait_health (200, 10000) == 0, "not healthy again");
}

static void
s_metrics (void)
{
    TEST ("/metrics: the broker's stats and lilac-web's request counts, Prometheus text");
    CHECK (testbed_raise (s_bed, "web-host", "disk", NULL) == 0, "raise");
    bool seen = false;
    http_result_t result = { 0 };
    for (int64_t end = clock_now_ms () + 12000; !seen && clock_now_ms () < end; ) {
        http_result_free (&result);
        s_curl ("GET", "/metrics", &result);
        seen = strstr (result.body, "\nlilac_broker_raised 1\n") != NULL;
        if (!seen)
            harness_pause_ms (250);
    }
    CHECK (seen, "no lilac_broker_raised 1 in: %.400s", result.body);
    CHECK (strstr (result.body, "# TYPE lilac_web_requests_total counter")
           && strstr (result.body, "lilac_web_requests_total{code=\"200\"}")
           && strstr (result.body, "lilac_broker_up 1")
           && strstr (result.body, "lilac_alerts{state=\"raised\",level=\"normal\"} 1\n")
           && strstr (result.body, "lilac_web_request_seconds_bucket{le=\"+Inf\"}")
           && strstr (result.body, "lilac_web_streams 0"), "%.400s", result.body);
    http_result_free (&result);

    TEST ("an unknown path: 404 with a JSON error; POST /metrics: 405");
    s_curl ("GET", "/nowhere", &result);
    CHECK (result.code == 404 && text_has (result.body, "{\"error\":\"no such path: /nowhere\"}"),
           "%ld %s", result.code, result.body);
    http_result_free (&result);
    s_curl ("POST", "/metrics", &result);
    CHECK (result.code == 405 && strstr (result.body, "\"error\""), "%ld %s", result.code,
           result.body);
    http_result_free (&result);
}

static int s_wait_body (const char *path, const char *needle, int timeout_ms);

//  s_wait_body with a login.
static int
s_wait_body_as (const char *login, const char *path, const char *needle)
{
    snprintf (s_login, sizeof s_login, "%s", login);
    int rc = s_wait_body (path, needle, 10000);
    *s_login = 0;
    return rc;
}

//  GET path until the body holds needle. 0, or -1 at the deadline (the
//  last body printed).
static int
s_wait_body (const char *path, const char *needle, int timeout_ms)
{
    http_result_t result = { 0 };
    for (int64_t end = clock_now_ms () + timeout_ms; clock_now_ms () < end; ) {
        http_result_free (&result);
        s_curl ("GET", path, &result);
        if (result.code == 200 && text_has (result.body, needle)) {
            http_result_free (&result);
            return 0;
        }
        harness_pause_ms (100);
    }
    harness_note ("GET %s: %ld %.300s", path, result.code, result.body);
    http_result_free (&result);
    return -1;
}

static void
s_api_alerts (void)
{
    TEST ("GET /api/alerts: a change at the broker shows, with the epoch and seq; filters");
    cli_result_t sent;
    cli_run (sandbox_dir (s_bed->sandbox), 10000, &sent, "send", "-C",
             broker_process_control (s_bed->broker), "-o", "api-host", "-i", "disk-space-/",
             "-r", "now", "-s", "disk full", "--label", "team=ops", "-i", "backup", "-r", "+1h",
             NULL);
    CHECK (sent.status == 0, "lilac send: %s", sent.err);
    cli_result_free (&sent);
    CHECK (s_wait_body ("/api/alerts?source=api-host", "\"count\":2", 10000) == 0,
           "the two alerts never showed");
    http_result_t result;
    s_curl ("GET", "/api/alerts?source=api-*&state=raised", &result);
    CHECK (text_has (result.body, "\"count\":1") && text_has (result.body, "\"id\":\"disk-space-/\"")
           && text_has (result.body, "\"epoch\":{\"db\":") && strstr (result.body, "\"seq\":"),
           "%.400s", result.body);
    http_result_free (&result);
    s_curl ("GET", "/api/alerts?label=team=ops&q=DISK%20FULL", &result);
    CHECK (text_has (result.body, "\"count\":1"), "label and q: %.300s", result.body);
    http_result_free (&result);
    s_curl ("GET", "/api/alerts?state=pending,raised&id=back*", &result);
    CHECK (text_has (result.body, "\"count\":1") && text_has (result.body, "\"id\":\"backup\""),
           "states and id glob: %.300s", result.body);
    http_result_free (&result);
    s_curl ("GET", "/api/alerts?state=bogus", &result);
    CHECK (result.code == 400 && strstr (result.body, "bogus"), "%ld %s", result.code, result.body);
    http_result_free (&result);

    TEST ("GET /api/alerts/SOURCE/ID: an id with a '/' written %2F; 404 for none");
    s_curl ("GET", "/api/alerts/api-host/disk-space-%2F", &result);
    CHECK (result.code == 200 && text_has (result.body, "\"summary\":\"disk full\"")
           && text_has (result.body, "\"labels\":{\"team\":\"ops\"}"), "%ld %.300s", result.code,
           result.body);
    http_result_free (&result);
    s_curl ("GET", "/api/alerts/api-host/nothing", &result);
    CHECK (result.code == 404 && strstr (result.body, "no alert api-host/nothing"), "%ld %s",
           result.code, result.body);
    http_result_free (&result);
    CHECK (testbed_raise (s_bed, "api-host", "backup", NULL) == 0, "raise backup");
    CHECK (s_wait_body ("/api/alerts/api-host/backup", "\"state\":\"raised\"", 10000) == 0,
           "the raise never reached the mirror");

    TEST ("GET /api/alerts/SOURCE/ID/history: the broker's changes, newest first; 404; 503");
    s_curl ("GET", "/api/alerts/api-host/backup/history", &result);
    const char *raised = result.body ? strstr (result.body, "\"event\":\"raised\"") : NULL;
    const char *first = result.body ? strstr (result.body, "\"event\":\"pending\"") : NULL;
    CHECK (result.code == 200 && raised && first && raised < first
           && text_has (result.body, "\"more\":false"), "%ld %.500s", result.code, result.body);
    http_result_free (&result);
    s_curl ("GET", "/api/alerts/api-host/backup/history?limit=1", &result);
    CHECK (result.code == 200 && text_has (result.body, "\"more\":true")
           && strstr (result.body, "\"before\":"), "limit=1: %ld %.300s", result.code, result.body);
    http_result_free (&result);
    s_curl ("GET", "/api/alerts/api-host/nothing/history", &result);
    CHECK (result.code == 404, "unknown: %ld %s", result.code, result.body);
    http_result_free (&result);
    pid_t broker = broker_process_pid (s_bed->broker);
    CHECK (kill (broker, SIGSTOP) == 0, "SIGSTOP");
    s_curl ("GET", "/api/alerts/api-host/backup/history", &result);
    CHECK (result.code == 503 && strstr (result.body, "no answer from the broker"),
           "frozen broker: %ld %s", result.code, result.body);
    http_result_free (&result);
    CHECK (kill (broker, SIGCONT) == 0, "SIGCONT");
}

static void
s_stream (void)
{
    TEST ("GET /api/stream: events with id N:SEQ, filtered; a resume gets exactly what it missed");
    char *all = sandbox_path (s_bed->sandbox, "stream-all");
    char *urgent = sandbox_path (s_bed->sandbox, "stream-urgent");
    char *again = sandbox_path (s_bed->sandbox, "stream-again");
    pid_t all_pid = web_process_stream (s_web, "?source=stream-host", NULL, all);
    pid_t urgent_pid = web_process_stream (s_web, "?source=stream-host&q=URGENT-ONE", NULL, urgent);
    CHECK (testbed_raise (s_bed, "stream-host", "s1", NULL) == 0
           && testbed_raise (s_bed, "stream-host", "urgent-one", NULL) == 0, "raise");
    CHECK (file_wait_count (all, "event: change", 2, 5000) == 0, "two events never came");
    CHECK (file_wait_count (urgent, "\"id\":\"urgent-one\"", 1, 5000) == 0
           && file_count_text (urgent, "event: change") == 1, "the filter let others in");
    //  The last event id the stream gave (reminders of other sources move
    //  the broker's seq too, so it is read from the stream, not asked).
    char last [64] = "";
    char *text = file_read_all (all);
    const char *id = text, *at;
    while ((at = strstr (id, "\nid: ")))
        id = at + 5;
    if (id != text)
        snprintf (last, sizeof last, "%.*s", (int) strcspn (id, "\n"), id);
    free (text);
    CHECK (*last, "no event id in the stream");
    process_kill (&all_pid, 5000);
    CHECK (testbed_raise (s_bed, "stream-host", "s2", NULL) == 0
           && testbed_raise (s_bed, "stream-host", "s3", NULL) == 0, "raise while away");
    pid_t again_pid = web_process_stream (s_web, "?source=stream-host", last, again);
    CHECK (file_wait_count (again, "event: change", 2, 5000) == 0
           && file_has_text (again, "\"id\":\"s2\"") && file_has_text (again, "\"id\":\"s3\"")
           && !file_has_text (again, "\"id\":\"s1\"") && !file_has_text (again, "event: reset"),
           "the resume did not bring exactly s2 and s3");
    process_kill (&again_pid, 5000);
    process_kill (&urgent_pid, 5000);
    pid_t reset_pid = web_process_stream (s_web, "", "99:1", again);
    CHECK (file_wait_count (again, "event: reset", 1, 5000) == 0, "no reset for 99:1");
    process_kill (&reset_pid, 5000);
    free (all);
    free (urgent);
    free (again);
}

static void
s_acts (void)
{
    TEST ("POST /api/alerts/SOURCE/ID/ack, unack, clear, suppress: done at the broker");
    CHECK (testbed_raise (s_bed, "act-host", "disk", NULL) == 0, "raise");
    http_result_t result;
    s_curl_body ("POST", "/api/alerts/act-host/disk/ack",
                 "{\"note\":\"on it\",\"until\":\"+1h\",\"by\":\"mallory\"}", &result);
    CHECK (result.code == 200 && text_has (result.body, "\"state\":\"acked\"")
           && text_has (result.body, "\"acked_by\":\"anonymous@127.0.0.1\"")
           && text_has (result.body, "\"ack_note\":\"onit\""), "ack: %ld %.300s", result.code,
           result.body);
    http_result_free (&result);
    alert_t alert;
    if (CHECK (control_get_alert (s_bed->broker, "act-host", "disk", &alert) == 0, "get")) {
        CHECK (alert.state == ALERT_ACKED && alert.acked_by
               && strcmp (alert.acked_by, "anonymous@127.0.0.1") == 0 && alert.ack_until > 0,
               "at the broker: %s by %s", alert_state_name (alert.state),
               alert.acked_by ? alert.acked_by : "-");
        alert_clear_fields (&alert);
    }
    s_curl ("POST", "/api/alerts/act-host/disk/unack", &result);
    CHECK (result.code == 200 && text_has (result.body, "\"state\":\"raised\""), "unack: %ld %s",
           result.code, result.body);
    http_result_free (&result);
    s_curl ("POST", "/api/alerts/act-host/disk/clear", &result);
    CHECK (result.code == 200 && text_has (result.body, "\"state\":\"cleared\""), "clear: %ld %s",
           result.code, result.body);
    http_result_free (&result);
    s_curl ("POST", "/api/alerts/act-host/disk/ack", &result);
    CHECK (result.code == 409 && strstr (result.body, "cleared"), "ack of a cleared alert: %ld %s",
           result.code, result.body);
    http_result_free (&result);
    s_curl ("POST", "/api/alerts/act-host/nothing/clear", &result);
    CHECK (result.code == 404, "no such alert: %ld %s", result.code, result.body);
    http_result_free (&result);
    s_curl ("POST", "/api/alerts/act-host/disk/suppress", &result);
    CHECK (result.code == 400 && strstr (result.body, "until"), "suppress without until: %ld %s",
           result.code, result.body);
    http_result_free (&result);
    s_curl_body ("POST", "/api/alerts/act-host/disk/suppress", "{\"until\":\"+2h\"}", &result);
    CHECK (result.code == 200 && strstr (result.body, "suppress_until"), "suppress: %ld %s",
           result.code, result.body);
    http_result_free (&result);
    s_curl_body ("POST", "/api/alerts/act-host/disk/ack", "[not json", &result);
    CHECK (result.code == 400, "a bad body: %ld %s", result.code, result.body);
    http_result_free (&result);
    s_curl ("POST", "/api/alerts/act-host/disk/explode", &result);
    CHECK (result.code == 404 && strstr (result.body, "no act"), "unknown act: %ld %s",
           result.code, result.body);
    http_result_free (&result);
}

static void
s_actions (void)
{
    TEST ("POST /api/actions: one act on many alerts; an unknown one fails alone; 400s");
    const char *ids [] = { "many-1", "many-2", "many-3" };
    for (size_t index = 0; index < 3; index++)
        CHECK (testbed_raise (s_bed, "act-host", ids [index], NULL) == 0, "raise");
    http_result_t result;
    s_curl_body ("POST", "/api/actions", "{\"act\":\"ack\",\"note\":\"batch\",\"alerts\":["
                 "{\"source\":\"act-host\",\"id\":\"many-1\"},"
                 "{\"source\":\"act-host\",\"id\":\"nothing\"},"
                 "{\"source\":\"act-host\",\"id\":\"many-2\"},"
                 "{\"source\":\"act-host\",\"id\":\"many-3\"}]}", &result);
    CHECK (result.code == 200 && text_has (result.body, "\"done\":3")
           && text_has (result.body, "\"failed\":[{\"source\":\"act-host\",\"id\":"
                        "\"nothing\",\"error\":"), "%ld %s", result.code, result.body);
    http_result_free (&result);
    for (size_t index = 0; index < 3; index++) {
        alert_t alert;
        if (CHECK (control_get_alert (s_bed->broker, "act-host", ids [index], &alert) == 0,
                   "get %s", ids [index])) {
            CHECK (alert.state == ALERT_ACKED && alert.acked_by
                   && strcmp (alert.acked_by, "anonymous@127.0.0.1") == 0
                   && alert.ack_note && strcmp (alert.ack_note, "batch") == 0,
                   "%s: %s by %s", ids [index], alert_state_name (alert.state),
                   alert.acked_by ? alert.acked_by : "-");
            alert_clear_fields (&alert);
        }
    }
    //  A long chain: each act goes out from the reply to the one before.
    size_t size = 64 + 300 * 48;
    char *body = malloc (size), *at = body;
    assert (body);
    at += sprintf (at, "{\"act\":\"clear\",\"alerts\":[");
    for (int index = 0; index < 300; index++)
        at += sprintf (at, "%s{\"source\":\"act-host\",\"id\":\"absent-%d\"}",
                       index ? "," : "", index);
    sprintf (at, "]}");
    s_curl_body ("POST", "/api/actions", body, &result);
    CHECK (result.code == 200 && text_has (result.body, "\"done\":0")
           && strstr (result.body, "absent-299"), "%ld %.300s", result.code, result.body);
    http_result_free (&result);
    free (body);
    static const char *const bad [] = {
        "{\"alerts\":[{\"source\":\"a\",\"id\":\"b\"}]}",
        "{\"act\":\"explode\",\"alerts\":[{\"source\":\"a\",\"id\":\"b\"}]}",
        "{\"act\":\"ack\",\"alerts\":[]}",
        "{\"act\":\"ack\",\"alerts\":[{\"source\":\"a\"}]}",
        "{\"act\":\"suppress\",\"alerts\":[{\"source\":\"a\",\"id\":\"b\"}]}",
        "[not json",
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        s_curl_body ("POST", "/api/actions", bad [index], &result);
        CHECK (result.code == 400 && strstr (result.body, "\"error\""), "%s: %ld %s",
               bad [index], result.code, result.body);
        http_result_free (&result);
    }
}

//  With authentication off, a browser led to lilac-web under a foreign name
//  (DNS rebinding) is refused; addresses, localhost and server_names are
//  lilac-web's own names.
static void
s_host_names (void)
{
    TEST ("authentication off: a Host that is not an address, localhost or in server_names "
          "is 421 (DNS rebinding)");
    const char *port = strrchr (web_process_base (s_web), ':') + 1;
    const char *hosts [] = { "evil.example", "localhost", "127.0.0.1", "[::1]" };
    const long wanted [] = { 421, 200, 200, 200 };
    for (size_t index = 0; index < 4; index++) {
        char header [128], url [256];
        snprintf (header, sizeof header, "Host: %s:%s", hosts [index], port);
        snprintf (url, sizeof url, "%s/api/alerts", web_process_base (s_web));
        http_options_t options = { .header = header };
        http_result_t result;
        http_call (sandbox_dir (s_bed->sandbox), "GET", url, &options, &result);
        CHECK (result.code == wanted [index], "%s: %ld %.200s", header, result.code,
               result.body);
        http_result_free (&result);
    }
    CHECK (file_has_text (web_process_log (s_web), "Host evil.example:"), "not logged");
}

//  The header's value in a curl -D dump ("" when absent) into out.
static void
s_header_value (const char *headers, const char *name, char *out, size_t size)
{
    *out = 0;
    const char *at = headers ? strcasestr (headers, name) : NULL;
    if (at && at [strlen (name)] == ':') {
        at += strlen (name) + 1;
        at += strspn (at, " ");
        snprintf (out, size, "%.*s", (int) strcspn (at, "\r\n"), at);
    }
}

static void
s_ui_files (void)
{
    TEST ("GET / and /ui/FILE: the UI's files from the binary, with ETag (304), CSP, types");
    http_result_t result;
    s_curl ("GET", "/", &result);
    char etag [128], csp [256], type [128];
    s_header_value (result.headers, "ETag", etag, sizeof etag);
    s_header_value (result.headers, "Content-Security-Policy", csp, sizeof csp);
    s_header_value (result.headers, "Content-Type", type, sizeof type);
    CHECK (result.code == 200 && text_has (result.body, "src=\"/ui/app.js\"") && *etag
           && strstr (csp, "default-src 'self'") && strstr (type, "text/html"),
           "GET /: %ld etag '%s' csp '%s' type '%s'", result.code, etag, csp, type);
    http_result_free (&result);
    char header [200];
    snprintf (header, sizeof header, "If-None-Match: %s", etag);
    char url [256];
    snprintf (url, sizeof url, "%s/", web_process_base (s_web));
    http_options_t options = { .header = header };
    http_call (sandbox_dir (s_bed->sandbox), "GET", url, &options, &result);
    CHECK (result.code == 304 && !*result.body, "If-None-Match: %ld", result.code);
    http_result_free (&result);
    s_curl ("GET", "/ui/store.js", &result);
    s_header_value (result.headers, "Content-Type", type, sizeof type);
    CHECK (result.code == 200 && strstr (type, "text/javascript")
           && text_has (result.body, "EventSource"), "store.js: %ld '%s'", result.code, type);
    http_result_free (&result);
    //  The page's views are paths of their own, for links; the login page
    //  is a UI file too, under the same CSP (no inline script).
    const char *pages [][2] = { { "/alerts/web1/disk-space-%2F", "src=\"/ui/app.js\"" },
                                { "/silences", "src=\"/ui/app.js\"" },
                                { "/login", "src=\"/ui/login.js\"" } };
    for (size_t index = 0; index < 3; index++) {
        s_curl ("GET", pages [index][0], &result);
        s_header_value (result.headers, "Content-Security-Policy", csp, sizeof csp);
        CHECK (result.code == 200 && text_has (result.body, pages [index][1])
               && strstr (csp, "default-src 'self'"), "%s: %ld", pages [index][0], result.code);
        http_result_free (&result);
    }
    const char *missing [] = { "/ui/nope.js", "/ui/..%2Fweb.conf", "/ui/app.js/x", "/ui/",
                              "/silences/x" };
    for (size_t index = 0; index < 5; index++) {
        s_curl ("GET", missing [index], &result);
        CHECK (result.code == 404, "%s: %ld", missing [index], result.code);
        http_result_free (&result);
    }
}

//  code of METHOD path with the credentials set in s_login / s_token.
static long
s_code_as (const char *login, const char *token, const char *method, const char *path)
{
    snprintf (s_login, sizeof s_login, "%s", login ? login : "");
    snprintf (s_token, sizeof s_token, "%s", token ? token : "");
    http_result_t result;
    s_curl (method, path, &result);
    http_result_free (&result);
    *s_login = *s_token = 0;
    return result.code;
}

static void
s_auth (void)
{
    TEST ("authentication: users (bcrypt, lilac-web user add), tokens, roles, by, 401/403/429");
    char *users = sandbox_path (s_bed->sandbox, "users");
    char *tokens = sandbox_path (s_bed->sandbox, "tokens");
    char extra [2048];
    snprintf (extra, sizeof extra, "    users = \"%s\"\n    tokens = \"%s\"\n"
              "    admins = alice\n    readers = carol\n", users, tokens);
    CHECK (file_write_text (users, "") == 0 && file_write_text (tokens, "") == 0, "files");
    web_process_destroy (&s_web, false);
    s_web = web_process_new (s_bed->sandbox, s_bed->broker, extra);    //  the users first
    if (!CHECK (s_web, "no lilac-web"))
        return;
    const char *config = web_process_config (s_web);
    char password_file [4200];
    snprintf (password_file, sizeof password_file, "%s/password", sandbox_dir (s_bed->sandbox));
    const char *who [2][2] = { { "alice", "wonderland\n" }, { "carol", "secret\n" } };
    char program [1024];
    snprintf (program, sizeof program, "%s/lilac-web", harness_bin_dir ());
    for (int index = 0; index < 2; index++) {
        CHECK (file_write_text (password_file, who [index][1]) == 0, "password");
        char command [8192];
        snprintf (command, sizeof command, "%s -c %s user add %s < %s", program, config,
                  who [index][0], password_file);
        CHECK (system (command) == 0, "%s", command);
    }
    CHECK (file_has_text (users, "alice:$2b$12$"), "no bcrypt line for alice");
    //  The real token's hash goes in the file, computed here with sha256sum.
    char command [8192];
    snprintf (command, sizeof command, "printf 'prom sender web9 %%s\\n' \"$(printf %%s prom-token"
              " | sha256sum | cut -d' ' -f1)\" > %s", tokens);
    CHECK (system (command) == 0, "token hash");
    const char *log = web_process_log (s_web);
    CHECK (web_process_start (s_web) == 0, "not healthy (healthz is open)");
    CHECK (s_code_as (NULL, NULL, "GET", "/api/alerts") == 401, "no credentials: not 401");
    CHECK (s_code_as ("alice:wonderland", NULL, "GET", "/api/alerts") == 200, "admin read");
    CHECK (s_code_as ("carol:secret", NULL, "GET", "/api/alerts") == 200, "reader read");
    CHECK (testbed_raise (s_bed, "auth-host", "disk", NULL) == 0, "raise");
    CHECK (s_wait_body_as ("alice:wonderland", "/api/alerts/auth-host/disk", "raised") == 0,
           "the alert never showed");
    CHECK (s_code_as ("carol:secret", NULL, "POST", "/api/alerts/auth-host/disk/ack") == 403,
           "a reader acted");
    CHECK (s_code_as (NULL, "prom-token", "GET", "/api/alerts") == 403, "a sender read");
    CHECK (s_code_as (NULL, "wrong-token", "GET", "/api/alerts") == 401, "an unknown token");
    CHECK (s_code_as ("alice:wonderland", NULL, "POST", "/api/alerts/auth-host/disk/ack") == 200,
           "the admin could not act");
    alert_t alert;
    if (CHECK (control_get_alert (s_bed->broker, "auth-host", "disk", &alert) == 0, "get")) {
        CHECK (alert.acked_by && strcmp (alert.acked_by, "alice") == 0, "acked by %s",
               alert.acked_by ? alert.acked_by : "-");
        alert_clear_fields (&alert);
    }
    //  The sender token is bound to web9: it sends as web9, and only so.
    snprintf (s_token, sizeof s_token, "prom-token");
    http_result_t sent;
    s_curl_body ("POST", "/api/events", "{\"alerts\":[{\"id\":\"bound\",\"raise\":\"now\"}]}",
                 &sent);
    CHECK (sent.code == 200, "a bound sender: %ld %s", sent.code, sent.body);
    http_result_free (&sent);
    s_curl_body ("POST", "/api/events", "{\"source\":\"other\",\"alerts\":[{\"id\":\"x\"}]}",
                 &sent);
    CHECK (sent.code == 400 && strstr (sent.body, "may only send as 'web9'"),
           "a bound sender claiming another source: %ld %s", sent.code, sent.body);
    http_result_free (&sent);
    *s_token = 0;
    CHECK (control_get_alert (s_bed->broker, "web9", "bound", &alert) == 0, "not sent as web9");
    alert_clear_fields (&alert);
    //  Last: failures from this address, then refused for a minute.
    long codes [6];
    for (int attempt = 0; attempt < 6; attempt++)
        codes [attempt] = s_code_as ("mallory:guess", NULL, "GET", "/api/alerts");
    CHECK (codes [0] == 401 && codes [5] == 429, "failed logins: %ld ... %ld", codes [0],
           codes [5]);
    CHECK (s_code_as ("alice:wonderland", NULL, "GET", "/api/alerts") == 429,
           "the address was not refused after the failures");
    CHECK (file_has_text (log, "failed login from 127.0.0.1 as 'mallory'"), "not logged");
    free (users);
    free (tokens);
}

//  lilac-web's own heartbeat at the broker (own_alerts.h): pending while it
//  runs, raised when it is killed and not back within `heartbeat`.
static void
s_own_heartbeat (void)
{
    TEST ("lilac-web keeps its heartbeat pending at the broker; kill -9 raises it within 5s"
          " (not before 3s), and -n says what it is");
    web_process_t *web = web_process_new (s_bed->sandbox, s_bed->broker,
                                          "    own_source = webhost\n    heartbeat = 5s\n");
    if (!CHECK (web && web_process_start (web) == 0, "lilac-web did not start")) {
        web_process_destroy (&web, true);
        return;
    }
    alert_change_t change;
    if (CHECK (expect_change (s_bed->sub, "pending", "webhost", "lilac-web/heartbeat", 5000,
                              &change) == 0, "no heartbeat at the broker")) {
        int64_t due = change.alert.raise_at - change.at;
        CHECK (due >= 4000 && due <= 5000, "due in %lld ms, not 5 s", (long long) due);
        CHECK (change.alert.level == LEVEL_URGENT && change.alert.subject
               && streq (change.alert.subject, "lilac-web"), "level or subject");
        alert_change_free (&change);
    }
    cli_result_t result;
    if (CHECK (command_run ("lilac-web", "own-n", sandbox_dir (s_bed->sandbox), 10000, &result,
                            "-n", "-c", web_process_config (web), NULL) == 0, "-n")) {
        CHECK (result.status == 0 && text_has (result.out, "own alerts: webhost/lilac-web/heartbeat"
                                               " raises at the broker when lilac-web is not"
                                               " heard from for 5s (refreshed every 1s)"),
               "-n: %d %s %s", result.status, result.out, result.err);
        cli_result_free (&result);
    }
    CHECK (web_process_kill (web) == 0, "kill -9");
    int64_t killed_at = clock_now_ms ();
    if (CHECK (expect_change (s_bed->sub, "raised", "webhost", "lilac-web/heartbeat", 8000,
                              &change) == 0, "the heartbeat of a dead lilac-web did not raise")) {
        CHECK (change.at - killed_at >= 3000, "raised %lld ms after the kill",
               (long long) (change.at - killed_at));
        alert_change_free (&change);
    }
    web_process_destroy (&web, check_case_failed);
}

int
main (void)
{
    s_bed = testbed_new ("web", NULL);
    if (!s_bed) {
        TEST ("testbed");
        CHECK (false, "no testbed");
        return check_done ();
    }
    s_check_configs ();
    TEST ("lilac-web starts");
    s_web = web_process_new (s_bed->sandbox, s_bed->broker, NULL);
    if (CHECK (s_web && web_process_start (s_web) == 0, "lilac-web did not start")) {
        s_health ();
        s_metrics ();
        s_api_alerts ();
        s_stream ();
        s_acts ();
        s_actions ();
        s_host_names ();
        s_ui_files ();
        TEST ("lilac-web exits 0 on SIGTERM");
        CHECK (web_process_stop (s_web) == 0, "exit status");
        s_auth ();
        s_own_heartbeat ();
    }
    bool failed = check_failed > 0 || check_case_failed;
    web_process_destroy (&s_web, failed);
    testbed_destroy (&s_bed, failed);
    return check_done ();
}
