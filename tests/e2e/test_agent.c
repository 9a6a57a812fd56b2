/*  test_agent.c — lilac-agent end to end: heartbeat, checks, reload, -n,
    refused sources. (The broker outage cases are in test_agent_outage.c.)

    One broker (testbed: reminder_interval 1s, grace 2s). Each case runs its
    own agent (its own sandbox, source and ipc:// endpoint) spawned with
    `lilac-agent -c FILE -v`, ready once the broker holds its heartbeat.
    Everything is synchronized on what is observed: rows at the broker
    (`get`, polled with a deadline), changes on the bus, lines in the
    agent's log; never on a bare sleep.

    This binary is a child subreaper, so the `sleep` a hung check leaves
    behind is reparented to it when the agent kills the check's process
    group, and can be reaped here: "gone" then means kill(pid, 0) fails with
    ESRCH, even in a container whose PID 1 reaps nothing.
*/
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/agent_process.h"
#include "timespec.h"

#define ROW_DEADLINE_MS   8000     //  a check result reaches the broker within this
#define CLI_TIMEOUT_MS    10000    //  one `lilac send` / `lilac-agent -n`
#define REMOVED_SUMMARY   "check removed from the configuration"

static bool
s_failed (void)
{
    return check_case_failed;
}

//  A sandbox and an agent for source, with checks. NULL agent on failure.
static agent_process_t *
s_agent_new (sandbox_t **sandbox, testbed_t *bed, const char *name, const char *source,
             const agent_check_spec_t *checks, size_t check_count)
{
    *sandbox = sandbox_new (name);
    if (!*sandbox)
        return NULL;
    agent_process_config_t config = { .source = source };
    agent_process_t *agent = agent_process_new (*sandbox, bed->broker, &config, checks, check_count);
    if (agent && agent_process_start (agent) != 0)
        agent_process_destroy (&agent, true);
    return agent;
}

//  SIGTERM must end the agent with status 0; then everything is freed.
static void
s_agent_finish (sandbox_t **sandbox, agent_process_t **agent)
{
    if (*agent && agent_process_running (*agent))
        CHECK (agent_process_stop (*agent) == 0, "agent did not exit 0 on SIGTERM");
    agent_process_destroy (agent, s_failed ());
    sandbox_destroy (sandbox, s_failed ());
}

static char *
s_path (sandbox_t *sandbox, const char *file)
{
    char *path = sandbox_path (sandbox, file);
    if (!path)
        abort ();
    return path;
}

//  --- 1. heartbeat ----------------------------------------------------------------

static void
s_heartbeat (testbed_t *bed)
{
    const char *source = "web1";
    TEST ("agent heartbeat: pending and refreshed; after SIGKILL raised about `raise` (+2s) later");
    sandbox_t *sandbox;
    agent_process_t *agent = s_agent_new (&sandbox, bed, "agent-heartbeat", source, NULL, 0);
    if (!CHECK (agent, "agent did not start (no heartbeat at the broker)")) {
        sandbox_destroy (&sandbox, true);
        return;
    }
    //  Several refreshes (interval 500ms): updated_at moves, state stays pending.
    int64_t last_updated = 0;
    int refreshes = 0;
    int64_t deadline = clock_now_ms () + 5000;
    for (int count = 0; count < 1000 && refreshes < 4 && clock_now_ms () < deadline; count++) {
        alert_t row;
        if (control_get_alert (bed->broker, source, "heartbeat", &row) == 0) {
            CHECK (row.state == ALERT_PENDING, "heartbeat is %s while the agent runs",
                   alert_state_name (row.state));
            CHECK (row.level == LEVEL_NORMAL || row.level == LEVEL_URGENT || row.level == LEVEL_LOW,
                   "level");
            if (row.updated_at > last_updated) {
                if (last_updated)
                    refreshes++;
                last_updated = row.updated_at;
                CHECK (row.raise_at >= row.updated_at + 1900 && row.raise_at <= row.updated_at + 2500,
                       "raise_at is %lld ms after the update (raise = +2s)",
                       (long long) (row.raise_at - row.updated_at));
            }
            alert_clear_fields (&row);
        }
        harness_pause_ms (100);
    }
    CHECK (refreshes >= 4, "saw %d heartbeat refreshes in 5 s (interval 500ms)", refreshes);
    //  The broker's last update before the kill: the raise is at least 2 s after it.
    alert_t row;
    if (control_get_alert (bed->broker, source, "heartbeat", &row) == 0) {
        last_updated = row.updated_at;
        alert_clear_fields (&row);
    }
    int64_t killed_at = clock_now_ms ();
    CHECK (agent_process_kill (agent) == 0, "kill -9");
    alert_change_t raised;
    if (CHECK (expect_change (bed->sub, "raised", source, "heartbeat", 3500, &raised) == 0,
               "no `raised` for %s/heartbeat within raise + 1.5 s of the kill", source)) {
        harness_note ("heartbeat raised %lld ms after the kill, %lld ms after the last update",
                      (long long) (raised.at - killed_at), (long long) (raised.at - last_updated));
        CHECK (raised.at >= last_updated + 2000 - 50, "raised only %lld ms after the last heartbeat",
               (long long) (raised.at - last_updated));
        CHECK (raised.at <= killed_at + 3500, "raised %lld ms after the kill",
               (long long) (raised.at - killed_at));
        alert_change_free (&raised);
    }
    agent_process_destroy (&agent, s_failed ());
    sandbox_destroy (&sandbox, s_failed ());
}

