/*  test_cli.c — the `lilac` command against a real broker.

    The endpoints reach the command through its environment
    (LILAC_BROKER, LILAC_CONTROL, LILAC_EVENTS), except where a case tests
    the options. Effects are checked through the protocol (the bus, `get`),
    not only through the command's own output. Exit codes per README: 0 ok,
    1 an unreachable broker (never a hang), 2 wrong usage.
*/
#include <sys/stat.h>
#include "version.h"
#include "../check.h"
#include "../harness/harness.h"
#include "timespec.h"

#define CLI_TIMEOUT_MS 10000       //  generous: the broker may run under ASan

static testbed_t *s_bed;
static char s_host [256];          //  the default source: the host name
static char s_dead_endpoint [64];  //  a loopback port nobody listens on

static const char *
s_dir (void)
{
    return sandbox_dir (s_bed->sandbox);
}

static void
s_show (const char *what, cli_result_t *result)
{
    harness_note ("%s: status %d after %lld ms", what, result->status, (long long) result->elapsed_ms);
    harness_note ("  stdout: %.600s", result->out);
    harness_note ("  stderr: %.600s", result->err);
}

//  Runs lilac with args; returns its status; shows its output if the
//  status is not `expected`.
#define RUN(result, expected, ...) \
    s_run_expect (&(result), (expected), __VA_ARGS__, NULL)

static int
s_run_expect (cli_result_t *result, int expected, const char *arg, ...)
{
    const char *args [32];
    int count = 0;
    va_list list;
    va_start (list, arg);
    for (const char *next = arg; next && count < 31; next = va_arg (list, const char *))
        args [count++] = next;
    va_end (list);
    while (count < 31)
        args [count++] = NULL;
    cli_run (s_dir (), CLI_TIMEOUT_MS, result, args [0], args [1], args [2], args [3], args [4],
             args [5], args [6], args [7], args [8], args [9], args [10], args [11], args [12],
             args [13], args [14], args [15], NULL);
    if (result->status != expected) {
        char what [256];
        snprintf (what, sizeof what, "lilac %s %s %s (expected status %d)", arg,
                  args [1]? args [1]: "", args [2]? args [2]: "", expected);
        s_show (what, result);
    }
    return result->status;
}

static void
s_send_and_list (void)
{
    cli_result_t result;
    TEST ("cli: lilac send -i x -r now -s hi, then lilac list --json shows it");
    CHECK (RUN (result, 0, "send", "-i", "x", "-r", "now", "-s", "hi") == 0, "send failed");
    cli_result_free (&result);
    alert_change_t change;
    if (CHECK (expect_change (s_bed->sub, "raised", s_host, "x", 5000, &change) == 0,
               "no raised %s/x on the bus", s_host)) {
        CHECK (change.alert.summary && streq (change.alert.summary, "hi"), "summary %s",
               change.alert.summary? change.alert.summary: "(none)");
        alert_change_free (&change);
    }
    if (CHECK (RUN (result, 0, "list", "--json") == 0, "list failed")) {
        const char *start = result.out;
        while (*start == ' ' || *start == '\n')
            start++;
        CHECK (*start == '[', "list --json is not a JSON array: %.80s", result.out);
        CHECK (text_has (result.out, "\"id\":\"x\""), "no \"id\":\"x\" in: %.300s", result.out);
        CHECK (text_has (result.out, "\"summary\":\"hi\""), "no summary hi in: %.300s", result.out);
        CHECK (text_has (result.out, "\"state\":\"raised\""), "no state raised in: %.300s", result.out);
    }
    cli_result_free (&result);

    TEST ("cli: lilac list (text); --state cleared and --id 'y*' leave it out, --id 'x*' keeps it");
    if (CHECK (RUN (result, 0, "list") == 0, "list failed"))
        CHECK (strstr (result.out, "x") && strstr (result.out, s_host), "alert not in: %.300s", result.out);
    cli_result_free (&result);
    if (CHECK (RUN (result, 0, "list", "--json", "--state", "cleared") == 0, "list --state failed"))
        CHECK (!text_has (result.out, "\"id\":\"x\""), "raised alert listed under --state cleared: %.300s",
               result.out);
    cli_result_free (&result);
    if (CHECK (RUN (result, 0, "list", "--json", "--id", "x*") == 0, "list --id failed"))
        CHECK (text_has (result.out, "\"id\":\"x\""), "not listed under --id 'x*': %.300s", result.out);
    cli_result_free (&result);
    if (CHECK (RUN (result, 0, "list", "--json", "--id", "y*") == 0, "list --id failed"))
        CHECK (!text_has (result.out, "\"id\":\"x\""), "listed under --id 'y*': %.300s", result.out);
    cli_result_free (&result);
}

