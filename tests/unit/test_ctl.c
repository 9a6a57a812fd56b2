/*  test_ctl.c — the typed control client against a ROUTER in a zactor.

    The server answers as the broker does: the request's envelope back with
    a reply body in place of the request. `ping` is answered at once with
    {v, ok, op}; `hold` is kept and answered only after the next request
    (so its reply comes late and out of order); `submit` echoes its tx and
    says accepted: 2 with one refused event; `nope` gets ok: false; `junk`
    gets a body that is not msgpack. Every wait has a deadline.
*/
#include <string.h>
#include "../check.h"
#include "ctl.h"

#define CALL_MS 2000

static zmsg_t *s_held;                  //  the server's `hold` or `late` request (actor thread)
static bool s_held_first;               //  it was `late`: answered before the next one

static void
s_reply (zsock_t *router, zmsg_t **request_p, const void *body, size_t size)
{
    zmsg_t *request = *request_p;
    zframe_t *last = zmsg_last (request);
    zmsg_remove (request, last);
    zframe_destroy (&last);
    zmsg_addmem (request, body, size);
    zmsg_send (request_p, router);
}

static void
s_reply_held (zsock_t *router)
{
    wire_writer_t reply;
    wire_writer_init (&reply);
    msgpack_pack_map (&reply.packer, 3);
    wire_pack_key_int (&reply.packer, "v", 1);
    wire_pack_key_bool (&reply.packer, "ok", true);
    wire_pack_key_string (&reply.packer, "op", s_held_first ? "late" : "hold");
    s_reply (router, &s_held, reply.buffer.data, reply.buffer.size);
    wire_writer_free (&reply);
}

static void
s_answer (zsock_t *router, zmsg_t *request)
{
    char error [WIRE_ERROR_SIZE];
    zframe_t *body = zmsg_last (request);
    wire_doc_t *doc = wire_doc_new (zframe_data (body), zframe_size (body), error, sizeof error);
    char *op = NULL, *tx = NULL;
    if (doc) {
        wire_get_string (wire_doc_root (doc), "op", 64, &op, error, sizeof error);
        wire_get_string (wire_doc_root (doc), "tx", 64, &tx, error, sizeof error);
    }
    wire_writer_t reply;
    wire_writer_init (&reply);
    msgpack_packer *packer = &reply.packer;
    bool holding = op && (streq (op, "hold") || streq (op, "late")) && !s_held;
    if (s_held && s_held_first) {
        s_reply_held (router);
        s_held_first = false;
    }
    if (holding) {
        s_held = request;
        s_held_first = streq (op, "late");
        request = NULL;
    }
    else
    if (op && streq (op, "junk"))
        msgpack_sbuffer_write (&reply.buffer, "\xc1", 1);
    else
    if (op && streq (op, "submit")) {
        msgpack_pack_map (packer, 5);
        wire_pack_key_int (packer, "v", 1);
        wire_pack_key_bool (packer, "ok", true);
        wire_pack_key_string (packer, "tx", tx);
        wire_pack_key_int (packer, "accepted", 2);
        wire_pack_key (packer, "refused");
        msgpack_pack_array (packer, 1);
        msgpack_pack_map (packer, 3);
        wire_pack_key_int (packer, "index", 1);
        wire_pack_key_string (packer, "id", "bad");
        wire_pack_key_string (packer, "reason", "raise: not a time spec");
    }
    else {
        bool ok = !op || !streq (op, "nope");
        msgpack_pack_map (packer, 3);
        wire_pack_key_int (packer, "v", 1);
        wire_pack_key_bool (packer, "ok", ok);
        wire_pack_key_string (packer, ok ? "op" : "error", ok ? op : "no such thing");
    }
    if (request)
        s_reply (router, &request, reply.buffer.data, reply.buffer.size);
    if (s_held && !holding)
        s_reply_held (router);
    wire_writer_free (&reply);
    free (op);
    free (tx);
    wire_doc_destroy (&doc);
}

