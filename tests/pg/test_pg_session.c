/*  test_pg_session.c — the PostgreSQL facts lilac's active/standby design
    (DESIGN.md §11, issue 17 §3) stands on, checked against a real server.

    Starts a PostgreSQL 15 of its own (tests/lib/pg_cluster, a Unix socket
    in a temp dir, no TCP) and talks to it with libpq from C, as the
    broker's store will:
    - a session advisory lock is held by one session at a time:
      pg_try_advisory_lock answers true to the first, false to a second
      (the standby's retry is this call, never a wait);
    - pg_terminate_backend of the holder releases its lock: the other
      session gets it within the deadline, and the terminated session's
      socket turns readable at once (a poll loop sees the loss without a
      round trip of its own), its next query failing with the connection;
    - closing the holder's connection (a broker that stops) releases it too;
    - fencing: once a new holder has bumped meta's epoch, the old one's
      conditional UPDATE ... WHERE value = its epoch touches no row, so its
      transaction can be rolled back instead of committed.
    Waits poll against a deadline (PG_TEST_DEADLINE_MS); the whole file
    takes about 2 s, most of it initdb. PG_CLUSTER overrides the path of
    the script (default tests/lib/pg_cluster, from the top of the tree, as
    `make test` runs). The cluster is stopped and its directory removed at
    the end, also after a failed case.
*/
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../check.h"

extern char **environ;

#define PG_TEST_DEADLINE_MS 5000
#define PG_TEST_URI_MAX 512

static char s_dir [256];            //  the cluster's directory ("" before mkdtemp)

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static const char *
s_script (void)
{
    const char *script = getenv ("PG_CLUSTER");
    return script && *script ? script : "tests/lib/pg_cluster";
}

