/*  security.c — zauth, the table of client certificates, handshake
    monitors. See security.h.

    The table maps a public key (Z85, 40 characters) to the certificate's
    source, role and name. It is rebuilt whole from the directory at start and on
    SIGHUP; a file that is not a certificate, a `_secret` file, or a role
    we do not know is skipped with a warning, so one bad file does not lock
    everybody out. zauth is sent the same CURVE command again on SIGHUP,
    which makes it build a fresh zcertstore of the directory.
*/
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "bus.h"
#include "error_text.h"
#include "log.h"
#include "mem.h"
#include "security.h"
#include "signals.h"
#include "wire.h"

#define SECURITY_MAX_CLIENTS 100000   //  certificates read from the directory

struct _security_t {
    char *clients_dir;             //  allowed client certificates
    zactor_t *auth;                //  czmq's zauth
    zhashx_t *clients;             //  public key -> security_client_t
    //  The last key security_client was asked for, and its answer (NULL:
    //  not a client): a sender's frames come one after another with the
    //  same key, and a 40-byte compare is cheaper than czmq's hash of it
    //  (4% of CURVE ingest, perf). Forgotten when the table is reloaded.
    char last_key [41];
    const security_client_t *last_client;
    void *monitors [SECURITY_MONITORS_MAX];     //  PAIR sockets receiving events
    void *watched [SECURITY_MONITORS_MAX];      //  the monitored sockets
    char *names [SECURITY_MONITORS_MAX];        //  their names
    int monitor_count;
};

static const char *const s_role_names [] = { "agent", "relay", "reader", "admin", "gateway" };

const char *
role_name (role_t role)
{
    return role <= ROLE_GATEWAY ? s_role_names [role] : "?";
}

//  A role's place in the control ladder: agent (and relay) 0, reader 1,
//  admin (and gateway) 2.
static int
s_control_rank (role_t role)
{
    return role == ROLE_ADMIN || role == ROLE_GATEWAY ? 2 : role == ROLE_READER ? 1 : 0;
}

bool
role_permits (role_t role, role_t needed)
{
    return s_control_rank (role) >= s_control_rank (needed);
}

bool
role_any_source (role_t role)
{
    return role == ROLE_RELAY || role == ROLE_GATEWAY;
}

bool
role_trusts_by (role_t role)
{
    return role == ROLE_GATEWAY;
}

static int
s_role_parse (const char *text, role_t *role)
{
    for (int index = 0; index <= ROLE_GATEWAY; index++)
        if (streq (text, s_role_names [index])) {
            *role = (role_t) index;
            return 0;
        }
    return -1;
}

static void
s_client_destroy (void **item)
{
    security_client_t *client = *item;
    if (client) {
        mem_free (client->source);
        mem_free (client->name);
        mem_free (client->file);
        mem_free (client);
        *item = NULL;
    }
}

static bool
s_ends_with (const char *text, const char *suffix)
{
    size_t size = strlen (text), suffix_size = strlen (suffix);
    return size >= suffix_size && streq (text + size - suffix_size, suffix);
}

//  Sets client's name: the certificate's, else (made before names existed)
//  its file's, which is logged. False, with a warning, if it is no name.
static bool
s_name_set (security_client_t *client, const char *name, const char *path)
{
    if (!name || !*name) {
        const char *slash = strrchr (path, '/');
        name = slash ? slash + 1 : path;
        log_info ("security: %s has no name: acts by it are recorded as '%s', its file's "
                  "name (make a new one with `lilac keygen NAME` to set one)", path, name);
    }
    if (!wire_name_valid (name)) {
        log_warn ("security: %s: name '%s' is not a valid name: skipped", path, name);
        return false;
    }
    client->name = mem_strdup (name);
    return true;
}

