/*  due_heap.h — when each alert next needs the broker's attention.

    A binary min-heap of entries keyed by entry->due_at: the broker's loop
    sleeps until the top's time and never scans the table. Each entry is in
    the heap at most once, at its earliest due time (lifecycle_next_due);
    entry->heap_index makes moving or removing it O(log n), and moving it
    later (a heartbeat refresh) O(1): the heap settles that lazily, when the
    entry's old key reaches the top (see due_heap.c).
*/
#ifndef LILAC_DUE_HEAP_H
#define LILAC_DUE_HEAP_H

#include <stddef.h>
#include <stdint.h>
#include "alert_table.h"

typedef struct _due_heap_t due_heap_t;

due_heap_t *due_heap_new (void);
//  Destroys the heap (not the entries); NULL is a no-op.
void due_heap_destroy (due_heap_t **self_p);

//  Puts entry in the heap at due_at, moves it there, or with due_at == 0
//  takes it out.
void due_heap_set (due_heap_t *self, entry_t *entry, int64_t due_at);
//  A time no later than the earliest due time, 0 when empty: sleep until
//  then. (Lazy keys make it a lower bound; see due_heap.c.)
int64_t due_heap_next (due_heap_t *self);
//  An entry due at or before now, or NULL when none is. It stays in the
//  heap until due_heap_set moves or removes it. With now = INT64_MAX, the
//  entry due first.
entry_t *due_heap_due (due_heap_t *self, int64_t now);
size_t due_heap_size (due_heap_t *self);

#endif
