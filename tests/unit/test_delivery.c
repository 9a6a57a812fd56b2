/*  test_delivery.c — the notifiers' delivery core without a notifier: a
    destination that only records what it was asked to start, finished by
    the test. Lanes keep order per destination and do not wait for each
    other; one alert is never in flight twice in a lane; RETRY backs off
    and honours not_before; retry_for gives up; GIVE_UP is at once; the
    oldest unfinished seq holds the cursor; a change is freed (released)
    once finished everywhere.

    Time is the real monotonic clock: retries are checked by asking
    deliveries_next_wakeup how long they wait, never by sleeping, except
    in the give-up case (a retry_for of 50 ms).
*/
#include <czmq.h>
#include <string.h>
#include "../check.h"
#include "alert.h"
#include "log.h"
#include "../../notifiers/delivery.h"

#define S_MAX 64

//  What start was asked, in order: the delivery (valid until finished)
//  and, noted at start, its lane and seq.
typedef struct {
    delivery_t *started [S_MAX];
    char lane [S_MAX][32];
    uint64_t seq [S_MAX];
    size_t count;
} fake_t;

static void
s_start (void *arg, delivery_t *delivery)
{
    fake_t *fake = arg;
    if (fake->count < S_MAX) {
        fake->started [fake->count] = delivery;
        snprintf (fake->lane [fake->count], sizeof fake->lane [0], "%s", delivery_lane (delivery));
        fake->seq [fake->count++] = delivery_change (delivery)->seq;
    }
}

static int s_released;

static void
s_release (void *hold)
{
    (void) hold;
    s_released++;
}

static char s_event [] = "raised";

//  A change of source/id (both in writable buffers the caller keeps).
static alert_change_t
s_change (uint64_t seq, char *source, char *id)
{
    alert_change_t change = { .seq = seq, .at = 1000, .event = s_event };
    change.alert.source = source;
    change.alert.id = id;
    change.alert.state = ALERT_RAISED;
    return change;
}

static rule_action_t
s_action (const char *destination)
{
    return (rule_action_t) { .kind = ACTION_NOTIFY, .rule = "r", .destination = destination };
}

static deliveries_t *
s_core (fake_t *fake, int64_t retry_for_ms)
{
    deliveries_config_t config = { .start = s_start, .destination = fake,
                                   .retry_for_ms = retry_for_ms, .lane_window = 1,
                                   .release = s_release };
    return deliveries_new (&config);
}

//  The seq of the i-th started delivery.
static uint64_t
s_seq (fake_t *fake, size_t index)
{
    return index < fake->count ? fake->seq [index] : 0;
}

