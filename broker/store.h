/*  store.h — the broker's store: alerts, history, silences and the seq
    counter, behind one interface (store_class_t, at the end) with SQLite
    as its backend. What follows describes the SQLite file.

    One writer connection, WAL, synchronous=FULL or NORMAL, every statement prepared
    once at open and reused. The broker wraps each turn of its loop in
    store_begin/store_commit and publishes only after the commit returned;
    it calls store_maintain after that, which asks the store's log copier
    (a thread of its own, with a connection of its own) to copy the log
    into the database when it has grown (a checkpoint), so no copy and none
    of its fsyncs runs on the loop.

    Tables:
    - alerts(source, id, state, level, changed_at, seq, row): one row per
      alert, unique by (source, id), rewritten by its rowid, which the
      broker keeps beside the alert, at its checkpoints: a change is first
      written only as its history row, and meta's rows_seq says up to which
      seq every row holds every change (the broker lays the history after
      it over the rows at start); `row` is the msgpack body {v, alert}
      (alert_pack), so the codec is the one the bus uses; the other columns
      are for people with the sqlite3 shell.
    - alert_times(alert, updated_at, raise_at, clear_at): the three times a
      heartbeat refresh moves, for the alert whose rowid is `alert`,
      written instead of the whole row (the broker's refresh checkpoint).
      Where present they are newer than the row's own: store_load lays
      them over it, and a full write of the row deletes them.
    - history(seq, at, event, source, id, body, prev_seq): every published
      change, body exactly as published, so `since` replays the bus byte for
      byte; prev_seq is the seq of the alert's change before (0 for its
      first), so one alert's history is walked back by primary key.
    - silences(id, ends, seq, body): one row per silence, body its latest
      change body (silence.h), written with that change's history row; a
      silence's history rows have source "" and id the silence's id.
    - meta(key, value): "seq", the last seq handed out (history may be pruned
      empty, the counter must still never go back); "rows_seq" (above);
      "db_id", "epoch", "epoch_first" and "clean_stop" (store_epoch_start).
*/
#ifndef LILAC_STORE_H
#define LILAC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "alert.h"
#include "epoch.h"
#include "wire.h"

typedef struct _store_t store_t;

//  What the store keeps beside each alert for itself — for SQLite, the
//  row's rowid and whether a times row stands over it. The broker holds
//  one in each alert's entry (0 before the alert is first written), hands
//  it back with every write of that alert, and says when a write of it
//  was committed (store_row_committed, store_times_committed): a
//  transaction rolled back changes nothing in the handle. The broker never
//  looks inside.
typedef uint64_t store_handle_t;

//  Opens (creating) the database at path. With durable, every commit is
//  synced to disk before it returns (synchronous=FULL: an acknowledged
//  change survives a power loss); without, only checkpoints are
//  (synchronous=NORMAL: a power loss may take the last commits; the next
//  start is then a new epoch). NULL with a reason in error.
store_t *store_open (const char *path, bool durable, char *error, size_t error_size);
//  Does path name a PostgreSQL database (postgresql://, postgres://)?
bool store_is_postgresql (const char *path);
//  The database as logs, hugz and errors may show it: path without any
//  password (a URI's user:password@, a password=... parameter or
//  key=value); a SQLite path as it is.
void store_redact (const char *path, char *out, size_t size);
void store_destroy (store_t **self_p);
//  The last error, as the backend words it, for logs.
const char *store_error (store_t *self);
//  True once this broker may no longer write the store at all: on
//  PostgreSQL another broker took over (fenced) or the session, and the
//  lock with it, is gone. The broker stops without writing. Never for SQLite.
bool store_lost (store_t *self);

//  Calls each(alert, handle, arg) for every stored alert, its alert_times
//  laid over it; each takes ownership of the alert's fields and keeps the
//  handle. Rows that do not decode are logged and skipped. 0 / -1.
typedef void (store_alert_fn) (alert_t *alert, store_handle_t handle, void *arg);
int store_load (store_t *self, store_alert_fn *each, void *arg);
//  The last seq handed out, 0 for a new database. 0 / -1.
int store_last_seq (store_t *self, uint64_t *seq);

