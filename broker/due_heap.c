/*  due_heap.c — binary min-heap of entries by due_at. See due_heap.h.

    Invariant: for every i > 0, items[(i-1)/2]->due_at <= items[i]->due_at,
    and items[i]->heap_index == i.
*/
#include <assert.h>
#include <stdbool.h>
#include "due_heap.h"
#include "mem.h"

struct _due_heap_t {
    entry_t **items;               //  the heap array
    size_t size;                   //  items in use
    size_t capacity;               //  items allocated
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
        self->items [index]->heap_index = ALERT_TABLE_NOWHERE;
    mem_free (self->items);
    mem_free (self);
    *self_p = NULL;
}

static void
s_place (due_heap_t *self, size_t index, entry_t *entry)
{
    self->items [index] = entry;
    entry->heap_index = index;
}

static void
s_sift_up (due_heap_t *self, size_t index)
{
    entry_t *entry = self->items [index];
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (self->items [parent]->due_at <= entry->due_at)
            break;
        s_place (self, index, self->items [parent]);
        index = parent;
    }
    s_place (self, index, entry);
}

static void
s_sift_down (due_heap_t *self, size_t index)
{
    entry_t *entry = self->items [index];
    while (true) {
        size_t child = 2 * index + 1;
        if (child >= self->size)
            break;
        if (child + 1 < self->size
        &&  self->items [child + 1]->due_at < self->items [child]->due_at)
            child++;
        if (entry->due_at <= self->items [child]->due_at)
            break;
        s_place (self, index, self->items [child]);
        index = child;
    }
    s_place (self, index, entry);
}

static void
s_remove (due_heap_t *self, entry_t *entry)
{
    size_t index = entry->heap_index;
    entry_t *last = self->items [--self->size];
    entry->heap_index = ALERT_TABLE_NOWHERE;
    entry->due_at = 0;
    if (last == entry)
        return;
    s_place (self, index, last);
    s_sift_up (self, index);
    s_sift_down (self, last->heap_index);
}

void
due_heap_set (due_heap_t *self, entry_t *entry, int64_t due_at)
{
    if (entry->heap_index != ALERT_TABLE_NOWHERE && due_at == 0) {
        s_remove (self, entry);
        return;
    }
    if (due_at == 0)
        return;
    int64_t before = entry->due_at;
    entry->due_at = due_at;
    if (entry->heap_index == ALERT_TABLE_NOWHERE) {
        if (self->size == self->capacity) {
            self->capacity = self->capacity ? self->capacity * 2 : 1024;
            self->items = mem_realloc (self->items, self->capacity * sizeof (entry_t *));
        }
        s_place (self, self->size++, entry);
        s_sift_up (self, entry->heap_index);
    }
    else
    if (due_at < before)
        s_sift_up (self, entry->heap_index);
    else
        s_sift_down (self, entry->heap_index);
}

entry_t *
due_heap_top (due_heap_t *self)
{
    return self->size ? self->items [0] : NULL;
}

size_t
due_heap_size (due_heap_t *self)
{
    return self->size;
}
