/*  core_internal.h — what the core's files share, and nobody else: core.c
    (recording, commit, publish, refreshes, retention, start), ingest.c
    (applying events), control.c (the control ops), reads.c (the ops'
    reads of history, answered when the store answers) and silences.c.

    The core's state is one struct, owned by core.c; control.c answers
    control requests against it and reports the changes it makes through
    core_record(), the same path ingest and timers use. The loop
    (broker.c) sees only core.h.
*/
#ifndef LILAC_CORE_INTERNAL_H
#define LILAC_CORE_INTERNAL_H

#include <czmq.h>
#include <stdbool.h>
#include "alert_table.h"
#include "bus.h"
#include "core.h"
#include "due_heap.h"
#include "lifecycle.h"
#include "refresh_queue.h"
#include "security.h"
#include "silence.h"
#include "log.h"
#include "store.h"
#include "tx_window.h"
#include "wire.h"

#define BROKER_RETENTION_MS     (60 * 1000)        //  retention check period, at most
#define BROKER_COMMIT_RETRY_MS  100                //  retry a failed commit after
#define BROKER_FIRE_PER_TURN    10000              //  due alerts fired per turn at most
#define BROKER_PRUNE_PER_RUN    10000              //  history rows or alerts deleted per retention run
#define BROKER_REFRESH_SLICE    256                //  refreshed rows per write, before they are overdue
#define BROKER_REFRESH_GAP_MS   1                  //  between two such writes, at least
#define BROKER_COMMIT_CHUNK     4096               //  changes per transaction, at most
#define BROKER_BACKLOG_CHANGES  20000              //  unwritten changes past which ingest pauses
#define BROKER_BACKLOG_BYTES    (16 * 1024 * 1024) //  ... or unwritten change bodies past this
#define BROKER_SUBMIT_RETRY_MS  1000               //  a submit refused while ingest pauses: retry after
#define BROKER_MAX_SILENCES     10000              //  silences kept (expired ones until retention)
#define BROKER_REPLAY_PAGE      1000               //  history rows read at a time at start
#define BROKER_WRITE_ALL_ROUNDS 100000             //  transactions one s_write_all sends, at most
#define BROKER_CHECKPOINT_MAX   20000              //  rows (and times) per checkpoint transaction
#define BROKER_STANDBYS_MS      2000               //  the standbys are counted this often,
#define BROKER_STANDBYS_FIRST_MS 5000              //  ... the first time this long after start,
#define BROKER_STANDBYS_RETRY_MS 10000             //  ... and this long after a count failed

//  Bytes of alerts or changes in one control reply: clients drop frames
//  larger than BUS_MAX_MESSAGE, so a long answer is cut here and says so
//  (truncated, cursor, more). One alert is at most ~80 KiB (wire.h
//  limits), so at least one always fits.
#define CONTROL_REPLY_BUDGET    (BUS_MAX_MESSAGE - 32 * 1024)

//  A control op's return when its reply comes later, with the store's
//  answer to its read (reads.c).
#define CORE_READ_LATER         (-2)

//  A read a control op asked for, waiting for the store (reads.c).
typedef struct {
    store_read_t read;             //  its strings the two below
    char *source;                  //  our copies of the read's alert
    char *id;
    char *tx;                      //  the request's tx, for the reply
    bool sent;                     //  out: store_read_send took it
    bool internal;                 //  the core's own (the standbys' count): no reply
} read_request_t;

//  A reply ready for the loop (core_take_reply).
typedef struct {
    void *data;
    size_t size;
} read_answer_t;

//  The transaction in flight (core.c, s_land).
typedef enum { FLIGHT_NONE, FLIGHT_CHUNK, FLIGHT_CHECKPOINT, FLIGHT_RETENTION } flight_t;

