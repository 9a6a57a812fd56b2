/*  test_restart.c — what survives the broker's death, end to end.

    kill -9 after a transition was published: on restart (same database and
    ports) the alert, its history (`since` 0) and the seq counter are there,
    and the next change's seq is above every seq seen before. A pending
    heartbeat whose raise time passes while the broker is dead is raised at
    start + grace, not before (restart grace). SIGTERM: exit 0, and a change
    published just before is in the database after a restart.

    Each change is written once, as its history row; the alert's row
    follows at the checkpoint. kill -9 between the two (a checkpoint of an
    hour) loses nothing: the start lays the history over the rows, and the
    seq goes on. Heartbeat refreshes publish nothing and are written by the
    checkpoint, as three times in alert_times over a row already written:
    once the file shows the refreshed raise time, kill -9 keeps it; with a
    checkpoint of an hour, SIGTERM writes it on the way out.
*/
#include <sqlite3.h>
#include "../check.h"
#include "../harness/harness.h"
#include "timespec.h"

#define GRACE_MS  3000             //  broker config grace for the grace case

//  Restarts the broker and rejoins push and subscriber. 0 or -1.
static int
s_restart (testbed_t *bed)
{
    if (broker_process_start (bed->broker) != 0)
        return -1;
    return testbed_rejoin (bed);
}

//  True if `since` seq 0 (paged) holds a change with this seq, event,
//  source and id.
static bool
s_history_has (broker_process_t *broker, uint64_t seq, const char *event, const char *source, const char *id)
{
    uint64_t after = 0;
    for (int page = 0; page < 20; page++) {
        wire_doc_t *reply = control_ok (broker, "since", ARG_INT ("seq", after),
                                        ARG_INT ("limit", 1000), ARG_END);
        if (!reply)
            return false;
        const msgpack_object *changes = reply_get (reply, "changes");
        bool found = false;
        if (changes && changes->type == MSGPACK_OBJECT_ARRAY)
            for (uint32_t index = 0; index < changes->via.array.size && !found; index++) {
                alert_change_t change;
                char error [WIRE_ERROR_SIZE];
                if (alert_change_decode (&changes->via.array.ptr [index], &change,
                                         error, sizeof error) != 0) {
                    harness_note ("since: bad change: %s", error);
                    continue;
                }
                found = change.seq == seq && streq (change.event, event)
                     && streq (change.alert.source, source) && streq (change.alert.id, id);
                after = change.seq;
                alert_change_free (&change);
            }
        bool more = reply_bool (reply, "more", false);
        wire_doc_destroy (&reply);
        if (found)
            return true;
        if (!more)
            return false;
    }
    return false;
}

//  The integer `select` (one column, ?1 source and ?2 id) reads from the
//  database file beside the running broker; 0 when it finds no row.
static int64_t
s_stored_integer (broker_process_t *broker, const char *select, const char *source,
                  const char *id)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *query = NULL;
    int64_t value = 0;
    if (sqlite3_open_v2 (broker_process_database (broker), &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
    &&  sqlite3_busy_timeout (db, 1000) == SQLITE_OK
    &&  sqlite3_prepare_v2 (db, select, -1, &query, NULL) == SQLITE_OK
    &&  sqlite3_bind_text (query, 1, source, -1, SQLITE_STATIC) == SQLITE_OK
    &&  sqlite3_bind_text (query, 2, id, -1, SQLITE_STATIC) == SQLITE_OK
    &&  sqlite3_step (query) == SQLITE_ROW)
        value = sqlite3_column_int64 (query, 0);
    sqlite3_finalize (query);
    sqlite3_close (db);
    return value;
}

//  The raise_at that alert_times holds for (source, id); 0 when none.
static int64_t
s_stored_raise_at (broker_process_t *broker, const char *source, const char *id)
{
    return s_stored_integer (broker, "SELECT t.raise_at FROM alert_times t JOIN alerts a"
                             " ON t.alert = a.rowid WHERE a.source = ?1 AND a.id = ?2",
                             source, id);
}

