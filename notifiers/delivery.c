/*  delivery.c — the notifier's delivery core. See delivery.h.

    Three kinds of record:
    - an entry: one change in flight (a deep copy), with how many of its
      deliveries are not finished; entries form a list in the order they
      were added, which is seq order for the feed's changes;
    - a delivery (a job): one action of one entry, queued in its lane,
      WAITING (for its turn or its retry time), RUNNING (the destination
      has it) or FINISHED (the destination said how it went; the core has
      not settled it yet);
    - a lane: the deliveries of one destination, oldest first;
    - a trouble: a lane that failed and has not delivered since, kept by
      the lane's name apart from the lane, which goes when its queue is
      empty. The lanes are the config's destinations, so troubles are few.

    Invariants (checked by s_lane_holds in debug builds):
    - a delivery is in exactly one lane's queue until settled DELIVERED or
      given up; then it is freed and its entry's `unfinished` drops by one;
    - an entry lives while unfinished > 0;
    - lane->running counts the lane's RUNNING deliveries and is at most
      the lane window;
    - only the first lane_window deliveries of a lane may run, and no two
      of one alert at once (s_may_start).

    Finishing never runs the core re-entrantly: delivery_finish only
    records the outcome and queues the delivery on `finished`; settling
    happens in deliveries_work, outside any destination callback.
*/
#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "mem.h"
#include "timespec.h"
#include "delivery.h"

#define S_ROUNDS_PER_WORK  64          //  start/settle rounds in one work call

typedef struct _entry_t entry_t;
typedef struct _lane_t lane_t;

typedef enum { S_WAITING, S_RUNNING, S_FINISHED } s_state_t;

struct _entry_t {
    alert_change_t change;             //  a deep copy
    size_t unfinished;                 //  deliveries not settled
    bool for_cursor;                   //  a feed change (counts for deliveries_oldest)
    void *hold;                        //  released with the entry
    entry_t *prev, *next;
};

struct _delivery_t {
    deliveries_t *owner;
    entry_t *entry;
    lane_t *lane;
    rule_action_t action;              //  borrows from the hold's rules
    s_state_t state;
    int attempts;                      //  started so far
    int64_t first_failure;             //  mono ms, 0 before any
    int64_t backoff;                   //  next back-off before jitter
    int64_t not_before;                //  mono ms: WAITING until then
    delivery_result_t result;          //  FINISHED: the outcome
    int64_t result_not_before;
    char reason [DELIVERY_REASON_SIZE];
    delivery_t *lane_prev, *lane_next;
    delivery_t *next_finished;
};

struct _lane_t {
    char *name;
    delivery_t *head, *tail;
    size_t running;
    size_t queued;
};

typedef struct {
    int64_t failing_since;             //  mono ms, the first failure since the lane delivered
    size_t given_up;                   //  deliveries given up since then
    char reason [DELIVERY_REASON_SIZE];    //  the last failure's
    char lost [DELIVERY_LOST_SIZE];    //  the last delivery given up, described
} trouble_t;

struct _deliveries_t {
    deliveries_config_t config;
    entry_t *first, *last;             //  changes in flight, oldest first
    size_t count;
    zhashx_t *lanes;                   //  name → lane_t
    zhashx_t *troubles;                //  lane name → trouble_t
    delivery_t *finished;              //  waiting to be settled
    delivery_t **finished_tail;
    size_t running;
    uint64_t random_state;             //  xorshift64, for jitter
};

//  --- small helpers ----------------------------------------------------------------

static uint64_t
s_random (deliveries_t *self)
{
    uint64_t x = self->random_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return self->random_state = x;
}

//  delay ± DELIVERY_JITTER_PERCENT.
static int64_t
s_jitter (deliveries_t *self, int64_t delay)
{
    int64_t span = delay * DELIVERY_JITTER_PERCENT / 100;
    if (span <= 0)
        return delay;
    return delay - span + (int64_t) (s_random (self) % (uint64_t) (2 * span + 1));
}

//  The lane's name as logs show it: the destination's class says how
//  (a Pushover user key by its first characters, a webhook URL by its host).
static void
s_show_lane (const deliveries_t *self, const char *name, char *out, size_t size)
{
    if (self->config.lane_shown)
        self->config.lane_shown (name, out, size);
    else
        snprintf (out, size, "%s", name);
}

