/*  test_notify_exec.c — lilac-notify-exec, end to end: a real broker, the
    real notifier, real commands.

    One broker for every case; each case has its own sandbox, its own
    notifier (config, state_dir, log) and its own sources, so cases do not
    see each other's changes. The command is a probe script (written into
    the sandbox) that appends what it received to files in a directory:
      runs     "run SEQ EVENT PID" as it starts (every attempt)
      fds      "sockets=N;" — how many sockets it inherited
      out      the JSON it read on stdin, one line per delivery
      env      its LILAC_* variables, one line per delivery
      pids     the pid of the `sleep` it leaves hanging (modes hang, slow)
      slow     "slow SEQ PID" as it starts hanging in mode slow
    and behaves as the file `mode` says: ok (default), hang, fail (exit 1
    while the number in `fails` is above 0, counting it down), slow (hang
    only while the file `marker` exists).

    A fresh notifier ignores what the broker published before its first
    sync, so each case first raises warm-up alerts (a rule of their own, a
    command of their own) until one is delivered: from then on nothing is
    missed. Every wait polls a file or the log with a deadline.

    The test binary is a child subreaper: scripts and the `sleep`s they
    leave, whose parents were killed, are reparented to it and reaped by
    process_gone() (PID 1 here reaps nothing).
*/
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/agent_process.h"
#include "../harness/notifier_process.h"
#include "timespec.h"

#define PROGRAM            "lilac-notify-exec"
#define DELIVERY_MS        15000        //  a delivery (with retries) shows within this
#define WARMUP_ATTEMPTS    30           //  warm-up raises before giving up
#define WARMUP_WAIT_MS     500          //  per warm-up raise
#define COMMAND_MS         10000        //  `-n` and failing starts end within this
#define GONE_MS            3000         //  a killed process is gone within this

static const char *s_probe_script =
    "#!/bin/sh\n"
    "#   probe for test_notify_exec: one run of a notify command; $1 is its directory\n"
    "dir=\"$1\"\n"
    "json=$(cat)\n"
    "echo \"run $LILAC_SEQ $LILAC_EVENT $$\" >> \"$dir/runs\"\n"
    "sockets=$(ls -l /proc/$$/fd 2>/dev/null | grep -c 'socket:')\n"
    "echo \"sockets=$sockets;\" >> \"$dir/fds\"\n"
    "mode=ok\n"
    "[ -f \"$dir/mode\" ] && mode=$(cat \"$dir/mode\")\n"
    "case \"$mode\" in\n"
    "    hang)\n"
    "        sleep 60 & echo $! >> \"$dir/pids\"; wait; exit 0 ;;\n"
    "    fail)\n"
    "        left=$(cat \"$dir/fails\")\n"
    "        if [ \"$left\" -gt 0 ]; then echo $((left - 1)) > \"$dir/fails\"; exit 1; fi ;;\n"
    "    slow)\n"
    "        if [ -f \"$dir/marker\" ]; then\n"
    "            echo \"slow $LILAC_SEQ $$\" >> \"$dir/slow\"\n"
    "            sleep 60 & echo $! >> \"$dir/pids\"; wait; exit 0\n"
    "        fi ;;\n"
    "esac\n"
    "printf '%s\\n' \"$json\" >> \"$dir/out\"\n"
    "printf 'event=%s source=%s id=%s level=%s state=%s seq=%s rule=%s count=%s"
    " summary=%s flood=%s.\\n' \"$LILAC_EVENT\" \"$LILAC_SOURCE\" \"$LILAC_ID\""
    " \"$LILAC_LEVEL\" \"$LILAC_STATE\" \"$LILAC_SEQ\" \"$LILAC_RULE\""
    " \"$LILAC_NOTIFY_COUNT\" \"$LILAC_SUMMARY\" \"${LILAC_FLOOD:-}\" >> \"$dir/env\"\n"
    "exit 0\n";

typedef struct {
    const char *name;              //  the case's name, also its main source
    sandbox_t *sandbox;            //  its temp dir
    char dir [1024];               //  the probe's directory (the sandbox)
    char probe [1100];             //  the probe script
    char warm [1100];              //  the warm-up rule's directory
    char config [16384];           //  the notifier's config text
    notifier_process_t *notifier;  //  the notifier under test
} exec_case_t;

static const char *s_notifier_extra = "";    //  lines added to the notifier section

static bool
s_failed (void)
{
    return check_case_failed;
}

//  DIR/file, in a static ring of buffers (for a few at once).
static const char *
s_file (const char *dir, const char *file)
{
    static char ring [8][1200];
    static int next;
    char *buffer = ring [next++ % 8];
    snprintf (buffer, sizeof ring [0], "%s/%s", dir, file);
    return buffer;
}

static int
s_count (const char *dir, const char *file, const char *text)
{
    return file_count_text (s_file (dir, file), text);
}

//  Raises (source, id) with a summary and waits for its `raised` change;
//  returns its seq, or 0.
static uint64_t
s_raise (testbed_t *bed, const char *source, const char *id, const char *summary,
         const char *level, const char *const *labels)
{
    event_spec_t event = { .id = id, .raise = "now", .summary = summary, .level = level,
                           .labels = labels };
    batch_spec_t batch = { .source = source, .events = &event, .event_count = 1 };
    if (ingest_send (bed->push, &batch) != 0)
        return 0;
    alert_change_t change;
    if (expect_change (bed->sub, "raised", source, id, 5000, &change) != 0)
        return 0;
    uint64_t seq = change.seq;
    alert_change_free (&change);
    return seq;
}

//  Raises warm-up alerts until the warm-up rule's command has run once:
//  then the notifier is synced with the broker.
static bool
s_warm_up (testbed_t *bed, exec_case_t *test)
{
    char source [128], id [32];
    snprintf (source, sizeof source, "warmup-%s", test->name);
    for (int attempt = 0; attempt < WARMUP_ATTEMPTS; attempt++) {
        snprintf (id, sizeof id, "w%d", attempt);
        if (ingest_event (bed->push, source, id, "now") != 0)
            return false;
        if (file_wait_count (s_file (test->warm, "out"), source, 1, WARMUP_WAIT_MS) == 0)
            return true;
        if (!notifier_process_running (test->notifier))
            return false;
    }
    return false;
}

