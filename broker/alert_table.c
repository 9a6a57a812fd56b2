/*  alert_table.c — an open-addressing hash for lookups plus an array of
    cells in ordinal order for iteration. See alert_table.h.

    Every ingest event starts with a lookup, so the table is built around
    cache misses, which is what a lookup costs at a million alerts:
    - The hash is an array of slots {key hash, entry}, a power of two in
      size, at most three quarters full, probed linearly. A probe compares
      hashes inside the slot array and reaches an entry only on a match, so
      a lookup is two dependent misses (the slot, then the entry) and
      nothing between them (slots once held positions in the array, and
      the array's cell was a third miss on every lookup; 8 bytes a slot
      more now).
      Removal shifts the rest of a probe run back (no tombstones).
    - An entry is one allocation: the bookkeeping, the alert, then its key
      "source\0id\0", which alert.source and alert.id point into.
    - The array holds cells {entry, ordinal} in ordinal order. Removal
      leaves a hole (entry NULL) that keeps its ordinal, so the array stays
      sorted and alert_table_seek is a binary search; once holes pass a
      quarter of the array, it is compacted in place, in order (amortized,
      four moves per removal; slots do not move). Positions change then;
      ordinals never do.
    Against czmq's string map (a node and a formatted key copy per alert,
    an snprintf per lookup) this took refresh ingest from 0.67M to 1.08M
    events/s, with the lazy due heap, and memory from 435 to 325 bytes per
    alert (make bench).
*/
#include <assert.h>
#include <string.h>
#include "alert_table.h"
#include "bytes.h"
#include "mem.h"

#define TABLE_MIN_SLOTS 1024           //  a power of two

typedef struct {
    uint32_t hash;                 //  entry's key_hash
    entry_t *entry;                //  NULL marks an empty slot
} slot_t;

typedef struct {
    entry_t *entry;                //  owned, or NULL: a hole left by a removal
    uint64_t ordinal;              //  the entry's (or the removed entry's) ordinal
} cell_t;

struct _alert_table_t {
    slot_t *slots;                 //  the hash
    size_t slot_mask;              //  slot count - 1
    cell_t *cells;                 //  entries and holes, in ordinal order
    size_t span;                   //  cells in use, holes included
    size_t size;                   //  entries (cells in use that are not holes)
    size_t capacity;               //  cells allocated
    uint64_t next_ordinal;         //  the next entry's ordinal; the first is 1
    size_t state_counts [ALERT_CLEARED + 1];   //  entries by counted_state
};

//  Mixes size bytes of text into hash eight at a time, then the last
//  word with the size, so that ("ab", "c") and ("a", "bc") differ. The
//  last word overlaps the one before it (under 8 bytes, two half or
//  quarter words overlap each other): for a given size the words still
//  tell every byte, and the tail costs two loads, not a byte loop (the
//  byte loop was a twentieth of batched ingest, perf).
static uint64_t
s_mix (uint64_t hash, const char *text, size_t size)
{
    size_t offset = 0;
    for (; offset + 8 <= size; offset += 8) {
        hash = (hash ^ bytes_load (text + offset, 8)) * 0x9e3779b97f4a7c15ULL;
        hash ^= hash >> 32;
    }
    uint64_t tail = 0;
    if (size >= 8 && offset < size)
        tail = bytes_load (text + size - 8, 8);
    else
    if (size > 0 && size < 8) {
        size_t width = bytes_width (size);
        tail = bytes_load (text, width) | bytes_load (text + size - width, width) << 32;
    }
    hash = (hash ^ tail) * 0x9e3779b97f4a7c15ULL;
    hash ^= hash >> 32;
    return (hash ^ size) * 0x9e3779b97f4a7c15ULL;
}

#define TABLE_HASH_SEED 14695981039346656037ULL

//  The mixed key, finished (MurmurHash3's 64-bit finalizer) so that the
//  low bits used as the slot are well mixed.
static uint32_t
s_finish (uint64_t hash)
{
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdULL;
    hash ^= hash >> 33;
    return (uint32_t) hash;
}

alert_source_t
alert_table_source (const char *source)
{
    size_t size = strlen (source);
    return (alert_source_t) { source, size, s_mix (TABLE_HASH_SEED, source, size) };
}

alert_key_t
alert_table_key (const alert_source_t *source, const char *id)
{
    size_t id_size = strlen (id);
    return (alert_key_t) { source->text, source->size, id, id_size,
                           s_finish (s_mix (source->mixed, id, id_size)) };
}

alert_table_t *
alert_table_new (void)
{
    alert_table_t *self = mem_alloc (sizeof (alert_table_t));
    self->slots = mem_alloc (TABLE_MIN_SLOTS * sizeof (slot_t));
    self->slot_mask = TABLE_MIN_SLOTS - 1;
    self->next_ordinal = 1;
    return self;
}