//  Reads one certificate file into the table; false if it was skipped.
static bool
s_load_client (zhashx_t *table, const char *path)
{
    zconfig_t *root = zconfig_load (path);
    const char *key = root ? zconfig_get (root, "curve/public-key", NULL) : NULL;
    uint8_t decoded [32];
    if (!key || strlen (key) != 40 || !zmq_z85_decode (decoded, key)) {
        log_warn ("security: %s is not a certificate with a public key: skipped", path);
        zconfig_destroy (&root);
        return false;
    }
    const char *source = zconfig_get (root, "metadata/source", NULL);
    const char *role = zconfig_get (root, "metadata/role", "agent");
    security_client_t *client = mem_alloc (sizeof *client);
    *client = (security_client_t) { .file = mem_strdup (path) };
    bool valid = s_role_parse (role, &client->role) == 0;
    if (!valid)
        log_warn ("security: %s: role '%s' is not agent, relay, reader, admin or gateway: "
                  "skipped", path, role);
    else
        valid = s_name_set (client, zconfig_get (root, "metadata/name", NULL), path);
    if (valid && source && *source) {
        if (wire_name_valid (source))
            client->source = mem_strdup (source);
        else {
            log_warn ("security: %s: source '%s' is not a valid name: skipped", path, source);
            valid = false;
        }
    }
    if (valid && zhashx_insert (table, key, client) != 0) {
        log_warn ("security: %s: the same public key as %s: skipped", path,
                  ((security_client_t *) zhashx_lookup (table, key))->file);
        valid = false;
    }
    if (!valid) {
        void *item = client;
        s_client_destroy (&item);
    }
    zconfig_destroy (&root);
    return valid;
}

//  A fresh table of the directory, or NULL with a reason.
static zhashx_t *
s_load_clients (const char *dir, char *error, size_t error_size)
{
    DIR *handle = opendir (dir);
    if (!handle) {
        error_text (error, error_size, -1, "security: clients: cannot read directory %s: %s",
                    dir, strerror (errno));
        return NULL;
    }
    zhashx_t *table = zhashx_new ();
    if (!table)
        log_fatal ("out of memory");
    zhashx_set_destructor (table, s_client_destroy);
    struct dirent *entry;
    size_t seen = 0;
    while ((entry = readdir (handle)) && seen++ < SECURITY_MAX_CLIENTS) {
        if (entry->d_name [0] == '.')
            continue;
        char path [1024];
        snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
        struct stat info;
        if (stat (path, &info) != 0 || !S_ISREG (info.st_mode))
            continue;
        if (s_ends_with (entry->d_name, "_secret")) {
            log_warn ("security: %s is a SECRET certificate: it belongs on its client, "
                      "not in the clients directory; skipped", path);
            continue;
        }
        s_load_client (table, path);
    }
    closedir (handle);
    return table;
}

security_t *
security_new (const char *cert, const char *clients, bool verbose,
              char *error, size_t error_size)
{
    if (!zsys_has_curve ()) {
        error_text (error, error_size, -1,
                    "security: this libzmq was built without CURVE (libsodium): "
                    "cannot run a secured broker");
        return NULL;
    }
    if (bus_secure_server (cert, error, error_size))
        return NULL;
    security_t *self = mem_alloc (sizeof *self);
    self->clients_dir = mem_strdup (clients);
    self->clients = s_load_clients (clients, error, error_size);
    if (!self->clients) {
        security_destroy (&self);
        return NULL;
    }
    //  zauth binds the ZAP endpoint of the process's context: it must run
    //  before the first bind, or libzmq lets CURVE clients in unchecked
    //  The zauth thread takes no signal: one meant for the broker's
    //  signalfd would kill the process there (its default action)
    self->auth = signals_quiet_actor (zauth, NULL);
    if (!self->auth) {
        error_text (error, error_size, -1, "security: cannot start zauth");
        security_destroy (&self);
        return NULL;
    }
    if (verbose) {
        zstr_sendx (self->auth, "VERBOSE", NULL);
        zsock_wait (self->auth);
    }
    zstr_sendx (self->auth, "CURVE", clients, NULL);
    zsock_wait (self->auth);
    log_info ("security: CURVE on every socket, %zu client certificates in %s",
              zhashx_size (self->clients), clients);
    return self;
}

void
security_destroy (security_t **self_p)
{
    if (!*self_p)
        return;
    security_t *self = *self_p;
    for (int index = 0; index < self->monitor_count; index++) {
        if (zmq_socket_monitor (self->watched [index], NULL, 0) != 0)
            (void) 0;              //  the socket may be gone already
        zmq_close (self->monitors [index]);
        mem_free (self->names [index]);
    }
    zactor_destroy (&self->auth);
    zhashx_destroy (&self->clients);
    mem_free (self->clients_dir);
    bus_secure_reset ();
    mem_free (self);
    *self_p = NULL;
}