static void
s_lanes (void)
{
    TEST ("delivery: one lane runs in order, one at a time; another lane does not wait for it");
    fake_t fake = { 0 };
    deliveries_t *core = s_core (&fake, 60000);
    rule_action_t slow = s_action ("slow"), fast = s_action ("fast");
    for (uint64_t seq = 1; seq <= 3; seq++) {
        char id [8];
        snprintf (id, sizeof id, "a%d", (int) seq);
        char source [] = "src";
        alert_change_t change = s_change (seq, source, id);
        rule_action_t both [2] = { slow, fast };
        CHECK (deliveries_add (core, &change, both, 2, true, (void *) 1) == 0, "add %d", (int) seq);
    }
    deliveries_work (core, zclock_mono ());
    //  slow: seq 1 only; fast: seq 1 only (one at a time each)
    CHECK (fake.count == 2, "%zu started (one per lane)", fake.count);
    CHECK (deliveries_oldest (core, NULL) == 1, "oldest %llu", (unsigned long long) deliveries_oldest (core, NULL));
    //  fast's lane finishes its three while slow's first is still running
    for (int round = 0; round < 3; round++) {
        size_t last = fake.count - 1;
        if (strcmp (fake.lane [last], "fast") == 0)
            delivery_finish (fake.started [last], DELIVERY_DELIVERED, 0, NULL);
        deliveries_work (core, zclock_mono ());
    }
    size_t fast_started = 0;
    for (size_t index = 0; index < fake.count; index++)
        if (strcmp (fake.lane [index], "fast") == 0)
            fast_started++;
    CHECK (fast_started == 3, "fast started %zu of 3 while slow ran", fast_started);
    CHECK (deliveries_running (core) == 1, "%zu running (slow's first)", deliveries_running (core));
    CHECK (deliveries_oldest (core, NULL) == 1, "seq 1 is not finished everywhere yet");
    CHECK (s_seq (&fake, 0) == 1 || s_seq (&fake, 1) == 1, "seq 1 first");
    //  slow finishes seq 1: the cursor may pass it; seq 2 starts in slow's lane
    delivery_t *first_slow = strcmp (fake.lane [0], "slow") == 0
                           ? fake.started [0] : fake.started [1];
    delivery_finish (first_slow, DELIVERY_DELIVERED, 0, NULL);
    deliveries_work (core, zclock_mono ());
    CHECK (deliveries_oldest (core, NULL) == 2, "oldest %llu after seq 1 finished",
           (unsigned long long) deliveries_oldest (core, NULL));
    CHECK (s_seq (&fake, fake.count - 1) == 2 && strcmp (fake.lane [fake.count - 1], "slow") == 0,
           "slow's seq 2 started next");
    deliveries_destroy (&core);
}

static void
s_same_alert (void)
{
    TEST ("delivery: with a window of 4, two changes of one alert never run at once in a lane");
    fake_t fake = { 0 };
    deliveries_config_t config = { .start = s_start, .destination = &fake, .retry_for_ms = 60000,
                                   .lane_window = 4, .release = s_release };
    deliveries_t *core = deliveries_new (&config);
    rule_action_t mail = s_action ("ops@example.org");
    char web [] = "web", disk [] = "disk", load [] = "load";
    alert_change_t raise = s_change (1, web, disk), other = s_change (2, web, load),
                   clear = s_change (3, web, disk);
    CHECK (deliveries_add (core, &raise, &mail, 1, true, NULL) == 0
       &&  deliveries_add (core, &other, &mail, 1, true, NULL) == 0
       &&  deliveries_add (core, &clear, &mail, 1, true, NULL) == 0, "add");
    deliveries_work (core, zclock_mono ());
    CHECK (fake.count == 2 && s_seq (&fake, 0) == 1 && s_seq (&fake, 1) == 2,
           "%zu started (seq 1 and 2; seq 3 waits for seq 1)", fake.count);
    //  seq 3 waits for seq 1 to finish, not for a time: no wake-up for it
    //  (a 0 here spun the loop at 100 % CPU for a digest's group_wait)
    delivery_finish (fake.started [1], DELIVERY_DELIVERED, 0, NULL);
    deliveries_work (core, zclock_mono ());
    CHECK (deliveries_next_wakeup (core, zclock_mono ()) == -1,
           "a wake-up in %lld ms for a delivery held by its alert's earlier one",
           (long long) deliveries_next_wakeup (core, zclock_mono ()));
    delivery_finish (fake.started [0], DELIVERY_DELIVERED, 0, NULL);
    deliveries_work (core, zclock_mono ());
    CHECK (fake.count == 3 && s_seq (&fake, 2) == 3, "seq 3 started once seq 1 was done");
    deliveries_destroy (&core);
}