//  Makes the sandbox and the probe, writes the config (shell: the section's
//  command is shell text that also echoes "shell SEQ ID" into DIR/shell;
//  exec_keys: extra lines for section exec; rules: the case's rules after
//  the warm-up one),
//  starts the notifier and warms it up. false when any of it failed.
static bool
s_case_start (exec_case_t *test, testbed_t *bed, const char *name, bool shell,
              const char *exec_keys, const char *rules)
{
    memset (test, 0, sizeof *test);
    test->name = name;
    char sandbox_name [128];
    snprintf (sandbox_name, sizeof sandbox_name, "exec-%s", name);
    test->sandbox = sandbox_new (sandbox_name);
    if (!CHECK (test->sandbox, "sandbox"))
        return false;
    snprintf (test->dir, sizeof test->dir, "%s", sandbox_dir (test->sandbox));
    snprintf (test->probe, sizeof test->probe, "%s/probe.sh", test->dir);
    snprintf (test->warm, sizeof test->warm, "%s/warm", test->dir);
    if (!CHECK (mkdir (test->warm, 0755) == 0, "mkdir %s", test->warm)
    ||  !CHECK (file_write_text (test->probe, s_probe_script) == 0, "write the probe"))
        return false;
    char state_dir [1100], notifier_section [4096];
    snprintf (state_dir, sizeof state_dir, "%s/state", test->dir);
    notifier_process_broker_section (bed->broker, state_dir, notifier_section,
                                     sizeof notifier_section);
    //  The section's command is argv with "double quotes" (or shell text);
    //  the warm-up rule's own command overrides it.
    char command [4096];
    if (shell)
        snprintf (command, sizeof command, "echo \"shell $LILAC_SEQ $LILAC_ID\" >> %s/shell;"
                  " sh %s %s", test->dir, test->probe, test->dir);
    else
        snprintf (command, sizeof command, "sh \"%s\" \"%s\"", test->probe, test->dir);
    snprintf (test->config, sizeof test->config,
              "#   written by test_notify_exec\n"
              "%s%s"
              "exec\n"
              "    command = '%s'\n"
              "%s"
              "rule = warmup\n"
              "    source = \"warmup-%s\"\n"
              "    on = raised\n"
              "    command = 'sh %s %s'\n"
              "%s",
              notifier_section, s_notifier_extra, command, exec_keys ? exec_keys : "",
              name, test->probe, test->warm, rules ? rules : "");
    test->notifier = notifier_process_new (test->sandbox, PROGRAM, "notify", test->config);
    if (!CHECK (test->notifier, "notifier config")
    ||  !CHECK (notifier_process_start (test->notifier) == 0, "%s did not start", PROGRAM))
        return false;
    return CHECK (s_warm_up (bed, test), "the warm-up alert was never delivered");
}

//  Stops the notifier (SIGTERM: exit 0 expected) and cleans up.
static void
s_case_finish (exec_case_t *test)
{
    if (test->notifier && notifier_process_running (test->notifier))
        CHECK (notifier_process_stop (test->notifier) == 0, "%s did not exit 0 on SIGTERM", PROGRAM);
    notifier_process_destroy (&test->notifier, s_failed ());
    sandbox_destroy (&test->sandbox, s_failed ());
}

//  Every pid in DIR/pids is gone (reaping our orphans); how many were there
//  (0 when none was written yet).
static int
s_pids_gone (const char *dir, int *alive)
{
    int seen = pids_gone (s_file (dir, "pids"), GONE_MS, alive);
    return seen < 0 ? 0 : seen;
}

