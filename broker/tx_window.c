/*  tx_window.c — a hash of recent tx ids plus a FIFO ring in arrival order,
    so expiry pops from the ring's head without scanning. See tx_window.h.
*/
#include <czmq.h>
#include "log.h"
#include "mem.h"
#include "tx_window.h"

typedef struct {
    char *tx;                      //  the id, also the hash key
    int64_t seen_at;               //  when it arrived
} seen_t;

struct _tx_window_t {
    zhashx_t *ids;                 //  tx → non-NULL marker, keys owned by the hash
    seen_t *ring;                  //  arrival order, TX_WINDOW_MAX slots
    size_t head;                   //  oldest slot
    size_t count;                  //  slots in use
    log_limit_t full_log;          //  rate limit for "window full" lines
};

tx_window_t *
tx_window_new (void)
{
    tx_window_t *self = mem_alloc (sizeof (tx_window_t));
    self->ids = zhashx_new ();
    if (!self->ids) {
        mem_free (self);
        return NULL;
    }
    self->ring = mem_alloc (TX_WINDOW_MAX * sizeof (seen_t));
    return self;
}

static void
s_forget_oldest (tx_window_t *self)
{
    seen_t *oldest = &self->ring [self->head];
    zhashx_delete (self->ids, oldest->tx);
    mem_free (oldest->tx);
    oldest->tx = NULL;
    self->head = (self->head + 1) % TX_WINDOW_MAX;
    self->count--;
}

void
tx_window_destroy (tx_window_t **self_p)
{
    if (!*self_p)
        return;
    tx_window_t *self = *self_p;
    while (self->count)
        s_forget_oldest (self);
    mem_free (self->ring);
    zhashx_destroy (&self->ids);
    mem_free (self);
    *self_p = NULL;
}

bool
tx_window_seen (tx_window_t *self, const char *tx, int64_t now)
{
    while (self->count && self->ring [self->head].seen_at + TX_WINDOW_MS <= now)
        s_forget_oldest (self);
    if (zhashx_lookup (self->ids, tx))
        return true;
    if (self->count == TX_WINDOW_MAX) {
        log_limited (&self->full_log, "more than %d tx ids in %d s: forgetting the oldest early",
                     TX_WINDOW_MAX, TX_WINDOW_MS / 1000);
        s_forget_oldest (self);
    }
    seen_t *slot = &self->ring [(self->head + self->count) % TX_WINDOW_MAX];
    slot->tx = mem_strdup (tx);
    slot->seen_at = now;
    self->count++;
    if (zhashx_insert (self->ids, tx, slot))
        log_error ("tx window: cannot insert %s", tx);
    return false;
}

size_t
tx_window_size (tx_window_t *self)
{
    return self->count;
}
