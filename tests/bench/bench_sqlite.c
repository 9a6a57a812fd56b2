/*  bench_sqlite.c — the SQLite baseline for content-changing events: the
    plain batched upsert of the same rows into the broker's alerts schema.

    bench_sqlite DB_PATH ROWS IDS [history|broker]
    Creates DB_PATH with the schema of broker/store.c (WAL,
    synchronous=NORMAL, alerts a rowid table UNIQUE (source, id)), then
    writes ROWS rows, ids round-robin over IDS ("bench-%07d", source
    "bench"), each with a new subject, through prepared statements, one
    transaction per 1000 rows. The row BLOB is what the broker stores:
    {v, alert} with alert_pack, built per row (packing is part of the work).
    Prints "rows=N seconds=S". The mode says what a row costs:
    - none: the upsert by (source, id) alone. This is the baseline.
    - history: the upsert and a history row (the body is the row blob, the
      size of a change body).
    - broker: what the broker writes for a change once it knows the alert:
      the row rewritten by rowid with its key checked (store.c), a history
      row, and the seq in meta once per transaction, with the log copied
      every 100 pages (STORE_CHECKPOINT_PAGES). Every id is inserted first,
      untimed, as the broker's alerts exist before their content changes.
    history and broker are reported beside the baseline, not instead of it:
    the least SQLite work a published change costs.
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

typedef enum { MODE_UPSERT, MODE_HISTORY, MODE_BROKER } bench_mode_t;

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *put;             //  upsert by (source, id)
    sqlite3_stmt *update;          //  rewrite by rowid, key checked
    sqlite3_stmt *append;          //  history row
    sqlite3_stmt *set_seq;         //  meta seq
    wire_writer_t writer;          //  the row blob
    int64_t now;
} bench_t;

static void
s_check (sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf (stderr, "bench_sqlite: %s: %s\n", what, sqlite3_errmsg (db));
        exit (1);
    }
}

static void
s_exec (bench_t *self, const char *sql)
{
    s_check (self->db, sqlite3_exec (self->db, sql, NULL, NULL, NULL), sql);
}

static sqlite3_stmt *
s_prepare (bench_t *self, const char *sql)
{
    sqlite3_stmt *statement;
    s_check (self->db, sqlite3_prepare_v2 (self->db, sql, -1, &statement, NULL), sql);
    return statement;
}

static void
s_open (bench_t *self, const char *path)
{
    s_check (self->db, sqlite3_open (path, &self->db), "open");
    s_exec (self,
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL;"
        "CREATE TABLE IF NOT EXISTS alerts ("
        "  source TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL,"
        "  level TEXT NOT NULL, changed_at INTEGER, seq INTEGER, row BLOB NOT NULL,"
        "  UNIQUE (source, id));"
        "CREATE TABLE IF NOT EXISTS history ("
        "  seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, event TEXT NOT NULL,"
        "  source TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL);"
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;");
    self->put = s_prepare (self,
        "INSERT INTO alerts (source, id, state, level, changed_at, seq, row)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        " ON CONFLICT (source, id) DO UPDATE SET state = excluded.state,"
        " level = excluded.level, changed_at = excluded.changed_at,"
        " seq = excluded.seq, row = excluded.row");
    self->update = s_prepare (self,
        "UPDATE alerts SET state = ?3, level = ?4, changed_at = ?5, seq = ?6, row = ?7"
        " WHERE rowid = ?8 AND source = ?1 AND id = ?2");
    self->append = s_prepare (self,
        "INSERT INTO history (seq, at, event, source, id, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    self->set_seq = s_prepare (self,
        "INSERT INTO meta (key, value) VALUES ('seq', ?1)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    wire_writer_init (&self->writer);
    self->now = (int64_t) time (NULL) * 1000;
}

static void
s_close (bench_t *self)
{
    sqlite3_finalize (self->put);
    sqlite3_finalize (self->update);
    sqlite3_finalize (self->append);
    sqlite3_finalize (self->set_seq);
    sqlite3_close (self->db);
    wire_writer_free (&self->writer);
}

static void
s_step (bench_t *self, sqlite3_stmt *statement, const char *what)
{
    s_check (self->db, sqlite3_step (statement), what);
    sqlite3_reset (statement);
}

//  Binds ?1..?7 of put or update to row number `row` of id `id`, its blob
//  packed as the broker packs it.
static void
s_bind_row (bench_t *self, sqlite3_stmt *statement, long row, char *id)
{
    char subject [32];
    alert_t alert;
    bench_row (&self->writer, &alert, row, id, subject, sizeof subject, self->now);
    s_check (self->db, sqlite3_bind_text (statement, 1, "bench", -1, SQLITE_STATIC), "bind");
    s_check (self->db, sqlite3_bind_text (statement, 2, id, -1, SQLITE_STATIC), "bind");
    s_check (self->db, sqlite3_bind_text (statement, 3, alert_state_name (alert.state), -1,
                                          SQLITE_STATIC), "bind");
    s_check (self->db, sqlite3_bind_text (statement, 4, alert_level_name (alert.level), -1,
                                          SQLITE_STATIC), "bind");
    s_check (self->db, sqlite3_bind_int64 (statement, 5, alert.changed_at), "bind");
    s_check (self->db, sqlite3_bind_int64 (statement, 6, (int64_t) alert.seq), "bind");
    s_check (self->db, sqlite3_bind_blob64 (statement, 7, self->writer.buffer.data,
                                            self->writer.buffer.size, SQLITE_STATIC), "bind");
}

//  The history row of row number `row`; its body is the row blob just packed.
static void
s_append (bench_t *self, long row, char *id)
{
    sqlite3_stmt *append = self->append;
    s_check (self->db, sqlite3_bind_int64 (append, 1, (int64_t) row + 1), "bind");
    s_check (self->db, sqlite3_bind_int64 (append, 2, self->now), "bind");
    s_check (self->db, sqlite3_bind_text (append, 3, "updated", -1, SQLITE_STATIC), "bind");
    s_check (self->db, sqlite3_bind_text (append, 4, "bench", -1, SQLITE_STATIC), "bind");
    s_check (self->db, sqlite3_bind_text (append, 5, id, -1, SQLITE_STATIC), "bind");
    s_check (self->db, sqlite3_bind_blob64 (append, 6, self->writer.buffer.data,
                                            self->writer.buffer.size, SQLITE_STATIC), "bind");
    s_step (self, append, "history insert");
}

//  One row in the mode's way; rowids are 1..IDS in id order (broker mode).
static void
s_write_row (bench_t *self, bench_mode_t mode, long row, long ids)
{
    char id [32];
    snprintf (id, sizeof id, "bench-%07ld", row % ids);
    if (mode == MODE_BROKER) {
        s_bind_row (self, self->update, row, id);
        s_check (self->db, sqlite3_bind_int64 (self->update, 8, row % ids + 1), "bind");
        s_step (self, self->update, "update");
    }
    else {
        s_bind_row (self, self->put, row, id);
        s_step (self, self->put, "upsert");
    }
    if (mode != MODE_UPSERT)
        s_append (self, row, id);
    if (mode == MODE_BROKER && (row % BENCH_ROWS_PER_TX == BENCH_ROWS_PER_TX - 1)) {
        s_check (self->db, sqlite3_bind_int64 (self->set_seq, 1, (int64_t) row + 1), "bind");
        s_step (self, self->set_seq, "seq");
    }
}

//  Rows first..first+count-1, one transaction per BENCH_ROWS_PER_TX.
static void
s_write_rows (bench_t *self, bench_mode_t mode, long first, long count, long ids)
{
    for (long row = first; row < first + count; row++) {
        if ((row - first) % BENCH_ROWS_PER_TX == 0)
            s_exec (self, "BEGIN");
        s_write_row (self, mode, row, ids);
        if ((row - first) % BENCH_ROWS_PER_TX == BENCH_ROWS_PER_TX - 1 || row == first + count - 1)
            s_exec (self, "COMMIT");
    }
}

int
main (int argc, char *argv [])
{
    bench_mode_t mode = argc == 5 && strcmp (argv [4], "history") == 0 ? MODE_HISTORY
                 : argc == 5 && strcmp (argv [4], "broker") == 0 ? MODE_BROKER : MODE_UPSERT;
    long rows = argc >= 4 ? atol (argv [2]) : 0;
    long ids = argc >= 4 ? atol (argv [3]) : 0;
    if (argc < 4 || argc > 5 || (argc == 5 && mode == MODE_UPSERT) || rows < 1 || ids < 1) {
        fprintf (stderr, "usage: bench_sqlite DB_PATH ROWS IDS [history|broker]\n");
        return 2;
    }
    bench_t self = { 0 };
    s_open (&self, argv [1]);
    if (mode == MODE_BROKER) {
        s_write_rows (&self, MODE_UPSERT, 0, ids, ids);     //  the alerts exist: untimed
        sqlite3_wal_autocheckpoint (self.db, 100);
        s_exec (&self, "PRAGMA wal_checkpoint(TRUNCATE)");
    }
    double started = bench_mono_s ();
    s_write_rows (&self, mode, mode == MODE_BROKER ? ids : 0, rows, ids);
    printf ("rows=%ld seconds=%.3f\n", rows, bench_mono_s () - started);
    s_close (&self);
    return 0;
}