//  Runs `pg_cluster COMMAND DIR`; its first line of output into out (may be
//  NULL). Exit status 0, or -1.
static int
s_pg_cluster (const char *command, char *out, size_t out_size)
{
    int pipe_fds [2];
    if (pipe2 (pipe_fds, O_CLOEXEC))
        return -1;
    posix_spawn_file_actions_t actions;
    if (posix_spawn_file_actions_init (&actions)) {
        close (pipe_fds [0]);
        close (pipe_fds [1]);
        return -1;
    }
    //  Both ends close-on-exec: the server that pg_ctl leaves running keeps
    //  every descriptor it inherits, and a write end held there would keep
    //  the read below from ever seeing EOF. dup2 clears the flag on fd 1.
    posix_spawn_file_actions_adddup2 (&actions, pipe_fds [1], 1);
    char script [256], verb [16];
    snprintf (script, sizeof script, "%s", s_script ());
    snprintf (verb, sizeof verb, "%s", command);
    char *argv [] = { script, verb, s_dir, NULL };
    pid_t pid;
    int rc = posix_spawn (&pid, argv [0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&actions);
    close (pipe_fds [1]);
    if (rc) {
        printf ("# spawn %s: %s\n", argv [0], strerror (rc));
        close (pipe_fds [0]);
        return -1;
    }
    char buffer [PG_TEST_URI_MAX] = "";
    size_t size = 0;
    ssize_t got;
    while ((got = read (pipe_fds [0], buffer + size, sizeof buffer - 1 - size)) > 0
           || (got < 0 && errno == EINTR))
        size += got > 0 ? (size_t) got : 0;
    close (pipe_fds [0]);
    buffer [size] = 0;
    buffer [strcspn (buffer, "\n")] = 0;
    if (out)
        snprintf (out, out_size, "%s", buffer);
    int status;
    while (waitpid (pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED (status) && WEXITSTATUS (status) == 0 ? 0 : -1;
}

static int
s_remove_one (const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void) info; (void) flag; (void) ftw;
    if (remove (path))
        printf ("# remove %s: %s\n", path, strerror (errno));
    return 0;
}

static PGconn *
s_connect (const char *uri)
{
    PGconn *conn = PQconnectdb (uri);
    if (conn && PQstatus (conn) != CONNECTION_OK) {
        printf ("# connect %s: %s", uri, PQerrorMessage (conn));
        PQfinish (conn);
        return NULL;
    }
    return conn;
}

//  The one value of a one-row query, copied into value; 0, or -1 (the
//  error printed as a diagnostic).
static int
s_value (PGconn *conn, const char *sql, char *value, size_t value_size)
{
    PGresult *result = PQexec (conn, sql);
    int rc = -1;
    if (PQresultStatus (result) == PGRES_TUPLES_OK && PQntuples (result) == 1) {
        snprintf (value, value_size, "%s", PQgetvalue (result, 0, 0));
        rc = 0;
    }
    else
        printf ("# %s: %s", sql, PQerrorMessage (conn));
    PQclear (result);
    return rc;
}

//  "t" or "f" from pg_try_advisory_lock(1); "" on failure.
static const char *
s_try_lock (PGconn *conn)
{
    static char answer [8];
    if (s_value (conn, "SELECT pg_try_advisory_lock(1)", answer, sizeof answer))
        answer [0] = 0;
    return answer;
}

//  Polls pg_try_advisory_lock(1) from conn until it is granted or the
//  deadline passes; the milliseconds it took, or -1.
static int64_t
s_lock_within_deadline (PGconn *conn)
{
    int64_t start = s_now_ms ();
    while (s_now_ms () - start < PG_TEST_DEADLINE_MS) {
        const char *answer = s_try_lock (conn);
        if (strcmp (answer, "t") == 0)
            return s_now_ms () - start;
        if (strcmp (answer, "f") != 0)
            return -1;
        struct timespec pause = { 0, 10 * 1000000 };
        nanosleep (&pause, NULL);
    }
    return -1;
}

static void
s_case_connect (const char *uri, PGconn **holder_p, PGconn **standby_p)
{
    TEST ("two libpq sessions reach the test cluster over its Unix socket only");
    *holder_p = s_connect (uri);
    *standby_p = s_connect (uri);
    if (!CHECK (*holder_p && *standby_p, "cannot connect to %s", uri))
        return;
    char value [64];
    CHECK (s_value (*holder_p, "SELECT inet_server_addr() IS NULL", value, sizeof value) == 0
           && strcmp (value, "t") == 0, "not a Unix socket session");
    CHECK (s_value (*holder_p, "SHOW fsync", value, sizeof value) == 0
           && strcmp (value, "on") == 0, "fsync is %s, not on as a real install", value);
    CHECK (PQsocket (*holder_p) >= 0, "no socket");
}

static void
s_case_one_holder (PGconn *holder, PGconn *standby)
{
    TEST ("pg_try_advisory_lock: the first session gets it, a second does not");
    const char *answer = s_try_lock (holder);
    CHECK (strcmp (answer, "t") == 0, "holder got '%s'", answer);
    answer = s_try_lock (standby);
    CHECK (strcmp (answer, "f") == 0, "second session got '%s'", answer);
    answer = s_try_lock (standby);
    CHECK (strcmp (answer, "f") == 0, "second session, again, got '%s'", answer);
}

//  Sets holder's epoch, then standby takes over and bumps it: the holder's
//  fenced UPDATE affects no row.
static void
s_case_fencing (PGconn *holder, PGconn *standby)
{
    TEST ("fencing: the old holder's UPDATE ... WHERE value = its epoch touches no row");
    PGresult *result = PQexec (holder,
        "CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);"
        "INSERT INTO meta VALUES ('epoch', '1')");
    CHECK (PQresultStatus (result) == PGRES_COMMAND_OK, "%s", PQerrorMessage (holder));
    PQclear (result);
    result = PQexec (standby, "UPDATE meta SET value = '2' WHERE key = 'epoch' AND value = '1'");
    CHECK (PQresultStatus (result) == PGRES_COMMAND_OK
           && strcmp (PQcmdTuples (result), "1") == 0, "takeover bump: %s %s",
           PQcmdTuples (result), PQerrorMessage (standby));
    PQclear (result);
    result = PQexec (holder, "BEGIN;"
                             "UPDATE meta SET value = '1' WHERE key = 'epoch' AND value = '1'");
    CHECK (PQresultStatus (result) == PGRES_COMMAND_OK
           && strcmp (PQcmdTuples (result), "0") == 0, "fenced UPDATE touched %s rows %s",
           PQcmdTuples (result), PQerrorMessage (holder));
    PQclear (result);
    result = PQexec (holder, "ROLLBACK");
    CHECK (PQresultStatus (result) == PGRES_COMMAND_OK, "%s", PQerrorMessage (holder));
    PQclear (result);
}

static void
s_case_terminate (PGconn **holder_p, PGconn *standby)
{
    TEST ("pg_terminate_backend of the holder: its lock is released, its socket turns readable");
    PGconn *holder = *holder_p;
    char query [96];
    snprintf (query, sizeof query, "SELECT pg_terminate_backend(%d)", PQbackendPID (holder));
    char value [8];
    CHECK (s_value (standby, query, value, sizeof value) == 0 && strcmp (value, "t") == 0,
           "pg_terminate_backend answered '%s'", value);
    int64_t took = s_lock_within_deadline (standby);
    CHECK (took >= 0, "the lock was not released within %d ms", PG_TEST_DEADLINE_MS);
    printf ("# lock granted to the other session %lld ms after the termination\n",
            (long long) took);
    struct pollfd item = { .fd = PQsocket (holder), .events = POLLIN };
    int ready = poll (&item, 1, PG_TEST_DEADLINE_MS);
    CHECK (ready == 1, "the terminated session's socket is not readable (%d)", ready);
    PGresult *result = PQexec (holder, "SELECT 1");
    CHECK (PQresultStatus (result) == PGRES_FATAL_ERROR, "a query after termination: %s",
           PQresStatus (PQresultStatus (result)));
    PQclear (result);
    CHECK (PQstatus (holder) == CONNECTION_BAD, "the connection is still OK");
    PQfinish (holder);
    *holder_p = NULL;
}

//  Takes standby (the holder since the termination case) and closes it.
static void
s_case_close (const char *uri, PGconn *standby)
{
    TEST ("closing the holder's connection releases the lock");
    PGconn *next = s_connect (uri);
    if (!CHECK (next, "cannot connect")) {
        PQfinish (standby);
        return;
    }
    const char *answer = s_try_lock (next);
    CHECK (strcmp (answer, "f") == 0, "a third session got '%s' while one holds it", answer);
    PQfinish (standby);
    int64_t took = s_lock_within_deadline (next);
    CHECK (took >= 0, "the lock was not released within %d ms of PQfinish", PG_TEST_DEADLINE_MS);
    PQfinish (next);
}

int
main (void)
{
    const char *base = getenv ("TMPDIR");
    snprintf (s_dir, sizeof s_dir, "%s/lilac-pg.XXXXXX", base && *base ? base : "/tmp");
    char uri [PG_TEST_URI_MAX] = "";
    TEST ("pg_cluster starts a PostgreSQL 15 of the test's own");
    bool started = CHECK (mkdtemp (s_dir), "mkdtemp %s: %s", s_dir, strerror (errno))
                && CHECK (s_pg_cluster ("start", uri, sizeof uri) == 0, "pg_cluster start failed")
                && CHECK (strncmp (uri, "postgresql:///lilac?host=", 25) == 0, "uri '%s'", uri);
    if (started) {
        PGconn *holder = NULL, *standby = NULL;
        s_case_connect (uri, &holder, &standby);
        if (holder && standby) {
            s_case_one_holder (holder, standby);
            s_case_fencing (holder, standby);
            s_case_terminate (&holder, standby);
            s_case_close (uri, standby);
            standby = NULL;
        }
        PQfinish (holder);
        PQfinish (standby);
    }
    TEST ("pg_cluster stops it");
    if (s_dir [0] && strstr (s_dir, "XXXXXX") == NULL) {
        CHECK (s_pg_cluster ("stop", NULL, 0) == 0, "pg_cluster stop failed");
        CHECK (nftw (s_dir, s_remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "cannot remove %s", s_dir);
    }
    return check_done ();
}