//  --- 2. checks ----------------------------------------------------------------------

//  Switches the probe's exit code (or "hang"), then waits for the row.
static bool
s_probe_step (testbed_t *bed, const char *source, const char *code_path, const char *code,
              alert_state_t state, int level, const char *summary_prefix, alert_t *row)
{
    if (!CHECK (file_write_text (code_path, code) == 0, "write %s", code_path))
        return false;
    int64_t started = clock_now_ms ();
    bool ok = wait_alert (bed->broker, source, "probe", state, level, summary_prefix,
                          ROW_DEADLINE_MS, row) == 0;
    CHECK (ok, "code %s: probe row is %s/%s '%s', expected %s/%s '%s...' within %d ms", code,
           row->source ? alert_state_name (row->state) : "(none)",
           row->source ? alert_level_name (row->level) : "-",
           row->summary ? row->summary : "", alert_state_name (state),
           level < 0 ? "any" : alert_level_name ((alert_level_t) level),
           summary_prefix ? summary_prefix : "", ROW_DEADLINE_MS);
    if (ok)
        harness_note ("code %s: %s/%s '%s' after %lld ms", code, alert_state_name (row->state),
                      alert_level_name (row->level), row->summary ? row->summary : "",
                      (long long) (clock_now_ms () - started));
    return ok;
}