//  The seq of the alert's row in the file (what the checkpoint wrote
//  last); 0 when it has no row.
static uint64_t
s_stored_row_seq (broker_process_t *broker, const char *source, const char *id)
{
    return (uint64_t) s_stored_integer (broker, "SELECT seq FROM alerts WHERE source = ?1"
                                        " AND id = ?2", source, id);
}

//  Sends a heartbeat +1h (pending), then (once its row is in the file, when
//  row_first: the refresh then goes to alert_times) refreshes it to +2h;
//  the refreshed raise time the broker holds, or 0.
static int64_t
s_refresh (testbed_t *bed, const char *source, const char *id, bool row_first)
{
    CHECK (ingest_event (bed->push, source, id, "+1h") == 0, "send");
    alert_change_t change;
    if (!CHECK (expect_change (bed->sub, "pending", source, id, 3000, &change) == 0, "not pending"))
        return 0;
    int64_t first = change.alert.raise_at;
    uint64_t seq = change.seq;
    alert_change_free (&change);
    int64_t deadline = clock_now_ms () + 3000;
    while (row_first && clock_now_ms () < deadline
           && s_stored_row_seq (bed->broker, source, id) != seq)
        harness_pause_ms (20);
    if (row_first && !CHECK (s_stored_row_seq (bed->broker, source, id) == seq,
                             "the row of seq %" PRIu64 " was not written within 3 s", seq))
        return 0;
    CHECK (ingest_event (bed->push, source, id, "+2h") == 0, "send the refresh");
    deadline = clock_now_ms () + 3000;
    alert_t row = { 0 };
    while (clock_now_ms () < deadline) {
        if (control_get_alert (bed->broker, source, id, &row) == 0 && row.raise_at > first)
            break;
        alert_clear_fields (&row);
        harness_pause_ms (10);
    }
    int64_t refreshed = row.raise_at > first ? row.raise_at : 0;
    CHECK (refreshed && row.state == ALERT_PENDING, "the refresh was not applied: raise_at %lld,"
           " %lld before, state %s", (long long) row.raise_at, (long long) first,
           alert_state_name (row.state));
    alert_clear_fields (&row);
    return refreshed;
}

//  The alert's raise time and state after the broker restarted.
static void
s_check_raise_at (testbed_t *bed, const char *source, const char *id, int64_t raise_at)
{
    alert_t row;
    if (CHECK (control_get_alert (bed->broker, source, id, &row) == 0, "alert lost")) {
        CHECK (row.raise_at == raise_at && row.state == ALERT_PENDING,
               "after restart: raise_at %lld, the refresh set %lld; state %s",
               (long long) row.raise_at, (long long) raise_at, alert_state_name (row.state));
        alert_clear_fields (&row);
    }
}

static void
s_refresh_kill9 (testbed_t *bed)
{
    const char *source = "refresh-host", *id = "heartbeat";
    TEST ("kill -9 after a refresh's checkpoint: the refreshed raise time is loaded");
    int64_t refreshed = s_refresh (bed, source, id, true);
    if (!refreshed)
        return;
    //  checkpoint 500ms: the times are written within it; watch the file
    int64_t deadline = clock_now_ms () + 3000;
    while (clock_now_ms () < deadline && s_stored_raise_at (bed->broker, source, id) != refreshed)
        harness_pause_ms (20);
    CHECK (s_stored_raise_at (bed->broker, source, id) == refreshed,
           "alert_times holds raise_at %lld, not the refreshed %lld, 3 s after the refresh",
           (long long) s_stored_raise_at (bed->broker, source, id), (long long) refreshed);
    CHECK (broker_process_kill (bed->broker) == 0, "kill");
    if (CHECK (s_restart (bed) == 0, "restart failed"))
        s_check_raise_at (bed, source, id, refreshed);
}

