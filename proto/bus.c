/*  bus.c — every socket lilac opens, and the control-socket client.

    bus_open() is the single place where socket limits are set, always before
    the first bind or connect (libzmq applies most options only to
    connections made after they are set):
    - linger BUS_LINGER_MS on every socket, so exit never hangs;
    - ZMQ_MAXMSGSIZE BUS_MAX_MESSAGE and receive HWM BUS_RECEIVE_HWM on every
      socket that receives (all but PUB and PUSH): libzmq drops the
      connection of a peer that sends a larger message, before we ever
      allocate it;
    - send HWM BUS_SEND_HWM on the sockets that fan out (PUB, XPUB, PUSH,
      ROUTER). ZMQ_ROUTER_MANDATORY stays off: a reply to a client that has
      gone away is dropped, not an error that stalls the loop.
    Options go through zmq_setsockopt() with its return checked, rather than
    czmq's zsock_set_*() which assert. Bind and connect go through zmq_bind()
    and zmq_connect() on the resolved handle so that errno, and so the
    reason we report, is libzmq's own. czmq's "@"/">" prefixes are not
    understood here: the mode says which.

    bus_call() opens a fresh DEALER per call. It sends an empty delimiter
    frame and then the request, as a REQ socket would, so the broker's
    ROUTER can answer DEALER and REQ clients with the same code (it sends the
    envelope back). It waits on a zpoller until an absolute deadline and
    keeps the last frame of the reply. The DEALER is closed with linger 0,
    so an unreachable broker costs timeout_ms and nothing more.
*/
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include "bus.h"
#include "error_text.h"

#define BUS_ENDPOINTS_MAX  16       //  endpoints in one comma-separated list
#define BUS_ENDPOINT_MAX   256      //  bytes of one endpoint


static bool
s_receives (int type)
{
    return type != ZMQ_PUB && type != ZMQ_PUSH;
}

static bool
s_fans_out (int type)
{
    return type == ZMQ_PUB || type == ZMQ_PUSH
        || type == ZMQ_ROUTER || type == ZMQ_XPUB;
}

static int
s_set_int (void *handle, int option, int value, const char *name,
           char *error, size_t error_size)
{
    if (zmq_setsockopt (handle, option, &value, sizeof value) == 0)
        return 0;
    error_text (error, error_size, -1, "cannot set %s: %s", name, zmq_strerror (zmq_errno ()));
    return -1;
}

static int
s_set_int64 (void *handle, int option, int64_t value, const char *name,
             char *error, size_t error_size)
{
    if (zmq_setsockopt (handle, option, &value, sizeof value) == 0)
        return 0;
    error_text (error, error_size, -1, "cannot set %s: %s", name, zmq_strerror (zmq_errno ()));
    return -1;
}

//  Applies the limits of bus.h to a socket of the given type.
static int
s_apply_options (void *handle, int type, char *error, size_t error_size)
{
    if (s_set_int (handle, ZMQ_LINGER, BUS_LINGER_MS, "ZMQ_LINGER", error, error_size))
        return -1;
    if (s_receives (type)
    &&  (s_set_int64 (handle, ZMQ_MAXMSGSIZE, BUS_MAX_MESSAGE, "ZMQ_MAXMSGSIZE",
                      error, error_size)
    ||   s_set_int (handle, ZMQ_RCVHWM, BUS_RECEIVE_HWM, "ZMQ_RCVHWM",
                    error, error_size)))
        return -1;
    if (s_fans_out (type)
    &&  s_set_int (handle, ZMQ_SNDHWM, BUS_SEND_HWM, "ZMQ_SNDHWM", error, error_size))
        return -1;
    return 0;
}

//  Undoes the binds of a failed bus_open(): libzmq closes sockets in the
//  background, so without this an inproc name or a port could stay taken
//  for a moment after we report the failure.
static void
s_unbind_all (void *handle, char (*bound) [BUS_ENDPOINT_MAX], int count)
{
    for (int index = 0; index < count; index++) {
        //  Should this fail, closing the socket releases the endpoint later
        int rc = zmq_unbind (handle, bound [index]);
        (void) rc;
    }
}

//  Binds or connects to each endpoint of a comma-separated list, ignoring
//  blanks around the commas. On failure, nothing stays bound.
static int
s_attach (void *handle, const char *endpoints, bus_mode_t mode,
          char *error, size_t error_size)
{
    char bound [BUS_ENDPOINTS_MAX][BUS_ENDPOINT_MAX];   //  as libzmq resolved them
    int attached = 0;
    const char *cursor = endpoints;
    while (*cursor) {
        while (*cursor == ' ' || *cursor == ',')
            cursor++;
        size_t length = strcspn (cursor, ",");
        while (length > 0 && cursor [length - 1] == ' ')
            length--;
        if (length == 0)
            break;
        char endpoint [BUS_ENDPOINT_MAX];
        if (length >= sizeof endpoint || attached == BUS_ENDPOINTS_MAX) {
            error_text (error, error_size, -1, "%s: %.40s...",
                     attached == BUS_ENDPOINTS_MAX ? "too many endpoints" : "endpoint too long",
                     cursor);
            goto failed;
        }
        memcpy (endpoint, cursor, length);
        endpoint [length] = 0;
        int rc = mode == BUS_BIND ? zmq_bind (handle, endpoint)
                                  : zmq_connect (handle, endpoint);
        if (rc != 0) {
            error_text (error, error_size, -1, "cannot %s %s: %s",
                     mode == BUS_BIND ? "bind" : "connect", endpoint,
                     zmq_strerror (zmq_errno ()));
            goto failed;
        }
        size_t size = BUS_ENDPOINT_MAX;
        if (zmq_getsockopt (handle, ZMQ_LAST_ENDPOINT, bound [attached], &size) != 0)
            snprintf (bound [attached], BUS_ENDPOINT_MAX, "%s", endpoint);
        attached++;
        cursor += length;
    }
    if (attached == 0) {
        error_text (error, error_size, -1, "no endpoint given");
        return -1;
    }
    return 0;
failed:
    if (mode == BUS_BIND)
        s_unbind_all (handle, bound, attached);
    return -1;
}

