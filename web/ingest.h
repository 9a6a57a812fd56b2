/*  ingest.h — lilac-web's ingest routes (issue 13, architecture §9 and §10).

    Four ways in, each a route of web.c's table:
      POST /api/events       lilac's own batch in JSON; 200 {tx, accepted,
                             refused: [{index, id, reason}]}
      POST /events           purppura's: one object or an array; 200 "OK"
      GET|POST /ping/SOURCE/ID[/fail|/EXIT-STATUS][?raise=SPEC]
                             healthchecks-style heartbeats; 200 "OK"
      POST /api/v2/alerts    Alertmanager API v2; 200 {accepted, refused}
    The body becomes ingest frames (ingest_map.h), sent to the broker as
    `submit` (web_call: the loop never waits); the HTTP answer goes out once
    the broker acknowledged the batch, that is after its commit. A body
    that cannot be read is a 400 (413 past the size limits) with
    {"error": "..."}; an event the broker refuses is listed with its reason
    (Alertmanager: per alert, never the whole POST, since Prometheus drops
    a batch answered 4xx). While the broker does not answer within
    WEB_CALL_TIMEOUT_MS, or answers degraded, the answer is 503 with
    Retry-After, so curl --retry and Prometheus try again.

    Group commit: the frames of one source that arrive in one turn of the
    loop go to the broker as one submit (ingest_flush, at the end of the
    turn), and each request is answered from its share of the reply.

    Source of the events: the body's (`source`, the Alertmanager source
    label, the ping's path), else the peer's IP address. Once lilac-web
    authenticates senders the rule becomes: the sender's bound source, else
    the body's if the sender may claim it, else the peer's.
*/
#ifndef LILAC_WEB_INGEST_H
#define LILAC_WEB_INGEST_H

#include "web_internal.h"

#define INGEST_PING_PREFIX       "/ping/"
#define INGEST_PING_DEFAULT_RAISE "+25h"           //  a daily cron job, with an hour to spare
#define INGEST_PING_BODY_MAX     (10 * 1024)       //  bytes of a ping's body (its detail)
#define INGEST_RETRY_AFTER_S     5                 //  Retry-After when the broker is away
#define INGEST_JOIN_EVENTS       CTL_MAX_REFUSED   //  events in a joined submit: every
                                                   //  refusal of its reply is read
#define INGEST_JOIN_HEAD_MAX     1024              //  bytes of a joined frame's head, at most

//  The submits of the loop's current turn, waiting to go out.
typedef struct _ingest_t ingest_t;

ingest_t *ingest_new (void);
//  Answers what is still queued 503 ("lilac-web is stopping").
void ingest_destroy (ingest_t **self_p);
//  Sends the turn's submits, one per source (and one per request that
//  may not share); web.c calls it after each MHD_run.
void ingest_flush (ingest_t *self, web_t *web);

web_route_fn ingest_events;
web_route_fn ingest_purppura;
web_route_fn ingest_ping;
web_route_fn ingest_alertmanager;

#endif