//  The alert as the broker holds it, into row; false if it has none.
static bool
s_get (testbed_t *bed, const char *source, const char *id, alert_t *row)
{
    return CHECK (control_get_alert (bed->broker, source, id, row) == 0, "no alert %s/%s",
                  source, id);
}

//  Changes committed (published) whose rows the checkpoint had not written
//  (an hour's checkpoint): after kill -9 the start replays them from
//  history. A refresh that came after a change and was not checkpointed is
//  lost (the change's raise time comes back): restart grace covers it, as
//  for any refresh within `checkpoint`.
static void
s_replay_kill9 (void)
{
    TEST ("kill -9 between changes' commits and their rows' checkpoint: history is replayed "
          "over the rows, the seq goes on");
    broker_process_config_t config = { .checkpoint = "1h" };
    testbed_t *bed = testbed_new ("replay", &config);
    if (!CHECK (bed, "testbed did not start"))
        return;
    const char *source = "replay-host";
    alert_change_t change;
    CHECK (ingest_event (bed->push, source, "disk", "+1h") == 0, "send");
    if (CHECK (expect_change (bed->sub, "pending", source, "disk", 3000, &change) == 0,
               "pending"))
        alert_change_free (&change);
    CHECK (testbed_raise (bed, source, "disk", &change) == 0, "raised");
    uint64_t raised_seq = change.seq;
    alert_change_free (&change);
    event_spec_t events [] = {
        { .id = "heartbeat", .raise = "+1h", .subject = "first" },
        { .id = "heartbeat", .raise = "+2h" },
    };
    batch_spec_t batch = { .source = source, .events = events, .event_count = 2 };
    CHECK (ingest_send (bed->push, &batch) == 0, "send the change and the refresh");
    int64_t changed = 0;
    uint64_t last_seq = 0;
    if (CHECK (expect_change (bed->sub, "pending", source, "heartbeat", 3000, &change) == 0,
               "heartbeat pending")) {
        changed = change.alert.raise_at;
        last_seq = change.seq;
        alert_change_free (&change);
    }
    CHECK (s_stored_row_seq (bed->broker, source, "disk") == 0
           && s_stored_row_seq (bed->broker, source, "heartbeat") == 0,
           "no row is written before the checkpoint");
    CHECK (broker_process_kill (bed->broker) == 0, "kill");
    alert_t row;
    if (CHECK (s_restart (bed) == 0, "restart failed")) {
        if (s_get (bed, source, "disk", &row)) {
            CHECK (row.state == ALERT_RAISED && row.seq == raised_seq,
                   "disk after restart: %s at seq %" PRIu64 ", published raised at %" PRIu64,
                   alert_state_name (row.state), row.seq, raised_seq);
            alert_clear_fields (&row);
        }
        if (s_get (bed, source, "heartbeat", &row)) {
            CHECK (row.state == ALERT_PENDING && row.raise_at == changed && row.seq == last_seq
                   && row.subject && streq (row.subject, "first"),
                   "heartbeat after restart: %s raise_at %lld (the change said %lld)",
                   alert_state_name (row.state), (long long) row.raise_at, (long long) changed);
            alert_clear_fields (&row);
        }
        CHECK (ingest_event (bed->push, source, "disk", "clear") == 0, "send the clear");
        if (CHECK (expect_change (bed->sub, "cleared", source, "disk", 3000, &change) == 0,
                   "cleared after restart")) {
            CHECK (change.seq > last_seq, "seq goes on: %" PRIu64 " after %" PRIu64,
                   change.seq, last_seq);
            alert_change_free (&change);
        }
    }
    CHECK (testbed_destroy (&bed, check_failed > 0 || check_case_failed) == 0,
           "broker did not exit cleanly");
}

