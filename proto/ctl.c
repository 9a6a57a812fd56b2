/*  ctl.c — the typed control client. See ctl.h for the contract.

    The DEALER comes from bus_open (limits and CURVE as every socket). A
    request is three frames: the empty delimiter (so a ROUTER server treats
    it as a REQ client would send it), the ticket as 8 bytes big-endian, and
    the body. A reply must be the same three frames with a ticket we handed
    out; anything else is read whole and dropped. Tickets start at 1 and
    only grow, so a late reply to a call that gave up never matches a later
    call.

    Each typed call packs its request with the wire.h writer — the only
    place in the tree that spells these requests — and goes through
    ctl_call: ctl_send, then wait on a zpoller until an absolute deadline,
    reading replies until the one with our ticket comes; then the reply is
    checked (wire_doc_new, `ok`) as bus_request does.

    ctl_submit_request turns an ingest frame into a submit request without
    unpacking it: it reads the map header, writes a header one larger, the
    pair op: "submit", and then the rest of the frame's bytes unchanged, so
    the server decodes exactly the frame the sender packed (a duplicate key
    "op" in the frame would be the sender's bug, and the server reads the
    first one, ours).
*/
#include <errno.h>
#include <string.h>
#include "ctl.h"
#include "error_text.h"
#include "mem.h"

#define CTL_TICKET_SIZE 8           //  bytes of a ticket frame

struct _ctl_t {
    zsock_t *dealer;               //  connected to endpoint
    zsock_t *monitor;              //  the dealer's connection events, or NULL
    int64_t watched_at;            //  when the monitor began (zclock_mono)
    char *endpoint;                //  as given
    int timeout_ms;                //  bound on each call
    uint64_t last_ticket;          //  the last ticket handed out
};

ctl_t *
ctl_new (const char *endpoint, int timeout_ms, bool immediate, char *error, size_t error_size)
{
    if (!endpoint || timeout_ms < 0) {
        error_text (error, error_size, -1, "ctl_new: bad arguments");
        return NULL;
    }
    immediate = immediate || strchr (endpoint, ',');     //  brokers of one database
    zsock_t *dealer = bus_open (ZMQ_DEALER, endpoint,
                                immediate ? BUS_CONNECT_IMMEDIATE : BUS_CONNECT,
                                error, error_size);
    if (!dealer)
        return NULL;
    ctl_t *self = mem_alloc (sizeof (ctl_t));
    self->dealer = dealer;
    self->endpoint = mem_strdup (endpoint);
    self->timeout_ms = timeout_ms;
    return self;
}

void
ctl_destroy (ctl_t **self_p)
{
    if (!*self_p)
        return;
    ctl_t *self = *self_p;
    int linger = 0;
    if (zmq_setsockopt (zsock_resolve (self->dealer), ZMQ_LINGER, &linger, sizeof linger))
        linger = BUS_LINGER_MS;         //  the default linger applies: not an error
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->dealer);
    mem_free (self->endpoint);
    mem_free (self);
    *self_p = NULL;
}

int
ctl_watch_connection (ctl_t *self, char *error, size_t error_size)
{
    if (bus_endpoint_probe (self->endpoint, error, error_size))
        return -1;
    self->monitor = bus_watch (self->dealer, error, error_size);
    self->watched_at = zclock_mono ();
    return self->monitor ? 0 : -1;
}

const char *
ctl_endpoint (ctl_t *self)
{
    return self->endpoint;
}

zsock_t *
ctl_socket (ctl_t *self)
{
    return self->dealer;
}

//  --- frames ---------------------------------------------------------------------------

static void
s_ticket_put (uint8_t *bytes, uint64_t ticket)
{
    for (int index = CTL_TICKET_SIZE - 1; index >= 0; index--, ticket >>= 8)
        bytes [index] = (uint8_t) (ticket & 0xff);
}

static uint64_t
s_ticket_get (const uint8_t *bytes)
{
    uint64_t ticket = 0;
    for (int index = 0; index < CTL_TICKET_SIZE; index++)
        ticket = ticket << 8 | bytes [index];
    return ticket;
}