static void
s_get_ack_clear (void)
{
    cli_result_t result;
    TEST ("cli: lilac get SOURCE ID, text and --json");
    if (CHECK (RUN (result, 0, "get", s_host, "x") == 0, "get failed"))
        CHECK (strstr (result.out, "raised") != NULL, "state not shown: %.300s", result.out);
    cli_result_free (&result);
    if (CHECK (RUN (result, 0, "get", s_host, "x", "--json") == 0, "get --json failed")) {
        CHECK (text_has (result.out, "\"state\":\"raised\""), "no state raised in: %.300s", result.out);
        CHECK (text_has (result.out, "\"id\":\"x\""), "no id in: %.300s", result.out);
    }
    cli_result_free (&result);
    RUN (result, 1, "get", s_host, "no-such-alert");
    CHECK (result.status != 0 && result.status != 2 && result.status < 128,
           "get of an unknown alert: status %d, expected an error (1)", result.status);
    CHECK (*result.err, "no message for an unknown alert");
    cli_result_free (&result);

    TEST ("cli: lilac ack SOURCE ID --by bob --note ...: the alert is acked by bob");
    CHECK (RUN (result, 0, "ack", s_host, "x", "--by", "bob", "--note", "on it") == 0, "ack failed");
    cli_result_free (&result);
    alert_t row;
    if (CHECK (control_get_alert (s_bed->broker, s_host, "x", &row) == 0, "get")) {
        CHECK (row.state == ALERT_ACKED, "state %s", alert_state_name (row.state));
        CHECK (row.acked_by && streq (row.acked_by, "bob"), "acked_by %s", row.acked_by? row.acked_by: "-");
        CHECK (row.ack_note && streq (row.ack_note, "on it"), "ack_note %s", row.ack_note? row.ack_note: "-");
        alert_clear_fields (&row);
    }

    TEST ("cli: lilac clear SOURCE ID: cleared");
    CHECK (RUN (result, 0, "clear", s_host, "x") == 0, "clear failed");
    cli_result_free (&result);
    if (CHECK (control_get_alert (s_bed->broker, s_host, "x", &row) == 0, "get")) {
        CHECK (row.state == ALERT_CLEARED, "state %s", alert_state_name (row.state));
        alert_clear_fields (&row);
    }
}

static void
s_stats (void)
{
    cli_result_t result;
    TEST ("cli: lilac stats --json prints one object with the counters");
    if (CHECK (RUN (result, 0, "stats", "--json") == 0, "stats failed")) {
        const char *start = result.out;
        while (*start == ' ' || *start == '\n')
            start++;
        CHECK (*start == '{', "not a JSON object: %.80s", result.out);
        CHECK (text_has (result.out, "\"events_received\":"), "no events_received: %.300s", result.out);
        CHECK (text_has (result.out, "\"seq\":"), "no seq: %.300s", result.out);
    }
    cli_result_free (&result);

    TEST ("cli: -C EP before or after the subcommand overrides $LILAC_CONTROL");
    char *saved = strdup (getenv ("LILAC_CONTROL"));
    setenv ("LILAC_CONTROL", s_dead_endpoint, 1);
    CHECK (RUN (result, 0, "-C", broker_process_control (s_bed->broker), "stats") == 0, "-C before failed");
    cli_result_free (&result);
    CHECK (RUN (result, 0, "stats", "-C", broker_process_control (s_bed->broker)) == 0, "-C after failed");
    cli_result_free (&result);
    setenv ("LILAC_CONTROL", saved, 1);
    free (saved);
}

