/*  test_security.c — CURVE, identities from certificates, roles, the
    loopback rule (README "Security").

    Keys are made by the real `lilac keygen` in a sandbox; the broker runs
    with a `security` section. This test process is itself a CURVE client
    with an admin certificate ("tester"), so the harness's control calls,
    PUSH and SUB work; other identities are played by `lilac` children with
    their own certificates. The hostile frames at the end come from a relay
    certificate, so that only their content, not their source, is wrong.
*/
#include <signal.h>
#include <sys/stat.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/agent_process.h"
#include "../harness/notifier_process.h"
#include "../harness/web_process.h"
#include "bus.h"
#include "timespec.h"

#define CLI_DEADLINE_MS  15000

static sandbox_t *s_sandbox;
static broker_process_t *s_broker;
static char s_server_key [600];    //  path of the broker's public certificate

//  sandbox/NAME, as a static string (a few in use at once).
static const char *
s_path (const char *name)
{
    static char paths [8][600];
    static int next;
    char *path = paths [next++ % 8];
    snprintf (path, sizeof paths [0], "%s/%s", sandbox_dir (s_sandbox), name);
    return path;
}

static bool
s_keygen (const char *name, const char *role, const char *source)
{
    cli_result_t result;
    if (source)
        cli_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, &result, "keygen", name, "--role",
                 role, "--source", source, "-d", sandbox_dir (s_sandbox), NULL);
    else
        cli_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, &result, "keygen", name, "--role",
                 role, "-d", sandbox_dir (s_sandbox), NULL);
    bool ok = result.status == 0;
    if (!ok)
        harness_note ("keygen %s: %s", name, result.err);
    cli_result_free (&result);
    return ok;
}

//  Copies sandbox/NAME (public) into sandbox/clients/.
static bool
s_allow (const char *name)
{
    char *text = file_read_all (s_path (name));
    char target [700];
    snprintf (target, sizeof target, "%s/clients/%s", sandbox_dir (s_sandbox), name);
    bool ok = text && *text && file_write_text (target, text) == 0;
    free (text);
    return ok;
}

//  Copies sandbox/NAME into sandbox/clients/ without its `name` line, as a
//  certificate made before certificates had names.
static bool
s_allow_unnamed (const char *name)
{
    char *text = file_read_all (s_path (name));
    char *line = text ? strstr (text, "    name = ") : NULL;
    char *end = line ? strchr (line, '\n') : NULL;
    if (end)
        memmove (line, end + 1, strlen (end + 1) + 1);
    char target [700];
    snprintf (target, sizeof target, "%s/clients/%s", sandbox_dir (s_sandbox), name);
    bool ok = end && !strstr (text, "name =") && file_write_text (target, text) == 0;
    free (text);
    return ok;
}

//  `lilac --cert NAME_secret --server-key KEY send -b INGEST -t 2 ARGS...`
static int
s_send_as (const char *name, const char *server_key, const char *source, const char *id,
           cli_result_t *result)
{
    char cert [700];
    snprintf (cert, sizeof cert, "%s_secret", s_path (name));
    if (source)
        return cli_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, result, "--cert", cert,
                        "--server-key", server_key, "send", "-b", broker_process_ingest (s_broker),
                        "-t", "2", "-o", source, "-i", id, "-r", NULL);
    return cli_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, result, "--cert", cert,
                    "--server-key", server_key, "send", "-b", broker_process_ingest (s_broker),
                    "-t", "2", "-i", id, "-r", NULL);
}

//  `lilac --cert NAME_secret ... -C CONTROL OP ARGS` (up to 3 args).
static int
s_control_as (const char *name, cli_result_t *result, const char *op, const char *a,
              const char *b, const char *c)
{
    char cert [700];
    snprintf (cert, sizeof cert, "%s_secret", s_path (name));
    return cli_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, result, "--cert", cert,
                    "--server-key", s_server_key, "-C", broker_process_control (s_broker),
                    "-t", "3", op, a, b, c, NULL);
}

//  `lilac --cert NAME_secret ... -C CONTROL OP SOURCE ID ARG [VALUE]`: an
//  act (--by BY; suppress's TIME, with value NULL).
static int
s_act_as (const char *name, const char *op, const char *source, const char *id,
          const char *option, const char *value, cli_result_t *result)
{
    char cert [700];
    snprintf (cert, sizeof cert, "%s_secret", s_path (name));
    return cli_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, result, "--cert", cert,
                    "--server-key", s_server_key, "-C", broker_process_control (s_broker),
                    "-t", "3", op, source, id, option, value, NULL);
}

//  `lilac --cert NAME_secret ... send -C CONTROL -o SOURCE -i ID -r`: a
//  submit, answered once the broker committed it.
static int
s_submit_as (const char *name, const char *source, const char *id, cli_result_t *result)
{
    char cert [700];
    snprintf (cert, sizeof cert, "%s_secret", s_path (name));
    return cli_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, result, "--cert", cert,
                    "--server-key", s_server_key, "send", "-C", broker_process_control (s_broker),
                    "-t", "3", "-o", source, "-i", id, "-r", NULL);
}

//  The alert's acked_by ("" if none, "?" if it cannot be read), as a
//  static string.
static const char *
s_acked_by (const char *source, const char *id)
{
    static char by [300];
    alert_t alert;
    if (control_get_alert (s_broker, source, id, &alert) != 0)
        return "?";
    snprintf (by, sizeof by, "%s", alert.acked_by ? alert.acked_by : "");
    alert_clear_fields (&alert);
    return by;
}

//  Waits until the broker's log holds line (at least once more than
//  before); true if it does.
static bool
s_logged (const char *line, int before)
{
    return file_wait_count (broker_process_log (s_broker), line, before + 1, 5000) == 0;
}