//  Frees an entry and its alert; the key is part of the entry.
static void
s_entry_free (entry_t *entry)
{
    entry->alert.source = NULL;
    entry->alert.id = NULL;
    alert_clear_fields (&entry->alert);
    mem_free (entry);
}

void
alert_table_destroy (alert_table_t **self_p)
{
    if (!*self_p)
        return;
    alert_table_t *self = *self_p;
    for (size_t index = 0; index < self->span; index++)
        if (self->cells [index].entry)
            s_entry_free (self->cells [index].entry);
    mem_free (self->cells);
    mem_free (self->slots);
    mem_free (self);
    *self_p = NULL;
}

//  True if entry's key is key. The entry's source is as long as the
//  distance from its key to its id, less the NUL; the sizes are compared
//  before any byte, so both sides hold every byte compared.
static inline bool
s_is_key (const entry_t *entry, const alert_key_t *key)
{
    return entry->id_size == key->id_size
        && (size_t) (entry->alert.id - entry->key) == key->source_size + 1
        && bytes_equal (entry->alert.id, key->id, key->id_size)
        && bytes_equal (entry->key, key->source, key->source_size);
}

//  The slot holding key, or the empty slot that ends its probe run.
static size_t
s_probe (alert_table_t *self, const alert_key_t *key)
{
    size_t at = key->hash & self->slot_mask;
    for (slot_t *slot; (slot = &self->slots [at])->entry; at = (at + 1) & self->slot_mask)
        if (slot->hash == key->hash && s_is_key (slot->entry, key))
            break;
    return at;
}

entry_t *
alert_table_find_key (alert_table_t *self, const alert_key_t *key)
{
    return self->slots [s_probe (self, key)].entry;
}

entry_t *
alert_table_find (alert_table_t *self, const char *source, const char *id)
{
    alert_source_t of = alert_table_source (source);
    alert_key_t key = alert_table_key (&of, id);
    return alert_table_find_key (self, &key);
}

//  The key's home slot, which holds it unless a collision pushed it on.
void
alert_table_prefetch_slot (alert_table_t *self, uint32_t hash)
{
    __builtin_prefetch (&self->slots [hash & self->slot_mask]);
}

//  Every line of the entry in the key's home slot, up to the first 64
//  bytes of its key: a lookup and a heartbeat's apply read the bookkeeping,
//  the key pointers, the state and times, and the key, which sit in four or
//  five lines of a malloc'd entry (aligned to 16 bytes, not 64), and the
//  key's compare reads it to its end: prefetching four chosen addresses
//  left the key's last line out, and the compare (then strcmp) waited on
//  it (perf: a third of the batched path). Nothing when the home slot
//  holds another key.
void
alert_table_prefetch_entry (alert_table_t *self, uint32_t hash)
{
    const slot_t *home = &self->slots [hash & self->slot_mask];
    if (home->hash != hash || !home->entry)
        return;
    const char *entry = (const char *) home->entry;
    for (size_t offset = 0; offset < sizeof (entry_t) + 64; offset += 64)
        __builtin_prefetch (entry + offset);
}

//  The slot pointing at entry.
static size_t
s_slot_of (alert_table_t *self, const entry_t *entry)
{
    size_t at = entry->key_hash & self->slot_mask;
    while (self->slots [at].entry != entry) {
        assert (self->slots [at].entry);
        at = (at + 1) & self->slot_mask;
    }
    return at;
}

//  Doubles the hash when it would pass three quarters full.
static void
s_grow_slots (alert_table_t *self)
{
    size_t count = self->slot_mask + 1;
    if ((self->size + 1) * 4 <= count * 3)
        return;
    slot_t *old = self->slots;
    self->slots = mem_alloc (2 * count * sizeof (slot_t));
    self->slot_mask = 2 * count - 1;
    for (size_t index = 0; index < count; index++)
        if (old [index].entry) {
            size_t at = old [index].hash & self->slot_mask;
            while (self->slots [at].entry)
                at = (at + 1) & self->slot_mask;
            self->slots [at] = old [index];
        }
    mem_free (old);
}

