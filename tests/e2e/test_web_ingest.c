/*  test_web_ingest.c — lilac-web's ingest, end to end, with curl.

    A broker and a lilac-web on loopback ports (started as in test_web.c);
    every request is made by the real curl binary, and what reached the
    broker is read back with its `get` op. Cases:
    - POST /api/events: accepted events are in the broker; a refused one
      comes back with its index, id and reason; 400s for a body that is
      not JSON, has a wrong type or nests too deep; 413 past 1 MiB;
    - POST /events: purppura's fields in any case, subject as the summary,
      the peer's address as the source (or the body's), "OK";
    - /ping: a plain ping leaves the alert pending 25 h ahead, ?raise=
      moves that, /fail raises, a POST to /0 clears (a `cleared` change)
      then refreshes, its body the detail; an id with a / (%2F);
    - POST /api/v2/alerts: the id from alertname and sorted labels, the
      instance as source, severity as level, endsAt as the clear time (in
      the past: cleared at once), amtool's zero time absent, a bad alert
      refused alone with a 200;
    - X-Forwarded-For: ignored from a peer that is not in trusted_proxies;
      from one that is, the rightmost entry that is not a proxy is the
      source (IPv4 or IPv6), and an entry that is not an address stops
      the walk at the proxy;
    - severity_levels: a configured map sets the level (case aside), a
      severity it does not name gets the default level;
    - a frozen broker (SIGSTOP): 503 with Retry-After, within the call
      timeout and a margin, for /api/events and /api/v2/alerts;
    - group commit: requests held back (lilac-web stopped while curl
      connects) and let go in one turn share submits (the broker counts
      fewer submits than requests), and each answer still names only its
      own refusals and counts only its own events; two whose events are
      all refused are refused whole together, sent again one by one, and
      each answered with its own reason.
*/
#include <assert.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/web_process.h"
#include "timespec.h"

static testbed_t *s_bed;
static web_process_t *s_web;            //  lilac-web

//  curl METHOD PATH against lilac-web, the body from text or body_file
//  (both NULL: none).
static void
s_curl (const char *method, const char *path, const char *text, const char *body_file,
        http_result_t *result)
{
    char url [1024];
    snprintf (url, sizeof url, "%s%s", web_process_base (s_web), path);
    http_options_t options = { .body = text, .body_file = body_file };
    http_call (sandbox_dir (s_bed->sandbox), method, url, &options, result);
}

//  The broker's alert; false (and a failed CHECK's message) when absent.
static bool
s_get (const char *source, const char *id, alert_t *alert)
{
    memset (alert, 0, sizeof *alert);
    return control_get_alert (s_bed->broker, source, id, alert) == 0;
}