//  Polls a stats counter until it reaches at least min. Its last value.
static int64_t
s_wait_stat (const char *name, int64_t min, int timeout_ms)
{
    int64_t deadline = clock_now_ms () + timeout_ms, value = -1;
    for (int round = 0; round < 200; round++) {
        value = broker_process_stat (s_broker, name);
        if (value >= min || clock_now_ms () >= deadline)
            break;
        harness_pause_ms (50);
    }
    return value;
}

static bool
s_stored (const char *source, const char *id)
{
    alert_t alert;
    if (control_get_alert (s_broker, source, id, &alert) != 0)
        return false;
    alert_clear_fields (&alert);
    return true;
}

static void
s_unknown_client (void)
{
    TEST ("security: an unknown client's events never reach the store; the handshake is counted");
    int64_t failures = broker_process_stat (s_broker, "handshake_failures");
    cli_result_t result;
    s_send_as ("stranger", s_server_key, NULL, "intrusion", &result);
    CHECK (result.status == 1, "send by an unknown certificate: status %d", result.status);
    CHECK (strstr (result.err, "refused this client's certificate: the broker does not list it")
           && result.elapsed_ms < 1000, "message (after %lld ms): %s",
           (long long) result.elapsed_ms, result.err);
    cli_result_free (&result);
    CHECK (!s_stored ("stranger", "intrusion"), "an unknown client's event was stored");
    CHECK (s_wait_stat ("handshake_failures", failures + 1, 3000) > failures,
           "handshake_failures did not grow");
}

static void
s_spoofing (subscriber_t *sub)
{
    TEST ("security: a spoofed source is refused and counted; the certificate's own is accepted");
    int64_t spoofed = broker_process_stat (s_broker, "spoofed");
    cli_result_t result;
    s_send_as ("web1", s_server_key, "db7", "disk", &result);
    CHECK (result.status == 0, "send: %s", result.err);
    cli_result_free (&result);
    CHECK (s_wait_stat ("spoofed", spoofed + 1, 3000) == spoofed + 1, "spoofed did not grow by 1");
    CHECK (!s_stored ("db7", "disk"), "the spoofed event was stored");
    s_send_as ("web1", s_server_key, "web1", "disk", &result);
    CHECK (result.status == 0, "send: %s", result.err);
    cli_result_free (&result);
    alert_change_t change;
    if (CHECK (expect_change (sub, "raised", "web1", "disk", 5000, &change) == 0,
               "web1's own event was not raised"))
        alert_change_free (&change);
    //  Without -o the broker takes the certificate's source
    s_send_as ("web1", s_server_key, NULL, "load", &result);
    CHECK (result.status == 0, "send: %s", result.err);
    cli_result_free (&result);
    if (CHECK (expect_change (sub, "raised", "web1", "load", 5000, &change) == 0,
               "an event without a source did not get the certificate's"))
        alert_change_free (&change);
}

static void
s_relay (subscriber_t *sub)
{
    TEST ("security: a relay may speak for other sources");
    cli_result_t result;
    s_send_as ("nagios", s_server_key, "far-host", "ping", &result);
    CHECK (result.status == 0, "send: %s", result.err);
    cli_result_free (&result);
    alert_change_t change;
    if (CHECK (expect_change (sub, "raised", "far-host", "ping", 5000, &change) == 0,
               "the relay's event for far-host was not raised"))
        alert_change_free (&change);
}

static void
s_roles (void)
{
    TEST ("security: a reader can list and get but not ack; an agent cannot list");
    int64_t denied = broker_process_stat (s_broker, "denied");
    cli_result_t result;
    s_control_as ("reader1", &result, "list", "--source", "web1", NULL);
    CHECK (result.status == 0 && text_has (result.out, "disk"), "reader list: %d %s %s",
           result.status, result.out, result.err);
    cli_result_free (&result);
    s_control_as ("reader1", &result, "get", "web1", "disk", NULL);
    CHECK (result.status == 0, "reader get: %s", result.err);
    cli_result_free (&result);
    s_control_as ("reader1", &result, "ack", "web1", "disk", NULL);
    CHECK (result.status == 1, "reader ack: status %d", result.status);
    CHECK (text_has (result.err, "permission denied: role reader may not ack"),
           "reader ack: %s", result.err);
    cli_result_free (&result);
    s_control_as ("web1", &result, "list", NULL, NULL, NULL);
    CHECK (result.status == 1 && text_has (result.err, "permission denied: role agent may not list"),
           "agent list: %d %s", result.status, result.err);
    cli_result_free (&result);
    CHECK (broker_process_stat (s_broker, "denied") == denied + 2, "denied did not grow by 2");
    alert_t alert;
    if (CHECK (control_get_alert (s_broker, "web1", "disk", &alert) == 0, "get"))  {
        CHECK (alert.state == ALERT_RAISED, "state %s after a refused ack",
               alert_state_name (alert.state));
        alert_clear_fields (&alert);
    }

    TEST ("security: an admin can ack");
    s_control_as ("tester", &result, "ack", "web1", "disk", NULL);
    CHECK (result.status == 0, "admin ack: %d %s", result.status, result.err);
    cli_result_free (&result);
    if (CHECK (control_get_alert (s_broker, "web1", "disk", &alert) == 0, "get"))  {
        CHECK (alert.state == ALERT_ACKED, "state %s after an admin's ack",
               alert_state_name (alert.state));
        alert_clear_fields (&alert);
    }
}

