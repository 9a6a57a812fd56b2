/*  test_store.c — the broker's SQLite file, through store.h on a real file:
    rows written by rowid and by key, the alert_times a refresh writes laid
    over the row at load and dropped by a full write, a rowid that has come
    to name another alert, the move of an old WITHOUT ROWID table, the
    prev_seq chains added to an old history table, and the log copied only
    when the broker asks.
*/
#include <arpa/inet.h>
#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../check.h"
#include "../lib/pg_start.h"
#include "../../broker/store.h"

#define LOADED_MAX 4

//  What store_load handed over: up to LOADED_MAX alerts.
typedef struct {
    alert_t alerts [LOADED_MAX];
    store_handle_t handles [LOADED_MAX];
    size_t count;
} loaded_t;

static void
s_collect (alert_t *alert, store_handle_t handle, void *arg)
{
    loaded_t *loaded = arg;
    if (loaded->count == LOADED_MAX) {
        alert_clear_fields (alert);
        return;
    }
    loaded->alerts [loaded->count] = *alert;
    loaded->handles [loaded->count] = handle;
    loaded->count++;
}

static void
s_loaded_free (loaded_t *loaded)
{
    for (size_t index = 0; index < loaded->count; index++)
        alert_clear_fields (&loaded->alerts [index]);
    loaded->count = 0;
}

//  Loads everything; the count, or -1.
static int
s_load (store_t *store, loaded_t *loaded)
{
    s_loaded_free (loaded);
    return store_load (store, s_collect, loaded) ? -1 : (int) loaded->count;
}

//  An alert with fixed times from base on; strings are static.
static alert_t
s_alert (char *id, int64_t base)
{
    return (alert_t) {
        .source = "web1", .id = id, .subject = "disk", .summary = "/var is full",
        .level = LEVEL_NORMAL, .state = ALERT_PENDING, .raise_at = base + 300000,
        .created_at = base, .updated_at = base, .changed_at = base, .seq = 7,
    };
}

//  One alert written in a transaction of its own; the handle told.
static int
s_put (store_t *store, const alert_t *alert, store_handle_t *handle)
{
    if (store_begin (store, true) || store_put_alert (store, alert, handle)
    ||  store_commit (store))
        return -1;
    store_row_committed (store, handle);
    return 0;
}

//  count rows "PREFIX-N" (N from 0) in the open transaction, each with a
//  summary of size bytes (at most 8000), updated_at `round`. 0 / -1.
static int
s_put_bulk (store_t *store, const char *prefix, int count, size_t size, int round)
{
    char summary [8001];
    assert (size < sizeof summary);
    memset (summary, 's', size);
    summary [size] = 0;
    for (int index = 0; index < count; index++) {
        char id [64];
        snprintf (id, sizeof id, "%s-%d", prefix, index);
        alert_t bulk = s_alert (id, 1000);
        bulk.summary = summary;
        bulk.updated_at = 1000 + round;
        store_handle_t bulk_handle = 0;
        if (store_put_alert (store, &bulk, &bulk_handle))
            return -1;
    }
    return 0;
}

//  Sends the commit and waits (10 s at most) for its answer, as the loop
//  does: 0 committed, -1 failed or unanswered.
static int
s_commit_answered (store_t *store)
{
    if (store_commit_send (store))
        return -1;
    int64_t deadline = zclock_mono () + 10000;
    int rc;
    while ((rc = store_commit_poll (store)) == 1 && zclock_mono () < deadline) {
        short events = 0;
        int fd = store_poll_fd (store, &events);
        struct pollfd item = { fd, events, 0 };
        if (fd >= 0 && poll (&item, 1, 100) < 0 && errno != EINTR)
            return -1;
    }
    return rc;
}

static store_t *
s_open (const char *path)
{
    char error [256];
    store_t *store = store_open (path, true, error, sizeof error);
    if (!store)
        printf ("#   store_open: %s\n", error);
    return store;
}

//  The old schema, as lilac wrote it before the rowid table.
static int
s_write_old_database (const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *insert = NULL;
    wire_writer_t row;
    wire_writer_init (&row);
    int rc = -1;
    if (sqlite3_open (path, &db) != SQLITE_OK
    ||  sqlite3_exec (db, "CREATE TABLE alerts ("
                      "  source TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL,"
                      "  level TEXT NOT NULL, changed_at INTEGER, seq INTEGER, row BLOB NOT NULL,"
                      "  PRIMARY KEY (source, id)) WITHOUT ROWID;", NULL, NULL, NULL) != SQLITE_OK
    ||  sqlite3_prepare_v2 (db, "INSERT INTO alerts VALUES (?1, ?2, 'pending', 'normal', 1, 7, ?3)",
                            -1, &insert, NULL) != SQLITE_OK)
        goto done;
    char *ids [] = { "old-a", "old-b" };
    for (int index = 0; index < 2; index++) {
        alert_t alert = s_alert (ids [index], 1000);
        wire_writer_reset (&row);
        msgpack_pack_map (&row.packer, 2);
        wire_pack_key_int (&row.packer, "v", WIRE_VERSION);
        wire_pack_key (&row.packer, "alert");
        alert_pack (&row.packer, &alert);
        if (sqlite3_bind_text (insert, 1, alert.source, -1, SQLITE_STATIC) != SQLITE_OK
        ||  sqlite3_bind_text (insert, 2, alert.id, -1, SQLITE_STATIC) != SQLITE_OK
        ||  sqlite3_bind_blob (insert, 3, row.buffer.data, (int) row.buffer.size,
                               SQLITE_TRANSIENT) != SQLITE_OK
        ||  sqlite3_step (insert) != SQLITE_DONE || sqlite3_reset (insert) != SQLITE_OK)
            goto done;
    }
    rc = 0;
done:
    if (rc)
        printf ("#   old database: %s\n", db ? sqlite3_errmsg (db) : "cannot open");
    sqlite3_finalize (insert);
    sqlite3_close (db);
    wire_writer_free (&row);
    return rc;
}

