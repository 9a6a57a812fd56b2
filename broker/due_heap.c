/*  due_heap.c — binary min-heap of entries by due time. See due_heap.h.

    Each slot holds its key next to the entry pointer, so sifting compares
    keys in one array and touches an entry only to write back its position.

    Keys are lower bounds, raised lazily. The common move is a heartbeat
    refresh: the same alert's due time pushed later, 100,000 times a second
    under load. Sifting each of those down is log2(n) cache misses for a
    deadline that may be minutes away, so a later due time is only written
    to the entry; the slot keeps the old, earlier key. Only when such a
    stale key is at the top and its time has come does due_heap_due re-key
    it with the entry's real due time and sift it down once: a heartbeat
    refreshed every minute with a five-minute deadline costs one sift per
    five minutes, not one per refresh. An earlier due time is applied at
    once (sift up). So the top key is a lower bound of every due time, and
    the loop that sleeps until it may wake early, never late.

    Invariants: for every i > 0, slots[(i-1)/2].key <= slots[i].key;
    slots[i].entry->heap_index == i; slots[i].key <= slots[i].entry->due_at.
*/
#include <assert.h>
#include <stdbool.h>
#include "due_heap.h"
#include "mem.h"

typedef struct {
    int64_t key;                   //  due time the heap is ordered by, <= entry's
    entry_t *entry;
} slot_t;

struct _due_heap_t {
    slot_t *slots;                 //  the heap array
    size_t size;                   //  slots in use
    size_t capacity;               //  slots allocated
};

due_heap_t *
due_heap_new (void)
{
    return mem_alloc (sizeof (due_heap_t));
}

void
due_heap_destroy (due_heap_t **self_p)
{
    if (!*self_p)
        return;
    due_heap_t *self = *self_p;
    for (size_t index = 0; index < self->size; index++)
        self->slots [index].entry->heap_index = ALERT_TABLE_NOWHERE;
    mem_free (self->slots);
    mem_free (self);
    *self_p = NULL;
}

static void
s_place (due_heap_t *self, size_t index, slot_t slot)
{
    self->slots [index] = slot;
    slot.entry->heap_index = index;
}

static void
s_sift_up (due_heap_t *self, size_t index)
{
    slot_t slot = self->slots [index];
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (self->slots [parent].key <= slot.key)
            break;
        s_place (self, index, self->slots [parent]);
        index = parent;
    }
    s_place (self, index, slot);
}

static void
s_sift_down (due_heap_t *self, size_t index)
{
    slot_t slot = self->slots [index];
    while (true) {
        size_t child = 2 * index + 1;
        if (child >= self->size)
            break;
        if (child + 1 < self->size && self->slots [child + 1].key < self->slots [child].key)
            child++;
        if (slot.key <= self->slots [child].key)
            break;
        s_place (self, index, self->slots [child]);
        index = child;
    }
    s_place (self, index, slot);
}

static void
s_remove (due_heap_t *self, entry_t *entry)
{
    size_t index = entry->heap_index;
    slot_t last = self->slots [--self->size];
    entry->heap_index = ALERT_TABLE_NOWHERE;
    entry->due_at = 0;
    if (last.entry == entry)
        return;
    s_place (self, index, last);
    s_sift_up (self, index);
    s_sift_down (self, last.entry->heap_index);
}

static void
s_insert (due_heap_t *self, entry_t *entry)
{
    if (self->size == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2 : 1024;
        self->slots = mem_realloc (self->slots, self->capacity * sizeof (slot_t));
    }
    s_place (self, self->size++, (slot_t) { .key = entry->due_at, .entry = entry });
    s_sift_up (self, entry->heap_index);
}

void
due_heap_set (due_heap_t *self, entry_t *entry, int64_t due_at)
{
    bool in_heap = entry->heap_index != ALERT_TABLE_NOWHERE;
    if (due_at == 0) {
        if (in_heap)
            s_remove (self, entry);
        return;
    }
    entry->due_at = due_at;
    if (!in_heap)
        s_insert (self, entry);
    else
    if (due_at < self->slots [entry->heap_index].key) {
        self->slots [entry->heap_index].key = due_at;
        s_sift_up (self, entry->heap_index);
    }
    //  else: later than its key — settled lazily by due_heap_due
}

int64_t
due_heap_next (due_heap_t *self)
{
    return self->size ? self->slots [0].key : 0;
}

entry_t *
due_heap_due (due_heap_t *self, int64_t now)
{
    while (self->size && self->slots [0].key <= now) {
        slot_t *top = &self->slots [0];
        if (top->key == top->entry->due_at)
            return top->entry;
        top->key = top->entry->due_at;      //  stale: re-key and let it sink
        s_sift_down (self, 0);
    }
    return NULL;
}

size_t
due_heap_size (due_heap_t *self)
{
    return self->size;
}