static void
s_lane_shown (const delivery_t *delivery, char *out, size_t size)
{
    s_show_lane (delivery->owner, delivery->lane->name, out, size);
}

//  "seq 12 raised web1/disk" (and " flood held"), for every log line.
static void
s_describe (const delivery_t *delivery, char *out, size_t size)
{
    const alert_change_t *change = &delivery->entry->change;
    const rule_action_t *action = &delivery->action;
    const char *flood = action->kind == ACTION_FLOOD_HELD ? " flood held"
                      : action->kind == ACTION_FLOOD_OVER ? " flood over" : "";
    snprintf (out, size, "seq %" PRIu64 " %s %s/%s%s", change->seq, change->event,
              change->alert.source, change->alert.id, flood);
}

static const char *
s_rule (const delivery_t *delivery)
{
    return delivery->action.rule ? delivery->action.rule : "";
}

//  A deep copy of change, through its own wire form. 0 / -1.
static int
s_change_copy (const alert_change_t *change, alert_change_t *copy)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    alert_change_pack (&packer, change->seq, change->at, change->event, &change->alert,
                       *change->epoch.db ? &change->epoch : NULL);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = -1;
    char error [WIRE_ERROR_SIZE];
    if (buffer.data && msgpack_unpack_next (&unpacked, buffer.data, buffer.size, NULL)
                       == MSGPACK_UNPACK_SUCCESS) {
        memset (copy, 0, sizeof *copy);
        rc = alert_change_decode (&unpacked.data, copy, error, sizeof error) == 0 ? 0 : -1;
        if (rc)
            log_error ("cannot copy seq %" PRIu64 ": %s", change->seq, error);
    }
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buffer);
    return rc;
}

static bool
s_same_alert (const delivery_t *one, const delivery_t *other)
{
    const alert_t *a = &one->entry->change.alert, *b = &other->entry->change.alert;
    return streq (a->source, b->source) && streq (a->id, b->id);
}

//  --- lanes --------------------------------------------------------------------------

static void
s_lane_destroy (void **item)
{
    lane_t *lane = *item;
    mem_free (lane->name);
    mem_free (lane);
    *item = NULL;
}

static void
s_trouble_destroy (void **item)
{
    mem_free (*item);
    *item = NULL;
}

static lane_t *
s_lane (deliveries_t *self, const char *name)
{
    lane_t *lane = zhashx_lookup (self->lanes, name);
    if (!lane) {
        lane = mem_alloc (sizeof *lane);
        lane->name = mem_strdup (name);
        int rc = zhashx_insert (self->lanes, name, lane);
        assert (rc == 0);
    }
    return lane;
}

static void
s_lane_push (lane_t *lane, delivery_t *delivery)
{
    delivery->lane = lane;
    delivery->lane_prev = lane->tail;
    if (lane->tail)
        lane->tail->lane_next = delivery;
    else
        lane->head = delivery;
    lane->tail = delivery;
    lane->queued++;
}

static void
s_lane_unlink (deliveries_t *self, delivery_t *delivery)
{
    lane_t *lane = delivery->lane;
    if (delivery->lane_prev)
        delivery->lane_prev->lane_next = delivery->lane_next;
    else
        lane->head = delivery->lane_next;
    if (delivery->lane_next)
        delivery->lane_next->lane_prev = delivery->lane_prev;
    else
        lane->tail = delivery->lane_prev;
    lane->queued--;
    if (lane->queued == 0) {
        assert (lane->running == 0);
        zhashx_delete (self->lanes, lane->name);
    }
}

//  Is an earlier delivery of the same alert still in the lane? (Then this
//  one waits for it to finish, whatever its time.)
static bool
s_held_by_alert (const delivery_t *delivery)
{
    for (const delivery_t *earlier = delivery->lane->head; earlier != delivery;
         earlier = earlier->lane_next)
        if (s_same_alert (earlier, delivery))
            return true;
    return false;
}

//  May delivery (WAITING, within the window) start at now?
static bool
s_may_start (const delivery_t *delivery, int64_t now)
{
    return delivery->state == S_WAITING && delivery->not_before <= now
        && !s_held_by_alert (delivery);
}

