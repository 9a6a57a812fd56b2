/*  bus.h — the one way lilac programs open sockets and call the control socket.

    Every socket in every program comes from bus_open(), so that limits and,
    later, CURVE security are set in one place: receiving sockets get
    ZMQ_MAXMSGSIZE (BUS_MAX_MESSAGE) and a receive high-water mark; every
    socket gets a short linger so a dying program never hangs on exit.

    bus_call() is the control-socket client: one request frame out on a fresh
    DEALER, one reply back within a deadline, or a clear error. It never hangs:
    an unreachable broker is "no reply from tcp://...: is lilac-broker running?".
    New code uses the typed client (ctl.h: one persistent DEALER per program,
    replies matched by ticket); bus_call and bus_request stay for the
    callers not converted yet (change_feed.c, the notifiers, tests).
*/
#ifndef LILAC_BUS_H
#define LILAC_BUS_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include "wire.h"

#define BUS_MAX_MESSAGE   (256 * 1024)  //  bytes; larger frames are dropped by libzmq
#define BUS_RECEIVE_HWM   10000         //  messages queued per receiving socket
//  Messages queued per sending socket: per subscriber on a PUB, per client
//  on a ROUTER. libzmq counts messages, not bytes: at a typical change body
//  (300-600 bytes) this is 1.2-2.5 MB per subscriber, and stays under 10 MB
//  for bodies up to 2.4 KB; the worst case, every body carrying 64 KiB of
//  detail, is 256 MiB. A subscriber that falls further behind loses
//  messages here and catches up with `since`. It equals the broker's commit
//  chunk (BROKER_COMMIT_CHUNK), so a chunk published at once fits.
#define BUS_SEND_HWM      4096
#define BUS_LINGER_MS     1000          //  how long close waits for unsent messages

#define BUS_DEFAULT_INGEST   "tcp://127.0.0.1:32741"
#define BUS_DEFAULT_PUBLISH  "tcp://127.0.0.1:32742"
#define BUS_DEFAULT_CONTROL  "tcp://127.0.0.1:32743"

//  --- CURVE security ------------------------------------------------------------
//
//  Security is process-wide and applied by bus_open, so no program sets a
//  socket option of its own. A broker calls bus_secure_server once at start:
//  from then on every socket it BINDS is a CURVE server with the broker's
//  certificate, in ZAP domain BUS_ZAP_DOMAIN (the broker runs zauth for it).
//  A client (lilac, the agent, the notifiers) calls bus_secure_client once:
//  every socket it CONNECTS is a CURVE client with its certificate and the
//  broker's public key. Sockets a client binds (the agent's local ipc
//  endpoint) stay plain: they are for local senders.

#define BUS_ZAP_DOMAIN  "lilac"

//  cert_path: a czmq certificate's secret file (written by `lilac keygen`).
//  Fails (-1 with a reason) when libzmq has no CURVE or the file does not
//  hold a valid key pair.
int bus_secure_server (const char *cert_path, char *error, size_t error_size);
//  cert_path: the client's secret certificate file; server_key: the broker's
//  public key, as 40 Z85 characters or the path of its public certificate.
int bus_secure_client (const char *cert_path, const char *server_key,
                       char *error, size_t error_size);
//  Back to plain sockets (for tests that switch in one process).
void bus_secure_reset (void);
//  True once bus_secure_server or bus_secure_client succeeded.
bool bus_secured (void);

typedef enum {
    BUS_BIND,                      //  bind each endpoint
    BUS_CONNECT,                   //  connect to each endpoint
    BUS_CONNECT_IMMEDIATE          //  connect, and queue messages only on completed
                                   //  connections (ZMQ_IMMEDIATE): a send then
                                   //  fails with EAGAIN when no peer is there
} bus_mode_t;

//  Creates a socket of ZMQ type (ZMQ_PULL, ZMQ_PUB, ZMQ_ROUTER, ...), applies
//  the options above, and binds or connects it to endpoint (which may be a
//  comma-separated list). Returns NULL on failure with a reason in error.
zsock_t *bus_open (int type, const char *endpoint, bus_mode_t mode,
                   char *error, size_t error_size);

//  Walks a comma-separated endpoint list ("tcp://a:1, tcp://b:2"): returns
//  the next endpoint at or after *cursor with its length (blanks around the
//  commas left out) and moves *cursor past it; NULL at the end.
const char *bus_endpoint_next (const char **cursor, size_t *length);

//  Checks an endpoint list as a config gives it, without opening anything
//  (for `-n`): every endpoint is TRANSPORT://ADDRESS with a transport
//  libzmq knows (tcp ipc inproc pgm epgm ws wss tipc vmci norm); a tcp
//  address is HOST:PORT, PORT a number from 1 to 65535 or "*"; the list
//  holds one endpoint at least, BUS_ENDPOINTS_MAX at most. 0, or -1 with
//  why in error, e.g. "'127.0.0.1:42111' has no transport (tcp://...)".
//  The caller adds FILE:LINE.
int bus_endpoint_check (const char *endpoints, char *error, size_t error_size);

//  --- saying at once what is wrong with a connection, for commands people wait on ---
//
//  bus_endpoint_probe checks what can be checked before connecting: an
//  ipc:// socket file, when there, is writable by us; a tcp:// host name
//  resolves. bus_watch returns a PAIR socket that receives the socket's
//  connection failures (a refused connection, a failed handshake);
//  bus_watch_failure reads one and writes what it means. Daemons do not
//  use these: they wait for a server that may come back.
int bus_endpoint_probe (const char *endpoint, char *error, size_t error_size);
zsock_t *bus_watch (zsock_t *socket, char *error, size_t error_size);
//  1 with the reason in error when the event read means giving up; else 0.
//  A refusal within BUS_REFUSED_GRACE_MS of watched_at (zclock_mono) is
//  not one yet: a server started just before (`lilac-agent &; lilac send`)
//  is given its first reconnection (libzmq retries every 100 ms).
#define BUS_REFUSED_GRACE_MS 300
int bus_watch_failure (zsock_t *monitor, const char *endpoint, int64_t watched_at,
                       char *error, size_t error_size);

//  A zmq_poll item for a plain descriptor that wants poll(2)'s events
//  (POLLIN, POLLOUT), as libpq and pipes say them: zmq_poll reads its own
//  flags (ZMQ_POLLOUT is 2; POLLOUT, 4, is ZMQ_POLLERR to it).
zmq_pollitem_t bus_fd_item (int fd, short poll_events);

//  Sends request (one msgpack frame) to the control endpoint and waits up to
//  timeout_ms for the reply frame. Returns the reply (caller destroys), or
//  NULL with a human-readable reason in error.
zframe_t *bus_call (const char *endpoint, const void *request, size_t size,
                    int timeout_ms, char *error, size_t error_size);

//  Why bus_request gave no reply document.
typedef enum {
    BUS_NO_REPLY = 1,              //  nothing came back within the deadline
    BUS_MALFORMED_REPLY,           //  a reply that is not a {v: 1, ok, ...} map
    BUS_REFUSED                    //  the broker answered ok: false
} bus_failure_t;

//  One control request, all the way: bus_call, then wire_doc_new, then the
//  reply's `ok`. Returns the reply's document when ok is true (caller
//  destroys). Otherwise NULL, *failure (if not NULL) says why, and error
//  holds bus_call's reason, "malformed reply: ...", or the broker's own
//  error text — which is outside input: print it with care.
wire_doc_t *bus_request (const char *endpoint, const void *request, size_t size,
                         int timeout_ms, bus_failure_t *failure,
                         char *error, size_t error_size);

#endif
