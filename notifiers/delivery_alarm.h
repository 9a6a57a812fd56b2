/*  delivery_alarm.h — a notifier's word that its destinations fail: the
    `delivery` alert of own_alerts.h, decided from the delivery core's
    troubles (deliveries_trouble).

    NAME/delivery is raised while a lane (a user key, a command, a URL, an
    address list) has given up a notification since it last delivered —
    that notification is lost, and the alert names it — or has failed for
    `delivery_alarm` (5m; 0 turns it off) without delivering since. It is
    cleared once every lane has delivered again. Its words name the worst
    lane, why it fails and since when; they change when the worst lane or
    the count of notifications given up does.
*/
#ifndef LILAC_DELIVERY_ALARM_H
#define LILAC_DELIVERY_ALARM_H

#include <stdint.h>
#include "delivery.h"
#include "own_alerts.h"

#define DELIVERY_ALARM_DEFAULT_MS  (5 * 60 * 1000)
#define DELIVERY_ALARM_ID          "delivery"

typedef struct _delivery_alarm_t delivery_alarm_t;

//  Borrows deliveries and own (made with trouble DELIVERY_ALARM_ID).
delivery_alarm_t *delivery_alarm_new (const char *program, int64_t alarm_ms,
                                      deliveries_t *deliveries, own_alerts_t *own);
void delivery_alarm_destroy (delivery_alarm_t **self_p);
//  Looks at the troubles and tells own what the alert is now.
void delivery_alarm_update (delivery_alarm_t *self, int64_t mono_now);
//  ms until a failing lane reaches the alarm's time; -1 when none will.
int64_t delivery_alarm_next_wakeup (delivery_alarm_t *self, int64_t mono_now);
//  "S/N/delivery raises when a destination fails for 5m or a notification
//  is given up", or "no delivery alert (delivery_alarm = 0)".
void delivery_alarm_describe (const own_settings_t *settings, int64_t alarm_ms,
                              char *out, size_t size);

#endif