//  How many tables named alerts are still WITHOUT ROWID, or -1.
static int
s_old_tables (const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *query = NULL;
    int count = -1;
    if (sqlite3_open (path, &db) == SQLITE_OK
    &&  sqlite3_prepare_v2 (db, "SELECT count (*) FROM sqlite_schema WHERE name LIKE 'alerts%'"
                            " AND sql LIKE '%WITHOUT ROWID%'", -1, &query, NULL) == SQLITE_OK
    &&  sqlite3_step (query) == SQLITE_ROW)
        count = sqlite3_column_int (query, 0);
    sqlite3_finalize (query);
    sqlite3_close (db);
    return count;
}

//  A history table as lilac wrote it before prev_seq: seqs 1 and 3 are
//  web1/a's, 2 is web1/b's.
static int
s_write_old_history (const char *path)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open (path, &db) == SQLITE_OK
          && sqlite3_exec (db, "CREATE TABLE history (seq INTEGER PRIMARY KEY,"
                           " at INTEGER NOT NULL, event TEXT NOT NULL, source TEXT NOT NULL,"
                           " id TEXT NOT NULL, body BLOB NOT NULL);"
                           "INSERT INTO history VALUES (1, 1, 'raised', 'web1', 'a', x'01'),"
                           " (2, 2, 'raised', 'web1', 'b', x'02'),"
                           " (3, 3, 'cleared', 'web1', 'a', x'03');", NULL, NULL, NULL) == SQLITE_OK
          ? 0 : -1;
    if (rc)
        printf ("#   old history: %s\n", db ? sqlite3_errmsg (db) : "cannot open");
    sqlite3_close (db);
    return rc;
}

//  What store_history_chain gave: seqs and each body's first byte, in order.
typedef struct {
    uint64_t seq [8];
    char body [8];
    size_t count;
} chain_t;

static void
s_chain_add (uint64_t seq, const void *body, size_t size, void *arg)
{
    chain_t *chain = arg;
    if (chain->count < 8) {
        chain->body [chain->count] = size ? *(const char *) body : 0;
        chain->seq [chain->count++] = seq;
    }
}

static int
s_read_answer_rest (store_t *store, int rc, chain_t *chain, uint64_t *oldest)
{
    for (int attempt = 0; rc == 1 && attempt < 50; attempt++) {      //  50 polls of 100 ms
        short events = 0;
        int fd = store_read_fd (store, &events);
        struct pollfd item = { fd, events, 0 };
        if (fd >= 0 && poll (&item, 1, 100) < 0)
            break;
        rc = store_read_poll (store, s_chain_add, chain, oldest);
    }
    return rc;
}

static int
s_read_answer (store_t *store, const store_read_t *read, chain_t *chain, uint64_t *oldest)
{
    return store_read_send (store, read) ? -1 : s_read_answer_rest (store, 1, chain, oldest);
}

//  --- a TCP way to PostgreSQL whose handshakes can be held back ------------------------
//
//  A child process listens on 127.0.0.1 (an ephemeral port, backlog 0) and
//  relays each connection it accepts to the cluster's Unix socket. Told
//  'p' on its pipe it stops accepting (a full accept queue: the kernel
//  drops the next SYN, and that client's connect stays in progress until
//  the SYN is sent again, a second later); told 'r' it accepts again.
//  Connections it holds go on meanwhile.

#define S_PROXY_PAIRS 8

//  Relays what one side has to the other; false when either side closed.
static bool
s_relay (int from, int to)
{
    char buffer [16384];
    ssize_t got = read (from, buffer, sizeof buffer);
    return got > 0 && write (to, buffer, (size_t) got) == got;
}

static int
s_unix_connect (const char *socket_dir)
{
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen (socket_dir) + sizeof "/.s.PGSQL.5432" > sizeof address.sun_path)
        return -1;
    memcpy (address.sun_path, socket_dir, strlen (socket_dir));
    memcpy (address.sun_path + strlen (socket_dir), "/.s.PGSQL.5432", sizeof "/.s.PGSQL.5432");
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    if (fd >= 0 && connect (fd, (struct sockaddr *) &address, sizeof address)) {
        close (fd);
        fd = -1;
    }
    return fd;
}