static void
s_checks (testbed_t *bed)
{
    const char *source = "checks-host";
    TEST ("agent checks: exit 0 clears, 1 raises normal, 2 urgent, 3 UNKNOWN, a hang times out"
          " and is killed with its children");
    sandbox_t *sandbox = sandbox_new ("agent-checks");
    if (!CHECK (sandbox, "sandbox"))
        return;
    char *code_path = s_path (sandbox, "probe.code");
    char *pid_path = s_path (sandbox, "probe.pids");
    char *script_path = s_path (sandbox, "probe.sh");
    char script [4096];
    snprintf (script, sizeof script,
              "code=$(cat '%s')\n"
              "if [ \"$code\" = hang ]; then sleep 60 & echo $! >> '%s'; wait; exit 0; fi\n"
              "echo \"probe says $code\"\n"
              "echo \"second line\"\n"
              "echo \"third line\"\n"
              "exit $code\n", code_path, pid_path);
    char command [2048];
    snprintf (command, sizeof command, "sh %s", script_path);
    agent_check_spec_t checks [] = {
        { .name = "probe", .command = command, .interval = "1s", .timeout = "1s",
          .warning_level = "normal", .critical_level = "urgent" },
        { .name = "broken", .command = "/nonexistent/lilac-probe", .interval = "1s",
          .timeout = "2s" },
    };
    agent_process_t *agent = NULL;
    if (CHECK (file_write_text (script_path, script) == 0 && file_write_text (code_path, "0") == 0,
               "write the probe")) {
        agent_process_config_t config = { .source = source };
        agent = agent_process_new (sandbox, bed->broker, &config, checks, 2);
        if (agent && agent_process_start (agent) != 0)
            agent_process_destroy (&agent, true);
    }
    if (!CHECK (agent, "agent did not start")) {
        sandbox_destroy (&sandbox, true);
        free (code_path); free (pid_path); free (script_path);
        return;
    }
    alert_t row;
    //  0: cleared, and the first line is the summary.
    if (s_probe_step (bed, source, code_path, "0", ALERT_CLEARED, -1, "probe says 0", &row))
        CHECK (streq (row.summary, "probe says 0"), "summary '%s'", row.summary);
    alert_clear_fields (&row);
    //  1: raised at warning_level; the rest of the output is the detail.
    if (s_probe_step (bed, source, code_path, "1", ALERT_RAISED, LEVEL_NORMAL, "probe says 1", &row)) {
        CHECK (streq (row.summary, "probe says 1"), "summary '%s'", row.summary);
        CHECK (row.detail && strncmp (row.detail, "second line\nthird line", 22) == 0,
               "detail '%s' (expected the second and third lines)", row.detail ? row.detail : "(none)");
    }
    alert_clear_fields (&row);
    alert_change_t change;
    if (CHECK (expect_change (bed->sub, "raised", source, "probe", 5000, &change) == 0,
               "no `raised` change on the bus for exit 1")) {
        CHECK (change.alert.level == LEVEL_NORMAL, "raised at level %s",
               alert_level_name (change.alert.level));
        alert_change_free (&change);
    }
    //  2: still raised, now urgent (an `updated` change).
    if (s_probe_step (bed, source, code_path, "2", ALERT_RAISED, LEVEL_URGENT, "probe says 2", &row))
        CHECK (streq (row.summary, "probe says 2"), "summary '%s'", row.summary);
    alert_clear_fields (&row);
    if (CHECK (expect_change (bed->sub, "updated", source, "probe", 5000, &change) == 0,
               "no `updated` change on the bus for exit 2")) {
        CHECK (change.alert.level == LEVEL_URGENT, "updated to level %s",
               alert_level_name (change.alert.level));
        alert_change_free (&change);
    }
    //  3: unknown, at critical_level, and the summary says so.
    if (s_probe_step (bed, source, code_path, "3", ALERT_RAISED, LEVEL_URGENT, "UNKNOWN", &row))
        CHECK (strstr (row.summary, "probe says 3") != NULL,
               "summary '%s' lost the check's own words", row.summary);
    alert_clear_fields (&row);
    //  A hang: killed after its 1 s timeout.
    if (s_probe_step (bed, source, code_path, "hang", ALERT_RAISED, LEVEL_URGENT,
                      "check timed out after", &row))
        CHECK (row.level == LEVEL_URGENT, "level %s", alert_level_name (row.level));
    alert_clear_fields (&row);
    //  Back to 0: once cleared, every hung run has ended (a check never runs
    //  twice at once), so each `sleep` it left must be gone.
    s_probe_step (bed, source, code_path, "0", ALERT_CLEARED, -1, "probe says 0", &row);
    alert_clear_fields (&row);
    int alive = 0;
    int hung = pids_gone (pid_path, 3000, &alive);
    CHECK (hung >= 0, "no pid file: the hang never ran");
    CHECK (hung >= 1 && alive == 0, "%d of %d hung children survived their check's timeout",
           alive, hung);
    harness_note ("%d hung run(s), every child gone", hung);
    //  A command that cannot run raises at critical_level, saying so.
    CHECK (wait_alert (bed->broker, source, "broken", ALERT_RAISED, LEVEL_URGENT, "check ",
                       ROW_DEADLINE_MS, &row) == 0,
           "broken check: %s '%s'", row.source ? alert_state_name (row.state) : "(no row)",
           row.summary ? row.summary : "");
    if (row.summary)
        harness_note ("broken check summary: '%s'", row.summary);
    CHECK (row.summary && (strncmp (row.summary, "check could not run", 19) == 0
                       ||  strncmp (row.summary, "check failed with exit code 127", 31) == 0),
           "broken check summary '%s'", row.summary ? row.summary : "");
    alert_clear_fields (&row);
    s_agent_finish (&sandbox, &agent);
    free (code_path); free (pid_path); free (script_path);
}

