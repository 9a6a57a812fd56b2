/*  latest_store.c — the latest table on disk. See latest_store.h for the
    choice of SQLite, the wall-clock times and the damage rules.

    Schema (user_version 1): held (source, id, dirty, written_at, frame),
    unique on (source, id); a put is INSERT OR REPLACE. WAL journal,
    synchronous = FULL, the WAL trimmed to 4 MiB after a checkpoint
    (journal_size_limit), so the files stay near the size of the rows themselves
    (bounded by max_alerts, which the table enforces).

    Damage is what SQLite reports as SQLITE_CORRUPT or SQLITE_NOTADB, or a
    schema we did not write (another user_version, a held table of other
    columns). Anything else that fails at open (no permission, no space) is
    an error for a person to fix, and the agent does not start.
*/
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include "error_text.h"
#include "latest_store.h"
#include "mem.h"
#include "signals.h"

#define LATEST_STORE_VERSION    1
#define LATEST_STORE_PATH_MAX   1024

static const char s_schema [] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "PRAGMA journal_size_limit=4194304;"
    "CREATE TABLE IF NOT EXISTS held ("
    "  source TEXT NOT NULL, id TEXT NOT NULL, dirty INTEGER NOT NULL,"
    "  written_at INTEGER NOT NULL, frame BLOB NOT NULL, UNIQUE (source, id));";

struct _latest_store_t {
    char *dir;                     //  the state directory
    char *path;                    //  dir/latest.db
    int lock_fd;                   //  dir/lock, flock'ed while we run
    sqlite3 *db;                   //  open database
    sqlite3_stmt *put;             //  INSERT OR REPLACE a row
    sqlite3_stmt *drop;            //  DELETE a row by (source, id)
    bool in_transaction;           //  between begin and commit
};

//  --- the lock ---------------------------------------------------------------------