entry_t *
alert_table_add (alert_table_t *self, const char *source, const char *id)
{
    s_grow_slots (self);
    alert_source_t of = alert_table_source (source);
    alert_key_t key = alert_table_key (&of, id);
    assert (key.id_size <= UINT16_MAX);
    size_t at = s_probe (self, &key);
    assert (!self->slots [at].entry);
    if (self->span == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2 : 1024;
        self->cells = mem_realloc (self->cells, self->capacity * sizeof (cell_t));
    }
    entry_t *entry = mem_alloc (sizeof (entry_t) + key.source_size + 1 + key.id_size + 1);
    memcpy (entry->key, source, key.source_size + 1);
    memcpy (entry->key + key.source_size + 1, id, key.id_size + 1);
    entry->alert.source = entry->key;
    entry->alert.id = entry->key + key.source_size + 1;
    entry->id_size = (uint16_t) key.id_size;
    entry->alert.state = ALERT_CLEARED;
    entry->counted_state = ALERT_CLEARED;
    self->state_counts [ALERT_CLEARED]++;
    entry->alert.level = LEVEL_NORMAL;
    entry->heap_index = ALERT_TABLE_NOWHERE;
    entry->table_index = self->span;
    entry->key_hash = key.hash;
    self->cells [self->span++] = (cell_t) { .entry = entry, .ordinal = self->next_ordinal++ };
    self->size++;
    self->slots [at] = (slot_t) { .hash = key.hash, .entry = entry };
    return entry;
}

entry_t *
alert_table_adopt (alert_table_t *self, alert_t *alert)
{
    entry_t *entry = alert_table_add (self, alert->source, alert->id);
    alert_table_replace (self, entry, alert);
    return entry;
}

void
alert_table_replace (alert_table_t *self, entry_t *entry, alert_t *alert)
{
    char *source = entry->alert.source, *id = entry->alert.id;
    entry->alert.source = NULL;
    entry->alert.id = NULL;
    alert_clear_fields (&entry->alert);
    free (alert->source);
    free (alert->id);
    entry->alert = *alert;
    entry->alert.source = source;
    entry->alert.id = id;
    memset (alert, 0, sizeof (alert_t));
    alert_table_recount (self, entry);
}

//  Empties slot at, then moves back each later slot of the probe run that
//  may live there, so every run stays unbroken.
static void
s_vacate (alert_table_t *self, size_t at)
{
    size_t next = at;
    while (true) {
        next = (next + 1) & self->slot_mask;
        slot_t slot = self->slots [next];
        if (!slot.entry)
            break;
        size_t home = slot.hash & self->slot_mask;
        if (((next - home) & self->slot_mask) >= ((next - at) & self->slot_mask)) {
            self->slots [at] = slot;
            at = next;
        }
    }
    self->slots [at] = (slot_t) { 0 };
}

//  Closes every hole, keeping the order: each entry moved down learns its
//  new position (its slot points at the entry, not the position).
static void
s_compact (alert_table_t *self)
{
    size_t kept = 0;
    for (size_t index = 0; index < self->span; index++) {
        entry_t *entry = self->cells [index].entry;
        if (!entry)
            continue;
        if (kept != index) {
            entry->table_index = kept;
            self->cells [kept] = self->cells [index];
        }
        kept++;
    }
    assert (kept == self->size);
    self->span = kept;
}

void
alert_table_detach (alert_table_t *self, entry_t *entry)
{
    assert (entry->heap_index == ALERT_TABLE_NOWHERE);
    assert (entry->table_index < self->span && self->cells [entry->table_index].entry == entry);
    s_vacate (self, s_slot_of (self, entry));
    self->state_counts [entry->counted_state]--;
    self->cells [entry->table_index].entry = NULL;      //  a hole; its ordinal stays
    self->size--;
    entry->table_index = ALERT_TABLE_NOWHERE;
    if ((self->span - self->size) * 4 > self->span)
        s_compact (self);
}

void
alert_table_entry_free (entry_t **entry_p)
{
    if (!*entry_p)
        return;
    assert ((*entry_p)->table_index == ALERT_TABLE_NOWHERE);
    s_entry_free (*entry_p);
    *entry_p = NULL;
}

void
alert_table_remove (alert_table_t *self, entry_t *entry)
{
    alert_table_detach (self, entry);
    alert_table_entry_free (&entry);
}

size_t
alert_table_size (alert_table_t *self)
{
    return self->size;
}

size_t
alert_table_count (alert_table_t *self, alert_state_t state)
{
    assert (state <= ALERT_CLEARED);
    return self->state_counts [state];
}

void
alert_table_recount (alert_table_t *self, entry_t *entry)
{
    alert_state_t state = entry->alert.state;
    assert (state <= ALERT_CLEARED);
    if (entry->counted_state == state)
        return;
    self->state_counts [entry->counted_state]--;
    self->state_counts [state]++;
    entry->counted_state = state;
}

size_t
alert_table_span (alert_table_t *self)
{
    return self->span;
}

entry_t *
alert_table_at (alert_table_t *self, size_t position)
{
    assert (position < self->span);
    return self->cells [position].entry;
}

uint64_t
alert_table_ordinal (alert_table_t *self, size_t position)
{
    assert (position < self->span);
    return self->cells [position].ordinal;
}

//  Cells are in ordinal order, holes included: a binary search.
size_t
alert_table_seek (alert_table_t *self, uint64_t ordinal)
{
    size_t low = 0, high = self->span;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (self->cells [middle].ordinal < ordinal)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}