//  --- 5. SIGHUP ------------------------------------------------------------------------

//  A check whose output changes on every run only after its first line
//  keeps its alert still at the broker (refreshed, no `updated` change); one
//  whose first line changes is updated each run.
static void
s_quiet_detail (testbed_t *bed)
{
    const char *source = "quiet-host";
    TEST ("agent checks: output changing only after the first line makes no `updated` noise;"
          " a changing first line still updates");
    agent_check_spec_t checks [] = {
        { .name = "steady", .command = "echo disk is fine; date +%N; exit 1", .interval = "1s",
          .timeout = "2s" },
        { .name = "moving", .command = "date +%N; exit 1", .interval = "1s", .timeout = "2s" },
    };
    sandbox_t *sandbox;
    agent_process_t *agent = s_agent_new (&sandbox, bed, "agent-quiet", source, checks, 2);
    if (!CHECK (agent, "agent did not start")) {
        sandbox_destroy (&sandbox, true);
        return;
    }
    alert_t first, moving, row;
    memset (&first, 0, sizeof first);
    memset (&moving, 0, sizeof moving);
    if (CHECK (wait_alert (bed->broker, source, "steady", ALERT_RAISED, LEVEL_NORMAL, "disk is fine",
                           ROW_DEADLINE_MS, &first) == 0, "steady not raised")
    &&  CHECK (control_get_alert (bed->broker, source, "moving", &moving) == 0, "moving")) {
        //  Three more runs of each: steady's updated_at moves, its seq does not
        int64_t deadline = clock_now_ms () + 8000;
        bool refreshed = false;
        while (!refreshed && clock_now_ms () < deadline) {
            harness_pause_ms (100);
            if (control_get_alert (bed->broker, source, "steady", &row) == 0) {
                refreshed = row.updated_at >= first.updated_at + 2500;
                if (refreshed)
                    CHECK (row.detail && first.detail && streq (row.detail, first.detail),
                           "steady's detail changed: '%s' -> '%s'",
                           first.detail ? first.detail : "", row.detail ? row.detail : "");
                alert_clear_fields (&row);
            }
        }
        CHECK (refreshed, "steady was not refreshed three times in 8 s");
        //  Its history: raised, then reminders (reminder_interval 1s), no update
        cli_result_t history;
        cli_run (sandbox_dir (sandbox), 5000, &history, "-C", broker_process_control (bed->broker),
                 "history", source, "steady", NULL);
        CHECK (history.status == 0 && strstr (history.out, " raised ")
               && !strstr (history.out, " updated "), "steady's history:\n%s", history.out);
        cli_result_free (&history);
        cli_run (sandbox_dir (sandbox), 5000, &history, "-C", broker_process_control (bed->broker),
                 "history", source, "moving", NULL);
        CHECK (history.status == 0 && strstr (history.out, " updated "),
               "moving's history:\n%s", history.out);
        cli_result_free (&history);
    }
    alert_clear_fields (&first);
    alert_clear_fields (&moving);
    s_agent_finish (&sandbox, &agent);
}