//  Takes dir/lock for this process and writes our pid in it. 0 or -1.
static int
s_lock (latest_store_t *self, char *error, size_t error_size)
{
    char path [LATEST_STORE_PATH_MAX];
    snprintf (path, sizeof path, "%s/lock", self->dir);
    self->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (self->lock_fd < 0)
        return error_text (error, error_size, -1, "state_dir: cannot open %s: %s", path,
                           strerror (errno));
    if (flock (self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int flock_errno = errno;
        char holder [32] = "";
        ssize_t size = pread (self->lock_fd, holder, sizeof holder - 1, 0);
        holder [size > 0 ? size : 0] = 0;
        holder [strcspn (holder, "\n")] = 0;
        if (flock_errno == EWOULDBLOCK)
            return error_text (error, error_size, -1, "state_dir %s is in use by another "
                               "lilac-agent (pid %s): one agent per state directory",
                               self->dir, *holder ? holder : "?");
        return error_text (error, error_size, -1, "state_dir: cannot lock %s: %s", path,
                           strerror (flock_errno));
    }
    char pid [32];
    int length = snprintf (pid, sizeof pid, "%d\n", (int) getpid ());
    if (ftruncate (self->lock_fd, 0) != 0 || pwrite (self->lock_fd, pid, (size_t) length, 0) != length)
        return error_text (error, error_size, -1, "state_dir: cannot write %s: %s", path,
                           strerror (errno));
    return 0;
}

//  --- opening ---------------------------------------------------------------------------

static bool
s_damage (int rc)
{
    rc &= 0xff;
    return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

static void
s_close_db (latest_store_t *self)
{
    sqlite3_finalize (self->put);
    sqlite3_finalize (self->drop);
    self->put = self->drop = NULL;
    if (self->db && sqlite3_close (self->db) != SQLITE_OK)
        sqlite3_close_v2 (self->db);    //  a statement we did not finalize: close when done
    self->db = NULL;
}

//  The held table has exactly our columns.
static int
s_schema_ours (latest_store_t *self)
{
    sqlite3_stmt *statement = NULL;
    int rc = sqlite3_prepare_v2 (self->db, "SELECT source, id, dirty, written_at, frame"
                                 " FROM held LIMIT 0", -1, &statement, NULL);
    sqlite3_finalize (statement);
    return rc;
}

//  Opens self->path and makes sure it holds our schema. 0; 1 when the file
//  is damaged or not ours (reason in note); -1 on any other failure.
static int
s_open_db (latest_store_t *self, char *note, size_t note_size, char *error, size_t error_size)
{
    int rc = sqlite3_open_v2 (self->path, &self->db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    int version = -1;
    sqlite3_stmt *statement = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &statement, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step (statement)) == SQLITE_ROW) {
        version = sqlite3_column_int (statement, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize (statement);
    if (rc == SQLITE_OK && version != 0 && version != LATEST_STORE_VERSION)
        return error_text (note, note_size, 1, "%s has format %d, not %d (another agent's?)",
                           self->path, version, LATEST_STORE_VERSION);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec (self->db, s_schema, NULL, NULL, NULL);
    if (rc == SQLITE_OK && version == 0)
        rc = sqlite3_exec (self->db, "PRAGMA user_version=1", NULL, NULL, NULL);
    if (rc == SQLITE_OK && s_schema_ours (self) != SQLITE_OK)
        return error_text (note, note_size, 1, "%s holds a 'held' table that is not ours",
                           self->path);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2 (self->db, "INSERT OR REPLACE INTO held"
                                 " (source, id, dirty, written_at, frame) VALUES (?,?,?,?,?)",
                                 -1, &self->put, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2 (self->db, "DELETE FROM held WHERE source = ? AND id = ?",
                                 -1, &self->drop, NULL);
    if (rc == SQLITE_OK)
        return 0;
    const char *why = self->db ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc);
    if (s_damage (rc))
        return error_text (note, note_size, 1, "%s is damaged (%s)", self->path, why);
    return error_text (error, error_size, -1, "state_dir: cannot open %s: %s", self->path, why);
}

//  Renames the damaged file (and its WAL, which must not be replayed into
//  a fresh file) to latest.db.damaged*, then opens a fresh one.
static int
s_set_aside (latest_store_t *self, char *error, size_t error_size)
{
    s_close_db (self);
    const char *suffixes [] = { "", "-wal", "-shm" };
    for (size_t index = 0; index < 3; index++) {
        char from [LATEST_STORE_PATH_MAX], to [LATEST_STORE_PATH_MAX + 16];
        snprintf (from, sizeof from, "%s%s", self->path, suffixes [index]);
        snprintf (to, sizeof to, "%s.damaged%s", self->path, suffixes [index]);
        if (rename (from, to) != 0 && errno != ENOENT)
            return error_text (error, error_size, -1, "state_dir: cannot move %s aside: %s",
                               from, strerror (errno));
    }
    char note [LATEST_STORE_NOTE];
    int rc = s_open_db (self, note, sizeof note, error, error_size);
    if (rc == 1)       //  a fresh file damaged: nothing sane to do
        return error_text (error, error_size, -1, "state_dir: %s", note);
    return rc;
}

//  --- reading --------------------------------------------------------------------------

typedef struct {
    int64_t *bad;                  //  rowids of rows visit refused
    size_t bad_count;
    size_t kept;                   //  rows visit kept
} reading_t;

static void
s_visit_row (sqlite3_stmt *statement, latest_row_fn *visit, void *arg, reading_t *reading)
{
    bool typed = sqlite3_column_type (statement, 1) == SQLITE_TEXT
              && sqlite3_column_type (statement, 2) == SQLITE_TEXT
              && sqlite3_column_type (statement, 3) == SQLITE_INTEGER
              && sqlite3_column_type (statement, 4) == SQLITE_INTEGER
              && sqlite3_column_type (statement, 5) == SQLITE_BLOB;
    latest_row_t row = {
        .source = (const char *) sqlite3_column_text (statement, 1),
        .id = (const char *) sqlite3_column_text (statement, 2),
        .dirty = sqlite3_column_int64 (statement, 3) != 0,
        .written_at = sqlite3_column_int64 (statement, 4),
        .frame = sqlite3_column_blob (statement, 5),
        .size = (size_t) sqlite3_column_bytes (statement, 5),
    };
    if (typed && row.source && row.id && row.frame && visit (&row, arg) == 0) {
        reading->kept++;
        return;
    }
    reading->bad = mem_realloc (reading->bad, (reading->bad_count + 1) * sizeof (int64_t));
    reading->bad [reading->bad_count++] = sqlite3_column_int64 (statement, 0);
}

//  Deletes the rows visit refused. 0 or -1.
static int
s_delete_bad (latest_store_t *self, const reading_t *reading)
{
    sqlite3_stmt *statement = NULL;
    int rc = sqlite3_exec (self->db, "BEGIN", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2 (self->db, "DELETE FROM held WHERE rowid = ?", -1, &statement, NULL);
    for (size_t index = 0; rc == SQLITE_OK && index < reading->bad_count; index++) {
        rc = sqlite3_bind_int64 (statement, 1, reading->bad [index]);
        if (rc == SQLITE_OK && sqlite3_step (statement) == SQLITE_DONE)
            rc = sqlite3_reset (statement);
        else
            rc = SQLITE_ERROR;
    }
    sqlite3_finalize (statement);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec (self->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK && sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        rc = SQLITE_ERROR;      //  nothing more to do: the rows are skipped again next time
    return rc == SQLITE_OK ? 0 : -1;
}

//  Reads every row. 0 when the whole table was read; 1 when it broke
//  part-way (note says where); -1 on another failure.
static int
s_read_rows (latest_store_t *self, latest_row_fn *visit, void *arg,
             char *note, size_t note_size, char *error, size_t error_size)
{
    sqlite3_stmt *statement = NULL;
    int rc = sqlite3_prepare_v2 (self->db, "SELECT rowid, source, id, dirty, written_at, frame"
                                 " FROM held", -1, &statement, NULL);
    reading_t reading = { 0 };
    while (rc == SQLITE_OK && (rc = sqlite3_step (statement)) == SQLITE_ROW) {
        s_visit_row (statement, visit, arg, &reading);
        rc = SQLITE_OK;
    }
    sqlite3_finalize (statement);
    int result = 0;
    if (rc != SQLITE_DONE && s_damage (rc))
        result = error_text (note, note_size, 1, "%s is damaged (%s): kept the %zu entries"
                             " read before the damage", self->path,
                             sqlite3_errmsg (self->db), reading.kept);
    else
    if (rc != SQLITE_DONE)
        result = error_text (error, error_size, -1, "state_dir: cannot read %s: %s", self->path,
                             sqlite3_errmsg (self->db));
    else
    if (reading.bad_count) {
        error_text (note, note_size, 0, "%s: %zu entries did not decode: dropped them, kept %zu",
                    self->path, reading.bad_count, reading.kept);
        if (s_delete_bad (self, &reading))
            result = error_text (error, error_size, -1, "state_dir: cannot write %s: %s",
                                 self->path, sqlite3_errmsg (self->db));
    }
    mem_free (reading.bad);
    return result;
}

//  Reads what it can of a damaged file, read-only, past SQLite's own
//  refusals (writable_schema lets it open a file shorter than its header
//  says), up to the first error. Appends what it kept to note.
static void
s_salvage (latest_store_t *self, latest_row_fn *visit, void *arg, char *note, size_t note_size)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *statement = NULL;
    reading_t reading = { 0 };
    int rc = sqlite3_open_v2 (self->path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec (db, "PRAGMA writable_schema=ON", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2 (db, "SELECT rowid, source, id, dirty, written_at, frame"
                                 " FROM held", -1, &statement, NULL);
    while (rc == SQLITE_OK && sqlite3_step (statement) == SQLITE_ROW)
        s_visit_row (statement, visit, arg, &reading);
    sqlite3_finalize (statement);
    if (db && sqlite3_close (db) != SQLITE_OK)
        sqlite3_close_v2 (db);
    size_t used = strlen (note);
    snprintf (note + used, note_size - used, ": kept the %zu entries that could be read",
              reading.kept);
    mem_free (reading.bad);
}

latest_store_t *
latest_store_open (const char *dir, latest_row_fn *visit, void *arg, bool *rewrite,
                   char *note, size_t note_size, char *error, size_t error_size)
{
    *rewrite = false;
    if (note_size)
        note [0] = 0;
    latest_store_t *self = mem_alloc (sizeof (latest_store_t));
    self->dir = mem_strdup (dir);
    self->lock_fd = -1;
    char path [LATEST_STORE_PATH_MAX];
    snprintf (path, sizeof path, "%s/%s", dir, LATEST_STORE_FILE);
    self->path = mem_strdup (path);
    int rc = paths_make_dirs (dir, error, error_size) || s_lock (self, error, error_size) ? -1 : 0;
    if (rc == 0)
        rc = s_open_db (self, note, note_size, error, error_size);
    if (rc == 0)
        rc = s_read_rows (self, visit, arg, note, note_size, error, error_size);
    else
    if (rc == 1) {
        s_close_db (self);
        s_salvage (self, visit, arg, note, note_size);
    }
    if (rc == 1) {
        //  Damaged: what visit kept (maybe nothing) goes into a fresh file
        *rewrite = true;
        size_t used = strlen (note);
        snprintf (note + used, note_size - used, "; the file is now %s.damaged", LATEST_STORE_FILE);
        rc = s_set_aside (self, error, error_size);
    }
    if (rc) {
        latest_store_destroy (&self);
        return NULL;
    }
    return self;
}

void
latest_store_destroy (latest_store_t **self_p)
{
    if (!*self_p)
        return;
    latest_store_t *self = *self_p;
    if (self->in_transaction)
        latest_store_rollback (self);
    s_close_db (self);
    if (self->lock_fd >= 0)
        close (self->lock_fd);      //  releases the flock
    mem_free (self->dir);
    mem_free (self->path);
    mem_free (self);
    *self_p = NULL;
}

//  --- writing ------------------------------------------------------------------------------

static int
s_fail (latest_store_t *self, const char *what, char *error, size_t error_size)
{
    return error_text (error, error_size, -1, "%s %s: %s", what, self->path,
                       sqlite3_errmsg (self->db));
}

int
latest_store_begin (latest_store_t *self, char *error, size_t error_size)
{
    if (sqlite3_exec (self->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return s_fail (self, "cannot begin a transaction on", error, error_size);
    self->in_transaction = true;
    return 0;
}

//  Steps a bound statement to its end and resets it. 0 or -1.
static int
s_run (latest_store_t *self, sqlite3_stmt *statement, bool bound, char *error, size_t error_size)
{
    int rc = bound ? sqlite3_step (statement) : SQLITE_ERROR;
    int reset = sqlite3_reset (statement);
    if (sqlite3_clear_bindings (statement) != SQLITE_OK || rc != SQLITE_DONE || reset != SQLITE_OK)
        return s_fail (self, "cannot write", error, error_size);
    return 0;
}

int
latest_store_put (latest_store_t *self, const latest_row_t *row, char *error, size_t error_size)
{
    sqlite3_stmt *put = self->put;
    bool bound = sqlite3_bind_text (put, 1, row->source, -1, SQLITE_STATIC) == SQLITE_OK
              && sqlite3_bind_text (put, 2, row->id, -1, SQLITE_STATIC) == SQLITE_OK
              && sqlite3_bind_int (put, 3, row->dirty) == SQLITE_OK
              && sqlite3_bind_int64 (put, 4, row->written_at) == SQLITE_OK
              && sqlite3_bind_blob (put, 5, row->frame, (int) row->size, SQLITE_STATIC) == SQLITE_OK;
    return s_run (self, put, bound, error, error_size);
}

int
latest_store_drop (latest_store_t *self, const char *source, const char *id,
                   char *error, size_t error_size)
{
    bool bound = sqlite3_bind_text (self->drop, 1, source, -1, SQLITE_STATIC) == SQLITE_OK
              && sqlite3_bind_text (self->drop, 2, id, -1, SQLITE_STATIC) == SQLITE_OK;
    return s_run (self, self->drop, bound, error, error_size);
}

int
latest_store_commit (latest_store_t *self, char *error, size_t error_size)
{
    if (sqlite3_exec (self->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
        self->in_transaction = false;
        return 0;
    }
    s_fail (self, "cannot commit to", error, error_size);
    latest_store_rollback (self);
    return -1;
}

void
latest_store_rollback (latest_store_t *self)
{
    //  Fails only when SQLite already rolled back (SQLITE_FULL can): the
    //  transaction is over either way
    int rc = sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
    (void) rc;
    self->in_transaction = false;
}

const char *
latest_store_path (latest_store_t *self)
{
    return self->path;
}
