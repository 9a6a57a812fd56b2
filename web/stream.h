/*  stream.h — GET /api/stream: every change as a Server-Sent Event.

      GET /api/stream[?since=N:SEQ][&silences=no][&filters of /api/alerts]
        event: change   id: N:SEQ (the epoch's number and the seq)
                        data: {seq, at, event, alert, epoch}
        event: silence  id: N:SEQ (the same numbering: one seq for both)
                        data: the silence as GET /api/silences lists one
                        ({id, matchers, starts, ends, created_at, by, note?,
                        expired_by?, seq, state}), state as at the change
        event: reset    data: {} — the client must reload its list
                        (a new epoch, or a resume point no longer kept)
        ": keepalive" comment lines every STREAM_KEEPALIVE_MS

    Silences. Each change of a silence (added, expired, started or ended at
    its time) comes as `event: silence` in its place in seq order, to every
    client unless it asked silences=no (alerts only; a value other than yes
    or no is a 400). The filters (state, source, id, label, q) are alert
    filters and never hold a silence back: a silence has no state or source
    of its own to match, and a page of alerts wants to know why one went
    quiet. The alerts a silence starts or stops covering come after it as
    their own `updated` changes (silenced_by), through the filters as usual.

    A client resumes after `since` (its first connection: EventSource
    cannot send Last-Event-ID then) or the Last-Event-ID header (every
    reconnection): the changes after it are replayed from the mirror's
    recent changes (MIRROR_RECENT), or, when they are no longer all kept or
    the epoch differs, a `reset` comes first. Silences' changes are replayed
    with the alerts', in order (and skipped for silences=no). Nothing is
    lost either way: a client that reloads its alerts (and GET
    /api/silences) on reset and applies changes by seq, silences by their
    id, is complete.

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
