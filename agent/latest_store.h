/*  latest_store.h — the latest table's copy on disk: STATE_DIR/latest.db.

    The agent holds the newest state of each alert (latest_table.h); this
    keeps the same entries in a file so that a kill -9, an OOM kill or a
    power loss during a broker outage loses nothing the agent had read. One
    row per (source, id): a dirty flag (not yet handed to the broker — after
    acknowledged submits, "not yet acknowledged"), the wall-clock ms at which
    the row was written, and the event packed as a one-alert ingest frame
    whose times are relative to that moment.

    Why SQLite rather than a file of our own: the table is updated in place
    (an id is replaced, marked clean, dropped), a few rows per turn, and
    must survive a crash at any instant. A small file rewritten whole (temp,
    fsync, rename) costs the whole table per turn — 30 MB at max_alerts =
    100,000 for one heartbeat. An append log needs compaction, a torn-tail
    rule and record checksums: what SQLite's WAL already does, tested far
    beyond what we would write. libsqlite3 is a dependency already. A turn's
    changes are one transaction, committed with synchronous = FULL (one
    fsync of the WAL per turn that changed something: a heartbeat a minute,
    or one per burst of local sends, never one per event).

    Why wall-clock times on disk: the monotonic clock starts again at a
    reboot, and its value means nothing to another process. So a row
    stores "+299500ms" against the wall time of the write; loading resolves
    it against that time and the table turns it back into an offset from
    now. "+5m" received 30 s before a crash thus still raises at the moment
    it named; only a step of the wall clock while the agent was down moves
    held times (by the step).

    Never refuse to start over a damaged file: one that SQLite cannot read
    at all is renamed latest.db.damaged (replacing an older one) and a
    fresh file begins; one that breaks part-way keeps the rows read before
    the damage and is rewritten; a row that does not decode is dropped. Each
    case is logged by the caller from the note it is given. Refusing is
    kept for what a person must fix: a directory that cannot be made or
    written, and another agent holding the directory (flock on
    STATE_DIR/lock, which names its pid).
*/
#ifndef LILAC_LATEST_STORE_H
#define LILAC_LATEST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LATEST_STORE_FILE   "latest.db"
#define LATEST_STORE_NOTE   512     //  bytes of a damage note

typedef struct _latest_store_t latest_store_t;

//  One row as stored; strings and frame are borrowed.
typedef struct {
    const char *source;
    const char *id;
    bool dirty;                    //  not yet handed over (acknowledged)
    int64_t written_at;            //  wall ms the frame's relative times are against
    const void *frame;             //  {v, source, alerts: [one alert]}
    size_t size;
} latest_row_t;

//  Called for each row read; returns 0 if it kept the row, -1 if the row
//  is unreadable (it is then counted, and deleted at the next commit).
typedef int (latest_row_fn) (const latest_row_t *row, void *arg);

//  Makes dir, takes its lock, opens (or creates) dir/latest.db and reads
//  every row through visit. NULL with a reason in error when the directory
//  cannot be used or another agent holds it. A damaged file is not an
//  error: note gets a sentence saying what happened and what was kept
//  (empty when all was well), and *rewrite is set when the file was
//  replaced, so the caller must save everything it kept again.
latest_store_t *latest_store_open (const char *dir, latest_row_fn *visit, void *arg,
                                   bool *rewrite, char *note, size_t note_size,
                                   char *error, size_t error_size);
//  Closes the file and releases the lock. NULL is a no-op.
void latest_store_destroy (latest_store_t **self_p);

//  A transaction: begin, any number of puts and drops, then commit. 0, or
//  -1 with sqlite3's reason in error (a failed commit is rolled back:
//  nothing of it is on disk).
int latest_store_begin (latest_store_t *self, char *error, size_t error_size);
int latest_store_put (latest_store_t *self, const latest_row_t *row, char *error, size_t error_size);
int latest_store_drop (latest_store_t *self, const char *source, const char *id,
                       char *error, size_t error_size);
int latest_store_commit (latest_store_t *self, char *error, size_t error_size);
void latest_store_rollback (latest_store_t *self);

//  The file's path (borrowed).
const char *latest_store_path (latest_store_t *self);

#endif