static void
s_retry (void)
{
    TEST ("delivery: RETRY waits about 1 s (±20 %), then longer; not_before is honoured;"
          " GIVE_UP frees the change at once");
    fake_t fake = { 0 };
    s_released = 0;
    deliveries_t *core = s_core (&fake, 60000);
    rule_action_t hook = s_action ("hook");
    char source [] = "src", id [] = "x";
    alert_change_t change = s_change (7, source, id);
    CHECK (deliveries_add (core, &change, &hook, 1, true, (void *) 1) == 0, "add");
    int64_t now = zclock_mono ();
    deliveries_work (core, now);
    delivery_finish (fake.started [0], DELIVERY_RETRY, 0, "HTTP 503");
    deliveries_work (core, now);
    int64_t wait = deliveries_next_wakeup (core, now);
    CHECK (wait >= 790 && wait <= 1210, "first retry in %lld ms", (long long) wait);
    CHECK (fake.count == 1, "retried at once");
    deliveries_work (core, now + wait);
    CHECK (fake.count == 2 && delivery_attempt (fake.started [1]) == 2, "the retry started");
    delivery_finish (fake.started [1], DELIVERY_RETRY, now + wait + 10000, "429");
    deliveries_work (core, now + wait);
    int64_t second = deliveries_next_wakeup (core, now + wait);
    CHECK (second >= 9990 && second <= 10010, "a not_before 10 s ahead waited %lld ms",
           (long long) second);
    deliveries_work (core, now + wait + second);
    CHECK (fake.count == 3, "the third attempt started");
    delivery_finish (fake.started [2], DELIVERY_GIVE_UP, 0, "HTTP 400");
    deliveries_work (core, now + wait + second);
    CHECK (deliveries_count (core) == 0 && deliveries_oldest (core, NULL) == 0 && s_released == 1,
           "given up: %zu changes left, %d released", deliveries_count (core), s_released);
    deliveries_destroy (&core);
}

static void
s_give_up (void)
{
    TEST ("delivery: retry_for (50 ms) after the first failure, the last failure gives up");
    fake_t fake = { 0 };
    deliveries_t *core = s_core (&fake, 50);
    rule_action_t hook = s_action ("hook");
    char source [] = "src", id [] = "y";
    alert_change_t change = s_change (9, source, id);
    CHECK (deliveries_add (core, &change, &hook, 1, true, NULL) == 0, "add");
    deliveries_work (core, zclock_mono ());
    delivery_finish (fake.started [0], DELIVERY_RETRY, 0, "down");
    deliveries_work (core, zclock_mono ());
    int64_t wait = deliveries_next_wakeup (core, zclock_mono ());
    CHECK (wait >= 0 && wait <= 50, "the last attempt is at retry_for: %lld ms", (long long) wait);
    zclock_sleep ((int) wait + 5);
    deliveries_work (core, zclock_mono ());
    CHECK (fake.count == 2, "the last attempt started");
    delivery_finish (fake.started [1], DELIVERY_RETRY, 0, "still down");
    deliveries_work (core, zclock_mono ());
    CHECK (deliveries_count (core) == 0, "not given up: %zu in flight", deliveries_count (core));
    deliveries_destroy (&core);
}

static void
s_epochs (void)
{
    TEST ("delivery: the oldest unfinished seq is the feed's epoch's; changes of an epoch left"
          " behind (before a rewind) do not hold its cursor");
    fake_t fake = { 0 };
    deliveries_t *core = s_core (&fake, 60000);
    rule_action_t hook = s_action ("hook");
    epoch_t old_epoch = { .db = "0123456789abcdef", .n = 1, .first = 1 };
    epoch_t new_epoch = { .db = "0123456789abcdef", .n = 2, .first = 301 };
    char source [] = "src", a [] = "a", b [] = "b";
    alert_change_t before = s_change (500, source, a), after = s_change (301, source, b);
    before.epoch = old_epoch;
    after.epoch = new_epoch;
    CHECK (deliveries_add (core, &before, &hook, 1, true, NULL) == 0
       &&  deliveries_add (core, &after, &hook, 1, true, NULL) == 0, "add");
    CHECK (deliveries_oldest (core, &new_epoch) == 301, "oldest of the new epoch: %llu",
           (unsigned long long) deliveries_oldest (core, &new_epoch));
    CHECK (deliveries_oldest (core, &old_epoch) == 500, "oldest of the old epoch");
    deliveries_destroy (&core);
}

