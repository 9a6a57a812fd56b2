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

    bus_endpoint_check() reads an endpoint list the way -n needs it, with
    nothing opened: a known transport, "://", and for tcp HOST:PORT, so
    "127.0.0.1:42111" is a config error rather than a failure at start.

    bus_call() opens a fresh DEALER per call. It sends an empty delimiter
    frame and then the request, as a REQ socket would, so the broker's
    ROUTER can answer DEALER and REQ clients with the same code (it sends the
    envelope back). It waits on a zpoller until an absolute deadline and
    keeps the last frame of the reply. The DEALER is closed with linger 0,
    so an unreachable broker costs timeout_ms and nothing more.

    CURVE: bus_secure_server/bus_secure_client keep the keys (binary, 32
    bytes each) in one process-wide struct; bus_open applies them with
    zmq_setsockopt before the first bind or connect — a BIND socket of a
    server becomes a CURVE server in ZAP domain BUS_ZAP_DOMAIN, a CONNECT
    socket of a client a CURVE client. Keys are checked when they are given,
    not when a socket opens: a certificate must hold a secret key whose
    public key (zmq_curve_public) is the one written next to it, so a
    public file given as secret, a truncated key or a hand-edited one is
    refused at start with the file's name. Secret keys are never logged.
*/
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bus.h"
#include "error_text.h"

#define BUS_ENDPOINTS_MAX  16       //  endpoints in one comma-separated list
#define BUS_ENDPOINT_MAX   256      //  bytes of one endpoint
#define BUS_KEY_SIZE       32       //  bytes of a CURVE key
#define BUS_KEY_TEXT       40       //  Z85 characters of a CURVE key

static int s_set_int (void *handle, int option, int value, const char *name,
                      char *error, size_t error_size);

//  Process-wide CURVE settings (bus.h); all zero means plain sockets.
static struct {
    bool secured;                   //  a bus_secure_* call succeeded
    bool server;                    //  server (broker) rather than client
    uint8_t public_key [BUS_KEY_SIZE];  //  ours
    uint8_t secret_key [BUS_KEY_SIZE];  //  ours
    uint8_t server_key [BUS_KEY_SIZE];  //  the broker's public key (client only)
} s_curve;

//  Decodes 40 Z85 characters into key; false if text is anything else.
static bool
s_key_decode (uint8_t *key, const char *text)
{
    if (!text || strlen (text) != BUS_KEY_TEXT)
        return false;
    return zmq_z85_decode (key, text) != NULL;
}

//  Loads a certificate's key pair from path (czmq's zcert_load, which
//  tries path_secret first) and checks that the secret key is there and
//  belongs to the public key. 0, or -1 with a reason.
static int
s_load_key_pair (const char *what, const char *path, uint8_t *public_key,
                 uint8_t *secret_key, char *error, size_t error_size)
{
    if (!path || !*path)
        return error_text (error, error_size, -1, "%s: no certificate file given", what);
    if (!zsys_has_curve ())
        return error_text (error, error_size, -1,
                           "%s: this libzmq was built without CURVE security (libsodium)", what);
    if (access (path, R_OK) != 0)
        return error_text (error, error_size, -1, "%s: cannot read %s: %s", what, path,
                           strerror (errno));
    zcert_t *cert = zcert_load (path);
    if (!cert)
        return error_text (error, error_size, -1,
                           "%s: %s is not a certificate with a valid public key "
                           "(make one with `lilac keygen`)", what, path);
    const char *public_text = zcert_public_txt (cert);
    const char *secret_text = zcert_secret_txt (cert);
    char derived [BUS_KEY_TEXT + 1] = "";
    int rc = 0;
    if (!s_key_decode (public_key, public_text) || !s_key_decode (secret_key, secret_text))
        rc = error_text (error, error_size, -1, "%s: %s: malformed key", what, path);
    else {
        bool empty = true;
        for (int index = 0; index < BUS_KEY_SIZE; index++)
            empty = empty && secret_key [index] == 0;
        if (empty)
            rc = error_text (error, error_size, -1,
                             "%s: %s holds no secret key (give the NAME_secret file)", what, path);
        else
        if (zmq_curve_public (derived, secret_text) != 0 || strcmp (derived, public_text) != 0)
            rc = error_text (error, error_size, -1,
                             "%s: %s: the secret key does not belong to the public key", what, path);
    }
    zcert_destroy (&cert);
    if (rc)
        memset (secret_key, 0, BUS_KEY_SIZE);
    return rc;
}

