/*  test_prometheus.c — a real Prometheus sends its alerts to lilac-web.

    A broker and a lilac-web on free loopback ports (as in test_web_ingest.c),
    lilac-web with a tokens file (a sender token, no bound source), and the
    Debian package's /usr/bin/prometheus started in the sandbox on its own
    free port: evaluation every second, resend delay 1 s, its only
    Alertmanager lilac-web (API v2, the token as its bearer credentials), no
    scrape targets. Its rule file holds one alert, `LilacTestFiring` with
    `for: 0s`, whose expression the test flips by rewriting the file and
    sending SIGHUP (Prometheus reloads its rules on SIGHUP; a changed rule
    of the same name and labels keeps its active alert, which the next
    evaluation finds resolved):
    - `vector(1)`: the alert fires; Prometheus sends it (endsAt = now + 4 s
      while firing) and the broker holds it raised, with the id lilac-web's
      mapping gives (alertname plus the labels in Prometheus notation) and
      the sender's address as source (the alert has no `instance` label);
    - `vector(1) > 1` (empty): the alert stops firing; Prometheus sends it
      resolved (endsAt now) and the broker holds it cleared. (Had that
      notification been lost, the endsAt of the last one clears it within 4 s
      all the same: what "clear = endsAt" is for.)
    A missing /usr/bin/prometheus fails the test saying so (make deps
    installs it), never a silent skip.
*/
#include <signal.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/web_process.h"
#include "timespec.h"

#define PROMETHEUS "/usr/bin/prometheus"
#define TOKEN "lilac-test-prometheus-token"
//  printf %s lilac-test-prometheus-token | sha256sum
#define TOKEN_SHA256 "61164e4cedd7b15a1c45f470e6b8a588a52277cb6982000435ca27d2aa48b451"
#define ALERT_SOURCE "127.0.0.1"
#define ALERT_ID "LilacTestFiring{severity=\"warning\",team=\"ops\"}"

static testbed_t *s_bed;
static pid_t s_web;                    //  lilac-web, 0 when not running
static pid_t s_prom;                   //  prometheus, 0 when not running
static int s_web_port;
static int s_prom_port;

//  GET URL with curl: the HTTP status, 0 for none.
static long
s_http_code (char *url)
{
    http_options_t options = { 0 };
    http_result_t result;
    http_call (sandbox_dir (s_bed->sandbox), "GET", url, &options, &result);
    http_result_free (&result);
    return result.code;
}

//  Polls URL until it answers 200. 0, or -1 at the deadline.
static int
s_wait_200 (char *url, int timeout_ms)
{
    for (int64_t end = clock_now_ms () + timeout_ms; clock_now_ms () < end; ) {
        if (s_http_code (url) == 200)
            return 0;
        harness_pause_ms (100);
    }
    return -1;
}

static int
s_start_web (void)
{
    char *config = sandbox_path (s_bed->sandbox, "web.conf");
    char *tokens = sandbox_path (s_bed->sandbox, "web.tokens");
    char *state = sandbox_path (s_bed->sandbox, "web-state");
    char *log = sandbox_path (s_bed->sandbox, "web.log");
    s_web_port = port_free ();
    char text [2048];
    snprintf (text, sizeof text, "web\n    listen = \"127.0.0.1:%d\"\n    control = \"%s\"\n"
              "    events = \"%s\"\n    state_dir = \"%s\"\n    tokens = \"%s\"\n", s_web_port,
              broker_process_control (s_bed->broker), broker_process_publish (s_bed->broker),
              state, tokens);
    char program [1024];
    snprintf (program, sizeof program, "%s/lilac-web", harness_bin_dir ());
    if (file_write_text (tokens, "prometheus sender - " TOKEN_SHA256 "\n") == 0
    &&  file_write_text (config, text) == 0) {
        char *argv [] = { program, "-c", config, NULL };
        s_web = process_spawn (argv, log, log);
    }
    free (config);
    free (tokens);
    free (state);
    free (log);
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/healthz", s_web_port);
    return s_web > 0 ? s_wait_200 (url, 15000) : -1;
}

