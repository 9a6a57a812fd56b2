/*  test_failover.c — two brokers on one real PostgreSQL (issue 17 §3).

    A PostgreSQL 15 of the test's own (tests/lib/pg_cluster: initdb under
    runuser, a Unix socket in a temp dir). Broker A starts and takes the
    lock; broker B, on its own ports, waits as a standby, bound to nothing.
    Both have a restart grace of 3 s. A lilac-notify-exec follows both
    (events and control are lists of the two brokers' endpoints) and writes
    every change it is given to a file; a lilac-web follows both too (its
    events and control are the same lists); a sender PUSHes to both ingest
    endpoints (ZMQ_IMMEDIATE: only the active one is connected) and keeps a
    heartbeat refreshed all along; a lilac-agent (source fo-agent, its own
    heartbeat every 500 ms) submits to both control endpoints.

    Twice (FAILOVER_ROUNDS in the environment: `make chaos` and `make
    bench` run ten): a lapse (a heartbeat that raises in 1 s, sent once and
    never refreshed) is sent, then an alert raised on the active is
    delivered (so the lapse is committed: it is still pending); the active
    is killed (kill -9, except the second round, which terminates its
    PostgreSQL session with pg_terminate_backend); the standby answers ping
    within the target (3 s; the figure goes to the log, `make bench`
    measures it over ten), and the lapse is still pending there; an alert
    raised then is delivered; lilac-web follows the new active: GET
    /api/alerts (its own copy, from its change feed) lists that alert
    raised, and an event POSTed to its /api/events after the takeover is
    answered 200, raised on the new active and delivered; so is an alert
    handed to the agent just after the kill, while no broker was active
    (the agent resends what was not acknowledged); the dead broker is
    started again and waits as the standby; the alert raised before the
    takeover is raised on the new active (its row may not have been
    checkpointed: the history after the rows seq is laid over the rows).
    Restart grace: the lapse fell due within grace of the moment the new
    active became active, so it raises only at that moment + grace: its
    raise (the broker's notified_at) is at least 3 s after the takeover
    began and at most 4 s after the standby answered, and it reaches the
    notifier. Then: every alert raised reached the notifier, no seq was
    given to two changes, and the heartbeats, refreshed throughout (the
    sender's and the agent's), never raised (restart grace covers the
    takeover).

    The last line says what the takeovers took ("failover figures:
    rounds=N kill9_p50_ms=... kill9_max_ms=... session_ms=..."), for the
    benchmark. Every wait is a poll with a deadline. The cluster is stopped
    at the end, also when a case failed.
*/
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/agent_process.h"
#include "../harness/notifier_process.h"
#include "../harness/web_process.h"
#include "bus.h"
#include "timespec.h"

#define FAILOVER_TARGET_MS   3000      //  the standby serves within this
#define DELIVERY_MS          10000     //  a raised alert reaches the notifier's file
#define REFRESH_EVERY_MS     250       //  the heartbeat's refresh period
#define GRACE                "3s"      //  the brokers' restart grace...
#define GRACE_MS             3000      //  ... which the lapse's raise must wait for
#define GRACE_SLACK_MS       1000      //  the lapse raises within this after ready + grace
#define LAPSE_RAISE          "+1s"     //  the lapse's raise, sent once, just before a kill
#define SOURCE               "fo-src"
#define WEB_SOURCE           "fo-web"  //  the source of events POSTed to lilac-web

static sandbox_t *s_cluster_box;       //  the PostgreSQL cluster's directory
static char s_uri [1024];              //  its connection URI
static char s_script [1100];           //  tests/lib/pg_cluster, absolute (command_run)

static void
s_find_script (void)
{
    char here [1024];
    snprintf (s_script, sizeof s_script, "%s/tests/lib/pg_cluster",
              getcwd (here, sizeof here) ? here : ".");
}

