/*  store_sqlite.c — the broker's store on SQLite (store.h's interface;
    its comment gives the schema).

    Statements are prepared once in s_sqlite_open and reset after each use;
    every sqlite3_* return is checked and a failure leaves the message in
    s_sqlite_error() for the caller to log. The caller owns transactions.
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <czmq.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "mem.h"
#include "signals.h"
#include "store.h"

//  Another process holding the file (a backup, the sqlite3 shell) must not
//  stall the broker's only thread: wait a little, then fail the commit and
//  let the loop retry it after BROKER_COMMIT_RETRY_MS.
#define STORE_BUSY_TIMEOUT_MS 20

//  The log is copied into the database (a checkpoint) once it holds this
//  many pages, by the log copier: a thread of the store's own, with a
//  connection of its own, that the broker's store_maintain asks after it
//  published. Never by SQLite inside a commit (the automatic checkpoint
//  runs in the commit that crosses the mark, so a change waited for the
//  copy and its two fsyncs before it could be published), and never on the
//  loop: a copy's fsyncs took up to 88 ms under another process's disk
//  writes (strace), and the loop's timers and ingest waited on them. In
//  WAL mode a copy and the loop's transactions run side by side; SQLite
//  keeps the file consistent between its two connections.
#define STORE_CHECKPOINT_PAGES 100

//  The log starts over from its first page only when a transaction begins
//  with every page of it copied, and under steady writes a copy running
//  beside the loop always has a newer transaction behind it: the log would
//  grow without end. So once it holds STORE_RESTART_PAGES, a commit's
//  answer waits (store_commit_poll says 1, the loop goes on meanwhile) for
//  a copy that no writer races, at most STORE_RESTART_COPIES copies or
//  STORE_RESTART_WAIT_MS; the next transaction then starts the log over.
//  Its changes are published that much later, once in about a hundred
//  copies: at 1000 pages (once in ten), under another process's disk
//  writes, a raised change's p50 was 9 to 21 ms and its p99 119 to 169 ms;
//  at 10000, 1.0 ms and 87 to 96 ms (timers by hand, durability normal).
#define STORE_RESTART_PAGES    10000
#define STORE_RESTART_COPIES   2
#define STORE_RESTART_WAIT_MS  1000

//  A copy not answered after this long is said by store_maintain, and
//  again each time as long after: a copier stuck on a disk that hangs (its
//  fsync never returns, while commits with durability = normal still go
//  into the log) or a thread gone would otherwise leave the log growing
//  without a word. No new copy is asked meanwhile: WAL allows one at once.
#define STORE_COPY_OVERDUE_MS  30000

//  At start the alerts table is checked (PRAGMA quick_check over it alone)
//  for at most this long: damage there would otherwise be loaded silently,
//  or not at all. History is not checked at start: it is large, and a
//  `since` that meets damage says so (s_sqlite_since fails; the broker sends
//  the subscriber to `snapshot`).
#define STORE_QUICK_CHECK_MS 10000

//  A handle (store_handle_t) is the alert's rowid, with S_HANDLE_TIMES set
//  while an alert_times row stands over the row (a full write deletes it).
#define S_HANDLE_TIMES  (1ULL << 63)
#define S_HANDLE_ROW(handle)  ((int64_t) ((handle) & ~S_HANDLE_TIMES))

//  Alerts live in a rowid table: the broker keeps each alert's rowid and
//  rewrites the row by it (STMT_UPDATE_ALERT), one integer seek instead of
//  a text-key seek — 1.9 instead of 3.2 us a row for 100,000 alerts (a
//  plain SQLite loop); alert_times is keyed by the same rowid. The unique
//  index on (source, id) serves the upsert of a row whose rowid is not
//  known yet.
#define STORE_ALERTS_TABLE(name)                                                    \
    "CREATE TABLE IF NOT EXISTS " name " ("                                         \
    "  source TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL,"               \
    "  level TEXT NOT NULL, changed_at INTEGER, seq INTEGER, row BLOB NOT NULL,"    \
    "  UNIQUE (source, id));"

static const char s_schema [] =
    "PRAGMA journal_mode=WAL;"
    STORE_ALERTS_TABLE ("alerts")
    //  What a heartbeat refresh moves, and nothing else: 100,000 refreshes a
    //  second rewrite 20-byte rows here instead of 200-byte alert rows, so
    //  the log grows a tenth as fast and is copied a tenth as often.
    "CREATE TABLE IF NOT EXISTS alert_times ("
    "  alert INTEGER PRIMARY KEY, updated_at INTEGER NOT NULL,"
    "  raise_at INTEGER NOT NULL, clear_at INTEGER NOT NULL);"
    //  prev_seq: the seq of the same alert's change before this one (0 for
    //  its first), so one alert's history is a chain walked by primary key
    //  (store_history) — no index on (source, id), which would cost every
    //  change a second b-tree insert.
    "CREATE TABLE IF NOT EXISTS history ("
    "  seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, event TEXT NOT NULL,"
    "  source TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL,"
    "  prev_seq INTEGER NOT NULL DEFAULT 0);"
    //  No index on at: retention walks the oldest rows by seq (STMT_PRUNE),
    //  and each change saves a second b-tree insert (s_sqlite_put_change fell
    //  from 18% to 13% of the content path, perf).
    "DROP INDEX IF EXISTS history_at;"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    //  One row per silence: body is its latest change body as published
    //  (silence.h), rewritten with each of its changes in the same
    //  transaction as their history rows; ends is for retention.
    "CREATE TABLE IF NOT EXISTS silences ("
    "  id TEXT PRIMARY KEY, ends INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  body BLOB NOT NULL) WITHOUT ROWID;";

//  Databases written before the rowid table kept alerts WITHOUT ROWID,
//  keyed by (source, id); their rows move over once, in one transaction.
static const char s_is_old_alerts [] =
    "SELECT count (*) FROM sqlite_schema"
    " WHERE type = 'table' AND name = 'alerts' AND sql LIKE '%WITHOUT ROWID%'";
static const char s_migrate_alerts [] =
    "BEGIN;"
    "ALTER TABLE alerts RENAME TO alerts_without_rowid;"
    STORE_ALERTS_TABLE ("alerts")
    "INSERT INTO alerts (source, id, state, level, changed_at, seq, row)"
    "  SELECT source, id, state, level, changed_at, seq, row FROM alerts_without_rowid;"
    "DROP TABLE alerts_without_rowid;"
    "COMMIT;";

//  History written before prev_seq gets the column and its chains, once, in
//  one transaction (a temporary index makes the back-fill one seek a row).
static const char s_is_old_history [] =
    "SELECT count (*) FROM pragma_table_info ('history') WHERE name = 'prev_seq'";
static const char s_link_history [] =
    "BEGIN;"
    "ALTER TABLE history ADD COLUMN prev_seq INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX history_chain_migration ON history (source, id, seq);"
    "UPDATE history SET prev_seq = coalesce ((SELECT max (older.seq) FROM history older"
    "  WHERE older.source = history.source AND older.id = history.id"
    "  AND older.seq < history.seq), 0);"
    "DROP INDEX history_chain_migration;"
    "COMMIT;";

//  A checkpoint writes the times of every refreshed alert, 100,000 a
//  second in the benchmarks, on the loop: most of a row's cost was its
//  statement's own, not the row's. So store_put_times keeps the times and
//  writes them STORE_TIMES_MANY to one statement (STMT_PUT_TIMES_MANY),
//  the rest one by one before any other statement runs (s_run): 290
//  instead of 670 to 940 ns a row in a plain SQLite loop of 256-row
//  transactions over 100,000 rows (16 rows to a statement gave 310), 280
//  instead of 472 through the store's interface. Within a statement a
//  later row of the same alert wins, as it would one statement each.
#define STORE_TIMES_MANY  64
#define S_TIMES_VALUES_1  "(?,?,?,?)"
#define S_TIMES_VALUES_4  S_TIMES_VALUES_1 "," S_TIMES_VALUES_1 "," S_TIMES_VALUES_1 "," S_TIMES_VALUES_1
#define S_TIMES_VALUES_16 S_TIMES_VALUES_4 "," S_TIMES_VALUES_4 "," S_TIMES_VALUES_4 "," S_TIMES_VALUES_4
#define S_TIMES_VALUES_64 S_TIMES_VALUES_16 "," S_TIMES_VALUES_16 "," S_TIMES_VALUES_16 "," S_TIMES_VALUES_16

//  The times of one alert, kept until written (s_write_kept_times).
typedef struct {
    int64_t row_id, updated_at, raise_at, clear_at;
} s_times_t;

//  Every statement the broker runs, prepared once.
typedef enum {
    STMT_BEGIN, STMT_COMMIT, STMT_ROLLBACK, STMT_SYNC_FULL, STMT_SYNC_NORMAL,
    STMT_PUT_ALERT, STMT_UPDATE_ALERT, STMT_DELETE_ALERT,
    STMT_PUT_TIMES, STMT_PUT_TIMES_MANY, STMT_DELETE_TIMES, STMT_PUT_CHANGE, STMT_SET_SEQ, STMT_SET_ROWS_SEQ,
    STMT_ROWS_SEQ,
    STMT_LOAD, STMT_LAST_SEQ, STMT_SINCE, STMT_OLDEST, STMT_PRUNE, STMT_HISTORY_ROW,
    STMT_PUT_SILENCE, STMT_LOAD_SILENCES, STMT_PRUNE_SILENCES,
    STMT_COUNT
} statement_t;

static const char *const s_sql [STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_SYNC_FULL] = "PRAGMA synchronous=FULL",
    [STMT_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
    [STMT_PUT_ALERT] =
        "INSERT INTO alerts (source, id, state, level, changed_at, seq, row)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        " ON CONFLICT (source, id) DO UPDATE SET state = excluded.state,"
        " level = excluded.level, changed_at = excluded.changed_at,"
        " seq = excluded.seq, row = excluded.row RETURNING rowid",
    [STMT_UPDATE_ALERT] =
        "UPDATE alerts SET state = ?3, level = ?4, changed_at = ?5, seq = ?6, row = ?7"
        " WHERE rowid = ?8 AND source = ?1 AND id = ?2",
    [STMT_DELETE_ALERT] = "DELETE FROM alerts WHERE source = ?1 AND id = ?2",
    [STMT_PUT_TIMES] =
        "INSERT INTO alert_times (alert, updated_at, raise_at, clear_at)"
        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (alert) DO UPDATE SET"
        " updated_at = excluded.updated_at, raise_at = excluded.raise_at,"
        " clear_at = excluded.clear_at",
    [STMT_PUT_TIMES_MANY] =
        "INSERT INTO alert_times (alert, updated_at, raise_at, clear_at)"
        " VALUES " S_TIMES_VALUES_64 " ON CONFLICT (alert) DO UPDATE SET"
        " updated_at = excluded.updated_at, raise_at = excluded.raise_at,"
        " clear_at = excluded.clear_at",
    [STMT_DELETE_TIMES] = "DELETE FROM alert_times WHERE alert = ?1",
    [STMT_PUT_CHANGE] =
        "INSERT INTO history (seq, at, event, source, id, body, prev_seq)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [STMT_SET_SEQ] =
        "INSERT INTO meta (key, value) VALUES ('seq', ?1)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [STMT_SET_ROWS_SEQ] =
        "INSERT INTO meta (key, value) VALUES ('rows_seq', ?1)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [STMT_ROWS_SEQ] = "SELECT value FROM meta WHERE key = 'rows_seq'",
    [STMT_LOAD] =
        "SELECT a.rowid, a.row, t.updated_at, t.raise_at, t.clear_at"
        " FROM alerts a LEFT JOIN alert_times t ON t.alert = a.rowid",
    [STMT_LAST_SEQ] =
        "SELECT max (coalesce ((SELECT value FROM meta WHERE key = 'seq'), 0),"
        " coalesce ((SELECT max (seq) FROM history), 0))",
    [STMT_SINCE] = "SELECT seq, body FROM history WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [STMT_OLDEST] = "SELECT coalesce (min (seq), 0) FROM history",
    [STMT_HISTORY_ROW] = "SELECT source, id, prev_seq, body FROM history WHERE seq = ?1",
    [STMT_PUT_SILENCE] =
        "INSERT INTO silences (id, ends, seq, body) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (id) DO UPDATE SET ends = excluded.ends, seq = excluded.seq,"
        " body = excluded.body",
    [STMT_LOAD_SILENCES] = "SELECT body FROM silences ORDER BY seq",
    [STMT_PRUNE_SILENCES] = "DELETE FROM silences WHERE ends < ?1",
    //  Looks only at the ?2 oldest rows (seq order is time order, give or
    //  take a clock step), so a run is bounded with or without expired rows.
    [STMT_PRUNE] = "DELETE FROM history WHERE seq IN (SELECT seq FROM"
                   " (SELECT seq, at FROM history WHERE seq <= ?3 ORDER BY seq LIMIT ?2)"
                   " WHERE at < ?1)",
};

struct _store_backend_t {
    sqlite3 *db;                           //  the one writer connection
    bool durable;                          //  durability = full: changes are synced
    bool synced;                           //  synchronous is FULL now
    int lock_fd;                           //  PATH.lock, flock'd while we live, or -1
    char lock_before [256];                //  what PATH.lock held when we took it
    char *path;                            //  the database file
    struct stat file;                      //  its device and inode at open
    sqlite3_stmt *statements [STMT_COUNT]; //  prepared once
    wire_writer_t row;                     //  scratch buffer for alert rows
    int wal_pages;                         //  pages in the log after the last commit
    int wal_copied;                        //  of those, copied into the database
    unsigned wal_restarts;                 //  times the log was seen to start over
    zactor_t *copier;                      //  the log copier (s_log_copier)
    bool copying;                          //  a copy was asked and not answered
    int64_t copy_asked_at;                 //  when (monotonic ms)
    unsigned copy_restarts;                //  wal_restarts then
    bool holding;                          //  a commit's answer waits for a copy
    int hold_copies;                       //  copies asked while holding
    int64_t copy_overdue_ms;               //  STORE_COPY_OVERDUE_MS (tests shorten it)
    int64_t copy_overdue_at;               //  when an unanswered copy is said next
    bool copy_unsaid;                      //  a copy failed; store_maintain says so
    bool copy_failed;                      //  store_error is copy_error
    char copy_error [256];                 //  why the last copy failed
    int commit_rc;                         //  the last store_commit_send's outcome
    s_times_t times [STORE_TIMES_MANY];    //  put, not written yet (s_write_kept_times)
    size_t times_kept;                     //  how many
};

static void s_sqlite_destroy (store_backend_t **self_p);
static void s_sqlite_rollback (store_backend_t *self);

//  SQLite calls this after every commit (sqlite3_wal_hook, which also turns
//  the automatic checkpoint off).
static int
s_count_wal (void *arg, sqlite3 *db, const char *name, int pages)
{
    (void) db;
    (void) name;
    store_backend_t *self = arg;
    if (pages < self->wal_pages) {
        self->wal_restarts++;           //  the log started over: nothing in it is copied
        self->wal_copied = 0;
    }
    self->wal_pages = pages;
    return SQLITE_OK;
}

//  A copy's failure is the store's error until the next transaction or
//  upkeep; any other is the connection's.
static const char *
s_sqlite_error (store_backend_t *self)
{
    if (self->copy_failed)
        return self->copy_error;
    return sqlite3_errmsg (self->db);
}

//  Adds prev_seq to a history table without it (s_link_history), or does
//  nothing. 0 / -1 with a reason in error.
static int
s_migrate_history (store_backend_t *self, const char *path, char *error, size_t error_size)
{
    sqlite3_stmt *query;
    bool old = false;
    int rc = sqlite3_prepare_v2 (self->db, s_is_old_history, -1, &query, NULL);
    if (rc == SQLITE_OK) {
        old = sqlite3_step (query) == SQLITE_ROW && sqlite3_column_int (query, 0) == 0;
        rc = sqlite3_finalize (query);
    }
    if (rc != SQLITE_OK) {
        snprintf (error, error_size, "cannot read the schema of %s: %s", path,
                  sqlite3_errmsg (self->db));
        return -1;
    }
    if (!old)
        return 0;
    log_info ("%s: linking each alert's history rows (once, from an older lilac)", path);
    if (sqlite3_exec (self->db, s_link_history, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf (error, error_size, "cannot add prev_seq to the history of %s: %s",
                  path, sqlite3_errmsg (self->db));
        s_sqlite_rollback (self);
        return -1;
    }
    return 0;
}

//  A database whose rows were written with every change (before the rows
//  seq, or new) has rows that hold all its history: its rows seq is its
//  last seq, set once, before anything is written the new way.
static const char s_start_rows_seq [] =
    "INSERT INTO meta (key, value) SELECT 'rows_seq',"
    "  max (coalesce ((SELECT value FROM meta WHERE key = 'seq'), 0),"
    "       coalesce ((SELECT max (seq) FROM history), 0))"
    " WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'rows_seq')";

//  Moves the rows of an old alerts table WITHOUT ROWID into the rowid table
//  (s_migrate_alerts), or does nothing. 0 / -1 with a reason in error.
static int
s_migrate (store_backend_t *self, const char *path, char *error, size_t error_size)
{
    sqlite3_stmt *query;
    bool old = false;
    int rc = sqlite3_prepare_v2 (self->db, s_is_old_alerts, -1, &query, NULL);
    if (rc == SQLITE_OK) {
        old = sqlite3_step (query) == SQLITE_ROW && sqlite3_column_int (query, 0) > 0;
        rc = sqlite3_finalize (query);
    }
    if (rc != SQLITE_OK) {
        snprintf (error, error_size, "cannot read the schema of %s: %s", path,
                  sqlite3_errmsg (self->db));
        return -1;
    }
    if (!old)
        return s_migrate_history (self, path, error, error_size);
    log_info ("%s: moving alerts to the rowid table (once, from an older lilac)", path);
    if (sqlite3_exec (self->db, s_migrate_alerts, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf (error, error_size, "cannot move the alerts of %s to the rowid table: %s",
                  path, sqlite3_errmsg (self->db));
        s_sqlite_rollback (self);
        return -1;
    }
    return s_migrate_history (self, path, error, error_size);
}

//  Rewrites PATH.lock: our pid, and (once the epoch is known) the line
//  "DB N SEQ" — the database's id, its epoch and the last seq we know it
//  holds — which outlives the file's contents: a database found older
//  than this at the next start was restored or rolled back (s_sqlite_epoch_start).
static void
s_write_lock (store_backend_t *self, const epoch_t *epoch, uint64_t last_seq)
{
    char text [128];
    int length = epoch
        ? snprintf (text, sizeof text, "%ld\n%s %" PRIu64 " %" PRIu64 "\n", (long) getpid (),
                    epoch->db, epoch->n, last_seq)
        : snprintf (text, sizeof text, "%ld\n", (long) getpid ());
    if (ftruncate (self->lock_fd, 0) || pwrite (self->lock_fd, text, (size_t) length, 0) != length)
        log_warn ("cannot write %s.lock: %s", self->path, strerror (errno));
}

//  One broker per database. Two brokers on one file each hand out the same
//  seqs: the second's commits fail on history's primary key forever while it
//  still sends hugz, and nobody notices. So the broker takes an exclusive
//  flock on PATH.lock (beside the database, never inside it: SQLite's own
//  locks are per transaction) before it opens the file, holds it for its
//  whole life, and writes its pid into it for the error the next one gives.
//  The kernel drops a flock when its holder dies, kill -9 included, so a
//  stale lock file never keeps a broker out. 0, or -1 with a reason.
static int
s_lock (store_backend_t *self, const char *path, char *error, size_t error_size)
{
    char lock_path [4096];
    if ((size_t) snprintf (lock_path, sizeof lock_path, "%s.lock", path) >= sizeof lock_path) {
        snprintf (error, error_size, "database path too long: %s", path);
        return -1;
    }
    self->lock_fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (self->lock_fd < 0) {
        snprintf (error, error_size, "cannot open %s: %s", lock_path, strerror (errno));
        return -1;
    }
    if (flock (self->lock_fd, LOCK_EX | LOCK_NB)) {
        int lock_errno = errno;
        char holder [32] = "";
        ssize_t size = pread (self->lock_fd, holder, sizeof holder - 1, 0);
        holder [size > 0 ? size : 0] = 0;
        holder [strcspn (holder, "\n")] = 0;
        if (lock_errno == EWOULDBLOCK)
            snprintf (error, error_size, "database %s is in use by another lilac-broker "
                      "(pid %s, lock %s): one broker per database",
                      path, *holder ? holder : "unknown", lock_path);
        else
            snprintf (error, error_size, "cannot lock %s: %s", lock_path, strerror (lock_errno));
        return -1;
    }
    ssize_t size = pread (self->lock_fd, self->lock_before, sizeof self->lock_before - 1, 0);
    self->lock_before [size > 0 ? size : 0] = 0;
    s_write_lock (self, NULL, 0);
    return 0;
}

//  Progress handler: interrupts the quick check once its time is up.
static int
s_check_time_up (void *arg)
{
    const int64_t *deadline = arg;
    return zclock_mono () >= *deadline;
}

//  PRAGMA quick_check over the alerts table, bounded by STORE_QUICK_CHECK_MS.
//  0 when it found nothing (or ran out of time: logged), -1 with the first
//  problems it names in error.
static int
s_check_alerts (store_backend_t *self, const char *path, char *error, size_t error_size)
{
    int64_t started = zclock_mono (), deadline = started + STORE_QUICK_CHECK_MS;
    sqlite3_progress_handler (self->db, 10000, s_check_time_up, &deadline);
    sqlite3_stmt *query;
    char found [512] = "";
    int rc = sqlite3_prepare_v2 (self->db, "PRAGMA quick_check (alerts)", -1, &query, NULL);
    if (rc == SQLITE_OK)
        while ((rc = sqlite3_step (query)) == SQLITE_ROW) {
            const char *line = (const char *) sqlite3_column_text (query, 0);
            if (line && strcmp (line, "ok") && strlen (found) < sizeof found - 2)
                snprintf (found + strlen (found), sizeof found - strlen (found), "%s%s",
                          *found ? "; " : "", line);
        }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize (query);
    sqlite3_progress_handler (self->db, 0, NULL, NULL);
    if (rc == SQLITE_INTERRUPT) {
        log_warn ("%s: quick check of the alerts table stopped after %d s; not checked further",
                  path, STORE_QUICK_CHECK_MS / 1000);
        return 0;
    }
    if (rc != SQLITE_OK || *found) {
        snprintf (error, error_size, "database %s is damaged (quick_check of alerts: %s): "
                  "restore it from a backup, or move it aside (a new one is made) — "
                  "lilac-broker does not write into a damaged file", path,
                  *found ? found : sqlite3_errmsg (self->db));
        return -1;
    }
    log_debug ("%s: alerts table checked in %" PRId64 " ms", path, zclock_mono () - started);
    return 0;
}

//  The connection is the loop's alone (one thread), so it is opened without
//  its mutex (SQLITE_OPEN_NOMUTEX), and SQLite keeps no memory statistics,
//  whose global mutex every allocation took: the two were 3% of the
//  content-changing path (pthread_mutex_lock and unlock, perf). The
//  statistics can only be turned off before SQLite initializes; a process
//  that started it already (a test opening a second store) keeps them.
static void
s_configure_library (void)
{
    static bool configured;
    if (configured)
        return;
    configured = true;
    if (sqlite3_config (SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
        log_debug ("SQLite's memory statistics stay on: the library is initialized already");
}

static void s_log_copier (zsock_t *pipe, void *arg);

//  Reads the file's journal mode through db: true if it is WAL.
static bool
s_in_wal_mode (sqlite3 *db)
{
    sqlite3_stmt *statement = NULL;
    bool wal = sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &statement, NULL) == SQLITE_OK
            && sqlite3_step (statement) == SQLITE_ROW
            && sqlite3_column_text (statement, 0)
            && strcmp ((const char *) sqlite3_column_text (statement, 0), "wal") == 0;
    sqlite3_finalize (statement);
    return wal;
}

//  Opens the log copier's connection and hands it to its thread. 0 / -1.
static int
s_start_copier (store_backend_t *self, const char *path, char *error, size_t error_size)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL)
        != SQLITE_OK) {
        snprintf (error, error_size, "cannot open %s for the log copier: %s", path,
                  db ? sqlite3_errmsg (db) : "out of memory");
        sqlite3_close (db);
        return -1;
    }
    //  A connection knows the file is in WAL mode once it has read it;
    //  until then a checkpoint copies nothing and says -1 pages
    if (!s_in_wal_mode (db)) {
        snprintf (error, error_size, "cannot open %s for the log copier: the file is not "
                  "in WAL mode (SQLite's log needs shared memory beside the file: a local "
                  "file system)", path);
        sqlite3_close (db);
        return -1;
    }
    self->copier = signals_quiet_actor (s_log_copier, db);
    if (!self->copier) {
        snprintf (error, error_size, "cannot start the log copier of %s", path);
        sqlite3_close (db);
        return -1;
    }
    return 0;
}

static store_backend_t *
s_sqlite_open (const char *path, bool durable, char *error, size_t error_size)
{
    store_backend_t *self = mem_alloc (sizeof (store_backend_t));
    self->lock_fd = -1;
    self->path = mem_strdup (path);
    self->durable = self->synced = durable;
    wire_writer_init (&self->row);
    if (s_lock (self, path, error, error_size)) {
        s_sqlite_destroy (&self);
        return NULL;
    }
    s_configure_library ();
    if (sqlite3_open_v2 (path, &self->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                         NULL) != SQLITE_OK) {
        snprintf (error, error_size, "cannot open database %s: %s", path,
                  self->db ? sqlite3_errmsg (self->db) : "out of memory");
        s_sqlite_destroy (&self);
        return NULL;
    }
    if (sqlite3_busy_timeout (self->db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK
    ||  sqlite3_exec (self->db, s_schema, NULL, NULL, NULL) != SQLITE_OK
    ||  sqlite3_exec (self->db, durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                      NULL, NULL, NULL) != SQLITE_OK) {
        snprintf (error, error_size, "cannot set up database %s: %s", path,
                  sqlite3_errmsg (self->db));
        s_sqlite_destroy (&self);
        return NULL;
    }
    if (s_migrate (self, path, error, error_size)
    ||  s_check_alerts (self, path, error, error_size)) {
        s_sqlite_destroy (&self);
        return NULL;
    }
    if (sqlite3_exec (self->db, s_start_rows_seq, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf (error, error_size, "cannot set the rows seq of %s: %s", path,
                  sqlite3_errmsg (self->db));
        s_sqlite_destroy (&self);
        return NULL;
    }
    if (stat (path, &self->file)) {
        snprintf (error, error_size, "cannot stat %s: %s", path, strerror (errno));
        s_sqlite_destroy (&self);
        return NULL;
    }
    sqlite3_wal_hook (self->db, s_count_wal, self);
    for (int index = 0; index < STMT_COUNT; index++)
        if (sqlite3_prepare_v3 (self->db, s_sql [index], -1, SQLITE_PREPARE_PERSISTENT,
                                &self->statements [index], NULL) != SQLITE_OK) {
            snprintf (error, error_size, "cannot prepare statement in %s: %s", path,
                      sqlite3_errmsg (self->db));
            s_sqlite_destroy (&self);
            return NULL;
        }
    self->copy_overdue_ms = STORE_COPY_OVERDUE_MS;
    if (s_start_copier (self, path, error, error_size)) {
        s_sqlite_destroy (&self);
        return NULL;
    }
    return self;
}

static void
s_sqlite_destroy (store_backend_t **self_p)
{
    if (!*self_p)
        return;
    store_backend_t *self = *self_p;
    zactor_destroy (&self->copier);     //  its connection closes first: ours is the last
    for (int index = 0; index < STMT_COUNT; index++)
        sqlite3_finalize (self->statements [index]);
    if (self->db && sqlite3_close (self->db) != SQLITE_OK)
        log_error ("closing database: %s", sqlite3_errmsg (self->db));
    wire_writer_free (&self->row);
    if (self->lock_fd >= 0)
        close (self->lock_fd);          //  releases the flock
    mem_free (self->path);
    mem_free (self);
    *self_p = NULL;
}

//  Steps a statement that returns no rows, then resets it. 0 / -1.
static int
s_step_done (sqlite3_stmt *statement)
{
    int rc = sqlite3_step (statement);
    sqlite3_reset (statement);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int s_write_kept_times (store_backend_t *self);

//  Runs a statement that returns no rows, then resets it, after the times
//  kept so far (a rollback drops them first). 0 / -1.
static int
s_run (store_backend_t *self, statement_t which)
{
    if (s_write_kept_times (self))
        return -1;
    sqlite3_stmt *statement = self->statements [which];
    int rc = s_step_done (statement);
    sqlite3_clear_bindings (statement);
    return rc;
}

//  With durability full, a transaction of changes is synced at COMMIT and
//  one of refreshes (or retention) is not: SQLite's synchronous is a
//  setting of the connection, switched between transactions only when it
//  must change. A later synced commit syncs the log up to itself, earlier
//  frames included, so order is kept. Refreshes wait behind no fsync: under
//  100,000 refreshes/s a raised change's p99 was 2.6 ms with every commit
//  synced, 1.8 ms this way (make bench; 1.0 ms with none synced).
static int
s_sqlite_begin (store_backend_t *self, bool durable)
{
    bool synced = self->durable && durable;
    assert (self->times_kept == 0);
    self->copy_failed = false;
    if (synced != self->synced) {
        if (s_run (self, synced ? STMT_SYNC_FULL : STMT_SYNC_NORMAL))
            return -1;
        self->synced = synced;
    }
    return s_run (self, STMT_BEGIN);
}

static int
s_sqlite_commit (store_backend_t *self)
{
    return s_run (self, STMT_COMMIT);
}

//  --- The log copier ---

//  The milliseconds of a "STALL MS" command (store_stall_copier), or -1.
static int
s_stall_ms (const char *command)
{
    char *end;
    if (strncmp (command, "STALL ", 6))
        return -1;
    long ms = strtol (command + 6, &end, 10);
    return *end || ms < 0 || ms > INT_MAX ? -1 : (int) ms;
}

//  The copier's thread. It owns the connection it is handed (opened by
//  s_sqlite_open, used by this thread alone from then on) and, for each
//  "COPY", copies what it can of the log without waiting for anyone
//  (PASSIVE) and answers SQLite's code, the log's pages, the pages copied
//  and SQLite's message. "STALL MS" (the tests' store_stall_copier)
//  sleeps MS and answers nothing. "$TERM" (zactor_destroy) ends it.
static void
s_log_copier (zsock_t *pipe, void *arg)
{
    sqlite3 *db = arg;
    zsock_signal (pipe, 0);
    while (true) {
        char *command = zstr_recv (pipe);
        bool copy = command && streq (command, "COPY");
        int stall_ms = command && !copy ? s_stall_ms (command) : -1;
        zstr_free (&command);
        if (stall_ms >= 0) {
            zclock_sleep (stall_ms);
            continue;
        }
        if (!copy)
            break;
        int pages = 0, copied = 0;
        int rc = sqlite3_wal_checkpoint_v2 (db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                            &pages, &copied);
        if (zsock_send (pipe, "iiis", rc, pages, copied,
                        rc == SQLITE_OK ? "" : sqlite3_errmsg (db)))
            break;
    }
    if (sqlite3_close (db) != SQLITE_OK)
        log_error ("closing the log copier's connection: %s", sqlite3_errmsg (db));
}

//  Pages in the log not copied into the database yet.
static int
s_uncopied (store_backend_t *self)
{
    return self->wal_pages > self->wal_copied ? self->wal_pages - self->wal_copied : 0;
}

//  Asks the copier for a copy. 0 / -1.
static int
s_copy_ask (store_backend_t *self)
{
    assert (!self->copying);
    if (zstr_send (self->copier, "COPY")) {
        snprintf (self->copy_error, sizeof self->copy_error,
                  "cannot ask the log copier for a copy: %s", zmq_strerror (zmq_errno ()));
        self->copy_unsaid = true;
        return -1;
    }
    self->copying = true;
    self->copy_asked_at = zclock_mono ();
    self->copy_overdue_at = self->copy_asked_at + self->copy_overdue_ms;
    self->copy_restarts = self->wal_restarts;
    return 0;
}

//  Takes the copier's answer if it came, without waiting: 1 still copying,
//  0 answered (or nothing asked), -1 the copy failed.
static int
s_copy_take (store_backend_t *self)
{
    if (!self->copying)
        return 0;
    if (!(zsock_events (self->copier) & ZMQ_POLLIN))
        return 1;
    int rc = SQLITE_ERROR, pages = 0, copied = 0;
    char *why = NULL;
    self->copying = false;
    int64_t waited = zclock_mono () - self->copy_asked_at;
    if (waited >= self->copy_overdue_ms)
        log_info ("%s: the log copier answered a copy asked %" PRId64 " ms ago", self->path,
                  waited);
    if (zsock_recv (self->copier, "iiis", &rc, &pages, &copied, &why) == 0 && rc == SQLITE_OK) {
        //  Copied is counted from the log's first page: it says nothing of
        //  a log that started over since the copy was asked
        if (self->copy_restarts == self->wal_restarts && copied > self->wal_copied)
            self->wal_copied = copied;
        zstr_free (&why);
        return 0;
    }
    snprintf (self->copy_error, sizeof self->copy_error, "copying the log into %s: %s",
              self->path, why ? why : "the log copier did not answer");
    zstr_free (&why);
    self->copy_unsaid = true;
    return -1;
}

//  While a commit's answer is held for the log to start over: takes the
//  copier's answer, and asks again if that copy left pages behind (it
//  began before the commit's last frames); the hold ends once the log is
//  all copied, or after STORE_RESTART_COPIES copies or
//  STORE_RESTART_WAIT_MS.
static void
s_hold_step (store_backend_t *self)
{
    int rc = s_copy_take (self);
    if (rc == 1 && zclock_mono () - self->copy_asked_at < STORE_RESTART_WAIT_MS)
        return;
    if (rc == 0 && s_uncopied (self) > 0 && self->hold_copies < STORE_RESTART_COPIES
    &&  s_copy_ask (self) == 0) {
        self->hold_copies++;
        return;
    }
    if (rc != 0 || s_uncopied (self) > 0)
        log_debug ("%s: the log (%d pages) could not be copied whole; it starts over after "
                   "a later copy", self->path, self->wal_pages);
    self->holding = false;
}

static size_t
s_sqlite_log_pages (store_backend_t *self)
{
    return (size_t) s_uncopied (self);
}

//  A copy unanswered for copy_overdue_ms becomes a failure to say, once
//  for each copy_overdue_ms it goes on.
static void
s_copy_overdue (store_backend_t *self)
{
    int64_t now = zclock_mono ();
    if (!self->copying || now < self->copy_overdue_at || self->copy_unsaid)
        return;
    snprintf (self->copy_error, sizeof self->copy_error, "the log copier has not answered a "
              "copy of the log of %s asked %" PRId64 " s ago (a disk that hangs?); the log "
              "holds %d pages not copied, and no copy is asked until it answers", self->path,
              (now - self->copy_asked_at) / 1000, s_uncopied (self));
    self->copy_unsaid = true;
    self->copy_overdue_at = now + self->copy_overdue_ms;
}

//  Takes the copier's answer, asks for the next copy once the log has
//  grown by STORE_CHECKPOINT_PAGES, and says a failed copy (once). Never
//  waits.
static int
s_sqlite_maintain (store_backend_t *self)
{
    self->copy_failed = false;
    if (!self->holding && s_copy_take (self) == 0
    &&  s_uncopied (self) >= STORE_CHECKPOINT_PAGES)
        s_copy_ask (self);
    s_copy_overdue (self);
    if (!self->copy_unsaid)
        return 0;
    self->copy_unsaid = false;
    self->copy_failed = true;
    return -1;
}

static int
s_sqlite_stall_copier (store_backend_t *self, int stall_ms, int overdue_ms)
{
    self->copy_overdue_ms = overdue_ms;
    return zstr_sendf (self->copier, "STALL %d", stall_ms);
}

static int
s_sqlite_release_log (store_backend_t *self)
{
    int pages = 0, copied = 0;
    if (sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
                                   &pages, &copied) != SQLITE_OK)
        return -1;
    self->wal_pages = self->wal_copied = 0;
    self->wal_restarts++;
    return 0;
}

static void
s_sqlite_rollback (store_backend_t *self)
{
    self->times_kept = 0;
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

//  Binds ?1..?7 of STMT_PUT_ALERT or STMT_UPDATE_ALERT to alert, its row
//  packed into self->row. 0 / -1.
static int
s_bind_alert (store_backend_t *self, sqlite3_stmt *statement, const alert_t *alert)
{
    wire_writer_reset (&self->row);
    msgpack_packer *packer = &self->row.packer;
    msgpack_pack_map (packer, 2);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key (packer, "alert");
    alert_pack (packer, alert);
    if (s_bind_text (statement, 1, alert->source)
    ||  s_bind_text (statement, 2, alert->id)
    ||  s_bind_text (statement, 3, alert_state_name (alert->state))
    ||  s_bind_text (statement, 4, alert_level_name (alert->level))
    ||  s_bind_int (statement, 5, alert->changed_at)
    ||  s_bind_int (statement, 6, (int64_t) alert->seq)
    ||  s_bind_blob (statement, 7, self->row.buffer.data, self->row.buffer.size))
        return -1;
    return 0;
}

//  Rewrites the row at row_id; *found says whether it was there. The key is
//  checked too: a rowid handed out in a transaction that was rolled back
//  may since belong to another alert. 0 / -1.
static int
s_update_alert (store_backend_t *self, const alert_t *alert, int64_t row_id, bool *found)
{
    sqlite3_stmt *statement = self->statements [STMT_UPDATE_ALERT];
    if (s_bind_alert (self, statement, alert) || s_bind_int (statement, 8, row_id)
    ||  s_run (self, STMT_UPDATE_ALERT))
        return -1;
    *found = sqlite3_changes (self->db) > 0;
    return 0;
}

//  Inserts or updates the row by (source, id); its rowid into *row_id. 0 / -1.
static int
s_upsert_alert (store_backend_t *self, const alert_t *alert, int64_t *row_id)
{
    sqlite3_stmt *statement = self->statements [STMT_PUT_ALERT];
    if (s_write_kept_times (self) || s_bind_alert (self, statement, alert))
        return -1;
    int rc = sqlite3_step (statement);
    if (rc == SQLITE_ROW) {
        *row_id = sqlite3_column_int64 (statement, 0);
        rc = sqlite3_step (statement);
    }
    sqlite3_reset (statement);
    sqlite3_clear_bindings (statement);
    return rc == SQLITE_DONE ? 0 : -1;
}

//  Deletes the alert_times row of row_id, if any. 0 / -1.
static int
s_delete_times (store_backend_t *self, int64_t row_id)
{
    if (s_bind_int (self->statements [STMT_DELETE_TIMES], 1, row_id))
        return -1;
    return s_run (self, STMT_DELETE_TIMES);
}

static int
s_sqlite_put_alert (store_backend_t *self, const alert_t *alert, store_handle_t *handle)
{
    bool found = false;
    int64_t row_id = S_HANDLE_ROW (*handle);
    if ((*handle & S_HANDLE_TIMES) && row_id > 0 && s_delete_times (self, row_id))
        return -1;
    if (row_id > 0 && s_update_alert (self, alert, row_id, &found))
        return -1;
    if (found)
        return 0;
    if (s_upsert_alert (self, alert, &row_id))
        return -1;
    *handle = (*handle & S_HANDLE_TIMES) | (store_handle_t) row_id;
    return 0;
}

//  Writes the times store_put_times kept, in their order: STORE_TIMES_MANY
//  in one statement, fewer one by one (a transaction's last few), none
//  when none are kept. None are kept after, written or not. 0 / -1.
static int
s_write_kept_times (store_backend_t *self)
{
    size_t kept = self->times_kept;
    if (kept == 0)
        return 0;
    self->times_kept = 0;
    bool many = kept == STORE_TIMES_MANY;
    sqlite3_stmt *statement = self->statements [many ? STMT_PUT_TIMES_MANY : STMT_PUT_TIMES];
    for (size_t index = 0; index < kept; index++) {
        const s_times_t *times = &self->times [index];
        int first = many ? (int) index * 4 + 1 : 1;
        if (s_bind_int (statement, first, times->row_id)
        ||  s_bind_int (statement, first + 1, times->updated_at)
        ||  s_bind_int (statement, first + 2, times->raise_at)
        ||  s_bind_int (statement, first + 3, times->clear_at)
        ||  (!many && s_step_done (statement)))
            return -1;
    }
    return many ? s_step_done (statement) : 0;
}

//  Keeps the times; they are written STORE_TIMES_MANY at a time, and the
//  rest before the transaction's next statement (s_run), its commit
//  included.
static int
s_sqlite_put_times (store_backend_t *self, const alert_t *alert, store_handle_t handle)
{
    assert (self->times_kept < STORE_TIMES_MANY);
    self->times [self->times_kept++] = (s_times_t) {
        S_HANDLE_ROW (handle), alert->updated_at, alert->raise_at, alert->clear_at };
    return self->times_kept == STORE_TIMES_MANY ? s_write_kept_times (self) : 0;
}

static void
s_sqlite_row_committed (store_backend_t *self, store_handle_t *handle)
{
    (void) self;
    *handle &= ~S_HANDLE_TIMES;
}

static void
s_sqlite_times_committed (store_backend_t *self, store_handle_t *handle)
{
    (void) self;
    *handle |= S_HANDLE_TIMES;
}

static bool
s_sqlite_handle_written (store_backend_t *self, store_handle_t handle)
{
    (void) self;
    return S_HANDLE_ROW (handle) > 0;
}

static int
s_sqlite_delete_alert (store_backend_t *self, const char *source, const char *id, store_handle_t handle)
{
    int64_t row_id = S_HANDLE_ROW (handle);
    sqlite3_stmt *statement = self->statements [STMT_DELETE_ALERT];
    if (s_bind_text (statement, 1, source) || s_bind_text (statement, 2, id)
    ||  s_run (self, STMT_DELETE_ALERT))
        return -1;
    return row_id > 0 ? s_delete_times (self, row_id) : 0;
}

static int
s_sqlite_put_change (store_backend_t *self, uint64_t seq, int64_t at, const char *event,
                     const alert_t *alert, const void *body, size_t size, uint64_t prev_seq)
{
    sqlite3_stmt *statement = self->statements [STMT_PUT_CHANGE];
    if (s_bind_int (statement, 1, (int64_t) seq)
    ||  s_bind_int (statement, 2, at)
    ||  s_bind_text (statement, 3, event)
    ||  s_bind_text (statement, 4, alert->source)
    ||  s_bind_text (statement, 5, alert->id)
    ||  s_bind_blob (statement, 6, body, size)
    ||  s_bind_int (statement, 7, (int64_t) prev_seq))
        return -1;
    return s_run (self, STMT_PUT_CHANGE);
}

static int
s_sqlite_set_seq (store_backend_t *self, uint64_t seq)
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

//  The times written after the row (columns 2-4 of STMT_LOAD) replace its
//  own. A row written later than its times cannot be, since a full write
//  deletes them; should one be found anyway, the row's newer updated_at wins.
static void
s_overlay_times (sqlite3_stmt *statement, alert_t *alert)
{
    int64_t updated_at = sqlite3_column_int64 (statement, 2);
    if (updated_at < alert->updated_at)
        return;
    alert->updated_at = updated_at;
    alert->raise_at = sqlite3_column_int64 (statement, 3);
    alert->clear_at = sqlite3_column_int64 (statement, 4);
}

static int
s_sqlite_load (store_backend_t *self, store_alert_fn *each, void *arg)
{
    sqlite3_stmt *statement = self->statements [STMT_LOAD];
    int rc;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW) {
        alert_t alert = { 0 };
        char error [WIRE_ERROR_SIZE];
        int64_t row_id = sqlite3_column_int64 (statement, 0);
        const void *data = sqlite3_column_blob (statement, 1);
        size_t size = (size_t) sqlite3_column_bytes (statement, 1);
        if (s_decode_row (data, size, &alert, error, sizeof error)) {
            log_error ("skipping a stored alert that does not decode: %s", error);
            continue;
        }
        store_handle_t handle = (store_handle_t) row_id;
        if (sqlite3_column_type (statement, 2) != SQLITE_NULL) {
            s_overlay_times (statement, &alert);
            handle |= S_HANDLE_TIMES;
        }
        each (&alert, handle, arg);
    }
    sqlite3_reset (statement);
    return rc == SQLITE_DONE ? 0 : -1;
}

//  Runs a one-row, one-integer query: a seq. 0 / -1.
static int
s_query_seq (store_backend_t *self, statement_t which, uint64_t *seq)
{
    sqlite3_stmt *statement = self->statements [which];
    int rc = sqlite3_step (statement);
    if (rc == SQLITE_ROW)
        *seq = (uint64_t) sqlite3_column_int64 (statement, 0);
    sqlite3_reset (statement);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int
s_sqlite_set_rows_seq (store_backend_t *self, uint64_t seq)
{
    if (s_bind_int (self->statements [STMT_SET_ROWS_SEQ], 1, (int64_t) seq))
        return -1;
    return s_run (self, STMT_SET_ROWS_SEQ);
}

static int
s_sqlite_rows_seq (store_backend_t *self, uint64_t *seq)
{
    return s_query_seq (self, STMT_ROWS_SEQ, seq);
}

static int
s_sqlite_last_seq (store_backend_t *self, uint64_t *seq)
{
    return s_query_seq (self, STMT_LAST_SEQ, seq);
}

static int
s_sqlite_oldest_seq (store_backend_t *self, uint64_t *seq)
{
    return s_query_seq (self, STMT_OLDEST, seq);
}

static int
s_sqlite_since (store_backend_t *self, uint64_t after, size_t limit,
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

//  History row seq, when it is a change of (source, id): given to each, and
//  *prev_seq its alert's change before it. *found is false when no such
//  row is kept (pruned) or it is another alert's. 0 / -1.
static int
s_sqlite_history_row (store_backend_t *self, uint64_t seq, const char *source, const char *id,
                      store_change_fn *each, void *arg, bool *found, uint64_t *prev_seq)
{
    sqlite3_stmt *statement = self->statements [STMT_HISTORY_ROW];
    *found = false;
    *prev_seq = 0;
    if (s_bind_int (statement, 1, (int64_t) seq))
        return -1;
    int rc = sqlite3_step (statement);
    if (rc == SQLITE_ROW) {
        const char *row_source = (const char *) sqlite3_column_text (statement, 0);
        const char *row_id = (const char *) sqlite3_column_text (statement, 1);
        *found = row_source && row_id && strcmp (row_source, source) == 0
              && strcmp (row_id, id) == 0;
        if (*found) {
            *prev_seq = (uint64_t) sqlite3_column_int64 (statement, 2);
            each (seq, sqlite3_column_blob (statement, 3),
                  (size_t) sqlite3_column_bytes (statement, 3), arg);
        }
        rc = sqlite3_step (statement);
    }
    sqlite3_reset (statement);
    sqlite3_clear_bindings (statement);
    return rc == SQLITE_DONE ? 0 : -1;
}

//  The callback for rows stepped over.
static void
s_skip_row (uint64_t seq, const void *body, size_t size, void *arg)
{
    (void) seq, (void) body, (void) size, (void) arg;
}

//  Where a page below `below` starts: the change before row `below` when
//  that row is the alert's (one lookup), else the newest of its changes
//  below it, walked to from seq. 0 / -1.
static int
s_chain_start (store_backend_t *self, uint64_t *seq, uint64_t below, const char *source,
               const char *id)
{
    bool found = false;
    uint64_t prev = 0;
    if (below <= *seq && s_sqlite_history_row (self, below, source, id, s_skip_row, NULL,
                                               &found, &prev))
        return -1;
    if (found) {
        *seq = prev;
        return 0;
    }
    while (*seq >= below) {
        if (s_sqlite_history_row (self, *seq, source, id, s_skip_row, NULL, &found, &prev))
            return -1;
        *seq = found ? prev : 0;
    }
    return 0;
}

static int
s_sqlite_history_chain (store_backend_t *self, uint64_t seq, uint64_t below,
                        const char *source, const char *id, size_t limit,
                        store_change_fn *each, void *arg)
{
    if (below && s_chain_start (self, &seq, below, source, id))
        return -1;
    bool found = true;
    for (size_t count = 0; count < limit && seq && found; count++)
        if (s_sqlite_history_row (self, seq, source, id, each, arg, &found, &seq))
            return -1;
    return 0;
}

static int
s_sqlite_prune_history (store_backend_t *self, int64_t before, uint64_t keep_after, int limit,
                        int *deleted)
{
    if (s_bind_int (self->statements [STMT_PRUNE], 1, before)
    ||  s_bind_int (self->statements [STMT_PRUNE], 2, limit)
    ||  s_bind_int (self->statements [STMT_PRUNE], 3,
                    keep_after > INT64_MAX ? INT64_MAX : (int64_t) keep_after))
        return -1;
    if (s_run (self, STMT_PRUNE))
        return -1;
    *deleted = sqlite3_changes (self->db);
    return 0;
}

//  --- silences ----------------------------------------------------------------------

static int
s_sqlite_put_silence (store_backend_t *self, const char *id, int64_t ends, uint64_t seq,
                      const void *body, size_t size)
{
    sqlite3_stmt *statement = self->statements [STMT_PUT_SILENCE];
    if (s_bind_text (statement, 1, id)
    ||  s_bind_int (statement, 2, ends)
    ||  s_bind_int (statement, 3, (int64_t) seq)
    ||  s_bind_blob (statement, 4, body, size))
        return -1;
    return s_run (self, STMT_PUT_SILENCE);
}

static int
s_sqlite_load_silences (store_backend_t *self, store_silence_fn *each, void *arg)
{
    sqlite3_stmt *statement = self->statements [STMT_LOAD_SILENCES];
    int rc;
    while ((rc = sqlite3_step (statement)) == SQLITE_ROW)
        each (sqlite3_column_blob (statement, 0), (size_t) sqlite3_column_bytes (statement, 0),
              arg);
    sqlite3_reset (statement);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int
s_sqlite_prune_silences (store_backend_t *self, int64_t before, int *deleted)
{
    if (s_bind_int (self->statements [STMT_PRUNE_SILENCES], 1, before)
    ||  s_run (self, STMT_PRUNE_SILENCES))
        return -1;
    *deleted = sqlite3_changes (self->db);
    return 0;
}

//  --- the epoch -------------------------------------------------------------------

//  meta[key] as text (copied into value) or integer; *found says whether
//  the key is there. 0 / -1.
static int
s_meta_get (store_backend_t *self, const char *key, char *value, size_t value_size,
            int64_t *number, bool *found)
{
    sqlite3_stmt *query;
    *found = false;
    if (sqlite3_prepare_v2 (self->db, "SELECT value FROM meta WHERE key = ?1", -1,
                            &query, NULL) != SQLITE_OK)
        return -1;
    int rc = s_bind_text (query, 1, key) ? SQLITE_ERROR : sqlite3_step (query);
    if (rc == SQLITE_ROW) {
        *found = true;
        if (value)
            snprintf (value, value_size, "%s", (const char *) sqlite3_column_text (query, 0));
        if (number)
            *number = sqlite3_column_int64 (query, 0);
        rc = SQLITE_DONE;
    }
    return sqlite3_finalize (query) == SQLITE_OK && rc == SQLITE_DONE ? 0 : -1;
}

static int
s_meta_set (store_backend_t *self, const char *key, const char *text, int64_t number)
{
    sqlite3_stmt *statement;
    if (sqlite3_prepare_v2 (self->db, "INSERT INTO meta (key, value) VALUES (?1, ?2)"
                            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            -1, &statement, NULL) != SQLITE_OK)
        return -1;
    int rc = s_bind_text (statement, 1, key)
          || (text ? s_bind_text (statement, 2, text) : s_bind_int (statement, 2, number))
           ? SQLITE_ERROR : sqlite3_step (statement);
    return sqlite3_finalize (statement) == SQLITE_OK && rc == SQLITE_DONE ? 0 : -1;
}

//  Does PATH.lock, as we found it, remember this database further on than
//  it is (its epoch or its seq)? Then the file was restored or rolled back.
static bool
s_rolled_back (store_backend_t *self, const epoch_t *stored, uint64_t last_seq)
{
    const char *line = strchr (self->lock_before, '\n');
    char db [EPOCH_DB_SIZE + 8];
    uint64_t n, seq;
    if (!line || sscanf (line + 1, "%24s %" SCNu64 " %" SCNu64, db, &n, &seq) != 3)
        return false;
    return strcmp (db, stored->db) == 0 && (n > stored->n || seq > last_seq);
}

//  Picks the epoch this run publishes in. Returns the reason a new one began
//  or NULL when it goes on.
static const char *
s_next_epoch (store_backend_t *self, epoch_t *epoch, bool found, bool clean, uint64_t last_seq)
{
    if (found && s_rolled_back (self, epoch, last_seq)) {
        found = false;
        log_warn ("%s is older than when this broker last ran on it (restored or rolled "
                  "back): it gets a new database id", self->path);
    }
    if (!found) {
        if (epoch_new_db_id (epoch->db))
            return NULL;
        epoch->n = 1;
        epoch->first = last_seq + 1;
        return "a new database id";
    }
    if (clean)
        return NULL;
    epoch->n++;
    epoch->first = last_seq + 1;
    return "the last run did not stop cleanly";
}

static int
s_sqlite_epoch_start (store_backend_t *self, uint64_t last_seq, epoch_t *epoch, const char **why)
{
    int64_t n = 0, first = 0, clean = 0;
    bool found_db = false, found_n = false, found_first = false, found_clean = false;
    memset (epoch, 0, sizeof (epoch_t));
    if (s_meta_get (self, "db_id", epoch->db, sizeof epoch->db, NULL, &found_db)
    ||  s_meta_get (self, "epoch", NULL, 0, &n, &found_n)
    ||  s_meta_get (self, "epoch_first", NULL, 0, &first, &found_first)
    ||  s_meta_get (self, "clean_stop", NULL, 0, &clean, &found_clean))
        return -1;
    bool found = found_db && found_n && found_first && strlen (epoch->db) == EPOCH_DB_SIZE - 1;
    epoch->n = (uint64_t) n;
    epoch->first = (uint64_t) first;
    *why = s_next_epoch (self, epoch, found, found_clean && clean == 1, last_seq);
    if (!*epoch->db)
        return -1;
    if (s_sqlite_begin (self, true)
    ||  s_meta_set (self, "db_id", epoch->db, 0)
    ||  s_meta_set (self, "epoch", NULL, (int64_t) epoch->n)
    ||  s_meta_set (self, "epoch_first", NULL, (int64_t) epoch->first)
    ||  s_meta_set (self, "clean_stop", NULL, 0)
    ||  s_sqlite_commit (self)) {
        s_sqlite_rollback (self);
        return -1;
    }
    s_write_lock (self, epoch, last_seq);
    return 0;
}

static int
s_sqlite_mark_clean (store_backend_t *self, const epoch_t *epoch, uint64_t last_seq)
{
    if (s_sqlite_begin (self, true) || s_meta_set (self, "clean_stop", NULL, 1)
    ||  s_sqlite_commit (self)) {
        s_sqlite_rollback (self);
        return -1;
    }
    s_write_lock (self, epoch, last_seq);
    return 0;
}

static int
s_sqlite_file_intact (store_backend_t *self, char *why, size_t why_size)
{
    struct stat now;
    if (stat (self->path, &now)) {
        snprintf (why, why_size, "%s: %s", self->path, strerror (errno));
        return -1;
    }
    if (now.st_dev != self->file.st_dev || now.st_ino != self->file.st_ino) {
        snprintf (why, why_size, "%s is another file than the one opened (replaced)", self->path);
        return -1;
    }
    return 0;
}

static bool
s_sqlite_lost (store_backend_t *self)
{
    (void) self;
    return false;                   //  one broker per file: nobody takes it over
}

//  SQLite commits at once: the answer is there when the commit returns,
//  unless the log has grown to STORE_RESTART_PAGES; then it waits for a
//  copy that lets the log start over (s_hold_step).
static int
s_sqlite_commit_send (store_backend_t *self)
{
    self->commit_rc = s_sqlite_commit (self);
    if (self->commit_rc == 0 && self->wal_pages >= STORE_RESTART_PAGES) {
        self->holding = true;
        self->hold_copies = 0;
        if (!self->copying && s_copy_ask (self))
            self->holding = false;
    }
    return 0;
}

static int
s_sqlite_commit_poll (store_backend_t *self)
{
    if (self->holding)
        s_hold_step (self);
    return self->holding ? 1 : self->commit_rc;
}

//  While a commit's answer is held: the copier's pipe. Its descriptor is
//  libzmq's (ZMQ_FD), readable when the pipe's state may have changed,
//  which store_commit_poll then reads (ZMQ_EVENTS).
static int
s_sqlite_poll_fd (store_backend_t *self, short *events)
{
    *events = POLLIN;
    return self->holding ? zsock_fd (self->copier) : -1;
}

static int64_t
s_sqlite_poll_deadline (store_backend_t *self)
{
    return self->holding ? self->copy_asked_at + STORE_RESTART_WAIT_MS : 0;
}

const store_class_t store_sqlite = {
    .name = "sqlite",
    .open = s_sqlite_open,
    .destroy = s_sqlite_destroy,
    .error = s_sqlite_error,
    .lost = s_sqlite_lost,
    .load = s_sqlite_load,
    .last_seq = s_sqlite_last_seq,
    .epoch_start = s_sqlite_epoch_start,
    .mark_clean = s_sqlite_mark_clean,
    .file_intact = s_sqlite_file_intact,
    .begin = s_sqlite_begin,
    .commit = s_sqlite_commit,
    .commit_send = s_sqlite_commit_send,
    .commit_poll = s_sqlite_commit_poll,
    .poll_fd = s_sqlite_poll_fd,
    .poll_deadline = s_sqlite_poll_deadline,
    .rollback = s_sqlite_rollback,
    .maintain = s_sqlite_maintain,
    .log_pages = s_sqlite_log_pages,
    .release_log = s_sqlite_release_log,
    .stall_copier = s_sqlite_stall_copier,
    .put_alert = s_sqlite_put_alert,
    .put_times = s_sqlite_put_times,
    .delete_alert = s_sqlite_delete_alert,
    .row_committed = s_sqlite_row_committed,
    .times_committed = s_sqlite_times_committed,
    .handle_written = s_sqlite_handle_written,
    .put_change = s_sqlite_put_change,
    .set_seq = s_sqlite_set_seq,
    .since = s_sqlite_since,
    .history_chain = s_sqlite_history_chain,
    .oldest_seq = s_sqlite_oldest_seq,
    .prune_history = s_sqlite_prune_history,
    .set_rows_seq = s_sqlite_set_rows_seq,
    .rows_seq = s_sqlite_rows_seq,
    .put_silence = s_sqlite_put_silence,
    .load_silences = s_sqlite_load_silences,
    .prune_silences = s_sqlite_prune_silences,
};