static void
s_api_events (void)
{
    TEST ("POST /api/events: accepted events reach the broker, a refused one says why");
    http_result_t result;
    s_curl ("POST", "/api/events", "{\"source\":\"web1\",\"alerts\":[{\"id\":\"disk\",\"raise\":"
            "\"now\",\"summary\":\"full\",\"level\":\"urgent\",\"labels\":{\"team\":\"ops\"}},"
            "{\"id\":\"bad\",\"raise\":\"+5x\"}]}", NULL, &result);
    CHECK (result.code == 200 && text_has (result.body, "\"accepted\":1")
           && text_has (result.body, "\"refused\":[{\"index\":1,\"id\":\"bad\",\"reason\":"
                        "\"raise: not a time spec") && strstr (result.body, "\"tx\":\""),
           "%ld %s", result.code, result.body);
    http_result_free (&result);
    alert_t alert;
    if (CHECK (s_get ("web1", "disk", &alert), "web1/disk not in the broker")) {
        CHECK (alert.state == ALERT_RAISED && alert.level == LEVEL_URGENT
               && strcmp (alert.summary, "full") == 0 && alert.label_count == 1, "%s %s",
               alert_state_name (alert.state), alert.summary);
        alert_clear_fields (&alert);
    }
    CHECK (!s_get ("web1", "bad", &alert), "the refused event was applied");

    TEST ("POST /api/events: no source: the peer's address; a tx of its own is echoed");
    s_curl ("POST", "/api/events", "{\"tx\":\"my-tx-1\",\"alerts\":[{\"id\":\"peer\"}]}", NULL,
            &result);
    CHECK (result.code == 200 && text_has (result.body, "\"tx\":\"my-tx-1\""), "%ld %s",
           result.code, result.body);
    http_result_free (&result);
    CHECK (s_get ("127.0.0.1", "peer", &alert), "127.0.0.1/peer not in the broker");
    alert_clear_fields (&alert);

    TEST ("POST /api/events: 400 with a reason for bad JSON, a wrong type, too deep; 413");
    static const struct { const char *body, *error; } bad [] = {
        { "{\"alerts\":[", "not valid JSON" },
        { "{\"alerts\":[{\"id\":7}]}", "alerts[0].id: not a string" },
        { "{\"alerts\":[{\"id\":\"a\"}],\"x\":[[[[[[[[[]]]]]]]]]}", "nested deeper than 8" },
        { "{\"alerts\":[{\"id\":\"a\",\"labels\":[]}]}", "alerts[0].labels: not an object" },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        s_curl ("POST", "/api/events", bad [index].body, NULL, &result);
        CHECK (result.code == 400 && strstr (result.body, "{\"error\":\"")
               && strstr (result.body, bad [index].error), "%s: %ld %s", bad [index].body,
               result.code, result.body);
        http_result_free (&result);
    }
    char *big_path = sandbox_path (s_bed->sandbox, "big.json");
    FILE *big = fopen (big_path, "w");
    if (CHECK (big, "cannot write %s", big_path)) {
        for (int index = 0; index < 1100 * 1024; index++)
            fputc (' ', big);
        fclose (big);
        s_curl ("POST", "/api/events", NULL, big_path, &result);
        CHECK (result.code == 413 && strstr (result.body, "larger than 1048576 bytes"), "%ld %s",
               result.code, result.body);
        http_result_free (&result);
    }
    free (big_path);
}

static void
s_purppura (void)
{
    TEST ("POST /events: purppura's fields in any case, subject as summary, the peer as source");
    http_result_t result;
    s_curl ("POST", "/events", "{\"ID\":\"heartbeat\",\"Subject\":\"late\",\"DETAIL\":\"d\","
            "\"rAiSe\":\"now\"}", NULL, &result);
    CHECK (result.code == 200 && strcmp (result.body, "OK") == 0, "%ld %s", result.code,
           result.body);
    http_result_free (&result);
    alert_t alert;
    if (CHECK (s_get ("127.0.0.1", "heartbeat", &alert), "127.0.0.1/heartbeat not there")) {
        CHECK (alert.state == ALERT_RAISED && strcmp (alert.summary, "late") == 0
               && strcmp (alert.detail, "d") == 0 && !alert.subject, "%s %s",
               alert_state_name (alert.state), alert.summary);
        alert_clear_fields (&alert);
    }
    s_curl ("POST", "/events", "[{\"id\":\"a\",\"source\":\"h1\",\"raise\":\"+5m\"},"
            "{\"Id\":\"b\",\"Source\":\"h1\",\"Raise\":\"clear\"}]", NULL, &result);
    CHECK (result.code == 200 && strcmp (result.body, "OK") == 0, "%ld %s", result.code,
           result.body);
    http_result_free (&result);
    if (CHECK (s_get ("h1", "a", &alert), "h1/a not there")) {
        CHECK (alert.state == ALERT_PENDING, "%s", alert_state_name (alert.state));
        alert_clear_fields (&alert);
    }
    if (CHECK (s_get ("h1", "b", &alert), "h1/b not there")) {
        CHECK (alert.state == ALERT_CLEARED, "%s", alert_state_name (alert.state));
        alert_clear_fields (&alert);
    }

    TEST ("POST /events: a wrong type is a 400, a refused raise a 400 naming it");
    s_curl ("POST", "/events", "{\"id\":3}", NULL, &result);
    CHECK (result.code == 400 && strstr (result.body, "events[0].id: not a string"), "%ld %s",
           result.code, result.body);
    http_result_free (&result);
    s_curl ("POST", "/events", "[{\"id\":\"ok\",\"raise\":\"now\"},{\"id\":\"x\",\"raise\":"
            "\"soon\"}]", NULL, &result);
    CHECK (result.code == 400 && strstr (result.body, "x: raise: not a time spec"), "%ld %s",
           result.code, result.body);
    http_result_free (&result);
}

