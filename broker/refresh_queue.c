/*  refresh_queue.c — a growing FIFO ring of {entry, since, mark}. See
    refresh_queue.h. The capacity is a power of two, so positions wrap with
    a mask; growing copies the ring out in order.
*/
#include <assert.h>
#include "mem.h"
#include "refresh_queue.h"

#define REFRESH_QUEUE_FIRST 1024       //  slots at the first push
#define REFRESH_QUEUE_KEPT  65536      //  slots kept once empty; a larger ring is freed

typedef struct {
    entry_t *entry;
    int64_t since;                 //  tick of the refresh that queued it
    uint64_t mark;                 //  the owner's number (the row queue: a seq)
} queued_t;

struct _refresh_queue_t {
    queued_t *ring;
    size_t head;                   //  oldest slot
    size_t size;                   //  slots in use
    size_t capacity;               //  0 or a power of two
};

refresh_queue_t *
refresh_queue_new (void)
{
    return mem_alloc (sizeof (refresh_queue_t));
}

void
refresh_queue_destroy (refresh_queue_t **self_p)
{
    if (!*self_p)
        return;
    mem_free ((*self_p)->ring);
    mem_free (*self_p);
    *self_p = NULL;
}

static void
s_grow (refresh_queue_t *self)
{
    size_t capacity = self->capacity ? self->capacity * 2 : REFRESH_QUEUE_FIRST;
    queued_t *ring = mem_alloc (capacity * sizeof (queued_t));
    for (size_t index = 0; index < self->size; index++)
        ring [index] = self->ring [(self->head + index) & (self->capacity - 1)];
    mem_free (self->ring);
    self->ring = ring;
    self->head = 0;
    self->capacity = capacity;
}

void
refresh_queue_push (refresh_queue_t *self, entry_t *entry, int64_t since, uint64_t mark)
{
    if (self->size == self->capacity)
        s_grow (self);
    self->ring [(self->head + self->size) & (self->capacity - 1)] =
        (queued_t) { .entry = entry, .since = since, .mark = mark };
    self->size++;
}

uint64_t
refresh_queue_mark (refresh_queue_t *self, size_t index)
{
    assert (index < self->size);
    return self->ring [(self->head + index) & (self->capacity - 1)].mark;
}

entry_t *
refresh_queue_peek (refresh_queue_t *self, size_t index, int64_t *since)
{
    assert (index < self->size);
    queued_t *queued = &self->ring [(self->head + index) & (self->capacity - 1)];
    *since = queued->since;
    return queued->entry;
}

void
refresh_queue_pop (refresh_queue_t *self, size_t count)
{
    assert (count <= self->size);
    self->size -= count;
    self->head = self->size ? (self->head + count) & (self->capacity - 1) : 0;
    if (!self->size && self->capacity > REFRESH_QUEUE_KEPT) {
        mem_free (self->ring);          //  a burst's ring goes back (24 B an alert)
        self->ring = NULL;
        self->capacity = 0;
    }
}

size_t
refresh_queue_size (refresh_queue_t *self)
{
    return self->size;
}
