/*  test_agent_submit.c — the agent's acknowledged submits, end to end
    (issue 12 item 2, architecture §10).

    - Three short broker restarts under load: 1,000 ids are pushed through
      the agent's local endpoint, a round at a time (every id, summary
      "round N"); right after each round the broker is frozen (SIGSTOP)
      for 0.3 s — long enough for the agent to hand it the round, which
      the broker's socket takes and never commits — then killed (SIGKILL)
      and started again at once. The gap in hugz is far below the 3 s
      that used to trigger a resync: only the new boot id in hugz tells
      the agent. After each restart every id must hold the round pushed
      before it.
    - `lilac send` to the agent's submit endpoint answers once the events
      are on the agent's disk: with the broker down, the send exits 0, the
      agent is killed with SIGKILL, and after both restart the alert is at
      the broker.
    - the agent refuses a source it does not speak for, and lilac send
      exits 1 with its reason; `lilac send --no-wait` to the agent's
      listen endpoint still works.
    - a human clear survives the agent's resend (item 4): `backup` raised
      through the agent, cleared by a person, the broker restarted; the
      agent resends everything it holds for the new boot, with each
      event's age, and the broker drops the stale raise instead of paging
      again.
    Every wait is on what the broker holds, with a deadline.
*/
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/agent_process.h"
#include "bus.h"
#include "timespec.h"

#define SOURCE          "web1"
#define LOAD_IDS        1000
#define PER_FRAME       100
#define RESTARTS        3
#define FREEZE_MS       300             //  the restart's gap, as in the issue
#define HEAL_MS         15000           //  every id in its last state within this
#define CLI_MS          10000

//  How many of the ids hold summary (pages of 100 by id glob); -1 on error.
static int
s_count_in_state (broker_process_t *broker, const char *summary)
{
    int matching = 0;
    for (int page = 0; page < LOAD_IDS / 100; page++) {
        char glob [32];
        snprintf (glob, sizeof glob, "load-%02d*", page);
        wire_doc_t *reply = control_ok (broker, "list", ARG_STR ("source", SOURCE),
                                        ARG_STR ("id", glob), ARG_INT ("limit", 1000), ARG_END);
        const msgpack_object *alerts = reply ? reply_get (reply, "alerts") : NULL;
        if (!alerts || alerts->type != MSGPACK_OBJECT_ARRAY) {
            wire_doc_destroy (&reply);
            return -1;
        }
        for (uint32_t index = 0; index < alerts->via.array.size; index++) {
            alert_t alert;
            char error [WIRE_ERROR_SIZE];
            if (alert_decode (&alerts->via.array.ptr [index], &alert, error, sizeof error) == 0) {
                matching += alert.summary && streq (alert.summary, summary);
                alert_clear_fields (&alert);
            }
        }
        wire_doc_destroy (&reply);
    }
    return matching;
}

//  Waits until every id holds "round N". The count at the end.
static int
s_wait_round (broker_process_t *broker, int round)
{
    char summary [32];
    snprintf (summary, sizeof summary, "round %d", round);
    int matching = -1;
    int64_t deadline = clock_now_ms () + HEAL_MS;
    for (int attempt = 0; attempt < 1000; attempt++) {
        matching = s_count_in_state (broker, summary);
        if (matching == LOAD_IDS || clock_now_ms () >= deadline)
            break;
        harness_pause_ms (200);
    }
    return matching;
}

static void
s_short_restarts (testbed_t *bed, agent_process_t *agent)
{
    TEST ("agent: three 0.3 s broker restarts under load lose nothing (every id in its last state)");
    for (int round = 0; round < RESTARTS; round++) {
        int64_t pushed_at = clock_now_ms ();
        char summary [32];
        snprintf (summary, sizeof summary, "round %d", round);
        event_spec_t event = { .raise = "+1h", .summary = summary };
        CHECK (agent_push_ids (agent, SOURCE, "load-%04d", LOAD_IDS, PER_FRAME, &event) == 0,
               "round %d not pushed", round);
        //  The broker takes what the agent sends, and dies before committing it
        CHECK (broker_process_signal (bed->broker, SIGSTOP) == 0, "SIGSTOP");
        harness_pause_ms (FREEZE_MS);       //  the restart's gap itself
        CHECK (broker_process_kill (bed->broker) == 0, "kill -9");
        CHECK (broker_process_start (bed->broker) == 0, "restart %d", round);
        int matching = s_wait_round (bed->broker, round);
        harness_note ("restart %d: %d of %d ids in their last state %lld ms after the push",
                      round + 1, matching, LOAD_IDS, (long long) (clock_now_ms () - pushed_at));
        CHECK (matching == LOAD_IDS, "after restart %d: %d of %d ids hold 'round %d'",
               round + 1, matching, LOAD_IDS, round);
    }
    CHECK (agent_process_wait_log (agent, "restarted (boot", 1000) == 0,
           "the agent never said it saw a restart");
    CHECK (testbed_rejoin (bed) == 0, "rejoin");
}