//  Issue 13: certificates carry a name; `lilac keygen NAME` writes it.
static void
s_keygen_name (void)
{
    TEST ("security: `lilac keygen NAME` writes the name into the certificate, public and secret");
    const char *const files [] = { "tester", "tester_secret", "web-gw" };
    const char *const names [] = { "tester", "tester", "web-gw" };
    for (int index = 0; index < 3; index++) {
        zconfig_t *root = zconfig_load (s_path (files [index]));
        const char *name = root ? zconfig_get (root, "metadata/name", "") : "?";
        CHECK (streq (name, names [index]), "%s: name '%s'", files [index], name);
        zconfig_destroy (&root);
    }
}

//  Issue 13: the gateway role (lilac-web's): ingest for any source, like a
//  relay, and every control op, like an admin.
static void
s_gateway (subscriber_t *sub)
{
    TEST ("security: a gateway may send (PUSH) and submit for any source");
    cli_result_t result;
    s_send_as ("web-gw", s_server_key, "gw-host", "pushed", &result);
    CHECK (result.status == 0, "send: %s", result.err);
    cli_result_free (&result);
    alert_change_t change;
    if (CHECK (expect_change (sub, "raised", "gw-host", "pushed", 5000, &change) == 0,
               "the gateway's event for gw-host was not raised"))
        alert_change_free (&change);
    s_submit_as ("web-gw", "other-host", "submitted", &result);
    CHECK (result.status == 0, "submit: %d %s %s", result.status, result.out, result.err);
    cli_result_free (&result);
    CHECK (s_stored ("other-host", "submitted"), "the gateway's submit for other-host was not stored");

    TEST ("security: a gateway may run every control op");
    s_control_as ("web-gw", &result, "list", "--source", "gw-host", NULL);
    CHECK (result.status == 0 && text_has (result.out, "pushed"), "gateway list: %d %s %s",
           result.status, result.out, result.err);
    cli_result_free (&result);
    s_act_as ("web-gw", "suppress", "gw-host", "pushed", "+1h", NULL, &result);
    CHECK (result.status == 0, "gateway suppress: %d %s", result.status, result.err);
    cli_result_free (&result);
    s_control_as ("web-gw", &result, "history", "gw-host", "pushed", NULL);
    CHECK (result.status == 0, "gateway history: %d %s", result.status, result.err);
    cli_result_free (&result);
}

//  Issue 13: `by` on an act is the certificate's name, except for a
//  gateway, which passes on the user it authenticated.
static void
s_acts_by (subscriber_t *sub)
{
    TEST ("security: an admin's ack with a forged --by is recorded under its certificate's name");
    cli_result_t result;
    const char *const ids [] = { "forged", "trusted", "unnamed" };
    for (int index = 0; index < 3; index++) {
        s_send_as ("nagios", s_server_key, "acts", ids [index], &result);
        CHECK (result.status == 0, "send: %s", result.err);
        cli_result_free (&result);
        alert_change_t change;
        if (CHECK (expect_change (sub, "raised", "acts", ids [index], 5000, &change) == 0,
                   "acts/%s was not raised", ids [index]))
            alert_change_free (&change);
    }
    const char *log = broker_process_log (s_broker);
    int ignored = file_count_text (log, "by 'mallory' in the request is not used");
    s_act_as ("tester", "ack", "acts", "forged", "--by", "mallory", &result);
    CHECK (result.status == 0, "admin ack: %d %s", result.status, result.err);
    cli_result_free (&result);
    CHECK (streq (s_acked_by ("acts", "forged"), "tester"), "acked_by '%s', not 'tester'",
           s_acked_by ("acts", "forged"));
    CHECK (s_logged ("by 'mallory' in the request is not used", ignored),
           "the ignored by was not logged");
    int unacked = file_count_text (log, "acts/forged unacknowledged by tester");
    s_act_as ("tester", "unack", "acts", "forged", "--by", "mallory", &result);
    CHECK (result.status == 0, "admin unack: %d %s", result.status, result.err);
    cli_result_free (&result);
    CHECK (s_logged ("acts/forged unacknowledged by tester", unacked), "unack not logged by tester");
    int cleared = file_count_text (log, "acts/forged cleared by tester");
    s_act_as ("tester", "clear", "acts", "forged", "--by", "mallory", &result);
    CHECK (result.status == 0, "admin clear: %d %s", result.status, result.err);
    cli_result_free (&result);
    CHECK (s_logged ("acts/forged cleared by tester", cleared), "clear not logged by tester");

    TEST ("security: a gateway's --by is kept (the user lilac-web logged in)");
    s_act_as ("web-gw", "ack", "acts", "trusted", "--by", "alice", &result);
    CHECK (result.status == 0, "gateway ack: %d %s", result.status, result.err);
    cli_result_free (&result);
    CHECK (streq (s_acked_by ("acts", "trusted"), "alice"), "acked_by '%s', not 'alice'",
           s_acked_by ("acts", "trusted"));
    cleared = file_count_text (log, "acts/trusted cleared by alice");
    s_act_as ("web-gw", "clear", "acts", "trusted", "--by", "alice", &result);
    CHECK (result.status == 0, "gateway clear: %d %s", result.status, result.err);
    cli_result_free (&result);
    CHECK (s_logged ("acts/trusted cleared by alice", cleared), "clear not logged by alice");

    TEST ("security: a certificate without a name (made before names) still works: its file's"
          " name stands in, logged once at load");
    CHECK (file_count_text (log, "oldops has no name") == 1, "'oldops has no name' logged %d times",
           file_count_text (log, "oldops has no name"));
    s_act_as ("oldops", "ack", "acts", "unnamed", "--by", "mallory", &result);
    CHECK (result.status == 0, "old admin ack: %d %s", result.status, result.err);
    cli_result_free (&result);
    CHECK (streq (s_acked_by ("acts", "unnamed"), "oldops"), "acked_by '%s', not 'oldops'",
           s_acked_by ("acts", "unnamed"));

    TEST ("security: a reader and a relay cannot act (ack, unack, clear, suppress)");
    int64_t denied = broker_process_stat (s_broker, "denied");
    const char *const ops [] = { "ack", "unack", "clear", "suppress" };
    const char *const callers [] = { "reader1", "nagios" };
    for (int who = 0; who < 2; who++)
        for (int index = 0; index < 4; index++) {
            char expected [100];
            s_act_as (callers [who], ops [index], "acts", "unnamed",
                      index == 3 ? "+1h" : "--by", index == 3 ? NULL : "mallory", &result);
            snprintf (expected, sizeof expected, "permission denied: role %s may not %s",
                      who ? "relay" : "reader", ops [index]);
            CHECK (result.status == 1 && text_has (result.err, expected), "%s %s: %d %s",
                   callers [who], ops [index], result.status, result.err);
            cli_result_free (&result);
        }
    CHECK (broker_process_stat (s_broker, "denied") == denied + 8, "denied did not grow by 8");
    CHECK (streq (s_acked_by ("acts", "unnamed"), "oldops"), "a refused act changed the alert");
}

