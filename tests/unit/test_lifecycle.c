/*  test_lifecycle.c — the alert state machine against a reference model.

    The model below restates architecture §2 as plainly as possible — a state, a
    few times, a counter — without sharing code with broker/lifecycle.c.
    A seeded random walk drives both with events, human acts and the passing
    of time, and after every step they must agree on the state, the
    notify_count, the ack, and the name of the change published. Named cases
    before it pin the rules the issue spells out.
*/
#include <stdlib.h>
#include <string.h>
#include "../check.h"
#include "../../broker/lifecycle.h"
#include "mem.h"

#define SECOND 1000
#define INTERVAL (60 * SECOND)

//  --- the reference model ---------------------------------------------------------

typedef struct {
    alert_state_t state;
    int64_t raise_at, clear_at, ack_until, notified_at, suppress_until;
    int64_t notify_count;
    bool acked;
} model_t;

static const char *
model_raise (model_t *model, int64_t now)
{
    model->state = ALERT_RAISED;
    model->acked = false;
    model->notify_count++;
    model->notified_at = now;
    return "raised";
}

static const char *
model_reset (model_t *model, alert_state_t state)
{
    model->state = state;
    model->acked = false;
    model->notify_count = 0;
    if (state == ALERT_CLEARED)
        model->clear_at = 0;
    return state == ALERT_CLEARED ? "cleared" : "pending";
}

//  kind 0: raise at now+offset; 1: raise clear; 2: nothing (raise now);
//  3: clear at now+offset (offset > 0) with an implied raise now.
static const char *
model_event (model_t *model, int kind, int64_t offset, int64_t now)
{
    if (kind == 1)
        return model->state == ALERT_CLEARED ? NULL : model_reset (model, ALERT_CLEARED);
    int64_t raise_at = kind == 0 ? now + offset : now;
    if (kind == 3)
        model->clear_at = now + offset;
    model->raise_at = raise_at;
    if (raise_at > now)
        return model->state == ALERT_PENDING ? NULL : model_reset (model, ALERT_PENDING);
    if (model->state == ALERT_PENDING || model->state == ALERT_CLEARED)
        return model_raise (model, now);
    return NULL;
}

static const char *
model_fire (model_t *model, int64_t now)
{
    int64_t reminder = model->notified_at + INTERVAL;
    if (reminder < model->suppress_until)
        reminder = model->suppress_until;
    if (model->state != ALERT_CLEARED && model->clear_at && model->clear_at <= now)
        return model_reset (model, ALERT_CLEARED);
    if (model->state == ALERT_PENDING && model->raise_at <= now)
        return model_raise (model, now);
    if (model->state == ALERT_ACKED && model->ack_until && model->ack_until <= now)
        return model_raise (model, now);
    if (model->state == ALERT_RAISED && reminder <= now) {
        model->notify_count++;
        model->notified_at = now;
        return "reminder";
    }
    return NULL;
}

//  --- driving the real thing ------------------------------------------------------------

static wire_event_t
s_event (int kind, int64_t offset, int64_t now)
{
    wire_event_t event = { .id = "heartbeat", .level = -1 };
    if (kind == 0) {
        event.has_raise = true;
        event.raise_at = now + offset;
    }
    if (kind == 1)
        event.raise_clear = event.has_raise = true;
    if (kind == 3) {
        event.has_clear = true;
        event.clear_at = now + offset;
    }
    return event;
}

static bool
s_agree (const alert_t *alert, const model_t *model, const char *real, const char *expected,
         int step)
{
    bool same_event = (!real && !expected) || (real && expected && strcmp (real, expected) == 0);
    return CHECK (same_event, "step %d: published %s, model says %s", step,
                  real ? real : "nothing", expected ? expected : "nothing")
        && CHECK (alert->state == model->state, "step %d: state %s, model %s", step,
                  alert_state_name (alert->state), alert_state_name (model->state))
        && CHECK (alert->notify_count == model->notify_count, "step %d: notify_count %ld, model %ld",
                  step, (long) alert->notify_count, (long) model->notify_count)
        && CHECK ((alert->acked_by != NULL) == model->acked, "step %d: ack differs", step);
}

static const char *
s_fire_all (alert_t *alert, int64_t now, const char **last)
{
    transition_t transition;
    const char *first = NULL;
    while ((transition = lifecycle_fire (alert, now, INTERVAL)) != TRANSITION_NONE) {
        if (!first)
            first = transition_name (transition);
        *last = transition_name (transition);
    }
    return first;
}

