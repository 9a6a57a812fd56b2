/*  lifecycle.c — the alert state machine. See lifecycle.h for the rules.

    Invariants kept by every function here (checked in debug builds by
    s_invariants_hold):
    - acked_by is set exactly when the state is ALERT_ACKED;
    - notify_count is 0 when pending or cleared, ≥ 1 when raised or acked;
    - a pending alert has a raise time.
*/
#include <assert.h>
#include <stdbool.h>
#include <string.h>
#include "lifecycle.h"
#include "log.h"
#include "mem.h"

static const char *const s_transition_names [] = {
    [TRANSITION_NONE] = NULL,
    [TRANSITION_REFRESH] = NULL,
    [TRANSITION_PENDING] = "pending",
    [TRANSITION_RAISED] = "raised",
    [TRANSITION_REMINDER] = "reminder",
    [TRANSITION_ACKED] = "acked",
    [TRANSITION_UNACKED] = "unacked",
    [TRANSITION_CLEARED] = "cleared",
    [TRANSITION_UPDATED] = "updated",
};

const char *
transition_name (transition_t transition)
{
    assert (transition <= TRANSITION_UPDATED);
    return s_transition_names [transition];
}

static bool
s_invariants_hold (const alert_t *alert)
{
    if ((alert->state == ALERT_ACKED) != (alert->acked_by != NULL))
        return false;
    if (alert->state == ALERT_PENDING || alert->state == ALERT_CLEARED)
        return alert->notify_count == 0
            && (alert->state != ALERT_PENDING || alert->raise_at > 0);
    return alert->notify_count >= 1;
}

//  Replaces *field with a copy of value when they differ; true if changed.
static bool
s_set_string (char **field, const char *value)
{
    if (*field && value && strcmp (*field, value) == 0)
        return false;
    if (!*field && !value)
        return false;
    mem_free (*field);
    *field = mem_strdup (value);
    return true;
}

static bool
s_labels_equal (const alert_t *alert, const wire_event_t *event)
{
    if (alert->label_count != event->label_count)
        return false;
    for (size_t index = 0; index < alert->label_count; index++)
        if (strcmp (alert->labels [index].key, event->labels [index].key)
        ||  strcmp (alert->labels [index].value, event->labels [index].value))
            return false;
    return true;
}

static void
s_drop_ack (alert_t *alert)
{
    mem_free (alert->acked_by);
    mem_free (alert->ack_note);
    alert->acked_by = NULL;
    alert->ack_note = NULL;
    alert->acked_at = 0;
    alert->ack_until = 0;
}

static transition_t
s_become_raised (alert_t *alert, int64_t now)
{
    s_drop_ack (alert);
    alert->state = ALERT_RAISED;
    alert->notify_count++;
    alert->notified_at = now;
    alert->changed_at = now;
    return TRANSITION_RAISED;
}

//  Pending or cleared: nobody needs telling, so the ack and the count go.
static transition_t
s_become_quiet (alert_t *alert, alert_state_t state, int64_t now)
{
    assert (state == ALERT_PENDING || state == ALERT_CLEARED);
    s_drop_ack (alert);
    alert->state = state;
    alert->notify_count = 0;
    alert->notified_at = 0;
    alert->changed_at = now;
    if (state == ALERT_CLEARED) {
        alert->clear_at = 0;
        return TRANSITION_CLEARED;
    }
    return TRANSITION_PENDING;
}

//  Copies the content fields an event carries; true if any differed.
static bool
s_apply_content (alert_t *alert, const wire_event_t *event, int64_t now)
{
    bool changed = false;
    if (event->subject)
        changed |= s_set_string (&alert->subject, event->subject);
    if (event->summary)
        changed |= s_set_string (&alert->summary, event->summary);
    if (event->detail)
        changed |= s_set_string (&alert->detail, event->detail);
    if (event->level >= 0 && alert->level != (alert_level_t) event->level) {
        alert->level = (alert_level_t) event->level;
        changed = true;
    }
    if (event->has_labels && !s_labels_equal (alert, event)) {
        alert_free_labels (&alert->labels, &alert->label_count);
        if (alert_copy_labels (&alert->labels, &alert->label_count,
                               event->labels, event->label_count))
            log_fatal ("out of memory copying labels");
        changed = true;
    }
    if (event->has_suppress) {
        int64_t until = event->suppress_until > now ? event->suppress_until : 0;
        changed |= alert->suppress_until != until;
        alert->suppress_until = until;
    }
    return changed;
}

//  The state an event asks for, setting raise_at and clear_at on the way.
//  Like the raise time, a new clear time alone is a refresh, not news.
static alert_state_t
s_target_state (alert_t *alert, const wire_event_t *event, int64_t now)
{
    if (event->raise_clear || (event->has_clear && event->clear_at <= now)) {
        alert->raise_at = 0;
        return ALERT_CLEARED;
    }
    if (event->has_clear)
        alert->clear_at = event->clear_at;
    alert->raise_at = event->has_raise ? event->raise_at : now;
    return alert->raise_at <= now ? ALERT_RAISED : ALERT_PENDING;
}

transition_t
lifecycle_apply_event (alert_t *alert, const wire_event_t *event, int64_t now)
{
    bool content_changed = s_apply_content (alert, event, now);
    alert_state_t target = s_target_state (alert, event, now);
    alert->updated_at = now;
    if (!alert->created_at)
        alert->created_at = alert->changed_at = now;    //  a new alert: its state is news

    transition_t transition = TRANSITION_NONE;
    if (target == ALERT_CLEARED && alert->state != ALERT_CLEARED)
        transition = s_become_quiet (alert, ALERT_CLEARED, now);
    else
    if (target == ALERT_RAISED
    && (alert->state == ALERT_PENDING || alert->state == ALERT_CLEARED))
        transition = s_become_raised (alert, now);
    else
    if (target == ALERT_PENDING && alert->state != ALERT_PENDING)
        transition = s_become_quiet (alert, ALERT_PENDING, now);
    else
    if (content_changed)
        transition = TRANSITION_UPDATED;
    else
        transition = TRANSITION_REFRESH;    //  updated_at moved, maybe raise_at
    assert (s_invariants_hold (alert));
    return transition;
}

