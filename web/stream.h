/*  stream.h — GET /api/stream: every change as a Server-Sent Event.

      GET /api/stream[?since=N:SEQ][&filters of /api/alerts]
        event: change   id: N:SEQ (the epoch's number and the seq)
                        data: {seq, at, event, alert, epoch}
        event: reset    data: {} — the client must reload its list
                        (a new epoch, or a resume point no longer kept)
        ": keepalive" comment lines every STREAM_KEEPALIVE_MS

    A client resumes after `since` (its first connection: EventSource
    cannot send Last-Event-ID then) or the Last-Event-ID header (every
    reconnection): the changes after it are replayed from the mirror's
    recent changes (MIRROR_RECENT), or, when they are no longer all kept or
    the epoch differs, a `reset` comes first. Nothing is lost either way:
    a client that reloads on reset and applies changes by seq is complete.

    Each client has its own buffer of unsent events; its connection is
    suspended while the buffer is empty and resumed when an event is added,
    so an idle stream costs nothing. A client that falls STREAM_BUFFER_MAX
    bytes behind is sent a reset instead of more events.
*/
#ifndef LILAC_STREAM_H
#define LILAC_STREAM_H

#include "mirror.h"
#include "web_internal.h"

#define STREAM_KEEPALIVE_MS  15000
#define STREAM_BUFFER_MAX    (4 * 1024 * 1024)
#define STREAM_CLIENTS_MAX   2000

typedef struct _stream_t stream_t;

stream_t *stream_new (mirror_t *mirror);
void stream_destroy (stream_t **self_p);
//  The route.
enum MHD_Result stream_open (stream_t *self, http_request_t *request);
//  Keepalives when due; returns ms until the next one is.
int64_t stream_work (stream_t *self, int64_t mono_now);
size_t stream_clients (stream_t *self);
//  Before the server stops: every stream ends, no connection stays suspended.
void stream_release (stream_t *self);

#endif