//  True if ms is within [from + offset, to + offset].
static bool
s_between (int64_t ms, int64_t from, int64_t to, int64_t offset)
{
    return ms >= from + offset - 1000 && ms <= to + offset + 1000;
}

static void
s_ping (void)
{
    TEST ("GET /ping/SOURCE/ID: pending 25 h ahead; the id's %2F is a /; ?raise=+2h as typed");
    http_result_t result;
    int64_t before = clock_now_ms ();
    s_curl ("GET", "/ping/cron1/disk-space-%2F", NULL, NULL, &result);
    int64_t after = clock_now_ms ();
    CHECK (result.code == 200 && strcmp (result.body, "OK") == 0, "%ld %s", result.code,
           result.body);
    http_result_free (&result);
    alert_t alert;
    if (CHECK (s_get ("cron1", "disk-space-/", &alert), "cron1/disk-space-/ not there")) {
        CHECK (alert.state == ALERT_PENDING
               && s_between (alert.raise_at, before, after, 25 * 3600 * 1000LL), "%s %lld",
               alert_state_name (alert.state), (long long) alert.raise_at);
        alert_clear_fields (&alert);
    }
    before = clock_now_ms ();
    s_curl ("GET", "/ping/cron1/disk-space-%2F?raise=+2h", NULL, NULL, &result);
    after = clock_now_ms ();
    CHECK (result.code == 200, "%ld %s", result.code, result.body);
    http_result_free (&result);
    if (CHECK (s_get ("cron1", "disk-space-/", &alert), "gone")) {
        CHECK (s_between (alert.raise_at, before, after, 2 * 3600 * 1000LL), "raise_at %lld",
               (long long) alert.raise_at);
        alert_clear_fields (&alert);
    }

    TEST ("/ping/.../fail and /7 raise now; POST /0 clears (a cleared change), then refreshes");
    s_curl ("GET", "/ping/cron1/backup/fail", NULL, NULL, &result);
    CHECK (result.code == 200, "%ld %s", result.code, result.body);
    http_result_free (&result);
    if (CHECK (s_get ("cron1", "backup", &alert), "cron1/backup not there")) {
        CHECK (alert.state == ALERT_RAISED, "%s", alert_state_name (alert.state));
        alert_clear_fields (&alert);
    }
    s_curl ("POST", "/ping/cron1/backup/0", "all good", NULL, &result);
    CHECK (result.code == 200, "%ld %s", result.code, result.body);
    http_result_free (&result);
    alert_change_t change;
    if (CHECK (expect_change (s_bed->sub, "cleared", "cron1", "backup", 5000, &change) == 0,
               "no cleared change"))
        alert_change_free (&change);
    if (CHECK (s_get ("cron1", "backup", &alert), "cron1/backup gone")) {
        CHECK (alert.state == ALERT_PENDING && alert.raise_at > clock_now_ms () + 24 * 3600000LL
               && alert.detail && strcmp (alert.detail, "all good") == 0, "%s %s",
               alert_state_name (alert.state), alert.detail);
        alert_clear_fields (&alert);
    }
    s_curl ("POST", "/ping/cron1/backup/7", NULL, NULL, &result);
    CHECK (result.code == 200, "%ld %s", result.code, result.body);
    http_result_free (&result);
    if (CHECK (s_get ("cron1", "backup", &alert), "cron1/backup gone")) {
        CHECK (alert.state == ALERT_RAISED, "%s", alert_state_name (alert.state));
        alert_clear_fields (&alert);
    }

    TEST ("/ping: a bad status, a bad raise, a body over 10 KB: 4xx saying why");
    s_curl ("GET", "/ping/cron1/backup/oops", NULL, NULL, &result);
    CHECK (result.code == 400 && strstr (result.body, "/fail or an exit status"), "%ld %s",
           result.code, result.body);
    http_result_free (&result);
    s_curl ("GET", "/ping/cron1/backup?raise=tomorrow", NULL, NULL, &result);
    CHECK (result.code == 400 && strstr (result.body, "not a time spec"), "%ld %s", result.code,
           result.body);
    http_result_free (&result);
    char *body = malloc (11 * 1024);
    memset (body, 'x', 11 * 1024 - 1);
    body [11 * 1024 - 1] = 0;
    s_curl ("POST", "/ping/cron1/backup", body, NULL, &result);
    CHECK (result.code == 413, "%ld %s", result.code, result.body);
    http_result_free (&result);
    free (body);
}