static void
s_proxy_run (int listener, int control, const char *socket_dir)
{
    int pairs [S_PROXY_PAIRS][2];
    int count = 0;
    bool paused = false;
    while (true) {
        struct pollfd items [2 + 2 * S_PROXY_PAIRS];
        items [0] = (struct pollfd) { control, POLLIN, 0 };
        items [1] = (struct pollfd) { paused || count == S_PROXY_PAIRS ? -1 : listener, POLLIN, 0 };
        for (int index = 0; index < count; index++) {
            items [2 + 2 * index] = (struct pollfd) { pairs [index][0], POLLIN, 0 };
            items [3 + 2 * index] = (struct pollfd) { pairs [index][1], POLLIN, 0 };
        }
        int polled = count;             //  the pairs these items are for
        if (poll (items, (nfds_t) (2 + 2 * polled), 1000) < 0)
            _exit (1);
        char command = 0;
        if ((items [0].revents & (POLLIN | POLLHUP)) && read (control, &command, 1) != 1)
            _exit (0);                  //  the test closed its end: done
        if (command) {
            paused = command == 'p';
            if (write (control, "k", 1) != 1)
                _exit (1);
        }
        if (items [1].revents & POLLIN) {
            int client = accept (listener, NULL, NULL), server = s_unix_connect (socket_dir);
            if (client >= 0 && server >= 0) {
                pairs [count][0] = client;
                pairs [count++][1] = server;
            }
        }
        for (int index = 0; index < polled; index++)
            if (((items [2 + 2 * index].revents & (POLLIN | POLLHUP))
                 && !s_relay (pairs [index][0], pairs [index][1]))
            ||  ((items [3 + 2 * index].revents & (POLLIN | POLLHUP))
                 && !s_relay (pairs [index][1], pairs [index][0]))) {
                close (pairs [index][0]);
                close (pairs [index][1]);
                pairs [index][0] = pairs [--count][0];
                pairs [index][1] = pairs [count][1];
                break;                  //  the items no longer match the pairs
            }
    }
}

//  Starts the proxy; its port, its pid and the socket that steers it. 0 / -1.
static int
s_proxy_start (const char *socket_dir, int *port, pid_t *pid, int *control)
{
    int listener = socket (AF_INET, SOCK_STREAM, 0), pipe_fds [2];   //  both ways
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t size = sizeof address;
    if (listener < 0 || bind (listener, (struct sockaddr *) &address, sizeof address)
    ||  listen (listener, 0) || getsockname (listener, (struct sockaddr *) &address, &size)
    ||  socketpair (AF_UNIX, SOCK_STREAM, 0, pipe_fds))
        return -1;
    *port = ntohs (address.sin_port);
    *pid = fork ();
    if (*pid == 0) {
        close (pipe_fds [1]);
        s_proxy_run (listener, pipe_fds [0], socket_dir);
    }
    close (listener);
    close (pipe_fds [0]);
    *control = pipe_fds [1];
    return *pid > 0 ? 0 : -1;
}

//  Tells the proxy command ('p' pause, 'r' resume) and waits for it to
//  say it took it (2 s at most). true if it did.
static bool
s_proxy_tell (int control, char command)
{
    char ack = 0;
    struct pollfd item = { control, POLLIN, 0 };
    return write (control, &command, 1) == 1 && poll (&item, 1, 2000) == 1
        && read (control, &ack, 1) == 1 && ack == 'k';
}

//  A TCP connect to port, left as it goes (the filler of an accept queue).
static int
s_tcp_start (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    if (fd >= 0)
        (void) connect (fd, (struct sockaddr *) &address, sizeof address);
    return fd;
}

//  A proxy started (into *proxied) and a store opened through it, reached
//  at host; NULL (said) on failure. The caller ends the proxy either way
//  (s_proxy_end).
typedef struct {
    pid_t pid;
    int control;                   //  the socket that steers it (s_proxy_tell)
    int port;                      //  where it listens
} s_proxied_t;

static store_t *
s_open_proxied (const char *socket_dir, const char *host, s_proxied_t *proxied)
{
    *proxied = (s_proxied_t) { -1, -1, 0 };
    if (!CHECK (s_proxy_start (socket_dir, &proxied->port, &proxied->pid,
                               &proxied->control) == 0, "the proxy"))
        return NULL;
    char uri [200], error [512] = "";
    snprintf (uri, sizeof uri, "postgresql://lilac@%s:%d/lilac?sslmode=disable", host,
              proxied->port);
    store_t *store = store_open (uri, true, error, sizeof error);
    CHECK (store, "open through the proxy at %s: %s", host, error);
    return store;
}

//  Ends the proxy.
static void
s_proxy_end (s_proxied_t *proxied)
{
    if (proxied->control >= 0)
        close (proxied->control);       //  the proxy ends
    if (proxied->pid > 0)
        waitpid (proxied->pid, NULL, 0);
}