//  The children of pid right now, as listed by /proc ("" when none), or
//  NULL when the kernel does not say.
static char *
s_children (pid_t pid)
{
    char path [96];
    snprintf (path, sizeof path, "/proc/%d/task/%d/children", (int) pid, (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    static char text [1024];
    size_t size = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text [size] = 0;
    return text;
}

//  --- 1. the JSON and the environment, with shell = yes ------------------------------------

static void
s_json_and_env (testbed_t *bed)
{
    TEST ("exec: a raised alert gives one run with purppura-compatible JSON on stdin"
          " (ID, Source, Status, Subject, NotifyCount...) and lilac's fields, LILAC_* set,"
          " no inherited sockets; shell = yes");
    exec_case_t test;
    //  shell = yes: the command is shell text, its own $LILAC_SEQ expanded.
    if (!s_case_start (&test, bed, "json-src", true, "    shell = yes\n",
                       "rule = main\n    source = \"json-src\"\n    on = raised\n")) {
        s_case_finish (&test);
        return;
    }
    const char *labels [] = { "team", "ops", "env", "prod", NULL };
    uint64_t seq = s_raise (bed, "json-src", "disk", "disk full on /var", "urgent", labels);
    if (!CHECK (seq > 0, "no raised change")) {
        s_case_finish (&test);
        return;
    }
    char needle [256];
    snprintf (needle, sizeof needle, "\"seq\":%llu,", (unsigned long long) seq);
    if (CHECK (file_wait_count (s_file (test.dir, "out"), needle, 1, DELIVERY_MS) == 0,
               "no delivery of seq %llu", (unsigned long long) seq)) {
        char *out = NULL;
        {
            FILE *file = fopen (s_file (test.dir, "out"), "r");
            static char line [8192];
            while (file && fgets (line, sizeof line, file))
                if (strstr (line, needle))
                    out = line;
            if (file)
                fclose (file);
        }
        if (!out)
            CHECK (false, "no line with %s", needle);
        else {
            harness_note ("JSON: %.600s", out);
            size_t length = strlen (out);
            CHECK (out [0] == '{' && length >= 3 && out [length - 2] == '}' && out [length - 1] == '\n',
                   "not one JSON object on one line");
            const char *expected [] = {
                "\"ID\":\"disk\"", "\"Source\":\"json-src\"", "\"Status\":\"raised\"",
                "\"Subject\":\"disk full on /var\"", "\"Detail\":\"disk full on /var\"", "\"Raise\":\"\"",
                "\"NotifyCount\":\"1\"", "\"RaiseAt\":\"", "\"NotifiedAt\":\"",
                "\"event\":\"raised\"", "\"level\":\"urgent\"", "\"state\":\"raised\"",
                "\"labels\":{\"env\":\"prod\",\"team\":\"ops\"}", "\"acked_by\":null",
                "\"summary\":\"disk full on /var\"", "\"notify_count\":1", "\"rule\":\"main\"",
                "\"at\":", NULL
            };
            for (int index = 0; expected [index]; index++)
                if (!text_has (out, expected [index])) {
                    //  labels may come in either order
                    if (strncmp (expected [index], "\"labels\"", 8) == 0
                    &&  text_has (out, "\"labels\":{\"team\":\"ops\",\"env\":\"prod\"}"))
                        continue;
                    CHECK (false, "the JSON lacks %s", expected [index]);
                }
            CHECK (!text_has (out, "\"flood\""), "a flood field on a plain notification");
        }
    }
    char env_line [512];
    snprintf (env_line, sizeof env_line, "event=raised source=json-src id=disk level=urgent"
              " state=raised seq=%llu rule=main count=1 summary=disk full on /var flood=.",
              (unsigned long long) seq);
    CHECK (s_count (test.dir, "env", env_line) == 1, "env lines do not hold '%s'", env_line);
    snprintf (env_line, sizeof env_line, "shell %llu disk", (unsigned long long) seq);
    CHECK (s_count (test.dir, "shell", env_line) == 1, "the shell did not expand $LILAC_SEQ");
    CHECK (s_count (test.dir, "fds", "sockets=") >= 1
       &&  s_count (test.dir, "fds", "sockets=") == s_count (test.dir, "fds", "sockets=0;"),
           "a command inherited a socket");
    CHECK (s_count (test.dir, "out", "\"Source\":\"json-src\"") == 1,
           "%d deliveries for one raise", s_count (test.dir, "out", "\"Source\":\"json-src\""));
    s_case_finish (&test);
}

//  --- 2. a hung command ---------------------------------------------------------------------

static void
s_hung (testbed_t *bed)
{
    TEST ("exec: a hung command is killed after its timeout (1s) with its child `sleep`,"
          " reaped, retried; delivered once it stops hanging");
    exec_case_t test;
    if (!s_case_start (&test, bed, "hang-src", false, "    timeout = 1s\n",
                       "rule = main\n    source = \"hang-src\"\n    on = raised\n")) {
        s_case_finish (&test);
        return;
    }
    CHECK (file_write_text (s_file (test.dir, "mode"), "hang") == 0, "mode");
    int64_t raised_at = clock_now_ms ();
    uint64_t seq = s_raise (bed, "hang-src", "stuck", "stuck", NULL, NULL);
    CHECK (seq > 0, "no raised change");
    CHECK (file_wait_count (s_file (test.dir, "pids"), "\n", 1, DELIVERY_MS) == 0,
           "the command never started hanging");
    bool killed = notifier_process_wait_log (test.notifier, "timed out after 1s", 1, DELIVERY_MS) == 0;
    int64_t killed_after = clock_now_ms () - raised_at;
    CHECK (killed, "the log never says 'timed out after 1s'");
    CHECK (!killed || (killed_after >= 900 && killed_after < 8000),
           "killed %lld ms after the raise (timeout 1s)", (long long) killed_after);
    harness_note ("first hang killed %lld ms after the raise", (long long) killed_after);
    //  Every `sleep` of a killed run dies with its group.
    int alive;
    int hung = s_pids_gone (test.dir, &alive);
    CHECK (hung >= 1 && alive == 0, "%d of %d hung `sleep`s survived", alive, hung);
    //  It stops hanging: the next retry delivers.
    CHECK (file_write_text (s_file (test.dir, "mode"), "ok") == 0, "mode");
    char needle [64];
    snprintf (needle, sizeof needle, "\"seq\":%llu,", (unsigned long long) seq);
    CHECK (file_wait_count (s_file (test.dir, "out"), needle, 1, DELIVERY_MS) == 0,
           "not delivered after the command stopped hanging");
    hung = s_pids_gone (test.dir, &alive);
    CHECK (alive == 0, "%d of %d hung `sleep`s survived", alive, hung);
    snprintf (needle, sizeof needle, "run %llu ", (unsigned long long) seq);
    int runs = s_count (test.dir, "runs", needle);
    CHECK (runs >= 2, "%d runs (a hang, then a retry expected)", runs);
    harness_note ("%d runs, %d hung `sleep`s, all gone", runs, hung);
    //  No zombie is left under the notifier: it has no child at all now
    //  (polled: a command of another change may be running for a moment).
    const char *children = s_children (notifier_process_pid (test.notifier));
    int64_t deadline = clock_now_ms () + GONE_MS;
    for (int count = 0; count < 1000 && children && children [0]; count++) {
        if (clock_now_ms () >= deadline)
            break;
        harness_pause_ms (20);
        children = s_children (notifier_process_pid (test.notifier));
    }
    if (children)
        CHECK (children [0] == 0, "the notifier still has children: %s", children);
    else
        harness_note ("/proc/PID/task/PID/children unavailable; zombie check skipped");
    s_case_finish (&test);
}

//  --- 3. a failing command ------------------------------------------------------------------

static void
s_failing (testbed_t *bed)
{
    TEST ("exec: a command that exits 1 twice, then 0, is retried with back-off:"
          " 3 runs, delivered once");
    exec_case_t test;
    if (!s_case_start (&test, bed, "fail-src", false, NULL, "rule = main\n    source = \"fail-src\"\n    on = raised\n")) {
        s_case_finish (&test);
        return;
    }
    CHECK (file_write_text (s_file (test.dir, "fails"), "2") == 0
       &&  file_write_text (s_file (test.dir, "mode"), "fail") == 0, "mode");
    uint64_t seq = s_raise (bed, "fail-src", "flaky", "flaky", NULL, NULL);
    CHECK (seq > 0, "no raised change");
    int64_t raised_at = clock_now_ms ();
    char needle [64];
    snprintf (needle, sizeof needle, "\"seq\":%llu,", (unsigned long long) seq);
    CHECK (file_wait_count (s_file (test.dir, "out"), needle, 1, DELIVERY_MS) == 0,
           "never delivered");
    int64_t took = clock_now_ms () - raised_at;
    snprintf (needle, sizeof needle, "run %llu ", (unsigned long long) seq);
    int runs = s_count (test.dir, "runs", needle);
    CHECK (runs == 3, "%d runs (expected 3)", runs);
    //  Back-off 1 s then 2 s, ±20 %: at least 0.8 + 1.6 s.
    CHECK (took >= 2300, "delivered %lld ms after the raise: no back-off?", (long long) took);
    CHECK (notifier_process_count_log (test.notifier, "exit status 1") >= 2,
           "the log does not say 'exit status 1' twice");
    CHECK (s_count (test.dir, "out", "\"Source\":\"fail-src\"") == 1, "delivered %d times",
           s_count (test.dir, "out", "\"Source\":\"fail-src\""));
    harness_note ("3 runs, delivered %lld ms after the raise", (long long) took);
    s_case_finish (&test);
}

//  --- the broker restarted under a running notifier -----------------------------------

static void
s_broker_restart (testbed_t *bed)
{
    TEST ("exec: the broker restarted under a running notifier: changes published at once"
          " after the restart, before its SUB could reconnect, are all delivered");
    exec_case_t test;
    if (!s_case_start (&test, bed, "restart-src", false, NULL,
                       "rule = main\n    source = \"restart-src\"\n    on = raised\n")) {
        s_case_finish (&test);
        return;
    }
    CHECK (s_raise (bed, "restart-src", "before", "before", NULL, NULL) > 0, "raise before");
    CHECK (file_wait_count (s_file (test.dir, "out"), "\"ID\":\"before\"", 1, DELIVERY_MS) == 0,
           "the change before the restart was not delivered");
    CHECK (broker_process_stop (bed->broker) == 0, "broker SIGTERM exit 0");
    CHECK (broker_process_start (bed->broker) == 0, "broker restart");
    zsock_t *push = ingest_open (bed->broker);           //  no waiting for anyone to join
    for (int index = 0; push && index < 3; index++) {
        char id [16];
        snprintf (id, sizeof id, "after-%d", index);
        CHECK (ingest_event (push, "restart-src", id, "now") == 0, "send %s", id);
    }
    zsock_destroy (&push);
    for (int index = 0; index < 3; index++) {
        char needle [64];
        snprintf (needle, sizeof needle, "\"ID\":\"after-%d\"", index);
        CHECK (file_wait_count (s_file (test.dir, "out"), needle, 1, DELIVERY_MS) == 0,
               "after-%d, raised right after the restart, was never delivered", index);
    }
    CHECK (s_count (test.dir, "out", "\"ID\":\"before\"") == 1, "the change before the"
           " restart was delivered %d times", s_count (test.dir, "out", "\"ID\":\"before\""));
    CHECK (testbed_rejoin (bed) == 0, "rejoin the restarted broker");
    s_case_finish (&test);
}

//  --- 4. flood control ----------------------------------------------------------------------

static void
s_flood (testbed_t *bed)
{
    TEST ("exec: limit 2 per 1h, 5 raises: 2 notifications and 1 run saying further"
          " alerts are held back");
    exec_case_t test;
    if (!s_case_start (&test, bed, "flood-src", false, NULL,
                       "rule = main\n    source = \"flood-src\"\n    on = raised\n"
                       "    limit = \"2 per 1h\"\n"
                       "rule = end\n    source = \"flood-end\"\n    on = raised\n")) {
        s_case_finish (&test);
        return;
    }
    for (int index = 0; index < 5; index++) {
        char id [16];
        snprintf (id, sizeof id, "f%d", index);
        CHECK (s_raise (bed, "flood-src", id, id, NULL, NULL) > 0, "raise %s", id);
    }
    //  Changes are handled in order: once this one is delivered, all five were decided.
    CHECK (s_raise (bed, "flood-end", "sentinel", "sentinel", NULL, NULL) > 0, "raise sentinel");
    CHECK (file_wait_count (s_file (test.dir, "out"), "\"Source\":\"flood-end\"", 1,
                            DELIVERY_MS) == 0, "the sentinel was never delivered");
    int main_runs = s_count (test.dir, "out", "\"rule\":\"main\"");
    int held = s_count (test.dir, "out", "\"flood\":\"held\"");
    CHECK (main_runs == 3, "%d runs for the limited rule (expected 2 + 1 held back)", main_runs);
    CHECK (held == 1, "%d 'held' runs", held);
    CHECK (s_count (test.dir, "out", "\"ID\":\"f0\"") == 1
       &&  s_count (test.dir, "out", "\"ID\":\"f1\"") == 1, "f0 and f1 not notified once each");
    CHECK (s_count (test.dir, "out", "\"Subject\":\"lilac: further alerts of rule main are held back") == 1,
           "no Subject saying 'held back'");
    CHECK (s_count (test.dir, "env", "flood=held.") == 1, "LILAC_FLOOD=held not set");
    CHECK (s_count (test.dir, "out", "\"ID\":\"f3\"") == 0
       &&  s_count (test.dir, "out", "\"ID\":\"f4\"") == 0, "held-back alerts were notified");
    s_case_finish (&test);
}

//  --- 5. at least once across a crash -----------------------------------------------------

static void
s_crash (testbed_t *bed)
{
    TEST ("exec: the notifier SIGKILLed while its command runs, restarted: the change is"
          " delivered, and one raised while it was down too");
    exec_case_t test;
    if (!s_case_start (&test, bed, "crash-src", false, NULL, "rule = main\n    source = \"crash-src\"\n    on = raised\n")) {
        s_case_finish (&test);
        return;
    }
    CHECK (file_write_text (s_file (test.dir, "marker"), "slow") == 0
       &&  file_write_text (s_file (test.dir, "mode"), "slow") == 0, "mode");
    uint64_t first = s_raise (bed, "crash-src", "k1", "k1", NULL, NULL);
    CHECK (first > 0, "no raised change");
    char needle [64];
    snprintf (needle, sizeof needle, "slow %llu ", (unsigned long long) first);
    if (!CHECK (file_wait_count (s_file (test.dir, "slow"), needle, 1, DELIVERY_MS) == 0,
                "the command never started")) {
        s_case_finish (&test);
        return;
    }
    //  The command runs: kill the notifier, then the command (its own group).
    CHECK (notifier_process_kill (test.notifier) == 0, "SIGKILL the notifier");
    FILE *file = fopen (s_file (test.dir, "slow"), "r");
    int script = 0;
    if (file) {
        char line [128];
        unsigned long long seq;
        int pid;
        while (fgets (line, sizeof line, file))
            if (sscanf (line, "slow %llu %d", &seq, &pid) == 2 && seq == first)
                script = pid;
        fclose (file);
    }
    if (CHECK (script > 1, "no pid for the slow command")) {
        kill (-script, SIGKILL);
        int64_t deadline = clock_now_ms () + GONE_MS;
        while (!process_gone (script) && clock_now_ms () < deadline)
            harness_pause_ms (20);
        CHECK (process_gone (script), "the slow command %d survived", script);
    }
    int alive;
    s_pids_gone (test.dir, &alive);
    snprintf (needle, sizeof needle, "\"seq\":%llu,", (unsigned long long) first);
    CHECK (s_count (test.dir, "out", needle) == 0, "delivered before the restart");
    //  While the notifier is down, another change.
    uint64_t second = s_raise (bed, "crash-src", "k2", "k2", NULL, NULL);
    CHECK (second > first, "no second raised change");
    remove (s_file (test.dir, "marker"));
    snprintf (needle, sizeof needle, "run %llu ", (unsigned long long) first);
    int runs_before = s_count (test.dir, "runs", needle);
    CHECK (notifier_process_start (test.notifier) == 0, "restart");
    char second_needle [64];
    snprintf (needle, sizeof needle, "\"seq\":%llu,", (unsigned long long) first);
    snprintf (second_needle, sizeof second_needle, "\"seq\":%llu,", (unsigned long long) second);
    CHECK (file_wait_count (s_file (test.dir, "out"), needle, 1, DELIVERY_MS) == 0,
           "seq %llu (in flight at the kill) not delivered after the restart",
           (unsigned long long) first);
    CHECK (file_wait_count (s_file (test.dir, "out"), second_needle, 1, DELIVERY_MS) == 0,
           "seq %llu (raised while down) not delivered after the restart",
           (unsigned long long) second);
    snprintf (needle, sizeof needle, "run %llu ", (unsigned long long) first);
    int runs_after = s_count (test.dir, "runs", needle) - runs_before;
    CHECK (runs_after >= 1, "%d runs of seq %llu after the restart", runs_after,
           (unsigned long long) first);
    harness_note ("seq %llu: %d run(s) before the kill, %d after the restart",
                  (unsigned long long) first, runs_before, runs_after);
    s_case_finish (&test);
}

//  --- 6. a large JSON, and a command that does not read it -------------------------------

//  Sends {source, alerts: [{id, raise: now, summary: id, detail}]}; 0 or -1.
static int
s_send_detail (testbed_t *bed, const char *source, const char *id, const char *detail)
{
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_packer *packer = &writer.packer;
    msgpack_pack_map (packer, 3);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key_string (packer, "source", source);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 1);
    msgpack_pack_map (packer, 4);
    wire_pack_key_string (packer, "id", id);
    wire_pack_key_string (packer, "raise", "now");
    wire_pack_key_string (packer, "summary", id);
    wire_pack_key_string (packer, "detail", detail);
    int rc = ingest_raw (bed->push, writer.buffer.data, writer.buffer.size);
    wire_writer_free (&writer);
    return rc;
}

static void
s_large (testbed_t *bed)
{
    TEST ("exec: a 60 KB detail (90 KB of JSON, more than a pipe holds) reaches the command whole;"
          " a command that exits without reading stdin is delivered, the notifier lives");
    exec_case_t test;
    if (!s_case_start (&test, bed, "big-src", false, NULL,
                       "rule = main\n    source = \"big-src\"\n    on = raised\n"
                       "rule = quick\n    source = \"true-src\"\n    on = raised\n"
                       "    command = /bin/true\n")) {
        s_case_finish (&test);
        return;
    }
    size_t size = 60000;
    char *detail = malloc (size + 1);
    if (!CHECK (detail, "malloc")) {
        s_case_finish (&test);
        return;
    }
    //  Every other character a double quote: JSON doubles it, so the line
    //  is about 90 KB, more than the 64 KB a pipe holds.
    for (size_t index = 0; index < size; index++)
        detail [index] = index % 2 ? '"' : (char) ('a' + index % 26);
    detail [size] = 0;
    CHECK (s_send_detail (bed, "true-src", "big", detail) == 0, "send to true-src");
    CHECK (s_send_detail (bed, "big-src", "big", detail) == 0, "send to big-src");
    CHECK (file_wait_count (s_file (test.dir, "out"), "\"ID\":\"big\"", 1, DELIVERY_MS) == 0,
           "the large change never reached the probe");
    //  The probe's line holds the detail whole.
    char *needle = malloc (2 * size + 32);
    if (needle) {
        size_t used = (size_t) sprintf (needle, "\"Detail\":\"");
        for (size_t index = 0; index < size; index++) {
            if (detail [index] == '"')
                needle [used++] = '\\';
            needle [used++] = detail [index];
        }
        sprintf (needle + used, "\"");
        CHECK (s_count (test.dir, "out", needle) == 1, "the detail arrived cut or changed");
        free (needle);
    }
    CHECK (notifier_process_count_log (test.notifier, "true-src/big: rule quick: delivered") == 1,
           "/bin/true (not reading stdin) was not delivered once");
    CHECK (notifier_process_running (test.notifier), "the notifier died");
    free (detail);
    s_case_finish (&test);
}

//  --- 7. giving up ---------------------------------------------------------------------------

static void
s_give_up (testbed_t *bed)
{
    TEST ("exec: a command that cannot run is retried for retry_for (2s), then given up"
          " with an error naming seq, rule and why; the next change is delivered");
    exec_case_t test;
    //  The command exists at start (start and -n refuse one that does not)
    //  and is removed once the notifier runs.
    char gone [64], rules [1024];
    snprintf (gone, sizeof gone, "/tmp/lilac-gone-%d.sh", (int) getpid ());
    snprintf (rules, sizeof rules,
              "rule = gone\n    source = \"gone-src\"\n    on = raised\n"
              "    command = \"%s probe\"\n"
              "rule = main\n    source = \"next-src\"\n    on = raised\n", gone);
    CHECK (file_write_text (gone, "#!/bin/sh\nexit 0\n") == 0 && chmod (gone, 0755) == 0,
           "write %s", gone);
    bool started = s_case_start (&test, bed, "gone-src", false, "    retry_for = 2s\n", rules);
    CHECK (remove (gone) == 0, "remove %s", gone);
    if (!started) {
        s_case_finish (&test);
        return;
    }
    int64_t raised_at = clock_now_ms ();
    uint64_t seq = s_raise (bed, "gone-src", "x", "x", NULL, NULL);
    uint64_t next = s_raise (bed, "next-src", "y", "y", NULL, NULL);
    CHECK (seq > 0 && next > seq, "no raised changes");
    char needle [256];
    snprintf (needle, sizeof needle, "giving up on seq %llu for rule gone after 2s: cannot run"
              " %s: No such file or directory", (unsigned long long) seq, gone);
    CHECK (notifier_process_wait_log (test.notifier, needle, 1, DELIVERY_MS) == 0,
           "the log does not say '%s'", needle);
    int64_t gave_up = clock_now_ms () - raised_at;
    CHECK (gave_up >= 1900, "gave up %lld ms after the raise (retry_for 2s)", (long long) gave_up);
    snprintf (needle, sizeof needle, "\"seq\":%llu,", (unsigned long long) next);
    CHECK (file_wait_count (s_file (test.dir, "out"), needle, 1, DELIVERY_MS) == 0,
           "the next change was not delivered after giving up");
    harness_note ("gave up %lld ms after the raise; %d attempts logged", (long long) gave_up,
                  notifier_process_count_log (test.notifier, "for rule gone: cannot run"));
    s_case_finish (&test);
}

//  --- 9. SIGHUP and SIGTERM ---------------------------------------------------------------

//  The line (1-based) of text on which needle starts, or 0.
//  --- 7b. a hung destination holds back only itself --------------------------------------------

static void
s_lanes (testbed_t *bed)
{
    TEST ("exec: a command that hangs (rule slow, its own command) holds back only its own"
          " destination: a change raised after it is delivered to the other command at once");
    exec_case_t test;
    if (!s_case_start (&test, bed, "lane-src", false, "    timeout = 20s\n",
                       "rule = slow\n    source = \"lane-slow\"\n    on = raised\n"
                       "    command = \"/bin/sleep 15\"\n"
                       "rule = main\n    source = \"lane-src\"\n    on = raised\n")) {
        s_case_finish (&test);
        return;
    }
    uint64_t slow = s_raise (bed, "lane-slow", "x", "x", NULL, NULL);
    int64_t raised_at = clock_now_ms ();
    uint64_t fast = s_raise (bed, "lane-src", "y", "y", NULL, NULL);
    CHECK (slow > 0 && fast > slow, "no raised changes");
    char needle [64];
    snprintf (needle, sizeof needle, "\"seq\":%llu,", (unsigned long long) fast);
    CHECK (file_wait_count (s_file (test.dir, "out"), needle, 1, 5000) == 0,
           "seq %llu was not delivered while the slow command ran", (unsigned long long) fast);
    int64_t took = clock_now_ms () - raised_at;
    CHECK (notifier_process_count_log (test.notifier, "timed out") == 0
       &&  notifier_process_count_log (test.notifier, "rule slow: delivered") == 0,
           "the slow command ended before the other was delivered");
    harness_note ("delivered %lld ms after the raise, the slow command still running",
                  (long long) took);
    s_case_finish (&test);
}

static int
s_line_of (const char *text, const char *needle)
{
    const char *at = strstr (text, needle);
    if (!at)
        return 0;
    int line = 1;
    for (const char *scan = text; scan < at; scan++)
        line += *scan == '\n';
    return line;
}

static void
s_sighup (testbed_t *bed)
{
    TEST ("exec: SIGHUP with a bad file logs FILE:LINE and keeps the running rules;"
          " with a good one logs \"SIGHUP: reloaded FILE: 2 rules\" and the new rules act");
    exec_case_t test;
    if (!s_case_start (&test, bed, "hup-src", false, NULL,
                       "rule = main\n    source = \"hup-src\"\n    on = raised\n")) {
        s_case_finish (&test);
        return;
    }
    const char *path = notifier_process_config_path (test.notifier);
    pid_t pid = notifier_process_pid (test.notifier);
    //  A bad file: an unknown key in the main rule.
    char bad [17000], expected [1300];
    snprintf (bad, sizeof bad, "%s    colour = mauve\n", test.config);
    snprintf (expected, sizeof expected, "SIGHUP: %s:%d: unknown key 'colour'", path,
              s_line_of (bad, "    colour = mauve"));
    CHECK (notifier_process_write_config (test.notifier, bad) == 0, "write the bad config");
    CHECK (kill (pid, SIGHUP) == 0, "SIGHUP");
    CHECK (notifier_process_wait_log (test.notifier, expected, 1, DELIVERY_MS) == 0,
           "no '%s' in the log", expected);
    CHECK (notifier_process_count_log (test.notifier, "keeping the running rules") == 1,
           "the log does not say the running rules are kept");
    CHECK (notifier_process_running (test.notifier), "the notifier died of SIGHUP");
    CHECK (s_raise (bed, "hup-src", "kept", "kept", NULL, NULL) > 0, "raise kept");
    CHECK (file_wait_count (s_file (test.dir, "out"), "\"ID\":\"kept\"", 1, DELIVERY_MS) == 0,
           "the running rules were not kept after a bad SIGHUP");
    //  A good file: rule main now follows hup-new instead of hup-src.
    char good [17000], *rule = NULL;
    snprintf (good, sizeof good, "%s", test.config);
    rule = strstr (good, "source = \"hup-src\"");
    if (CHECK (rule, "the main rule is not in the config"))
        memcpy (rule, "source = \"hup-new\"", strlen ("source = \"hup-new\""));
    snprintf (expected, sizeof expected, "SIGHUP: reloaded %s: 2 rules", path);
    CHECK (notifier_process_write_config (test.notifier, good) == 0, "write the good config");
    CHECK (kill (pid, SIGHUP) == 0, "SIGHUP");
    CHECK (notifier_process_wait_log (test.notifier, expected, 1, DELIVERY_MS) == 0,
           "no '%s' in the log", expected);
    //  In seq order: once new-2 is delivered, old-1 was dealt with (dropped).
    CHECK (s_raise (bed, "hup-src", "old-1", "old-1", NULL, NULL) > 0, "raise old-1");
    CHECK (s_raise (bed, "hup-new", "new-2", "new-2", NULL, NULL) > 0, "raise new-2");
    CHECK (file_wait_count (s_file (test.dir, "out"), "\"ID\":\"new-2\"", 1, DELIVERY_MS) == 0,
           "the reloaded rule did not act on hup-new");
    CHECK (s_count (test.dir, "out", "\"ID\":\"old-1\"") == 0,
           "the old rule still acted after the reload");
    CHECK (notifier_process_running (test.notifier), "the notifier died");
    s_case_finish (&test);
}

static void
s_sigterm_at_once (void)
{
    TEST ("exec: SIGTERM of a notifier whose broker does not answer exits 0 at once"
          " (not after its control call's 5 s, nor the SUB's 1 s linger)");
    sandbox_t *sandbox = sandbox_new ("exec-term");
    if (!CHECK (sandbox, "sandbox"))
        return;
    int events = port_free (), control = port_free ();
    char config [2048];
    snprintf (config, sizeof config,
              "notifier\n"
              "    events = tcp://127.0.0.1:%d\n"
              "    control = tcp://127.0.0.1:%d\n"
              "    state_dir = \"%s/state\"\n"
              "exec\n"
              "    command = /bin/true\n"
              "rule = all\n"
              "    source = \"*\"\n", events, control, sandbox_dir (sandbox));
    notifier_process_t *notifier = notifier_process_new (sandbox, PROGRAM, "notify", config);
    if (CHECK (notifier && notifier_process_start (notifier) == 0, "start")) {
        //  Its first turn asks the broker where the stream stands (a
        //  request in flight with a 5 s deadline, which no loop waits on):
        //  let it go out, observed by the clock alone.
        int64_t until = clock_now_ms () + 300;
        while (clock_now_ms () < until)
            harness_pause_ms (20);
        int64_t started = clock_now_ms ();
        int status = notifier_process_stop (notifier);
        int64_t took = clock_now_ms () - started;
        CHECK (status == 0, "exit status %d", status);
        CHECK (took < 800, "SIGTERM took %lld ms", (long long) took);
        harness_note ("SIGTERM to exit: %lld ms", (long long) took);
    }
    notifier_process_destroy (&notifier, s_failed ());
    sandbox_destroy (&sandbox, s_failed ());
}

//  --- 10. broker_silence: watching the watcher ---------------------------------------------

//  Line of DIR/out holding needle, as a fresh string, or NULL.
static char *
s_line_with (const char *dir, const char *needle)
{
    char *text = file_read_all (s_file (dir, "out"));
    char *at = text ? strstr (text, needle) : NULL;
    char *line = NULL;
    if (at) {
        while (at > text && at [-1] != '\n')
            at--;
        size_t length = strcspn (at, "\n");
        line = strndup (at, length);
    }
    free (text);
    return line;
}

//  One of each per delivery (the words are also in Subject and Detail).
#define UNREACHABLE  "\"summary\":\"lilac broker unreachable since"
#define RECOVERED    "\"summary\":\"lilac broker reachable again"

static void
s_broker_silence (testbed_t *bed)
{
    TEST ("exec: broker_silence 2s: the broker killed → every distinct command (a rule out"
          " of hours and over its limit included) runs once with a raised lilac/broker"
          " \"unreachable since\"; the broker back → a cleared \"reachable again\"");
    //  A third destination whose rule is out of hours now and limited.
    time_t now = time (NULL);
    struct tm local;
    localtime_r (&now, &local);
    char night [1100];
    exec_case_t test;
    sandbox_t *other = sandbox_new ("exec-silence-night");
    if (!CHECK (other, "sandbox"))
        return;
    snprintf (night, sizeof night, "%s", sandbox_dir (other));
    s_notifier_extra = "    broker_silence = 2s\n";
    bool ok = s_case_start (&test, bed, "silence-src", false, NULL, "");
    s_notifier_extra = "";
    if (!ok) {
        s_case_finish (&test);
        sandbox_destroy (&other, s_failed ());
        return;
    }
    //  The rules: main and again share the section's command (one
    //  destination), warm-up and night have their own (night's writes
    //  into the other sandbox). Loaded with SIGHUP.
    char config [20000];
    snprintf (config, sizeof config, "%.16384s"
              "rule = main\n    source = \"silence-src\"\n    on = raised\n"
              "rule = again\n    source = \"silence-src\"\n    level = urgent\n"
              "rule = night\n    source = \"nobody\"\n    hours = %d\n"
              "    limit = \"1 per 1h\"\n    command = 'sh %s %s'\n",
              test.config, (local.tm_hour + 2) % 24, test.probe, night);
    char reloaded [1200];
    snprintf (reloaded, sizeof reloaded, "SIGHUP: reloaded %s: 4 rules",
              notifier_process_config_path (test.notifier));
    CHECK (notifier_process_write_config (test.notifier, config) == 0, "write the config");
    CHECK (kill (notifier_process_pid (test.notifier), SIGHUP) == 0, "SIGHUP");
    CHECK (notifier_process_wait_log (test.notifier, reloaded, 1, DELIVERY_MS) == 0,
           "the config with the night rule was not reloaded");
    const char *dirs [3] = { test.dir, test.warm, night };
    const char *names [3] = { "main", "warm-up", "night" };
    int64_t killed_at = clock_now_ms ();
    CHECK (broker_process_kill (bed->broker) == 0, "kill -9 the broker");
    for (int index = 0; index < 3; index++)
        CHECK (file_wait_count (s_file (dirs [index], "out"), UNREACHABLE,
                                1, 15000) == 0,
               "the %s command never heard that the broker is unreachable", names [index]);
    harness_note ("unreachable told %lld ms after the kill",
                  (long long) (clock_now_ms () - killed_at));
    char *line = s_line_with (test.dir, "lilac broker unreachable since");
    CHECK (line && text_has (line, "\"ID\":\"broker\"") && text_has (line, "\"Source\":\"lilac\"")
           && text_has (line, "\"Status\":\"raised\"") && text_has (line, "\"event\":\"raised\"")
           && text_has (line, "\"rule\":\"broker_silence\"") && text_has (line, "\"seq\":0"),
           "the JSON is not a raised lilac/broker: %s", line ? line : "(none)");
    harness_note ("raised: %s", line ? line : "(none)");
    free (line);
    CHECK (broker_process_start (bed->broker) == 0, "restart the broker");
    for (int index = 0; index < 3; index++)
        CHECK (file_wait_count (s_file (dirs [index], "out"), RECOVERED,
                                1, 20000) == 0,
               "the %s command never heard that the broker is back", names [index]);
    line = s_line_with (test.dir, "lilac broker reachable again");
    CHECK (line && text_has (line, "\"Status\":\"cleared\"")
           && text_has (line, "\"event\":\"cleared\"") && strstr (line, "unreachable since"),
           "the JSON is not a cleared lilac/broker: %s", line ? line : "(none)");
    free (line);
    for (int index = 0; index < 3; index++)
        harness_note ("%s: %d unreachable, %d reachable again", names [index],
                      s_count (dirs [index], "out", UNREACHABLE),
                      s_count (dirs [index], "out", RECOVERED));
    //  main and again share the section's command: one destination.
    CHECK (s_count (test.dir, "out", UNREACHABLE)
           == s_count (test.dir, "out", RECOVERED),
           "the main command was not told as often of the recovery as of the trouble");
    for (int index = 0; index < 3; index++)
        CHECK (s_count (dirs [index], "out", UNREACHABLE) == 1
           &&  s_count (dirs [index], "out", RECOVERED) == 1,
               "the %s command was told more than once", names [index]);
    CHECK (testbed_rejoin (bed) == 0, "rejoin the restarted broker");
    s_case_finish (&test);
    sandbox_destroy (&other, s_failed ());
}

#define DEGRADED     "\"summary\":\"lilac broker degraded since"
#define UNDEGRADED   "\"summary\":\"lilac broker no longer degraded"

//  A broker whose database is on a small tmpfs, and the notifier beside it.
static bool
s_broker_degraded_case (testbed_t *bed, const char *filler)
{
    exec_case_t test;           //  its one rule's command (warm) is the one destination
    s_notifier_extra = "    broker_silence = 3s\n";
    bool ok = s_case_start (&test, bed, "degraded-src", false, NULL, "");
    s_notifier_extra = "";
    if (!ok) {
        s_case_finish (&test);
        return check_case_failed;
    }
    CHECK (disk_fill (filler) == 0, "cannot fill the broker's disk");
    for (int event = 0; event < 100 && broker_process_stat (bed->broker, "commit_failures") <= 0;
         event++) {
        char id [32];
        snprintf (id, sizeof id, "fill-%d", event);
        CHECK (ingest_event (bed->push, "degraded-src", id, "now") == 0, "send");
        harness_pause_ms (50);
    }
    CHECK (broker_process_stat (bed->broker, "commit_failures") > 0, "commits never failed");
    CHECK (file_wait_count (s_file (test.warm, "out"), DEGRADED, 1, 15000) == 0,
           "the command never heard that the broker is degraded");
    char *line = s_line_with (test.warm, "lilac broker degraded since");
    CHECK (line && text_has (line, "\"Status\":\"raised\"") && strstr (line, "disk is full"),
           "not a raised lilac/broker naming the full disk: %s", line ? line : "(none)");
    free (line);
    CHECK (unlink (filler) == 0, "free the disk");
    CHECK (file_wait_count (s_file (test.warm, "out"), UNDEGRADED, 1, 15000) == 0,
           "the command never heard that the broker recovered");
    CHECK (s_count (test.warm, "out", DEGRADED) == 1 && s_count (test.warm, "out", UNDEGRADED) == 1,
           "told %d times of the trouble and %d of the recovery",
           s_count (test.warm, "out", DEGRADED), s_count (test.warm, "out", UNDEGRADED));
    s_case_finish (&test);
    return check_case_failed;
}

static void
s_broker_degraded (void)
{
    TEST ("exec: broker_silence 3s: the broker's disk fills up → one raised \"degraded since"
          " ...: ... disk is full\"; space back → one cleared \"no longer degraded\"");
    broker_process_config_t config = { .reminder_interval = "1h", .grace = "2s",
                                       .checkpoint = "500ms" };
    CHECK (testbed_on_tmpfs ("exec-degraded", "8m", config, s_broker_degraded_case) == 0,
           "sandbox, tmpfs or testbed");
}

//  --- 8. -n and bad configs -------------------------------------------------------------------

static void
s_check_configs (void)
{
    TEST ("exec -n: the shipped configs/notify-exec.conf prints its rules and"
          " \"configuration OK\"");
    const char *shipped = getenv ("LILAC_NOTIFY_EXEC_CONF");
    if (!shipped || !*shipped)
        shipped = "configs/notify-exec.conf";
    if (!CHECK (access (shipped, R_OK) == 0, "cannot read %s (run from the repository root"
                " or set LILAC_NOTIFY_EXEC_CONF)", shipped))
        return;
    sandbox_t *sandbox = sandbox_new ("exec-n");
    if (!CHECK (sandbox, "sandbox"))
        return;
    cli_result_t result;
    notifier_command_run (PROGRAM, sandbox_dir (sandbox), COMMAND_MS, &result,
                          "-c", shipped, "-n", NULL);
    CHECK (result.status == 0, "exit %d: %s", result.status, result.err);
    CHECK (strstr (result.out, "configuration OK"), "stdout '%s'", result.out);
    CHECK (strstr (result.out, "urgent-production") && strstr (result.out, "escalation"),
           "the rules are not printed: '%s'", result.out);
    cli_result_free (&result);

    TEST ("exec: a bad config names FILE:LINE (an unknown key with -n; a bad command"
          " quote and a bad timeout at start), exit 1");
    const char *header =
        "notifier\n"                                      //  1
        "    events = tcp://127.0.0.1:1\n"                //  2
        "    control = tcp://127.0.0.1:2\n"               //  3
        "    state_dir = \"%s/state\"\n"                  //  4
        "exec\n";                                         //  5
    struct {
        const char *lines;             //  from line 6 on
        int line;                      //  the line the error must name
        const char *why;               //  and a word of the reason
        bool check_only;               //  run with -n
    } bad [] = {
        { "    command = /bin/true\n    colour = mauve\n", 7, "colour", true },
        { "    command = 'sh \"/no/closing/quote'\n", 6, "quote", false },
        { "    command = /bin/true\n    timeout = banana\n", 7, "timeout", false },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        char text [2048], path [1100], file [64];
        snprintf (file, sizeof file, "bad%zu.conf", index);
        snprintf (path, sizeof path, "%s/%s", sandbox_dir (sandbox), file);
        int used = snprintf (text, sizeof text, header, sandbox_dir (sandbox));
        snprintf (text + used, sizeof text - (size_t) used, "%s%s", bad [index].lines,
                  "rule = all\n    source = \"*\"\n");
        CHECK (file_write_text (path, text) == 0, "write %s", path);
        if (bad [index].check_only)
            notifier_command_run (PROGRAM, sandbox_dir (sandbox), COMMAND_MS, &result,
                                  "-c", path, "-n", NULL);
        else
            notifier_command_run (PROGRAM, sandbox_dir (sandbox), COMMAND_MS, &result,
                                  "-c", path, NULL);
        char where [1200];
        snprintf (where, sizeof where, "%s:%d:", path, bad [index].line);
        CHECK (result.status == 1, "%s: exit %d (expected 1)", file, result.status);
        CHECK (strstr (result.err, where) && strstr (result.err, bad [index].why),
               "%s: stderr '%s' does not name %s (%s)", file, result.err, where, bad [index].why);
        harness_note ("%s: %s", file, result.err);
        cli_result_free (&result);
    }

    TEST ("exec -n: every error of a file in one run, each with FILE:LINE: an endpoint"
          " without a transport, a command that does not exist, one that is not executable,"
          " a rule with no command anywhere, a bad timeout, a bad level, an unknown key");
    const char *many =
        "notifier\n"                                      //  1
        "    events = 127.0.0.1:42111\n"                  //  2
        "    control = tcp://127.0.0.1:2\n"               //  3
        "    state_dir = \"%s/state\"\n"                  //  4
        "rule = all\n"                                    //  5
        "    source = \"*\"\n"                             //  6
        "    level = severe\n"                            //  7
        "rule = nothing\n"                                //  8
        "    source = \"x\"\n"                             //  9
        "rule = gone\n"                                   //  10
        "    command = \"/nonexistent/notify --now\"\n"   //  11
        "rule = plain\n"                                  //  12
        "    command = %s/plain.txt\n"                    //  13
        "    colour = mauve\n"                            //  14
        "rule = nowhere\n"                                //  15
        "    command = no-such-command-lilac\n"           //  16
        "exec\n"                                          //  17
        "    timeout = banana\n";                         //  18
    char text [2048], path [1100];
    snprintf (path, sizeof path, "%s/many.conf", sandbox_dir (sandbox));
    snprintf (text, sizeof text, many, sandbox_dir (sandbox), sandbox_dir (sandbox));
    CHECK (file_write_text (path, text) == 0, "write %s", path);
    char plain [1100];                  //  a file without x bits (file_write_text: 0644)
    snprintf (plain, sizeof plain, "%s/plain.txt", sandbox_dir (sandbox));
    CHECK (file_write_text (plain, "not a program\n") == 0 && chmod (plain, 0644) == 0,
           "write %s", plain);
    struct { int line; const char *why; } expected [] = {
        { 2, "'127.0.0.1:42111' has no transport" },
        { 7, "severe" },
        { 5, "rule all has no command" },
        { 8, "rule nothing has no command" },
        { 11, "/nonexistent/notify: No such file or directory" },
        { 13, "plain.txt: not an executable file" },
        { 14, "unknown key 'colour'" },
        { 16, "'no-such-command-lilac' is not an executable file in $PATH" },
        { 18, "banana" },
    };
    for (int pass = 0; pass < 2; pass++) {
        //  -n, then a start: the same errors, all of them.
        if (pass == 0)
            notifier_command_run (PROGRAM, sandbox_dir (sandbox), COMMAND_MS, &result,
                                  "-c", path, "-n", NULL);
        else
            notifier_command_run (PROGRAM, sandbox_dir (sandbox), COMMAND_MS, &result,
                                  "-c", path, NULL);
        CHECK (result.status == 1, "%s: exit %d (expected 1)", pass ? "start" : "-n",
               result.status);
        for (size_t index = 0; index < sizeof expected / sizeof expected [0]; index++) {
            char where [1200];
            snprintf (where, sizeof where, "%s:%d: ", path, expected [index].line);
            const char *at = result.err ? strstr (result.err, where) : NULL;
            const char *end = at ? strchr (at, '\n') : NULL;
            const char *why = at ? strstr (at, expected [index].why) : NULL;
            CHECK (at && why && (!end || why < end), "%s: no '%s... %s' in stderr:\n%s",
                   pass ? "start" : "-n", where, expected [index].why, result.err);
        }
        CHECK (result.err && strstr (result.err, "9 errors"), "the count is not 9");
        CHECK (!strstr (result.out, "configuration OK"), "-n said OK");
        if (pass == 0)
            harness_note ("-n on many.conf:\n%s", result.err);
        cli_result_free (&result);
    }
    sandbox_destroy (&sandbox, s_failed ());
}

int
main (void)
{
    int64_t started = clock_now_ms ();
    TEST ("exec tests: testbed starts, this binary is a subreaper");
    CHECK (harness_become_subreaper () == 0, "prctl");
    testbed_t *bed = testbed_new ("notify-exec", NULL);
    if (!CHECK (bed, "broker did not start"))
        return check_done ();
    s_json_and_env (bed);
    s_hung (bed);
    s_failing (bed);
    s_flood (bed);
    s_crash (bed);
    s_large (bed);
    s_give_up (bed);
    s_lanes (bed);
    s_broker_restart (bed);
    s_sighup (bed);
    s_broker_silence (bed);
    s_broker_degraded ();
    s_sigterm_at_once ();
    s_check_configs ();
    TEST ("exec tests: broker exits 0 on SIGTERM");
    CHECK (testbed_destroy (&bed, check_failed > 0 || check_case_failed) == 0,
           "broker did not exit cleanly");
    harness_note ("test_notify_exec took %lld ms", (long long) (clock_now_ms () - started));
    return check_done ();
}
