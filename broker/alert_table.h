/*  alert_table.h — every alert the broker holds, in memory.

    The broker keeps all its alerts in RAM (the SQLite file is their durable
    copy): lookups by (source, id) go through a hash, and iteration through
    an array of positions in *ordinal* order. Each entry gets an ordinal
    when it is added, one more than the last, never reused; so entries only
    ever join at the end. `snapshot` pages with an ordinal as its cursor
    (alert_table_seek finds where to go on), not a position: a removal —
    retention deletes while snapshots page, and a UI may page all the time —
    leaves a hole there that iteration skips, and holes are closed by a
    compaction that keeps the order, so positions change but no entry ever
    moves across a cursor. A snapshot therefore sees every entry that lives
    from its first page to its last exactly once, whatever is removed
    meanwhile (entries added meanwhile come at the end: it sees them too).
    The price: a hole's 16 bytes until the next compaction (when holes pass
    a quarter of the array), and 8 bytes per entry for its ordinal.

    An entry is an alert plus the broker's bookkeeping: its place in the due
    heap, and whether its row must be written, and by which of the broker's
    two write paths (a change's commit, or the refresh queue).
*/
#ifndef LILAC_ALERT_TABLE_H
#define LILAC_ALERT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "alert.h"

#define ALERT_TABLE_NOWHERE SIZE_MAX    //  heap_index of an entry not in the heap

typedef struct {
    int64_t due_at;                //  due time in the due heap, 0 when not there
    size_t heap_index;             //  position in the due heap, or NOWHERE
    size_t table_index;            //  position in the table's array, NOWHERE once detached
    uint64_t store_handle;         //  the store's own (store_handle_t), 0 before the first write
    uint32_t key_hash;             //  hash of (source, id), for the table
    uint16_t id_size;              //  strlen (alert.id): ids are at most WIRE_MAX_NAME
    bool stale : 1;                //  the stored row is behind the alert
    bool change_listed : 1;        //  in the broker's list for the next commit
    bool refresh_queued : 1;       //  in the broker's refresh queue
    bool row_queued : 1;           //  committed changes wait in the broker's row queue
    bool checkpointing : 1;        //  its row or times are in the checkpoint in flight
    bool touched : 1;              //  ... and it changed or was refreshed since it was sent
    bool deleted : 1;              //  detached: its `deleted` change waits for its commit
    unsigned counted_state : 2;    //  the state the table counts it under
    alert_t alert;                 //  the row; source and id point into key
    char key [];                   //  "source\0id\0", owned by the table
} entry_t;

typedef struct _alert_table_t alert_table_t;

alert_table_t *alert_table_new (void);
//  Destroys the table and every entry; NULL is a no-op.
void alert_table_destroy (alert_table_t **self_p);

//  The entry for (source, id), or NULL.
entry_t *alert_table_find (alert_table_t *self, const char *source, const char *id);

//  A key in hand, with its sizes and hash (alert_table_key): a lookup
//  compares sizes first and then the bytes a word at a time, where
//  strcmp's two calls were a twentieth of batched ingest (perf).
typedef struct {
    const char *source;
    size_t source_size;            //  strlen (source)
    const char *id;
    size_t id_size;                //  strlen (id)
    uint32_t hash;                 //  of (source, id), as the table keeps it
} alert_key_t;

//  A source, measured and mixed into the key's hash once: a caller with
//  many ids of one source (a frame's events) keys them all from it.
typedef struct {
    const char *text;
    size_t size;                   //  strlen (text)
    uint64_t mixed;                //  the hash's state after the source
} alert_source_t;

//  Many lookups at once. A lookup is a chain of two cache misses (the slot,
//  then the entry), the second waiting for the first. A caller with many
//  keys in hand prefetches each key's slot, later (other keys' work in
//  between, so the slot has arrived) its entry, which reads the slot, and
//  later still finds it by hash: the misses of many keys are in flight
//  together. Prefetching only reads, so keys added or removed in between
//  cost speed, not results.
alert_source_t alert_table_source (const char *source);
//  The key of (source, id).
alert_key_t alert_table_key (const alert_source_t *source, const char *id);
void alert_table_prefetch_slot (alert_table_t *self, uint32_t hash);
void alert_table_prefetch_entry (alert_table_t *self, uint32_t hash);
//  alert_table_find of a key in hand.
entry_t *alert_table_find_key (alert_table_t *self, const alert_key_t *key);
//  Adds a new, zeroed entry for (source, id) in state cleared; the key must
//  not be there yet.
entry_t *alert_table_add (alert_table_t *self, const char *source, const char *id);
//  Adds an entry holding *alert, which it takes over (leaving *alert empty);
//  the key must not be there yet.
entry_t *alert_table_adopt (alert_table_t *self, alert_t *alert);
//  Gives entry the fields of *alert, which it takes over (leaving *alert
//  empty), in place of its own; its key, ordinal and bookkeeping stay.
//  alert's source and id must be the entry's.
void alert_table_replace (alert_table_t *self, entry_t *entry, alert_t *alert);
//  Removes and frees entry; it must not be in the due heap. Positions of
//  other entries may change (compaction); their ordinals do not.
void alert_table_remove (alert_table_t *self, entry_t *entry);
//  Removes entry as alert_table_remove does, without freeing it: the
//  owner still holds it (a deletion waiting for its commit) and frees it
//  with alert_table_entry_free; a new entry may take its key meanwhile.
void alert_table_detach (alert_table_t *self, entry_t *entry);
//  Frees a detached entry and its alert; NULL is a no-op.
void alert_table_entry_free (entry_t **entry_p);

//  Entries in the table.
size_t alert_table_size (alert_table_t *self);
//  Entries by state, as the table counts them: an entry is added cleared and
//  counted again by alert_table_recount, which the owner calls after every
//  state change, so `stats` needs no walk over a million entries.
size_t alert_table_count (alert_table_t *self, alert_state_t state);
void alert_table_recount (alert_table_t *self, entry_t *entry);
//  Iteration: positions 0 to span - 1, in ordinal order, holes included.
size_t alert_table_span (alert_table_t *self);
//  The entry at position < span, or NULL for a hole (skip it).
entry_t *alert_table_at (alert_table_t *self, size_t position);
//  The ordinal at position < span (a hole keeps its removed entry's).
uint64_t alert_table_ordinal (alert_table_t *self, size_t position);
//  The first position whose ordinal is ordinal or more; span if none. The
//  first entry's ordinal is 1, so seek (0) is position 0.
size_t alert_table_seek (alert_table_t *self, uint64_t ordinal);

#endif
