/*  test_broker_watch.c — broker_silence's decisions, and the feed reading
    a degraded broker's hugz.

    The watch is fed made-up health at made-up times (no clock, no sleep):
    it must speak once when a silence or a degradation passes
    broker_silence, once when it is over, and not in between. The feed
    part runs a PUB in this process that sends hugz as the broker does
    (with `degraded` and `degraded_since` while degraded, without them
    after) and reads change_feed_health; the control endpoint answers
    nobody (the feed's first sync fails quickly and harmlessly). Every wait
    has a deadline.
*/
#include <string.h>
#include "../check.h"
#include "../../notifiers/broker_watch.h"
#include "bus.h"
#include "change_feed.h"
#include "wire.h"

#define SILENCE  2000                  //  broker_silence of the cases, ms
#define WALL     1796500000000LL       //  a wall clock, ms

static change_feed_health_t
s_health (int64_t last_heard, const char *degraded, int64_t since)
{
    change_feed_health_t health = { .last_heard = last_heard, .degraded = degraded != NULL,
                                    .degraded_since = since };
    snprintf (health.reason, sizeof health.reason, "%s", degraded ? degraded : "");
    return health;
}

//  One update at mono (wall = WALL + mono); the event said, or "" for none.
static const char *
s_update (broker_watch_t *watch, change_feed_health_t health, bool pending, int64_t mono,
          char *summary, size_t size)
{
    static char event [16];
    alert_change_t change;
    *summary = 0;
    if (!broker_watch_update (watch, &health, pending, mono, WALL + mono, &change))
        return "";
    snprintf (event, sizeof event, "%s", change.event);
    snprintf (summary, size, "%s", change.alert.summary ? change.alert.summary : "");
    CHECK (change.seq == 0 && strcmp (change.alert.source, "lilac") == 0
           && strcmp (change.alert.id, "broker") == 0 && change.alert.level == LEVEL_URGENT,
           "the message is not lilac/broker, seq 0, urgent");
    alert_change_free (&change);
    return event;
}

static void
s_test_watch (void)
{
    TEST ("broker_watch: silent for more than broker_silence → raised once (\"unreachable"
          " since\" the last time heard); heard again → cleared once; pending input counts"
          " as heard; 0 is off");
    setenv ("TZ", "UTC", 1);
    char summary [512];
    broker_watch_t *watch = broker_watch_new (SILENCE);
    //  Last heard at 1000.
    CHECK (streq (s_update (watch, s_health (1000, NULL, 0), false, 2500, summary, sizeof summary),
                  ""), "spoke after 1.5 s");
    CHECK (streq (s_update (watch, s_health (1000, NULL, 0), true, 3500, summary, sizeof summary),
                  ""), "spoke while the SUB held input");
    CHECK (streq (s_update (watch, s_health (1000, NULL, 0), false, 3001, summary, sizeof summary),
                  "raised"), "no word after 2.001 s");
    CHECK (strstr (summary, "lilac broker unreachable since 2026-"), "summary '%s'", summary);
    CHECK (streq (s_update (watch, s_health (1000, NULL, 0), false, 9000, summary, sizeof summary),
                  ""), "spoke twice");
    CHECK (streq (s_update (watch, s_health (9500, NULL, 0), false, 9600, summary, sizeof summary),
                  "cleared"), "no word when heard again");
    CHECK (strstr (summary, "lilac broker reachable again (unreachable since 2026-"),
           "summary '%s'", summary);
    CHECK (streq (s_update (watch, s_health (9500, NULL, 0), false, 9700, summary, sizeof summary),
                  ""), "spoke twice");
    broker_watch_set_silence (watch, 0);
    CHECK (streq (s_update (watch, s_health (0, NULL, 0), false, 100000, summary, sizeof summary),
                  ""), "spoke while off");
    broker_watch_destroy (&watch);
    broker_watch_destroy (&watch);
}

static void
s_test_degraded (void)
{
    TEST ("broker_watch: degraded for more than broker_silence (from its degraded_since) →"
          " raised \"degraded since T: reason\"; then unreachable → raised again; then well →"
          " cleared");
    char summary [512];
    broker_watch_t *watch = broker_watch_new (SILENCE);
    const char *reason = "commits failing: database or disk is full";
    //  Degraded since WALL + 1000, heard all along.
    CHECK (streq (s_update (watch, s_health (2900, reason, WALL + 1000), false, 3000,
                            summary, sizeof summary), ""), "spoke after 2 s of degradation");
    CHECK (streq (s_update (watch, s_health (3900, reason, WALL + 1000), false, 4000,
                            summary, sizeof summary), "raised"), "no word after 3 s");
    CHECK (strstr (summary, "lilac broker degraded since 2026-") && strstr (summary, reason),
           "summary '%s'", summary);
    CHECK (streq (s_update (watch, s_health (4900, reason, WALL + 1000), false, 5000,
                            summary, sizeof summary), ""), "spoke twice");
    CHECK (streq (s_update (watch, s_health (4900, reason, WALL + 1000), false, 8000,
                            summary, sizeof summary), "raised"), "no word when unreachable");
    CHECK (strstr (summary, "unreachable since"), "summary '%s'", summary);
    CHECK (streq (s_update (watch, s_health (8500, NULL, 0), false, 8600,
                            summary, sizeof summary), "cleared"), "no word when well");
    //  A degraded_since ahead of our clock counts from when we saw it.
    CHECK (streq (s_update (watch, s_health (9000, "x", WALL + 99999), false, 9100,
                            summary, sizeof summary), ""), "spoke at once");
    CHECK (streq (s_update (watch, s_health (11000, "x", WALL + 99999), false, 11200,
                            summary, sizeof summary), "raised"), "no word 2.1 s after seen");
    broker_watch_destroy (&watch);
}