static void
s_reload (testbed_t *bed)
{
    const char *source = "reload-host";
    TEST ("agent SIGHUP: a removed check's alert clears, an added one appears;"
          " a bad config is logged with FILE:7: and the old checks keep running");
    sandbox_t *sandbox = sandbox_new ("agent-reload");
    if (!CHECK (sandbox, "sandbox"))
        return;
    char *bravo_path = s_path (sandbox, "bravo.txt");
    char bravo_command [1200];
    snprintf (bravo_command, sizeof bravo_command, "cat %s; exit 1", bravo_path);
    agent_check_spec_t before [] = {
        { .name = "alpha", .command = "echo alpha is broken; exit 2", .interval = "1s", .timeout = "2s" },
    };
    agent_check_spec_t after [] = {
        { .name = "bravo", .command = bravo_command, .interval = "1s", .timeout = "2s" },
    };
    agent_process_config_t config = { .source = source };
    agent_process_t *agent = agent_process_new (sandbox, bed->broker, &config, before, 1);
    if (agent && agent_process_start (agent) != 0)
        agent_process_destroy (&agent, true);
    if (!CHECK (agent, "agent did not start")) {
        sandbox_destroy (&sandbox, true);
        free (bravo_path);
        return;
    }
    alert_t row;
    CHECK (wait_alert (bed->broker, source, "alpha", ALERT_RAISED, LEVEL_URGENT, "alpha is broken",
                       ROW_DEADLINE_MS, &row) == 0, "alpha not raised");
    alert_clear_fields (&row);
    //  Reload: alpha removed, bravo added.
    CHECK (file_write_text (bravo_path, "bravo v1\n") == 0, "write bravo");
    CHECK (agent_process_write_checks (agent, after, 1) == 0, "rewrite the config");
    CHECK (agent_process_hup (agent) == 0, "SIGHUP");
    if (CHECK (wait_alert (bed->broker, source, "alpha", ALERT_CLEARED, -1, REMOVED_SUMMARY,
                           ROW_DEADLINE_MS, &row) == 0,
               "alpha is %s '%s' after the reload (expected cleared, '" REMOVED_SUMMARY "')",
               row.source ? alert_state_name (row.state) : "(none)", row.summary ? row.summary : ""))
        CHECK (streq (row.summary, REMOVED_SUMMARY), "summary '%s'", row.summary);
    alert_clear_fields (&row);
    CHECK (wait_alert (bed->broker, source, "bravo", ALERT_RAISED, LEVEL_NORMAL, "bravo v1",
                       ROW_DEADLINE_MS, &row) == 0, "bravo did not appear after the reload");
    alert_clear_fields (&row);
    //  A bad config: the same file with an unknown key on line 7.
    const char *config_path = agent_process_config_path (agent);
    char *good = NULL;
    {
        FILE *file = fopen (config_path, "r");
        if (file) {
            size_t size = 0;
            good = calloc (1, 65536);
            if (good)
                size = fread (good, 1, 65535, file);
            (void) size;
            fclose (file);
        }
    }
    if (!CHECK (good, "read the config back")) {
        s_agent_finish (&sandbox, &agent);
        free (bravo_path);
        return;
    }
    char bad [70000];
    size_t used = 0;
    const char *line = good;
    for (int number = 1; *line && used < sizeof bad - 200; number++) {
        if (number == 7)
            used += (size_t) snprintf (bad + used, sizeof bad - used, "    colour = mauve\n");
        const char *end = strchr (line, '\n');
        size_t length = end ? (size_t) (end - line) + 1 : strlen (line);
        memcpy (bad + used, line, length);
        used += length;
        line += length;
    }
    bad [used] = 0;
    free (good);
    char where [1200];
    snprintf (where, sizeof where, "%s:7:", config_path);
    int errors_before = file_count_text (agent_process_log_path (agent), where);
    CHECK (file_write_text (config_path, bad) == 0, "write the bad config");
    CHECK (file_write_text (bravo_path, "bravo v2\n") == 0, "write bravo");
    CHECK (agent_process_hup (agent) == 0, "SIGHUP");
    CHECK (agent_process_wait_log (agent, where, 5000) == 0 && errors_before == 0,
           "the agent log does not name %s", where);
    //  Still running the old checks: bravo reports its new output.
    CHECK (wait_alert (bed->broker, source, "bravo", ALERT_RAISED, LEVEL_NORMAL, "bravo v2",
                       ROW_DEADLINE_MS, &row) == 0,
           "bravo not rerun after the bad reload (summary '%s')", row.summary ? row.summary : "");
    alert_clear_fields (&row);
    CHECK (agent_process_running (agent), "the agent died on a bad config at SIGHUP");
    //  And alpha stays cleared (the bad file has no alpha either; nothing was applied).
    if (control_get_alert (bed->broker, source, "alpha", &row) == 0)
        CHECK (row.state == ALERT_CLEARED, "alpha is %s", alert_state_name (row.state));
    alert_clear_fields (&row);
    //  -n on the bad file: exit 1, FILE:7: on stderr.
    cli_result_t result;
    agent_command_run (sandbox_dir (sandbox), CLI_TIMEOUT_MS, &result,
                       "-c", config_path, "-n", NULL);
    CHECK (result.status == 1, "lilac-agent -n on a bad config exited %d (expected 1)", result.status);
    CHECK (strstr (result.err, where) != NULL, "stderr '%s' does not name %s", result.err, where);
    harness_note ("-n on the bad config: %s", result.err);
    cli_result_free (&result);
    s_agent_finish (&sandbox, &agent);
    free (bravo_path);
}