static void
s_alertmanager (void)
{
    TEST ("POST /api/v2/alerts: id, source, level, clear by endsAt, amtool's zero time, "
          "a bad alert refused alone");
    char body [2048], past [40], future [40];
    time_t now = time (NULL);
    struct tm parts;
    strftime (past, sizeof past, "%Y-%m-%dT%H:%M:%S.000Z", gmtime_r (&(time_t) { now - 600 },
                                                                    &parts));
    strftime (future, sizeof future, "%Y-%m-%dT%H:%M:%SZ", gmtime_r (&(time_t) { now + 3600 },
                                                                     &parts));
    snprintf (body, sizeof body, "[{\"labels\":{\"alertname\":\"HighLoad\",\"job\":\"node\","
              "\"instance\":\"node1:9100\",\"severity\":\"critical\"},\"annotations\":{"
              "\"summary\":\"load is high\",\"description\":\"15 min\"},\"startsAt\":\"%s\","
              "\"endsAt\":\"%s\",\"generatorURL\":\"http://prom/graph\"},"
              "{\"labels\":{\"alertname\":\"Gone\",\"instance\":\"node1:9100\"},\"startsAt\":"
              "\"%s\",\"endsAt\":\"%s\"},"
              "{\"labels\":{\"alertname\":\"Manual\",\"severity\":\"info\"},\"startsAt\":"
              "\"0001-01-01T00:00:00Z\",\"endsAt\":\"0001-01-01T00:00:00Z\"},"
              "{\"labels\":{\"job\":\"no-name\"}}]", past, future, past, past);
    http_result_t result;
    s_curl ("POST", "/api/v2/alerts", body, NULL, &result);
    CHECK (result.code == 200 && text_has (result.body, "\"accepted\":3")
           && text_has (result.body, "\"refused\":[{\"index\":3,\"id\":\"\",\"reason\":"
                        "\"labels.alertname: missing\"}]"), "%ld %s", result.code, result.body);
    http_result_free (&result);
    alert_t alert;
    if (CHECK (s_get ("node1:9100", "HighLoad{job=\"node\",severity=\"critical\"}", &alert),
               "node1:9100/HighLoad{...} not there")) {
        CHECK (alert.state == ALERT_RAISED && alert.level == LEVEL_URGENT
               && strcmp (alert.summary, "load is high") == 0
               && strcmp (alert.detail, "15 min") == 0
               && alert.clear_at == (int64_t) (now + 3600) * 1000 && alert.label_count == 4,
               "%s clear_at %lld", alert_state_name (alert.state), (long long) alert.clear_at);
        alert_clear_fields (&alert);
    }
    if (CHECK (s_get ("node1:9100", "Gone", &alert), "node1:9100/Gone not there")) {
        CHECK (alert.state == ALERT_CLEARED, "%s", alert_state_name (alert.state));
        alert_clear_fields (&alert);
    }
    if (CHECK (s_get ("127.0.0.1", "Manual{severity=\"info\"}", &alert), "Manual not there")) {
        CHECK (alert.state == ALERT_RAISED && alert.level == LEVEL_LOW && alert.clear_at == 0,
               "%s clear_at %lld", alert_state_name (alert.state), (long long) alert.clear_at);
        alert_clear_fields (&alert);
    }
}