static void
s_tap (void)
{
    TEST ("cli: lilac tap --json --count 1 prints one line with \"topic\"");
    cli_t *tap = cli_start (s_dir (), "tap", "--json", "--count", "1", NULL);
    if (!CHECK (tap, "tap did not start"))
        return;
    //  tap joins the bus at its own pace: make changes until it prints
    //  (raise and clear one alert by turns), within a deadline.
    int64_t deadline = clock_now_ms () + 8000;
    for (int round = 0; round < 100 && !cli_exited (tap) && clock_now_ms () < deadline; round++) {
        ingest_event (s_bed->push, "tap-host", "blink", round % 2? "clear": "now");
        for (int poll = 0; poll < 10 && !cli_exited (tap); poll++)
            harness_pause_ms (20);
    }
    cli_result_t result;
    cli_finish (&tap, 2000, &result);
    if (CHECK (result.status == 0, "tap exit status %d", result.status)) {
        CHECK (text_has (result.out, "\"topic\":"), "no topic in: %.300s", result.out);
        int lines = 0;
        for (const char *cursor = result.out; *cursor; cursor++)
            lines += *cursor == '\n';
        CHECK (lines == 1, "%d lines with --count 1", lines);
        CHECK (!text_has (result.out, "\"topic\":\"hugz\""), "hugz shown without --hugz");
    }
    else
        s_show ("tap", &result);
    cli_result_free (&result);
}

//  tap's human line: time, event, level, source, id, state, #notify count,
//  summary. The raise of a new alert is its first notification.
static void
s_tap_line (void)
{
    TEST ("cli: lilac tap prints a line a change with the notify count (raised ... #1)");
    cli_t *tap = cli_start (s_dir (), "tap", "--count", "1", "raised.", NULL);
    if (!CHECK (tap, "tap did not start"))
        return;
    int64_t deadline = clock_now_ms () + 8000;
    char id [32];
    for (int round = 0; round < 100 && !cli_exited (tap) && clock_now_ms () < deadline; round++) {
        snprintf (id, sizeof id, "line-%d", round);
        ingest_event (s_bed->push, "tap-host", id, "now");
        for (int poll = 0; poll < 10 && !cli_exited (tap); poll++)
            harness_pause_ms (20);
    }
    cli_result_t result;
    cli_finish (&tap, 2000, &result);
    CHECK (result.status == 0 && strstr (result.out, " raised normal tap-host line-")
           && strstr (result.out, " raised #1 -\n"), "tap printed: %s", result.out);
    cli_result_free (&result);
}

static void
s_tap_snapshot (void)
{
    TEST ("cli: lilac tap --json --snapshot --count 1 prints a snapshot line first");
    cli_result_t result;
    RUN (result, 0, "tap", "--json", "--snapshot", "--count", "1");
    if (CHECK (result.status == 0, "tap exit status %d", result.status))
        CHECK (text_has (result.out, "{\"topic\":\"snapshot\",\"v\":1,\"alert\":{"),
               "no snapshot line in: %.300s", result.out);
    else
        s_show ("tap", &result);
    cli_result_free (&result);
}