//  The reads session connecting over TCP while the server's accept queue
//  is full (a handshake that takes a second): the store waits for the
//  socket before each step of the connect instead of failing, and the
//  read is answered once the handshake is through.
static void
s_check_connect_stall (const char *socket_dir)
{
    TEST ("postgresql: a reads session whose TCP handshake stalls waits for its socket and "
          "is answered, not failed");
    s_proxied_t proxied;
    store_t *store = s_open_proxied (socket_dir, "127.0.0.1", &proxied);
    int control = proxied.control, port = proxied.port;
    if (store) {
        CHECK (s_proxy_tell (control, 'p'), "pause");
        //  the first filler takes the one place in the accept queue (it is
        //  connected when writable); the kernel drops the SYNs after it
        int fillers [2] = { s_tcp_start (port), -1 };
        struct pollfd item = { fillers [0], POLLOUT, 0 };
        CHECK (poll (&item, 1, 2000) == 1, "the first filler is connected");
        fillers [1] = s_tcp_start (port);
        store_read_t read = { .kind = STORE_READ_SINCE, .limit = 10, .budget = 1000 };
        chain_t chain = { .count = 0 };
        uint64_t oldest = 0;
        int rc = store_read_send (store, &read);
        //  as turns would, busy or not: a poll at once, then every 20 ms
        for (int turn = 0; rc == 0 || (rc == 1 && turn < 15); turn++) {
            rc = store_read_poll (store, s_chain_add, &chain, &oldest);
            usleep (20 * 1000);
        }
        CHECK (rc == 1, "still connecting, not failed: %d (%s)", rc, store_read_error (store));
        CHECK (s_proxy_tell (control, 'r'), "resume");
        rc = s_read_answer_rest (store, rc, &chain, &oldest);
        CHECK (rc == 0, "answered once the handshake went through: %d (%s)", rc,
               store_read_error (store));
        close (fillers [0]);
        close (fillers [1]);
        store_destroy (&store);
    }
    s_proxy_end (&proxied);
}

//  A URI with a host name: the reads session goes to the address the main
//  session reached (hostaddr beside the name: no lookup in the loop), and
//  a read is answered on it.
static void
s_check_host_name (const char *socket_dir)
{
    TEST ("postgresql: through a host name, the reads session is answered at the main "
          "session's address");
    s_proxied_t proxied;
    store_t *store = s_open_proxied (socket_dir, "localhost", &proxied);
    if (store) {
        store_read_t read = { .kind = STORE_READ_SINCE, .limit = 10, .budget = 1000 };
        chain_t chain = { .count = 0 };
        uint64_t oldest = 0;
        int rc = s_read_answer (store, &read, &chain, &oldest);
        CHECK (rc == 0, "answered: %d (%s)", rc, store_read_error (store));
        store_destroy (&store);
    }
    s_proxy_end (&proxied);
}

static void
s_remove_database (const char *path)
{
    char name [512];
    const char *suffixes [] = { "", "-wal", "-shm", ".lock" };
    for (int index = 0; index < 4; index++) {
        snprintf (name, sizeof name, "%s%s", path, suffixes [index]);
        unlink (name);
    }
}