static void
s_trouble (void)
{
    TEST ("delivery: a lane is in trouble from its first failure until it delivers; a"
          " give-up keeps it there with what was lost, and makes it the worst lane");
    fake_t fake = { 0 };
    deliveries_t *core = s_core (&fake, 60000);
    rule_action_t slow = s_action ("slow"), dead = s_action ("dead");
    char source [] = "src", a [] = "a", b [] = "b";
    alert_change_t first = s_change (1, source, a), second = s_change (2, source, b);
    delivery_trouble_t worst;
    CHECK (deliveries_trouble (core, &worst) == 0, "in trouble before any failure");
    CHECK (deliveries_add (core, &first, &slow, 1, true, NULL) == 0, "add to slow");
    int64_t now = zclock_mono ();
    deliveries_work (core, now);
    delivery_finish (fake.started [0], DELIVERY_RETRY, 0, "HTTP 503");
    deliveries_work (core, now);
    memset (&worst, 0, sizeof worst);
    CHECK (deliveries_trouble (core, &worst) == 1 && streq (worst.lane, "slow")
       &&  worst.failing_since == now && worst.given_up == 0 && streq (worst.reason, "HTTP 503")
       &&  *worst.lost == 0, "slow in trouble since its failure: %s %lld %zu '%s'",
           worst.lane, (long long) (worst.failing_since - now), worst.given_up, worst.reason);
    //  A second failure keeps the first's time, with its own reason
    deliveries_work (core, now + 2000);
    delivery_finish (fake.started [1], DELIVERY_RETRY, 0, "HTTP 502");
    deliveries_work (core, now + 2000);
    CHECK (deliveries_trouble (core, &worst) == 1 && worst.failing_since == now
       &&  streq (worst.reason, "HTTP 502"), "still since the first failure, the last reason");
    //  Another lane gives up its only delivery: worse, though it failed later
    CHECK (deliveries_add (core, &second, &dead, 1, true, NULL) == 0, "add to dead");
    deliveries_work (core, now + 3000);
    delivery_finish (fake.started [2], DELIVERY_GIVE_UP, 0, "HTTP 400 user invalid");
    deliveries_work (core, now + 3000);
    CHECK (deliveries_trouble (core, &worst) == 2 && streq (worst.lane, "dead")
       &&  worst.given_up == 1 && streq (worst.lost, "seq 2 raised src/b")
       &&  streq (worst.reason, "HTTP 400 user invalid"),
           "the lane that gave up is the worst: %s, %zu given up, lost '%s'", worst.lane,
           worst.given_up, worst.lost);
    //  slow delivers: only dead is left, its queue empty, still in trouble
    deliveries_work (core, now + 10000);
    CHECK (fake.count == 4, "slow's third attempt started");
    delivery_finish (fake.started [3], DELIVERY_DELIVERED, 0, NULL);
    deliveries_work (core, now + 10000);
    CHECK (deliveries_count (core) == 0, "nothing in flight");
    CHECK (deliveries_trouble (core, &worst) == 1 && streq (worst.lane, "dead"),
           "slow delivered, out of trouble; dead is still in it");
    //  dead delivers the next one: no trouble left
    alert_change_t third = s_change (3, source, a);
    CHECK (deliveries_add (core, &third, &dead, 1, true, NULL) == 0, "add to dead again");
    deliveries_work (core, now + 11000);
    delivery_finish (fake.started [4], DELIVERY_DELIVERED, 0, NULL);
    deliveries_work (core, now + 11000);
    CHECK (deliveries_trouble (core, NULL) == 0, "every lane delivered: no trouble");
    deliveries_destroy (&core);
}

int
main (void)
{
    log_init ("test_delivery", false);
    s_lanes ();
    s_same_alert ();
    s_retry ();
    s_give_up ();
    s_epochs ();
    s_trouble ();
    return check_done ();
}