//  Counters reported by `stats`.
struct _broker_stats_t {
    uint64_t frames_received;      //  ingest frames read
    uint64_t events_received;      //  events in valid frames
    uint64_t events_applied;       //  events applied (not duplicates)
    uint64_t refreshes;            //  events that only moved times
    uint64_t rejected;             //  frames or requests that failed validation
    uint64_t duplicates;           //  frames dropped for a repeated tx
    uint64_t stale;                //  events older than a human act on their alert, dropped
    uint64_t published;            //  changes published
    uint64_t control_requests;     //  control requests answered
    uint64_t control_errors;       //  of which answered ok:false
    uint64_t commits;              //  transactions committed
    uint64_t commit_failures;      //  transactions that failed
    uint64_t spoofed;              //  batches claiming a source their certificate does not name
    uint64_t unknown_clients;      //  frames or requests from a key not in the clients table
    uint64_t denied;               //  control requests the caller's role does not allow
    uint64_t handshake_failures;   //  CURVE handshakes refused (bad key, ZAP denial, plaintext)
    uint64_t submits;              //  submit requests answered (any ok)
};
typedef struct _broker_stats_t broker_stats_t;

//  A change made this turn, waiting for COMMIT before it is published.
typedef struct {
    uint64_t seq;                  //  its seq
    uint64_t prev_seq;             //  the alert's change before, 0 for its first
    int64_t at;                    //  when
    const char *event;             //  static event name
    entry_t *entry;                //  the alert it changed (change_listed until written),
                                   //  NULL for a silence's change
    int64_t silence_ends;          //  a silence's change: its ends, for its row
    bool deletion;                 //  the alert's `deleted` change: its row goes with it
    //  One allocation (s_change_keep) holds the body, then the topic, the
    //  source and the id, each ended by a NUL: one malloc a change, not four
    void *body;                    //  msgpack body, owning the rest
    size_t size;                   //  bytes in body
    char *topic;                   //  EVENT.LEVEL.SOURCE.ID
    size_t topic_size;             //  its bytes, without the NUL
    char *source;                  //  the alert's source ("" for a silence's)
    char *id;                      //  the alert's id, or the silence's
} pending_change_t;

