/*  delivery.h — the notifier's delivery core: what every destination
    gets done for it (architecture §6).

    A destination only says how to deliver one action of one change. The
    core owns everything else: which deliveries run now, their order,
    retries with back-off and jitter, giving up, and which changes are
    finished everywhere (so the feed's cursor may pass them).

    Lanes. Each action goes to a lane named by its destination (a Pushover
    user key, a command, a URL, an address list). A lane runs at most
    `lane_window` deliveries at once (1 for most destinations: strictly in
    order), and never two of the same alert at once, so one alert's raise,
    ack and clear reach a destination in order; a slow or failing lane
    holds back only itself.

    A delivery. The core calls the class's start(destination, delivery);
    the destination ends it with delivery_finish — at once, or later from
    its loop work (an HTTP response, a command's exit) — exactly once,
    unless the core is destroyed first (the destination's close cancels
    what it started, and must not finish it then):
    - DELIVERED: done;
    - RETRY: the core tries again after a back-off (1 s, doubling to
      5 min, ±20 % jitter), never before not_before (a rate limit's reset),
      until retry_for after its first failure (the last attempt is made at
      that moment), then gives it up;
    - GIVE_UP: retrying cannot help (Pushover said 400, no command):
      given up at once.
    Every outcome is logged by the core, with the reason the destination
    gave (secret destinations are shown by their first three characters).

    Trouble. A lane that failed (RETRY or GIVE_UP) is in trouble until it
    next delivers: deliveries_trouble says since when, how many deliveries
    it gave up meanwhile, and why it last failed. That is how a notifier
    tells somebody that its own destination is failing (own_alerts.h);
    the record outlives the lane's queue, so a lane that gave up its only
    delivery stays in trouble.

    Cursor. deliveries_oldest says the lowest seq not finished everywhere:
    the feed's cursor file is held below it, so a restart repeats what was
    not done (at least once) and never skips a change.

    Memory. Each change in flight is a deep copy, freed when its last
    action is finished; at most DELIVERIES_MAX changes are held (the
    caller stops taking changes from the feed while full, and the feed
    catches up with `since`).
*/
#ifndef LILAC_DELIVERY_H
#define LILAC_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "alert.h"
#include "rules.h"

#define DELIVERIES_MAX            10000       //  changes in flight at most
#define DELIVERY_BACKOFF_FIRST_MS 1000
#define DELIVERY_BACKOFF_MAX_MS   (5 * 60 * 1000)
#define DELIVERY_JITTER_PERCENT   20
#define DELIVERY_REASON_SIZE      512
#define DELIVERY_LANE_SHOWN       256      //  a lane's name as logs show it, at most
#define DELIVERY_LOST_SIZE        512      //  "seq 12 raised web1/disk" (long names cut)

typedef enum {
    DELIVERY_DELIVERED,
    DELIVERY_RETRY,
    DELIVERY_GIVE_UP
} delivery_result_t;

typedef struct _delivery_t delivery_t;
typedef struct _deliveries_t deliveries_t;

//  --- for destinations ------------------------------------------------------------

//  The change and the action being delivered (valid until finished).
const alert_change_t *delivery_change (const delivery_t *self);
const rule_action_t *delivery_action (const delivery_t *self);
//  1 for the first attempt, 2 for the first retry, ...
int delivery_attempt (const delivery_t *self);
//  The lane's name (the destination key's value, or "default").
const char *delivery_lane (const delivery_t *self);
//  Ends the attempt (see above). not_before: mono ms (RETRY only; 0 for
//  none). The reason (printf) says why for RETRY and GIVE_UP, and may add
//  a word to DELIVERED ("receipt R"); NULL for none.
void delivery_finish (delivery_t *self, delivery_result_t result, int64_t not_before,
                      const char *format, ...) __attribute__ ((format (printf, 4, 5)));

//  --- for the notifier ------------------------------------------------------------

typedef struct {
    void (*start) (void *destination, delivery_t *delivery);
    void *destination;
    int64_t retry_for_ms;          //  give up this long after the first failure
    size_t lane_window;            //  deliveries at once per lane (≥ 1)
    rules_shown_fn *lane_shown;    //  how a lane's name is logged (NULL: as it is)
    //  Called when a change is finished everywhere, with the hold given
    //  to deliveries_add (the rules it was decided with), or NULL.
    void (*release) (void *hold);
} deliveries_config_t;

deliveries_t *deliveries_new (const deliveries_config_t *config);
//  Frees every change in flight (release for each), without finishing
//  any: close the destination first.
void deliveries_destroy (deliveries_t **self_p);
//  Takes a copy of change with its actions (count ≥ 1). for_cursor: a
//  change of the feed (seq > 0); the notifier's own word about the broker
//  is not. 0, or -1 when full or the change cannot be copied (logged).
int deliveries_add (deliveries_t *self, const alert_change_t *change,
                    const rule_action_t *actions, size_t count, bool for_cursor, void *hold);
bool deliveries_full (deliveries_t *self);
//  Settles finished deliveries and starts the ones due.
void deliveries_work (deliveries_t *self, int64_t mono_now);
//  ms until deliveries_work has something to do without outside input
//  (a retry falling due, a finish to settle); -1 none.
int64_t deliveries_next_wakeup (deliveries_t *self, int64_t mono_now);
//  The lowest seq of a for_cursor change of epoch not finished, 0 when
//  none (epoch zeroed: of any epoch).
uint64_t deliveries_oldest (deliveries_t *self, const epoch_t *epoch);
//  A lane in trouble: it failed, or gave up a delivery, and has not
//  delivered since.
typedef struct {
    char lane [DELIVERY_LANE_SHOWN];       //  its name as logs show it
    int64_t failing_since;                 //  mono ms: its first failure since it delivered
    size_t given_up;                       //  deliveries it gave up since then
    char reason [DELIVERY_REASON_SIZE];    //  the destination's words for its last failure
    char lost [DELIVERY_LOST_SIZE];        //  the last one given up ("seq 12 raised web1/disk"),
                                           //  "" when none was
} delivery_trouble_t;

//  How many lanes are in trouble; the worst of them into *worst (if not
//  NULL and there is one): a lane that gave up a delivery before one that
//  did not, then the one failing longest.
size_t deliveries_trouble (deliveries_t *self, delivery_trouble_t *worst);
//  Changes in flight, and deliveries running now.
size_t deliveries_count (deliveries_t *self);
size_t deliveries_running (deliveries_t *self);

#endif
