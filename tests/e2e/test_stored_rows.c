/*  test_stored_rows.c — the database is outside input too.

    A row that breaks the state machine's invariants (here: state acked with
    nobody named as acking it) is what a hand edit, an old version or a bad
    restore leaves behind. The broker must load it, say so, repair it, and
    keep serving — not abort on an assert at the first event for it.
*/
#include <sqlite3.h>
#include <string.h>
#include "../check.h"
#include "../harness/harness.h"

//  Rewrites the stored row of (source, id) as acked without acked_by. 0 / -1.
static int
s_break_row (const char *database, const char *source, const char *id)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *select = NULL, *update = NULL;
    wire_doc_t *doc = NULL;
    alert_t alert = { 0 };
    wire_writer_t row;
    wire_writer_init (&row);
    char error [WIRE_ERROR_SIZE];
    int rc = -1;
    if (sqlite3_open (database, &db) != SQLITE_OK
    ||  sqlite3_prepare_v2 (db, "SELECT row FROM alerts WHERE source = ?1 AND id = ?2",
                            -1, &select, NULL) != SQLITE_OK
    ||  sqlite3_bind_text (select, 1, source, -1, SQLITE_STATIC) != SQLITE_OK
    ||  sqlite3_bind_text (select, 2, id, -1, SQLITE_STATIC) != SQLITE_OK
    ||  sqlite3_step (select) != SQLITE_ROW)
        goto done;
    doc = wire_doc_new (sqlite3_column_blob (select, 0), (size_t) sqlite3_column_bytes (select, 0),
                        error, sizeof error);
    if (!doc || alert_decode (wire_get (wire_doc_root (doc), "alert"), &alert, error, sizeof error))
        goto done;
    alert.state = ALERT_ACKED;
    free (alert.acked_by);
    alert.acked_by = NULL;
    msgpack_pack_map (&row.packer, 2);
    wire_pack_key_int (&row.packer, "v", WIRE_VERSION);
    wire_pack_key (&row.packer, "alert");
    alert_pack (&row.packer, &alert);
    if (sqlite3_prepare_v2 (db, "UPDATE alerts SET state = 'acked', row = ?1"
                                " WHERE source = ?2 AND id = ?3", -1, &update, NULL) == SQLITE_OK
    &&  sqlite3_bind_blob (update, 1, row.buffer.data, (int) row.buffer.size, SQLITE_STATIC) == SQLITE_OK
    &&  sqlite3_bind_text (update, 2, source, -1, SQLITE_STATIC) == SQLITE_OK
    &&  sqlite3_bind_text (update, 3, id, -1, SQLITE_STATIC) == SQLITE_OK
    &&  sqlite3_step (update) == SQLITE_DONE && sqlite3_changes (db) == 1)
        rc = 0;
done:
    if (rc)
        harness_note ("could not rewrite the row: %s / %s", db ? sqlite3_errmsg (db) : "-", error);
    alert_clear_fields (&alert);
    wire_doc_destroy (&doc);
    wire_writer_free (&row);
    sqlite3_finalize (select);
    sqlite3_finalize (update);
    sqlite3_close (db);
    return rc;
}

int
main (void)
{
    broker_process_config_t config = { .reminder_interval = "1h", .grace = "1s" };
    testbed_t *bed = testbed_new ("stored-rows", &config);
    TEST ("a stored row that breaks the invariants is repaired on load, not asserted on");
    if (!CHECK (bed, "could not start the broker"))
        return check_done ();
    const char *source = "disk";
    CHECK (testbed_raise (bed, source, "broken", NULL) == 0, "raise");
    CHECK (broker_process_stop (bed->broker) == 0, "SIGTERM exit 0");
    CHECK (s_break_row (broker_process_database (bed->broker), source, "broken") == 0, "rewrite");
    CHECK (broker_process_start (bed->broker) == 0, "restart with the broken row");
    CHECK (testbed_rejoin (bed) == 0, "rejoin");
    alert_t alert = { 0 };
    if (CHECK (control_get_alert (bed->broker, source, "broken", &alert) == 0, "get")) {
        CHECK (alert.state == ALERT_ACKED && alert.acked_by, "not repaired: state %s, acked_by %s",
               alert_state_name (alert.state), alert.acked_by ? alert.acked_by : "(none)");
        alert_clear_fields (&alert);
    }
    CHECK (ingest_event (bed->push, source, "broken", "clear") == 0, "send clear");
    alert_change_t change;
    if (CHECK (expect_change (bed->sub, "cleared", source, "broken", 3000, &change) == 0,
               "no cleared: the broker died on the event?"))
        alert_change_free (&change);
    CHECK (broker_process_running (bed->broker), "broker is gone");
    bool failed = check_failed > 0 || check_case_failed;
    if (testbed_destroy (&bed, failed))
        CHECK (false, "broker did not exit 0");
    return check_done ();
}