//  The epoch this run publishes in (epoch.h), from meta: db_id, epoch,
//  epoch_first, clean_stop. A new database, or one older than DATABASE.lock
//  remembers (restored, rolled back), gets a new random db_id and epoch 1;
//  a start after a run that did not stop cleanly gets the next epoch; both
//  begin at last_seq + 1. *why says why a new one began (NULL: it goes on).
//  Commits clean_stop = 0, so a crash from here on counts. 0 / -1.
int store_epoch_start (store_t *self, uint64_t last_seq, epoch_t *epoch, const char **why);
//  Everything is written and the broker stops: the next start may go on in
//  this epoch. Remembers (epoch, last_seq) in DATABASE.lock too. 0 / -1.
int store_mark_clean (store_t *self, const epoch_t *epoch, uint64_t last_seq);
//  Is the file at the database's path still the one opened (not deleted,
//  not replaced)? 0, or -1 with what happened in why.
int store_file_intact (store_t *self, char *why, size_t why_size);

//  durable: a transaction whose changes are published or acknowledged after
//  COMMIT (synced with durability full); false for refreshes and retention,
//  which restart grace and the next run cover (never synced by themselves).
int store_begin (store_t *self, bool durable);
int store_commit (store_t *self);
//  The commit without the wait, for the loop: store_commit_send ends the
//  transaction and sends it; store_commit_poll reads what has come back
//  without waiting: 1 not answered yet (poll store_poll_fd, ask again), 0
//  committed, -1 failed (store_error says why; call store_rollback). Only
//  one transaction is in flight: anything else asked of the store first
//  waits for its answer (bounded), and store_commit_poll then gives it.
//  SQLite commits in store_commit_send; store_commit_poll gives the result,
//  at once unless the log has grown to 10000 pages: then once the copier
//  has copied it whole, so that the next transaction starts it over.
int store_commit_send (store_t *self);
int store_commit_poll (store_t *self);
//  While a commit is in flight: the socket to poll and the events wanted
//  (POLLIN, and POLLOUT while bytes wait to be sent), and the monotonic ms
//  by which it must be answered (past it the store is lost; SQLite answers
//  then without the copy). -1 and 0 when none is in flight or waits.
int store_poll_fd (store_t *self, short *events);
int64_t store_poll_deadline (store_t *self);
void store_rollback (store_t *self);
//  The store's own upkeep, called when everything committed is published:
//  for SQLite, asking the log copier to copy the log into the database once
//  it has grown (what it can without waiting for readers or the writer),
//  and taking its last answer. Never waits. 0, or -1 once for each copy
//  that failed (store_error says why; the next upkeep asks again).
int store_maintain (store_t *self);
//  Pages in the log not copied into the database yet (SQLite's WAL), as
//  of the last commit and the last copy's answer taken, for the tests and
//  the stats; 0 for a store without one.
size_t store_log_pages (store_t *self);
//  Copies the whole log into the database and truncates it to nothing, so
//  its space goes back to the file system (after writes failed for want of
//  space). 0 / -1.
int store_release_log (store_t *self);
//  For the tests: the log copier sleeps stall_ms before it reads its next
//  request, as on a disk that hangs, and a copy unanswered for overdue_ms
//  is said by store_maintain (STORE_COPY_OVERDUE_MS otherwise). 0, or -1
//  for a store without a log copier.
int store_stall_copier (store_t *self, int stall_ms, int overdue_ms);

//  Inside a transaction: write one alert, or only its times, delete one,
//  record one change, save the seq counter. 0 / -1.
//  store_put_alert writes the whole alert (its handle may gain what the
//  store needs to find it again: keep it); store_put_times writes only
//  updated_at, raise_at and clear_at of an alert written before. A write
//  may reach the database later, by the commit (PostgreSQL sends each kind
//  as one statement over arrays; SQLite keeps times until it has 64, or
//  until the transaction's next statement): a failure may then be the
//  commit's.
int store_put_alert (store_t *self, const alert_t *alert, store_handle_t *handle);
int store_put_times (store_t *self, const alert_t *alert, store_handle_t handle);
int store_delete_alert (store_t *self, const char *source, const char *id,
                        store_handle_t handle);
//  After the commit: the alert's whole row, or only its times, was written.
void store_row_committed (store_t *self, store_handle_t *handle);
void store_times_committed (store_t *self, store_handle_t *handle);
//  Has the alert been written before (store_put_times needs that)?
bool store_handle_written (store_t *self, store_handle_t handle);
int store_put_change (store_t *self, uint64_t seq, int64_t at, const char *event,
                      const alert_t *alert, const void *body, size_t size, uint64_t prev_seq);
int store_set_seq (store_t *self, uint64_t seq);
//  Inside a transaction: every alert row now holds every change up to seq
//  (the broker writes a change's history row at once and its alert's row
//  later, at a checkpoint). 0 / -1.
int store_set_rows_seq (store_t *self, uint64_t seq);
//  The seq up to which every alert row holds every change: the history
//  after it is to be laid over the rows at start. A database written
//  before rows were checkpointed gets its last seq (its rows hold
//  everything). 0 / -1.
int store_rows_seq (store_t *self, uint64_t *seq);

