/*  security.h — the broker's CURVE side (README "Security", architecture §7).

    With a `security` section the broker runs czmq's zauth actor with the
    directory of allowed client certificates, started before any socket is
    bound, and every socket it binds is a CURVE server (bus_secure_server).
    zauth decides who may connect at all. Who a connected peer IS comes from
    the message itself: libzmq stamps every message with the ZAP User-Id,
    which zauth sets to the client's public key (Z85), and the broker looks
    that key up in its own table of the same directory to learn the
    certificate's `source`, `role` and `name`. zauth (czmq 4.2.1) also copies the
    certificate's metadata into the message properties, but we do not read
    them: a property the certificate lacks could be filled in by the peer's
    own handshake metadata, and our table lets SIGHUP revoke a certificate
    for connections that are already open, not only for new handshakes.

    The name is who the certificate speaks for: `by` on an act (ack,
    unack, clear) from any role but gateway is the certificate's name,
    whatever the request says. A gateway (lilac-web) authenticates people
    itself, so the `by` it passes is trusted. A certificate made before
    names existed has none: its file name stands in, logged at load.

    Refused handshakes are counted from socket monitors on the three bound
    sockets (ZMQ_EVENT_HANDSHAKE_FAILED_*). libzmq 4.3 names the local
    endpoint in those events, not the peer: with -v, zauth's own log lines
    give the peer's address and key of every ZAP denial.
*/
#ifndef LILAC_BROKER_SECURITY_H
#define LILAC_BROKER_SECURITY_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#define SECURITY_MONITORS_MAX  3   //  one per bound socket

//  The order is the file format's (role names by index), not a ranking:
//  ask role_permits and role_any_source.
typedef enum {
    ROLE_AGENT,                    //  sends events for its own source
    ROLE_RELAY,                    //  sends events for any source
    ROLE_READER,                   //  + ping, stats, list, get, snapshot, since, history
    ROLE_ADMIN,                    //  + ack, unack, clear, suppress
    ROLE_GATEWAY                   //  relay + admin, and the `by` it passes is trusted
} role_t;

typedef struct {
    char *source;                  //  the certificate's source, or NULL
    role_t role;                   //  its role
    char *name;                    //  who it speaks for: metadata `name`, else the
                                   //  file's name (never NULL)
    char *file;                    //  the file it came from, for messages
} security_client_t;

typedef struct _security_t security_t;

//  Loads the broker's certificate and the clients directory, starts zauth
//  and makes the process a CURVE server. NULL with a reason in error.
security_t *security_new (const char *cert, const char *clients, bool verbose,
                          char *error, size_t error_size);
void security_destroy (security_t **self_p);
//  Re-reads the clients directory (zauth and our table). Logs the outcome.
void security_reload (security_t *self);
//  The client with this public key (a message's "User-Id"), or NULL.
const security_client_t *security_client (security_t *self, const char *user_id);
//  Watches sock for refused handshakes; name is for messages. 0 or -1.
int security_monitor (security_t *self, zsock_t *sock, const char *name,
                      char *error, size_t error_size);
//  The monitor sockets to poll (count of them in *count).
void *security_monitor_handle (security_t *self, int index);
int security_monitor_count (security_t *self);
//  Reads the events waiting on monitor index; returns how many were
//  refused handshakes, and writes a description of the last into what.
int security_read_monitor (security_t *self, int index, char *what, size_t what_size);
const char *role_name (role_t role);
//  May a certificate of role run a control op that needs `needed` (agent,
//  reader or admin)? agent < reader < admin; relay counts as an agent,
//  gateway as an admin.
bool role_permits (role_t role, role_t needed);
//  May it send events for any source, not only its certificate's?
bool role_any_source (role_t role);
//  Is the `by` it passes on an act to be recorded as it is (gateway), rather
//  than replaced by the certificate's name?
bool role_trusts_by (role_t role);

#endif