static void
s_wrong_server_key (void)
{
    TEST ("security: a wrong server key makes `lilac send -t 2` fail clearly, non-zero");
    char wrong [700];
    snprintf (wrong, sizeof wrong, "%s", s_path ("reader1"));     //  somebody else's public key
    cli_result_t result;
    s_send_as ("web1", wrong, NULL, "wrong-key", &result);
    CHECK (result.status == 1, "status %d", result.status);
    CHECK (strstr (result.err, "failed: a wrong --server-key, or a broker without CURVE"),
           "message: %s", result.err);
    CHECK (result.elapsed_ms < 1000, "took %lld ms: not at once", (long long) result.elapsed_ms);
    cli_result_free (&result);
    CHECK (!s_stored ("web1", "wrong-key"), "stored despite the wrong key");
    //  A key that is no key at all is refused before anything is sent
    s_send_as ("web1", "not-a-key", NULL, "bad-key", &result);
    CHECK (result.status == 1 && text_has (result.err, "neither 40 Z85 characters"),
           "bad key: %d %s", result.status, result.err);
    cli_result_free (&result);
}

static void
s_plaintext (void)
{
    TEST ("security: plaintext clients cannot talk to a secured broker");
    bus_secure_reset ();
    zsock_t *push = ingest_open (s_broker);
    //  It queues (no ZMQ_IMMEDIATE here) but can never be delivered; the
    //  control call below waits a second, the check of the store comes after
    CHECK (push && ingest_event (push, "plain", "sneak", "now") == 0, "queue a plaintext event");
    char request [] = "\x82\xa1v\x01\xa2op\xa4ping";
    zframe_t *reply = control_raw (s_broker, request, sizeof request - 1, 1000);
    CHECK (!reply, "a plaintext control call got a reply");
    zframe_destroy (&reply);
    cli_result_t result;
    cli_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, &result, "send", "-b",
             broker_process_ingest (s_broker), "-t", "1", "-o", "plain", "-i", "cli", "-r", NULL);
    CHECK (result.status == 1 && strstr (result.err, "the broker wants CURVE (give --cert and "
                                         "--server-key)") && result.elapsed_ms < 1000,
           "plaintext lilac send: status %d after %lld ms: %s", result.status,
           (long long) result.elapsed_ms, result.err);
    cli_result_free (&result);
    //  The same command with --cert and --server-key after it: they count anywhere.
    char tester [700];
    snprintf (tester, sizeof tester, "%s_secret", s_path ("tester"));
    cli_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, &result, "send", "-b",
             broker_process_ingest (s_broker), "-t", "3", "-o", "plain", "-i", "after",
             "--cert", tester, "--server-key=", NULL);
    CHECK (result.status == 2, "an empty --server-key=: status %d", result.status);
    cli_result_free (&result);
    cli_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, &result, "-C",
             broker_process_control (s_broker), "ping", "--cert", tester,
             "--server-key", s_server_key, NULL);
    CHECK (result.status == 0 && strstr (result.out, "pong from"),
           "ping with the keys after the command: %d %s", result.status, result.err);
    cli_result_free (&result);
    char error [512];
    char cert [700];
    snprintf (cert, sizeof cert, "%s_secret", s_path ("tester"));
    CHECK (bus_secure_client (cert, s_server_key, error, sizeof error) == 0, "%s", error);
    CHECK (!s_stored ("plain", "sneak") && !s_stored ("plain", "cli"), "a plaintext event was stored");
    zsock_destroy (&push);
}