//  Calls each(seq, body, size, arg) for up to limit changes with seq > after,
//  in order. *count says how many. 0 / -1.
typedef void (store_change_fn) (uint64_t seq, const void *body, size_t size, void *arg);
int store_since (store_t *self, uint64_t after, size_t limit,
                 store_change_fn *each, void *arg, size_t *count);
//  One alert's changes, newest first, from history row seq (its newest)
//  back along prev_seq: calls each(seq, body, size, arg) for up to limit
//  rows below `below` (0: no bound), ending early at a row not kept
//  (pruned) or not (source, id)'s. A page after the first starts at once
//  where it should: `below` is the last row given before, whose prev_seq
//  names the next (were it another alert's, the walk from seq skips to
//  below). One round trip on PostgreSQL (a recursive query), one lookup a
//  row on SQLite. 0 / -1.
int store_history_chain (store_t *self, uint64_t seq, uint64_t below, const char *source,
                         const char *id, size_t limit, store_change_fn *each, void *arg);
//  --- reads that wait for the server, answered later ---
//
//  A read for a control request goes out without waiting, and its answer
//  is read later, when the socket the loop polls (store_read_fd) has it:
//  on PostgreSQL on a second session of its own, so it neither waits for
//  nor holds up a commit in flight, and sees only what is committed. One
//  read at a time. A backend without such reads (SQLite, whose reads are
//  a file's) answers it in store_read_poll at once.
typedef enum {
    STORE_READ_SINCE,              //  changes after seq, up to upto, and the oldest kept
    STORE_READ_CHAIN,              //  store_history_chain from seq
    STORE_READ_STANDBYS            //  the brokers waiting as standbys on the database: one
                                   //  call, each(count, NULL, 0) (a file has none: 0)
} store_read_kind_t;

typedef struct {
    store_read_kind_t kind;
    uint64_t seq;                  //  SINCE: after this; CHAIN: from this
    uint64_t upto;                 //  SINCE: the last seq to give (what was published);
                                   //  CHAIN: below this (0: no bound)
    const char *source;            //  CHAIN: the alert (copied by store_read_send)
    const char *id;
    size_t limit;                  //  rows, at most
    size_t budget;                 //  bytes of bodies the caller can use (0: any): a
                                   //  server may leave out the rows that start past them
} store_read_t;

//  store_read_poll's answer for a read the server did not answer (its
//  session gone, past the deadline, a shutdown): asking again may work.
#define STORE_READ_AGAIN (-2)

//  Does the store answer reads later (PostgreSQL), or in store_read_poll
//  right after store_read_send (SQLite)?
bool store_reads_later (store_t *self);
//  Sends the read. 0, or -1 (store_error says why).
int store_read_send (store_t *self, const store_read_t *read);
//  The read's answer: 1 not yet (poll store_read_fd, ask again); 0 read:
//  each(seq, body, size, arg) was called for every row in order, and for
//  SINCE *oldest is the oldest seq kept (0: history is empty); -1 the
//  store could not read it (damage: history as kept is unreadable), or
//  STORE_READ_AGAIN; store_read_error says why. A read whose answer was
//  given is done: the next may be sent.
int store_read_poll (store_t *self, store_change_fn *each, void *arg, uint64_t *oldest);
//  While a read is out: the socket and events to poll, and the monotonic
//  ms by which it must be answered; -1 and 0 otherwise.
int store_read_fd (store_t *self, short *events);
int64_t store_read_deadline (store_t *self);
//  Why the last read failed (its own text: a commit's error is kept apart).
const char *store_read_error (store_t *self);

//  The oldest seq still in history, 0 when history is empty. 0 / -1.
int store_oldest_seq (store_t *self, uint64_t *seq);
//  Deletes up to limit history rows older than before (ms) and not after
//  keep_after (the rows seq: later history is not in the rows yet),
//  oldest first. *deleted says how many. 0 / -1.
int store_prune_history (store_t *self, int64_t before, uint64_t keep_after, int limit,
                         int *deleted);

//  Inside a transaction: writes a silence's row (its latest change body). 0 / -1.
int store_put_silence (store_t *self, const char *id, int64_t ends, uint64_t seq,
                       const void *body, size_t size);