struct _core_t {
    broker_config_t config;        //  our own copy
    char database_shown [1024];    //  config.database without a password (store_redact)
    store_t *store;                //  the SQLite file
    alert_table_t *table;          //  every alert
    due_heap_t *heap;              //  alerts by next due time
    tx_window_t *recent_tx;        //  tx ids of the last five minutes
    core_publish_fn *publish;      //  the loop's PUB socket
    void *publish_arg;
    bool secured;                  //  CURVE: callers are checked against their certificates
    const core_caller_t *caller;   //  who sent the control request being answered
    const void *request;           //  the control request being answered (its bytes)
    size_t request_size;           //  ... and their count
    bool reply_after_commit;       //  the op asks for its reply to wait for the commit
    bool reply_later;              //  ... or it comes with the store's answer (reads.c)
    read_request_t *reads;         //  reads waiting for the store, in request order;
    size_t read_count;             //  the first is out, or about to be
    size_t read_capacity;
    read_answer_t *answers;        //  replies ready for the loop, in request order
    size_t answer_count;
    size_t answer_capacity;
    int64_t retry_after;           //  ms an ok: false reply tells the caller to wait, or 0
    bool finishing;                //  stopping: every refresh is due
    bool lost;                     //  the store is another broker's now: stop, write nothing
    uint64_t seq;                  //  last seq handed out
    uint64_t published_seq;        //  last seq published (committed)
    int64_t started_at;            //  ms
    int64_t grace_until;           //  started_at + grace
    entry_t **changed;             //  entries to write at the next commit
    size_t changed_count;
    size_t changed_capacity;
    entry_t **deleted;             //  entries out of the table, their memory kept while a
    size_t deleted_count;          //  change, a queue or the checkpoint in flight points at
    size_t deleted_capacity;       //  them (core_delete_alert, s_bury)
    refresh_queue_t *refreshed;    //  refreshed entries, their times written by the checkpoint
    refresh_queue_t *rows;         //  entries whose rows lack committed changes, marked with
                                   //  the first such change's seq: the checkpoint writes them
    uint64_t rows_seq;             //  every row holds every change up to this seq
    flight_t flight;               //  the transaction sent, its answer not read yet
    size_t flight_count;           //  a chunk's: its changes (the first of `changes`)
    uint64_t flight_last_seq;      //  ... and its last seq
    size_t flight_rows;            //  a checkpoint's: its rows (the oldest of `rows`)
    size_t flight_times;           //  ... and its times (the oldest of `refreshed`)
    uint64_t flight_rows_seq;      //  a retention run's: the rows seq it writes
    int64_t flight_cutoff;         //  ... and what it deletes is older than this (ms)
    int retention_history;         //  the last retention run's counts: history rows
    int retention_silences;        //  ... and silences deleted (the store writes them
                                   //  when the run's answer comes)
    pending_change_t *changes;     //  changes to publish after the next commit, in seq order
    size_t change_count;
    size_t change_capacity;
    size_t change_bytes;           //  bytes of their bodies
    int64_t degraded_since;        //  wall ms since commits fail, 0 while they succeed
    char degraded_reason [256];    //  why, for hugz, ping, stats and the log
    int64_t reads_failing_since;   //  wall ms since reads for `since` and `history`
    char reads_failing_reason [256];    //  fail (reads.c), and why; 0 once one works
    int64_t standbys;              //  brokers waiting as standbys, when last counted
                                   //  (reads.c), or -1: not counted (SQLite, not yet)
    int64_t next_standby_count;    //  tick
    bool standby_count_queued;     //  a count waits in the reads queue
    int64_t standbys_short_since;  //  wall ms since fewer than config.standbys wait,
    char standbys_short_reason [256];   //  and why; 0 while enough do
    bool ingest_paused;            //  the backlog is full: ingest is not read
    bool pause_logged;             //  ... and that was said as a warning (writes failing)
    epoch_t epoch;                 //  the epoch this run publishes in
    char boot [EPOCH_DB_SIZE];     //  random per process: any restart shows
    int64_t tick;                  //  monotonic ms at the start of this turn: the
                                   //  loop's own timers below use it, so a wall
                                   //  clock step cannot stop hugz or commits
    int64_t next_refresh_write;    //  tick: no refresh slice before then
    int64_t next_retention;        //  tick
    int64_t retention_period;      //  ms between retention runs: a minute, or less
                                   //  when the retention itself is shorter
    int64_t retry_commit_at;       //  tick, 0 unless a commit failed
    wire_writer_t scratch;         //  reused for bodies
    silence_t **silences;          //  every silence kept, in the order they were added
    size_t silence_count;
    size_t silence_capacity;
    int64_t silence_due;           //  wall ms of the next silence start or end (or the
                                   //  first turn's reconciliation), 0 for none
    broker_stats_t stats;          //  counters
    log_limit_t reject_log;        //  rate limit for bad input lines
    log_limit_t store_log;         //  rate limit for database errors
    log_limit_t security_log;      //  rate limit for refused peers
};

//  Records a transition of entry made at now: queues the change for
//  publishing and the row for the next commit (a REFRESH only for the
//  refresh queue; NONE does nothing) and reschedules it.
void core_record (core_t *self, entry_t *entry, transition_t transition, int64_t now);
//  Deletes entry (a person's `delete`, retention): its `deleted` change is
//  queued like any other, and written with the DELETE of its row in the
//  turn's chunk; the entry leaves the table now (core.c). Never fails: a
//  failing commit is retried, as every change's is.
void core_delete_alert (core_t *self, entry_t *entry, int64_t now);

//  Packs the broker's health into a reply or hugz map: nothing while
//  commits and reads succeed and enough standbys wait, else `degraded`
//  (why: failing commits first, then reads, then standbys) and
//  `degraded_since` (wall ms). Returns the number of keys packed.
int core_pack_health (core_t *self, msgpack_packer *out);
bool core_degraded (core_t *self);
//  Packs `epoch` and `boot` (hugz, ping). Returns the number of keys: 2.
int core_pack_identity (core_t *self, msgpack_packer *out);