//  POST /events (no source) with X-Forwarded-For: forwarded; true if the
//  broker then has the alert id under source.
static bool
s_forwarded_source (const char *forwarded, const char *id, const char *source)
{
    char url [1024], body [256], header [256];
    snprintf (url, sizeof url, "%s/events", web_process_base (s_web));
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"raise\":\"now\"}", id);
    snprintf (header, sizeof header, "X-Forwarded-For: %s", forwarded);
    http_options_t options = { .body = body, .header = header };
    http_result_t result;
    http_call (sandbox_dir (s_bed->sandbox), "POST", url, &options, &result);
    bool sent = result.code == 200;
    http_result_free (&result);
    alert_t alert;
    bool found = sent && s_get (source, id, &alert);
    if (found)
        alert_clear_fields (&alert);
    return found;
}

//  Run with no trusted_proxies: the header is anybody's to write.
static void
s_forwarded_ignored (void)
{
    TEST ("X-Forwarded-For from a peer that is not a trusted proxy is ignored");
    CHECK (s_forwarded_source ("203.0.113.7", "xff-ignored", "127.0.0.1"),
           "127.0.0.1/xff-ignored not in the broker");
    alert_t alert;
    CHECK (!s_get ("203.0.113.7", "xff-ignored", &alert), "the header named the source");
}

//  Run with trusted_proxies = "::1 127.0.0.1" (curl comes from 127.0.0.1).
static void
s_forwarded_trusted (void)
{
    TEST ("trusted_proxies: the rightmost X-Forwarded-For entry that is not a proxy is the "
          "client; garbage stops at the proxy");
    CHECK (s_forwarded_source ("203.0.113.7", "xff-one", "203.0.113.7"), "one hop");
    CHECK (s_forwarded_source ("198.51.100.1, 2001:db8::5, 127.0.0.1", "xff-chain",
                               "2001:db8::5"), "a chain through a trusted proxy");
    CHECK (s_forwarded_source ("198.51.100.1, not-an-address", "xff-garbage", "127.0.0.1"),
           "garbage");
}

//  Run with severity_levels = "disaster=urgent warning=low".
static void
s_severity_levels (void)
{
    TEST ("severity_levels: the configured map, not the default, sets the level");
    http_result_t result;
    s_curl ("POST", "/api/v2/alerts", "["
            "{\"labels\":{\"alertname\":\"Sev\",\"instance\":\"sev1\","
            "\"severity\":\"DISASTER\"}},"
            "{\"labels\":{\"alertname\":\"Sev\",\"instance\":\"sev2\","
            "\"severity\":\"warning\"}},"
            "{\"labels\":{\"alertname\":\"Sev\",\"instance\":\"sev3\","
            "\"severity\":\"critical\"}}]", NULL, &result);
    CHECK (result.code == 200, "%ld %s", result.code, result.body);
    http_result_free (&result);
    static const struct { const char *source; alert_level_t level; } want [] = {
        { "sev1", LEVEL_URGENT }, { "sev2", LEVEL_LOW }, { "sev3", LEVEL_NORMAL },
    };
    for (size_t index = 0; index < 3; index++) {
        alert_t alert;
        if (CHECK (s_get (want [index].source, "Sev{severity=\"DISASTER\"}", &alert)
                   || s_get (want [index].source, "Sev{severity=\"warning\"}", &alert)
                   || s_get (want [index].source, "Sev{severity=\"critical\"}", &alert),
                   "%s/Sev not there", want [index].source)) {
            CHECK (alert.level == want [index].level, "%s: %s", want [index].source,
                   alert_level_name (alert.level));
            alert_clear_fields (&alert);
        }
    }
}

