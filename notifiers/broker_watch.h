/*  broker_watch.h — watching the watcher: a notifier's own word about the
    broker it follows.

    lilac exists so that someone hears when something stops, the broker
    included. A notifier that has heard nothing from the broker (no hugz,
    no change) for longer than `broker_silence`, or whose broker has said
    in its hugz that it is degraded (commits failing) for longer than that,
    tells every destination itself, once; and once more when it is over.

    The word is a change the broker never published (seq 0): the alert
    source "lilac", id "broker", subject "lilac broker", level urgent, event
    and state "raised" (summary "lilac broker unreachable since TIME", or
    "lilac broker degraded since TIME: REASON") and then "cleared" (summary
    "lilac broker reachable again (unreachable since TIME)" or "... no
    longer degraded ..."). A purppura-notify script sees an alert like any
    other. When the trouble changes (unreachable, then reachable but
    degraded) a new "raised" says so. TIME is local, "2026-12-06 04:00:29
    UTC"-like. A broker_silence of 0 turns the watch off.
*/
#ifndef LILAC_BROKER_WATCH_H
#define LILAC_BROKER_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include "alert.h"
#include "change_feed.h"

#define BROKER_WATCH_DEFAULT_MS  (2 * 60 * 1000)    //  broker_silence

typedef struct _broker_watch_t broker_watch_t;

//  silence_ms: broker_silence (0: off).
broker_watch_t *broker_watch_new (int64_t silence_ms);
void broker_watch_destroy (broker_watch_t **self_p);
void broker_watch_set_silence (broker_watch_t *self, int64_t silence_ms);

//  Looks at the broker's health (pending: the SUB holds unread messages,
//  so the broker spoke even if they were not read yet) at mono_now and
//  wall_now. true when a message is due: *change is filled (the caller
//  frees it with alert_change_free). Each call may say what changed once.
bool broker_watch_update (broker_watch_t *self, const change_feed_health_t *health,
                          bool pending, int64_t mono_now, int64_t wall_now,
                          alert_change_t *change);

//  Milliseconds until the next update could have something to say (the
//  silence running out), at most 1000; -1 when off.
int64_t broker_watch_next_wakeup (broker_watch_t *self, const change_feed_health_t *health,
                                  int64_t mono_now);

#endif
