/*  loop.h — the file descriptors a notifier's one loop watches for its
    destinations: libcurl's sockets (http.h), a command's pidfd and stdin
    pipe (exec). Architecture §6: one thread, one loop, nothing that
    waits outside its poll.

    A watch is (fd, events, callback). The notifier's loop adds the
    watched fds to its zmq_poll items (loop_items) beside the broker's
    sockets and the signalfd, then hands the polled items back
    (loop_dispatch), which calls each callback whose fd is ready. A
    callback may watch or unwatch any fd, itself included: dispatch reads
    the table afresh for each item.

    At most LOOP_MAX_WATCHES fds; an fd is watched at most once (watching
    it again replaces its events and callback).
*/
#ifndef LILAC_LOOP_H
#define LILAC_LOOP_H

#include <stdbool.h>
#include <zmq.h>

#define LOOP_MAX_WATCHES  1024

typedef struct _loop_t loop_t;

//  revents: ZMQ_POLLIN, ZMQ_POLLOUT, ZMQ_POLLERR as zmq_poll set them.
typedef void (loop_fd_fn) (int fd, short revents, void *arg);

loop_t *loop_new (void);
void loop_destroy (loop_t **self_p);
//  Watches fd for events (ZMQ_POLLIN and/or ZMQ_POLLOUT). 0, or -1 when
//  the table is full (logged by the caller: the fd is not watched).
int loop_watch (loop_t *self, int fd, short events, loop_fd_fn *fn, void *arg);
//  Stops watching fd; an fd not watched is a no-op.
void loop_unwatch (loop_t *self, int fd);
//  Appends one item per watched fd to items, at most max. Returns how many.
int loop_items (loop_t *self, zmq_pollitem_t *items, int max);
//  Calls the callback of each item with revents whose fd is still watched.
void loop_dispatch (loop_t *self, const zmq_pollitem_t *items, int count);
//  Number of fds watched.
int loop_size (loop_t *self);

#endif