static void
s_sighup (subscriber_t *sub)
{
    TEST ("security: after SIGHUP a removed certificate stops working, an added one starts");
    //  A connection web1 made before the reload stays up (ZAP is asked at
    //  the handshake only); its frames must be refused after it. web1 sends
    //  last before the reload, so its key is the one the broker remembers
    //  from its last lookup (security_client): the reload must forget it.
    char cert [700], error [512];
    snprintf (cert, sizeof cert, "%s_secret", s_path ("web1"));
    CHECK (bus_secure_client (cert, s_server_key, error, sizeof error) == 0, "%s", error);
    zsock_t *push = ingest_open (s_broker);
    snprintf (cert, sizeof cert, "%s_secret", s_path ("tester"));
    CHECK (bus_secure_client (cert, s_server_key, error, sizeof error) == 0, "%s", error);
    int64_t unknown = broker_process_stat (s_broker, "unknown_clients");
    alert_change_t change;
    if (CHECK (push && ingest_event (push, "web1", "before-removal", "now") == 0, "web1 sends")
    &&  CHECK (expect_change (sub, "raised", "web1", "before-removal", 5000, &change) == 0,
               "web1's event before the removal was not raised"))
        alert_change_free (&change);
    char removed [700];
    snprintf (removed, sizeof removed, "%s/clients/web1", sandbox_dir (s_sandbox));
    CHECK (unlink (removed) == 0, "unlink");
    CHECK (s_allow ("late"), "allow late");
    int reloads = file_count_text (broker_process_log (s_broker), "reloaded");
    CHECK (broker_process_signal (s_broker, SIGHUP) == 0, "SIGHUP");
    CHECK (file_wait_count (broker_process_log (s_broker), "reloaded", reloads + 1, 5000) == 0,
           "no reload in the log");
    //  No control request in between: it would be the broker's last lookup.
    //  The frame goes first; the stat's request follows on a new CURVE
    //  connection, a handshake later.
    CHECK (push && ingest_event (push, "web1", "on-old-connection", "now") == 0, "web1 sends again");
    CHECK (s_wait_stat ("unknown_clients", unknown + 1, 3000) > unknown,
           "a frame on the removed certificate's connection was not refused as unknown");
    zsock_destroy (&push);
    cli_result_t result;
    s_send_as ("web1", s_server_key, NULL, "after-removal", &result);
    CHECK (result.status == 1, "removed web1 could still send: status %d", result.status);
    cli_result_free (&result);
    CHECK (!s_stored ("web1", "after-removal"), "a removed certificate's event was stored");
    CHECK (!s_stored ("web1", "on-old-connection"), "a removed certificate's frame was stored");
    s_send_as ("late", s_server_key, NULL, "hello", &result);
    CHECK (result.status == 0, "late: %s", result.err);
    cli_result_free (&result);
    if (CHECK (expect_change (sub, "raised", "late", "hello", 5000, &change) == 0,
               "the added certificate's event was not raised"))
        alert_change_free (&change);
    CHECK (broker_process_running (s_broker), "SIGHUP killed the broker");
}

//  Deterministic generator (xorshift32), as in test_hostile.c.
static uint32_t s_random_state = 0x2545F491;
static uint32_t
s_random (void)
{
    uint32_t x = s_random_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s_random_state = x;
    return x;
}

static void
s_hostile (subscriber_t *sub)
{
    TEST ("security: hostile frames from an authenticated relay are rejected; the broker keeps serving");
    char cert [700], error [512];
    snprintf (cert, sizeof cert, "%s_secret", s_path ("nagios"));
    CHECK (bus_secure_client (cert, s_server_key, error, sizeof error) == 0, "%s", error);
    zsock_t *push = ingest_open (s_broker);
    zsock_t *big = ingest_open (s_broker);
    snprintf (cert, sizeof cert, "%s_secret", s_path ("tester"));
    CHECK (bus_secure_client (cert, s_server_key, error, sizeof error) == 0, "%s", error);
    if (!CHECK (push && big, "ingest_open"))
        goto done;
    int64_t rejected = broker_process_stat (s_broker, "rejected");
    int counted = 0;
    for (int frame = 0; frame < 300; frame++) {
        unsigned char bytes [64];
        size_t size = 1 + s_random () % sizeof bytes;
        for (size_t index = 0; index < size; index++)
            bytes [index] = (unsigned char) s_random ();
        if (ingest_raw (push, bytes, size) == 0)
            counted++;
    }
    event_spec_t event = { .id = "m", .raise = "+1h", .summary = "mutate me" };
    batch_spec_t batch = { .source = "mutant", .tx = "mutant-tx", .events = &event, .event_count = 1 };
    wire_writer_t writer;
    wire_writer_init (&writer);
    batch_pack (&writer, &batch);
    for (int frame = 0; frame < 300; frame++) {
        unsigned char bytes [256];
        size_t size = writer.buffer.size < sizeof bytes ? writer.buffer.size : sizeof bytes;
        memcpy (bytes, writer.buffer.data, size);
        for (int flip = 0; flip < 3; flip++)
            bytes [s_random () % size] = (unsigned char) s_random ();
        ingest_raw (push, bytes, size);
    }
    const char *const hand_made [] = { "\xc0", "\x91\x01", "\xc1", "\x81\xa1v\x02", "\xdf\xff\xff\xff\xff" };
    for (size_t index = 0; index < sizeof hand_made / sizeof hand_made [0]; index++)
        if (ingest_raw (push, hand_made [index], strlen (hand_made [index])) == 0)
            counted++;
    //  Two frames in one message, and 300 KiB on a connection of its own
    CHECK (zmq_send (zsock_resolve (push), writer.buffer.data, writer.buffer.size, ZMQ_SNDMORE) != -1
       &&  zmq_send (zsock_resolve (push), writer.buffer.data, writer.buffer.size, 0) != -1,
           "multi-frame");
    size_t huge_size = 300 * 1024;
    char *huge = malloc (huge_size);
    assert (huge);
    memset (huge, 0xa1, huge_size);
    ingest_raw (big, huge, huge_size);
    free (huge);
    wire_writer_free (&writer);
    //  A good event after them on the same connection: once it is applied,
    //  every frame before it was handled
    CHECK (ingest_event (push, "good", "after-hostile", "now") == 0, "send good");
    alert_change_t change;
    if (CHECK (expect_change (sub, "raised", "good", "after-hostile", 10000, &change) == 0,
               "a good event after the hostile frames was not applied"))
        alert_change_free (&change);
    int64_t now_rejected = broker_process_stat (s_broker, "rejected");
    CHECK (now_rejected - rejected >= counted, "rejected grew by %lld for %d bad frames",
           (long long) (now_rejected - rejected), counted);
    for (int frame = 0; frame < 50; frame++) {
        unsigned char bytes [32];
        size_t size = 1 + s_random () % sizeof bytes;
        for (size_t index = 0; index < size; index++)
            bytes [index] = (unsigned char) s_random ();
        zframe_t *reply = control_raw (s_broker, bytes, size, 300);
        zframe_destroy (&reply);
    }
    wire_doc_t *ping = control_ok (s_broker, "ping", ARG_END);
    CHECK (ping, "no ping after hostile control requests");
    wire_doc_destroy (&ping);
    CHECK (broker_process_running (s_broker), "the broker died");
done:
    zsock_destroy (&push);
    zsock_destroy (&big);
}