//  The `by` of an act (ack, unack, clear, silence_add, silence_expire):
//  required; on a secured broker the caller's certificate name unless its
//  role is trusted to pass on its own users (gateway). 0, or -1 with error.
int core_get_by (core_t *self, const msgpack_object *request, const char *op, char **by,
                 char *error, size_t error_size);

//  The source a batch may speak for, as ingest checks it for every frame
//  (and submit for every request): secured, the certificate's (caller's
//  client; NULL when unknown), any for a relay; plain, the batch's or
//  "unknown". NULL when refused: counted, logged, and the reason in error.
const char *core_authorize (core_t *self, const wire_batch_t *batch,
                            const core_caller_t *sender, char *error, size_t error_size);
//  Applies a decoded batch's events for source, as ingest applies a frame.
void core_apply_batch (core_t *self, const char *source, const wire_batch_t *batch,
                       int64_t now);

//  Queues a count of the standbys (PostgreSQL) in the reads queue, without
//  a reply: its answer sets `standbys`, and with too few the broker is
//  degraded until enough wait again (reads.c).
void core_count_standbys (core_t *self);

//  --- silences (silences.c) ---------------------------------------------------

//  Queues a change of silence (its row and a history row, topic
//  silence.ID) for the next commit, as core_record does for an alert's.
void core_record_silence (core_t *self, silence_t *silence, int64_t now);
//  Sets the alert's silenced_by to the live silence that covers it (NULL
//  for none, and always for a cleared alert). Called for every change
//  core_record publishes, before its body is packed.
void silences_cover (core_t *self, alert_t *alert, int64_t now);
//  Loads the stored silences (at start). 0 / -1.
int silences_load (core_t *self);
//  At silence_due: publishes each silence that started or ended, and gives
//  every alert whose silenced_by is no longer right an `updated` change.
void silences_tick (core_t *self, int64_t now);
//  Drops the silences that ended before cutoff (retention deleted their rows).
void silences_forget (core_t *self, int64_t cutoff);
void silences_destroy (core_t *self);
//  The reply's wrappers (control.c): {v, ok: true, tx?} and the pairs
//  packed into fields; {v, ok: false, error, tx?, retry_after?}.
void core_pack_ok (wire_writer_t *reply, int pairs, const wire_writer_t *fields,
                   const char *tx);
void core_pack_error (wire_writer_t *reply, const char *error, const char *tx,
                      int64_t retry_after);

//  reads.c: `since` from after (the caller's epoch checked) and `history`
//  of alert from newest (its newest committed change), below `before` (0:
//  no bound), up to limit changes. Their fields into out (the number of
//  pairs), -1 with error, or CORE_READ_LATER: the reply comes when the
//  store answers, and core_read_answers_tx gives it the request's tx.
int core_read_since (core_t *self, uint64_t after, size_t limit, msgpack_packer *out,
                     char *error, size_t error_size);
int core_read_history (core_t *self, const alert_t *alert, uint64_t newest, uint64_t before,
                       size_t limit, msgpack_packer *out, char *error, size_t error_size);
void core_read_answers_tx (core_t *self, char *tx);
//  In core_work: reads what the store answered, the replies made; sends
//  the next read. With stopping, every read still waiting is refused
//  ("stopping: ask again") instead.
void core_reads_work (core_t *self, bool stopping);
void core_reads_destroy (core_t *self);

//  Control ops silence_add, silence_list, silence_expire (as control.c's).
int silences_op_add (core_t *self, const msgpack_object *request, msgpack_packer *out,
                     int64_t now, char *error, size_t error_size);
int silences_op_list (core_t *self, const msgpack_object *request, msgpack_packer *out,
                      int64_t now, char *error, size_t error_size);
int silences_op_expire (core_t *self, const msgpack_object *request, msgpack_packer *out,
                        int64_t now, char *error, size_t error_size);

#endif