static void
test_random_walk (void)
{
    TEST ("lifecycle agrees with the reference model over 20,000 random steps");
    srand (42);
    alert_t alert = { .source = mem_strdup ("web1"), .id = mem_strdup ("heartbeat"),
                      .state = ALERT_CLEARED, .level = LEVEL_NORMAL };
    model_t model = { .state = ALERT_CLEARED };
    int64_t now = 1800000000000LL;
    for (int step = 0; step < 20000; step++) {
        int action = rand () % 6;
        int64_t offset = ((rand () % 11) - 5) * SECOND;
        const char *real = NULL, *expected = NULL;
        if (action <= 2) {
            int kind = rand () % 4;
            if (kind == 3 && offset <= 0)
                offset = SECOND;
            wire_event_t event = s_event (kind, offset, now);
            real = transition_name (lifecycle_apply_event (&alert, &event, now));
            expected = model_event (&model, kind, offset, now);
        }
        else
        if (action == 3) {
            const char *refusal = NULL;
            int64_t until = rand () % 2 ? now + 3 * SECOND : 0;
            real = transition_name (lifecycle_ack (&alert, "alice", until, NULL, now, &refusal));
            if (model.state == ALERT_RAISED || model.state == ALERT_ACKED) {
                model.state = ALERT_ACKED;
                model.acked = true;
                model.ack_until = until;
                expected = "acked";
            }
        }
        else
        if (action == 4) {
            const char *refusal = NULL;
            real = transition_name (lifecycle_unack (&alert, now, &refusal));
            if (model.state == ALERT_ACKED) {
                model.state = ALERT_RAISED;
                model.acked = false;
                model.notified_at = now;
                expected = "unacked";
            }
        }
        else {
            now += (rand () % 90) * SECOND;
            const char *last_real = NULL;
            real = s_fire_all (&alert, now, &last_real);
            const char *step_expected;
            while ((step_expected = model_fire (&model, now)))
                if (!expected)
                    expected = step_expected;
        }
        if (!s_agree (&alert, &model, real, expected, step))
            break;
        now += SECOND;
    }
    alert_clear_fields (&alert);
}

//  --- the rules, one by one ------------------------------------------------------------------

static alert_t
s_new_alert (void)
{
    return (alert_t) { .source = mem_strdup ("web1"), .id = mem_strdup ("heartbeat"),
                       .state = ALERT_CLEARED, .level = LEVEL_NORMAL };
}

static void
test_heartbeat (void)
{
    TEST ("a heartbeat stays pending while refreshed, raises when it stops, then reminds");
    alert_t alert = s_new_alert ();
    int64_t now = 1800000000000LL;
    wire_event_t event = s_event (0, 5 * SECOND, now);
    CHECK (lifecycle_apply_event (&alert, &event, now) == TRANSITION_PENDING, "first is pending");
    now += 2 * SECOND;
    event = s_event (0, 5 * SECOND, now);
    CHECK (lifecycle_apply_event (&alert, &event, now) == TRANSITION_REFRESH, "refresh publishes nothing");
    CHECK (lifecycle_next_due (&alert, INTERVAL) == now + 5 * SECOND, "due at the new raise time");
    now += 5 * SECOND;
    CHECK (lifecycle_fire (&alert, now, INTERVAL) == TRANSITION_RAISED, "raised when due");
    CHECK (alert.notify_count == 1, "notify_count 1 at raise");
    CHECK (lifecycle_next_due (&alert, INTERVAL) == now + INTERVAL, "reminder due after the interval");
    now += INTERVAL;
    CHECK (lifecycle_fire (&alert, now, INTERVAL) == TRANSITION_REMINDER, "reminder");
    CHECK (alert.notify_count == 2, "notify_count 2 at the first reminder");
    event = s_event (0, 5 * SECOND, now);
    CHECK (lifecycle_apply_event (&alert, &event, now) == TRANSITION_PENDING,
           "a future raise time makes a raised alert pending again");
    alert_clear_fields (&alert);
}