//  Starts the cluster; its URI into s_uri. 0 / -1.
static int
s_cluster_start (void)
{
    s_find_script ();
    s_cluster_box = sandbox_new ("failover-pg");
    if (!s_cluster_box)
        return -1;
    cli_result_t result;
    int rc = command_run (s_script, "pg", sandbox_dir (s_cluster_box), 60000,
                          &result, "start", sandbox_dir (s_cluster_box), NULL);
    if (rc == 0 && result.status == 0 && result.out) {
        snprintf (s_uri, sizeof s_uri, "%.*s", (int) strcspn (result.out, "\n"), result.out);
        rc = strncmp (s_uri, "postgresql://", 13) == 0 ? 0 : -1;
    }
    else {
        harness_note ("pg_cluster start failed: %s", result.err ? result.err : "?");
        rc = -1;
    }
    cli_result_free (&result);
    return rc;
}

static void
s_cluster_stop (bool failed)
{
    if (!s_cluster_box)
        return;
    cli_result_t result;
    command_run (s_script, "pg", sandbox_dir (s_cluster_box), 60000, &result,
                 "stop", sandbox_dir (s_cluster_box), NULL);
    cli_result_free (&result);
    sandbox_destroy (&s_cluster_box, failed);
}

//  Runs SQL on the cluster with psql. 0 / -1.
static int
s_psql (const char *sql)
{
    cli_result_t result;
    int rc = command_run ("/usr/bin/psql", "psql", sandbox_dir (s_cluster_box), 10000, &result,
                          s_uri, "-Atc", sql, NULL);
    rc = rc == 0 && result.status == 0 ? 0 : -1;
    cli_result_free (&result);
    return rc;
}

typedef struct {
    sandbox_t *box [2];
    broker_process_t *broker [2];
    int active;                    //  which one holds the lock
    int standbys [2];              //  "standby:" lines each one's log should have
    zsock_t *push;                 //  to both ingest endpoints
    notifier_process_t *notifier;
    sandbox_t *agent_box;
    agent_process_t *agent;
    sandbox_t *web_box;
    web_process_t *web;            //  lilac-web on both brokers' endpoints
    char out [1100];               //  the notifier's file of changes
    int64_t next_refresh;
    int64_t killed_at;             //  when the last takeover began (kill or terminate)
} s_pair_t;

//  The broker just spawned says it waits as a standby (its log is kept
//  across restarts: one more such line than before).
static bool
s_standby_waits (s_pair_t *pair, int which)
{
    pair->standbys [which]++;
    return file_wait_count (broker_process_log (pair->broker [which]), "standby:",
                            pair->standbys [which], 10000) == 0
        && broker_process_running (pair->broker [which]);
}

//  Refreshes the heartbeat when its period came (raise in 4 s: it raises
//  only if nobody refreshes it for that long).
static void
s_keep_alive (s_pair_t *pair)
{
    if (clock_now_ms () < pair->next_refresh)
        return;
    ingest_event (pair->push, SOURCE, "heartbeat", "+4s");
    pair->next_refresh = clock_now_ms () + REFRESH_EVERY_MS;
}

//  Raises id (through whichever broker is active) until the notifier has
//  it, refreshing the heartbeat meanwhile. The raise is sent again each
//  second: a PUSH while no broker is connected yet (or any more) is
//  dropped, and a repeat of a raised alert changes nothing.
static bool
s_raise_delivered (s_pair_t *pair, const char *id)
{
    char text [128];
    snprintf (text, sizeof text, " raised %s\n", id);
    int64_t deadline = clock_now_ms () + DELIVERY_MS, next_send = 0;
    while (clock_now_ms () < deadline) {
        s_keep_alive (pair);
        if (clock_now_ms () >= next_send) {
            ingest_event (pair->push, SOURCE, id, "now");
            next_send = clock_now_ms () + 1000;
        }
        if (file_wait_count (pair->out, text, 1, 50) == 0)
            return true;
    }
    return false;
}

//  Polls until the notifier's file says id raised, refreshing the
//  heartbeat meanwhile. true, or false at the deadline.
static bool
s_delivered (s_pair_t *pair, const char *id, int timeout_ms)
{
    char text [128];
    snprintf (text, sizeof text, " raised %s\n", id);
    for (int64_t deadline = clock_now_ms () + timeout_ms; clock_now_ms () < deadline; ) {
        s_keep_alive (pair);
        if (file_wait_count (pair->out, text, 1, 50) == 0)
            return true;
    }
    return false;
}