//  --- entries ------------------------------------------------------------------------

static void
s_entry_free (deliveries_t *self, entry_t *entry)
{
    if (entry->prev)
        entry->prev->next = entry->next;
    else
        self->first = entry->next;
    if (entry->next)
        entry->next->prev = entry->prev;
    else
        self->last = entry->prev;
    self->count--;
    if (self->config.release && entry->hold)
        self->config.release (entry->hold);
    alert_change_free (&entry->change);
    mem_free (entry);
}

//  A delivery leaves for good (done or given up).
static void
s_delivery_free (deliveries_t *self, delivery_t *delivery)
{
    entry_t *entry = delivery->entry;
    s_lane_unlink (self, delivery);
    mem_free (delivery);
    if (--entry->unfinished == 0)
        s_entry_free (self, entry);
}

//  --- troubles ----------------------------------------------------------------------

//  The delivery's lane failed at now: in trouble since its first failure.
static trouble_t *
s_trouble (deliveries_t *self, const delivery_t *delivery, int64_t now)
{
    trouble_t *trouble = zhashx_lookup (self->troubles, delivery->lane->name);
    if (!trouble) {
        trouble = mem_alloc (sizeof *trouble);
        trouble->failing_since = now;
        int rc = zhashx_insert (self->troubles, delivery->lane->name, trouble);
        assert (rc == 0);
    }
    snprintf (trouble->reason, sizeof trouble->reason, "%s", delivery->reason);
    return trouble;
}

//  Is one worse than other (deliveries_trouble)?
static bool
s_worse (const trouble_t *one, const trouble_t *other)
{
    if ((one->given_up > 0) != (other->given_up > 0))
        return one->given_up > 0;
    return one->failing_since < other->failing_since;
}

//  --- settling -----------------------------------------------------------------------

static void
s_give_up (deliveries_t *self, delivery_t *delivery, const char *why, bool timed_out,
           int64_t now)
{
    char described [1024], lane [1024], text [32];
    s_describe (delivery, described, sizeof described);
    s_lane_shown (delivery, lane, sizeof lane);
    if (timed_out)
        log_error ("giving up on seq %" PRIu64 " for rule %s after %s: %s (%s, %d attempts, to %s)",
                   delivery->entry->change.seq, s_rule (delivery),
                   duration_format (self->config.retry_for_ms, text, (int) sizeof text), why,
                   described, delivery->attempts, lane);
    else
        log_error ("giving up on seq %" PRIu64 " for rule %s: %s (%s, to %s)",
                   delivery->entry->change.seq, s_rule (delivery), why, described, lane);
    trouble_t *trouble = s_trouble (self, delivery, now);
    trouble->given_up++;
    s_describe (delivery, trouble->lost, sizeof trouble->lost);
    s_delivery_free (self, delivery);
}

static void
s_retry (deliveries_t *self, delivery_t *delivery, int64_t now)
{
    s_trouble (self, delivery, now);
    if (!delivery->first_failure) {
        delivery->first_failure = now;
        delivery->backoff = DELIVERY_BACKOFF_FIRST_MS;
    }
    int64_t give_up_at = delivery->first_failure + self->config.retry_for_ms;
    if (now >= give_up_at) {
        s_give_up (self, delivery, delivery->reason, true, now);
        return;
    }
    int64_t at = now + s_jitter (self, delivery->backoff);
    delivery->backoff = delivery->backoff * 2 < DELIVERY_BACKOFF_MAX_MS
                      ? delivery->backoff * 2 : DELIVERY_BACKOFF_MAX_MS;
    if (at < delivery->result_not_before)
        at = delivery->result_not_before;
    if (at > give_up_at)
        at = give_up_at;               //  the last attempt, right at the give-up time
    delivery->state = S_WAITING;
    delivery->not_before = at;
    char described [1024];
    s_describe (delivery, described, sizeof described);
    log_warn ("%s for rule %s: %s; attempt %d failed, retrying in %" PRId64 " ms", described,
              s_rule (delivery), delivery->reason, delivery->attempts, at - now);
}