static void
test_ack (void)
{
    TEST ("ack holds until its time, then the alert raises again; clear drops the ack");
    alert_t alert = s_new_alert ();
    int64_t now = 1800000000000LL;
    const char *refusal = NULL;
    wire_event_t event = s_event (0, 5 * SECOND, now);
    lifecycle_apply_event (&alert, &event, now);
    CHECK (lifecycle_ack (&alert, "alice", 0, NULL, now, &refusal) == TRANSITION_NONE && refusal,
           "ack of a pending alert is refused");
    event = s_event (2, 0, now);
    CHECK (lifecycle_apply_event (&alert, &event, now) == TRANSITION_RAISED, "raise now");
    CHECK (lifecycle_ack (&alert, "alice", now + 10 * SECOND, "on it", now, &refusal)
           == TRANSITION_ACKED, "ack");
    CHECK (lifecycle_next_due (&alert, INTERVAL) == now + 10 * SECOND, "due at until");
    CHECK (lifecycle_fire (&alert, now + 10 * SECOND, INTERVAL) == TRANSITION_RAISED,
           "raised again after until");
    CHECK (!alert.acked_by && !alert.ack_note, "ack dropped");
    lifecycle_ack (&alert, "bob", 0, NULL, now + 11 * SECOND, &refusal);
    CHECK (lifecycle_clear (&alert, now + 12 * SECOND, true) == TRANSITION_CLEARED, "cleared");
    CHECK (!alert.acked_by && alert.notify_count == 0, "clear drops the ack and the count");
    CHECK (lifecycle_clear (&alert, now + 13 * SECOND, true) == TRANSITION_NONE, "clearing twice is nothing");
    alert_clear_fields (&alert);
}

static void
test_suppress_and_content (void)
{
    TEST ("suppression defers reminders; content changes publish updated");
    alert_t alert = s_new_alert ();
    int64_t now = 1800000000000LL;
    wire_event_t event = s_event (2, 0, now);
    lifecycle_apply_event (&alert, &event, now);
    CHECK (lifecycle_suppress (&alert, now + 300 * SECOND, now) == TRANSITION_UPDATED, "suppressed");
    CHECK (lifecycle_next_due (&alert, INTERVAL) == now + 300 * SECOND, "reminder waits for the end");
    CHECK (lifecycle_suppress (&alert, now, now) == TRANSITION_UPDATED, "now lifts it");
    CHECK (alert.suppress_until == 0, "lifted");
    event = s_event (2, 0, now);
    event.summary = "disk 97% full";
    CHECK (lifecycle_apply_event (&alert, &event, now) == TRANSITION_UPDATED, "new summary");
    CHECK (lifecycle_apply_event (&alert, &event, now) == TRANSITION_REFRESH, "same summary");
    event.level = LEVEL_URGENT;
    CHECK (lifecycle_apply_event (&alert, &event, now) == TRANSITION_UPDATED, "new level");
    CHECK (alert.level == LEVEL_URGENT && strcmp (alert.summary, "disk 97% full") == 0, "kept");
    alert_clear_fields (&alert);
}

static void
test_clear_time (void)
{
    TEST ("a clear time in the future is kept and fires; one in the past clears now");
    alert_t alert = s_new_alert ();
    int64_t now = 1800000000000LL;
    wire_event_t event = s_event (3, 30 * SECOND, now);
    CHECK (lifecycle_apply_event (&alert, &event, now) == TRANSITION_RAISED, "raises now");
    CHECK (lifecycle_next_due (&alert, INTERVAL) == now + 30 * SECOND, "clear is due first");
    CHECK (lifecycle_fire (&alert, now + 30 * SECOND, INTERVAL) == TRANSITION_CLEARED, "clears");
    event = s_event (2, 0, now);
    lifecycle_apply_event (&alert, &event, now + 31 * SECOND);
    event = s_event (3, -SECOND, now + 32 * SECOND);
    CHECK (lifecycle_apply_event (&alert, &event, now + 32 * SECOND) == TRANSITION_CLEARED,
           "past clear time clears at once");
    alert_clear_fields (&alert);
}

static void
test_repair (void)
{
    TEST ("rows read back from disk are repaired to obey the invariants, not asserted on");
    alert_t alert = s_new_alert ();
    alert.state = ALERT_ACKED;              //  acked, but nobody acked it, and never notified
    CHECK (lifecycle_repair (&alert, 1800000000000LL) != NULL, "not noticed");
    CHECK (alert.acked_by && alert.notify_count == 1, "not repaired");
    CHECK (lifecycle_repair (&alert, 1800000000000LL) == NULL, "repaired twice");
    alert.state = ALERT_PENDING;
    alert.raise_at = 0;
    CHECK (lifecycle_repair (&alert, 1800000000000LL) != NULL, "pending without raise time");
    CHECK (!alert.acked_by && alert.notify_count == 0 && alert.raise_at == 1800000000000LL,
           "pending not repaired");
    wire_event_t event = s_event (2, 0, 1800000000001LL);
    CHECK (lifecycle_apply_event (&alert, &event, 1800000000001LL) == TRANSITION_RAISED,
           "a repaired alert takes events");
    alert_clear_fields (&alert);
}

int
main (void)
{
    test_repair ();
    test_heartbeat ();
    test_ack ();
    test_suppress_and_content ();
    test_clear_time ();
    test_random_walk ();
    return check_done ();
}