static void
s_server (zsock_t *pipe, void *args)
{
    (void) args;
    char error [256] = "";
    zsock_t *router = bus_open (ZMQ_ROUTER, "tcp://127.0.0.1:*", BUS_BIND, error, sizeof error);
    char *endpoint = router ? zsock_last_endpoint (router) : NULL;
    zsock_signal (pipe, 0);
    zstr_send (pipe, endpoint ? endpoint : error);
    zstr_free (&endpoint);
    zpoller_t *poller = router ? zpoller_new (pipe, router, NULL) : NULL;
    while (poller && zpoller_wait (poller, -1) == router) {
        zmsg_t *request = zmsg_recv (router);
        if (request)
            s_answer (router, request);
    }
    zmsg_destroy (&s_held);
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

static char *
s_dead_endpoint (void)
{
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    int port = sock ? zsock_bind (sock, "tcp://127.0.0.1:*") : -1;
    zsock_destroy (&sock);
    return port > 0 ? zsys_sprintf ("tcp://127.0.0.1:%d", port) : NULL;
}

static bool
s_op_is (wire_doc_t *reply, const char *op)
{
    char *value = NULL, error [WIRE_ERROR_SIZE];
    bool is = reply && wire_get_string (wire_doc_root (reply), "op", 64, &value,
                                        error, sizeof error) == 0 && value && streq (value, op);
    free (value);
    return is;
}

static wire_doc_t *
s_call_op (ctl_t *ctl, const char *op, ctl_failure_t *failure, char *error, size_t size)
{
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_pack_map (&writer.packer, 2);
    wire_pack_key_int (&writer.packer, "v", 1);
    wire_pack_key_string (&writer.packer, "op", op);
    wire_doc_t *reply = ctl_call (ctl, writer.buffer.data, writer.buffer.size, failure,
                                  error, size);
    wire_writer_free (&writer);
    return reply;
}

int
main (void)
{
    zsys_init ();
    zsys_handler_set (NULL);
    zactor_t *server = zactor_new (s_server, NULL);
    char *endpoint = zstr_recv (server);
    char error [512];
    ctl_failure_t failure;

    TEST ("ctl: calls on one persistent DEALER get their own replies");
    ctl_t *ctl = ctl_new (endpoint, CALL_MS, false, error, sizeof error);
    CHECK (ctl, "ctl_new: %s", error);
    if (ctl) {
        wire_doc_t *reply = ctl_ping (ctl, &failure, error, sizeof error);
        CHECK (s_op_is (reply, "ping"), "ping: %s", reply ? "wrong reply" : error);
        wire_doc_destroy (&reply);
        reply = ctl_stats (ctl, &failure, error, sizeof error);
        CHECK (s_op_is (reply, "stats"), "stats: %s", reply ? "wrong reply" : error);
        wire_doc_destroy (&reply);
    }

    TEST ("ctl: ok false is CTL_REFUSED with the server's words; junk is malformed");
    if (ctl) {
        wire_doc_t *reply = s_call_op (ctl, "nope", &failure, error, sizeof error);
        CHECK (!reply && failure == CTL_REFUSED && streq (error, "no such thing"),
               "nope: failure %d, error '%s'", (int) failure, error);
        wire_doc_destroy (&reply);
        reply = s_call_op (ctl, "junk", &failure, error, sizeof error);
        CHECK (!reply && failure == CTL_MALFORMED_REPLY, "junk: failure %d, error '%s'",
               (int) failure, error);
        wire_doc_destroy (&reply);
    }

    TEST ("ctl: a reply that comes after its call gave up is not taken for the next one");
    if (ctl) {
        ctl_t *quick = ctl_new (endpoint, 200, false, error, sizeof error);
        wire_doc_t *reply = quick ? s_call_op (quick, "late", &failure, error, sizeof error) : NULL;
        CHECK (quick && !reply && failure == CTL_NO_REPLY, "late answered at once?");
        //  The server answers `late` now, just before `ping`: the call must
        //  skip the late reply and return ping's.
        wire_doc_destroy (&reply);
        reply = quick ? ctl_ping (quick, &failure, error, sizeof error) : NULL;
        CHECK (s_op_is (reply, "ping"), "after a late reply: %s", reply ? "wrong reply" : error);
        wire_doc_destroy (&reply);
        ctl_destroy (&quick);
    }

    TEST ("ctl: ctl_send / ctl_receive match out-of-order replies by ticket");
    if (ctl) {
        wire_writer_t writer;
        wire_writer_init (&writer);
        msgpack_pack_map (&writer.packer, 2);
        wire_pack_key_int (&writer.packer, "v", 1);
        wire_pack_key_string (&writer.packer, "op", "hold");
        uint64_t held = ctl_send (ctl, writer.buffer.data, writer.buffer.size, error, sizeof error);
        wire_writer_reset (&writer);
        msgpack_pack_map (&writer.packer, 2);
        wire_pack_key_int (&writer.packer, "v", 1);
        wire_pack_key_string (&writer.packer, "op", "ping");
        uint64_t pinged = ctl_send (ctl, writer.buffer.data, writer.buffer.size, error, sizeof error);
        wire_writer_free (&writer);
        CHECK (held && pinged && pinged > held, "tickets %llu, %llu", (unsigned long long) held,
               (unsigned long long) pinged);
        zpoller_t *poller = zpoller_new (ctl_socket (ctl), NULL);
        int64_t deadline = zclock_mono () + CALL_MS;
        bool got_held = false, got_ping = false, in_order = true;
        while (!(got_held && got_ping) && zclock_mono () < deadline) {
            if (zpoller_wait (poller, 100) != ctl_socket (ctl))
                continue;
            uint64_t ticket;
            wire_doc_t *reply = NULL;
            while (ctl_receive (ctl, &ticket, &reply, error, sizeof error) == 1) {
                if (ticket == held && s_op_is (reply, "hold"))
                    got_held = true;
                if (ticket == pinged && s_op_is (reply, "ping")) {
                    got_ping = true;
                    in_order = in_order && !got_held;
                }
                wire_doc_destroy (&reply);
            }
        }
        zpoller_destroy (&poller);
        CHECK (got_held && got_ping, "replies: hold %d, ping %d", got_held, got_ping);
        //  The server sends ping's reply first, then hold's
        CHECK (in_order, "ping's reply was expected before hold's");
    }

    TEST ("ctl: ctl_send_since / _snapshot / _ping go out without waiting; ctl_reply_ok checks");
    if (ctl) {
        uint64_t since = ctl_send_since (ctl, 7, NULL, 10, error, sizeof error);
        uint64_t snapshot = ctl_send_snapshot (ctl, 0, 0, error, sizeof error);
        uint64_t pinged = ctl_send_ping (ctl, error, sizeof error);
        uint64_t refused = ctl_send (ctl, "\x82\xa1v\x01\xa2op\xa4nope", 12, error, sizeof error);
        CHECK (since && snapshot > since && pinged > snapshot && refused > pinged,
               "tickets: %s", error);
        const char *wanted [4] = { "since", "snapshot", "ping", NULL };
        uint64_t tickets [4] = { since, snapshot, pinged, refused };
        int matched = 0, refusals = 0;
        zpoller_t *poller = zpoller_new (ctl_socket (ctl), NULL);
        int64_t deadline = zclock_mono () + CALL_MS;
        while (matched + refusals < 4 && zclock_mono () < deadline) {
            if (zpoller_wait (poller, 100) != ctl_socket (ctl))
                continue;
            uint64_t ticket;
            wire_doc_t *reply = NULL;
            while (ctl_receive (ctl, &ticket, &reply, error, sizeof error) == 1) {
                reply = ctl_reply_ok (ctl, reply, &failure, error, sizeof error);
                for (int index = 0; index < 4; index++)
                    if (ticket == tickets [index] && wanted [index])
                        matched += reply && s_op_is (reply, wanted [index]);
                    else
                    if (ticket == tickets [index])
                        refusals += !reply && failure == CTL_REFUSED
                                    && streq (error, "no such thing");
                wire_doc_destroy (&reply);
            }
        }
        zpoller_destroy (&poller);
        CHECK (matched == 3 && refusals == 1, "%d of 3 replies matched, %d refusal", matched,
               refusals);
        CHECK (ctl_reply_ok (ctl, NULL, &failure, error, sizeof error) == NULL, "NULL reply");
    }

    TEST ("ctl: a submit request is the ingest frame with op added; its reply decoded");
    if (ctl) {
        wire_writer_t frame, request;
        wire_writer_init (&frame);
        wire_writer_init (&request);
        msgpack_pack_map (&frame.packer, 3);
        wire_pack_key_int (&frame.packer, "v", 1);
        wire_pack_key_string (&frame.packer, "tx", "t-1");
        wire_pack_key (&frame.packer, "alerts");
        msgpack_pack_array (&frame.packer, 0);
        CHECK (ctl_submit_request (&request, frame.buffer.data, frame.buffer.size) == 0,
               "ctl_submit_request");
        wire_doc_t *doc = wire_doc_new (request.buffer.data, request.buffer.size,
                                        error, sizeof error);
        char *op = NULL, *tx = NULL;
        CHECK (doc && wire_get_string (wire_doc_root (doc), "op", 64, &op, error, sizeof error) == 0
               && op && streq (op, "submit")
               && wire_get_string (wire_doc_root (doc), "tx", 64, &tx, error, sizeof error) == 0
               && tx && streq (tx, "t-1")
               && wire_get (wire_doc_root (doc), "alerts"), "the request: %s", error);
        free (op);
        free (tx);
        wire_doc_destroy (&doc);
        CHECK (ctl_submit_request (&request, "\x93\x01\x02\x03", 4) == -1, "an array is no batch");
        ctl_submit_reply_t answer;
        int rc = ctl_submit (ctl, frame.buffer.data, frame.buffer.size, &answer, &failure,
                             error, sizeof error);
        CHECK (rc == 0 && answer.ok && streq (answer.tx, "t-1") && answer.accepted == 2
               && answer.refused_count == 1 && answer.refused [0].index == 1
               && streq (answer.refused [0].id, "bad")
               && streq (answer.refused [0].reason, "raise: not a time spec"),
               "submit: rc %d: %s", rc, error);
        wire_writer_free (&frame);
        wire_writer_free (&request);
    }
    ctl_destroy (&ctl);

    TEST ("ctl: nobody there is CTL_NO_REPLY within the timeout; immediate fails at once");
    char *dead = s_dead_endpoint ();
    ctl = dead ? ctl_new (dead, 300, false, error, sizeof error) : NULL;
    int64_t started = zclock_mono ();
    wire_doc_t *reply = ctl ? ctl_ping (ctl, &failure, error, sizeof error) : NULL;
    int64_t took = zclock_mono () - started;
    CHECK (ctl && !reply && failure == CTL_NO_REPLY && took >= 290 && took < 2000,
           "no reply after %lld ms: %s", (long long) took, error);
    ctl_destroy (&ctl);
    ctl = dead ? ctl_new (dead, 300, true, error, sizeof error) : NULL;
    CHECK (ctl && ctl_send (ctl, "\x81\xa1v\x01", 4, error, sizeof error) == 0,
           "immediate: a send with nobody connected must fail");
    ctl_destroy (&ctl);
    zstr_free (&dead);

    zstr_free (&endpoint);
    zactor_destroy (&server);
    return check_done ();
}