static void
s_settle (deliveries_t *self, delivery_t *delivery, int64_t now)
{
    assert (delivery->state == S_FINISHED);
    delivery->lane->running--;
    self->running--;
    char described [1024], lane [1024];
    if (delivery->result == DELIVERY_DELIVERED) {
        zhashx_delete (self->troubles, delivery->lane->name);
        s_describe (delivery, described, sizeof described);
        s_lane_shown (delivery, lane, sizeof lane);
        log_info ("%s: rule %s: delivered%s (to %s%s%s)", described, s_rule (delivery),
                  delivery->attempts > 1 ? " after retrying" : "", lane,
                  *delivery->reason ? "; " : "", delivery->reason);
        s_delivery_free (self, delivery);
    }
    else
    if (delivery->result == DELIVERY_GIVE_UP)
        s_give_up (self, delivery, delivery->reason, false, now);
    else
        s_retry (self, delivery, now);
}

//  Settles every finished delivery. True when there was one.
static bool
s_settle_all (deliveries_t *self, int64_t now)
{
    bool any = self->finished != NULL;
    while (self->finished) {
        delivery_t *delivery = self->finished;
        self->finished = delivery->next_finished;
        if (!self->finished)
            self->finished_tail = &self->finished;
        s_settle (self, delivery, now);
    }
    return any;
}

//  --- starting -----------------------------------------------------------------------

static void
s_start (deliveries_t *self, delivery_t *delivery)
{
    delivery->state = S_RUNNING;
    delivery->attempts++;
    delivery->reason [0] = 0;
    delivery->lane->running++;
    self->running++;
    self->config.start (self->config.destination, delivery);
}

//  Starts what may start in one lane.
static void
s_start_lane (deliveries_t *self, lane_t *lane, int64_t now)
{
    size_t window = self->config.lane_window, seen = 0;
    for (delivery_t *delivery = lane->head; delivery && seen < window && lane->running < window;
         delivery = delivery->lane_next, seen++)
        if (s_may_start (delivery, now))
            s_start (self, delivery);
}

static void
s_start_due (deliveries_t *self, int64_t now)
{
    //  Starting may finish at once (queued, not settled): the lanes stay put
    for (lane_t *lane = zhashx_first (self->lanes); lane; lane = zhashx_next (self->lanes))
        s_start_lane (self, lane, now);
}

//  --- the API ------------------------------------------------------------------------

deliveries_t *
deliveries_new (const deliveries_config_t *config)
{
    assert (config && config->start && config->lane_window >= 1);
    deliveries_t *self = mem_alloc (sizeof *self);
    self->config = *config;
    self->lanes = zhashx_new ();
    zhashx_set_destructor (self->lanes, s_lane_destroy);
    self->troubles = zhashx_new ();
    zhashx_set_destructor (self->troubles, s_trouble_destroy);
    self->finished_tail = &self->finished;
    self->random_state = ((uint64_t) zclock_mono () << 16) ^ (uint64_t) getpid ()
                       ^ (uint64_t) zclock_time () ^ 0x9e3779b97f4a7c15ull;
    return self;
}

void
deliveries_destroy (deliveries_t **self_p)
{
    assert (self_p);
    deliveries_t *self = *self_p;
    if (!self)
        return;
    for (lane_t *lane = zhashx_first (self->lanes); lane; lane = zhashx_next (self->lanes))
        for (delivery_t *delivery = lane->head, *next; delivery; delivery = next) {
            next = delivery->lane_next;
            mem_free (delivery);
        }
    zhashx_destroy (&self->lanes);
    zhashx_destroy (&self->troubles);
    while (self->first) {
        self->first->unfinished = 0;
        s_entry_free (self, self->first);
    }
    mem_free (self);
    *self_p = NULL;
}

int
deliveries_add (deliveries_t *self, const alert_change_t *change,
                const rule_action_t *actions, size_t count, bool for_cursor, void *hold)
{
    assert (self && change && actions && count > 0);
    if (self->count >= DELIVERIES_MAX)
        return -1;
    entry_t *entry = mem_alloc (sizeof *entry);
    if (s_change_copy (change, &entry->change)) {
        mem_free (entry);
        return -1;
    }
    entry->for_cursor = for_cursor;
    entry->hold = hold;
    entry->prev = self->last;
    if (self->last)
        self->last->next = entry;
    else
        self->first = entry;
    self->last = entry;
    self->count++;
    for (size_t index = 0; index < count; index++) {
        delivery_t *delivery = mem_alloc (sizeof *delivery);
        delivery->owner = self;
        delivery->entry = entry;
        delivery->action = actions [index];
        delivery->state = S_WAITING;
        entry->unfinished++;
        s_lane_push (s_lane (self, actions [index].destination ? actions [index].destination
                                                                 : "default"), delivery);
    }
    return 0;
}