int
bus_secure_server (const char *cert_path, char *error, size_t error_size)
{
    uint8_t public_key [BUS_KEY_SIZE], secret_key [BUS_KEY_SIZE];
    if (s_load_key_pair ("certificate", cert_path, public_key, secret_key, error, error_size))
        return -1;
    bus_secure_reset ();
    memcpy (s_curve.public_key, public_key, BUS_KEY_SIZE);
    memcpy (s_curve.secret_key, secret_key, BUS_KEY_SIZE);
    memset (secret_key, 0, sizeof secret_key);
    s_curve.server = true;
    s_curve.secured = true;
    return 0;
}

int
bus_secure_client (const char *cert_path, const char *server_key,
                   char *error, size_t error_size)
{
    uint8_t public_key [BUS_KEY_SIZE], secret_key [BUS_KEY_SIZE], broker_key [BUS_KEY_SIZE];
    if (!server_key || !*server_key)
        return error_text (error, error_size, -1, "server key: none given");
    if (s_load_key_pair ("certificate", cert_path, public_key, secret_key, error, error_size))
        return -1;
    if (!s_key_decode (broker_key, server_key)) {
        //  Not a key: the path of the broker's public certificate
        zcert_t *cert = access (server_key, R_OK) == 0 ? zcert_load (server_key) : NULL;
        bool valid = cert && s_key_decode (broker_key, zcert_public_txt (cert));
        zcert_destroy (&cert);
        if (!valid) {
            memset (secret_key, 0, sizeof secret_key);
            return error_text (error, error_size, -1,
                               "server key: '%.60s' is neither 40 Z85 characters nor a "
                               "readable certificate file", server_key);
        }
    }
    bus_secure_reset ();
    memcpy (s_curve.public_key, public_key, BUS_KEY_SIZE);
    memcpy (s_curve.secret_key, secret_key, BUS_KEY_SIZE);
    memcpy (s_curve.server_key, broker_key, BUS_KEY_SIZE);
    memset (secret_key, 0, sizeof secret_key);
    s_curve.server = false;
    s_curve.secured = true;
    return 0;
}

void
bus_secure_reset (void)
{
    //  volatile: the compiler may not drop the wipe of a dead store
    volatile uint8_t *bytes = (volatile uint8_t *) &s_curve;
    for (size_t index = 0; index < sizeof s_curve; index++)
        bytes [index] = 0;
}

bool
bus_secured (void)
{
    return s_curve.secured;
}

static int
s_set_bytes (void *handle, int option, const void *value, size_t size, const char *name,
             char *error, size_t error_size)
{
    if (zmq_setsockopt (handle, option, value, size) == 0)
        return 0;
    error_text (error, error_size, -1, "cannot set %s: %s", name, zmq_strerror (zmq_errno ()));
    return -1;
}