static void
s_refresh_sigterm (void)
{
    const char *source = "refresh-host", *id = "heartbeat";
    TEST ("SIGTERM writes a refresh its hour-long checkpoint had not written yet");
    broker_process_config_t config = { .reminder_interval = "1h", .grace = "2s", .checkpoint = "1h" };
    testbed_t *bed = testbed_new ("refresh-term", &config);
    if (!CHECK (bed, "testbed did not start"))
        return;
    int64_t refreshed = s_refresh (bed, source, id, false);
    CHECK (s_stored_raise_at (bed->broker, source, id) == 0, "written before the checkpoint");
    CHECK (broker_process_stop (bed->broker) == 0, "exit status after SIGTERM is not 0");
    if (refreshed && CHECK (s_restart (bed) == 0, "restart failed"))
        s_check_raise_at (bed, source, id, refreshed);
    CHECK (testbed_destroy (&bed, check_failed > 0 || check_case_failed) == 0,
           "broker did not exit cleanly");
}

static void
s_kill9 (testbed_t *bed)
{
    const char *source = "kill-host";
    TEST ("kill -9 after a published transition: alert, history and seq survive");
    alert_change_t raised;
    if (!CHECK (testbed_raise (bed, source, "disk", &raised) == 0, "not raised"))
        return;
    uint64_t raised_seq = raised.seq;
    alert_change_free (&raised);
    CHECK (testbed_raise (bed, source, "load", NULL) == 0, "load not raised");
    uint64_t max_seq = subscriber_max_seq (bed->sub);
    CHECK (broker_process_kill (bed->broker) == 0, "kill");
    if (!CHECK (s_restart (bed) == 0, "restart on the same database failed"))
        return;
    alert_t row;
    if (CHECK (control_get_alert (bed->broker, source, "disk", &row) == 0, "alert lost")) {
        CHECK (row.state == ALERT_RAISED, "state %s after restart", alert_state_name (row.state));
        CHECK (row.seq >= raised_seq, "row seq %llu < %llu", (unsigned long long) row.seq,
               (unsigned long long) raised_seq);
        alert_clear_fields (&row);
    }
    CHECK (s_history_has (bed->broker, raised_seq, "raised", source, "disk"),
           "since 0 does not return the raised change seq %llu", (unsigned long long) raised_seq);
    wire_doc_t *ping = control_ok (bed->broker, "ping", ARG_END);
    CHECK (ping && (uint64_t) reply_int (ping, "seq", 0) >= raised_seq,
           "ping seq %lld below the last published %llu", (long long) reply_int (ping, "seq", 0),
           (unsigned long long) raised_seq);
    wire_doc_destroy (&ping);
    CHECK (ingest_event (bed->push, source, "disk", "clear") == 0, "send clear");
    alert_change_t cleared;
    if (CHECK (expect_change (bed->sub, "cleared", source, "disk", 3000, &cleared) == 0, "not cleared")) {
        CHECK (cleared.seq > max_seq, "seq %llu after restart is not above %llu seen before",
               (unsigned long long) cleared.seq, (unsigned long long) max_seq);
        alert_change_free (&cleared);
    }
}

static void
s_sigterm (testbed_t *bed)
{
    const char *source = "term-host";
    const char *id = "web";
    TEST ("SIGTERM: broker exits 0; a change published just before is in the db after restart");
    if (!CHECK (testbed_raise (bed, source, id, NULL) == 0, "not raised"))
        return;
    CHECK (ingest_event (bed->push, source, id, "clear") == 0, "send clear");
    alert_change_t cleared;
    if (!CHECK (expect_change (bed->sub, "cleared", source, id, 3000, &cleared) == 0, "not cleared"))
        return;
    uint64_t cleared_seq = cleared.seq;
    alert_change_free (&cleared);
    CHECK (broker_process_stop (bed->broker) == 0, "exit status after SIGTERM is not 0");
    if (!CHECK (s_restart (bed) == 0, "restart failed"))
        return;
    alert_t row;
    if (CHECK (control_get_alert (bed->broker, source, id, &row) == 0, "alert lost")) {
        CHECK (row.state == ALERT_CLEARED, "state %s after restart", alert_state_name (row.state));
        alert_clear_fields (&row);
    }
    CHECK (s_history_has (bed->broker, cleared_seq, "cleared", source, id),
           "the cleared change seq %llu is not in the history", (unsigned long long) cleared_seq);
}