//  Starts lilac-broker on a config of its own; returns its exit status
//  (after SIGTERM once `ready` is logged, if it starts).
//  The agent as a CURVE client: its heartbeat and what a local script sends
//  through it reach the secured broker under its certificate's source.
//  (A client without a certificate is s_plaintext's case.)
static void
s_agent (subscriber_t *sub)
{
    TEST ("security: an agent with a certificate reaches the secured broker (heartbeat and"
          " local sends, under the certificate's source)");
    char cert [700];
    snprintf (cert, sizeof cert, "%s_secret", s_path ("late"));   //  web1 was revoked
    agent_process_config_t config = { .source = "late", .cert = cert, .server_key = s_server_key,
                                      .heartbeat_raise = "+1h" };
    agent_process_t *agent = agent_process_new (s_sandbox, s_broker, &config, NULL, 0);
    if (!CHECK (agent && agent_process_start (agent) == 0,
                "the secured agent's heartbeat never arrived"))
        goto done;
    char listen [700];
    snprintf (listen, sizeof listen, "%s", agent_process_listen (agent));
    cli_result_t result;
    cli_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, &result, "send", "-b", listen,
             "-o", "late", "-i", "through-agent", "-r", "now", NULL);
    CHECK (result.status == 0, "local send through the agent: %s", result.err);
    cli_result_free (&result);
    alert_change_t change;
    if (CHECK (expect_change (sub, "raised", "late", "through-agent", 10000, &change) == 0,
               "the local send never reached the broker"))
        alert_change_free (&change);
done:
    agent_process_destroy (&agent, check_case_failed);
}

//  The line of the file that starts with prefix (after blanks), or 0.
static int
s_line_of (const char *path, const char *prefix)
{
    char *text = file_read_all (path);
    int line = 0, found = 0;
    for (char *at = text; at && *at && !found; line++) {
        char *start = at + strspn (at, " ");
        if (strncmp (start, prefix, strlen (prefix)) == 0)
            found = line + 1;
        at = strchr (at, '\n');
        at = at ? at + 1 : NULL;
    }
    free (text);
    return found;
}

//  Issue 12 item 9: the certificate's source is the agent's. No source
//  configured → the certificate's; a contradicting one → exit 1 at -n and
//  at start, naming the source key's file:line and both names.
static void
s_agent_source (void)
{
    TEST ("security: an agent without a configured source takes its certificate's");
    char cert [700];
    snprintf (cert, sizeof cert, "%s_secret", s_path ("late"));
    agent_process_config_t config = { .source = "late", .source_from_cert = true, .cert = cert,
                                      .server_key = s_server_key, .heartbeat_raise = "+1h" };
    agent_process_t *agent = agent_process_new (s_sandbox, s_broker, &config, NULL, 0);
    CHECK (agent && agent_process_start (agent) == 0,
           "no heartbeat under the certificate's source 'late'");
    cli_result_t result;
    if (agent) {
        agent_command_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, &result, "-n", "-c",
                           agent_process_config_path (agent), NULL);
        CHECK (result.status == 0 && text_has (result.out, "source late"),
               "-n: exit %d, out '%s', err '%s'", result.status, result.out, result.err);
        cli_result_free (&result);
        CHECK (agent_process_stop (agent) == 0, "agent did not exit 0 on SIGTERM");
    }
    agent_process_destroy (&agent, check_case_failed);

    TEST ("security: an agent whose source contradicts its certificate: exit 1 at -n and at"
          " start, with the source key's file:line and both names");
    config = (agent_process_config_t) { .source = "web9", .cert = cert,
                                        .server_key = s_server_key };
    agent = agent_process_new (s_sandbox, s_broker, &config, NULL, 0);
    if (!CHECK (agent, "agent config"))
        return;
    const char *path = agent_process_config_path (agent);
    char where [800];
    snprintf (where, sizeof where, "%s:%d:", path, s_line_of (path, "source = web9"));
    const char *modes [] = { "-n", "-v" };     //  -v: a start, which must exit at once
    for (int index = 0; index < 2; index++) {
        agent_command_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, &result, modes [index],
                           "-c", path, NULL);
        CHECK (result.status == 1, "%s: exit %d (expected 1): %s", modes [index], result.status,
               result.err);
        CHECK (text_has (result.err, where) && text_has (result.err, "'web9'")
               && text_has (result.err, "'late'"), "%s: stderr '%s' lacks %s and both names",
               modes [index], result.err, where);
        cli_result_free (&result);
    }
    agent_process_destroy (&agent, check_case_failed);
}