//  Writes the rule file: the alert fires (vector(1)) or not (an empty vector).
static int
s_write_rules (bool firing)
{
    char *path = sandbox_path (s_bed->sandbox, "rules.yml");
    char text [1024];
    snprintf (text, sizeof text,
              "groups:\n"
              "  - name: lilac-test\n"
              "    interval: 1s\n"
              "    rules:\n"
              "      - alert: LilacTestFiring\n"
              "        expr: %s\n"
              "        for: 0s\n"
              "        labels:\n"
              "          severity: warning\n"
              "          team: ops\n"
              "        annotations:\n"
              "          summary: the test's rule fires\n"
              "          description: vector(1) until the test rewrites it\n",
              firing ? "vector(1)" : "vector(1) > 1");
    int rc = file_write_text (path, text);
    free (path);
    return rc;
}

//  Starts prometheus pointed at lilac-web (port) and waits for /-/ready.
static int
s_start_prometheus (int port)
{
    char *config = sandbox_path (s_bed->sandbox, "prometheus.yml");
    char *rules = sandbox_path (s_bed->sandbox, "rules.yml");
    char *data = sandbox_path (s_bed->sandbox, "prometheus-data");
    char *log = sandbox_path (s_bed->sandbox, "prometheus.log");
    s_prom_port = port_free ();
    char text [2048];
    snprintf (text, sizeof text,
              "global:\n"
              "  evaluation_interval: 1s\n"
              "  scrape_interval: 1s\n"
              "rule_files:\n"
              "  - %s\n"
              "alerting:\n"
              "  alertmanagers:\n"
              "    - api_version: v2\n"
              "      timeout: 5s\n"
              "      authorization:\n"
              "        type: Bearer\n"
              "        credentials: %s\n"
              "      static_configs:\n"
              "        - targets: ['127.0.0.1:%d']\n", rules, TOKEN, port);
    char config_arg [4200], data_arg [4200], listen_arg [64];
    snprintf (config_arg, sizeof config_arg, "--config.file=%s", config);
    snprintf (data_arg, sizeof data_arg, "--storage.tsdb.path=%s", data);
    snprintf (listen_arg, sizeof listen_arg, "--web.listen-address=127.0.0.1:%d", s_prom_port);
    if (file_write_text (config, text) == 0 && s_write_rules (true) == 0) {
        char *argv [] = { PROMETHEUS, config_arg, data_arg, listen_arg,
                          "--rules.alert.resend-delay=1s", "--log.level=debug", NULL };
        s_prom = process_spawn (argv, log, log);
    }
    free (config);
    free (rules);
    free (data);
    free (log);
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/-/ready", s_prom_port);
    return s_prom > 0 ? s_wait_200 (url, 20000) : -1;
}

//  Polls the broker until ALERT_SOURCE/ALERT_ID is in state; fills *alert
//  (the last one read). 0, or -1 at the deadline.
static int
s_wait_state (alert_state_t state, int timeout_ms, alert_t *alert)
{
    memset (alert, 0, sizeof *alert);
    for (int64_t end = clock_now_ms () + timeout_ms; clock_now_ms () < end; ) {
        alert_clear_fields (alert);
        memset (alert, 0, sizeof *alert);
        if (control_get_alert (s_bed->broker, ALERT_SOURCE, ALERT_ID, alert) == 0
        &&  alert->state == state)
            return 0;
        harness_pause_ms (200);
    }
    return -1;
}