static void
s_grace (void)
{
    const char *source = "grace-host";
    const char *id = "heartbeat";
    TEST ("restart grace: a heartbeat due while the broker was dead raises at start + grace");
    broker_process_config_t config = { .reminder_interval = "1s", .grace = "3s", .checkpoint = "500ms" };
    testbed_t *bed = testbed_new ("grace", &config);
    if (!CHECK (bed, "testbed did not start"))
        return;
    int64_t sent_at = clock_now_ms ();
    CHECK (ingest_event (bed->push, source, id, "+2s") == 0, "send");
    alert_change_t change;
    if (CHECK (expect_change (bed->sub, "pending", source, id, 2000, &change) == 0, "not pending"))
        alert_change_free (&change);
    CHECK (broker_process_kill (bed->broker) == 0, "kill");
    //  Wait (a wall-clock condition) until the raise time has passed.
    for (int count = 0; count < 400 && clock_now_ms () < sent_at + 2300; count++)
        harness_pause_ms (20);
    //  Look at the row as soon as the broker answers, then join the bus
    //  (which takes up to a second: one hugz) before start + grace.
    if (CHECK (broker_process_start (bed->broker) == 0, "restart failed")) {
        int64_t spawned = broker_process_spawned_at (bed->broker);
        int64_t ready = broker_process_ready_at (bed->broker);
        alert_t row;
        if (CHECK (control_get_alert (bed->broker, source, id, &row) == 0, "alert lost")) {
            CHECK (row.state == ALERT_PENDING, "state %s %lld ms after start (grace 3s)",
                   alert_state_name (row.state), (long long) (clock_now_ms () - spawned));
            alert_clear_fields (&row);
        }
        CHECK (testbed_rejoin (bed) == 0, "rejoin the bus");
        CHECK (clock_now_ms () < spawned + GRACE_MS - 200, "joined the bus only %lld ms after start",
               (long long) (clock_now_ms () - spawned));
        int64_t wait = spawned + GRACE_MS + 2000 - clock_now_ms ();
        if (CHECK (expect_change (bed->sub, "raised", source, id, (int) wait, &change) == 0,
                   "not raised by start + grace + 2 s")) {
            CHECK (change.at >= spawned + GRACE_MS, "raised %lld ms after the spawn (grace 3s)",
                   (long long) (change.at - spawned));
            CHECK (change.at <= ready + GRACE_MS + 1000, "raised %lld ms after ready (grace 3s, +1s allowed)",
                   (long long) (change.at - ready));
            alert_change_free (&change);
        }
    }
    CHECK (testbed_destroy (&bed, check_failed > 0 || check_case_failed) == 0,
           "broker did not exit cleanly");
}

int
main (void)
{
    testbed_t *bed = testbed_new ("restart", NULL);
    if (!bed) {
        TEST ("restart: testbed starts");
        CHECK (false, "broker did not start");
        return check_done ();
    }
    s_kill9 (bed);
    s_sigterm (bed);
    s_refresh_kill9 (bed);
    TEST ("restart: seq strictly increasing on the bus; broker exits 0 on SIGTERM");
    CHECK (subscriber_seq_errors (bed->sub) == 0, "seq not strictly increasing on the bus");
    CHECK (testbed_destroy (&bed, check_failed > 0 || check_case_failed) == 0,
           "broker did not exit cleanly");
    s_grace ();
    s_refresh_sigterm ();
    s_replay_kill9 ();
    return check_done ();
}