//  Calls each(body, size, arg) for every stored silence, oldest change first. 0 / -1.
typedef void (store_silence_fn) (const void *body, size_t size, void *arg);
int store_load_silences (store_t *self, store_silence_fn *each, void *arg);
//  Inside a transaction: deletes the silences that ended before before (ms). 0 / -1.
int store_prune_silences (store_t *self, int64_t before, int *deleted);

//  --- backends --------------------------------------------------------------------

//  A backend is a store_class_t: the operations above on its own state
//  (store_backend_t, each backend's own struct), with the same contracts.
//  store_open picks one by the path: "postgresql://..." is PostgreSQL
//  (store_pg.c), anything else a SQLite file (an explicit
//  "sqlite:" prefix is allowed). The same tests run against every backend
//  (tests/unit/test_store.c).
typedef struct _store_backend_t store_backend_t;

typedef struct {
    const char *name;              //  "sqlite"
    store_backend_t *(*open) (const char *path, bool durable, char *error, size_t error_size);
    void (*destroy) (store_backend_t **self_p);
    const char *(*error) (store_backend_t *self);
    bool (*lost) (store_backend_t *self);
    int (*load) (store_backend_t *self, store_alert_fn *each, void *arg);
    int (*last_seq) (store_backend_t *self, uint64_t *seq);
    int (*epoch_start) (store_backend_t *self, uint64_t last_seq, epoch_t *epoch,
                        const char **why);
    int (*mark_clean) (store_backend_t *self, const epoch_t *epoch, uint64_t last_seq);
    int (*file_intact) (store_backend_t *self, char *why, size_t why_size);
    int (*begin) (store_backend_t *self, bool durable);
    int (*commit) (store_backend_t *self);
    int (*commit_send) (store_backend_t *self);
    int (*commit_poll) (store_backend_t *self);
    int (*poll_fd) (store_backend_t *self, short *events);
    int64_t (*poll_deadline) (store_backend_t *self);
    void (*rollback) (store_backend_t *self);
    int (*maintain) (store_backend_t *self);
    size_t (*log_pages) (store_backend_t *self);
    int (*release_log) (store_backend_t *self);
    int (*stall_copier) (store_backend_t *self, int stall_ms, int overdue_ms);  //  or NULL
    int (*put_alert) (store_backend_t *self, const alert_t *alert, store_handle_t *handle);
    int (*put_times) (store_backend_t *self, const alert_t *alert, store_handle_t handle);
    int (*delete_alert) (store_backend_t *self, const char *source, const char *id,
                         store_handle_t handle);
    void (*row_committed) (store_backend_t *self, store_handle_t *handle);
    void (*times_committed) (store_backend_t *self, store_handle_t *handle);
    bool (*handle_written) (store_backend_t *self, store_handle_t handle);
    int (*put_change) (store_backend_t *self, uint64_t seq, int64_t at, const char *event,
                       const alert_t *alert, const void *body, size_t size, uint64_t prev_seq);
    int (*set_seq) (store_backend_t *self, uint64_t seq);
    int (*set_rows_seq) (store_backend_t *self, uint64_t seq);
    int (*rows_seq) (store_backend_t *self, uint64_t *seq);
    int (*since) (store_backend_t *self, uint64_t after, size_t limit, store_change_fn *each,
                  void *arg, size_t *count);
    int (*history_chain) (store_backend_t *self, uint64_t seq, uint64_t below,
                          const char *source, const char *id, size_t limit,
                          store_change_fn *each, void *arg);
    int (*oldest_seq) (store_backend_t *self, uint64_t *seq);
    //  Reads answered later; NULL for a backend whose reads are answered at
    //  once (store.c then runs them in store_read_poll). The read handed to
    //  read_send is store.c's own copy: it and its strings stay as they are
    //  until the read's answer is given
    int (*read_send) (store_backend_t *self, const store_read_t *read);
    int (*read_poll) (store_backend_t *self, store_change_fn *each, void *arg,
                      uint64_t *oldest);
    int (*read_fd) (store_backend_t *self, short *events);
    int64_t (*read_deadline) (store_backend_t *self);
    const char *(*read_error) (store_backend_t *self);
    int (*prune_history) (store_backend_t *self, int64_t before, uint64_t keep_after,
                          int limit, int *deleted);
    int (*put_silence) (store_backend_t *self, const char *id, int64_t ends, uint64_t seq,
                        const void *body, size_t size);
    int (*load_silences) (store_backend_t *self, store_silence_fn *each, void *arg);
    int (*prune_silences) (store_backend_t *self, int64_t before, int *deleted);
} store_class_t;

extern const store_class_t store_sqlite;       //  store_sqlite.c
extern const store_class_t store_pg;           //  store_pg.c

#endif