static void
s_send_through_agent (testbed_t *bed, agent_process_t **agent_p)
{
    agent_process_t *agent = *agent_p;
    const char *dir = sandbox_dir (bed->sandbox);
    TEST ("lilac send to the agent: answered once on the agent's disk (kill -9 then loses nothing)");
    CHECK (broker_process_stop (bed->broker) == 0, "broker stop");
    cli_result_t result;
    cli_run (dir, CLI_MS, &result, "send", "-C", agent_process_submit (agent), "-o", SOURCE,
             "-i", "via-agent", "-r", "now", "-s", "held on disk", NULL);
    CHECK (result.status == 0, "send to the agent: exit %d: %s", result.status, result.err);
    cli_result_free (&result);
    CHECK (agent_process_kill (agent) == 0, "kill -9 the agent");
    CHECK (broker_process_start (bed->broker) == 0, "broker start");
    CHECK (agent_process_start (agent) == 0, "agent start");
    alert_t row;
    bool arrived = wait_alert (bed->broker, SOURCE, "via-agent", ALERT_RAISED, -1, "held on disk",
                               HEAL_MS, &row) == 0;
    CHECK (arrived, "via-agent is not at the broker after the agent's kill -9");
    if (arrived)
        alert_clear_fields (&row);

    TEST ("lilac send to the agent: another source is refused with the agent's reason, exit 1");
    cli_run (dir, CLI_MS, &result, "send", "-C", agent_process_submit (agent), "-o", "elsewhere",
             "-i", "spoof", "-r", "now", NULL);
    CHECK (result.status == 1 && strstr (result.err, "speaks for"), "exit %d: %s",
           result.status, result.err);
    cli_result_free (&result);

    TEST ("lilac send --no-wait -b to the agent's listen endpoint still works");
    cli_run (dir, CLI_MS, &result, "send", "--no-wait", "-b", agent_process_listen (agent),
             "-o", SOURCE, "-i", "pushed", "-r", "now", "-s", "fire and forget", NULL);
    CHECK (result.status == 0, "exit %d: %s", result.status, result.err);
    cli_result_free (&result);
    arrived = wait_alert (bed->broker, SOURCE, "pushed", ALERT_RAISED, -1, "fire and forget",
                          HEAL_MS, &row) == 0;
    CHECK (arrived, "pushed is not at the broker");
    if (arrived)
        alert_clear_fields (&row);
}

static void
s_human_clear_survives (testbed_t *bed, agent_process_t *agent)
{
    const char *dir = sandbox_dir (bed->sandbox);
    TEST ("a person's clear survives the agent's resend after a broker restart");
    cli_result_t result;
    cli_run (dir, CLI_MS, &result, "send", "-C", agent_process_submit (agent), "-o", SOURCE,
             "-i", "backup", "-r", "now", "-s", "backup failed", NULL);
    CHECK (result.status == 0, "send: exit %d: %s", result.status, result.err);
    cli_result_free (&result);
    alert_t row;
    if (CHECK (wait_alert (bed->broker, SOURCE, "backup", ALERT_RAISED, -1, "backup failed",
                           HEAL_MS, &row) == 0, "backup not raised"))
        alert_clear_fields (&row);
    wire_doc_t *reply = control_ok (bed->broker, "clear", ARG_STR ("source", SOURCE),
                                    ARG_STR ("id", "backup"), ARG_STR ("by", "alice"), ARG_END);
    CHECK (reply, "clear refused");
    wire_doc_destroy (&reply);
    CHECK (broker_process_stop (bed->broker) == 0 && broker_process_start (bed->broker) == 0,
           "restart the broker");
    int64_t stale = -1;
    for (int64_t end = zclock_mono () + HEAL_MS; zclock_mono () < end && stale < 1; ) {
        harness_pause_ms (100);
        stale = broker_process_stat (bed->broker, "stale");
    }
    CHECK (stale >= 1, "the agent's resend never reached the broker (stale %lld)",
           (long long) stale);
    if (CHECK (control_get_alert (bed->broker, SOURCE, "backup", &row) == 0, "get backup")) {
        CHECK (row.state == ALERT_CLEARED, "backup is %s again after the resend",
               alert_state_name (row.state));
        alert_clear_fields (&row);
    }
}

int
main (void)
{
    int64_t started = clock_now_ms ();
    testbed_t *bed = testbed_new ("agent-submit", NULL);
    if (!CHECK (bed, "broker did not start"))
        return check_done ();
    agent_process_config_t config = { .source = SOURCE };
    agent_process_t *agent = agent_process_new (bed->sandbox, bed->broker, &config, NULL, 0);
    if (agent && agent_process_start (agent) != 0)
        agent_process_destroy (&agent, true);
    if (CHECK (agent, "agent did not start")) {
        s_short_restarts (bed, agent);
        s_send_through_agent (bed, &agent);
        s_human_clear_survives (bed, agent);
        TEST ("agent and broker exit 0 on SIGTERM");
        CHECK (agent_process_stop (agent) == 0, "agent did not exit 0 on SIGTERM");
    }
    bool failed = check_failed > 0 || check_case_failed;
    agent_process_destroy (&agent, failed);
    CHECK (testbed_destroy (&bed, failed) == 0, "broker did not exit cleanly");
    harness_note ("test_agent_submit took %lld ms", (long long) (clock_now_ms () - started));
    return check_done ();
}