//  Connections waiting in the accept queue of the listening socket on
//  port (IPv4), from /proc/net/tcp; -1 when it is not found.
static int
s_accept_queue (int port)
{
    char *table = file_read_all ("/proc/net/tcp");
    int queued = -1;
    for (char *line = strchr (table, '\n'); line && queued < 0; line = strchr (line + 1, '\n')) {
        unsigned local_port, state, tx_queue, rx_queue;
        if (sscanf (line, " %*d: %*x:%x %*x:%*x %x %x:%x", &local_port, &state, &tx_queue,
                    &rx_queue) == 4 && (int) local_port == port && state == 0x0A)
            queued = (int) rx_queue;
    }
    free (table);
    return queued;
}

#define HELD_MAX  8                     //  requests held back at once, at most

//  Requests held back: each POSTs bodies [i] to paths [i] with curl while
//  lilac-web is stopped (SIGSTOP), so that it finds them all at once when
//  it goes on (SIGCONT). codes [i] and answers [i] get the status and the
//  body (caller frees); returns the submits the broker counted meanwhile,
//  or -1 when the round could not run.
static int64_t
s_held_back (size_t count, const char *const *paths, char *const *bodies, char **codes,
             char **answers)
{
    assert (count <= HELD_MAX);
    pid_t web = web_process_pid (s_web);
    int port = atoi (strrchr (web_process_base (s_web), ':') + 1);
    int64_t before = broker_process_stat (s_bed->broker, "submits");
    if (!CHECK (before >= 0 && kill (web, SIGSTOP) == 0, "stats, SIGSTOP"))
        return -1;
    pid_t curls [HELD_MAX];
    char *code_paths [HELD_MAX], *answer_paths [HELD_MAX];
    for (size_t index = 0; index < count; index++) {
        char name [64], url [1024];
        snprintf (name, sizeof name, "held-%zu.body", index);
        answer_paths [index] = sandbox_path (s_bed->sandbox, name);
        snprintf (name, sizeof name, "held-%zu.code", index);
        code_paths [index] = sandbox_path (s_bed->sandbox, name);
        unlink (answer_paths [index]);
        unlink (code_paths [index]);
        snprintf (url, sizeof url, "%s%s", web_process_base (s_web), paths [index]);
        char *argv [] = { "/usr/bin/curl", "-s", "-m", "15", "-o", answer_paths [index],
                          "-w", "%{http_code}", "-H", "Content-Type: application/json",
                          "--data-binary", bodies [index], url, NULL };
        curls [index] = process_spawn (argv, code_paths [index], code_paths [index]);
    }
    //  Every connection waits to be accepted before lilac-web goes on
    int64_t end = clock_now_ms () + 10000;
    while (s_accept_queue (port) < (int) count && clock_now_ms () < end)
        zclock_sleep (5);
    CHECK (kill (web, SIGCONT) == 0, "SIGCONT");
    for (size_t index = 0; index < count; index++) {
        CHECK (curls [index] > 0 && process_wait (curls [index], 20000) == 0, "curl %zu", index);
        codes [index] = file_read_all (code_paths [index]);
        answers [index] = file_read_all (answer_paths [index]);
        free (code_paths [index]);
        free (answer_paths [index]);
    }
    return broker_process_stat (s_bed->broker, "submits") - before;
}

#define JOINED_REQUESTS  6

