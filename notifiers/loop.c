/*  loop.c — the fds a notifier's loop watches for its destinations. See
    loop.h.

    A small array, searched by fd: a notifier watches a handful of fds (a
    few libcurl connections, a command or two), so a linear scan costs
    less than any index would.
*/
#include <assert.h>
#include "mem.h"
#include "loop.h"

typedef struct {
    int fd;
    short events;
    loop_fd_fn *fn;
    void *arg;
} watch_t;

struct _loop_t {
    watch_t watches [LOOP_MAX_WATCHES];
    int count;
};

loop_t *
loop_new (void)
{
    return mem_alloc (sizeof (loop_t));
}

void
loop_destroy (loop_t **self_p)
{
    assert (self_p);
    mem_free (*self_p);
    *self_p = NULL;
}

static watch_t *
s_find (loop_t *self, int fd)
{
    for (int index = 0; index < self->count; index++)
        if (self->watches [index].fd == fd)
            return &self->watches [index];
    return NULL;
}

int
loop_watch (loop_t *self, int fd, short events, loop_fd_fn *fn, void *arg)
{
    assert (self && fd >= 0 && fn);
    watch_t *watch = s_find (self, fd);
    if (!watch) {
        if (self->count == LOOP_MAX_WATCHES)
            return -1;
        watch = &self->watches [self->count++];
    }
    *watch = (watch_t) { fd, events, fn, arg };
    return 0;
}

void
loop_unwatch (loop_t *self, int fd)
{
    assert (self);
    watch_t *watch = s_find (self, fd);
    if (watch)
        *watch = self->watches [--self->count];
}

int
loop_items (loop_t *self, zmq_pollitem_t *items, int max)
{
    assert (self && items);
    int count = 0;
    for (int index = 0; index < self->count && count < max; index++)
        items [count++] = (zmq_pollitem_t) { NULL, self->watches [index].fd,
                                             self->watches [index].events, 0 };
    return count;
}

void
loop_dispatch (loop_t *self, const zmq_pollitem_t *items, int count)
{
    assert (self && items);
    for (int index = 0; index < count; index++) {
        if (!items [index].revents || items [index].socket)
            continue;
        watch_t *watch = s_find (self, items [index].fd);
        if (watch)
            watch->fn (items [index].fd, items [index].revents, watch->arg);
    }
}

int
loop_size (loop_t *self)
{
    assert (self);
    return self->count;
}
