/*  test_web_tls.c — lilac-web over HTTPS, end to end, with curl.

    The test makes a throwaway self-signed certificate for 127.0.0.1 and
    localhost in its sandbox at run time (openssl req -x509, an EC P-256
    key, a day long), and a second pair whose key is not the first's. A
    broker and a lilac-web with tls_cert and tls_key on loopback ports;
    every request is made by the real curl, which checks the server against
    that certificate (--cacert, never -k). Cases:
    - -n: the good pair is OK; a missing key, a certificate without a key,
      a key that is not the certificate's and a key that is not PEM are each
      reported, exit 1;
    - a start with a key that is not the certificate's, or not PEM, is
      refused: exit 1 (no crash), the reason and "not starting" logged,
      never a plain-HTTP start;
    - https://127.0.0.1:PORT/healthz and https://localhost:PORT/healthz are
      200 with the certificate verified; without --cacert curl refuses it
      (so the check is real);
    - plain http:// to the TLS port gets no HTTP answer, and lilac-web
      serves HTTPS on after it; libmicrohttpd's complaint is a line of
      lilac's log (a warning, rate-limited), not raw stderr;
    - POST /api/v2/alerts over TLS: the alert is at the broker (`get`);
    - GET /api/stream over TLS (curl -N): a change arrives as an event;
    - a browser's login over HTTPS: the session cookie is Secure, and
      https://HOST is the Origin a cookie's change must carry.
*/
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/web_process.h"
#include "timespec.h"

#define OPENSSL "/usr/bin/openssl"

static testbed_t *s_bed;
static web_process_t *s_web;            //  lilac-web, HTTPS
static char *s_cert;                    //  the certificate (its own authority)
static char *s_key;                     //  its key
static char *s_other_cert;              //  another pair's certificate
static char *s_other_key;               //  ... and key: not s_cert's
static char *s_junk_key;                //  a file that is not PEM

//  A self-signed certificate and its key, for 127.0.0.1 and localhost. 0 or -1.
static int
s_make_pair (const char *cert, const char *key, const char *name)
{
    char subject [64];
    snprintf (subject, sizeof subject, "/CN=%s", name);
    cli_result_t result;
    command_run (OPENSSL, "openssl", sandbox_dir (s_bed->sandbox), 20000, &result, "req",
                 "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", key, "-out", cert, "-days", "1", "-subj", subject, "-addext",
                 "subjectAltName=IP:127.0.0.1,DNS:localhost", NULL);
    int rc = result.status == 0 && file_has_text (cert, "BEGIN CERTIFICATE")
           && file_has_text (key, "PRIVATE KEY") ? 0 : -1;
    if (rc)
        harness_note ("openssl req exited %d: %s", result.status, result.err);
    cli_result_free (&result);
    return rc;
}

static int
s_make_files (void)
{
    s_cert = sandbox_path (s_bed->sandbox, "web.crt");
    s_key = sandbox_path (s_bed->sandbox, "web.key");
    s_other_cert = sandbox_path (s_bed->sandbox, "other.crt");
    s_other_key = sandbox_path (s_bed->sandbox, "other.key");
    s_junk_key = sandbox_path (s_bed->sandbox, "junk.key");
    if (access (OPENSSL, X_OK) != 0) {
        harness_note ("%s is missing (make deps installs openssl)", OPENSSL);
        return -1;
    }
    if (s_make_pair (s_cert, s_key, "lilac-test") || s_make_pair (s_other_cert, s_other_key,
                                                                  "other"))
        return -1;
    return file_write_text (s_junk_key, "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n"
                                        "-----END PRIVATE KEY-----\n");
}

