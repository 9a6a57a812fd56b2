/*  own_alerts.h — a notifier's own alerts at the broker: the word that
    the notifier itself stopped, or that its destination keeps failing,
    where every other notifier and the web UI look.

    A notifier is the last link to a human. When it dies, or when Pushover
    refuses its token, nobody is told unless it says so somewhere else
    (broker_watch.h is the other way round: the notifier's word about the
    broker, told through its own destinations). So it keeps two alerts at
    the broker, submitted through the control socket (`submit`, answered
    after the broker's commit), with source `own_source` (default: this
    host's name) and ids under `own_name` (default: the program's name):

    - NAME/heartbeat (`heartbeat`, default 5m; 0 turns it off): raise in
      `heartbeat`, refreshed every fifth of it (1 s to 1 min). It raises
      at the broker when the notifier has not refreshed it for that long:
      the process died, hangs, or cannot reach the broker's control
      socket. A clean stop leaves it to raise too: a stopped notifier
      tells nobody anything.
    - NAME/delivery (`delivery_alarm`, default 5m; 0 turns it off): raised
      while a destination (a lane of the delivery core, deliveries_trouble)
      has failed for `delivery_alarm` without delivering since, or has
      given up a notification since it last delivered (that notification
      is lost: the alert says which). Cleared by the notifier once every
      lane has delivered again. While raised it is refreshed with the
      heartbeat and carries a clear time three refreshes ahead, so it
      clears by itself when its notifier is gone (the heartbeat says that)
      or restarted without the trouble. Its words are set when it raises
      and when the worst lane or the count of lost notifications changes
      (those go with the next refresh: one update a period at most), so
      the other refreshes change nothing at the broker.

    Both are urgent, subject the program's name. Only one submit is in
    flight; one not answered within OWN_ANSWER_DEADLINE_MS, or not
    sendable (nobody connected), is sent again after a second, with the
    state as it is then. A refused one is sent again after the broker's
    retry_after, else after a refresh period; the first refusal is logged
    as an error (with CURVE the notifier's certificate must be for
    `own_source`, which is why that defaults to the certificate's source).
    The batch carries a fresh tx each time; a resent raise or clear is a
    refresh at the broker, never news.
*/
#ifndef LILAC_OWN_ALERTS_H
#define LILAC_OWN_ALERTS_H

#include <czmq.h>
#include <stdint.h>
#include "delivery.h"

#define OWN_HEARTBEAT_DEFAULT_MS   (5 * 60 * 1000)
#define OWN_HEARTBEAT_MIN_MS       5000            //  or 0: off
#define OWN_ALARM_DEFAULT_MS       (5 * 60 * 1000)
#define OWN_ANSWER_DEADLINE_MS     10000
#define OWN_RETRY_MS               1000

typedef struct _own_alerts_t own_alerts_t;

typedef struct {
    const char *program;           //  "lilac-notify-pushover": the alerts' subject
    const char *name;              //  own_name: the ids' prefix
    const char *source;            //  own_source
    const char *control;           //  the broker's control endpoint(s)
    int64_t heartbeat_ms;          //  0: no heartbeat alert
    int64_t alarm_ms;              //  delivery_alarm; 0: no delivery alert
    deliveries_t *deliveries;      //  whose troubles it tells (borrowed)
} own_alerts_config_t;

//  Connects to the broker's control socket. NULL with a reason in error.
own_alerts_t *own_alerts_new (const own_alerts_config_t *config, char *error, size_t error_size);
void own_alerts_destroy (own_alerts_t **self_p);
//  The DEALER its answers come on, for the loop's poll (borrowed).
zsock_t *own_alerts_socket (own_alerts_t *self);
//  Reads answers, looks at the deliveries' troubles, and submits what is
//  due. Never waits.
void own_alerts_work (own_alerts_t *self, int64_t mono_now);
//  ms until own_alerts_work has something to do (at most a refresh period).
int64_t own_alerts_next_wakeup (own_alerts_t *self, int64_t mono_now);
//  One line for the log and for -n: what the alerts are and when they raise.
void own_alerts_describe (const own_alerts_config_t *config, char *out, size_t size);

#endif
