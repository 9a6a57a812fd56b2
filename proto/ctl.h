/*  ctl.h — the typed client of the control protocol (architecture §3, §10).

    One ctl_t is one persistent DEALER connected to a control endpoint (the
    broker's ROUTER, or an agent's local submit endpoint), kept for the
    life of the program: a CLI makes one, the agent makes one at start.
    Every request goes out as [empty, ticket, body], where ticket is an
    8-byte number the client hands out; the server sends the envelope back
    unchanged (the broker and the agent answer DEALER and REQ clients with
    the same code), so a reply is matched to its request by its ticket, not
    by its order. That lets replies come back out of order (the broker
    answers a `submit` only after its commit, a `ping` at once), and lets
    a reply that arrives after its call gave up be recognised and dropped.

    Two ways to use it:
    - a call (ctl_ping, ctl_list, ..., ctl_submit): sends, and waits up to
      the client's timeout for *that* reply; replies to other tickets that
      arrive meanwhile are dropped. It never hangs.
    - ctl_send / ctl_receive, for a loop with requests in flight (the
      agent's window of submits, the change feed's one request): poll
      ctl_socket for input, then ctl_receive each reply with its ticket and
      check it with ctl_reply_ok. ctl_send_ping, ctl_send_since and
      ctl_send_snapshot pack the typed requests for it.

    A call returns the reply's document when it says ok (caller destroys),
    else NULL, with *failure (if not NULL) saying why and error holding a
    human sentence: "no reply from EP within N ms: is lilac-broker
    running?", "malformed reply from EP: ...", or the server's own `error`
    text — outside input: print it with care.

    Limits: one thread; a request is at most BUS_MAX_MESSAGE bytes.
*/
#ifndef LILAC_CTL_H
#define LILAC_CTL_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bus.h"
#include "epoch.h"
#include "wire.h"

#define CTL_MAX_REFUSED     64      //  refused events a submit reply is read for

typedef struct _ctl_t ctl_t;

//  Why a call gave no reply document (the same reasons as bus_request).
typedef enum {
    CTL_NO_REPLY = BUS_NO_REPLY,           //  nothing came back within the timeout
    CTL_MALFORMED_REPLY = BUS_MALFORMED_REPLY, //  a reply that is not {v: 1, ok, ...}
    CTL_REFUSED = BUS_REFUSED              //  the server answered ok: false
} ctl_failure_t;

//  Connects a DEALER to endpoint (a comma-separated list is allowed).
//  timeout_ms bounds every call. With immediate, requests are queued only
//  on a completed connection (ZMQ_IMMEDIATE): ctl_send then fails at once
//  while nobody is there, instead of queueing for a server that may come
//  back much later (the agent wants that; a CLI does not). A list of
//  endpoints is always immediate: they are the brokers of one database,
//  of which one is active and the others bound to nothing, and a request
//  queued for a standby would wait there for a failover. NULL with a
//  reason in error.
ctl_t *ctl_new (const char *endpoint, int timeout_ms, bool immediate,
                char *error, size_t error_size);
//  Closes the socket without waiting for unsent requests. NULL is a no-op.
void ctl_destroy (ctl_t **self_p);
//  For a command a person waits on: a call fails at once, saying what
//  happened, instead of waiting out its deadline, when the connection is
//  refused (nothing listens there), or its handshake fails (the server
//  refused our certificate; plaintext against CURVE or the reverse, a
//  wrong server key; a refusal within BUS_REFUSED_GRACE_MS counts only
//  once retried). The endpoint is probed first (bus_endpoint_probe): no
//  permission on an ipc:// socket, a host name that does not resolve, is
//  -1 with the reason in error (the caller stops there). Long-lived
//  clients do not call it: they wait for a server that may come back.
//  0 / -1.
int ctl_watch_connection (ctl_t *self, char *error, size_t error_size);
//  The endpoint it was made with (borrowed).
const char *ctl_endpoint (ctl_t *self);
//  The DEALER, to poll for replies (borrowed).
zsock_t *ctl_socket (ctl_t *self);

//  --- in flight ------------------------------------------------------------------