//  Writes a config with the given tls lines to sandbox/NAME; its path (caller frees).
static char *
s_config (const char *name, const char *cert, const char *key)
{
    char *path = sandbox_path (s_bed->sandbox, name);
    char *state = sandbox_path (s_bed->sandbox, "web-state");
    char text [8192], cert_line [4200] = "", key_line [4200] = "";
    if (cert)
        snprintf (cert_line, sizeof cert_line, "    tls_cert = \"%s\"\n", cert);
    if (key)
        snprintf (key_line, sizeof key_line, "    tls_key = \"%s\"\n", key);
    snprintf (text, sizeof text, "web\n    listen = \"127.0.0.1:%d\"\n    control = \"%s\"\n"
              "    events = \"%s\"\n    state_dir = \"%s\"\n%s%s", port_free (),
              broker_process_control (s_bed->broker), broker_process_publish (s_bed->broker),
              state, cert_line, key_line);
    free (state);
    CHECK (file_write_text (path, text) == 0, "write %s", path);
    return path;
}

//  lilac-web [-n] -c a config with cert and key: exit 1 and wanted in its log.
static void
s_expect_refused (bool check_only, const char *cert, const char *key, const char *wanted)
{
    char *config = s_config ("tls-bad.conf", cert, key);
    cli_result_t result;
    if (check_only)
        command_run ("lilac-web", "web-n", sandbox_dir (s_bed->sandbox), 10000, &result, "-n",
                     "-c", config, NULL);
    else
        command_run ("lilac-web", "web-start", sandbox_dir (s_bed->sandbox), 10000, &result,
                     "-c", config, NULL);
    CHECK (result.status == 1, "%s, key %s: exit %d (1 expected; -1 is still running, "
           "128+N a signal): %s%s", check_only ? "-n" : "a start", key ? key : "none",
           result.status, result.out, result.err);
    CHECK (strstr (result.err, wanted), "%s, key %s: the log does not say \"%s\": %s",
           check_only ? "-n" : "a start", key ? key : "none", wanted, result.err);
    if (!check_only)
        CHECK (strstr (result.err, "not starting") && !strstr (result.err, "ready:"),
               "a start with key %s did not refuse plainly: %s", key, result.err);
    cli_result_free (&result);
    free (config);
}

static void
s_check_configs (void)
{
    TEST ("lilac-web -n: the good pair OK; a missing key, a cert alone, a foreign key, a key "
          "that is not PEM: each reported, exit 1");
    char *config = s_config ("tls-good.conf", s_cert, s_key);
    cli_result_t result;
    command_run ("lilac-web", "web-n", sandbox_dir (s_bed->sandbox), 10000, &result, "-n", "-c",
                 config, NULL);
    CHECK (result.status == 0 && strstr (result.out, "configuration OK"), "exit %d: %s%s",
           result.status, result.out, result.err);
    cli_result_free (&result);
    free (config);
    char *missing = sandbox_path (s_bed->sandbox, "no-such.key");
    s_expect_refused (true, s_cert, missing, "tls_key: cannot read");
    s_expect_refused (true, s_cert, NULL, "tls_cert and tls_key go together");
    s_expect_refused (true, s_cert, s_other_key, "do not match");
    s_expect_refused (true, s_cert, s_junk_key, "unencrypted PEM private key");
    free (missing);

    TEST ("a start with a foreign key or one that is not PEM: refused, exit 1, the reason logged");
    s_expect_refused (false, s_cert, s_other_key, "do not match");
    s_expect_refused (false, s_cert, s_junk_key, "unencrypted PEM private key");
}

//  curl GET URL (PATH appended to the base when it starts with '/'),
//  trusting ca_file (NULL: curl's own authorities).
static void
s_get (const char *path, const char *ca_file, http_result_t *result)
{
    char url [1024];
    snprintf (url, sizeof url, "%s%s", *path == '/' ? web_process_base (s_web) : "", path);
    http_options_t options = { .ca_file = ca_file };
    http_call (sandbox_dir (s_bed->sandbox), "GET", url, &options, result);
}

//  The port of the base URL, after its last ':'.
static const char *
s_port (void)
{
    return strrchr (web_process_base (s_web), ':') + 1;
}