static void
s_errors (void)
{
    cli_result_t result;
    TEST ("cli: send to a port nobody listens on with -t 1 exits 1 with a message within ~2 s");
    RUN (result, 1, "send", "-b", s_dead_endpoint, "-t", "1", "-i", "x", "-r", "now");
    CHECK (result.status == 1, "status %d", result.status);
    CHECK (result.elapsed_ms <= 2500, "took %lld ms", (long long) result.elapsed_ms);
    CHECK (*result.err, "no message on stderr");
    cli_result_free (&result);

    TEST ("cli: a control command to a dead endpoint with -t 1 exits 1, no hang");
    RUN (result, 1, "-C", s_dead_endpoint, "-t", "1", "list");
    CHECK (result.status == 1, "status %d", result.status);
    CHECK (result.elapsed_ms <= 2500, "took %lld ms", (long long) result.elapsed_ms);
    CHECK (*result.err, "no message on stderr");
    cli_result_free (&result);

    TEST ("cli: tap --snapshot from a dead endpoint with -t 1 exits 1 with the reason, no hang");
    RUN (result, 1, "tap", "--snapshot", "-C", s_dead_endpoint, "-t", "1");
    CHECK (result.status == 1, "status %d", result.status);
    CHECK (result.elapsed_ms <= 2500, "took %lld ms", (long long) result.elapsed_ms);
    CHECK (strstr (result.err, "snapshot from") && strstr (result.err, "no reply"),
           "stderr: %.300s", result.err);
    cli_result_free (&result);

    TEST ("cli: usage errors exit 2, --help exits 0, lilac help COMMAND is COMMAND --help");
    CHECK (RUN (result, 2, "frobnicate") == 2, "lilac frobnicate: status %d", result.status);
    CHECK (*result.err || *result.out, "no usage printed");
    cli_result_free (&result);
    CHECK (RUN (result, 0, "send", "--help") == 0, "send --help: status %d", result.status);
    CHECK (*result.out || *result.err, "no help printed");
    cli_result_free (&result);
    CHECK (RUN (result, 2, "send", "-i", "x", "-r", "yesterday") == 2, "-r yesterday: status %d",
           result.status);
    cli_result_free (&result);
    CHECK (RUN (result, 2, "send", "-i", "x", "--raise=+5x") == 2, "--raise=+5x: status %d", result.status);
    //  One line of what is wrong and where to look, not a page of usage.
    CHECK (streq (result.err, "lilac send: -r: '+5x': not a time (try now, +5m, 1h30m, +1w, "
                              "clear, 2026-12-24T09:00, tomorrow 09:00 or epoch seconds)\n"
                              "try 'lilac send --help'\n"),
           "a bad value printed: %s", result.err);
    cli_result_free (&result);
    CHECK (RUN (result, 2, "list", "--bogus") == 2
           && streq (result.err, "lilac list: unknown option '--bogus'\ntry 'lilac list --help'\n"),
           "an unknown option printed: %s", result.err);
    cli_result_free (&result);
    //  --version, on every program: one line, NAME VERSION.
    const char *programs [] = { "lilac", "lilac-broker", "lilac-agent", "lilac-web",
                                "lilac-notify-pushover", "lilac-notify-exec" };
    for (size_t index = 0; index < sizeof programs / sizeof programs [0]; index++) {
        char want [128];
        snprintf (want, sizeof want, "%s " LILAC_VERSION "\n", programs [index]);
        CHECK (command_run (programs [index], "version", s_dir (), CLI_TIMEOUT_MS, &result,
                            "--version", NULL) == 0
               && result.status == 0 && streq (result.out, want),
               "%s --version: status %d, '%s'", programs [index], result.status, result.out);
        cli_result_free (&result);
    }
    CHECK (RUN (result, 2, "get", "only-a-source") == 2, "get with one argument: status %d", result.status);
    cli_result_free (&result);
    //  `lilac help COMMAND` is the command's own --help, word for word.
    const char *commands [] = { "send", "tap", "list", "get", "ack", "unack", "clear",
                                "suppress", "stats", "history", "silence", "keygen" };
    for (size_t index = 0; index < sizeof commands / sizeof commands [0]; index++) {
        cli_result_t help;
        RUN (help, 0, "help", commands [index]);
        RUN (result, 0, commands [index], "--help");
        CHECK (help.status == 0 && *help.out && streq (help.out, result.out),
               "lilac help %s: status %d, not what --help prints", commands [index], help.status);
        cli_result_free (&help);
        cli_result_free (&result);
    }
    CHECK (RUN (result, 0, "help") == 0 && strstr (result.out, "help      this text"),
           "lilac help: status %d", result.status);
    cli_result_free (&result);
    CHECK (RUN (result, 2, "help", "frobnicate") == 2 && strstr (result.err, "frobnicate"),
           "lilac help frobnicate: status %d", result.status);
    cli_result_free (&result);
    CHECK (RUN (result, 2, "send", "-i", "x", "-r", "1796548168289") == 2
           && strstr (result.err, "milliseconds"), "milliseconds as a time: %s", result.err);
    cli_result_free (&result);
    //  None of these may have reached the broker.
    alert_t row;
    CHECK (control_get_alert (s_bed->broker, s_host, "x", &row) == 0 && row.state == ALERT_CLEARED,
           "a refused send changed %s/x", s_host);
    alert_clear_fields (&row);
}