static int
s_run_plain_broker (const char *name, bool insecure, char **log)
{
    char config [700], log_path [700], database [700];
    snprintf (config, sizeof config, "%s/%s.conf", sandbox_dir (s_sandbox), name);
    snprintf (log_path, sizeof log_path, "%s/%s.log", sandbox_dir (s_sandbox), name);
    snprintf (database, sizeof database, "%s/%s.db", sandbox_dir (s_sandbox), name);
    char text [2000];
    snprintf (text, sizeof text,
              "broker\n"
              "    ingest = \"tcp://0.0.0.0:%d\"\n"
              "    publish = \"tcp://127.0.0.1:%d\"\n"
              "    control = \"tcp://127.0.0.1:%d\"\n"
              "    database = \"%s\"\n%s",
              port_free (), port_free (), port_free (), database,
              insecure ? "    insecure = yes\n" : "");
    if (file_write_text (config, text))
        return -1;
    char binary [700];
    snprintf (binary, sizeof binary, "%s/lilac-broker", harness_bin_dir ());
    char *argv [] = { binary, "-c", config, NULL };
    pid_t pid = process_spawn (argv, log_path, log_path);
    if (pid <= 0)
        return -1;
    int status = process_wait (pid, 3000);
    if (status == -1) {     //  still running: it started
        file_wait_count (log_path, "ready", 1, 5000);
        kill (pid, SIGTERM);
        status = process_wait (pid, 10000);
        if (status == -1) {
            kill (pid, SIGKILL);
            process_wait (pid, 5000);
        }
    }
    *log = file_read_all (log_path);
    return status;
}

static void
s_loopback_rule (void)
{
    TEST ("security: without a security section a non-loopback bind is refused (exit 1)");
    char *log = NULL;
    int status = s_run_plain_broker ("exposed", false, &log);
    CHECK (status == 1, "status %d", status);
    CHECK (log && text_has (log, "is not a loopback address") && text_has (log, "exposed.conf:2"),
           "log: %s", log ? log : "");
    free (log);

    TEST ("security: insecure = yes accepts it, with a warning");
    status = s_run_plain_broker ("insecure", true, &log);
    CHECK (status == 0, "status %d", status);
    CHECK (log && text_has (log, "INSECURE") && text_has (log, "ready"), "log: %s", log ? log : "");
    free (log);
}

//  curl METHOD URL (with -u login when not NULL): the HTTP code, the body
//  into *body (caller frees).
static long
s_curl (const char *method, const char *url, const char *login, char **body)
{
    http_options_t options = { .login = login };
    http_result_t result;
    http_call (sandbox_dir (s_sandbox), method, url, &options, &result);
    *body = result.body;
    free (result.headers);
    return result.code;
}

//  Issue 13: lilac-web on a secured broker, with a gateway certificate:
//  it reads, and an act is recorded under the user it authenticated.
static void
s_web_gateway (void)
{
    TEST ("security: lilac-web with a gateway certificate reads the secured broker and acts"
          " as its logged-in user");
    cli_result_t sent;
    s_send_as ("web1", s_server_key, "web1", "web-disk", &sent);
    CHECK (sent.status == 0, "send: %s", sent.err);
    cli_result_free (&sent);
    int port = port_free ();
    char config [4096], url [256], secret [700], users [700], web_conf [700], state [700];
    snprintf (web_conf, sizeof web_conf, "%s", s_path ("web.conf"));
    snprintf (state, sizeof state, "%s", s_path ("web-state"));
    snprintf (secret, sizeof secret, "%s_secret", s_path ("web-gw"));
    snprintf (users, sizeof users, "%s", s_path ("web-users"));
    snprintf (config, sizeof config, "web\n    listen = \"127.0.0.1:%d\"\n    control = \"%s\"\n"
              "    events = \"%s\"\n    state_dir = \"%s\"\n    cert = \"%s\"\n"
              "    server_key = \"%s\"\n    users = \"%s\"\n    admins = dana\n", port,
              broker_process_control (s_broker), broker_process_publish (s_broker),
              state, secret, s_server_key, users);
    CHECK (file_write_text (web_conf, config) == 0
           && file_write_text (s_path ("web-password"), "opensesame\n") == 0, "files");
    char program [1024], command [8192];
    snprintf (program, sizeof program, "%s/lilac-web", harness_bin_dir ());
    snprintf (command, sizeof command, "%s -c %s user add dana < %s", program,
              web_conf, s_path ("web-password"));
    CHECK (system (command) == 0, "user add");
    char *argv [] = { program, "-c", web_conf, NULL };
    pid_t web = process_spawn (argv, s_path ("web.log"), s_path ("web.log"));
    char *body = NULL;
    snprintf (url, sizeof url, "http://127.0.0.1:%d/api/alerts/web1/web-disk", port);
    long code = 0;
    for (int64_t end = zclock_mono () + 15000; code != 200 && zclock_mono () < end; ) {
        free (body);
        code = s_curl ("GET", url, "dana:opensesame", &body);
        if (code != 200)
            harness_pause_ms (200);
    }
    CHECK (code == 200 && text_has (body, "\"state\":\"raised\""), "%ld %.300s", code, body);
    free (body);
    snprintf (url, sizeof url, "http://127.0.0.1:%d/api/alerts/web1/web-disk/ack", port);
    code = s_curl ("POST", url, "dana:opensesame", &body);
    CHECK (code == 200, "ack through lilac-web: %ld %.300s", code, body);
    free (body);
    const char *by = s_acked_by ("web1", "web-disk");
    CHECK (by && strcmp (by, "dana") == 0, "acked by %s, not dana", by ? by : "-");
    if (web > 0)
        CHECK (process_stop (&web, "lilac-web", 5000) == 0, "lilac-web exit");
    if (check_case_failed)
        log_print_tail ("lilac-web", s_path ("web.log"), 30);
}