static int64_t
s_reminder_due (const alert_t *alert, int64_t reminder_interval)
{
    int64_t due = alert->notified_at + reminder_interval;
    return due > alert->suppress_until ? due : alert->suppress_until;
}

static void
s_earliest (int64_t *earliest, int64_t candidate)
{
    if (candidate > 0 && (*earliest == 0 || candidate < *earliest))
        *earliest = candidate;
}

int64_t
lifecycle_next_due (const alert_t *alert, int64_t reminder_interval)
{
    int64_t due = 0;
    if (alert->state != ALERT_CLEARED)
        s_earliest (&due, alert->clear_at);
    if (alert->state == ALERT_PENDING)
        s_earliest (&due, alert->raise_at);
    if (alert->state == ALERT_ACKED)
        s_earliest (&due, alert->ack_until);
    if (alert->state == ALERT_RAISED)
        s_earliest (&due, s_reminder_due (alert, reminder_interval));
    return due;
}

transition_t
lifecycle_fire (alert_t *alert, int64_t now, int64_t reminder_interval)
{
    assert (reminder_interval > 0);
    transition_t transition = TRANSITION_NONE;
    if (alert->state != ALERT_CLEARED && alert->clear_at && alert->clear_at <= now)
        transition = s_become_quiet (alert, ALERT_CLEARED, now);
    else
    if (alert->state == ALERT_PENDING && alert->raise_at <= now)
        transition = s_become_raised (alert, now);
    else
    if (alert->state == ALERT_ACKED && alert->ack_until && alert->ack_until <= now)
        transition = s_become_raised (alert, now);
    else
    if (alert->state == ALERT_RAISED && s_reminder_due (alert, reminder_interval) <= now) {
        alert->notify_count++;
        alert->notified_at = now;
        transition = TRANSITION_REMINDER;
    }
    assert (s_invariants_hold (alert));
    return transition;
}

transition_t
lifecycle_ack (alert_t *alert, const char *by, int64_t until,
               const char *note, int64_t now, const char **error)
{
    if (alert->state != ALERT_RAISED && alert->state != ALERT_ACKED) {
        *error = alert->state == ALERT_PENDING
               ? "alert is pending, not raised: nothing to acknowledge"
               : "alert is cleared: nothing to acknowledge";
        return TRANSITION_NONE;
    }
    if (until && until <= now) {
        *error = "until is in the past";
        return TRANSITION_NONE;
    }
    s_set_string (&alert->acked_by, by);
    s_set_string (&alert->ack_note, note);
    alert->acked_at = now;
    alert->acted_at = now;
    alert->ack_until = until;
    if (alert->state != ALERT_ACKED)
        alert->changed_at = now;
    alert->state = ALERT_ACKED;
    assert (s_invariants_hold (alert));
    return TRANSITION_ACKED;
}

transition_t
lifecycle_unack (alert_t *alert, int64_t now, const char **error)
{
    if (alert->state != ALERT_ACKED) {
        *error = "alert is not acknowledged";
        return TRANSITION_NONE;
    }
    s_drop_ack (alert);
    alert->state = ALERT_RAISED;
    alert->notified_at = now;
    alert->changed_at = now;
    alert->acted_at = now;
    assert (s_invariants_hold (alert));
    return TRANSITION_UNACKED;
}

bool
lifecycle_event_is_stale (const alert_t *alert, const wire_event_t *event, int64_t now)
{
    return event->age > 0 && alert->acted_at && now - event->age < alert->acted_at;
}

transition_t
lifecycle_clear (alert_t *alert, int64_t now, bool by_human)
{
    if (by_human)
        alert->acted_at = now;
    if (alert->state == ALERT_CLEARED)
        return TRANSITION_NONE;
    alert->raise_at = 0;
    return s_become_quiet (alert, ALERT_CLEARED, now);
}

transition_t
lifecycle_suppress (alert_t *alert, int64_t until, int64_t now)
{
    if (until <= now)
        until = 0;
    if (alert->suppress_until == until)
        return TRANSITION_NONE;
    alert->suppress_until = until;
    return TRANSITION_UPDATED;
}

const char *
lifecycle_repair (alert_t *alert, int64_t now)
{
    const char *repaired = NULL;
    if (alert->state == ALERT_ACKED && !alert->acked_by) {
        alert->acked_by = mem_strdup ("unknown");
        repaired = "acked without acked_by";
    }
    if (alert->state != ALERT_ACKED && alert->acked_by) {
        s_drop_ack (alert);
        repaired = "an ack on an alert that is not acked";
    }
    if ((alert->state == ALERT_RAISED || alert->state == ALERT_ACKED) && alert->notify_count < 1) {
        alert->notify_count = 1;
        repaired = "raised with notify_count 0";
    }
    if ((alert->state == ALERT_PENDING || alert->state == ALERT_CLEARED) && alert->notify_count) {
        alert->notify_count = 0;
        repaired = "a notify_count while not raised";
    }
    if (alert->state == ALERT_PENDING && alert->raise_at <= 0) {
        alert->raise_at = now;
        repaired = "pending without a raise time";
    }
    assert (s_invariants_hold (alert));
    return repaired;
}