//  The cases every backend must pass, on a fresh store at path ("sqlite:FILE",
//  or a PostgreSQL URI); closes it.
static void
s_generic_cases (const char *backend, const char *path)
{
    loaded_t loaded = { .count = 0 };
    printf ("# backend %s\n", backend);
    TEST ("every backend: a refresh's times are laid over the row at load; a full write drops them");
    store_t *store = s_open (path);
    if (!CHECK (store, "open %s (backend %s)", path, backend))
        return;
    alert_t alert = s_alert ("heartbeat", 1000);
    store_handle_t handle = 0;
    CHECK (s_put (store, &alert, &handle) == 0 && store_handle_written (store, handle),
           "insert: %s", store_error (store));
    alert.updated_at = 2000;
    alert.raise_at = 302000;
    alert.clear_at = 900000;
    CHECK (store_begin (store, true) == 0 && store_put_times (store, &alert, handle) == 0
           && store_commit (store) == 0, "times: %s", store_error (store));
    store_times_committed (store, &handle);
    if (CHECK (s_load (store, &loaded) == 1, "loaded %zu", loaded.count)) {
        const alert_t *got = &loaded.alerts [0];
        CHECK (loaded.handles [0] == handle, "the loaded handle is not the one written");
        CHECK (got->updated_at == 2000 && got->raise_at == 302000 && got->clear_at == 900000,
               "times not laid over: updated %lld raise %lld clear %lld",
               (long long) got->updated_at, (long long) got->raise_at, (long long) got->clear_at);
        CHECK (strcmp (got->summary, "/var is full") == 0, "the rest of the row is lost");
    }
    alert.updated_at = 3000;
    alert.raise_at = 0;
    alert.clear_at = 0;
    alert.state = ALERT_RAISED;
    alert.notify_count = 1;
    store_handle_t same = handle;
    CHECK (s_put (store, &alert, &same) == 0 && store_handle_written (store, same), "full write");
    if (CHECK (s_load (store, &loaded) == 1, "loaded %zu", loaded.count))
        CHECK (loaded.handles [0] == same && loaded.alerts [0].raise_at == 0
               && loaded.alerts [0].state == ALERT_RAISED,
               "after a full write: raise_at %lld, state %s",
               (long long) loaded.alerts [0].raise_at, alert_state_name (loaded.alerts [0].state));
    handle = same;

    TEST ("every backend: a handle that names another alert is not overwritten: the row goes in by key");
    alert_t other = s_alert ("disk-/", 1000);
    store_handle_t wrong = handle;          //  as after a rolled-back insert
    CHECK (s_put (store, &other, &wrong) == 0, "write: %s", store_error (store));
    //  (SQLite's handle is the rowid: it moves to the row's own; PostgreSQL
    //  writes by key and keeps only "written")
    bool by_rowid = strcmp (backend, "sqlite") == 0;
    CHECK (store_handle_written (store, wrong) && (wrong != handle || !by_rowid),
           "the handle did not move");
    if (CHECK (s_load (store, &loaded) == 2, "loaded %zu", loaded.count))
        for (size_t index = 0; index < loaded.count && by_rowid; index++)
            CHECK (strcmp (loaded.alerts [index].id, loaded.handles [index] == handle
                           ? "heartbeat" : "disk-/") == 0, "handle %llx holds %s",
                   (unsigned long long) loaded.handles [index], loaded.alerts [index].id);
    if (loaded.count == 2)
        CHECK (strcmp (loaded.alerts [0].id, loaded.alerts [1].id) != 0
               && (strcmp (loaded.alerts [0].summary, "/var is full") == 0),
               "both alerts are there, each once");

    TEST ("every backend: a deleted alert takes its times along: a new alert in its place has none");
    other.updated_at = 99000;               //  times that must not come back
    CHECK (store_begin (store, true) == 0 && store_put_times (store, &other, wrong) == 0
           && store_delete_alert (store, other.source, other.id, wrong) == 0
           && store_commit (store) == 0, "delete: %s", store_error (store));
    alert_t fresh = s_alert ("load", 5000);
    store_handle_t fresh_handle = 0;
    CHECK (s_put (store, &fresh, &fresh_handle) == 0, "insert");
    if (CHECK (s_load (store, &loaded) == 2, "loaded %zu", loaded.count))
        for (size_t index = 0; index < loaded.count; index++)
            CHECK (loaded.alerts [index].updated_at != 99000, "%s has the deleted one's times",
                   loaded.alerts [index].id);

    TEST ("every backend: the rows seq is the last seq at first, then what the checkpoint says; "
          "history after it is never pruned");
    uint64_t rows_seq = 99;
    CHECK (store_rows_seq (store, &rows_seq) == 0 && rows_seq == 0, "new: %" PRIu64, rows_seq);
    int deleted = -1;
    CHECK (store_begin (store, true) == 0, "begin");
    for (uint64_t seq = 1; seq <= 4; seq++)
        CHECK (store_put_change (store, seq, 1000, "raised", &fresh, "x", 1, 0) == 0, "change");
    CHECK (store_set_seq (store, 4) == 0 && store_set_rows_seq (store, 2) == 0
           && store_commit (store) == 0, "commit: %s", store_error (store));
    CHECK (store_rows_seq (store, &rows_seq) == 0 && rows_seq == 2, "rows seq %" PRIu64, rows_seq);
    CHECK (store_begin (store, false) == 0
           && store_prune_history (store, 5000, rows_seq, 100, &deleted) == 0
           && store_commit (store) == 0, "prune: %s", store_error (store));
    uint64_t oldest = 0;
    CHECK (deleted == 2 && store_oldest_seq (store, &oldest) == 0 && oldest == 3,
           "pruned %d rows, the oldest left is %" PRIu64 ": history after the rows seq stays",
           deleted, oldest);

    TEST ("every backend: one alert's history walked back along prev_seq, up to a limit, "
          "ending at another alert's row or a pruned one");
    alert_t neighbour = s_alert ("neighbour", 6000);
    CHECK (store_begin (store, true) == 0
           && store_put_change (store, 5, 1000, "raised", &fresh, "e", 1, 1) == 0
           && store_put_change (store, 6, 1000, "raised", &neighbour, "o", 1, 0) == 0
           && store_put_change (store, 7, 1000, "cleared", &fresh, "g", 1, 5) == 0
           && store_put_change (store, 8, 1000, "raised", &fresh, "h", 1, 6) == 0
           && store_set_seq (store, 8) == 0 && store_commit (store) == 0,
           "commit: %s", store_error (store));
    chain_t chain = { .count = 0 };
    CHECK (store_history_chain (store, 7, 0, "web1", "load", 10, s_chain_add, &chain) == 0
           && chain.count == 2 && chain.seq [0] == 7 && chain.seq [1] == 5
           && chain.body [0] == 'g' && chain.body [1] == 'e',
           "7, then 5, whose change before (1) was pruned: %zu rows (%" PRIu64 ", %" PRIu64 ")",
           chain.count, chain.seq [0], chain.seq [1]);
    chain.count = 0;
    CHECK (store_history_chain (store, 7, 0, "web1", "load", 1, s_chain_add, &chain) == 0
           && chain.count == 1 && chain.seq [0] == 7, "the limit: %zu rows", chain.count);
    chain.count = 0;
    CHECK (store_history_chain (store, 3, 0, "web1", "load", 10, s_chain_add, &chain) == 0
           && chain.count == 1 && chain.seq [0] == 3, "a first change ends it: %zu rows",
           chain.count);
    chain.count = 0;
    CHECK (store_history_chain (store, 8, 0, "web1", "load", 10, s_chain_add, &chain) == 0
           && chain.count == 1, "row 8's prev_seq names another alert's row: %zu rows",
           chain.count);
    chain.count = 0;
    CHECK (store_history_chain (store, 6, 0, "web1", "load", 10, s_chain_add, &chain) == 0
           && chain.count == 0, "row 6 is another alert's: %zu rows", chain.count);
    chain.count = 0;
    CHECK (store_history_chain (store, 7, 7, "web1", "load", 10, s_chain_add, &chain) == 0
           && chain.count == 1 && chain.seq [0] == 5, "below 7, the alert's row: from its "
           "change before, 5: %zu rows", chain.count);
    chain.count = 0;
    CHECK (store_history_chain (store, 7, 6, "web1", "load", 10, s_chain_add, &chain) == 0
           && chain.count == 1 && chain.seq [0] == 5, "below 6, another alert's row: walked "
           "from 7 to 5: %zu rows", chain.count);
    chain.count = 0;
    CHECK (store_history_chain (store, 5, 7, "web1", "load", 10, s_chain_add, &chain) == 0
           && chain.count == 1 && chain.seq [0] == 5, "below 7, newer than the newest 5 "
           "asked for: from 5: %zu rows", chain.count);

    TEST ("every backend: a since read answered through store_read_poll, cut at upto; on "
          "PostgreSQL (answered later) the rows that start past the byte budget are not sent");
    chain.count = 0;
    uint64_t kept = 0;
    store_read_t read = { .kind = STORE_READ_SINCE, .seq = 2, .upto = 7, .limit = 10,
                          .budget = by_rowid ? 0 : 2 };
    int rc = s_read_answer (store, &read, &chain, &kept);
    CHECK (rc == 0 && kept == 3, "answered %d (%s), the oldest kept %" PRIu64, rc,
           store_read_error (store), kept);
    if (by_rowid)
        CHECK (chain.count == 5 && chain.seq [0] == 3 && chain.seq [4] == 7,
               "3 to 7: %zu rows", chain.count);
    else
        CHECK (chain.count == 3 && chain.seq [0] == 3 && chain.seq [2] == 5,
               "bodies of a byte, a budget of 2: the two that fit and the one that starts "
               "at 2 (so the caller knows there are more): %zu rows", chain.count);
    CHECK (store_reads_later (store) == !by_rowid, "PostgreSQL answers reads later");

    store_destroy (&store);
    s_loaded_free (&loaded);
}