//  --- 6. -n on the shipped config ---------------------------------------------------

static void
s_check_shipped (void)
{
    TEST ("lilac-agent -c configs/agent.conf -n: exit 0, \"configuration OK\"");
    const char *shipped = getenv ("LILAC_AGENT_CONF");
    if (!shipped || !*shipped)
        shipped = "configs/agent.conf";
    if (!CHECK (access (shipped, R_OK) == 0, "cannot read %s (run from the repository root"
                " or set LILAC_AGENT_CONF)", shipped))
        return;
    sandbox_t *sandbox = sandbox_new ("agent-n");
    if (!CHECK (sandbox, "sandbox"))
        return;
    cli_result_t result;
    agent_command_run (sandbox_dir (sandbox), CLI_TIMEOUT_MS, &result, "-c", shipped, "-n", NULL);
    CHECK (result.status == 0, "exit %d: %s", result.status, result.err);
    CHECK (strstr (result.out, "configuration OK") != NULL, "stdout '%s'", result.out);
    cli_result_free (&result);
    sandbox_destroy (&sandbox, s_failed ());
}

//  --- 6b. -n reports every problem a start would meet, with file:line -------------

static void
s_check_everything (void)
{
    TEST ("lilac-agent -n and a start report every error and warning in one run, with file:line");
    sandbox_t *sandbox = sandbox_new ("agent-n-all");
    if (!CHECK (sandbox, "sandbox"))
        return;
    char *path = sandbox_path (sandbox, "bad.conf"), *plain = sandbox_path (sandbox, "plain");
    char text [2048];
    snprintf (text, sizeof text,
              "agent\n"                                         //  1
              "    broker = 127.0.0.1:42111\n"                  //  2  error: no transport
              "    events = tcp://127.0.0.1\n"                  //  3  error: no port
              "    max_alerts = lots\n"                         //  4  error
              "    state_dir = \"%s/agent\"\n"                 //  5  error: under a file
              "    cert = \"%s\"\n"                             //  6  error: not a certificate
              "    server_key = \"%s\"\n"                       //  7
              "heartbeat\n"                                     //  8
              "    interval = 4m\n"                             //  9  warning: raise +5m
              "    raise = +5m\n"                               //  10
              "check = one\n"                                   //  11
              "    command = \"/nonexistent/plugin -w 1\"\n"    //  12 warning
              "check = two\n"                                   //  13
              "    command = \"read a b < /proc/loadavg\"\n"    //  14 fine: a builtin
              "    warning_level = meh\n",                      //  15 error
              plain, plain, plain);
    CHECK (file_write_text (plain, "not a certificate\n") == 0 && file_write_text (path, text) == 0,
           "write the config");
    const int errors [] = { 2, 3, 4, 5, 6, 15 }, warnings [] = { 9, 12 };
    const char *modes [] = { "-n", "-v" };
    for (int mode = 0; mode < 2; mode++) {
        cli_result_t result;
        agent_command_run (sandbox_dir (sandbox), CLI_TIMEOUT_MS, &result, modes [mode], "-c",
                           path, NULL);
        CHECK (result.status == 1, "%s: exit %d (expected 1)", modes [mode], result.status);
        char where [1200];
        for (size_t index = 0; index < sizeof errors / sizeof errors [0]; index++) {
            snprintf (where, sizeof where, "error: %s:%d: ", path, errors [index]);
            CHECK (strstr (result.err, where), "%s: no '%s' in: %s", modes [mode], where, result.err);
        }
        for (size_t index = 0; index < sizeof warnings / sizeof warnings [0]; index++) {
            snprintf (where, sizeof where, "warn: %s:%d: ", path, warnings [index]);
            CHECK (strstr (result.err, where), "%s: no '%s' in: %s", modes [mode], where, result.err);
        }
        snprintf (where, sizeof where, "%s:14:", path);     //  not ":14:": a time holds it
        CHECK (strstr (result.err, where) == NULL, "a builtin was judged: %s", result.err);
        CHECK (strstr (result.err, "6 errors in the configuration"), "%s: no count: %s",
               modes [mode], result.err);
        cli_result_free (&result);
    }
    //  Warnings alone do not stop it
    snprintf (text, sizeof text, "agent\n    state_dir = \"%s/state\"\n"
              "heartbeat\n    interval = 4m\n    raise = +5m\n", sandbox_dir (sandbox));
    CHECK (file_write_text (path, text) == 0, "write the config");
    cli_result_t result;
    agent_command_run (sandbox_dir (sandbox), CLI_TIMEOUT_MS, &result, "-n", "-c", path, NULL);
    CHECK (result.status == 0 && strstr (result.out, "configuration OK, with 1 warning"),
           "warnings only: exit %d, out '%s', err '%s'", result.status, result.out, result.err);
    cli_result_free (&result);
    free (path);
    free (plain);
    sandbox_destroy (&sandbox, s_failed ());
}