//  Sends METHOD PATH (with the JSON body json, or none) to lilac-web until
//  it answers 200 with a body holding needle, refreshing the heartbeat
//  between tries: just after a takeover lilac-web may answer 503 while it
//  finds the new active. true, or false after DELIVERY_MS (the last answer
//  noted).
static bool
s_web_until (s_pair_t *pair, const char *method, const char *path, const char *json,
             const char *needle)
{
    char url [512];
    snprintf (url, sizeof url, "%s%s", web_process_base (pair->web), path);
    http_options_t options = { .body = json };
    for (int64_t deadline = clock_now_ms () + DELIVERY_MS; ; ) {
        s_keep_alive (pair);
        http_result_t result;
        http_call (sandbox_dir (pair->web_box), method, url, &options, &result);
        bool done = result.code == 200 && text_has (result.body, needle);
        if (!done && clock_now_ms () >= deadline)
            harness_note ("%s %s: %ld %s", method, path, result.code, result.body);
        http_result_free (&result);
        if (done)
            return true;
        if (clock_now_ms () >= deadline)
            return false;
        harness_pause_ms (50);
    }
}

//  lilac-web, on both brokers' endpoints, follows the new active:
//  /api/alerts (its own copy, fed by its change feed) lists after raised,
//  and an event POSTed to /api/events is committed by the new active
//  (answered 200, raised there, delivered to the notifier). (Not /healthz:
//  it stays 200 for 3 s after the broker's last answer, longer than a
//  takeover takes.)
static void
s_web_follows (s_pair_t *pair, const char *after, const char *posted)
{
    char alerts [256], event [256];
    snprintf (alerts, sizeof alerts, "/api/alerts?source=%s&id=%s&state=raised", SOURCE, after);
    snprintf (event, sizeof event, "{\"source\":\"%s\",\"alerts\":[{\"id\":\"%s\","
              "\"raise\":\"now\"}]}", WEB_SOURCE, posted);
    CHECK (s_web_until (pair, "GET", alerts, NULL, "\"count\":1"),
           "lilac-web does not list %s, raised on the new active", after);
    if (!CHECK (s_web_until (pair, "POST", "/api/events", event, "\"accepted\":1"),
                "lilac-web's POST /api/events of %s not accepted after the takeover", posted))
        return;
    alert_t row;
    if (CHECK (control_get_alert (pair->broker [pair->active], WEB_SOURCE, posted, &row) == 0,
               "the new active does not know %s, POSTed to lilac-web", posted)) {
        CHECK (row.state == ALERT_RAISED, "%s is %s on the new active", posted,
               alert_state_name (row.state));
        alert_clear_fields (&row);
    }
    CHECK (s_delivered (pair, posted, DELIVERY_MS), "%s, POSTed to lilac-web, not delivered",
           posted);
}

//  The lapse (a heartbeat sent once with raise LAPSE_RAISE, never
//  refreshed) is in the active's state, pending. It was sent before the
//  round's first raise on the same PUSH, so once that raise was delivered
//  (published means committed) the lapse is committed too.
static bool
s_lapse_pending (s_pair_t *pair, const char *lapse)
{
    alert_t row;
    if (control_get_alert (pair->broker [pair->active], SOURCE, lapse, &row))
        return false;
    bool pending = row.state == ALERT_PENDING;
    alert_clear_fields (&row);
    return pending;
}