//  lilac(1)'s synopsis names every command `lilac --help` lists (the man
//  page make built from docs/man/lilac.1.scd, next to the binaries).
static void
s_man_page (void)
{
    TEST ("cli: lilac(1) has a synopsis line for every command lilac --help lists");
    char path [1024];
    snprintf (path, sizeof path, "%s/man/lilac.1", harness_bin_dir ());
    char *page = file_read_all (path);
    cli_result_t result;
    RUN (result, 0, "--help");
    if (CHECK (page && result.out, "no man page at %s", path)) {
        //  The command lines of the usage: two spaces, then a lower-case name
        int commands = 0;
        for (const char *line = result.out; line && *line; line = strchr (line, '\n')) {
            line += *line == '\n';
            if (line [0] != ' ' || line [1] != ' ' || line [2] < 'a' || line [2] > 'z')
                continue;
            char name [32], lilac_name [64], alternative [64];
            if (sscanf (line + 2, "%31s", name) != 1)
                continue;
            commands++;
            snprintf (lilac_name, sizeof lilac_name, "lilac %s", name);
            snprintf (alternative, sizeof alternative, "|\\fB%s", name);
            CHECK (strstr (page, lilac_name) || strstr (page, alternative),
                   "lilac(1) has no synopsis for %s", name);
        }
        CHECK (commands >= 14, "read %d commands from lilac --help", commands);
    }
    cli_result_free (&result);
    free (page);
}

//  -b before the command is send's PUSH endpoint, as after it.
static void
s_global_broker (void)
{
    TEST ("cli: lilac -b EP send ... pushes to EP, as lilac send -b EP does");
    cli_result_t result;
    CHECK (RUN (result, 0, "-b", broker_process_ingest (s_bed->broker), "send", "-o", "global",
                "-i", "pushed") == 0, "lilac -b EP send: %d %s", result.status, result.err);
    cli_result_free (&result);
    alert_t row;
    memset (&row, 0, sizeof row);
    int64_t deadline = clock_now_ms () + 3000;
    while (control_get_alert (s_bed->broker, "global", "pushed", &row) != 0
           && clock_now_ms () < deadline)
        harness_pause_ms (20);
    CHECK (row.source && row.state == ALERT_RAISED, "the pushed alert did not arrive");
    alert_clear_fields (&row);
}

//  `lilac delete`: a cleared alert goes now (a `deleted` change); one still
//  raised is refused, and stays.
static void
s_delete (void)
{
    TEST ("cli: lilac delete: a raised alert is refused (clear it first); a cleared one is "
          "deleted, published as deleted, gone from get");
    cli_result_t result;
    RUN (result, 0, "send", "-o", "decommissioned", "-i", "disk", "-r", "now");
    cli_result_free (&result);
    CHECK (RUN (result, 1, "delete", "decommissioned", "disk") == 1
           && strstr (result.err, "is raised: clear it first"), "delete raised: %s", result.err);
    cli_result_free (&result);
    subscriber_t *sub = subscriber_new (s_bed->broker, "deleted.");
    RUN (result, 0, "clear", "decommissioned", "disk");
    cli_result_free (&result);
    CHECK (RUN (result, 0, "delete", "decommissioned", "disk") == 0
           && streq (result.out, "decommissioned disk deleted\n"), "delete: %d %s%s",
           result.status, result.out, result.err);
    cli_result_free (&result);
    alert_change_t change;
    CHECK (sub && expect_change (sub, "deleted", "decommissioned", "disk", 3000, &change) == 0,
           "no deleted change published");
    if (sub)
        alert_change_free (&change);
    subscriber_destroy (&sub);
    CHECK (RUN (result, 1, "get", "decommissioned", "disk") == 1
           && strstr (result.err, "no alert"), "get after delete: %s", result.err);
    cli_result_free (&result);
}

