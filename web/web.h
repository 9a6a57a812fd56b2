/*  web.h — lilac-web: the HTTP face of lilac (architecture §9).

    A process of its own, like a notifier, that reaches the broker only
    through the bus. One thread, one loop: libmicrohttpd runs in external
    epoll mode (MHD_USE_EPOLL without a thread of its own), and its epoll
    descriptor sits in the same zmq_poll as the control client's DEALER and
    the signalfd, so no request ever waits on the broker and no lock is
    needed anywhere.

    What it serves so far:
      GET /healthz   200 "ok" while the broker answers `ping` (within
                     WEB_BROKER_SILENCE_MS), is not degraded, and the change
                     feed is live (synced, heard within that time); 503
                     with the reason otherwise
      GET /metrics   Prometheus text: the broker's `stats`, whether it is up
                     and degraded, and lilac-web's own request counts
      POST /api/events, POST /events, GET|POST /ping/SOURCE/ID,
      POST /api/v2/alerts   ingest (ingest.h)
    Anything else is a 404 (405 for a wrong method) with {"error": "..."}.

    The broker is watched without blocking: a `ping` goes out every
    WEB_PING_MS and `stats` every WEB_STATS_MS (ctl_send_ping, _stats), and their
    answers are read when the DEALER is readable.
*/
#ifndef LILAC_WEB_H
#define LILAC_WEB_H

#include "web_config.h"

#define WEB_PING_MS            1000    //  a ping to the broker this often
#define WEB_STATS_MS           5000    //  stats for /metrics this often
#define WEB_CALL_TIMEOUT_MS    3000    //  a request unanswered this long is given up
#define WEB_BROKER_SILENCE_MS  3000    //  no answer this long: the broker is unreachable
#define WEB_CONNECTION_TIMEOUT 30      //  seconds an idle HTTP connection is kept

typedef struct _web_t web_t;

//  Binds the HTTP server and connects to the broker. NULL with a reason.
web_t *web_new (const web_config_t *config, char *error, size_t error_size);
void web_destroy (web_t **self_p);
//  Runs until SIGINT or SIGTERM. 0, or -1 when the loop could not start.
int web_run (web_t *self);

#endif
