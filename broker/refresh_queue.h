/*  refresh_queue.h — heartbeat refreshes waiting to be written, oldest first.

    A refresh only moves an alert's times and publishes nothing, so its row
    may wait for the next checkpoint (architecture §4). The broker queues each
    such entry once, with the tick it was first refreshed at, and writes the
    queue from its head in short slices (broker.c), so that no commit
    carrying a published change also carries a second's worth of refreshes.

    A FIFO ring of {entry, since, mark} that grows by doubling. The entry's
    refresh_queued flag says whether it is in here; the queue holds the
    pointer, so an entry must not be freed while queued. The core keeps a
    second one, the row queue (core.c), of alerts whose committed changes
    are in history but not yet in their rows, each marked with the seq of
    its first such change.
*/
#ifndef LILAC_REFRESH_QUEUE_H
#define LILAC_REFRESH_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include "alert_table.h"

typedef struct _refresh_queue_t refresh_queue_t;

refresh_queue_t *refresh_queue_new (void);
//  Destroys the queue (not the entries); NULL is a no-op.
void refresh_queue_destroy (refresh_queue_t **self_p);

//  Appends entry, refreshed at tick since (ticks never go back), with a
//  number of the owner's (0 if it has none).
void refresh_queue_push (refresh_queue_t *self, entry_t *entry, int64_t since, uint64_t mark);
//  The index-th oldest entry's mark (index < size).
uint64_t refresh_queue_mark (refresh_queue_t *self, size_t index);
//  The index-th oldest entry (index < size), and its tick in *since.
entry_t *refresh_queue_peek (refresh_queue_t *self, size_t index, int64_t *since);
//  Drops the count oldest entries (count <= size).
void refresh_queue_pop (refresh_queue_t *self, size_t count);
size_t refresh_queue_size (refresh_queue_t *self);

#endif