//  CURVE for this socket, if the process is secured and the mode is the
//  side this process secures (a server's binds, a client's connects).
static int
s_apply_curve (void *handle, bus_mode_t mode, char *error, size_t error_size)
{
    if (!s_curve.secured || s_curve.server != (mode == BUS_BIND))
        return 0;
    if (s_set_bytes (handle, ZMQ_CURVE_PUBLICKEY, s_curve.public_key, BUS_KEY_SIZE,
                     "ZMQ_CURVE_PUBLICKEY", error, error_size)
    ||  s_set_bytes (handle, ZMQ_CURVE_SECRETKEY, s_curve.secret_key, BUS_KEY_SIZE,
                     "ZMQ_CURVE_SECRETKEY", error, error_size))
        return -1;
    if (s_curve.server)
        return s_set_int (handle, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER", error, error_size)
            || s_set_bytes (handle, ZMQ_ZAP_DOMAIN, BUS_ZAP_DOMAIN, strlen (BUS_ZAP_DOMAIN),
                            "ZMQ_ZAP_DOMAIN", error, error_size) ? -1 : 0;
    return s_set_bytes (handle, ZMQ_CURVE_SERVERKEY, s_curve.server_key, BUS_KEY_SIZE,
                        "ZMQ_CURVE_SERVERKEY", error, error_size);
}


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

const char *
bus_endpoint_next (const char **cursor, size_t *length)
{
    const char *start = *cursor;
    while (*start == ' ' || *start == ',')
        start++;
    if (!*start)
        return NULL;
    size_t size = strcspn (start, ",");
    *cursor = start + size;
    while (size > 0 && start [size - 1] == ' ')
        size--;
    *length = size;
    return start;
}

//  A tcp address "HOST:PORT": a host, then a port 1-65535 or "*".
static int
s_tcp_address_check (const char *endpoint, const char *address, size_t length,
                     char *error, size_t error_size)
{
    const char *colon = NULL;
    for (const char *at = address; at < address + length; at++)
        if (*at == ':')
            colon = at;
    const char *port = colon ? colon + 1 : NULL;
    size_t port_length = port ? (size_t) (address + length - port) : 0;
    if (!colon || colon == address || port_length == 0)
        return error_text (error, error_size, -1, "'%s' has no HOST:PORT after tcp://",
                           endpoint);
    if (port_length == 1 && *port == '*')
        return 0;
    long number = 0;
    for (size_t index = 0; index < port_length; index++) {
        if (port [index] < '0' || port [index] > '9' || number > 65535)
            return error_text (error, error_size, -1, "'%s': port '%.*s' is not a number"
                               " or *", endpoint, (int) port_length, port);
        number = number * 10 + (port [index] - '0');
    }
    if (number < 1 || number > 65535)
        return error_text (error, error_size, -1, "'%s': port %ld is out of 1-65535",
                           endpoint, number);
    return 0;
}

//  One endpoint: a known transport, "://", an address.
static int
s_endpoint_check (const char *endpoint, char *error, size_t error_size)
{
    static const char *const transports [] = {
        "tcp", "ipc", "inproc", "pgm", "epgm", "ws", "wss", "tipc", "vmci", "norm", NULL
    };
    const char *separator = strstr (endpoint, "://");
    if (!separator)
        return error_text (error, error_size, -1, "'%s' has no transport (like tcp://%s)",
                           endpoint, endpoint);
    size_t name_length = (size_t) (separator - endpoint);
    size_t index = 0;
    while (transports [index] && (strlen (transports [index]) != name_length
                                  || strncmp (transports [index], endpoint, name_length)))
        index++;
    if (!transports [index])
        return error_text (error, error_size, -1, "'%s': unknown transport '%.*s'"
                           " (tcp, ipc, inproc, ...)", endpoint, (int) name_length, endpoint);
    const char *address = separator + 3;
    if (!*address)
        return error_text (error, error_size, -1, "'%s' has no address", endpoint);
    if (strcmp (transports [index], "tcp") == 0)
        return s_tcp_address_check (endpoint, address, strlen (address), error, error_size);
    return 0;
}

int
bus_endpoint_check (const char *endpoints, char *error, size_t error_size)
{
    const char *cursor = endpoints ? endpoints : "", *start;
    size_t length;
    int count = 0;
    while ((start = bus_endpoint_next (&cursor, &length))) {
        char endpoint [BUS_ENDPOINT_MAX];
        if (length >= sizeof endpoint)
            return error_text (error, error_size, -1, "endpoint too long: %.40s...", start);
        if (++count > BUS_ENDPOINTS_MAX)
            return error_text (error, error_size, -1, "more than %d endpoints",
                               BUS_ENDPOINTS_MAX);
        memcpy (endpoint, start, length);
        endpoint [length] = 0;
        if (s_endpoint_check (endpoint, error, error_size))
            return -1;
    }
    if (count == 0)
        return error_text (error, error_size, -1, "no endpoint given");
    return 0;
}

//  Binds or connects to each endpoint of a comma-separated list, ignoring
//  blanks around the commas. On failure, nothing stays bound.
static int
s_attach (void *handle, const char *endpoints, bus_mode_t mode,
          char *error, size_t error_size)
{
    char bound [BUS_ENDPOINTS_MAX][BUS_ENDPOINT_MAX];   //  as libzmq resolved them
    int attached = 0;
    const char *cursor = endpoints, *start;
    size_t length;
    while ((start = bus_endpoint_next (&cursor, &length))) {
        char endpoint [BUS_ENDPOINT_MAX];
        if (length >= sizeof endpoint || attached == BUS_ENDPOINTS_MAX) {
            error_text (error, error_size, -1, "%s: %.40s...",
                     attached == BUS_ENDPOINTS_MAX ? "too many endpoints" : "endpoint too long",
                     start);
            goto failed;
        }
        memcpy (endpoint, start, length);
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
    ||  s_apply_curve (handle, mode, error, error_size)
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
                     "no reply from %s within %d ms: is lilac-broker running?%s",
                     endpoint, timeout_ms, s_curve.secured
                     ? " (if it is, the CURVE handshake may have failed: check "
                       "--server-key, and that the broker allows --cert)" : "");
            break;
        }
    }