//  Alerts "times-N" seen at load, and how many of them carry the times
//  s_times_of (N, round) says.
typedef struct {
    int round;
    int seen;
    int right;
    char wrong [200];              //  the first one that did not
} times_check_t;

static int64_t
s_times_of (int number, int round, int field)
{
    return 1000000 * round + 1000 * field + number;
}

static void
s_check_times (alert_t *alert, store_handle_t handle, void *arg)
{
    (void) handle;
    times_check_t *check = arg;
    int number = -1;
    if (sscanf (alert->id, "times-%d", &number) == 1) {
        check->seen++;
        if (alert->updated_at == s_times_of (number, check->round, 1)
        &&  alert->raise_at == s_times_of (number, check->round, 2)
        &&  alert->clear_at == s_times_of (number, check->round, 3))
            check->right++;
        else
        if (!check->wrong [0])
            snprintf (check->wrong, sizeof check->wrong, "%s: updated %lld raise %lld clear %lld",
                      alert->id, (long long) alert->updated_at, (long long) alert->raise_at,
                      (long long) alert->clear_at);
    }
    alert_clear_fields (alert);
}

//  Loads and checks that all `count` alerts carry round's times.
static void
s_expect_times (store_t *store, int count, int round, const char *what)
{
    times_check_t check = { .round = round };
    CHECK (store_load (store, s_check_times, &check) == 0 && check.seen == count
           && check.right == count, "%s: %d of %d alerts loaded, %d with their own times (%s)",
           what, check.seen, count, check.right, check.wrong);
}

//  SQLite writes times many to a statement (store_sqlite.c): a transaction
//  of more than two statements' worth, and a few over, must put each
//  alert's times on that alert; a rolled-back one's on none.
static void
s_many_times_case (const char *backend, const char *path)
{
    enum { COUNT = 2 * 64 + 19 };
    TEST ("every backend: the times of many alerts in one transaction each land on their own "
          "alert (more than two of SQLite's statements of times, and a few over); a rolled-back "
          "transaction's on none");
    store_t *store = s_open (path);
    if (!CHECK (store, "open %s (backend %s)", path, backend))
        return;
    store_handle_t handles [COUNT];
    alert_t alerts [COUNT];
    char ids [COUNT][32];
    for (int number = 0; number < COUNT; number++) {
        snprintf (ids [number], sizeof ids [number], "times-%d", number);
        alerts [number] = s_alert (ids [number], 1000);
        handles [number] = 0;
        if (s_put (store, &alerts [number], &handles [number]))
            break;
    }
    for (int round = 1; round <= 2; round++) {
        int written = store_begin (store, false);
        for (int number = 0; written == 0 && number < COUNT; number++) {
            alerts [number].updated_at = s_times_of (number, round, 1);
            alerts [number].raise_at = s_times_of (number, round, 2);
            alerts [number].clear_at = s_times_of (number, round, 3);
            written = store_put_times (store, &alerts [number], handles [number]);
        }
        if (round == 1)
            CHECK (written == 0 && store_commit (store) == 0, "commit: %s", store_error (store));
        else
            store_rollback (store);
    }
    for (int number = 0; number < COUNT; number++)
        store_times_committed (store, &handles [number]);
    s_expect_times (store, COUNT, 1, "after the commit, and a rollback of round 2");
    CHECK (store_begin (store, true) == 0 && store_commit (store) == 0,
           "a transaction after the rollback: %s", store_error (store));
    store_destroy (&store);
    store = s_open (path);
    if (CHECK (store, "open again"))
        s_expect_times (store, COUNT, 1, "opened again");
    store_destroy (&store);
}