//  What went wrong is said at once and by name, not after -t.
static void
s_fast_errors (void)
{
    TEST ("cli: refused, unresolvable, no ipc socket, no permission on it: said at once (a "
          "grace of 300 ms for a server just started), by name");
    cli_result_t result;
    CHECK (RUN (result, 1, "-t", "5", "-C", s_dead_endpoint, "ping") == 1
           && strstr (result.err, "connection refused by") && result.elapsed_ms < 1000,
           "refused: %lld ms: %s", (long long) result.elapsed_ms, result.err);
    cli_result_free (&result);
    CHECK (RUN (result, 1, "send", "-t", "5", "-b", s_dead_endpoint, "-i", "x") == 1
           && strstr (result.err, "connection refused by") && result.elapsed_ms < 1000,
           "refused push: %lld ms: %s", (long long) result.elapsed_ms, result.err);
    cli_result_free (&result);
    CHECK (RUN (result, 1, "-C", "tcp://no-such-host.invalid:32743", "list") == 1
           && strstr (result.err, "cannot resolve 'no-such-host.invalid'"), "dns: %s", result.err);
    cli_result_free (&result);
    char socket [1024], endpoint [1100];
    snprintf (socket, sizeof socket, "%s/nobody.sock", s_dir ());
    snprintf (endpoint, sizeof endpoint, "ipc://%s", socket);
    CHECK (RUN (result, 1, "send", "-C", endpoint, "-i", "x") == 1
           && strstr (result.err, "connection refused by ipc://") && result.elapsed_ms < 1500,
           "no ipc socket: %lld ms: %s", (long long) result.elapsed_ms, result.err);
    cli_result_free (&result);
    //  A socket file only its owner may write, and a user who is not it
    //  (running a copy of lilac in the sandbox: the checkout may be closed
    //  to that user)
    char lilac [1024], copy [2200];
    snprintf (lilac, sizeof lilac, "%s/lilac", s_dir ());
    snprintf (copy, sizeof copy, "cp %s/lilac %s && chmod 0755 %s", harness_bin_dir (), lilac, lilac);
    if (CHECK (file_write_text (socket, "") == 0 && chmod (socket, 0600) == 0
               && chmod (s_dir (), 0755) == 0 && system (copy) == 0, "the socket file")) {
        command_run ("/usr/bin/setpriv", "setpriv", s_dir (), CLI_TIMEOUT_MS, &result,
                     "--reuid=65534", "--regid=65534", "--clear-groups", lilac, "send", "-C",
                     endpoint, "-i", "x", NULL);
        CHECK (result.status == 1 && strstr (result.err, "permission denied on"),
               "no permission: %d %s", result.status, result.err);
        cli_result_free (&result);
    }
}

//  A local time is the user's: lilac resolves it in its own zone (TZ) and
//  sends epoch seconds, whatever the broker's zone (here UTC).
static void
s_local_time (void)
{
    TEST ("cli: -r 2026-12-24T10:00 in TZ=UTC+1 raises at 09:00Z; +1h30m and 5m are offsets");
    cli_result_t result;
    setenv ("TZ", "CET-1", 1);
    CHECK (RUN (result, 0, "send", "-i", "local", "-r", "2026-12-24T10:00") == 0, "send: %d",
           result.status);
    cli_result_free (&result);
    unsetenv ("TZ");
    alert_t row;
    CHECK (control_get_alert (s_bed->broker, s_host, "local", &row) == 0
           && row.raise_at == INT64_C(1798102800000), "raise_at %lld",
           (long long) row.raise_at);
    alert_clear_fields (&row);
    int64_t before = clock_now_ms ();
    CHECK (RUN (result, 0, "send", "-i", "offset", "-r", "+1h30m", "-i", "short", "-r", "5m") == 0,
           "send: %d", result.status);
    cli_result_free (&result);
    CHECK (control_get_alert (s_bed->broker, s_host, "offset", &row) == 0
           && row.raise_at >= before + 5400000 && row.raise_at < before + 5400000 + 60000,
           "+1h30m: raise_at %lld, sent at %lld", (long long) row.raise_at, (long long) before);
    alert_clear_fields (&row);
    CHECK (control_get_alert (s_bed->broker, s_host, "short", &row) == 0
           && row.raise_at >= before + 300000 && row.raise_at < before + 300000 + 60000,
           "5m: raise_at %lld", (long long) row.raise_at);
    alert_clear_fields (&row);
}

