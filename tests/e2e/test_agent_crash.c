/*  test_agent_crash.c — kill -9 of lilac-agent during a broker outage loses
    nothing it had read (issue 12, item 3), end to end with the real binaries.

    One broker, one agent (source web1, heartbeat 500ms/+2s, check `flip`
    every 1s reading its exit code from a file). The broker is stopped;
    then the check flips to 2, a PUSH hands the agent 300 ids twice (first
    pending "+1h", then their final state: raised, urgent, "final"), and
    `lilac send -b` hands it `later` with "+1h". The test waits until the
    agent's state file holds all of that (read-only SQLite reads of
    STATE/latest.db: what the agent claims is on disk is what we wait for),
    kills the agent with SIGKILL, removes the check from its config (so
    flip's state can only come from the disk), lets 3 s pass, starts the
    agent and then the broker. Wanted: every id in its last-sent state,
    flip raised urgent, and `later` raising at the moment "+1h" named when
    it was sent, not an hour after the restart.

    Then the state file is overwritten with garbage between a clean stop
    and a start: the agent must start anyway and log that it was damaged.
*/
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/agent_process.h"
#include "bus.h"
#include "timespec.h"

#define SOURCE            "web1"
#define IDS               300
#define PER_FRAME         50
#define ROW_DEADLINE_MS   8000     //  a row before the outage
#define DISK_DEADLINE_MS  10000    //  the agent's state file holds what it was handed
#define HEAL_DEADLINE_MS  15000    //  the broker holds everything after the restarts
#define GAP_MS            3000     //  between `later` being sent and the agent's restart
#define CLI_TIMEOUT_MS    10000
#define HOUR_MS           3600000LL
#define SLACK_MS          1000     //  clock reads around a send, and the broker's rounding

//  The count the query gives on the agent's state file, or -1.
static int64_t
s_disk_count (const char *path, const char *query)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *statement = NULL;
    int64_t count = -1;
    if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
    &&  sqlite3_busy_timeout (db, 1000) == SQLITE_OK
    &&  sqlite3_prepare_v2 (db, query, -1, &statement, NULL) == SQLITE_OK
    &&  sqlite3_step (statement) == SQLITE_ROW)
        count = sqlite3_column_int64 (statement, 0);
    sqlite3_finalize (statement);
    if (db && sqlite3_close (db) != SQLITE_OK)
        harness_note ("sqlite3_close: %s", sqlite3_errmsg (db));
    return count;
}

//  Waits until query counts wanted rows on disk. True if it did.
static bool
s_wait_disk (const char *path, const char *query, int64_t wanted)
{
    int64_t deadline = clock_now_ms () + DISK_DEADLINE_MS, count = -1;
    for (int attempt = 0; attempt < 10000; attempt++) {
        count = s_disk_count (path, query);
        if (count == wanted || clock_now_ms () >= deadline)
            break;
        harness_pause_ms (50);
    }
    return CHECK (count == wanted, "the agent's state file: %lld rows for %s (wanted %lld)",
                  (long long) count, query, (long long) wanted);
}

//  The number of alerts of SOURCE in state whose id matches glob, or -1.
static int64_t
s_count (broker_process_t *broker, const char *glob, const char *state)
{
    wire_doc_t *reply = control_ok (broker, "list", ARG_STR ("source", SOURCE),
                                    ARG_STR ("id", glob), ARG_STR ("state", state),
                                    ARG_INT ("limit", 1), ARG_END);
    int64_t count = reply ? reply_int (reply, "count", -1) : -1;
    wire_doc_destroy (&reply);
    return count;
}

static bool
s_start_agent (agent_process_t **agent, testbed_t *bed, const agent_check_spec_t *checks)
{
    agent_process_config_t config = { .source = SOURCE };
    *agent = agent_process_new (bed->sandbox, bed->broker, &config, checks, 1);
    if (*agent && agent_process_start (*agent) != 0)
        agent_process_destroy (agent, true);
    return CHECK (*agent, "agent did not start");
}