done:
    zpoller_destroy (&poller);
    s_close_now (&sock);
    return reply;
}

//  --------------------------------------------------------------------------
//  One control request, decoded and checked

static wire_doc_t *
s_failed (bus_failure_t *failure, bus_failure_t why, wire_doc_t **doc)
{
    if (failure)
        *failure = why;
    wire_doc_destroy (doc);
    return NULL;
}

wire_doc_t *
bus_request (const char *endpoint, const void *request, size_t size, int timeout_ms,
             bus_failure_t *failure, char *error, size_t error_size)
{
    wire_doc_t *doc = NULL;
    zframe_t *reply = bus_call (endpoint, request, size, timeout_ms, error, error_size);
    if (!reply)
        return s_failed (failure, BUS_NO_REPLY, &doc);
    char reason [WIRE_ERROR_SIZE];
    doc = wire_doc_new (zframe_data (reply), zframe_size (reply), reason, sizeof reason);
    zframe_destroy (&reply);
    if (!doc) {
        error_text (error, error_size, -1, "malformed reply from %s: %s", endpoint, reason);
        return s_failed (failure, BUS_MALFORMED_REPLY, &doc);
    }
    bool present = false, ok = false;
    if (wire_get_bool (wire_doc_root (doc), "ok", &present, &ok, reason, sizeof reason)
    ||  !present) {
        error_text (error, error_size, -1, "malformed reply from %s: %s", endpoint,
                    present ? reason : "no 'ok'");
        return s_failed (failure, BUS_MALFORMED_REPLY, &doc);
    }
    if (ok)
        return doc;
    char *text = NULL;
    if (wire_get_string (wire_doc_root (doc), "error", WIRE_MAX_STRING, &text,
                         reason, sizeof reason) || !text)
        error_text (error, error_size, -1, "the broker refused, without a readable reason");
    else
        error_text (error, error_size, -1, "%s", text);
    free (text);
    return s_failed (failure, BUS_REFUSED, &doc);
}

//  --- saying at once what is wrong with a connection ------------------------------------------

//  An ipc:// endpoint's socket file, when there, ours to write. 0 / -1.
static int
s_probe_ipc (const char *path, char *error, size_t error_size)
{
    struct stat status;
    if (stat (path, &status) != 0)
        return 0;                   //  not there yet: the connection's refusal says so
    if (access (path, W_OK) != 0) {
        error_text (error, error_size, -1, "permission denied on %s: its owner and group "
                    "may send (ls -l %s; a member of group lilac can)", path, path);
        return -1;
    }
    return 0;
}

