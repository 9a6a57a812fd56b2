/*  bench_sqlite.c — the SQLite baseline for content-changing events: the
    plain batched upsert of the same rows into the broker's alerts schema.

    bench_sqlite DB_PATH ROWS IDS
    Creates DB_PATH with the schema of broker/store.c (WAL,
    synchronous=NORMAL, alerts a rowid table UNIQUE (source, id)), then
    upserts ROWS rows by (source, id),
    ids round-robin over IDS ("bench-%07d", source "bench"), each with a new
    subject, through one prepared statement, one transaction per 1000 rows.
    The row BLOB is what the broker stores: {v, alert} with alert_pack, built
    per row (packing is part of the work). Prints "rows=N seconds=S".
    Only the alerts upsert is timed: the broker also appends a history row
    per change, which this baseline does not. With a fourth argument
    "history" it does that too (the body is the row blob, the size of a
    change body): the least SQLite work a published change costs the
    broker, reported beside the baseline, not instead of it.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "alert.h"
#include "bench_sub.h"
#include "wire.h"

#define BENCH_ROWS_PER_TX 1000

static void
s_check (sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf (stderr, "bench_sqlite: %s: %s\n", what, sqlite3_errmsg (db));
        exit (1);
    }
}

int
main (int argc, char *argv [])
{
    if (argc < 4 || argc > 5 || (argc == 5 && strcmp (argv [4], "history") != 0)) {
        fprintf (stderr, "usage: bench_sqlite DB_PATH ROWS IDS [history]\n");
        return 2;
    }
    bool history = argc == 5;
    long rows = atol (argv [2]);
    long ids = atol (argv [3]);
    if (rows < 1 || ids < 1)
        return 2;
    sqlite3 *db;
    s_check (db, sqlite3_open (argv [1], &db), "open");
    s_check (db, sqlite3_exec (db,
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL;"
        "CREATE TABLE IF NOT EXISTS alerts ("
        "  source TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL,"
        "  level TEXT NOT NULL, changed_at INTEGER, seq INTEGER, row BLOB NOT NULL,"
        "  UNIQUE (source, id));"
        "CREATE TABLE IF NOT EXISTS history ("
        "  seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, event TEXT NOT NULL,"
        "  source TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL);", NULL, NULL, NULL),
        "schema");
    sqlite3_stmt *put, *append, *begin, *commit;
    s_check (db, sqlite3_prepare_v2 (db,
        "INSERT INTO history (seq, at, event, source, id, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        -1, &append, NULL), "prepare");
    s_check (db, sqlite3_prepare_v2 (db,
        "INSERT INTO alerts (source, id, state, level, changed_at, seq, row)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        " ON CONFLICT (source, id) DO UPDATE SET state = excluded.state,"
        " level = excluded.level, changed_at = excluded.changed_at,"
        " seq = excluded.seq, row = excluded.row", -1, &put, NULL), "prepare");
    s_check (db, sqlite3_prepare_v2 (db, "BEGIN", -1, &begin, NULL), "prepare");
    s_check (db, sqlite3_prepare_v2 (db, "COMMIT", -1, &commit, NULL), "prepare");

    wire_writer_t writer;
    wire_writer_init (&writer);
    int64_t now = (int64_t) time (NULL) * 1000;
    double started = bench_mono_s ();
    for (long row = 0; row < rows; row++) {
        if (row % BENCH_ROWS_PER_TX == 0) {
            s_check (db, sqlite3_step (begin), "begin");
            sqlite3_reset (begin);
        }
        char id [32], subject [32];
        snprintf (id, sizeof id, "bench-%07ld", row % ids);
        snprintf (subject, sizeof subject, "s%ld", row);
        alert_t alert = {
            .source = "bench", .id = id, .subject = subject, .level = LEVEL_NORMAL,
            .state = ALERT_PENDING, .raise_at = now + 300000, .created_at = now,
            .updated_at = now, .changed_at = now, .seq = (uint64_t) row + 1
        };
        wire_writer_reset (&writer);
        msgpack_pack_map (&writer.packer, 2);
        wire_pack_key_int (&writer.packer, "v", WIRE_VERSION);
        wire_pack_key (&writer.packer, "alert");
        alert_pack (&writer.packer, &alert);
        s_check (db, sqlite3_bind_text (put, 1, alert.source, -1, SQLITE_STATIC), "bind");
        s_check (db, sqlite3_bind_text (put, 2, id, -1, SQLITE_STATIC), "bind");
        s_check (db, sqlite3_bind_text (put, 3, alert_state_name (alert.state), -1,
                                        SQLITE_STATIC), "bind");
        s_check (db, sqlite3_bind_text (put, 4, alert_level_name (alert.level), -1,
                                        SQLITE_STATIC), "bind");
        s_check (db, sqlite3_bind_int64 (put, 5, alert.changed_at), "bind");
        s_check (db, sqlite3_bind_int64 (put, 6, (int64_t) alert.seq), "bind");
        s_check (db, sqlite3_bind_blob64 (put, 7, writer.buffer.data, writer.buffer.size,
                                          SQLITE_STATIC), "bind");
        s_check (db, sqlite3_step (put), "upsert");
        sqlite3_reset (put);
        if (history) {
            s_check (db, sqlite3_bind_int64 (append, 1, (int64_t) alert.seq), "bind");
            s_check (db, sqlite3_bind_int64 (append, 2, now), "bind");
            s_check (db, sqlite3_bind_text (append, 3, "updated", -1, SQLITE_STATIC), "bind");
            s_check (db, sqlite3_bind_text (append, 4, alert.source, -1, SQLITE_STATIC), "bind");
            s_check (db, sqlite3_bind_text (append, 5, id, -1, SQLITE_STATIC), "bind");
            s_check (db, sqlite3_bind_blob64 (append, 6, writer.buffer.data, writer.buffer.size,
                                              SQLITE_STATIC), "bind");
            s_check (db, sqlite3_step (append), "history insert");
            sqlite3_reset (append);
        }
        if (row % BENCH_ROWS_PER_TX == BENCH_ROWS_PER_TX - 1 || row == rows - 1) {
            s_check (db, sqlite3_step (commit), "commit");
            sqlite3_reset (commit);
        }
    }
    double seconds = bench_mono_s () - started;
    printf ("rows=%ld seconds=%.3f\n", rows, seconds);
    sqlite3_finalize (put);
    sqlite3_finalize (append);
    sqlite3_finalize (begin);
    sqlite3_finalize (commit);
    sqlite3_close (db);
    wire_writer_free (&writer);
    return 0;
}