//  Restart grace after a takeover: the lapse fell due within grace of the
//  moment the new active became active, so it raises at that moment +
//  grace. That moment is after the takeover began (killed_at) and before
//  the standby answered ping (ready_at). Watched until the notifier has
//  it: not there while killed_at + grace has not come (each look is timed
//  when it ended); then the raise, as the broker records it (notified_at),
//  is at or after killed_at + grace and at most GRACE_SLACK_MS after
//  ready_at + grace.
static void
s_lapse_raised_after_grace (s_pair_t *pair, const char *lapse, int64_t ready_at)
{
    char text [64];
    snprintf (text, sizeof text, " raised %s\n", lapse);
    int64_t deadline = ready_at + GRACE_MS + DELIVERY_MS, seen_at = 0;
    while (!seen_at && clock_now_ms () < deadline) {
        s_keep_alive (pair);
        if (file_count_text (pair->out, text))
            seen_at = clock_now_ms ();
        else
            harness_pause_ms (20);
    }
    if (!CHECK (seen_at, "%s, left to lapse, never raised after the takeover", lapse)
    ||  !CHECK (seen_at >= pair->killed_at + GRACE_MS, "%s reached the notifier %lld ms after "
                "the takeover began, within its grace", lapse,
                (long long) (seen_at - pair->killed_at)))
        return;
    alert_t row;
    if (!CHECK (control_get_alert (pair->broker [pair->active], SOURCE, lapse, &row) == 0,
                "the new active does not know %s", lapse))
        return;
    int64_t after_kill = row.notified_at - pair->killed_at;
    int64_t after_ready = row.notified_at - ready_at;
    CHECK (row.state == ALERT_RAISED && after_kill >= GRACE_MS
           && after_ready <= GRACE_MS + GRACE_SLACK_MS,
           "%s is %s, raised %lld ms after the takeover began and %lld ms after the standby "
           "served (grace %d ms)", lapse, alert_state_name (row.state), (long long) after_kill,
           (long long) after_ready, GRACE_MS);
    alert_clear_fields (&row);
}

static int
s_pair_start (s_pair_t *pair)
{
    broker_process_config_t config = { .database = s_uri, .grace = GRACE, .checkpoint = "500ms",
                                       .reminder_interval = "1h", .standbys = "1" };
    const char *names [2] = { "failover-a", "failover-b" };
    for (int which = 0; which < 2; which++) {
        pair->box [which] = sandbox_new (names [which]);
        pair->broker [which] = pair->box [which]
                             ? broker_process_new (pair->box [which], &config) : NULL;
        if (!pair->broker [which])
            return -1;
    }
    if (broker_process_start (pair->broker [0]) || broker_process_spawn (pair->broker [1])
    ||  !CHECK (s_standby_waits (pair, 1), "B does not say it waits as a standby"))
        return -1;
    char list [512], error [256];
    snprintf (list, sizeof list, "%s,%s", broker_process_ingest (pair->broker [0]),
              broker_process_ingest (pair->broker [1]));
    pair->push = bus_open (ZMQ_PUSH, list, BUS_CONNECT_IMMEDIATE, error, sizeof error);
    if (!pair->push)
        return -1;
    zsock_set_sndtimeo (pair->push, 0);         //  nobody active: the refresh is dropped
    snprintf (pair->out, sizeof pair->out, "%s/changes", sandbox_dir (pair->box [0]));
    char config_text [4096];
    snprintf (config_text, sizeof config_text,
              "notifier\n"
              "    events = \"%s,%s\"\n"
              "    control = \"%s,%s\"\n"
              "    state_dir = \"%s/notify-state\"\n"
              "exec\n"
              "    command = 'sh -c \"echo $LILAC_SEQ $LILAC_EVENT $LILAC_ID >> %s\"'\n"
              "rule = all\n"
              "    source = \"fo-*\"\n"
              "    on = raised\n",
              broker_process_publish (pair->broker [0]), broker_process_publish (pair->broker [1]),
              broker_process_control (pair->broker [0]), broker_process_control (pair->broker [1]),
              sandbox_dir (pair->box [0]), pair->out);
    pair->notifier = notifier_process_new (pair->box [0], "lilac-notify-exec", "notify",
                                           config_text);
    if (!pair->notifier || notifier_process_start (pair->notifier))
        return -1;
    char controls [512], events [512];
    snprintf (controls, sizeof controls, "%s,%s", broker_process_control (pair->broker [0]),
              broker_process_control (pair->broker [1]));
    snprintf (events, sizeof events, "%s,%s", broker_process_publish (pair->broker [0]),
              broker_process_publish (pair->broker [1]));
    agent_process_config_t agent_config = { .source = "fo-agent", .control = controls,
                                            .events = events };
    pair->agent_box = sandbox_new ("failover-agent");
    pair->agent = pair->agent_box ? agent_process_new (pair->agent_box, pair->broker [0],
                                                       &agent_config, NULL, 0) : NULL;
    if (!pair->agent || agent_process_start (pair->agent))
        return -1;
    //  lilac-web gets in step while the notifier warms up
    pair->web_box = sandbox_new ("failover-web");
    pair->web = pair->web_box ? web_process_new_lists (pair->web_box, controls, events, NULL)
                              : NULL;
    if (!pair->web || web_process_spawn (pair->web))
        return -1;
    //  A fresh notifier starts where the stream stands when it first
    //  reaches the broker: synced once one of the warm-up alerts, a new
    //  one each second, comes through
    bool warm = false;
    for (int attempt = 0; attempt < 20 && !warm; attempt++) {
        char id [32], text [64];
        snprintf (id, sizeof id, "warmup-%d", attempt);
        snprintf (text, sizeof text, " raised %s\n", id);
        ingest_event (pair->push, SOURCE, id, "now");
        warm = file_wait_count (pair->out, text, 1, 1000) == 0;
    }
    if (!CHECK (warm, "no warm-up alert was delivered in 20 s"))
        return -1;
    return web_process_wait_ready (pair->web);
}