//  `lilac list` shows what needs attention: open alerts, raised first,
//  urgent before low, with subject and who acknowledged; --all adds the
//  cleared; --state takes several; times are local unless --utc.
static void
s_list_attention (void)
{
    TEST ("cli: list: open alerts by default, raised first by level, subject and acked-by; "
          "--all, --state a,b, local time and --utc");
    cli_result_t result;
    RUN (result, 0, "send", "-o", "att", "-i", "low", "-l", "low", "-u", "tape",
         "-i", "urgent", "-l", "urgent", "-u", "disk");
    cli_result_free (&result);
    RUN (result, 0, "send", "-o", "att", "-i", "later", "-r", "+1h",
         "-i", "gone", "-r", "clear", "-i", "seen", "-l", "urgent");
    cli_result_free (&result);
    RUN (result, 0, "ack", "att", "seen", "--by", "carol");
    cli_result_free (&result);
    setenv ("TZ", "CET-1", 1);
    if (CHECK (RUN (result, 0, "list", "--source", "att") == 0, "list: %d", result.status)) {
        const char *urgent = strstr (result.out, "urgent att    urgent");
        const char *low = strstr (result.out, "low    att    low");
        const char *seen = strstr (result.out, "acked     urgent att    seen");
        const char *later = strstr (result.out, "pending   normal att    later");
        CHECK (urgent && low && seen && later && urgent < low && low < seen && seen < later
               && !strstr (result.out, "gone") && strstr (result.out, "SUBJECT")
               && strstr (result.out, " disk ") && strstr (result.out, "carol")
               && strstr (result.out, " CET "), "list:\n%s", result.out);
    }
    cli_result_free (&result);
    unsetenv ("TZ");
    CHECK (RUN (result, 0, "list", "--source", "att", "--all", "--utc") == 0
           && strstr (result.out, "gone") && strstr (result.out, "Z "), "--all --utc:\n%s",
           result.out);
    cli_result_free (&result);
    CHECK (RUN (result, 0, "list", "--source", "att", "--state", "acked,pending") == 0
           && strstr (result.out, "seen") && strstr (result.out, "later")
           && !strstr (result.out, "urgent att    urgent"), "--state acked,pending:\n%s",
           result.out);
    cli_result_free (&result);
    CHECK (RUN (result, 2, "list", "--state", "raised,bogus") == 2
           && strstr (result.err, "'bogus' is not a state"), "--state raised,bogus: %s",
           result.err);
    cli_result_free (&result);
}

int
main (void)
{
    if (gethostname (s_host, sizeof s_host) != 0)
        snprintf (s_host, sizeof s_host, "unknown");
    int port = port_free ();
    snprintf (s_dead_endpoint, sizeof s_dead_endpoint, "tcp://127.0.0.1:%d", port);
    s_bed = testbed_new ("cli", NULL);
    if (!s_bed) {
        TEST ("cli: testbed starts");
        CHECK (false, "broker did not start");
        return check_done ();
    }
    setenv ("LILAC_BROKER", broker_process_ingest (s_bed->broker), 1);
    setenv ("LILAC_CONTROL", broker_process_control (s_bed->broker), 1);
    setenv ("LILAC_EVENTS", broker_process_publish (s_bed->broker), 1);
    setenv ("USER", "lilac-test", 1);
    s_send_and_list ();
    s_get_ack_clear ();
    s_stats ();
    s_tap ();
    s_tap_line ();
    s_tap_snapshot ();
    s_errors ();
    s_local_time ();
    s_fast_errors ();
    s_delete ();
    s_global_broker ();
    s_man_page ();
    s_list_attention ();
    TEST ("cli: broker exits 0 on SIGTERM");
    CHECK (testbed_destroy (&s_bed, check_failed > 0 || check_case_failed) == 0,
           "broker did not exit cleanly");
    return check_done ();
}
