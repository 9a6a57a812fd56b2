/*  test_bus.c — bus_open's limits and errors, bus_call against a live
    ROUTER and against nobody.

    The ROUTER runs in a zactor, as the broker would run in its own process:
    it binds tcp://127.0.0.1:* through bus_open and reports its endpoint on
    the pipe. It echoes each request with the envelope it came with, except
    "multi" (answered with two body frames) and "empty" (answered with the
    delimiter only). Every wait has a deadline; nothing sleeps blindly.
*/
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "../check.h"
#include "bus.h"

#define BIG_FRAME  (300 * 1024)         //  over BUS_MAX_MESSAGE

//  Replies to one request on the router: [identity, "", body] back.
static void
s_echo_one (zsock_t *router)
{
    zmsg_t *request = zmsg_recv (router);
    if (!request)
        return;
    zframe_t *body = zmsg_last (request);
    if (body && zframe_streq (body, "multi"))
        zmsg_addstr (request, "second");
    else
    if (body && zframe_streq (body, "empty")) {
        zmsg_remove (request, body);
        zframe_destroy (&body);
    }
    zmsg_send (&request, router);
}

static void
s_echo_actor (zsock_t *pipe, void *args)
{
    (void) args;
    char error [256] = "";
    zsock_t *router = bus_open (ZMQ_ROUTER, "tcp://127.0.0.1:*", BUS_BIND,
                                error, sizeof error);
    char *endpoint = router ? zsock_last_endpoint (router) : NULL;
    zsock_signal (pipe, 0);
    zstr_send (pipe, endpoint ? endpoint : error);
    zstr_free (&endpoint);
    if (!router)
        return;
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (poller) {
        void *which = zpoller_wait (poller, -1);
        if (which == router)
            s_echo_one (router);
        else
            break;                      //  $TERM, or interrupted
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

//  An endpoint on which nobody listens: bind an ephemeral port, close it.
static char *
s_dead_endpoint (void)
{
    char error [256];
    zsock_t *sock = bus_open (ZMQ_ROUTER, "tcp://127.0.0.1:*", BUS_BIND, error, sizeof error);
    if (!sock)
        return NULL;
    char *endpoint = zsock_last_endpoint (sock);
    zsock_destroy (&sock);
    return endpoint;
}

//  Receives one frame from sock within timeout_ms, or NULL.
static zframe_t *
s_receive_within (zsock_t *sock, int timeout_ms)
{
    zpoller_t *poller = zpoller_new (sock, NULL);
    zframe_t *frame = NULL;
    if (poller && zpoller_wait (poller, timeout_ms) == sock)
        frame = zframe_recv (sock);
    zpoller_destroy (&poller);
    return frame;
}

static void
s_test_call (void)
{
    TEST ("bus_call: request and reply through a ROUTER");
    zactor_t *echo = zactor_new (s_echo_actor, NULL);
    if (!CHECK (echo, "no actor"))
        return;
    char *endpoint = zstr_recv (echo);
    char error [256] = "";
    if (CHECK (endpoint && strncmp (endpoint, "tcp://127.0.0.1:", 16) == 0,
               "router: %s", endpoint ? endpoint : "(null)")) {
        zframe_t *reply = bus_call (endpoint, "ping", 4, 2000, error, sizeof error);
        CHECK (reply && zframe_streq (reply, "ping"), "reply: %s", reply ? "wrong" : error);
        zframe_destroy (&reply);

        //  The same endpoint twice: a fresh DEALER each time
        reply = bus_call (endpoint, "again", 5, 2000, error, sizeof error);
        CHECK (reply && zframe_streq (reply, "again"), "second call: %s", error);
        zframe_destroy (&reply);

        reply = bus_call (endpoint, "multi", 5, 2000, error, sizeof error);
        CHECK (reply && zframe_streq (reply, "second"), "last frame is the reply");
        zframe_destroy (&reply);

        reply = bus_call (endpoint, "empty", 5, 2000, error, sizeof error);
        CHECK (reply == NULL, "empty reply returned a frame");
        char expected [300];
        snprintf (expected, sizeof expected, "empty reply from %s", endpoint);
        CHECK (strcmp (error, expected) == 0, "%s", error);

        //  Just under the limit still goes through
        size_t size = BUS_MAX_MESSAGE - 64;
        char *large = (char *) zmalloc (size);
        memset (large, 'x', size);
        reply = bus_call (endpoint, large, size, 5000, error, sizeof error);
        CHECK (reply && zframe_size (reply) == size, "large call: %s", error);
        zframe_destroy (&reply);
        free (large);
    }
    zstr_free (&endpoint);
    zactor_destroy (&echo);
}

static void
s_test_no_broker (void)
{
    TEST ("bus_call: nobody listening returns NULL within the deadline");
    char *endpoint = s_dead_endpoint ();
    if (!CHECK (endpoint, "no free port"))
        return;
    char error [256] = "";
    int64_t start = zclock_mono ();
    zframe_t *reply = bus_call (endpoint, "ping", 4, 300, error, sizeof error);
    int64_t elapsed = zclock_mono () - start;
    CHECK (reply == NULL, "a reply from nobody");
    CHECK (elapsed >= 290 && elapsed < 300 + 500, "took %lld ms", (long long) elapsed);
    char expected [300];
    snprintf (expected, sizeof expected,
              "no reply from %s within 300 ms: is lilac-broker running?", endpoint);
    CHECK (strcmp (error, expected) == 0, "error: %s", error);
    zframe_destroy (&reply);

    start = zclock_mono ();
    reply = bus_call (endpoint, "ping", 4, 0, error, sizeof error);
    elapsed = zclock_mono () - start;
    CHECK (reply == NULL && elapsed < 500, "timeout 0 took %lld ms", (long long) elapsed);
    zstr_free (&endpoint);

    reply = bus_call ("nonsense", "ping", 4, 300, error, sizeof error);
    CHECK (reply == NULL && strcmp (error, "cannot connect nonsense: Invalid argument") == 0,
           "bad endpoint: %s", error);
}

static void
s_test_open (void)
{
    char error [256] = "";
    TEST ("bus_open: options by socket type");
    zsock_t *pull = bus_open (ZMQ_PULL, "tcp://127.0.0.1:*", BUS_BIND, error, sizeof error);
    zsock_t *pub = bus_open (ZMQ_PUB, "tcp://127.0.0.1:*", BUS_BIND, error, sizeof error);
    zsock_t *router = bus_open (ZMQ_ROUTER, "inproc://bus-test-router", BUS_BIND,
                                error, sizeof error);
    zsock_t *dealer = bus_open (ZMQ_DEALER, "inproc://bus-test-router", BUS_CONNECT,
                                error, sizeof error);
    if (CHECK (pull && pub && router && dealer, "open: %s", error)) {
        CHECK (zsock_maxmsgsize (pull) == BUS_MAX_MESSAGE, "PULL maxmsgsize %d",
               zsock_maxmsgsize (pull));
        CHECK (zsock_rcvhwm (pull) == BUS_RECEIVE_HWM, "PULL rcvhwm");
        CHECK (zsock_linger (pull) == BUS_LINGER_MS, "PULL linger");
        CHECK (zsock_maxmsgsize (pub) == -1, "PUB maxmsgsize %d", zsock_maxmsgsize (pub));
        CHECK (zsock_sndhwm (pub) == BUS_SEND_HWM, "PUB sndhwm");
        CHECK (zsock_linger (pub) == BUS_LINGER_MS, "PUB linger");
        CHECK (zsock_maxmsgsize (router) == BUS_MAX_MESSAGE, "ROUTER maxmsgsize");
        CHECK (zsock_sndhwm (router) == BUS_SEND_HWM, "ROUTER sndhwm");
        CHECK (zsock_maxmsgsize (dealer) == BUS_MAX_MESSAGE, "DEALER maxmsgsize");
        CHECK (zsock_sndhwm (dealer) != BUS_SEND_HWM, "DEALER sndhwm raised");
    }

    TEST ("bus_open: bind errors name the endpoint and the reason");
    char *endpoint = pull ? zsock_last_endpoint (pull) : NULL;
    if (CHECK (endpoint, "no endpoint")) {
        zsock_t *again = bus_open (ZMQ_PULL, endpoint, BUS_BIND, error, sizeof error);
        CHECK (again == NULL, "bound the same port twice");
        char expected [300];
        snprintf (expected, sizeof expected, "cannot bind %s: Address already in use", endpoint);
        CHECK (strcmp (error, expected) == 0, "error: %s", error);
        zsock_destroy (&again);

        //  The second endpoint of a list fails: nothing stays bound
        char list [300];
        snprintf (list, sizeof list, "inproc://bus-test-list, %s", endpoint);
        again = bus_open (ZMQ_PULL, list, BUS_BIND, error, sizeof error);
        CHECK (again == NULL && strcmp (error, expected) == 0, "list error: %s", error);
        zsock_destroy (&again);
        again = bus_open (ZMQ_PULL, "inproc://bus-test-list", BUS_BIND, error, sizeof error);
        CHECK (again, "inproc endpoint still bound after a failed open: %s", error);
        zsock_destroy (&again);
    }
    zstr_free (&endpoint);
    zsock_t *bad = bus_open (ZMQ_PULL, "", BUS_BIND, error, sizeof error);
    CHECK (bad == NULL && strcmp (error, "no endpoint given") == 0, "empty: %s", error);
    bad = bus_open (ZMQ_PULL, "bogus://x", BUS_BIND, error, sizeof error);
    CHECK (bad == NULL && strncmp (error, "cannot bind bogus://x: ", 23) == 0, "bogus: %s", error);

    TEST ("bus_open: a comma-separated list binds each");
    zsock_t *both = bus_open (ZMQ_PULL, "inproc://bus-test-a,inproc://bus-test-b",
                              BUS_BIND, error, sizeof error);
    zsock_t *to_a = bus_open (ZMQ_PUSH, "inproc://bus-test-a", BUS_CONNECT, error, sizeof error);
    zsock_t *to_b = bus_open (ZMQ_PUSH, "inproc://bus-test-b", BUS_CONNECT, error, sizeof error);
    if (CHECK (both && to_a && to_b, "open: %s", error)) {
        zstr_send (to_a, "a");
        zstr_send (to_b, "b");
        zframe_t *first = s_receive_within (both, 2000);
        zframe_t *second = s_receive_within (both, 2000);
        CHECK (first && second, "both endpoints deliver");
        zframe_destroy (&first);
        zframe_destroy (&second);
    }
    zsock_destroy (&to_a);
    zsock_destroy (&to_b);
    zsock_destroy (&both);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    zsock_destroy (&pub);
    zsock_destroy (&pull);
}

//  Sends a 300 KiB frame, then small ones until one arrives; returns true
//  if the big frame arrived first.
static bool
s_big_frame_arrives (zsock_t *pull, zsock_t *push, bool *small_arrived)
{
    char *big = (char *) zmalloc (BIG_FRAME);
    memset (big, 'b', BIG_FRAME);
    zframe_t *frame = zframe_new (big, BIG_FRAME);
    free (big);
    bool big_arrived = false;
    *small_arrived = false;
    if (!frame || zframe_send (&frame, push, 0) != 0) {
        zframe_destroy (&frame);
        return false;
    }
    int64_t deadline = zclock_mono () + 5000;
    while (!*small_arrived && zclock_mono () < deadline) {
        if (zstr_send (push, "small") != 0)
            break;
        zframe_t *received = s_receive_within (pull, 100);
        while (received) {
            if (zframe_size (received) == BIG_FRAME)
                big_arrived = true;
            else
                *small_arrived = true;
            zframe_destroy (&received);
            received = s_receive_within (pull, 0);
        }
    }
    return big_arrived;
}

static void
s_test_max_message (void)
{
    char error [256] = "";
    TEST ("ZMQ_MAXMSGSIZE: an oversized frame is dropped, later ones arrive");
    zsock_t *pull = bus_open (ZMQ_PULL, "tcp://127.0.0.1:*", BUS_BIND, error, sizeof error);
    char *endpoint = pull ? zsock_last_endpoint (pull) : NULL;
    zsock_t *push = endpoint ? bus_open (ZMQ_PUSH, endpoint, BUS_CONNECT, error, sizeof error)
                             : NULL;
    if (CHECK (pull && push, "open: %s", error)) {
        bool small_arrived;
        CHECK (!s_big_frame_arrives (pull, push, &small_arrived), "big frame delivered");
        CHECK (small_arrived, "small frame never arrived after the big one");
    }
    zsock_destroy (&push);
    zsock_destroy (&pull);
    zstr_free (&endpoint);

    //  Control: without bus_open's limit the same frame does arrive, so the
    //  case above proves the option, not a lossy test
    zsock_t *raw_pull = zsock_new (ZMQ_PULL);
    int port = raw_pull ? zsock_bind (raw_pull, "tcp://127.0.0.1:*") : -1;
    char raw_endpoint [64];
    snprintf (raw_endpoint, sizeof raw_endpoint, "tcp://127.0.0.1:%d", port);
    push = port > 0 ? bus_open (ZMQ_PUSH, raw_endpoint, BUS_CONNECT, error, sizeof error)
                    : NULL;
    if (CHECK (raw_pull && push, "control open: %s", error)) {
        bool small_arrived;
        CHECK (s_big_frame_arrives (raw_pull, push, &small_arrived),
               "control: big frame lost without the limit");
    }
    zsock_destroy (&push);
    zsock_destroy (&raw_pull);
}

//  A descriptor that waits to write (the broker's PostgreSQL socket with a
//  transaction's bytes still in libpq) wakes zmq_poll when it can.
static void
test_fd_item (void)
{
    TEST ("bus_fd_item: zmq_poll wakes for poll(2)'s POLLOUT and POLLIN on a plain socket");
    int pair [2];
    if (!CHECK (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair"))
        return;
    zmq_pollitem_t item = bus_fd_item (pair [0], POLLOUT);
    int ready = zmq_poll (&item, 1, 200);
    CHECK (ready == 1 && (item.revents & ZMQ_POLLOUT), "writable: zmq_poll %d, revents %d",
           ready, item.revents);
    item = bus_fd_item (pair [0], POLLIN);
    CHECK (zmq_poll (&item, 1, 0) == 0, "nothing to read yet");
    CHECK (write (pair [1], "x", 1) == 1, "write");
    item = bus_fd_item (pair [0], POLLIN | POLLOUT);
    ready = zmq_poll (&item, 1, 200);
    CHECK (ready == 1 && (item.revents & ZMQ_POLLIN) && (item.revents & ZMQ_POLLOUT),
           "readable and writable: zmq_poll %d, revents %d", ready, item.revents);
    close (pair [0]);
    close (pair [1]);
}

int
main (void)
{
    s_test_open ();
    s_test_call ();
    s_test_no_broker ();
    s_test_max_message ();
    TEST ("bus_endpoint_next walks a comma-separated list, blanks trimmed");
    const char *cursor = " tcp://a:1 ,, tcp://b:2,tcp://c:3  ", *start;
    size_t length;
    char seen [3][32];
    int count = 0;
    while ((start = bus_endpoint_next (&cursor, &length)) && count < 3)
        snprintf (seen [count++], sizeof seen [0], "%.*s", (int) length, start);
    CHECK (count == 3 && !bus_endpoint_next (&cursor, &length), "%d endpoints", count);
    CHECK (count == 3 && strcmp (seen [0], "tcp://a:1") == 0 && strcmp (seen [1], "tcp://b:2") == 0
           && strcmp (seen [2], "tcp://c:3") == 0, "endpoints '%s' '%s' '%s'",
           seen [0], count > 1 ? seen [1] : "", count > 2 ? seen [2] : "");
    cursor = "  ,  ";
    CHECK (!bus_endpoint_next (&cursor, &length), "an empty list has an endpoint");

    TEST ("bus_endpoint_check takes what bus_open can use and names what it cannot:"
          " no transport, an unknown one, tcp without HOST:PORT, a bad port, an empty list");
    const char *good [] = {
        "tcp://127.0.0.1:42111", "tcp://*:32741", "tcp://127.0.0.1:*",
        " tcp://a:1 , ipc:///run/lilac/agent", "inproc://x", "tcp://[::1]:5", NULL
    };
    for (int index = 0; good [index]; index++) {
        char error [256] = "";
        CHECK (bus_endpoint_check (good [index], error, sizeof error) == 0,
               "'%s' refused: %s", good [index], error);
    }
    struct { const char *endpoints, *why; } bad [] = {
        { "127.0.0.1:42111", "has no transport" },
        { "tcp://a:1, 127.0.0.1:2", "'127.0.0.1:2' has no transport" },
        { "tpc://127.0.0.1:1", "unknown transport 'tpc'" },
        { "tcp://127.0.0.1", "no HOST:PORT" },
        { "tcp://:1", "no HOST:PORT" },
        { "tcp://h:http", "not a number" },
        { "tcp://h:0", "out of 1-65535" },
        { "tcp://h:99999", "out of 1-65535" },
        { "ipc://", "no address" },
        { " , ", "no endpoint" },
        { NULL, NULL }
    };
    for (int index = 0; bad [index].why; index++) {
        char error [256] = "";
        CHECK (bus_endpoint_check (bad [index].endpoints, error, sizeof error) == -1
               && strstr (error, bad [index].why),
               "'%s': '%s' (expected '%s')", bad [index].endpoints, error, bad [index].why);
    }
    test_fd_item ();
    return check_done ();
}