//  Sends one hugz {v, seq, at[, degraded, degraded_since]}. 0 or -1.
static int
s_send_hugz (zsock_t *pub, const char *degraded, int64_t since)
{
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_pack_map (&writer.packer, degraded ? 5 : 3);
    wire_pack_key_int (&writer.packer, "v", WIRE_VERSION);
    wire_pack_key_int (&writer.packer, "seq", 0);
    wire_pack_key_int (&writer.packer, "at", zclock_time ());
    if (degraded) {
        wire_pack_key_string (&writer.packer, "degraded", degraded);
        wire_pack_key_int (&writer.packer, "degraded_since", since);
    }
    int rc = zmq_send (zsock_resolve (pub), "hugz", 4, ZMQ_SNDMORE) == 4
          && zmq_send (zsock_resolve (pub), writer.buffer.data, writer.buffer.size, 0)
             == (int) writer.buffer.size ? 0 : -1;
    wire_writer_free (&writer);
    return rc;
}

static feed_result_t
s_never (const alert_change_t *change, void *arg, int64_t *retry_at)
{
    (void) change, (void) arg, (void) retry_at;
    return FEED_DONE;
}

//  Sends hugz until the feed's health says degraded (or not), with a
//  deadline. true when it did.
static bool
s_feed_until (zsock_t *pub, change_feed_t *feed, const char *degraded, int64_t since,
              change_feed_health_t *health)
{
    int64_t deadline = zclock_mono () + 5000;
    while (zclock_mono () < deadline) {
        s_send_hugz (pub, degraded, since);
        zmq_pollitem_t item = { zsock_resolve (change_feed_socket (feed)), 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 100);
        change_feed_work (feed, zclock_mono (), s_never, NULL);
        *health = change_feed_health (feed);
        if (health->degraded == (degraded != NULL))
            return true;
    }
    return false;
}

static void
s_test_feed (void)
{
    TEST ("change_feed: a hugz with degraded and degraded_since is read into"
          " change_feed_health; one without them clears it; last_heard moves");
    char error [256] = "";
    zsock_t *pub = bus_open (ZMQ_PUB, "tcp://127.0.0.1:*", BUS_BIND, error, sizeof error);
    if (!CHECK (pub, "PUB: %s", error))
        return;
    char *events = zsock_last_endpoint (pub);
    int control = 0;
    {
        zsock_t *probe = zsock_new_rep ("tcp://127.0.0.1:*");      //  a port nobody answers on
        char *endpoint = probe ? zsock_last_endpoint (probe) : NULL;
        control = endpoint ? atoi (strrchr (endpoint, ':') + 1) : 1;
        zstr_free (&endpoint);
        zsock_destroy (&probe);
    }
    char control_endpoint [64];
    snprintf (control_endpoint, sizeof control_endpoint, "tcp://127.0.0.1:%d", control);
    change_feed_config_t config = { .events = events, .control = control_endpoint,
                                    .call_timeout_ms = 50 };
    change_feed_t *feed = change_feed_new (&config, error, sizeof error);
    if (CHECK (feed, "feed: %s", error)) {
        int64_t started = change_feed_health (feed).last_heard;
        change_feed_health_t health;
        const char *reason = "commits failing: database or disk is full";
        CHECK (s_feed_until (pub, feed, reason, 1796500000123LL, &health),
               "the feed never read a degraded hugz");
        CHECK (strcmp (health.reason, reason) == 0, "reason '%s'", health.reason);
        CHECK (health.degraded_since == 1796500000123LL, "since %lld",
               (long long) health.degraded_since);
        CHECK (health.last_heard >= started, "last_heard went back");
        CHECK (s_feed_until (pub, feed, NULL, 0, &health), "the feed stayed degraded");
        CHECK (health.reason [0] == 0 && health.degraded_since == 0, "leftovers '%s' %lld",
               health.reason, (long long) health.degraded_since);
        CHECK (change_feed_stats (feed).malformed == 0, "malformed hugz");
        change_feed_destroy (&feed);
    }
    zstr_free (&events);
    zsock_destroy (&pub);
}

int
main (void)
{
    s_test_watch ();
    s_test_degraded ();
    s_test_feed ();
    return check_done ();
}