//  One round: JOINED_REQUESTS requests held back (even: purppura, two
//  events, one the broker refuses; odd: Alertmanager, one alert); checks
//  each answer. The submits they made, or -1.
static int64_t
s_joined_round (int round)
{
    const char *paths [JOINED_REQUESTS];
    char *bodies [JOINED_REQUESTS], *codes [JOINED_REQUESTS], *answers [JOINED_REQUESTS];
    for (int index = 0; index < JOINED_REQUESTS; index++) {
        char body [512];
        if (index % 2 == 0)
            snprintf (body, sizeof body, "[{\"id\":\"joined-%d-%d\",\"raise\":\"now\"},"
                      "{\"id\":\"joined-%d-%d-bad\",\"raise\":\"+5x\"}]", round, index,
                      round, index);
        else
            snprintf (body, sizeof body, "[{\"labels\":{\"alertname\":\"Joined\","
                      "\"n\":\"%d-%d\"}}]", round, index);
        paths [index] = index % 2 == 0 ? "/events" : "/api/v2/alerts";
        bodies [index] = strdup (body);
    }
    int64_t submits = s_held_back (JOINED_REQUESTS, paths, bodies, codes, answers);
    for (int index = 0; submits >= 0 && index < JOINED_REQUESTS; index++) {
        char own [96], other [96];
        snprintf (own, sizeof own, "joined-%d-%d-bad: raise: not a time spec", round, index);
        snprintf (other, sizeof other, "joined-%d-%d-bad", round, (index + 2) % JOINED_REQUESTS);
        if (index % 2 == 0)
            CHECK (strcmp (codes [index], "400") == 0 && strstr (answers [index], own)
                   && !strstr (answers [index], other) && !strstr (answers [index], ";"),
                   "purppura %d: %s %s", index, codes [index], answers [index]);
        else
            CHECK (strcmp (codes [index], "200") == 0
                   && text_has (answers [index], "{\"accepted\":1,\"refused\":[]}"),
                   "Alertmanager %d: %s %s", index, codes [index], answers [index]);
        alert_t alert;
        char id [64];
        snprintf (id, sizeof id, index % 2 ? "Joined{n=\"%d-%d\"}" : "joined-%d-%d", round, index);
        if (CHECK (s_get ("127.0.0.1", id, &alert), "%s not in the broker", id))
            alert_clear_fields (&alert);
    }
    for (int index = 0; index < JOINED_REQUESTS; index++) {
        free (bodies [index]);
        if (submits >= 0) {
            free (codes [index]);
            free (answers [index]);
        }
    }
    return submits;
}

//  Two purppura requests whose every event the broker refuses, for
//  different reasons, held back: joined, the submit is refused whole,
//  then each goes again alone (3 submits). Each answer must give its own
//  reason. The submits they made, or -1.
static int64_t
s_refused_whole_round (int round)
{
    const char *paths [2] = { "/events", "/events" };
    char body_raise [128], body_id [128], *codes [2], *answers [2];
    snprintf (body_raise, sizeof body_raise, "{\"id\":\"whole-%d\",\"raise\":\"+5x\"}", round);
    snprintf (body_id, sizeof body_id, "{\"id\":\"whole-%d\\u0007\"}", round);
    char *bodies [2] = { body_raise, body_id };
    int64_t submits = s_held_back (2, paths, bodies, codes, answers);
    if (submits < 0)
        return -1;
    CHECK (strcmp (codes [0], "400") == 0 && strstr (answers [0], "raise: not a time spec")
           && !strstr (answers [0], "control characters"), "bad raise: %s %s", codes [0],
           answers [0]);
    CHECK (strcmp (codes [1], "400") == 0 && strstr (answers [1], "id: ")
           && strstr (answers [1], "control characters") && !strstr (answers [1], "raise"),
           "bad id: %s %s", codes [1], answers [1]);
    for (int index = 0; index < 2; index++) {
        free (codes [index]);
        free (answers [index]);
    }
    return submits;
}