static void
s_healthz (void)
{
    TEST ("https /healthz: 200 with the certificate verified (--cacert), for 127.0.0.1 and "
          "localhost; refused unverified");
    CHECK (strncmp (web_process_base (s_web), "https://", 8) == 0, "base %s",
           web_process_base (s_web));
    http_result_t result;
    s_get ("/healthz", s_cert, &result);
    CHECK (result.status == 0 && result.code == 200 && strcmp (result.body, "ok\n") == 0,
           "curl %d, HTTP %ld: %s", result.status, result.code, result.body);
    http_result_free (&result);
    char url [128];
    snprintf (url, sizeof url, "https://localhost:%s/healthz", s_port ());
    s_get (url, s_cert, &result);
    CHECK (result.code == 200, "%s: curl %d, HTTP %ld", url, result.status, result.code);
    http_result_free (&result);
    s_get ("/healthz", NULL, &result);
    CHECK (result.status == 60 && result.code == 0,
           "without --cacert: curl %d (60: certificate not trusted), HTTP %ld", result.status,
           result.code);
    http_result_free (&result);
    s_get ("/healthz", s_other_cert, &result);
    CHECK (result.status == 60 && result.code == 0,
           "trusting another certificate: curl %d (60 expected), HTTP %ld", result.status,
           result.code);
    http_result_free (&result);
}

static void
s_plain_http (void)
{
    TEST ("plain http:// to the TLS port: no HTTP answer; HTTPS goes on");
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%s/healthz", s_port ());
    http_result_t result;
    for (int attempt = 0; attempt < 3; attempt++) {
        s_get (url, NULL, &result);
        CHECK (result.status != 0 && result.code == 0 && !*result.body,
               "plain HTTP answered: curl %d, HTTP %ld: %s", result.status, result.code,
               result.body);
        http_result_free (&result);
    }
    s_get ("/healthz", s_cert, &result);
    CHECK (result.code == 200, "after plain HTTP: HTTP %ld", result.code);
    http_result_free (&result);
    //  libmicrohttpd's complaint is a line of our log, not raw stderr.
    CHECK (file_has_text (web_process_log (s_web), "warn: libmicrohttpd: "),
           "libmicrohttpd's message did not go through lilac's log");
}

static void
s_ingest (void)
{
    TEST ("POST /api/v2/alerts over TLS: applied at the broker");
    char url [128];
    snprintf (url, sizeof url, "%s/api/v2/alerts", web_process_base (s_web));
    http_options_t options = {
        .ca_file = s_cert,
        .body = "[{\"labels\":{\"alertname\":\"TlsDown\",\"instance\":\"tls-host\"},"
                "\"annotations\":{\"summary\":\"sent over https\"}}]"
    };
    http_result_t result;
    http_call (sandbox_dir (s_bed->sandbox), "POST", url, &options, &result);
    CHECK (result.code == 200 && text_has (result.body, "\"accepted\":1"), "curl %d, HTTP %ld: %s",
           result.status, result.code, result.body);
    http_result_free (&result);
    alert_t alert = { 0 };
    if (CHECK (control_get_alert (s_bed->broker, "tls-host", "TlsDown", &alert) == 0,
               "tls-host/TlsDown is not at the broker")) {
        CHECK (alert.state == ALERT_RAISED && alert.summary
               && strcmp (alert.summary, "sent over https") == 0, "%s: %s",
               alert_state_name (alert.state), alert.summary ? alert.summary : "-");
        alert_clear_fields (&alert);
    }
}

static void
s_stream (void)
{
    TEST ("GET /api/stream over TLS (curl -N --cacert): a change arrives as an event");
    char url [512];
    snprintf (url, sizeof url, "%s/api/stream?source=tls-stream", web_process_base (s_web));
    char *out = sandbox_path (s_bed->sandbox, "stream-tls");
    char *argv [] = { "/usr/bin/curl", "-sN", "--cacert", s_cert, url, NULL };
    pid_t pid = process_spawn (argv, out, out);
    CHECK (pid > 0 && file_wait_count (out, "lilac-web stream", 1, 5000) == 0,
           "the stream never opened: %s", out);
    CHECK (testbed_raise (s_bed, "tls-stream", "over-tls", NULL) == 0, "raise");
    CHECK (file_wait_count (out, "\"id\":\"over-tls\"", 1, 5000) == 0
           && file_count_text (out, "event: change") == 1 && file_has_text (out, "\nid: "),
           "no change event over TLS in %s", out);
    if (pid > 0)
        process_kill (&pid, 5000);
    free (out);
}