//  A tcp:// endpoint's host resolves ("*" and addresses need no lookup).
static int
s_probe_tcp (const char *address, char *error, size_t error_size)
{
    const char *colon = strrchr (address, ':');
    char host [256];
    if (!colon || (size_t) (colon - address) >= sizeof host)
        return 0;                   //  bus_open says what is wrong with it
    snprintf (host, sizeof host, "%.*s", (int) (colon - address), address);
    if (*host == '[' || strcmp (host, "*") == 0)
        return 0;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *found = NULL;
    int rc = getaddrinfo (host, NULL, &hints, &found);
    if (found)
        freeaddrinfo (found);
    if (rc != 0) {
        error_text (error, error_size, -1, "cannot resolve '%s' (%s): %s", host,
                    address, gai_strerror (rc));
        return -1;
    }
    return 0;
}

int
bus_endpoint_probe (const char *endpoint, char *error, size_t error_size)
{
    if (!endpoint || strchr (endpoint, ','))
        return 0;                   //  a list: each may be away, the others there
    if (strncmp (endpoint, "ipc://", 6) == 0)
        return s_probe_ipc (endpoint + 6, error, error_size);
    if (strncmp (endpoint, "tcp://", 6) == 0)
        return s_probe_tcp (endpoint + 6, error, error_size);
    return 0;
}

zsock_t *
bus_watch (zsock_t *socket, char *error, size_t error_size)
{
    static unsigned serial;
    char address [64];
    snprintf (address, sizeof address, "inproc://bus-watch-%u", ++serial);
    int events = ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
               | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    zsock_t *monitor = NULL;
    if (zmq_socket_monitor (zsock_resolve (socket), address, events) != 0
    ||  !(monitor = zsock_new_pair (address)))
        error_text (error, error_size, -1, "cannot watch a connection: %s",
                    zmq_strerror (zmq_errno ()));
    return monitor;
}

int
bus_watch_failure (zsock_t *monitor, const char *endpoint, int64_t watched_at,
                   char *error, size_t error_size)
{
    zmq_msg_t frames [2];
    zmq_msg_init (&frames [0]);
    zmq_msg_init (&frames [1]);
    void *socket = zsock_resolve (monitor);
    int rc = 0;
    if (zmq_msg_recv (&frames [0], socket, ZMQ_DONTWAIT) >= 0 && zmq_msg_more (&frames [0])
    &&  zmq_msg_recv (&frames [1], socket, ZMQ_DONTWAIT) >= 0 && zmq_msg_size (&frames [0]) >= 6) {
        uint16_t event;
        memcpy (&event, zmq_msg_data (&frames [0]), sizeof event);
        rc = 1;
        if (event == ZMQ_EVENT_CONNECT_RETRIED
        &&  zclock_mono () - watched_at < BUS_REFUSED_GRACE_MS)
            rc = 0;                 //  a server that is just starting: try again
        else
        if (event == ZMQ_EVENT_CONNECT_RETRIED)
            error_text (error, error_size, -1, "connection refused by %s: nothing listens "
                        "there (is lilac-broker, or lilac-agent, running?)", endpoint);
        else
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            error_text (error, error_size, -1, "%s refused this client's certificate: the "
                        "broker does not list it among its clients", endpoint);
        else
            error_text (error, error_size, -1, "the handshake with %s failed: %s", endpoint,
                        bus_secured () ? "a wrong --server-key, or a broker without CURVE"
                                       : "the broker wants CURVE (give --cert and --server-key)");
    }
    zmq_msg_close (&frames [0]);
    zmq_msg_close (&frames [1]);
    return rc;
}

zmq_pollitem_t
bus_fd_item (int fd, short poll_events)
{
    short events = (short) (((poll_events & POLLIN) ? ZMQ_POLLIN : 0)
                          | ((poll_events & POLLOUT) ? ZMQ_POLLOUT : 0));
    return (zmq_pollitem_t) { NULL, fd, events, 0 };
}