//  --- 7. a local sender claiming another source ---------------------------------------

static void
s_other_source (testbed_t *bed)
{
    const char *source = "relay-host";
    TEST ("agent local endpoint: a sender claiming another source is refused;"
          " its next good event goes through");
    sandbox_t *sandbox;
    agent_process_t *agent = s_agent_new (&sandbox, bed, "agent-source", source, NULL, 0);
    if (!CHECK (agent, "agent did not start")) {
        sandbox_destroy (&sandbox, true);
        return;
    }
    const char *listen = agent_process_listen (agent);
    cli_result_t result;
    cli_run (sandbox_dir (sandbox), CLI_TIMEOUT_MS, &result, "send", "-b", listen,
             "-o", "other", "-i", "x", "-r", "now", NULL);
    CHECK (result.status == 0, "lilac send -o other: exit %d: %s", result.status, result.err);
    cli_result_free (&result);
    CHECK (agent_process_wait_log (agent, "'other'", 5000) == 0,
           "the agent did not log the refused batch claiming 'other'");
    cli_run (sandbox_dir (sandbox), CLI_TIMEOUT_MS, &result, "send", "-b", listen,
             "-o", source, "-i", "y", "-r", "now", NULL);
    CHECK (result.status == 0, "lilac send -o %s: exit %d: %s", source, result.status, result.err);
    cli_result_free (&result);
    alert_t row;
    CHECK (wait_alert (bed->broker, source, "y", ALERT_RAISED, -1, NULL, ROW_DEADLINE_MS, &row) == 0,
           "the good event y did not arrive");
    alert_clear_fields (&row);
    CHECK (control_get_alert (bed->broker, "other", "x", &row) != 0, "x arrived under 'other'");
    alert_clear_fields (&row);
    CHECK (control_get_alert (bed->broker, source, "x", &row) != 0, "x arrived under '%s'", source);
    alert_clear_fields (&row);
    s_agent_finish (&sandbox, &agent);
}

int
main (void)
{
    int64_t started = clock_now_ms ();
    TEST ("agent tests: testbed starts, this binary is a subreaper");
    CHECK (harness_become_subreaper () == 0, "prctl");
    testbed_t *bed = testbed_new ("agent", NULL);
    if (!CHECK (bed, "broker did not start"))
        return check_done ();
    s_heartbeat (bed);
    s_checks (bed);
    s_quiet_detail (bed);
    s_reload (bed);
    s_check_shipped ();
    s_check_everything ();
    s_other_source (bed);
    TEST ("agent tests: broker exits 0 on SIGTERM");
    CHECK (testbed_destroy (&bed, check_failed > 0 || check_case_failed) == 0,
           "broker did not exit cleanly");
    harness_note ("test_agent took %lld ms", (long long) (clock_now_ms () - started));
    return check_done ();
}