static void
s_joined (void)
{
    TEST ("group commit: requests of one turn share submits, each answered with its own "
          "refusals and count");
    int64_t submits = JOINED_REQUESTS;
    for (int round = 0; round < 3 && submits >= JOINED_REQUESTS; round++)
        if ((submits = s_joined_round (round)) < 0)
            return;
    CHECK (submits < JOINED_REQUESTS, "%lld submits for %d requests held back together",
           (long long) submits, JOINED_REQUESTS);

    TEST ("group commit: a joined submit refused whole goes again part by part, each request "
          "answered with its own reason");
    submits = 2;
    for (int round = 0; round < 3 && submits == 2; round++)
        if ((submits = s_refused_whole_round (round)) < 0)
            return;
    CHECK (submits == 3, "%lld submits for 2 requests held back together (3: joined, then "
           "each alone)", (long long) submits);
}

static void
s_frozen_broker (void)
{
    TEST ("a frozen broker: 503 with Retry-After within the call timeout, for every dialect");
    pid_t broker = broker_process_pid (s_bed->broker);
    if (!CHECK (kill (broker, SIGSTOP) == 0, "SIGSTOP"))
        return;
    static const struct { const char *path, *body; } posts [] = {
        { "/api/events", "{\"alerts\":[{\"id\":\"frozen\"}]}" },
        { "/api/v2/alerts", "[{\"labels\":{\"alertname\":\"Frozen\"}}]" },
    };
    for (size_t index = 0; index < sizeof posts / sizeof posts [0]; index++) {
        http_result_t result;
        s_curl ("POST", posts [index].path, posts [index].body, NULL, &result);
        //  lilac-web gives up after 3 s (WEB_CALL_TIMEOUT_MS); 12 s is the margin
        CHECK (result.code == 503 && strstr (result.headers, "Retry-After: ")
               && strstr (result.body, "no answer from the broker") && result.elapsed_ms < 15000,
               "%s: %ld after %lld ms: %s %s", posts [index].path, result.code,
               (long long) result.elapsed_ms, result.headers, result.body);
        http_result_free (&result);
    }
    CHECK (kill (broker, SIGCONT) == 0, "SIGCONT");
    http_result_t result;
    s_curl ("POST", "/api/events", "{\"alerts\":[{\"id\":\"thawed\"}]}", NULL, &result);
    CHECK (result.code == 200, "after SIGCONT: %ld %s", result.code, result.body);
    http_result_free (&result);
}

int
main (void)
{
    s_bed = testbed_new ("web-ingest", NULL);
    if (!s_bed) {
        TEST ("testbed");
        CHECK (false, "no testbed");
        return check_done ();
    }
    TEST ("lilac-web starts and answers");
    s_web = web_process_new (s_bed->sandbox, s_bed->broker, NULL);
    if (CHECK (s_web && web_process_start (s_web) == 0, "lilac-web did not start")) {
        s_api_events ();
        s_purppura ();
        s_ping ();
        s_alertmanager ();
        s_forwarded_ignored ();
        s_joined ();
        s_frozen_broker ();
        TEST ("lilac-web exits 0 on SIGTERM");
        CHECK (web_process_stop (s_web) == 0, "exit status");
    }
    bool failed = check_failed > 0 || check_case_failed;
    web_process_destroy (&s_web, failed);
    TEST ("lilac-web with trusted_proxies starts");
    s_web = web_process_new (s_bed->sandbox, s_bed->broker,
                             "    trusted_proxies = \"::1 127.0.0.1\"\n"
                             "    severity_levels = \"disaster=urgent warning=low\"\n");
    if (CHECK (s_web && web_process_start (s_web) == 0, "lilac-web did not start")) {
        s_forwarded_trusted ();
        s_severity_levels ();
    }
    failed = check_failed > 0 || check_case_failed;
    web_process_destroy (&s_web, failed);
    testbed_destroy (&s_bed, failed);
    return check_done ();
}
