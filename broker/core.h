/*  core.h — the broker's core: every alert, its due times, the store, the
    changes waiting for their commit, the silences, the counters, and the
    control ops. No sockets.

    The loop (broker.c) owns the sockets and the clock of the turn, and
    drives the core: it hands it ingest frames and control requests, asks
    it to fire what is due and to write, and gives it one way out, a
    publish function, which the core calls for a change only after the
    change is committed (and for hugz). So the core can be driven by a unit
    test with a store in a temp dir and a publish function that records,
    without binding anything (tests/unit/test_core.c).

    A turn, as the loop drives it: core_begin_turn, then any number of
    core_accept_frame/core_apply_frames and core_answer, then core_work
    (fire due alerts, tick silences, commit and publish, write due
    refreshes, retention). A control reply that core_answer says waits for
    the commit goes out once core_unpublished is 0. While a commit is in
    flight (PostgreSQL answers later), the loop also polls core_poll_fd;
    core_work reads the answer.
*/
#ifndef LILAC_CORE_H
#define LILAC_CORE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "broker.h"
#include "security.h"
#include "wire.h"

typedef struct _core_t core_t;

//  Sends one [topic, body] message on the PUB socket: 0, or -1 (counted
//  not published; subscribers catch up with `since`).
typedef int (core_publish_fn) (void *arg, const char *topic, const void *body, size_t size);

//  Who sent the control request being answered (all NULL on a plain
//  broker): the client its certificate names (NULL: a key not in the
//  clients table), its CURVE public key, its address.
typedef struct {
    const security_client_t *client;
    const char *user_id;
    const char *address;
} core_caller_t;

//  The loop reads ingest in groups: up to BROKER_GROUP_FRAMES frames, or
//  fewer once they hold BROKER_GROUP_EVENTS events, accepted one by one and
//  then applied together (core_apply_frames).
#define BROKER_GROUP_FRAMES     32
#define BROKER_GROUP_EVENTS     64

//  An ingest frame read and accepted, its events not applied yet.
typedef struct {
    wire_batch_t batch;            //  decoded; its memory is reused by the next read
    const char *source;            //  the source it may speak for
} ingest_frame_t;

//  Opens the store, loads alerts and silences, begins the epoch. secured:
//  the sockets are CURVE and every caller is checked against its
//  certificate. The core copies config. NULL with a reason in error.
core_t *core_new (const broker_config_t *config, bool secured, core_publish_fn *publish,
                  void *publish_arg, char *error, size_t error_size);
void core_destroy (core_t **self_p);

//  The monotonic ms the turn began at: the core's own timers (commit
//  retry, refresh slices, retention) run on it, so a wall clock step
//  cannot stop them.
void core_begin_turn (core_t *self, int64_t tick);

//  Decodes an ingest frame (data, size) into frame, authorizes its source
//  (user_id, peer and client as core_caller_t) and checks its tx. True if
//  its events are to be applied; a refused frame is counted and logged.
bool core_accept_frame (core_t *self, ingest_frame_t *frame, const void *data, size_t size,
                        const core_caller_t *sender, int64_t now);
//  Applies the events of count accepted frames, in order.
void core_apply_frames (core_t *self, ingest_frame_t *frames, size_t count, int64_t now);
//  Counts and logs a refused ingest message (what, why).
void core_reject (core_t *self, const char *what, const char *why);

//  When the reply to a control request goes out.
typedef enum {
    CORE_REPLY_NOW,                //  it is in reply: send it
    CORE_REPLY_AFTER_COMMIT,       //  it is in reply: send it once nothing is unpublished
                                   //  (the op changed something, or asked to wait)
    CORE_REPLY_LATER               //  reply is empty: core_take_reply gives it once the
                                   //  store answered the op's read (PostgreSQL)
} core_reply_t;

//  Answers one control request into reply.
core_reply_t core_answer (core_t *self, const core_caller_t *caller, const void *request,
                          size_t size, wire_writer_t *reply, int64_t now);
//  The next reply that core_answer said comes later, in the order of their
//  requests: true with it in reply, false while none is ready. After
//  core_finish or core_refuse_reads, every such reply is ready (refused:
//  ask again).
bool core_take_reply (core_t *self, wire_writer_t *reply);
//  Stopping without core_finish (the store lost, the file gone): the reads
//  still waiting are refused, so every request has its reply.
void core_refuse_reads (core_t *self);
//  While a read is out (PostgreSQL): the store's reads socket for the loop
//  to poll, with the events wanted; -1 otherwise. core_work reads it.
int core_read_fd (core_t *self, short *events);

//  The rest of a turn: fires due alerts, ticks the silences, commits and
//  publishes, writes the refreshes due, copies the store's log, and runs
//  retention when its time came.
void core_work (core_t *self, int64_t now);
//  True once the store is lost to this broker (store_lost: another broker
//  took over, or the PostgreSQL session and its lock are gone): the loop
//  stops at once, unbinding, without writing or publishing anything more.
bool core_lost (core_t *self);
//  While a transaction is in flight (PostgreSQL): the store's socket for
//  the loop to poll beside its own, with the events wanted; -1 otherwise.
//  core_work reads the answer when it is there.
int core_poll_fd (core_t *self, short *events);
//  Changes not yet committed and published (control replies wait for 0).
size_t core_unpublished (core_t *self);
//  True while commits fail and the unwritten backlog is past its bound:
//  the loop stops reading ingest (and logs the change of state).
bool core_backlog_full (core_t *self);
//  Ms the loop may sleep before the core has something to do (at most
//  max_ms); now is wall ms, tick monotonic.
long core_poll_timeout (core_t *self, int64_t now, int64_t tick, long max_ms);
//  Publishes hugz. False when the database was deleted or replaced under
//  the broker: logged; the loop must stop without writing.
bool core_hugz (core_t *self, int64_t now);

//  Stopping: writes everything (a few tries), then marks the stop clean.
//  0, or -1 logged (the next start begins a new epoch).
int core_finish (core_t *self);

//  CURVE handshakes the loop saw refused, for `stats`.
void core_count_handshake_failures (core_t *self, int failures);

//  For the loop's log: alerts kept, the last seq published, the database
//  as logs may show it (no password).
const char *core_database (core_t *self);
size_t core_alert_count (core_t *self);
uint64_t core_published_seq (core_t *self);

#endif