int
main (void)
{
    char directory [] = "/tmp/lilac-test-store.XXXXXX";
    if (!mkdtemp (directory)) {
        perror ("mkdtemp");
        return 1;
    }
    char path [256], old_path [256];
    snprintf (path, sizeof path, "%s/store.db", directory);
    snprintf (old_path, sizeof old_path, "%s/old.db", directory);
    loaded_t loaded = { .count = 0 };

    //  Every backend: a SQLite file, and a real PostgreSQL of our own
    char generic_path [300];
    snprintf (generic_path, sizeof generic_path, "sqlite:%s/generic.db", directory);
    s_generic_cases ("sqlite", generic_path);
    snprintf (generic_path, sizeof generic_path, "sqlite:%s/times.db", directory);
    s_many_times_case ("sqlite", generic_path);
    char pg_dir [300], uri [512];
    snprintf (pg_dir, sizeof pg_dir, "%s/pg", directory);
    TEST ("every backend: a PostgreSQL 15 of our own starts (tests/lib/pg_cluster)");
    if (CHECK (pg_start (pg_dir, uri, sizeof uri) == 0, "pg_cluster start %s failed", pg_dir)) {
        s_generic_cases ("postgresql", uri);
        s_many_times_case ("postgresql", uri);
        s_check_connect_stall (pg_dir);
        s_check_host_name (pg_dir);
    }
    pg_stop (pg_dir);

    TEST ("store_redact: what logs and hugz show of a database has no password");
    const char *redactions [][2] = {
        { "var/lilac.db", "var/lilac.db" },
        { "postgresql://lilac:hunter2@db.example.net/lilac", "postgresql://lilac@db.example.net/lilac" },
        { "postgresql:///lilac?host=/run&password=hunter2", "postgresql:///lilac?host=/run" },
        { "postgresql:///lilac?password=hunter2&sslmode=require", "postgresql:///lilac?sslmode=require" },
        { "postgres://u@h/d?sslmode=verify-full", "postgres://u@h/d?sslmode=verify-full" },
        { "host=db password=hunter2 dbname=lilac", "host=db dbname=lilac" },
    };
    for (size_t index = 0; index < sizeof redactions / sizeof redactions [0]; index++) {
        char shown [256];
        store_redact (redactions [index][0], shown, sizeof shown);
        CHECK (strcmp (shown, redactions [index][1]) == 0, "%s shown as '%s'",
               redactions [index][0], shown);
    }

    TEST ("store_open: a postgresql:// database that cannot be reached is named in the error, "
          "without its password");
    char why [512] = "";
    store_t *refused = store_open ("postgresql://lilac:hunter2@/lilac?host=/nonexistent", true,
                                   why, sizeof why);
    CHECK (!refused && strstr (why, "cannot connect to postgresql://lilac@/lilac")
           && !strstr (why, "hunter2"), "store_open said '%s'", why);

    store_t *store = s_open (path);
    if (!CHECK (store, "open"))
        return check_done ();
    alert_t alert = s_alert ("heartbeat", 1000);
    store_handle_t handle = 0;
    CHECK (s_put (store, &alert, &handle) == 0, "insert: %s", store_error (store));
    TEST ("the log is copied by the store's own thread when the broker asks: not inside a "
          "commit, and not in store_maintain's call");
    CHECK (store_begin (store, true) == 0, "begin");
    CHECK (s_put_bulk (store, "bulk", 2000, 1000, 0) == 0, "2000 rows");
    CHECK (store_commit (store) == 0, "commit");
    size_t pages = store_log_pages (store);
    CHECK (pages >= 100, "2000 rows, and %zu pages in the log", pages);
    alert.updated_at = 4000;
    CHECK (s_put (store, &alert, &handle) == 0, "another commit");
    CHECK (store_log_pages (store) >= pages, "SQLite copied the log inside a commit");
    CHECK (store_maintain (store) == 0, "upkeep: %s", store_error (store));
    CHECK (store_log_pages (store) >= pages, "the log was copied in store_maintain's call");
    int64_t deadline = zclock_mono () + 10000;
    while (store_log_pages (store) >= 100 && zclock_mono () < deadline) {
        CHECK (store_maintain (store) == 0, "upkeep: %s", store_error (store));
        zclock_sleep (1);
    }
    CHECK (store_log_pages (store) < 100, "%zu pages still in the log 10 s after the upkeep",
           store_log_pages (store));

    TEST ("a copy the log copier does not answer (a disk that hangs) is said by "
          "store_maintain, again as long after, and the copier's answer ends it");
    CHECK (store_stall_copier (store, 1500, 300) == 0, "stall the copier");
    CHECK (store_begin (store, true) == 0, "begin");
    CHECK (s_put_bulk (store, "stalled", 2000, 1000, 0) == 0, "2000 rows");
    CHECK (store_commit (store) == 0, "commit");
    CHECK (store_maintain (store) == 0, "upkeep asks for a copy: %s", store_error (store));
    int said = 0;
    bool overdue_named = true;
    deadline = zclock_mono () + 10000;
    while (store_log_pages (store) >= 100 && zclock_mono () < deadline) {
        if (store_maintain (store)) {
            said++;
            overdue_named &= strstr (store_error (store), "has not answered a copy") != NULL;
        }
        zclock_sleep (5);
    }
    CHECK (store_log_pages (store) < 100, "the stalled copier never copied: %zu pages",
           store_log_pages (store));
    CHECK (said >= 2 && said <= 5 && overdue_named,
           "a copy stalled 1.5 s, overdue at 0.3 s, was said %d times (named: %d)", said,
           overdue_named);
    CHECK (store_maintain (store) == 0, "upkeep after the answer: %s", store_error (store));
    CHECK (store_stall_copier (store, 0, 30000) == 0, "unstall the copier");

    TEST ("once the log holds 10000 pages, a commit is answered when the log is copied "
          "whole, and the next transaction starts it over");
    char wal_path [300];
    snprintf (wal_path, sizeof wal_path, "%s-wal", path);
    bool reached = false, restarted = false;
    for (int round = 0; round < 80 && !restarted; round++) {
        //  No upkeep between rounds: only the wait at the mark copies the log
        size_t before = store_log_pages (store);
        CHECK (store_begin (store, false) == 0, "begin");
        CHECK (s_put_bulk (store, "steady", 200, 8000, round) == 0, "round %d", round);
        if (!CHECK (s_commit_answered (store) == 0, "round %d: %s", round, store_error (store)))
            break;
        size_t after = store_log_pages (store);
        if (reached) {
            restarted = after < 1000;
            CHECK (restarted, "round %d: the log did not start over: %zu pages", round, after);
        }
        else
        if (after == 0) {
            reached = true;     //  the commit that crossed the mark: copied whole
            CHECK (before >= 9000, "round %d: the log was copied at %zu pages, short of the "
                   "mark", round, before);
        }
    }
    CHECK (reached && restarted, "the log never reached 10000 pages, or never started over");
    struct stat wal;
    CHECK (stat (wal_path, &wal) == 0 && wal.st_size < 11000 * 4096,
           "the log grew to %lld bytes", (long long) wal.st_size);
    store_destroy (&store);
    s_loaded_free (&loaded);

    TEST ("an old alerts table WITHOUT ROWID is moved over with its rows");
    CHECK (s_write_old_database (old_path) == 0, "old database");
    store = s_open (old_path);
    if (CHECK (store, "open the old database")) {
        if (CHECK (s_load (store, &loaded) == 2, "loaded %zu", loaded.count))
            CHECK (store_handle_written (store, loaded.handles [0])
                   && store_handle_written (store, loaded.handles [1])
                   && loaded.handles [0] != loaded.handles [1], "handles %llx %llx",
                   (unsigned long long) loaded.handles [0],
                   (unsigned long long) loaded.handles [1]);
        CHECK (s_old_tables (old_path) == 0, "%d tables still WITHOUT ROWID",
               s_old_tables (old_path));
        alert_t moved = s_alert ("old-a", 1000);
        store_handle_t moved_handle = loaded.handles [0];
        moved.summary = "written after the move";
        CHECK (s_put (store, &moved, &moved_handle) == 0, "write: %s", store_error (store));
        store_destroy (&store);
    }
    store = s_open (old_path);
    if (CHECK (store, "reopen")) {
        CHECK (s_load (store, &loaded) == 2, "loaded %zu after reopening", loaded.count);
        store_destroy (&store);
    }
    s_loaded_free (&loaded);

    TEST ("an old history table gets prev_seq, each row linked to its alert's previous");
    s_remove_database (old_path);
    CHECK (s_write_old_history (old_path) == 0, "old history");
    store = s_open (old_path);
    if (CHECK (store, "open the old database")) {
        uint64_t rows_seq = 0;
        chain_t chain = { .count = 0 };
        CHECK (store_rows_seq (store, &rows_seq) == 0 && rows_seq == 3,
               "an older database's rows hold its whole history: rows seq %" PRIu64, rows_seq);
        CHECK (store_history_chain (store, 3, 0, "web1", "a", 10, s_chain_add, &chain) == 0
               && chain.count == 2 && chain.seq [0] == 3 && chain.seq [1] == 1,
               "web1/a from 3: %zu rows, then %" PRIu64, chain.count, chain.seq [1]);
        chain.count = 0;
        CHECK (store_history_chain (store, 2, 0, "web1", "a", 10, s_chain_add, &chain) == 0
               && chain.count == 0, "row 2 is web1/b's, not web1/a's");
        alert_t next = s_alert ("a", 1000);
        CHECK (store_begin (store, true) == 0
               && store_put_change (store, 4, 4, "raised", &next, "x", 1, 3) == 0
               && store_commit (store) == 0, "a new row: %s", store_error (store));
        chain.count = 0;
        CHECK (store_history_chain (store, 4, 0, "web1", "a", 10, s_chain_add, &chain) == 0
               && chain.count == 3 && chain.seq [1] == 3, "row 4, then 3: %zu rows",
               chain.count);
        store_destroy (&store);
    }

    s_remove_database (path);
    s_remove_database (old_path);
    char generic_file [300];            //  (generic_path without its "sqlite:")
    snprintf (generic_file, sizeof generic_file, "%s/generic.db", directory);
    s_remove_database (generic_file);
    snprintf (generic_file, sizeof generic_file, "%s/times.db", directory);
    s_remove_database (generic_file);
    if (rmdir (directory))
        printf ("#   %s is left behind: %s\n", directory, strerror (errno));
    return check_done ();
}