//  Destroys a socket without waiting for unsent messages. Failing to set
//  the linger only means the default one applies, so it is not an error.
static void
s_close_now (zsock_t **sock_p)
{
    if (!*sock_p)
        return;
    int linger = 0;
    if (zmq_setsockopt (zsock_resolve (*sock_p), ZMQ_LINGER, &linger, sizeof linger))
        linger = BUS_LINGER_MS;
    zsock_destroy (sock_p);
}

zsock_t *
bus_open (int type, const char *endpoint, bus_mode_t mode,
          char *error, size_t error_size)
{
    if (!endpoint) {
        error_text (error, error_size, -1, "no endpoint given");
        return NULL;
    }
    zsock_t *sock = zsock_new (type);
    if (!sock) {
        error_text (error, error_size, -1, "cannot create a socket: %s",
                 zmq_strerror (zmq_errno ()));
        return NULL;
    }
    void *handle = zsock_resolve (sock);
    if (s_apply_options (handle, type, error, error_size)
    ||  (mode == BUS_CONNECT_IMMEDIATE
      && s_set_int (handle, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE", error, error_size))
    ||  s_attach (handle, endpoint, mode, error, error_size)) {
        s_close_now (&sock);            //  nothing was sent
        return NULL;
    }
    return sock;
}

//  Sends the empty delimiter and the request; returns 0 or -1.
static int
s_send_request (void *handle, const void *request, size_t size)
{
    if (zmq_send (handle, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) != 0)
        return -1;
    if (zmq_send (handle, request, size, ZMQ_DONTWAIT) < 0)
        return -1;
    return 0;
}

//  Receives every frame of one message and returns the last, or NULL when
//  the reply holds nothing but the delimiter.
static zframe_t *
s_receive_reply (zsock_t *sock)
{
    zframe_t *last = NULL;
    while (true) {
        zframe_t *frame = zframe_recv (sock);
        if (!frame)
            break;
        bool more = zframe_more (frame);
        if (zframe_size (frame) > 0 || !more) {
            zframe_destroy (&last);
            last = frame;
        }
        else
            zframe_destroy (&frame);            //  the empty delimiter
        if (!more)
            break;
    }
    if (last && zframe_size (last) == 0)
        zframe_destroy (&last);
    return last;
}

zframe_t *
bus_call (const char *endpoint, const void *request, size_t size,
          int timeout_ms, char *error, size_t error_size)
{
    if (!endpoint || (!request && size) || timeout_ms < 0) {
        error_text (error, error_size, -1, "bus_call: bad arguments");
        return NULL;
    }
    int64_t deadline = zclock_mono () + timeout_ms;
    zsock_t *sock = bus_open (ZMQ_DEALER, endpoint, BUS_CONNECT, error, error_size);
    if (!sock)
        return NULL;
    void *handle = zsock_resolve (sock);
    zframe_t *reply = NULL;
    zpoller_t *poller = NULL;

    //  A DEALER queues on a connecting pipe, so this does not block; if it
    //  cannot queue, the broker is not there either
    if (s_send_request (handle, request, size)) {
        error_text (error, error_size, -1, "cannot send to %s: %s",
                 endpoint, zmq_strerror (zmq_errno ()));
        goto done;
    }
    poller = zpoller_new (sock, NULL);
    if (!poller) {
        error_text (error, error_size, -1, "cannot poll: %s", zmq_strerror (zmq_errno ()));
        goto done;
    }
    while (true) {
        int64_t remaining = deadline - zclock_mono ();
        if (remaining < 0)
            remaining = 0;
        if (zpoller_wait (poller, (int) remaining) == sock) {
            reply = s_receive_reply (sock);
            if (!reply)
                error_text (error, error_size, -1, "empty reply from %s", endpoint);
            break;
        }
        if (zpoller_terminated (poller)) {
            error_text (error, error_size, -1, "interrupted while waiting for %s", endpoint);
            break;
        }
        if (remaining == 0 || zclock_mono () >= deadline) {
            error_text (error, error_size, -1,
                     "no reply from %s within %d ms: is lilac-broker running?",
                     endpoint, timeout_ms);
            break;
        }
    }
done:
    zpoller_destroy (&poller);
    s_close_now (&sock);
    return reply;
}