//  Sends one request (a msgpack map {v, op, ...}) without waiting. Returns
//  its ticket (> 0), or 0 with a reason in error (with immediate: nobody
//  connected; or the queue is full).
uint64_t ctl_send (ctl_t *self, const void *request, size_t size,
                   char *error, size_t error_size);
//  Reads one reply without waiting. 1: *ticket and *reply (whatever its
//  ok; caller destroys) are set; 0: nothing waiting; -1: a message that was
//  not [empty, ticket, body] was read and dropped; WIRE_MALFORMED: a reply
//  whose body is not a valid {v: 1, ...} map was dropped (error says why).
int ctl_receive (ctl_t *self, uint64_t *ticket, wire_doc_t **reply,
                 char *error, size_t error_size);
//  A reply read with ctl_receive, checked as a call checks it: the reply
//  when it says ok; else NULL (reply destroyed) with *failure (if not NULL)
//  and error saying why. NULL reply: NULL.
wire_doc_t *ctl_reply_ok (ctl_t *self, wire_doc_t *reply, ctl_failure_t *failure,
                          char *error, size_t error_size);
//  The requests of ctl_ping, ctl_snapshot and ctl_since (below), sent
//  without waiting: the ticket, or 0 with a reason in error (ctl_send).
//  For an owner whose loop must never wait (the change feed).
uint64_t ctl_send_ping (ctl_t *self, char *error, size_t error_size);
uint64_t ctl_send_stats (ctl_t *self, char *error, size_t error_size);
uint64_t ctl_send_snapshot (ctl_t *self, int64_t cursor, int64_t limit,
                            char *error, size_t error_size);
uint64_t ctl_send_since (ctl_t *self, uint64_t seq, const epoch_t *epoch, int64_t limit,
                         char *error, size_t error_size);

//  --- calls --------------------------------------------------------------------------

//  Any request, all the way (see above).
wire_doc_t *ctl_call (ctl_t *self, const void *request, size_t size,
                      ctl_failure_t *failure, char *error, size_t error_size);
wire_doc_t *ctl_ping (ctl_t *self, ctl_failure_t *failure, char *error, size_t error_size);
wire_doc_t *ctl_stats (ctl_t *self, ctl_failure_t *failure, char *error, size_t error_size);

//  `list`: every filter may be NULL (limit 0: the broker's default).
typedef struct {
    const char *state;             //  pending, raised, acked, cleared
    const char *source;            //  glob
    const char *id;                //  glob
    int64_t limit;
} ctl_list_filter_t;
wire_doc_t *ctl_list (ctl_t *self, const ctl_list_filter_t *filter,
                      ctl_failure_t *failure, char *error, size_t error_size);
wire_doc_t *ctl_get (ctl_t *self, const char *source, const char *id,
                     ctl_failure_t *failure, char *error, size_t error_size);

//  A human act on one alert: ack (until and note may be NULL), unack and
//  clear (until and note NULL), suppress (until required, by NULL).
typedef struct {
    const char *source;
    const char *id;
    const char *by;                //  who (ack, unack, clear)
    const char *until;             //  a time spec as typed, or NULL
    const char *note;              //  ack's note, or NULL
} ctl_act_t;
//  The act's request packed into writer (initialized here; the caller frees
//  it), for ctl_send or a caller's own queue.
void ctl_act_request (wire_writer_t *writer, const char *op, const ctl_act_t *act);
wire_doc_t *ctl_act (ctl_t *self, const char *op, const ctl_act_t *act,
                     ctl_failure_t *failure, char *error, size_t error_size);

//  `snapshot` from cursor; `since` seq (epoch may be NULL: not checked).
//  limit 0: the broker's default.
wire_doc_t *ctl_snapshot (ctl_t *self, int64_t cursor, int64_t limit,
                          ctl_failure_t *failure, char *error, size_t error_size);
wire_doc_t *ctl_since (ctl_t *self, uint64_t seq, const epoch_t *epoch, int64_t limit,
                       ctl_failure_t *failure, char *error, size_t error_size);