//  A browser session over HTTPS: the cookie is Secure, and the https
//  Origin is ours (an http one is not).
static void
s_session (void)
{
    TEST ("a login over HTTPS: the session cookie is Secure; https://HOST is our Origin");
    char *users = sandbox_path (s_bed->sandbox, "users");
    char *password = sandbox_path (s_bed->sandbox, "password");
    char extra [9000], command [9000];
    snprintf (extra, sizeof extra, "    users = \"%s\"\n    admins = alice\n", users);
    web_process_destroy (&s_web, false);
    s_web = web_process_new_tls (s_bed->sandbox, s_bed->broker, s_cert, s_key, extra);
    snprintf (command, sizeof command, "%s/lilac-web -c %s user add alice < %s",
              harness_bin_dir (), s_web ? web_process_config (s_web) : "?", password);
    if (!CHECK (s_web && file_write_text (password, "wonderland\n") == 0
                && system (command) == 0 && web_process_start (s_web) == 0, "no lilac-web"))
        goto done;
    char url [1024], cookie [512] = "", headers [1024];
    snprintf (url, sizeof url, "%s/api/session", web_process_base (s_web));
    http_options_t options = { .ca_file = s_cert,
                               .body = "{\"user\":\"alice\",\"password\":\"wonderland\"}" };
    http_result_t result;
    http_call (sandbox_dir (s_bed->sandbox), "POST", url, &options, &result);
    CHECK (result.code == 200 && text_has (result.headers, "; Secure"), "login: %ld %s",
           result.code, result.headers);
    const char *at = result.headers ? strstr (result.headers, "lilac_session=") : NULL;
    if (at)
        snprintf (cookie, sizeof cookie, "%.*s", (int) strcspn (at + 14, ";\r\n"), at + 14);
    http_result_free (&result);
    const char *host = web_process_base (s_web) + strlen ("https://");
    snprintf (headers, sizeof headers, "Cookie: lilac_session=%s\nOrigin: http://%s", cookie,
              host);
    options = (http_options_t) { .ca_file = s_cert, .body = "{}", .header = headers };
    http_call (sandbox_dir (s_bed->sandbox), "DELETE", url, &options, &result);
    CHECK (result.code == 403, "an http Origin on https: %ld", result.code);
    http_result_free (&result);
    snprintf (headers, sizeof headers, "Cookie: lilac_session=%s\nOrigin: https://%s", cookie,
              host);
    http_call (sandbox_dir (s_bed->sandbox), "DELETE", url, &options, &result);
    CHECK (result.code == 200, "our https Origin: %ld %s", result.code, result.body);
    http_result_free (&result);
done:
    free (users);
    free (password);
}

int
main (void)
{
    s_bed = testbed_new ("web-tls", NULL);
    if (!s_bed) {
        TEST ("testbed");
        CHECK (false, "no testbed");
        return check_done ();
    }
    TEST ("a throwaway self-signed certificate (openssl)");
    if (CHECK (s_make_files () == 0, "no certificate")) {
        s_check_configs ();
        TEST ("lilac-web starts with tls_cert and tls_key (/healthz 200 over https)");
        s_web = web_process_new_tls (s_bed->sandbox, s_bed->broker, s_cert, s_key, NULL);
        if (CHECK (s_web && web_process_start (s_web) == 0, "lilac-web did not start")) {
            s_healthz ();
            s_plain_http ();
            s_ingest ();
            s_stream ();
            TEST ("lilac-web exits 0 on SIGTERM");
            CHECK (web_process_stop (s_web) == 0, "exit status");
            s_session ();
        }
    }
    bool failed = check_failed > 0 || check_case_failed;
    web_process_destroy (&s_web, failed);
    testbed_destroy (&s_bed, failed);
    free (s_cert);
    free (s_key);
    free (s_other_cert);
    free (s_other_key);
    free (s_junk_key);
    return check_done ();
}