//  Kills the active one (kill -9, or its session terminated in PostgreSQL),
//  hands the agent the alert gap at once (no broker is active), and returns
//  the ms until the standby answered ping, or -1.
static int64_t
s_take_over (s_pair_t *pair, bool terminate_session, const char *gap)
{
    broker_process_t *active = pair->broker [pair->active];
    broker_process_t *standby = pair->broker [1 - pair->active];
    int64_t killed_at = pair->killed_at = clock_now_ms ();
    if (terminate_session) {
        CHECK (s_psql ("SELECT pg_terminate_backend (pid) FROM pg_locks"
                       " WHERE locktype = 'advisory' AND granted") == 0, "pg_terminate_backend");
        //  The broker sees its session gone and stops by itself
        int64_t deadline = clock_now_ms () + 5000;
        while (broker_process_running (active) && clock_now_ms () < deadline)
            s_keep_alive (pair), harness_pause_ms (10);
        CHECK (!broker_process_running (active), "the broker whose session was terminated "
               "still runs");
    }
    else
        CHECK (broker_process_kill (active) == 0, "kill -9");
    event_spec_t event = { .id = gap, .raise = "now" };
    CHECK (agent_push_ids (pair->agent, "fo-agent", gap, 1, 1, &event) == 0,
           "the agent did not take %s", gap);
    while (clock_now_ms () < killed_at + FAILOVER_TARGET_MS * 3) {
        s_keep_alive (pair);
        if (broker_process_wait_ready (standby, 50) == 0)
            break;
    }
    int64_t took = broker_process_ready_at (standby) ? broker_process_ready_at (standby) - killed_at
                                                     : -1;
    pair->active = 1 - pair->active;
    return took;
}

//  Does the broker's ping say degraded with text in its reason (text
//  NULL: does it not say degraded)?
static bool
s_ping_says (broker_process_t *broker, const char *text)
{
    wire_doc_t *ping = control_ok (broker, "ping", ARG_END);
    const msgpack_object *degraded = ping ? reply_get (ping, "degraded") : NULL;
    bool says = ping && (text ? degraded && degraded->type == MSGPACK_OBJECT_STR
                                && memmem (degraded->via.str.ptr, degraded->via.str.size,
                                           text, strlen (text))
                              : !degraded);
    wire_doc_destroy (&ping);
    return says;
}

//  Waits (deadline) until the active's stats count standbys and its ping
//  says degraded with text (NULL: not degraded), keeping the heartbeat
//  alive meanwhile.
static bool
s_standbys_seen (s_pair_t *pair, int64_t standbys, const char *text, int timeout_ms)
{
    broker_process_t *active = pair->broker [pair->active];
    int64_t deadline = clock_now_ms () + timeout_ms;
    while (clock_now_ms () < deadline) {
        s_keep_alive (pair);
        if (broker_process_stat (active, "standbys") == standbys && s_ping_says (active, text))
            return true;
        harness_pause_ms (500);
    }
    return false;
}

