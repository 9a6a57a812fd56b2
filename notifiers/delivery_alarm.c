/*  delivery_alarm.c — a notifier's `delivery` alert. See delivery_alarm.h.

    What is kept: whether the alert is raised, and the lane and count its
    words are about, so that new words are made only when those change.
*/
#include <assert.h>
#include <string.h>
#include "log.h"
#include "mem.h"
#include "timespec.h"
#include "delivery_alarm.h"

struct _delivery_alarm_t {
    char *program;
    int64_t alarm_ms;
    deliveries_t *deliveries;          //  borrowed
    own_alerts_t *own;                 //  borrowed
    bool raised;
    char lane [DELIVERY_LANE_SHOWN];   //  the words are about this lane
    size_t given_up;                   //  ... and this many notifications given up
};

delivery_alarm_t *
delivery_alarm_new (const char *program, int64_t alarm_ms, deliveries_t *deliveries,
                    own_alerts_t *own)
{
    assert (program && deliveries && own && alarm_ms > 0);
    delivery_alarm_t *self = mem_alloc (sizeof *self);
    self->program = mem_strdup (program);
    self->alarm_ms = alarm_ms;
    self->deliveries = deliveries;
    self->own = own;
    return self;
}

void
delivery_alarm_destroy (delivery_alarm_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        mem_free ((*self_p)->program);
        mem_free (*self_p);
        *self_p = NULL;
    }
}

void
delivery_alarm_describe (const own_settings_t *settings, int64_t alarm_ms, char *out,
                         size_t size)
{
    char alarm [32];
    if (alarm_ms <= 0)
        snprintf (out, size, "no delivery alert (delivery_alarm = 0)");
    else
        snprintf (out, size, "%s/%s/" DELIVERY_ALARM_ID " raises when a destination fails for"
                  " %s or a notification is given up", settings->source, settings->name,
                  duration_format (alarm_ms, alarm, (int) sizeof alarm));
}

//  The alert's words for the worst lane, of lanes in trouble, at mono_now.
static void
s_tell (delivery_alarm_t *self, const delivery_trouble_t *worst, size_t lanes, int64_t mono_now)
{
    char since [40], summary [OWN_WORDS_SIZE], detail [OWN_WORDS_SIZE];
    time_format (clock_now_ms () - (mono_now - worst->failing_since), since, (int) sizeof since);
    if (worst->given_up > 0)
        snprintf (summary, sizeof summary, "%s gave up %zu notification%s to %s: %s",
                  self->program, worst->given_up, worst->given_up == 1 ? "" : "s", worst->lane,
                  worst->reason);
    else
        snprintf (summary, sizeof summary, "%s cannot deliver to %s: %s", self->program,
                  worst->lane, worst->reason);
    snprintf (detail, sizeof detail,
              "%s has failed to deliver to %s since %s (%zu destination%s in trouble)."
              " The last notification given up: %s. It retries a failing delivery and gives"
              " it up after its retry time; this alert clears once every destination has"
              " delivered again. Its log says every attempt.",
              self->program, worst->lane, since, lanes, lanes == 1 ? "" : "s",
              *worst->lost ? worst->lost : "none");
    own_alerts_trouble (self->own, true, summary, detail);
}

void
delivery_alarm_update (delivery_alarm_t *self, int64_t mono_now)
{
    assert (self);
    delivery_trouble_t worst;
    size_t lanes = deliveries_trouble (self->deliveries, &worst);
    bool raise = lanes > 0
              && (worst.given_up > 0 || mono_now - worst.failing_since >= self->alarm_ms);
    if (raise && (!self->raised || worst.given_up != self->given_up
                  || strcmp (worst.lane, self->lane) != 0)) {
        s_tell (self, &worst, lanes, mono_now);
        snprintf (self->lane, sizeof self->lane, "%s", worst.lane);
        self->given_up = worst.given_up;
        self->raised = true;
    }
    else
    if (!raise && self->raised) {
        own_alerts_trouble (self->own, false, NULL, NULL);
        self->raised = false;
        *self->lane = 0;
        self->given_up = 0;
    }
}

int64_t
delivery_alarm_next_wakeup (delivery_alarm_t *self, int64_t mono_now)
{
    assert (self);
    delivery_trouble_t worst;
    if (self->raised || deliveries_trouble (self->deliveries, &worst) == 0)
        return -1;
    int64_t wait = worst.failing_since + self->alarm_ms - mono_now;
    return wait < 0 ? 0 : wait;
}
