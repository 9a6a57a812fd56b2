/*  broker_watch.c — watching the watcher (see broker_watch.h).

    State: what the destinations were last told (nothing, unreachable, or
    degraded) and the text of when it began, so the recovery message can
    say what is over. Each update works out the broker's condition now:
    - unreachable: nothing heard for more than silence_ms (the time is when
      it was last heard, on our wall clock);
    - degraded: the last hugz says so and its degraded_since (the broker's
      wall clock; our own clock when that is missing or ahead of ours) is
      more than silence_ms ago;
    - well otherwise;
    and a message is due when that differs from what was told. Nothing is
    retried here: the notifier delivers the message, with retries, as it
    delivers a change.
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "broker_watch.h"
#include "log.h"
#include "mem.h"

#define S_TIME_TEXT    64              //  "2026-12-06 04:00:29 UTC"
#define S_TEXT_MAX     (FEED_REASON_MAX + 256)

typedef enum {
    CONDITION_WELL,
    CONDITION_UNREACHABLE,
    CONDITION_DEGRADED
} condition_t;

struct _broker_watch_t {
    int64_t silence_ms;            //  broker_silence, 0 off
    condition_t told;              //  what the destinations last heard
    char told_text [S_TEXT_MAX];   //  its summary, for the recovery message
    int64_t degraded_seen;         //  wall ms we first saw it degraded, 0 when not
};

broker_watch_t *
broker_watch_new (int64_t silence_ms)
{
    broker_watch_t *self = mem_alloc (sizeof *self);
    self->silence_ms = silence_ms > 0 ? silence_ms : 0;
    return self;
}

void
broker_watch_destroy (broker_watch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mem_free (*self_p);
    *self_p = NULL;
}

void
broker_watch_set_silence (broker_watch_t *self, int64_t silence_ms)
{
    self->silence_ms = silence_ms > 0 ? silence_ms : 0;
}

static const char *
s_time_text (int64_t wall_ms, char *text, size_t size)
{
    time_t seconds = (time_t) (wall_ms / 1000);
    struct tm local;
    if (!localtime_r (&seconds, &local) || !strftime (text, size, "%Y-%m-%d %H:%M:%S %Z", &local))
        snprintf (text, size, "%" PRId64 " ms since the epoch", wall_ms);
    return text;
}

//  When degradation began, as far as we can tell.
static int64_t
s_degraded_since (broker_watch_t *self, const change_feed_health_t *health, int64_t wall_now)
{
    if (!self->degraded_seen)
        self->degraded_seen = wall_now;
    int64_t since = health->degraded_since;
    return since > 0 && since <= wall_now ? since : self->degraded_seen;
}

static condition_t
s_condition (broker_watch_t *self, const change_feed_health_t *health, bool pending,
             int64_t mono_now, int64_t wall_now, char *summary, size_t size)
{
    char when [S_TIME_TEXT];
    int64_t heard = pending ? mono_now : health->last_heard;
    if (mono_now - heard > self->silence_ms) {
        snprintf (summary, size, "lilac broker unreachable since %s",
                  s_time_text (wall_now - (mono_now - heard), when, sizeof when));
        return CONDITION_UNREACHABLE;
    }
    if (!health->degraded) {
        self->degraded_seen = 0;
        return CONDITION_WELL;
    }
    int64_t since = s_degraded_since (self, health, wall_now);
    if (wall_now - since <= self->silence_ms)
        return CONDITION_WELL;
    snprintf (summary, size, "lilac broker degraded since %s: %s",
              s_time_text (since, when, sizeof when),
              *health->reason ? health->reason : "(no reason given)");
    return CONDITION_DEGRADED;
}

//  The message as a change: see broker_watch.h.
static void
s_fill (alert_change_t *change, bool raised, const char *summary, int64_t wall_now)
{
    memset (change, 0, sizeof *change);
    change->seq = 0;
    change->at = wall_now;
    change->event = mem_strdup (raised ? "raised" : "cleared");
    alert_t *alert = &change->alert;
    alert->source = mem_strdup ("lilac");
    alert->id = mem_strdup ("broker");
    alert->subject = mem_strdup ("lilac broker");
    alert->summary = mem_strdup (summary);
    char detail [S_TEXT_MAX + 200];
    snprintf (detail, sizeof detail, "%s. Sent by the notifier itself (broker_silence), not"
              " by the broker: until it is over, alerts may go unheard.", summary);
    alert->detail = mem_strdup (detail);
    alert->level = LEVEL_URGENT;
    alert->state = raised ? ALERT_RAISED : ALERT_CLEARED;
    alert->raise_at = alert->notified_at = alert->changed_at = alert->updated_at = wall_now;
    alert->created_at = wall_now;
    alert->notify_count = raised ? 1 : 0;
}

bool
broker_watch_update (broker_watch_t *self, const change_feed_health_t *health, bool pending,
                     int64_t mono_now, int64_t wall_now, alert_change_t *change)
{
    if (!self || !health || !change || self->silence_ms == 0)
        return false;
    char summary [S_TEXT_MAX];
    condition_t now = s_condition (self, health, pending, mono_now, wall_now,
                                   summary, sizeof summary);
    if (now == self->told)
        return false;
    if (now == CONDITION_WELL) {
        char over [S_TEXT_MAX + 64];
        bool was_unreachable = self->told == CONDITION_UNREACHABLE;
        const char *since = strstr (self->told_text, " since ");
        snprintf (over, sizeof over, "lilac broker %s (%s%s)",
                  was_unreachable ? "reachable again" : "no longer degraded",
                  was_unreachable ? "unreachable" : "degraded", since ? since : "");
        s_fill (change, false, over, wall_now);
        log_info ("broker_silence: %s", over);
    }
    else {
        s_fill (change, true, summary, wall_now);
        log_warn ("broker_silence: %s", summary);
    }
    self->told = now;
    snprintf (self->told_text, sizeof self->told_text, "%s", now == CONDITION_WELL ? "" : summary);
    return true;
}

int64_t
broker_watch_next_wakeup (broker_watch_t *self, const change_feed_health_t *health,
                          int64_t mono_now)
{
    if (!self || !health || self->silence_ms == 0)
        return -1;
    int64_t wait = 1000;
    if (self->told == CONDITION_WELL) {
        int64_t until = health->last_heard + self->silence_ms + 1 - mono_now;
        if (until < wait)
            wait = until;
    }
    return wait < 0 ? 0 : wait;
}