bool
deliveries_full (deliveries_t *self)
{
    assert (self);
    return self->count >= DELIVERIES_MAX;
}

void
deliveries_work (deliveries_t *self, int64_t mono_now)
{
    assert (self);
    for (int round = 0; round < S_ROUNDS_PER_WORK; round++) {
        s_settle_all (self, mono_now);
        s_start_due (self, mono_now);
        if (!self->finished)
            break;
    }
}

int64_t
deliveries_next_wakeup (deliveries_t *self, int64_t mono_now)
{
    assert (self);
    if (self->finished)
        return 0;
    int64_t wait = -1;
    for (lane_t *lane = zhashx_first (self->lanes); lane; lane = zhashx_next (self->lanes)) {
        if (lane->running >= self->config.lane_window)
            continue;
        size_t seen = 0;
        for (delivery_t *delivery = lane->head; delivery && seen < self->config.lane_window;
             delivery = delivery->lane_next, seen++)
            if (delivery->state == S_WAITING && !s_held_by_alert (delivery)) {
                int64_t left = delivery->not_before > mono_now ? delivery->not_before - mono_now : 0;
                if (wait < 0 || left < wait)
                    wait = left;
            }
    }
    return wait;
}

//  Within one epoch the list is in seq order, so the first entry of the
//  epoch is its oldest; entries of older epochs (before a rewind) are
//  skipped, a few at most.
uint64_t
deliveries_oldest (deliveries_t *self, const epoch_t *epoch)
{
    assert (self);
    for (entry_t *entry = self->first; entry; entry = entry->next)
        if (entry->for_cursor
        &&  (!epoch || !*epoch->db || epoch_equal (&entry->change.epoch, epoch)))
            return entry->change.seq;
    return 0;
}

size_t
deliveries_trouble (deliveries_t *self, delivery_trouble_t *worst)
{
    assert (self);
    const trouble_t *found = NULL;
    const char *name = NULL;
    for (trouble_t *trouble = zhashx_first (self->troubles); trouble;
         trouble = zhashx_next (self->troubles))
        if (!found || s_worse (trouble, found)) {
            found = trouble;
            name = zhashx_cursor (self->troubles);
        }
    if (found && worst) {
        s_show_lane (self, name, worst->lane, sizeof worst->lane);
        worst->failing_since = found->failing_since;
        worst->given_up = found->given_up;
        snprintf (worst->reason, sizeof worst->reason, "%s", found->reason);
        snprintf (worst->lost, sizeof worst->lost, "%s", found->lost);
    }
    return zhashx_size (self->troubles);
}

size_t
deliveries_count (deliveries_t *self)
{
    assert (self);
    return self->count;
}

size_t
deliveries_running (deliveries_t *self)
{
    assert (self);
    return self->running;
}

//  --- for destinations -------------------------------------------------------------

const alert_change_t *
delivery_change (const delivery_t *self)
{
    assert (self);
    return &self->entry->change;
}

const rule_action_t *
delivery_action (const delivery_t *self)
{
    assert (self);
    return &self->action;
}

int
delivery_attempt (const delivery_t *self)
{
    assert (self);
    return self->attempts;
}

const char *
delivery_lane (const delivery_t *self)
{
    assert (self);
    return self->lane->name;
}

void
delivery_finish (delivery_t *self, delivery_result_t result, int64_t not_before,
                 const char *format, ...)
{
    assert (self && self->state == S_RUNNING);
    self->state = S_FINISHED;
    self->result = result;
    self->result_not_before = not_before;
    self->reason [0] = 0;
    if (format) {
        va_list arguments;
        va_start (arguments, format);
        vsnprintf (self->reason, sizeof self->reason, format, arguments);
        va_end (arguments);
    }
    self->next_finished = NULL;
    *self->owner->finished_tail = self;
    self->owner->finished_tail = &self->next_finished;
}