uint64_t
ctl_send (ctl_t *self, const void *request, size_t size, char *error, size_t error_size)
{
    void *handle = zsock_resolve (self->dealer);
    uint8_t ticket [CTL_TICKET_SIZE];
    s_ticket_put (ticket, self->last_ticket + 1);
    //  A DEALER sends all frames of a message or none: only the first can
    //  fail for want of a peer or of room
    if (zmq_send (handle, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) != 0) {
        error_text (error, error_size, -1, "cannot send to %s: %s", self->endpoint,
                    zmq_errno () == EAGAIN ? "not connected (or its queue is full)"
                                           : zmq_strerror (zmq_errno ()));
        return 0;
    }
    if (zmq_send (handle, ticket, sizeof ticket, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
    ||  zmq_send (handle, request, size, ZMQ_DONTWAIT) < 0) {
        error_text (error, error_size, -1, "cannot send to %s: %s", self->endpoint,
                    zmq_strerror (zmq_errno ()));
        return 0;
    }
    return ++self->last_ticket;
}

//  Reads the rest of a message whose first frame was read; counts frames.
static int
s_drain_message (void *handle, int read)
{
    int more = 0;
    size_t more_size = sizeof more;
    zmq_msg_t part;
    zmq_msg_init (&part);
    while (zmq_getsockopt (handle, ZMQ_RCVMORE, &more, &more_size) == 0 && more
       &&  zmq_msg_recv (&part, handle, 0) >= 0)
        read++;
    zmq_msg_close (&part);
    return read;
}

int
ctl_receive (ctl_t *self, uint64_t *ticket, wire_doc_t **reply, char *error, size_t error_size)
{
    void *handle = zsock_resolve (self->dealer);
    zmq_msg_t frames [3];
    int count = 0;
    for (; count < 3; count++) {
        zmq_msg_init (&frames [count]);
        if (zmq_msg_recv (&frames [count], handle, count ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frames [count]);
            break;
        }
        if (!zmq_msg_more (&frames [count])) {
            count++;
            break;
        }
    }
    if (count == 0)
        return 0;
    int rc = -1;
    bool more = zmq_msg_more (&frames [count - 1]);
    if (more)
        error_text (error, error_size, -1, "a reply from %s with more than three frames "
                    "(%d): dropped", self->endpoint, s_drain_message (handle, count));
    else
    if (count != 3 || zmq_msg_size (&frames [0]) != 0
    ||  zmq_msg_size (&frames [1]) != CTL_TICKET_SIZE)
        error_text (error, error_size, -1, "a reply from %s that is not [empty, ticket, body]:"
                    " dropped", self->endpoint);
    else {
        *ticket = s_ticket_get (zmq_msg_data (&frames [1]));
        char reason [WIRE_ERROR_SIZE];
        *reply = wire_doc_new (zmq_msg_data (&frames [2]), zmq_msg_size (&frames [2]),
                               reason, sizeof reason);
        rc = *reply ? 1 : WIRE_MALFORMED;
        if (!*reply)
            error_text (error, error_size, -1, "malformed reply from %s: %s", self->endpoint,
                        reason);
    }
    for (int index = 0; index < count; index++)
        zmq_msg_close (&frames [index]);
    return rc;
}

//  --- calls ------------------------------------------------------------------------------

//  Waits for the reply with ticket until the client's timeout. The reply,
//  or NULL with *failure and error set.
static wire_doc_t *
s_wait_reply (ctl_t *self, uint64_t ticket, int64_t deadline, ctl_failure_t *failure,
              char *error, size_t error_size)
{
    zpoller_t *poller = zpoller_new (self->dealer, self->monitor, NULL);
    if (!poller) {
        *failure = CTL_NO_REPLY;
        error_text (error, error_size, -1, "cannot poll: %s", zmq_strerror (zmq_errno ()));
        return NULL;
    }
    wire_doc_t *reply = NULL;
    *failure = CTL_NO_REPLY;
    error_text (error, error_size, -1, "no reply from %s within %d ms: is the server "
                "(lilac-broker, or lilac-agent) running?%s", self->endpoint, self->timeout_ms,
                bus_secured () ? " (if it is, the CURVE handshake may have failed: check "
                "--server-key, and that the broker allows --cert)" : "");
    while (!reply) {
        int64_t remaining = deadline - zclock_mono ();
        void *ready = zpoller_wait (poller, (int) (remaining > 0 ? remaining : 0));
        if (ready && ready == self->monitor) {
            if (bus_watch_failure (self->monitor, self->endpoint, self->watched_at,
                                   error, error_size))
                break;
            continue;
        }
        if (ready != self->dealer) {
            if (zpoller_terminated (poller))
                error_text (error, error_size, -1, "interrupted while waiting for %s",
                            self->endpoint);
            if (zpoller_terminated (poller) || zclock_mono () >= deadline)
                break;
            continue;
        }
        uint64_t got = 0;
        wire_doc_t *doc = NULL;
        char reason [WIRE_ERROR_SIZE + 128];
        int rc;
        while ((rc = ctl_receive (self, &got, &doc, reason, sizeof reason)) != 0) {
            if (rc == 1 && got == ticket)
                reply = doc;
            else
            if (rc == 1)
                wire_doc_destroy (&doc);            //  a late reply to an earlier call
            else
            if (rc == WIRE_MALFORMED) {
                //  Ours or not, it was unreadable: say so if ours never comes
                *failure = CTL_MALFORMED_REPLY;
                error_text (error, error_size, -1, "%s", reason);
            }
            if (reply)
                break;
        }
    }
    zpoller_destroy (&poller);
    return reply;
}

//  Checks the reply's ok. The reply when true; else NULL (destroyed) with
//  the reason.
static wire_doc_t *
s_check_ok (ctl_t *self, wire_doc_t *reply, ctl_failure_t *failure,
            char *error, size_t error_size)
{
    char reason [WIRE_ERROR_SIZE];
    bool present = false, ok = false;
    if (wire_get_bool (wire_doc_root (reply), "ok", &present, &ok, reason, sizeof reason)
    ||  !present) {
        *failure = CTL_MALFORMED_REPLY;
        error_text (error, error_size, -1, "malformed reply from %s: %s", self->endpoint,
                    present ? reason : "no 'ok'");
        wire_doc_destroy (&reply);
        return NULL;
    }
    if (ok)
        return reply;
    char *text = NULL;
    *failure = CTL_REFUSED;
    if (wire_get_string (wire_doc_root (reply), "error", WIRE_MAX_STRING, &text,
                         reason, sizeof reason) || !text)
        error_text (error, error_size, -1, "refused, without a readable reason");
    else
        error_text (error, error_size, -1, "%s", text);
    mem_free (text);
    wire_doc_destroy (&reply);
    return NULL;
}

//  Sends and waits; the reply whatever its ok, or NULL.
static wire_doc_t *
s_exchange (ctl_t *self, const void *request, size_t size, ctl_failure_t *failure,
            char *error, size_t error_size)
{
    int64_t deadline = zclock_mono () + self->timeout_ms;
    uint64_t ticket = ctl_send (self, request, size, error, error_size);
    if (!ticket) {
        *failure = CTL_NO_REPLY;
        return NULL;
    }
    return s_wait_reply (self, ticket, deadline, failure, error, error_size);
}

wire_doc_t *
ctl_call (ctl_t *self, const void *request, size_t size, ctl_failure_t *failure,
          char *error, size_t error_size)
{
    ctl_failure_t ignored;
    if (!failure)
        failure = &ignored;
    wire_doc_t *reply = s_exchange (self, request, size, failure, error, error_size);
    return reply ? s_check_ok (self, reply, failure, error, error_size) : NULL;
}

wire_doc_t *
ctl_reply_ok (ctl_t *self, wire_doc_t *reply, ctl_failure_t *failure,
              char *error, size_t error_size)
{
    ctl_failure_t ignored;
    if (!failure)
        failure = &ignored;
    return reply ? s_check_ok (self, reply, failure, error, error_size) : NULL;
}

//  Sends the request packed in writer and frees it.
static wire_doc_t *
s_call_packed (ctl_t *self, wire_writer_t *writer, ctl_failure_t *failure,
               char *error, size_t error_size)
{
    wire_doc_t *reply = ctl_call (self, writer->buffer.data, writer->buffer.size,
                                  failure, error, error_size);
    wire_writer_free (writer);
    return reply;
}

//  Starts a request map of `pairs` pairs beyond v and op.
static void
s_begin (wire_writer_t *writer, const char *op, size_t pairs)
{
    wire_writer_init (writer);
    msgpack_pack_map (&writer->packer, 2 + pairs);
    wire_pack_key_int (&writer->packer, "v", WIRE_VERSION);
    wire_pack_key_string (&writer->packer, "op", op);
}

static void
s_pack_optional (msgpack_packer *packer, const char *key, const char *value)
{
    if (value)
        wire_pack_key_string (packer, key, value);
}

//  Sends the request packed in writer without waiting and frees it.
static uint64_t
s_send_packed (ctl_t *self, wire_writer_t *writer, char *error, size_t error_size)
{
    uint64_t ticket = ctl_send (self, writer->buffer.data, writer->buffer.size,
                                error, error_size);
    wire_writer_free (writer);
    return ticket;
}

wire_doc_t *
ctl_ping (ctl_t *self, ctl_failure_t *failure, char *error, size_t error_size)
{
    wire_writer_t writer;
    s_begin (&writer, "ping", 0);
    return s_call_packed (self, &writer, failure, error, error_size);
}

uint64_t
ctl_send_ping (ctl_t *self, char *error, size_t error_size)
{
    wire_writer_t writer;
    s_begin (&writer, "ping", 0);
    return s_send_packed (self, &writer, error, error_size);
}

wire_doc_t *
ctl_stats (ctl_t *self, ctl_failure_t *failure, char *error, size_t error_size)
{
    wire_writer_t writer;
    s_begin (&writer, "stats", 0);
    return s_call_packed (self, &writer, failure, error, error_size);
}

uint64_t
ctl_send_stats (ctl_t *self, char *error, size_t error_size)
{
    wire_writer_t writer;
    s_begin (&writer, "stats", 0);
    return s_send_packed (self, &writer, error, error_size);
}

wire_doc_t *
ctl_list (ctl_t *self, const ctl_list_filter_t *filter, ctl_failure_t *failure,
          char *error, size_t error_size)
{
    ctl_list_filter_t none = { 0 };
    if (!filter)
        filter = &none;
    wire_writer_t writer;
    s_begin (&writer, "list", (filter->state != NULL) + (filter->source != NULL)
                            + (filter->id != NULL) + (filter->limit > 0));
    s_pack_optional (&writer.packer, "state", filter->state);
    s_pack_optional (&writer.packer, "source", filter->source);
    s_pack_optional (&writer.packer, "id", filter->id);
    if (filter->limit > 0)
        wire_pack_key_int (&writer.packer, "limit", filter->limit);
    return s_call_packed (self, &writer, failure, error, error_size);
}

wire_doc_t *
ctl_get (ctl_t *self, const char *source, const char *id, ctl_failure_t *failure,
         char *error, size_t error_size)
{
    wire_writer_t writer;
    s_begin (&writer, "get", 2);
    wire_pack_key_string (&writer.packer, "source", source);
    wire_pack_key_string (&writer.packer, "id", id);
    return s_call_packed (self, &writer, failure, error, error_size);
}

void
ctl_act_request (wire_writer_t *writer, const char *op, const ctl_act_t *act)
{
    s_begin (writer, op, 2 + (act->by != NULL) + (act->until != NULL) + (act->note != NULL));
    wire_pack_key_string (&writer->packer, "source", act->source);
    wire_pack_key_string (&writer->packer, "id", act->id);
    s_pack_optional (&writer->packer, "by", act->by);
    s_pack_optional (&writer->packer, "until", act->until);
    s_pack_optional (&writer->packer, "note", act->note);
}

wire_doc_t *
ctl_act (ctl_t *self, const char *op, const ctl_act_t *act, ctl_failure_t *failure,
         char *error, size_t error_size)
{
    wire_writer_t writer;
    ctl_act_request (&writer, op, act);
    return s_call_packed (self, &writer, failure, error, error_size);
}

static void
s_pack_snapshot (wire_writer_t *writer, int64_t cursor, int64_t limit)
{
    s_begin (writer, "snapshot", 1 + (limit > 0));
    wire_pack_key_int (&writer->packer, "cursor", cursor);
    if (limit > 0)
        wire_pack_key_int (&writer->packer, "limit", limit);
}

wire_doc_t *
ctl_snapshot (ctl_t *self, int64_t cursor, int64_t limit, ctl_failure_t *failure,
              char *error, size_t error_size)
{
    wire_writer_t writer;
    s_pack_snapshot (&writer, cursor, limit);
    return s_call_packed (self, &writer, failure, error, error_size);
}

uint64_t
ctl_send_snapshot (ctl_t *self, int64_t cursor, int64_t limit, char *error, size_t error_size)
{
    wire_writer_t writer;
    s_pack_snapshot (&writer, cursor, limit);
    return s_send_packed (self, &writer, error, error_size);
}

static void
s_pack_since (wire_writer_t *writer, uint64_t seq, const epoch_t *epoch, int64_t limit)
{
    s_begin (writer, "since", 1 + (epoch != NULL) + (limit > 0));
    wire_pack_key (&writer->packer, "seq");
    msgpack_pack_uint64 (&writer->packer, seq);
    if (epoch)
        epoch_pack (&writer->packer, epoch);
    if (limit > 0)
        wire_pack_key_int (&writer->packer, "limit", limit);
}

wire_doc_t *
ctl_since (ctl_t *self, uint64_t seq, const epoch_t *epoch, int64_t limit,
           ctl_failure_t *failure, char *error, size_t error_size)
{
    wire_writer_t writer;
    s_pack_since (&writer, seq, epoch, limit);
    return s_call_packed (self, &writer, failure, error, error_size);
}

uint64_t
ctl_send_since (ctl_t *self, uint64_t seq, const epoch_t *epoch, int64_t limit,
                char *error, size_t error_size)
{
    wire_writer_t writer;
    s_pack_since (&writer, seq, epoch, limit);
    return s_send_packed (self, &writer, error, error_size);
}

void
ctl_history_request (wire_writer_t *writer, const char *source, const char *id, int64_t limit,
                     uint64_t before)
{
    s_begin (writer, "history", 2 + (limit > 0) + (before > 0));
    wire_pack_key_string (&writer->packer, "source", source);
    wire_pack_key_string (&writer->packer, "id", id);
    if (limit > 0)
        wire_pack_key_int (&writer->packer, "limit", limit);
    if (before > 0) {
        wire_pack_key (&writer->packer, "before");
        msgpack_pack_uint64 (&writer->packer, before);
    }
}

wire_doc_t *
ctl_history (ctl_t *self, const char *source, const char *id, int64_t limit, uint64_t before,
             ctl_failure_t *failure, char *error, size_t error_size)
{
    wire_writer_t writer;
    ctl_history_request (&writer, source, id, limit, before);
    return s_call_packed (self, &writer, failure, error, error_size);
}

//  --- submit -----------------------------------------------------------------------------

int
ctl_submit_request (wire_writer_t *request, const void *frame, size_t size)
{
    const uint8_t *bytes = frame;
    uint32_t pairs;
    size_t header;
    if (size >= 1 && (bytes [0] & 0xf0) == 0x80) {
        pairs = bytes [0] & 0x0f;
        header = 1;
    }
    else
    if (size >= 3 && bytes [0] == 0xde) {
        pairs = (uint32_t) bytes [1] << 8 | bytes [2];
        header = 3;
    }
    else
    if (size >= 5 && bytes [0] == 0xdf) {
        pairs = (uint32_t) bytes [1] << 24 | (uint32_t) bytes [2] << 16
              | (uint32_t) bytes [3] << 8 | bytes [4];
        header = 5;
    }
    else
        return -1;
    if (pairs == UINT32_MAX)
        return -1;
    wire_writer_reset (request);
    msgpack_pack_map (&request->packer, pairs + 1);
    wire_pack_key_string (&request->packer, "op", "submit");
    msgpack_sbuffer_write (&request->buffer, (const char *) bytes + header, size - header);
    return 0;
}

//  One element of `refused`: {index, id?, reason}.
static int
s_refusal_decode (const msgpack_object *item, ctl_refusal_t *out, char *error, size_t error_size)
{
    char *id = NULL, *reason = NULL;
    bool present = false;
    memset (out, 0, sizeof *out);
    int rc = item->type == MSGPACK_OBJECT_MAP ? 0
           : error_text (error, error_size, -1, "refused: an element is not a map");
    if (rc == 0)
        rc = wire_get_int (item, "index", &present, &out->index, error, error_size);
    if (rc == 0)
        rc = wire_get_string (item, "id", WIRE_MAX_NAME, &id, error, error_size);
    if (rc == 0)
        rc = wire_get_string (item, "reason", WIRE_ERROR_SIZE - 1, &reason, error, error_size);
    if (rc == 0 && (!present || !reason))
        rc = error_text (error, error_size, -1, "refused: an element without index or reason");
    if (rc == 0) {
        snprintf (out->id, sizeof out->id, "%s", id ? id : "");
        snprintf (out->reason, sizeof out->reason, "%s", reason);
    }
    mem_free (id);
    mem_free (reason);
    return rc ? -1 : 0;
}

static int
s_refused_decode (const msgpack_object *root, ctl_submit_reply_t *out,
                  char *error, size_t error_size)
{
    const msgpack_object *refused = wire_get (root, "refused");
    if (!refused || refused->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (refused->type != MSGPACK_OBJECT_ARRAY)
        return error_text (error, error_size, -1, "refused: not an array");
    out->refused_count = refused->via.array.size;
    for (uint32_t index = 0; index < refused->via.array.size && index < CTL_MAX_REFUSED; index++)
        if (s_refusal_decode (&refused->via.array.ptr [index], &out->refused [index],
                              error, error_size))
            return -1;
    return 0;
}

int
ctl_submit_decode (wire_doc_t *reply, ctl_submit_reply_t *out, char *error, size_t error_size)
{
    const msgpack_object *root = wire_doc_root (reply);
    char *tx = NULL, *text = NULL;
    bool present = false;
    memset (out, 0, sizeof *out);
    int rc = wire_get_bool (root, "ok", &present, &out->ok, error, error_size);
    if (rc == 0 && !present)
        rc = error_text (error, error_size, -1, "no 'ok'");
    if (rc == 0)
        rc = wire_get_name (root, "tx", &tx, error, error_size);
    if (rc == 0)
        rc = wire_get_string (root, "error", WIRE_ERROR_SIZE - 1, &text, error, error_size);
    if (rc == 0)
        rc = wire_get_int (root, "accepted", &present, &out->accepted, error, error_size);
    if (rc == 0)
        rc = wire_get_int (root, "retry_after", &present, &out->retry_after, error, error_size);
    if (rc == 0)
        rc = s_refused_decode (root, out, error, error_size);
    if (rc == 0 && out->ok && !tx)
        rc = error_text (error, error_size, -1, "a submit reply without its tx");
    if (rc == 0) {
        snprintf (out->tx, sizeof out->tx, "%s", tx ? tx : "");
        snprintf (out->error, sizeof out->error, "%s", text ? text : "");
    }
    mem_free (tx);
    mem_free (text);
    return rc ? -1 : 0;
}

int
ctl_submit (ctl_t *self, const void *frame, size_t size, ctl_submit_reply_t *out,
            ctl_failure_t *failure, char *error, size_t error_size)
{
    ctl_failure_t ignored;
    if (!failure)
        failure = &ignored;
    wire_writer_t request;
    wire_writer_init (&request);
    if (ctl_submit_request (&request, frame, size)) {
        wire_writer_free (&request);
        *failure = CTL_MALFORMED_REPLY;
        return error_text (error, error_size, -1, "ctl_submit: the batch is not a map");
    }
    wire_doc_t *reply = s_exchange (self, request.buffer.data, request.buffer.size,
                                    failure, error, error_size);
    wire_writer_free (&request);
    if (!reply)
        return -1;
    char reason [WIRE_ERROR_SIZE];
    int rc = ctl_submit_decode (reply, out, reason, sizeof reason);
    wire_doc_destroy (&reply);
    if (rc) {
        *failure = CTL_MALFORMED_REPLY;
        return error_text (error, error_size, -1, "malformed reply from %s: %s",
                           self->endpoint, reason);
    }
    if (!out->ok)
        *failure = CTL_REFUSED;
    return 0;
}

//  --- silences ----------------------------------------------------------------------------

void
ctl_silence_add_request (wire_writer_t *writer, const ctl_silence_t *silence)
{
    size_t matchers = (silence->source != NULL) + (silence->id != NULL)
                    + (silence->subject != NULL) + (silence->label_count > 0);
    s_begin (writer, "silence_add", 3 + (silence->starts != NULL) + (silence->note != NULL));
    wire_pack_key (&writer->packer, "matchers");
    msgpack_pack_map (&writer->packer, matchers);
    s_pack_optional (&writer->packer, "source", silence->source);
    s_pack_optional (&writer->packer, "id", silence->id);
    s_pack_optional (&writer->packer, "subject", silence->subject);
    if (silence->label_count) {
        wire_pack_key (&writer->packer, "labels");
        msgpack_pack_array (&writer->packer, silence->label_count);
        for (size_t index = 0; index < silence->label_count; index++)
            wire_pack_string (&writer->packer, silence->labels [index]);
    }
    s_pack_optional (&writer->packer, "starts", silence->starts);
    wire_pack_key_string (&writer->packer, "ends", silence->ends);
    wire_pack_key_string (&writer->packer, "by", silence->by);
    s_pack_optional (&writer->packer, "note", silence->note);
}

wire_doc_t *
ctl_silence_add (ctl_t *self, const ctl_silence_t *silence, ctl_failure_t *failure,
                 char *error, size_t error_size)
{
    wire_writer_t writer;
    ctl_silence_add_request (&writer, silence);
    return s_call_packed (self, &writer, failure, error, error_size);
}

void
ctl_silence_list_request (wire_writer_t *writer)
{
    s_begin (writer, "silence_list", 0);
}

wire_doc_t *
ctl_silence_list (ctl_t *self, ctl_failure_t *failure, char *error, size_t error_size)
{
    wire_writer_t writer;
    ctl_silence_list_request (&writer);
    return s_call_packed (self, &writer, failure, error, error_size);
}

void
ctl_silence_expire_request (wire_writer_t *writer, const char *id, const char *by)
{
    s_begin (writer, "silence_expire", 2);
    wire_pack_key_string (&writer->packer, "id", id);
    wire_pack_key_string (&writer->packer, "by", by);
}

wire_doc_t *
ctl_silence_expire (ctl_t *self, const char *id, const char *by, ctl_failure_t *failure,
                    char *error, size_t error_size)
{
    wire_writer_t writer;
    ctl_silence_expire_request (&writer, id, by);
    return s_call_packed (self, &writer, failure, error, error_size);
}