//  The outage, the kill and the restarts. Returns when the broker holds it all.
static void
s_crash (testbed_t *bed, agent_process_t *agent, const char *code_path)
{
    char state_file [1200];
    snprintf (state_file, sizeof state_file, "%s/latest.db", agent_process_state_dir (agent));
    TEST ("agent kill -9: what the agent was handed during the outage is on disk; kill, restart");
    CHECK (broker_process_stop (bed->broker) == 0, "broker did not exit 0 on SIGTERM");
    CHECK (file_write_text (code_path, "2") == 0, "write the flip code");
    event_spec_t first = { .raise = "+1h", .summary = "first", .level = "low" };
    event_spec_t final = { .raise = "now", .summary = "final", .level = "urgent" };
    CHECK (agent_push_ids (agent, SOURCE, "crash-%03d", IDS, PER_FRAME, &first) == 0,
           "hand the agent %d ids", IDS);
    //  Each hand-over is a PUSH socket of its own, and the agent's PULL
    //  takes from two connections in any order: the final state goes once
    //  the first is on disk, or the first could overwrite it.
    s_wait_disk (state_file, "SELECT count(*) FROM held WHERE id GLOB 'crash-*'"
                 " AND instr(frame, 'first') > 0", IDS);
    CHECK (agent_push_ids (agent, SOURCE, "crash-%03d", IDS, PER_FRAME, &final) == 0,
           "hand the agent %d ids again", IDS);
    int64_t later_before = clock_now_ms ();
    cli_result_t result;
    cli_run (sandbox_dir (bed->sandbox), CLI_TIMEOUT_MS, &result, "send", "-b",
             agent_process_listen (agent), "-o", SOURCE, "-i", "later", "-r", "+1h",
             "-s", "later", NULL);
    int64_t later_after = clock_now_ms ();
    CHECK (result.status == 0, "lilac send -b: exit %d: %s", result.status, result.err);
    cli_result_free (&result);

    s_wait_disk (state_file, "SELECT count(*) FROM held WHERE id GLOB 'crash-*'"
                 " AND instr(frame, 'final') > 0", IDS);
    s_wait_disk (state_file, "SELECT count(*) FROM held WHERE id = 'flip'"
                 " AND instr(frame, 'flip says 2') > 0", 1);
    s_wait_disk (state_file, "SELECT count(*) FROM held WHERE id = 'later'", 1);
    CHECK (agent_process_kill (agent) == 0, "kill -9 the agent");
    CHECK (agent_process_write_checks (agent, NULL, 0) == 0, "config without the check");
    //  The gap is the point, not a synchronization: times must not restart with the agent
    while (clock_now_ms () < later_after + GAP_MS)
        harness_pause_ms ((int) (later_after + GAP_MS - clock_now_ms ()));
    CHECK (agent_process_start (agent) == 0, "agent restart (broker still down)");
    CHECK (agent_process_wait_log (agent, "alerts held from the last run", 5000) == 0,
           "the restarted agent does not say it loaded its held alerts");
    bool restarted = CHECK (broker_process_start (bed->broker) == 0, "broker restart failed")
                  && CHECK (testbed_rejoin (bed) == 0, "rejoin the bus");
    if (!restarted)
        return;

    TEST ("agent kill -9: after the restarts the broker holds every id in its last-sent state");
    int64_t deadline = clock_now_ms () + HEAL_DEADLINE_MS, raised = -1;
    for (int attempt = 0; attempt < 10000; attempt++) {
        raised = s_count (bed->broker, "crash-*", "raised");
        if (raised == IDS || clock_now_ms () >= deadline)
            break;
        harness_pause_ms (100);
    }
    CHECK (raised == IDS, "%lld of %d ids raised (their final state)", (long long) raised, IDS);
    alert_t row;
    CHECK (wait_alert (bed->broker, SOURCE, "flip", ALERT_RAISED, LEVEL_URGENT, "flip says 2",
                       ROW_DEADLINE_MS, &row) == 0,
           "flip is %s '%s', wanted raised urgent 'flip says 2' (its last result, from the disk)",
           row.source ? alert_state_name (row.state) : "(no row)", row.summary ? row.summary : "");
    alert_clear_fields (&row);

    TEST ("agent kill -9: a held \"+1h\" raises at the moment it named when sent");
    if (CHECK (wait_alert (bed->broker, SOURCE, "later", ALERT_PENDING, -1, "later",
                           ROW_DEADLINE_MS, &row) == 0, "no pending 'later'")) {
        int64_t low = later_before + HOUR_MS - SLACK_MS, high = later_after + HOUR_MS + SLACK_MS;
        CHECK (row.raise_at >= low && row.raise_at <= high, "later raises %+lld ms from the"
               " send's +1h (window %+d..%+lld ms)",
               (long long) (row.raise_at - later_before - HOUR_MS), -SLACK_MS,
               (long long) (later_after - later_before + SLACK_MS));
    }
    alert_clear_fields (&row);
}

//  Garbage in the state file between a stop and a start.
static void
s_damaged (agent_process_t *agent)
{
    TEST ("agent: a damaged state file is logged and the agent starts anyway");
    CHECK (agent_process_stop (agent) == 0, "agent did not exit 0 on SIGTERM");
    char state_file [1200];
    snprintf (state_file, sizeof state_file, "%s/latest.db", agent_process_state_dir (agent));
    char garbage [4096];
    memset (garbage, '#', sizeof garbage - 1);
    garbage [sizeof garbage - 1] = 0;
    CHECK (file_write_text (state_file, garbage) == 0, "write garbage");
    CHECK (agent_process_start (agent) == 0, "the agent did not start on a damaged state file");
    CHECK (agent_process_wait_log (agent, "latest.db is damaged", 5000) == 0,
           "the agent did not log the damage");
}

int
main (void)
{
    int64_t started = clock_now_ms ();
    TEST ("agent kill -9: setup; flip cleared at the broker before the outage");
    testbed_t *bed = testbed_new ("agent-crash", NULL);
    if (!CHECK (bed, "broker did not start"))
        return check_done ();
    char *code_path = sandbox_path (bed->sandbox, "flip.code");
    char command [1200];
    snprintf (command, sizeof command, "code=$(cat %s); echo flip says $code; exit $code", code_path);
    agent_check_spec_t checks [] = {
        { .name = "flip", .command = command, .interval = "1s", .timeout = "2s" },
    };
    agent_process_t *agent = NULL;
    if (CHECK (file_write_text (code_path, "0") == 0, "write the flip code")
    &&  s_start_agent (&agent, bed, checks)) {
        alert_t row;
        bool ready = CHECK (wait_alert (bed->broker, SOURCE, "flip", ALERT_CLEARED, -1, "flip says 0",
                                        ROW_DEADLINE_MS, &row) == 0, "flip not cleared");
        alert_clear_fields (&row);
        if (ready)
            s_crash (bed, agent, code_path);
        s_damaged (agent);
        TEST ("agent kill -9: agent and broker exit 0 on SIGTERM");
        CHECK (agent_process_stop (agent) == 0, "agent did not exit 0 on SIGTERM");
    }
    bool failed = check_failed > 0 || check_case_failed;
    agent_process_destroy (&agent, failed);
    free (code_path);
    CHECK (testbed_destroy (&bed, failed) == 0, "broker did not exit cleanly");
    harness_note ("test_agent_crash took %lld ms", (long long) (clock_now_ms () - started));
    return check_done ();
}
