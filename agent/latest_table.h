/*  latest_table.h — the newest state of every alert the agent speaks for.

    The agent never queues events: it keeps, per (source, id), the last one
    it heard (from its heartbeat, its checks, or a local sender) and a dirty
    flag saying the broker has not been handed it yet. A broker outage of any
    length therefore costs one entry per distinct alert, superseded states
    are simply overwritten, and the final state is never lost. The number of
    entries is capped (max_alerts); past it, new ids are refused.

    Times in a held event are kept as offsets from the moment it was stored
    (monotonic clock), and sent as relative specs ("+299500ms") computed at
    send time: "+5m" received 30 s before the broker came back still raises
    4.5 minutes after it, and neither clock's absolute value matters.

    With a state directory (latest_table_open_disk), every entry is also on
    disk (latest_store.h): a put, a flush that cleans an entry, a remove
    mark it unsaved, and latest_table_sync writes all unsaved entries in one
    transaction — the agent calls it at the end of every turn, so what the
    agent read in a turn is on disk before the next one begins. A failed
    sync keeps them unsaved for the next one; memory stays the truth.
    Restart loads every entry with its dirty flag (not yet acknowledged by
    the broker), and its age: the row holds how long it had been held when
    it was written, so a resend after an agent restart still says how old
    the event is.
*/
#ifndef LILAC_LATEST_TABLE_H
#define LILAC_LATEST_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wire.h"

typedef struct _latest_table_t latest_table_t;

latest_table_t *latest_table_new (size_t max_alerts);
void latest_table_destroy (latest_table_t **self_p);
void latest_table_set_max (latest_table_t *self, size_t max_alerts);

//  Keeps the table in dir (made if missing) from now on, after loading
//  what an earlier run left there (up to max_alerts; the rest is dropped
//  from the file and counted in the note). 0, or -1 with a reason in error
//  (the directory cannot be used, or another agent holds it). A damaged
//  file is not an error: note says what happened and what was kept (it is
//  empty when all was well), and the table still keeps to dir.
int latest_table_open_disk (latest_table_t *self, const char *dir, int64_t wall_now,
                            int64_t mono_now, char *note, size_t note_size,
                            char *error, size_t error_size);
//  Writes every unsaved entry (and drops removed ones) in one transaction,
//  with times relative to wall_now. Returns how many rows it wrote (0 when
//  there is no state directory or nothing changed), or -1 with a reason in
//  error; the entries then stay unsaved for the next call.
int latest_table_sync (latest_table_t *self, int64_t wall_now, int64_t mono_now,
                       char *error, size_t error_size);
//  Entries changed since the last successful sync.
size_t latest_table_unsaved (latest_table_t *self);
//  The state file, or NULL without a state directory (borrowed).
const char *latest_table_path (latest_table_t *self);

//  Stores event for (source, event->id), replacing what was held, and marks
//  it dirty. Times in event are absolute (wall ms, as wire_batch_decode
//  resolves them against wall_now); they are kept relative to mono_now.
//  The event's strings are copied. Returns 0, or -1 when the table is full
//  and the id is new (the event is dropped).
int latest_table_put (latest_table_t *self, const char *source, const wire_event_t *event,
                      int64_t wall_now, int64_t mono_now);
//  The event held for (source, id), or NULL (borrowed: valid until the next
//  put or remove of that key). Its times are offsets, not absolute.
const wire_event_t *latest_table_get (latest_table_t *self, const char *source, const char *id);
//  Drops the entry for (source, id); true if there was one.
bool latest_table_remove (latest_table_t *self, const char *source, const char *id);

size_t latest_table_size (latest_table_t *self);
//  Entries not yet acknowledged (in flight or not).
size_t latest_table_dirty (latest_table_t *self);
//  Dirty entries not in flight: what a dirty flush would send.
size_t latest_table_unsent (latest_table_t *self);

//  --- acknowledgements ----------------------------------------------------------
//
//  A frame handed over by a flush is in flight under its tx until one of
//  these: acked (its entries are clean unless put again since), refused
//  (they are sendable again), or forgotten with every other one (a broker
//  restart, a timeout).

//  The batch tx was acknowledged: returns how many entries it cleaned, or
//  -1 when tx is not in flight (a late answer after a forget).
int latest_table_acked (latest_table_t *self, const char *tx);
//  The batch tx was refused as a whole: its entries are sendable again.
//  False when tx is not in flight.
bool latest_table_refused (latest_table_t *self, const char *tx);
//  Forgets every batch in flight: their entries are sendable again.
void latest_table_forget (latest_table_t *self);
//  Batches in flight, and the monotonic ms the oldest was sent (0: none).
size_t latest_table_in_flight (latest_table_t *self);
int64_t latest_table_oldest_sent (latest_table_t *self);

//  Packs ingest frames and hands each to send(frame, size, arg), which
//  returns 0 when the frame was handed over, -1 to stop. Only dirty entries
//  not in flight unless everything is set; with everything and replace,
//  each source's entries go in one replace=true frame when they fit
//  (WIRE_MAX_BATCH and the frame budget), else in several frames without
//  replace. Each alert carries `age`: how long the agent has held it, in
//  ms. The dirty entries of a frame that was handed over are in flight
//  under the frame's tx (see above); they stay dirty until acknowledged.
//  Returns the number of frames sent, or -1 if send stopped.
typedef int (latest_send_fn) (const void *frame, size_t size, void *arg);
int latest_table_flush (latest_table_t *self, bool everything, bool replace,
                        int64_t mono_now, latest_send_fn *send, void *arg);

#endif