//  broker/standbys = 1 on both: the active counts the standby waiting
//  (stats), and is not degraded; the standby killed, the active says
//  degraded within a count or two ("0 of 1 standby brokers"), so a high
//  availability that went away is heard of before a takeover needs it;
//  the standby back, that ends.
static void
s_standbys (s_pair_t *pair)
{
    TEST ("failover: the active counts its standby; with none waiting it says degraded, and "
          "no more once one waits again");
    broker_process_t *standby = pair->broker [1 - pair->active];
    CHECK (s_standbys_seen (pair, 1, NULL, 10000), "the active does not count 1 standby "
           "(%lld), or says degraded", (long long) broker_process_stat (
               pair->broker [pair->active], "standbys"));
    CHECK (broker_process_kill (standby) == 0, "kill -9 of the standby");
    CHECK (s_standbys_seen (pair, 0, "0 of 1 standby brokers", 6000),
           "the active does not say degraded with its standby gone");
    cli_result_t ping;
    cli_run (sandbox_dir (pair->box [0]), 5000, &ping, "-C",
             broker_process_control (pair->broker [pair->active]), "ping", NULL);
    CHECK (ping.status == 1 && ping.out && strstr (ping.out, "DEGRADED: 0 of 1 standby brokers"),
           "lilac ping: exit %d, '%s', '%s'", ping.status, ping.out ? ping.out : "",
           ping.err ? ping.err : "");
    cli_result_free (&ping);
    CHECK (broker_process_spawn (standby) == 0 && s_standby_waits (pair, 1 - pair->active),
           "the standby does not come back");
    CHECK (s_standbys_seen (pair, 1, NULL, 6000),
           "the active still says degraded with its standby back");
}

static int
s_compare (const void *one, const void *other)
{
    int64_t a = *(const int64_t *) one, b = *(const int64_t *) other;
    return a < b ? -1 : a > b;
}