//  A notifier's own alerts (own_alerts.h) go as its certificate's source:
//  the default own_source with CURVE, and -n refuses another.
static void
s_notifier_own (subscriber_t *sub)
{
    TEST ("security: a notifier keeps its heartbeat at the broker under its certificate's"
          " source; -n refuses an own_source that is not the certificate's");
    char cert [700], state_dir [700], head [2048], text [4096];
    snprintf (cert, sizeof cert, "%s_secret", s_path ("notify"));
    snprintf (state_dir, sizeof state_dir, "%s/notify-state", sandbox_dir (s_sandbox));
    notifier_process_broker_section (s_broker, state_dir, head, sizeof head);
    const char *format = "%s"
                         "    cert = %s\n"
                         "    server_key = %s\n"
                         "    heartbeat = 5s\n%s"
                         "exec\n"
                         "    command = /bin/true\n"
                         "rule = none\n"
                         "    source = nothing\n";
    snprintf (text, sizeof text, format, head, cert, s_server_key, "");
    notifier_process_t *notifier = notifier_process_new (s_sandbox, "lilac-notify-exec",
                                                         "notify-secure", text);
    if (!CHECK (notifier && notifier_process_start (notifier) == 0, "the notifier did not start"))
        goto done;
    alert_change_t change;
    if (CHECK (expect_change (sub, "pending", "notifysrc", "lilac-notify-exec/heartbeat", 5000,
                              &change) == 0, "no heartbeat under the certificate's source"))
        alert_change_free (&change);
    CHECK (notifier_process_count_log (notifier, "refused") == 0,
           "the broker refused something of the notifier's");
    CHECK (notifier_process_stop (notifier) == 0, "the notifier did not exit 0");
    char *path = zsys_sprintf ("%s/notify-other.conf", sandbox_dir (s_sandbox));
    char *other = zsys_sprintf (format, head, cert, s_server_key, "    own_source = elsewhere\n");
    CHECK (path && other && file_write_text (path, other) == 0, "write");
    cli_result_t result;
    if (CHECK (notifier_command_run ("lilac-notify-exec", sandbox_dir (s_sandbox), CLI_DEADLINE_MS,
                                     &result, "-n", "-c", path, NULL) == 0, "run -n")) {
        CHECK (result.status == 1 && text_has (result.err, "notifier/own_source: 'elsewhere' is"
                                               " not 'notifysrc', the source of the certificate"),
               "-n: exit %d: %s", result.status, result.err);
        cli_result_free (&result);
    }
    zstr_free (&path);
    zstr_free (&other);
done:
    notifier_process_destroy (&notifier, check_case_failed);
}

int
main (void)
{
    s_sandbox = sandbox_new ("security");
    TEST ("security: keys from `lilac keygen`, secured broker starts");
    if (!CHECK (s_sandbox, "sandbox"))
        return check_done ();
    cli_result_t result;
    cli_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, &result, "keygen", "--server", "-d",
             sandbox_dir (s_sandbox), NULL);
    CHECK (result.status == 0, "keygen --server: %s", result.err);
    cli_result_free (&result);
    snprintf (s_server_key, sizeof s_server_key, "%s", s_path ("broker"));
    CHECK (s_keygen ("tester", "admin", NULL) && s_keygen ("web1", "agent", NULL)
        && s_keygen ("nagios", "relay", NULL) && s_keygen ("reader1", "reader", NULL)
        && s_keygen ("stranger", "agent", NULL) && s_keygen ("late", "agent", NULL)
        && s_keygen ("web-gw", "gateway", NULL) && s_keygen ("oldops", "admin", NULL)
        && s_keygen ("notify", "admin", "notifysrc"), "keygen");
    struct stat info;
    CHECK (stat (s_path ("web1_secret"), &info) == 0 && (info.st_mode & 0777) == 0600,
           "secret file mode %o", (unsigned) (info.st_mode & 0777));
    cli_run (sandbox_dir (s_sandbox), CLI_DEADLINE_MS, &result, "keygen", "web1", "-d",
             sandbox_dir (s_sandbox), NULL);
    CHECK (result.status != 0 && text_has (result.err, "not overwritten"), "overwrite: %s", result.err);
    cli_result_free (&result);
    char clients [700];
    snprintf (clients, sizeof clients, "%s/clients", sandbox_dir (s_sandbox));
    CHECK (mkdir (clients, 0755) == 0, "mkdir clients");
    CHECK (s_allow ("tester") && s_allow ("web1") && s_allow ("nagios") && s_allow ("reader1")
        && s_allow ("web-gw") && s_allow_unnamed ("oldops") && s_allow ("notify"), "allow");
    char cert [700], error [512];
    snprintf (cert, sizeof cert, "%s_secret", s_path ("tester"));
    CHECK (bus_secure_client (cert, s_server_key, error, sizeof error) == 0, "%s", error);
    char broker_cert [700];
    snprintf (broker_cert, sizeof broker_cert, "%s_secret", s_path ("broker"));
    broker_process_config_t config = {
        .reminder_interval = "1m", .checkpoint = "500ms",
        .security_cert = broker_cert, .security_clients = clients
    };
    s_broker = broker_process_new (s_sandbox, &config);
    subscriber_t *sub = NULL;
    if (CHECK (s_broker && broker_process_start (s_broker) == 0, "secured broker did not start"))
        sub = subscriber_new (s_broker, NULL);
    if (CHECK (sub, "secured subscriber did not join")) {
        s_unknown_client ();
        s_spoofing (sub);
        s_relay (sub);
        s_roles ();
        s_keygen_name ();
        s_gateway (sub);
        s_acts_by (sub);
        s_web_gateway ();
        s_wrong_server_key ();
        s_plaintext ();
        s_sighup (sub);
        s_hostile (sub);
        s_agent (sub);
        s_agent_source ();
        s_notifier_own (sub);
        TEST ("security: broker exits 0 on SIGTERM");
        CHECK (broker_process_stop (s_broker) == 0, "broker did not exit cleanly");
    }
    subscriber_destroy (&sub);
    bool failed = check_failed > 0 || check_case_failed;
    s_loopback_rule ();
    failed = failed || check_failed > 0 || check_case_failed;
    broker_process_destroy (&s_broker, failed);
    bus_secure_reset ();
    sandbox_destroy (&s_sandbox, failed);
    return check_done ();
}