//  `history` of one alert: its changes newest first (the reply's `changes`,
//  `more`, and `before` to pass for the next, older page); limit 0: the
//  broker's default (100); before 0: from the newest.
//  The `history` request, packed into writer (initialized here; the caller
//  frees it), for ctl_send or a caller's own queue.
void ctl_history_request (wire_writer_t *writer, const char *source, const char *id,
                          int64_t limit, uint64_t before);
wire_doc_t *ctl_history (ctl_t *self, const char *source, const char *id, int64_t limit,
                         uint64_t before, ctl_failure_t *failure, char *error,
                         size_t error_size);

//  --- submit --------------------------------------------------------------------------

//  One event the server refused, and why.
typedef struct {
    int64_t index;                 //  its place in the batch's alerts
    char id [WIRE_MAX_NAME + 1];   //  its id as sent ("" if it had none)
    char reason [WIRE_ERROR_SIZE]; //  the server's words
} ctl_refusal_t;

//  What a submit reply says.
typedef struct {
    char tx [WIRE_MAX_NAME + 1];   //  the batch's tx, echoed
    bool ok;                       //  the batch was taken (some events may be refused)
    int64_t accepted;              //  events applied (or already applied: a repeated tx)
    size_t refused_count;          //  events refused (all of them, even past the ones read)
    ctl_refusal_t refused [CTL_MAX_REFUSED];   //  the first CTL_MAX_REFUSED of them
    char error [WIRE_ERROR_SIZE];  //  ok false: the server's reason
    int64_t retry_after;           //  ok false: ms after which to try again, 0 if not said
} ctl_submit_reply_t;

//  Turns an ingest frame (a map {v, tx, source?, ...}) into a submit
//  request: the same map with op: "submit" added, written into request
//  (reset first). 0, or -1 when frame is not a msgpack map.
int ctl_submit_request (wire_writer_t *request, const void *frame, size_t size);
//  Reads a submit reply document (either ok). 0, or -1 when it is not one
//  (error says why).
int ctl_submit_decode (wire_doc_t *reply, ctl_submit_reply_t *out,
                       char *error, size_t error_size);
//  Submits an ingest frame and waits for the answer. 0 with *out filled
//  when the server answered (out->ok may be false: refused, degraded);
//  -1 with *failure and error when there was no usable answer.
int ctl_submit (ctl_t *self, const void *frame, size_t size, ctl_submit_reply_t *out,
                ctl_failure_t *failure, char *error, size_t error_size);

//  --- silences ------------------------------------------------------------------------

//  A silence to add: each matcher may be NULL (at least one is needed);
//  labels are "NAME=VALUE", "NAME!=VALUE", "NAME=~RE", "NAME!~RE"; times
//  are specs as typed (+2h, epoch seconds), starts NULL for now.
typedef struct {
    const char *source;            //  glob
    const char *id;                //  glob
    const char *subject;           //  glob
    const char *const *labels;     //  label_count matchers
    size_t label_count;
    const char *starts;            //  or NULL
    const char *ends;              //  required
    const char *by;                //  required
    const char *note;              //  or NULL
} ctl_silence_t;
//  The `silence_add` request, packed into writer (initialized here; the
//  caller frees it).
void ctl_silence_add_request (wire_writer_t *writer, const ctl_silence_t *silence);
//  `silence_add`: the reply carries `silence` (its id, state, ...).
wire_doc_t *ctl_silence_add (ctl_t *self, const ctl_silence_t *silence,
                             ctl_failure_t *failure, char *error, size_t error_size);
//  The `silence_list` and `silence_expire` requests, packed into writer
//  (initialized here; the caller frees it): for callers that send without
//  waiting (lilac-web's web_call).
void ctl_silence_list_request (wire_writer_t *writer);
void ctl_silence_expire_request (wire_writer_t *writer, const char *id, const char *by);
//  `silence_list`: the reply carries `silences`, in the order they were added.
wire_doc_t *ctl_silence_list (ctl_t *self, ctl_failure_t *failure, char *error,
                              size_t error_size);
//  `silence_expire` id, by who: ends it now.
wire_doc_t *ctl_silence_expire (ctl_t *self, const char *id, const char *by,
                                ctl_failure_t *failure, char *error, size_t error_size);

#endif
