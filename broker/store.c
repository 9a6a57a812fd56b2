/*  store.c — SQLite persistence for the broker. See store.h for the schema.

    Statements are prepared once in store_open and reset after each use;
    every sqlite3_* return is checked and a failure leaves the message in
    store_error() for the caller to log. The caller owns transactions.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include "log.h"
#include "mem.h"
#include "store.h"

//  Another process holding the file (a backup, the sqlite3 shell) must not
//  stall the broker's only thread: wait a little, then fail the commit and
//  let the loop retry it after BROKER_COMMIT_RETRY_MS.
#define STORE_BUSY_TIMEOUT_MS 20

static const char s_schema [] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    //  SQLite copies the log into the database inside the commit that
    //  passes this many pages, on the loop's thread. At the default (1000)
    //  each copy stalled the loop 12-18 ms; at 100 the stalls are a tenth
    //  as long and transition latency p99 fell from 13 to 7 ms (make bench).
    "PRAGMA wal_autocheckpoint=100;"
    "CREATE TABLE IF NOT EXISTS alerts ("
    "  source TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL,"
    "  level TEXT NOT NULL, changed_at INTEGER, seq INTEGER, row BLOB NOT NULL,"
    "  PRIMARY KEY (source, id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS history ("
    "  seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, event TEXT NOT NULL,"
    "  source TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL);"
    //  No index on at: retention walks the oldest rows by seq (STMT_PRUNE),
    //  and each change saves a second b-tree insert (store_put_change fell
    //  from 18% to 13% of the content path, perf).
    "DROP INDEX IF EXISTS history_at;"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;";

//  Every statement the broker runs, prepared once.
typedef enum {
    STMT_BEGIN, STMT_COMMIT, STMT_ROLLBACK,
    STMT_PUT_ALERT, STMT_DELETE_ALERT, STMT_PUT_CHANGE, STMT_SET_SEQ,
    STMT_LOAD, STMT_LAST_SEQ, STMT_SINCE, STMT_OLDEST, STMT_PRUNE,
    STMT_COUNT
} statement_t;

static const char *const s_sql [STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_PUT_ALERT] =
        "INSERT INTO alerts (source, id, state, level, changed_at, seq, row)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        " ON CONFLICT (source, id) DO UPDATE SET state = excluded.state,"
        " level = excluded.level, changed_at = excluded.changed_at,"
        " seq = excluded.seq, row = excluded.row",
    [STMT_DELETE_ALERT] = "DELETE FROM alerts WHERE source = ?1 AND id = ?2",
    [STMT_PUT_CHANGE] =
        "INSERT INTO history (seq, at, event, source, id, body)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [STMT_SET_SEQ] =
        "INSERT INTO meta (key, value) VALUES ('seq', ?1)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [STMT_LOAD] = "SELECT row FROM alerts",
    [STMT_LAST_SEQ] =
        "SELECT max (coalesce ((SELECT value FROM meta WHERE key = 'seq'), 0),"
        " coalesce ((SELECT max (seq) FROM history), 0))",
    [STMT_SINCE] = "SELECT seq, body FROM history WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [STMT_OLDEST] = "SELECT coalesce (min (seq), 0) FROM history",
    //  Looks only at the ?2 oldest rows (seq order is time order, give or
    //  take a clock step), so a run is bounded with or without expired rows.
    [STMT_PRUNE] = "DELETE FROM history WHERE seq IN (SELECT seq FROM"
                   " (SELECT seq, at FROM history ORDER BY seq LIMIT ?2) WHERE at < ?1)",
};

struct _store_t {
    sqlite3 *db;                           //  the one writer connection
    sqlite3_stmt *statements [STMT_COUNT]; //  prepared once
    wire_writer_t row;                     //  scratch buffer for alert rows
};

const char *
store_error (store_t *self)
{
    return sqlite3_errmsg (self->db);
}

store_t *
store_open (const char *path, char *error, size_t error_size)
{
    store_t *self = mem_alloc (sizeof (store_t));
    wire_writer_init (&self->row);
    if (sqlite3_open (path, &self->db) != SQLITE_OK) {
        snprintf (error, error_size, "cannot open database %s: %s", path,
                  self->db ? sqlite3_errmsg (self->db) : "out of memory");
        store_destroy (&self);
        return NULL;
    }
    if (sqlite3_busy_timeout (self->db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK
    ||  sqlite3_exec (self->db, s_schema, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf (error, error_size, "cannot set up database %s: %s", path,
                  sqlite3_errmsg (self->db));
        store_destroy (&self);
        return NULL;
    }
    for (int index = 0; index < STMT_COUNT; index++)
        if (sqlite3_prepare_v3 (self->db, s_sql [index], -1, SQLITE_PREPARE_PERSISTENT,
                                &self->statements [index], NULL) != SQLITE_OK) {
            snprintf (error, error_size, "cannot prepare statement in %s: %s", path,
                      sqlite3_errmsg (self->db));
            store_destroy (&self);
            return NULL;
        }
    return self;
}

void
store_destroy (store_t **self_p)
{
    if (!*self_p)
        return;
    store_t *self = *self_p;
    for (int index = 0; index < STMT_COUNT; index++)
        sqlite3_finalize (self->statements [index]);
    if (self->db && sqlite3_close (self->db) != SQLITE_OK)
        log_error ("closing database: %s", sqlite3_errmsg (self->db));
    wire_writer_free (&self->row);
    mem_free (self);
    *self_p = NULL;
}

//  Runs a statement that returns no rows, then resets it. 0 / -1.
static int
s_run (store_t *self, statement_t which)
{
    sqlite3_stmt *statement = self->statements [which];
    int rc = sqlite3_step (statement);
    sqlite3_reset (statement);
    sqlite3_clear_bindings (statement);
    return rc == SQLITE_DONE ? 0 : -1;
}

int
store_begin (store_t *self)
{
    return s_run (self, STMT_BEGIN);
}

int
store_commit (store_t *self)
{
    return s_run (self, STMT_COMMIT);
}

void
store_rollback (store_t *self)
{
    if (sqlite3_get_autocommit (self->db))
        return;         //  no transaction open (SQLite may have rolled back itself)
    if (s_run (self, STMT_ROLLBACK))
        log_error ("rollback failed: %s", sqlite3_errmsg (self->db));
}

static int
s_bind_text (sqlite3_stmt *statement, int column, const char *text)
{
    return sqlite3_bind_text (statement, column, text, -1, SQLITE_STATIC) == SQLITE_OK ? 0 : -1;
}

static int
s_bind_blob (sqlite3_stmt *statement, int column, const void *data, size_t size)
{
    return sqlite3_bind_blob64 (statement, column, data, size, SQLITE_STATIC) == SQLITE_OK ? 0 : -1;
}

static int
s_bind_int (sqlite3_stmt *statement, int column, int64_t value)
{
    return sqlite3_bind_int64 (statement, column, value) == SQLITE_OK ? 0 : -1;
}

int
store_put_alert (store_t *self, const alert_t *alert)
{
    wire_writer_reset (&self->row);
    msgpack_packer *packer = &self->row.packer;
    msgpack_pack_map (packer, 2);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key (packer, "alert");
    alert_pack (packer, alert);

    sqlite3_stmt *statement = self->statements [STMT_PUT_ALERT];
    if (s_bind_text (statement, 1, alert->source)
    ||  s_bind_text (statement, 2, alert->id)
    ||  s_bind_text (statement, 3, alert_state_name (alert->state))
    ||  s_bind_text (statement, 4, alert_level_name (alert->level))
    ||  s_bind_int (statement, 5, alert->changed_at)
    ||  s_bind_int (statement, 6, (int64_t) alert->seq)
    ||  s_bind_blob (statement, 7, self->row.buffer.data, self->row.buffer.size))
        return -1;
    return s_run (self, STMT_PUT_ALERT);
}

int
store_delete_alert (store_t *self, const char *source, const char *id)
{
    sqlite3_stmt *statement = self->statements [STMT_DELETE_ALERT];
    if (s_bind_text (statement, 1, source) || s_bind_text (statement, 2, id))
        return -1;
    return s_run (self, STMT_DELETE_ALERT);
}

int
store_put_change (store_t *self, uint64_t seq, int64_t at, const char *event,
                  const alert_t *alert, const void *body, size_t size)
{
    sqlite3_stmt *statement = self->statements [STMT_PUT_CHANGE];
    if (s_bind_int (statement, 1, (int64_t) seq)
    ||  s_bind_int (statement, 2, at)
    ||  s_bind_text (statement, 3, event)
    ||  s_bind_text (statement, 4, alert->source)
    ||  s_bind_text (statement, 5, alert->id)
    ||  s_bind_blob (statement, 6, body, size))
        return -1;
    return s_run (self, STMT_PUT_CHANGE);
}

int
store_set_seq (store_t *self, uint64_t seq)
{
    if (s_bind_int (self->statements [STMT_SET_SEQ], 1, (int64_t) seq))
        return -1;
    return s_run (self, STMT_SET_SEQ);
}

//  Decodes one stored row {v, alert}; 0 or -1 with a reason.
static int
s_decode_row (const void *data, size_t size, alert_t *alert, char *error, size_t error_size)
{
    wire_doc_t *doc = wire_doc_new (data, size, error, error_size);
    if (!doc)
        return -1;
    const msgpack_object *map = wire_get (wire_doc_root (doc), "alert");
    int rc = map ? alert_decode (map, alert, error, error_size) : -1;
    if (!map)
        snprintf (error, error_size, "row has no alert");
    wire_doc_destroy (&doc);
    return rc ? -1 : 0;
}

int
store_load (store_t *self, store_alert_fn *each, void *arg)
{
    sqlite3_stmt *statement = self->statements [STMT_LOAD];
    int rc;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW) {
        alert_t alert = { 0 };
        char error [WIRE_ERROR_SIZE];
        const void *data = sqlite3_column_blob (statement, 0);
        size_t size = (size_t) sqlite3_column_bytes (statement, 0);
        if (s_decode_row (data, size, &alert, error, sizeof error))
            log_error ("skipping a stored alert that does not decode: %s", error);
        else
            each (&alert, arg);
    }
    sqlite3_reset (statement);
    return rc == SQLITE_DONE ? 0 : -1;
}

//  Runs a one-row, one-integer query. 0 / -1.
static int
s_query_integer (store_t *self, statement_t which, int64_t *value)
{
    sqlite3_stmt *statement = self->statements [which];
    int rc = sqlite3_step (statement);
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64 (statement, 0);
    sqlite3_reset (statement);
    return rc == SQLITE_ROW ? 0 : -1;
}

int
store_last_seq (store_t *self, uint64_t *seq)
{
    int64_t value;
    if (s_query_integer (self, STMT_LAST_SEQ, &value))
        return -1;
    *seq = (uint64_t) value;
    return 0;
}

int
store_oldest_seq (store_t *self, uint64_t *seq)
{
    int64_t value;
    if (s_query_integer (self, STMT_OLDEST, &value))
        return -1;
    *seq = (uint64_t) value;
    return 0;
}

int
store_since (store_t *self, uint64_t after, size_t limit,
             store_change_fn *each, void *arg, size_t *count)
{
    sqlite3_stmt *statement = self->statements [STMT_SINCE];
    *count = 0;
    if (s_bind_int (statement, 1, (int64_t) after)
    ||  s_bind_int (statement, 2, (int64_t) limit))
        return -1;
    int rc;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW) {
        uint64_t seq = (uint64_t) sqlite3_column_int64 (statement, 0);
        const void *body = sqlite3_column_blob (statement, 1);
        size_t size = (size_t) sqlite3_column_bytes (statement, 1);
        each (seq, body, size, arg);
        (*count)++;
    }
    sqlite3_reset (statement);
    sqlite3_clear_bindings (statement);
    return rc == SQLITE_DONE ? 0 : -1;
}

int
store_prune_history (store_t *self, int64_t before, int limit, int *deleted)
{
    if (s_bind_int (self->statements [STMT_PRUNE], 1, before)
    ||  s_bind_int (self->statements [STMT_PRUNE], 2, limit))
        return -1;
    if (s_run (self, STMT_PRUNE))
        return -1;
    *deleted = sqlite3_changes (self->db);
    return 0;
}