static void
s_fire_and_stop (void)
{
    TEST ("Prometheus's rule fires: the alert is raised at the broker, mapped");
    int64_t started = clock_now_ms ();
    alert_t alert;
    //  Prometheus hands its Alertmanager targets to the notifier up to 5 s
    //  after start (its discovery's update interval): the deadline covers it
    int rc = s_wait_state (ALERT_RAISED, 20000, &alert);
    if (!CHECK (rc == 0, "%s/%s not raised within 20 s (state %s)", ALERT_SOURCE, ALERT_ID,
                alert.id ? alert_state_name (alert.state) : "absent")) {
        alert_clear_fields (&alert);
        return;
    }
    harness_note ("raised %lld ms after Prometheus was ready",
                  (long long) (clock_now_ms () - started));
    CHECK (alert.level == LEVEL_NORMAL && alert.summary
           && strcmp (alert.summary, "the test's rule fires") == 0 && alert.label_count == 3
           && alert.clear_at > clock_now_ms () - 2000, "level %d summary %s labels %zu "
           "clear_at %lld", (int) alert.level, alert.summary ? alert.summary : "(none)",
           (size_t) alert.label_count, (long long) alert.clear_at);
    alert_clear_fields (&alert);

    TEST ("while it fires, Prometheus re-sends it: still raised 3 s later (its endsAt moves on)");
    harness_pause_ms (3000);       //  a span to hold over, not a wait for an event
    memset (&alert, 0, sizeof alert);
    if (CHECK (control_get_alert (s_bed->broker, ALERT_SOURCE, ALERT_ID, &alert) == 0,
               "gone"))
        CHECK (alert.state == ALERT_RAISED, "%s", alert_state_name (alert.state));
    alert_clear_fields (&alert);

    TEST ("the rule stops firing (rules rewritten, SIGHUP): the alert is cleared");
    char *log = sandbox_path (s_bed->sandbox, "prometheus.log");
    if (CHECK (s_write_rules (false) == 0, "cannot rewrite the rules")
    &&  CHECK (kill (s_prom, SIGHUP) == 0, "SIGHUP")) {
        CHECK (file_wait_count (log, "Completed loading of configuration file", 2, 10000) == 0,
               "Prometheus did not reload its configuration");
        started = clock_now_ms ();
        rc = s_wait_state (ALERT_CLEARED, 15000, &alert);
        CHECK (rc == 0, "%s/%s not cleared within 15 s (state %s)", ALERT_SOURCE, ALERT_ID,
               alert.id ? alert_state_name (alert.state) : "absent");
        if (rc == 0)
            harness_note ("cleared %lld ms after the reload",
                          (long long) (clock_now_ms () - started));
        alert_clear_fields (&alert);
    }
    free (log);
}

int
main (void)
{
    TEST (PROMETHEUS " is installed (Debian package prometheus; make deps)");
    if (!CHECK (access (PROMETHEUS, X_OK) == 0, PROMETHEUS " is missing: run make deps "
                "(apt-get install prometheus); this test needs a real Prometheus"))
        return check_done ();
    s_bed = testbed_new ("prometheus", NULL);
    if (!s_bed) {
        TEST ("testbed");
        CHECK (false, "no testbed");
        return check_done ();
    }
    TEST ("lilac-web starts and answers");
    if (CHECK (s_start_web () == 0, "lilac-web never ready")) {
        TEST ("Prometheus starts, pointed at lilac-web");
        //  LILAC_TEST_PROM_PORT points Prometheus elsewhere: the proof that the
        //  test fails when nothing at that port takes its alerts
        const char *port = getenv ("LILAC_TEST_PROM_PORT");
        if (CHECK (s_start_prometheus (port ? atoi (port) : s_web_port) == 0,
                   "Prometheus never ready"))
            s_fire_and_stop ();
        TEST ("lilac-web exits 0 on SIGTERM");
        CHECK (process_stop (&s_web, "lilac-web", 5000) == 0, "exit status");
    }
    bool failed = check_failed > 0 || check_case_failed;
    if (failed) {
        char *log = sandbox_path (s_bed->sandbox, "web.log");
        log_print_tail ("lilac-web", log, 40);
        free (log);
        log = sandbox_path (s_bed->sandbox, "prometheus.log");
        log_print_tail ("prometheus", log, 40);
        free (log);
    }
    if (s_prom)
        process_stop (&s_prom, "prometheus", 10000);
    if (s_prom)
        process_kill (&s_prom, 5000);
    if (s_web)
        process_kill (&s_web, 5000);
    testbed_destroy (&s_bed, failed);
    return check_done ();
}