void
security_reload (security_t *self)
{
    char error [512];
    zhashx_t *table = s_load_clients (self->clients_dir, error, sizeof error);
    if (!table) {
        log_error ("%s: keeping the %zu certificates loaded before", error,
                   zhashx_size (self->clients));
        return;
    }
    zhashx_destroy (&self->clients);
    self->clients = table;
    self->last_key [0] = 0;
    self->last_client = NULL;
    zstr_sendx (self->auth, "CURVE", self->clients_dir, NULL);
    zsock_wait (self->auth);
    log_info ("security: reloaded %zu client certificates from %s",
              zhashx_size (self->clients), self->clients_dir);
}

const security_client_t *
security_client (security_t *self, const char *user_id)
{
    if (!user_id || strlen (user_id) != 40)
        return NULL;
    if (memcmp (self->last_key, user_id, 40) != 0) {
        memcpy (self->last_key, user_id, 41);
        self->last_client = zhashx_lookup (self->clients, user_id);
    }
    return self->last_client;
}

int
security_monitor (security_t *self, zsock_t *sock, const char *name,
                  char *error, size_t error_size)
{
    if (self->monitor_count == SECURITY_MONITORS_MAX)
        return error_text (error, error_size, -1, "security: too many monitors");
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://lilac-monitor-%d-%p",
              self->monitor_count, (void *) self);
    void *handle = zsock_resolve (sock);
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
               | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor (handle, endpoint, events) != 0)
        return error_text (error, error_size, -1, "security: cannot monitor %s: %s", name,
                           zmq_strerror (zmq_errno ()));
    void *pair = zmq_socket (zsys_init (), ZMQ_PAIR);
    int linger = 0;
    if (!pair
    ||  zmq_setsockopt (pair, ZMQ_LINGER, &linger, sizeof linger) != 0
    ||  zmq_connect (pair, endpoint) != 0) {
        error_text (error, error_size, -1, "security: cannot watch %s: %s", name,
                    zmq_strerror (zmq_errno ()));
        if (pair)
            zmq_close (pair);
        return -1;
    }
    self->monitors [self->monitor_count] = pair;
    self->watched [self->monitor_count] = handle;
    self->names [self->monitor_count] = mem_strdup (name);
    self->monitor_count++;
    return 0;
}

void *
security_monitor_handle (security_t *self, int index)
{
    return index < self->monitor_count ? self->monitors [index] : NULL;
}

int
security_monitor_count (security_t *self)
{
    return self ? self->monitor_count : 0;
}

static const char *
s_failure_reason (uint16_t event, uint32_t value)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return value == 400 ? "certificate not allowed (ZAP 400)" : "refused by ZAP";
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        return value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
             ? "a plaintext (non-CURVE) client"
             : value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
             ? "undecryptable handshake (the client has the wrong server key?)"
             : "protocol error in the handshake";
    return "handshake failed";
}

int
security_read_monitor (security_t *self, int index, char *what, size_t what_size)
{
    void *pair = security_monitor_handle (self, index);
    int failures = 0;
    for (int count = 0; pair && count < 1000; count++) {
        zmq_msg_t head, address;
        zmq_msg_init (&head);
        zmq_msg_init (&address);
        if (zmq_msg_recv (&head, pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&head);
            zmq_msg_close (&address);
            break;
        }
        bool valid = zmq_msg_more (&head) && zmq_msg_recv (&address, pair, 0) >= 0
                  && zmq_msg_size (&head) == 6;
        if (valid) {
            uint16_t event;
            uint32_t value;
            memcpy (&event, zmq_msg_data (&head), 2);
            memcpy (&value, (uint8_t *) zmq_msg_data (&head) + 2, 4);
            failures++;
            snprintf (what, what_size, "%s %.*s: %s", self->names [index],
                      (int) zmq_msg_size (&address), (const char *) zmq_msg_data (&address),
                      s_failure_reason (event, value));
        }
        zmq_msg_close (&head);
        zmq_msg_close (&address);
    }
    return failures;
}
