/*  lifecycle.h — the alert state machine, as pure functions on alert_t.

    Everything that moves an alert between pending, raised, acked and cleared
    is here, and nothing else is: no I/O, no clock (callers pass `now`), no
    broker. That keeps the rules of architecture §2 in one place, testable against
    a reference model (tests/unit/test_lifecycle.c).

    Each function returns the transition it made, which names the change the
    broker publishes; TRANSITION_REFRESH means "store it, publish nothing"
    (a heartbeat that only moved a pending alert's raise time) and
    TRANSITION_NONE means nothing changed at all.

    Rules, in brief:
    - An event raises now unless it carries a raise time, `clear`, or a clear
      time now or past (which clear it); a raise time in the future makes the
      alert pending (a raised or acked alert too: the heartbeat came back, the
      ack is dropped). A clear time in the future is kept and fires later.
    - A raise sets notify_count to 1; each reminder adds one. Reminders are
      due every reminder_interval after the last notification, and never
      before suppress_until.
    - An ack holds until ack_until (0 = for ever), then the alert is raised
      again. Clearing, or going back to pending, drops the ack.
*/
#ifndef LILAC_LIFECYCLE_H
#define LILAC_LIFECYCLE_H

#include <stdint.h>
#include "alert.h"
#include "wire.h"

typedef enum {
    TRANSITION_NONE,               //  nothing changed
    TRANSITION_REFRESH,            //  only times moved: store, do not publish
    TRANSITION_PENDING,
    TRANSITION_RAISED,
    TRANSITION_REMINDER,
    TRANSITION_ACKED,
    TRANSITION_UNACKED,
    TRANSITION_CLEARED,
    TRANSITION_UPDATED             //  content changed, state did not
} transition_t;

//  The event name published for a transition ("raised"), or NULL for NONE
//  and REFRESH.
const char *transition_name (transition_t transition);

//  Applies one ingested event to alert at time now. A new alert is a zeroed
//  alert_t with source and id set and state ALERT_CLEARED; the caller
//  publishes its creation even when this returns REFRESH or UPDATED.
transition_t lifecycle_apply_event (alert_t *alert, const wire_event_t *event, int64_t now);

//  The earliest time at which lifecycle_fire would change the alert, or 0.
int64_t lifecycle_next_due (const alert_t *alert, int64_t reminder_interval);

//  Makes the earliest transition that is due at now, if any. Call until it
//  returns TRANSITION_NONE to catch up with several due times.
transition_t lifecycle_fire (alert_t *alert, int64_t now, int64_t reminder_interval);

//  Human acts. On refusal they return TRANSITION_NONE and set *error to a
//  sentence; ack and unack of an alert in the wrong state are refused,
//  clearing a cleared alert or re-suppressing to the same time is NONE
//  without an error. `by` and `note` are copied.
transition_t lifecycle_ack (alert_t *alert, const char *by, int64_t until,
                            const char *note, int64_t now, const char **error);
transition_t lifecycle_unack (alert_t *alert, int64_t now, const char **error);
//  by_human: a person cleared it (control `clear`), which an older event
//  must not undo (acted_at); a sender's replace does not count.
transition_t lifecycle_clear (alert_t *alert, int64_t now, bool by_human);
//  Would event, received at now after its sender held it event->age ms,
//  undo a human act it predates (the last ack, unack or clear)? Such an
//  event is dropped: a resend must not raise again what a person cleared.
bool lifecycle_event_is_stale (const alert_t *alert, const wire_event_t *event, int64_t now);
transition_t lifecycle_suppress (alert_t *alert, int64_t until, int64_t now);

//  Alerts read back from the database are outside input: this makes one
//  obey the state machine's invariants (an acked alert has acked_by, a
//  raised one a notify_count, a pending one a raise time). Returns a
//  sentence saying what was wrong, or NULL when nothing was.
const char *lifecycle_repair (alert_t *alert, int64_t now);

#endif