static void
s_failover (void)
{
    const char *rounds_text = getenv ("FAILOVER_ROUNDS");
    int rounds = rounds_text ? atoi (rounds_text) : 2;
    if (rounds < 2 || rounds > 50)
        rounds = 2;
    int64_t kill9 [50];
    int kill9_count = 0;
    int64_t session_ms = -1;
    TEST ("failover: a standby waits bound to nothing; the active killed (kill -9, then its "
          "session terminated): the standby serves within 3 s, every raised alert (one handed to "
          "the agent while nobody was active) reaches the notifier, lilac-web on both brokers "
          "shows and takes alerts through the new active, no seq is given twice, refreshed "
          "heartbeats never raise, a lapsed one raises only at takeover + grace");
    s_pair_t pair = { 0 };
    if (!CHECK (s_cluster_start () == 0, "PostgreSQL did not start")
    ||  !CHECK (s_pair_start (&pair) == 0, "the two brokers and the notifier did not start"))
        goto done;
    for (int round = 0; round < rounds; round++) {
        char before [32], after [32];
        snprintf (before, sizeof before, "before-%d", round);
        snprintf (after, sizeof after, "after-%d", round);
        char lapse [32], lapse_text [64], posted [32];
        snprintf (lapse, sizeof lapse, "lapse-%d", round);
        snprintf (lapse_text, sizeof lapse_text, " raised %s\n", lapse);
        snprintf (posted, sizeof posted, "web-%d", round);
        CHECK (ingest_event (pair.push, SOURCE, lapse, LAPSE_RAISE) == 0, "%s not sent", lapse);
        CHECK (s_raise_delivered (&pair, before), "%s not delivered", before);
        CHECK (s_lapse_pending (&pair, lapse), "%s is not pending on the active before the "
               "takeover", lapse);
        char gap [32];
        snprintf (gap, sizeof gap, "gap-%d", round);
        int64_t took = s_take_over (&pair, round == 1, gap);
        harness_note ("takeover %d (%s): the standby answered after %lld ms", round + 1,
                      round == 1 ? "session terminated" : "kill -9", (long long) took);
        if (round == 1)
            session_ms = took;
        else
            kill9 [kill9_count++] = took;
        CHECK (took >= 0 && took < FAILOVER_TARGET_MS, "takeover %d took %lld ms", round + 1,
               (long long) took);
        int64_t ready_at = broker_process_ready_at (pair.broker [pair.active]);
        if (clock_now_ms () < pair.killed_at + GRACE_MS)
            CHECK (s_lapse_pending (&pair, lapse) && file_count_text (pair.out, lapse_text) == 0,
                   "%s is not pending on the new active within its grace", lapse);
        alert_t row;
        if (CHECK (control_get_alert (pair.broker [pair.active], SOURCE, before, &row) == 0,
                   "the new active does not know %s", before)) {
            CHECK (row.state == ALERT_RAISED, "%s is %s on the new active", before,
                   alert_state_name (row.state));
            alert_clear_fields (&row);
        }
        CHECK (s_raise_delivered (&pair, after), "%s (raised after the takeover) not delivered",
               after);
        s_web_follows (&pair, after, posted);
        CHECK (s_delivered (&pair, gap, DELIVERY_MS),
               "%s, handed to the agent while no broker was active, not delivered", gap);
        broker_process_t *dead = pair.broker [1 - pair.active];
        CHECK (broker_process_spawn (dead) == 0 && s_standby_waits (&pair, 1 - pair.active),
               "the old active does not come back as a standby");
        s_lapse_raised_after_grace (&pair, lapse, ready_at);
    }
    //  Every line "SEQ EVENT ID": a seq names one change, however often it
    //  was delivered (at least once)
    char *text = file_read_all (pair.out);
    int seqs = 0, clashes = 0;
    struct { unsigned long seq; char id [32]; } seen [512];
    for (char *line = text; line && *line; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL) {
        unsigned long seq;
        char event [32], id [32];
        if (sscanf (line, "%lu %31s %31s", &seq, event, id) != 3)
            continue;
        for (int index = 0; index < seqs; index++)
            if (seen [index].seq == seq && strcmp (seen [index].id, id) != 0)
                clashes++;
        if (seqs < 512) {
            seen [seqs].seq = seq;
            snprintf (seen [seqs++].id, sizeof seen [0].id, "%s", id);
        }
    }
    CHECK (seqs >= 4 && clashes == 0, "%d changes delivered, %d seqs given to two alerts: %s",
           seqs, clashes, text ? text : "");
    CHECK (text && !strstr (text, " raised heartbeat\n"), "a heartbeat raised: %s", text);
    free (text);
    s_standbys (&pair);
    qsort (kill9, (size_t) kill9_count, sizeof kill9 [0], s_compare);
    if (kill9_count)
        harness_note ("failover figures: rounds=%d kill9_p50_ms=%lld kill9_max_ms=%lld "
                      "session_ms=%lld", rounds, (long long) kill9 [(kill9_count - 1) / 2],
                      (long long) kill9 [kill9_count - 1], (long long) session_ms);
done:
    web_process_destroy (&pair.web, check_case_failed);    //  killed: its clean stop is test_web's
    sandbox_destroy (&pair.web_box, check_case_failed);
    if (pair.notifier && notifier_process_running (pair.notifier))
        notifier_process_stop (pair.notifier);
    notifier_process_destroy (&pair.notifier, check_case_failed);
    zsock_destroy (&pair.push);
    if (pair.agent && agent_process_running (pair.agent))
        agent_process_stop (pair.agent);
    agent_process_destroy (&pair.agent, check_case_failed);
    sandbox_destroy (&pair.agent_box, check_case_failed);
    for (int which = 0; which < 2; which++) {
        if (pair.broker [which] && check_case_failed)
            broker_process_print_log (pair.broker [which]);
        broker_process_destroy (&pair.broker [which], check_case_failed);
        sandbox_destroy (&pair.box [which], check_case_failed);
    }
    s_cluster_stop (check_case_failed);
}

int
main (void)
{
    s_failover ();
    return check_done ();
}
