/*  store_pg.c — the store on PostgreSQL (libpq), for two or more brokers
    on one database (architecture §4, DESIGN §11).

    The same tables as the SQLite file, in PostgreSQL's types: alerts(source,
    id, state, level, changed_at, seq, row bytea, t_updated_at, t_raise_at,
    t_clear_at) — the t_ columns are what store_put_times writes over the
    row (SQLite's alert_times), NULL after a full write; history, silences
    and meta as store.h describes them (meta's values as text).

    Active and standby. store_open connects, then takes the session
    advisory lock STORE_PG_LOCK_KEY: the broker holding it is the active
    one. Until it gets it, open waits (retrying every STORE_PG_STANDBY_MS),
    and the broker, which binds its sockets only after the store is open,
    stays bound to nothing: a standby. PostgreSQL releases the lock when
    the holder's session ends (kill -9, pg_terminate_backend, a lost
    connection), and the next try of a standby takes it. The schema is
    created only by the holder.

    Fencing. store_epoch_start writes the epoch this broker publishes in;
    every later transaction ends with `UPDATE meta SET value = value WHERE
    key = 'epoch' AND value = MINE`, which must touch its row: a broker
    whose epoch another bumped (it took over) cannot commit. Such a broker,
    and one whose session is gone (its lock gone with it), is `lost`
    (store_lost): the core stops at once without writing, and the process
    exits so that systemd restarts it as a standby.

    Round trips. A transaction is sent in pipeline mode (PQenterPipelineMode):
    BEGIN, every write (history rows, alert rows and times each gathered
    into one statement over binary arrays), the fence and COMMIT go out
    together, with the socket non-blocking and the input drained while
    sending (a full pipe both ways would otherwise deadlock), then one
    sync. store_commit_send returns then: the broker's loop polls the
    socket (store_poll_fd) and store_commit_poll reads the answer as it
    comes, without waiting. Anything else asked of the store meanwhile
    (a read, a new transaction) first waits for that answer. Every wait is
    bounded: STORE_PG_DEADLINE_MS without a byte from the server, and the
    connection is lost.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "mem.h"
#include "store.h"
#include <time.h>

#define STORE_PG_DEADLINE_MS  5000          //  a round trip, at most
#define STORE_PG_STANDBY_MS   200           //  a standby tries the lock this often
//  The main session's application_name, which the active's count of its
//  standbys reads in pg_stat_activity (set after connecting: the URI's
//  own application_name, if any, names the reads session only)
#define STORE_PG_STANDBY_NAME "lilac-broker standby"
#define STORE_PG_ACTIVE_NAME  "lilac-broker active"
#define STORE_PG_LOCK_KEY     "7811491380297105763"   //  the advisory lock: "lilac" in a bigint

//  Handle bit: the alert's row was written before (store_put_times needs it).
#define S_HANDLE_WRITTEN      1

static const char s_schema [] =
    "CREATE TABLE IF NOT EXISTS alerts ("
    "  source TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL, level TEXT NOT NULL,"
    "  changed_at BIGINT, seq BIGINT, row BYTEA NOT NULL,"
    "  t_updated_at BIGINT, t_raise_at BIGINT, t_clear_at BIGINT,"
    "  PRIMARY KEY (source, id));"
    "CREATE TABLE IF NOT EXISTS history ("
    "  seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, event TEXT NOT NULL,"
    "  source TEXT NOT NULL, id TEXT NOT NULL, body BYTEA NOT NULL,"
    "  prev_seq BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    //  The fence: raises LF001 (and so aborts the transaction it ends) unless
    //  meta's epoch is still the caller's; FOR UPDATE orders it after a
    //  takeover's bump of the same row
    "CREATE OR REPLACE FUNCTION lilac_fence (mine TEXT) RETURNS VOID LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  PERFORM 1 FROM meta WHERE key = 'epoch' AND value = mine FOR UPDATE;"
    "  IF NOT FOUND THEN"
    "   RAISE EXCEPTION 'fenced: the epoch is no longer %', mine USING ERRCODE = 'LF001';"
    "  END IF;"
    " END $$;"
    "CREATE TABLE IF NOT EXISTS silences ("
    "  id TEXT PRIMARY KEY, ends BIGINT NOT NULL, seq BIGINT NOT NULL, body BYTEA NOT NULL);"
    //  A new database: its rows hold its (empty) history
    "INSERT INTO meta (key, value) VALUES ('rows_seq', '0') ON CONFLICT (key) DO NOTHING;";

//  Every statement, prepared once at open: name, SQL, parameter count.
typedef enum {
    Q_PUT_ALERT, Q_PUT_TIMES, Q_DELETE_ALERT, Q_PUT_CHANGE, Q_SET_META, Q_FENCE,
    Q_PUT_SILENCE, Q_PRUNE, Q_PRUNE_SILENCES, Q_LOAD, Q_LAST_SEQ, Q_GET_META, Q_SINCE,
    Q_HISTORY_CHAIN, Q_OLDEST, Q_LOAD_SILENCES, Q_COUNT
} query_t;

static const struct {
    const char *sql;
    int params;
} s_queries [Q_COUNT] = {
    //  The three batched writes take one binary array per column (s_batch_t)
    [Q_PUT_ALERT] = {
        "INSERT INTO alerts (source, id, state, level, changed_at, seq, row)"
        " SELECT * FROM unnest ($1::text[], $2::text[], $3::text[], $4::text[],"
        " $5::bigint[], $6::bigint[], $7::bytea[])"
        " ON CONFLICT (source, id) DO UPDATE SET"
        " state = excluded.state, level = excluded.level, changed_at = excluded.changed_at,"
        " seq = excluded.seq, row = excluded.row,"
        " t_updated_at = NULL, t_raise_at = NULL, t_clear_at = NULL", 7 },
    [Q_PUT_TIMES] = {
        "UPDATE alerts SET t_updated_at = t.updated_at, t_raise_at = t.raise_at,"
        " t_clear_at = t.clear_at FROM unnest ($1::text[], $2::text[], $3::bigint[],"
        " $4::bigint[], $5::bigint[]) AS t (source, id, updated_at, raise_at, clear_at)"
        " WHERE alerts.source = t.source AND alerts.id = t.id", 5 },
    [Q_DELETE_ALERT] = {
        "DELETE FROM alerts USING unnest ($1::text[], $2::text[]) AS t (source, id)"
        " WHERE alerts.source = t.source AND alerts.id = t.id", 2 },
    [Q_PUT_CHANGE] = {
        "INSERT INTO history (seq, at, event, source, id, body, prev_seq)"
        " SELECT * FROM unnest ($1::bigint[], $2::bigint[], $3::text[], $4::text[],"
        " $5::text[], $6::bytea[], $7::bigint[])", 7 },
    [Q_SET_META] = {
        "INSERT INTO meta (key, value) VALUES ($1, $2)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value", 2 },
    [Q_FENCE] = { "SELECT lilac_fence ($1)", 1 },
    [Q_PUT_SILENCE] = {
        "INSERT INTO silences (id, ends, seq, body) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (id) DO UPDATE SET ends = excluded.ends, seq = excluded.seq,"
        " body = excluded.body", 4 },
    //  Looks only at the $2 oldest rows, as SQLite's does, and never past $3
    [Q_PRUNE] = {
        "DELETE FROM history WHERE seq IN (SELECT seq FROM history WHERE seq <= $3"
        " ORDER BY seq LIMIT $2) AND at < $1", 3 },
    [Q_PRUNE_SILENCES] = { "DELETE FROM silences WHERE ends < $1", 1 },
    [Q_LOAD] = { "SELECT row, t_updated_at, t_raise_at, t_clear_at FROM alerts", 0 },
    [Q_LAST_SEQ] = {
        "SELECT greatest (coalesce ((SELECT value::bigint FROM meta WHERE key = 'seq'), 0),"
        " coalesce ((SELECT max (seq) FROM history), 0))", 0 },
    [Q_GET_META] = { "SELECT value FROM meta WHERE key = $1", 1 },
    [Q_SINCE] = { "SELECT seq, body FROM history WHERE seq > $1 ORDER BY seq LIMIT $2", 2 },
    //  One alert's changes below $5, newest first, walked along prev_seq on
    //  the server: from the change before row $5 when that is the alert's
    //  (a page after the first), else from $1, its newest, stepping over
    //  the rows not below $5; `given` counts the rows below, up to $4; the
    //  rows whose bytes start past $6 are not sent (one starting at $6 is:
    //  the caller, keeping $6 bytes, learns from it that there are more)
    [Q_HISTORY_CHAIN] = {
        "WITH RECURSIVE chain (seq, prev_seq, body, step, given) AS ("
        "  SELECT seq, prev_seq, body, 1, (seq < $5)::int FROM history"
        "  WHERE seq = coalesce ((SELECT prev_seq FROM history"
        "                         WHERE seq = $5 AND $5 <= $1 AND source = $2 AND id = $3), $1)"
        "  AND source = $2 AND id = $3"
        "  UNION ALL"
        "  SELECT history.seq, history.prev_seq, history.body, chain.step + 1,"
        "   chain.given + (history.seq < $5)::int"
        "  FROM chain JOIN history ON history.seq = chain.prev_seq"
        "  WHERE history.source = $2 AND history.id = $3 AND chain.given < $4)"
        " SELECT seq, body FROM (SELECT seq, body, step,"
        "  sum (length (body)) OVER (ORDER BY step) AS running FROM chain WHERE seq < $5) AS page"
        " WHERE running - length (body) <= $6 ORDER BY step", 6 },
    [Q_OLDEST] = { "SELECT coalesce (min (seq), 0) FROM history", 0 },
    [Q_LOAD_SILENCES] = { "SELECT body FROM silences ORDER BY seq", 0 },
};

//  PostgreSQL's type ids, for the binary arrays.
#define S_OID_TEXT   25
#define S_OID_INT8   20
#define S_OID_BYTEA  17
#define S_BATCH_COLUMNS 7
#define S_ARRAY_KEPT    (4 * 1024 * 1024)   //  an array's buffer kept between transactions

//  One binary array (array_recv's format: ndim, has-null, element type,
//  length and lower bound, then each element as a 4-byte length and its
//  bytes), grown as elements are added.
typedef struct {
    unsigned char *data;
    size_t size;
    size_t capacity;
    uint32_t elements;
    uint32_t type;
} s_array_t;

//  A write gathered for one statement over arrays: history rows, alert
//  rows, times, deletions. Sent as one statement (s_batch_send) before any other
//  statement of the transaction, and at its commit, so the order of the
//  writes is kept. A batch must not hold one alert twice (PostgreSQL
//  refuses an upsert that touches a row twice): the core writes each alert
//  once per checkpoint slice.
typedef struct {
    query_t query;
    int columns;
    s_array_t column [S_BATCH_COLUMNS];
} s_batch_t;

enum { S_BATCH_CHANGES, S_BATCH_ALERTS, S_BATCH_TIMES, S_BATCH_DELETES, S_BATCHES };

struct _store_backend_t {
    PGconn *conn;                  //  the one session, holding the advisory lock
    char *shown;                   //  the URI as logs show it (no password)
    bool durable;                  //  durability = full: synchronous_commit stays on
    bool in_tx;                    //  a pipeline is open (BEGIN sent)
    bool flight;                   //  ... and synced, its results not all read yet
    bool rollback_due;             //  one failed: ROLLBACK opens the next pipeline
    int flight_rc;                 //  the last transaction's outcome, once read: 0 / -1
    int64_t flight_deadline;       //  mono ms by which its answer must have come
    bool flushing;                 //  libpq holds bytes not sent yet (poll for POLLOUT)
    int sent;                      //  statements sent in it, whose results are due
    int read;                      //  ... of which results were read
    bool statement_open;           //  a statement's result was read, its end (NULL) not yet
    int fence_at;                  //  the fence's place among them, or -1
    int counted_at [2];            //  statements whose row counts are wanted, or -1
    int *counts [2];               //  ... where they go (the caller's, valid to the commit)
    bool lost;                     //  fenced, or the session is gone: stop
    char epoch [24];               //  the epoch we commit in (decimal), "" before epoch_start
    char error [512];              //  the last error
    wire_writer_t row;             //  scratch buffer for alert rows
    s_batch_t batch [S_BATCHES];   //  the writes gathered, not sent yet
    char *path;                    //  the URI as given, for the reader's (re)connects
    char *reads_hostaddr;          //  ... and the main session's server address, or NULL
    PGconn *reader;                //  the reads' own session (store_read_send), or NULL
    bool reader_up;                //  ... connected (else PQconnectPoll goes on)
    bool read_on_old;              //  the read out went on a session from before it
                                   //  (it may be sent again once, s_read_again)
    PostgresPollingStatusType connect_wants;    //  ... meanwhile: to read or to write
    const store_read_t *reading;   //  the read out (store.c's, kept until answered)
    int64_t read_deadline;         //  mono ms by which it must be answered
    bool read_flushing;            //  libpq holds bytes of it not sent yet
    PGresult *read_result;         //  its result, once come (the NULL after it not yet)
    char read_error [512];         //  why the last read failed
};

static void s_pg_destroy (store_backend_t **self_p);

//  --- errors and waits -------------------------------------------------------------

static int64_t
s_mono_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int
s_fail (store_backend_t *self, const char *what)
{
    const char *why = PQerrorMessage (self->conn);
    snprintf (self->error, sizeof self->error, "%s: %.*s", what,
              (int) strcspn (why ? why : "", "\n"), why ? why : "");
    if (PQstatus (self->conn) == CONNECTION_BAD && !self->lost) {
        self->lost = true;
        log_error ("the session with %s is gone (and the broker's lock with it): %s",
                   self->shown, self->error);
    }
    return -1;
}

static int64_t
s_deadline (void)
{
    return s_mono_ms () + STORE_PG_DEADLINE_MS;
}

//  Waits until the socket is readable (or writable, with write) or the
//  deadline passes: 0, or -1 (a deadline missed: the connection is lost).
static int
s_wait (store_backend_t *self, bool write, int64_t deadline)
{
    struct pollfd item = { PQsocket (self->conn), POLLIN | (write ? POLLOUT : 0), 0 };
    while (true) {
        int64_t left = deadline - s_mono_ms ();
        if (left <= 0) {
            snprintf (self->error, sizeof self->error, "no answer from %s within %d ms",
                      self->shown, STORE_PG_DEADLINE_MS);
            if (!self->lost)
                log_error ("%s: giving the session up", self->error);
            self->lost = true;
            return -1;
        }
        int ready = poll (&item, 1, (int) left);
        if (ready > 0)
            return 0;
        if (ready < 0 && errno != EINTR)
            return s_fail (self, "poll");
    }
}

//  Sends what libpq holds, reading meanwhile so the server never blocks
//  on a full pipe back to us. 0 / -1.
static int
s_flush (store_backend_t *self, int64_t deadline)
{
    int rc;
    while ((rc = PQflush (self->conn)) == 1) {
        if (s_wait (self, true, deadline))
            return -1;
        if (!PQconsumeInput (self->conn))
            return s_fail (self, "reading");
    }
    return rc == 0 ? 0 : s_fail (self, "sending");
}

//  The next result, waiting for it within the deadline; NULL at the end
//  of a statement's results, or on error (lost says which).
static PGresult *
s_result (store_backend_t *self, int64_t deadline, bool *failed)
{
    *failed = false;
    while (PQisBusy (self->conn)) {
        if (s_wait (self, false, deadline) || !PQconsumeInput (self->conn)) {
            if (!self->lost)
                s_fail (self, "reading");
            *failed = true;
            return NULL;
        }
        deadline = s_deadline ();       //  an answer that keeps coming is not late
    }
    return PQgetResult (self->conn);
}

//  --- batches of rows as binary arrays --------------------------------------------

static void
s_put_be (unsigned char *out, uint64_t value, int bytes)
{
    for (int index = bytes - 1; index >= 0; index--, value >>= 8)
        out [index] = (unsigned char) (value & 0xff);
}

static void
s_array_append (s_array_t *self, const void *bytes, size_t size)
{
    if (size == 0)
        return;
    if (self->size + size > self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 4096;
        while (capacity < self->size + size)
            capacity *= 2;
        self->data = mem_realloc (self->data, capacity);
        self->capacity = capacity;
    }
    memcpy (self->data + self->size, bytes, size);
    self->size += size;
}

static void
s_array_element (s_array_t *self, const void *bytes, size_t size)
{
    if (self->size == 0) {
        static const unsigned char header [20];
        s_array_append (self, header, sizeof header);   //  written by s_batch_send
    }
    unsigned char length [4];
    s_put_be (length, size, 4);
    s_array_append (self, length, sizeof length);
    s_array_append (self, bytes, size);
    self->elements++;
}

static void
s_array_text (s_array_t *self, const char *text)
{
    s_array_element (self, text, strlen (text));
}

static void
s_array_int (s_array_t *self, int64_t value)
{
    unsigned char bytes [8];
    s_put_be (bytes, (uint64_t) value, 8);
    s_array_element (self, bytes, sizeof bytes);
}

static void
s_batches_init (store_backend_t *self)
{
    static const struct {
        query_t query;
        int columns;
        uint32_t types [S_BATCH_COLUMNS];
    } shapes [S_BATCHES] = {
        [S_BATCH_CHANGES] = { Q_PUT_CHANGE, 7, { S_OID_INT8, S_OID_INT8, S_OID_TEXT, S_OID_TEXT,
                                                 S_OID_TEXT, S_OID_BYTEA, S_OID_INT8 } },
        [S_BATCH_ALERTS] = { Q_PUT_ALERT, 7, { S_OID_TEXT, S_OID_TEXT, S_OID_TEXT, S_OID_TEXT,
                                               S_OID_INT8, S_OID_INT8, S_OID_BYTEA } },
        [S_BATCH_TIMES] = { Q_PUT_TIMES, 5, { S_OID_TEXT, S_OID_TEXT, S_OID_INT8, S_OID_INT8,
                                              S_OID_INT8 } },
        [S_BATCH_DELETES] = { Q_DELETE_ALERT, 2, { S_OID_TEXT, S_OID_TEXT } },
    };
    for (int which = 0; which < S_BATCHES; which++) {
        self->batch [which].query = shapes [which].query;
        self->batch [which].columns = shapes [which].columns;
        for (int column = 0; column < shapes [which].columns; column++)
            self->batch [which].column [column].type = shapes [which].types [column];
    }
}

static void
s_batches_clear (store_backend_t *self)
{
    for (int which = 0; which < S_BATCHES; which++)
        for (int column = 0; column < self->batch [which].columns; column++) {
            self->batch [which].column [column].size = 0;
            self->batch [which].column [column].elements = 0;
        }
}

static void
s_batches_free (store_backend_t *self)
{
    for (int which = 0; which < S_BATCHES; which++)
        for (int column = 0; column < self->batch [which].columns; column++)
            mem_free (self->batch [which].column [column].data);
}

static int s_send (store_backend_t *self, query_t query, const char *const *values,
                   const int *lengths, const int *formats);
static void s_settle_flight (store_backend_t *self);

//  Sends each batch that holds rows as its one statement, and empties it.
//  0 / -1.
static int
s_batches_send (store_backend_t *self)
{
    for (int which = 0; which < S_BATCHES; which++) {
        s_batch_t *batch = &self->batch [which];
        if (!batch->column [0].elements)
            continue;
        const char *values [S_BATCH_COLUMNS];
        int lengths [S_BATCH_COLUMNS], formats [S_BATCH_COLUMNS];
        for (int column = 0; column < batch->columns; column++) {
            s_array_t *array = &batch->column [column];
            s_put_be (array->data, 1, 4);                  //  one dimension
            s_put_be (array->data + 4, 0, 4);              //  no NULL element
            s_put_be (array->data + 8, array->type, 4);
            s_put_be (array->data + 12, array->elements, 4);
            s_put_be (array->data + 16, 1, 4);             //  its lower bound
            values [column] = (const char *) array->data;
            lengths [column] = (int) array->size;
            formats [column] = 1;
        }
        int rc = s_send (self, batch->query, values, lengths, formats);
        for (int column = 0; column < batch->columns; column++) {
            s_array_t *array = &batch->column [column];
            array->size = 0;
            array->elements = 0;
            if (array->capacity > S_ARRAY_KEPT) {       //  libpq copied it: a burst's
                mem_free (array->data);                 //  buffer goes back
                array->data = NULL;
                array->capacity = 0;
            }
        }
        if (rc)
            return -1;
    }
    return 0;
}

//  --- reads (one statement, outside a transaction's pipeline) -----------------------

//  Runs a prepared read with text parameters; its result (binary columns)
//  or NULL with the error kept.
static PGresult *
s_read (store_backend_t *self, query_t query, const char *const *values)
{
    s_settle_flight (self);
    if (self->lost)
        return NULL;
    char name [8];
    snprintf (name, sizeof name, "q%d", (int) query);
    int64_t deadline = s_deadline ();
    if (!PQsendQueryPrepared (self->conn, name, s_queries [query].params, values, NULL, NULL, 1)) {
        s_fail (self, "sending a read");
        return NULL;
    }
    if (s_flush (self, deadline))
        return NULL;
    bool failed;
    PGresult *result = s_result (self, deadline, &failed), *extra;
    while (!failed && (extra = s_result (self, deadline, &failed)))
        PQclear (extra);
    if (failed || !result || PQresultStatus (result) != PGRES_TUPLES_OK) {
        if (result)
            snprintf (self->error, sizeof self->error, "%s",
                      PQresultErrorMessage (result));
        PQclear (result);
        return NULL;
    }
    return result;
}

//  A binary int8 column.
static int64_t
s_int (const PGresult *result, int row, int column)
{
    if (PQgetisnull (result, row, column) || PQgetlength (result, row, column) != 8)
        return 0;
    const unsigned char *bytes = (const unsigned char *) PQgetvalue (result, row, column);
    uint64_t value = 0;
    for (int index = 0; index < 8; index++)
        value = value << 8 | bytes [index];
    return (int64_t) value;
}

//  --- writes (inside a transaction's pipeline) -------------------------------------

//  May the transaction take a write? 0, or -1 with why in the error.
static int
s_writable (store_backend_t *self)
{
    if (!self->lost && self->in_tx)
        return 0;
    snprintf (self->error, sizeof self->error, "%s", self->lost ? "the session is lost"
              : "bug: a write outside a transaction");
    return -1;
}

//  Queues one prepared statement: params as text, except those in binary
//  (lengths given). 0 / -1.
static int
s_send (store_backend_t *self, query_t query, const char *const *values, const int *lengths,
        const int *formats)
{
    if (s_writable (self))
        return -1;
    bool batched = query == Q_PUT_CHANGE || query == Q_PUT_ALERT || query == Q_PUT_TIMES
                || query == Q_DELETE_ALERT;
    if (!batched && s_batches_send (self))          //  the gathered writes go first
        return -1;
    char name [8];
    snprintf (name, sizeof name, "q%d", (int) query);
    if (!PQsendQueryPrepared (self->conn, name, s_queries [query].params, values, lengths,
                              formats, 0))
        return s_fail (self, "sending a write");
    self->sent++;
    //  Drain what the server answered so far, so neither side stalls
    if (!PQconsumeInput (self->conn))
        return s_fail (self, "reading");
    return PQflush (self->conn) < 0 ? s_fail (self, "sending") : 0;
}

static int
s_send_plain (store_backend_t *self, const char *sql)
{
    if (!PQsendQueryParams (self->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
        return s_fail (self, "sending");
    self->sent++;
    return 0;
}

static int
s_pg_begin (store_backend_t *self, bool durable)
{
    s_settle_flight (self);
    if (self->lost) {
        snprintf (self->error, sizeof self->error, "the session is lost");
        return -1;
    }
    if (!PQenterPipelineMode (self->conn))
        return s_fail (self, "entering pipeline mode");
    self->in_tx = true;
    self->sent = 0;
    self->fence_at = -1;
    self->counted_at [0] = self->counted_at [1] = -1;
    s_batches_clear (self);
    if (self->rollback_due && s_send_plain (self, "ROLLBACK"))
        return -1;
    self->rollback_due = false;
    if (s_send_plain (self, "BEGIN"))
        return -1;
    if ((!durable || !self->durable) && s_send_plain (self, "SET LOCAL synchronous_commit = off"))
        return -1;
    return 0;
}

//  One statement's result: the first error into self->error (rc -1); a
//  fence that raised LF001 makes the store lost; row counts asked for are
//  written where the caller said.
static void
s_take_result (store_backend_t *self, PGresult *result, int *rc)
{
    ExecStatusType status = result ? PQresultStatus (result) : PGRES_FATAL_ERROR;
    if (*rc == 0 && status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        snprintf (self->error, sizeof self->error, "%s",
                  result ? PQresultErrorMessage (result) : "no result");
        self->error [strcspn (self->error, "\n")] = 0;
        *rc = -1;
    }
    const char *state = result ? PQresultErrorField (result, PG_DIAG_SQLSTATE) : NULL;
    if (self->read == self->fence_at && state && strcmp (state, "LF001") == 0) {
        snprintf (self->error, sizeof self->error, "fenced: the epoch in %s is no longer "
                  "%s (another broker took over)", self->shown, self->epoch);
        log_error ("%s", self->error);
        self->lost = true;
    }
    for (int which = 0; which < 2; which++)
        if (self->read == self->counted_at [which] && status == PGRES_COMMAND_OK)
            *self->counts [which] = atoi (PQcmdTuples (result));
}

//  Reads what the server answered to the pipeline so far, sending what
//  libpq still holds; with wait, until its sync (bounded by the flight's
//  deadline). 1: not all answered yet (without wait); 0: committed; -1:
//  failed (self->error, or the session lost).
static int
s_pipeline_step (store_backend_t *self, bool wait)
{
    while (true) {
        int flushed = PQflush (self->conn);
        if (flushed < 0 || !PQconsumeInput (self->conn))
            return s_fail (self, "the pipeline");
        self->flushing = flushed == 1;
        while (!PQisBusy (self->conn)) {
            self->flight_deadline = s_deadline ();
            PGresult *result = PQgetResult (self->conn);
            if (self->statement_open) {                 //  the statement's end
                PQclear (result);
                self->statement_open = false;
                self->read++;
            }
            else
            if (self->read < self->sent) {
                s_take_result (self, result, &self->flight_rc);
                PQclear (result);
                self->statement_open = true;
            }
            else {                                      //  the sync
                bool synced = result && PQresultStatus (result) == PGRES_PIPELINE_SYNC;
                PQclear (result);
                if (!synced) {
                    snprintf (self->error, sizeof self->error,
                              "bug: the pipeline did not end in a sync");
                    return -1;
                }
                return self->flight_rc;
            }
        }
        if (s_mono_ms () >= self->flight_deadline) {
            snprintf (self->error, sizeof self->error, "no answer from %s within %d ms",
                      self->shown, STORE_PG_DEADLINE_MS);
            if (!self->lost)
                log_error ("%s: giving the session up", self->error);
            self->lost = true;
            return -1;
        }
        if (!wait)
            return 1;
        if (s_wait (self, self->flushing, self->flight_deadline))
            return -1;
        self->flight_deadline = s_deadline ();  //  it moves: the deadline is for silence
    }
}

//  The transaction's answer was read (rc): committed, the connection leaves
//  pipeline mode; failed, what is left of the transaction (an error
//  aborted it on the server) is rolled back by the next one's pipeline,
//  which opens with ROLLBACK: no round trip of its own for the loop to
//  wait on (a ROLLBACK outside a transaction is only a warning).
static void
s_end_flight (store_backend_t *self, int rc)
{
    self->flight = false;
    self->flight_rc = rc;
    self->in_tx = false;
    if (self->lost)
        return;
    if (!PQexitPipelineMode (self->conn)) {
        s_fail (self, "leaving pipeline mode");
        return;
    }
    if (rc)
        self->rollback_due = true;
}

//  Before anything else goes to the server: the transaction in flight, if
//  any, is answered first (waiting, bounded), and its outcome kept for
//  store_commit_poll.
static void
s_settle_flight (store_backend_t *self)
{
    if (self->flight)
        s_end_flight (self, s_pipeline_step (self, true));
}

//  Ends the pipeline with a sync point; its answers are to be read from
//  the first (s_pipeline_step), within the deadline from now. 0 / -1.
static int
s_sync_pipeline (store_backend_t *self)
{
    if (!PQpipelineSync (self->conn))
        return s_fail (self, "sync");
    self->flight_rc = 0;
    self->read = 0;
    self->statement_open = false;
    self->flight_deadline = s_deadline ();
    return 0;
}

//  Ends the transaction and sends it, with its sync, without waiting for
//  the answer (store_commit_poll reads it). 0 / -1.
static int
s_pg_commit_send (store_backend_t *self)
{
    if (!self->in_tx || self->flight) {
        snprintf (self->error, sizeof self->error, "bug: commit outside a transaction");
        return -1;
    }
    if (s_batches_send (self))
        return -1;
    if (*self->epoch) {
        const char *values [] = { self->epoch };
        if (s_send (self, Q_FENCE, values, NULL, NULL))
            return -1;
        self->fence_at = self->sent - 1;
    }
    if (s_send_plain (self, "COMMIT") || s_sync_pipeline (self))
        return -1;
    self->flight = true;
    int flushed = PQflush (self->conn);
    self->flushing = flushed == 1;
    return flushed < 0 ? s_fail (self, "sending") : 0;
}

static int
s_pg_commit_poll (store_backend_t *self)
{
    if (!self->flight)
        return self->flight_rc;
    int rc = s_pipeline_step (self, false);
    if (rc != 1)
        s_end_flight (self, rc);
    return rc;
}

static int
s_pg_poll_fd (store_backend_t *self, short *events)
{
    if (!self->flight || self->lost)
        return -1;
    *events = (short) (POLLIN | (self->flushing ? POLLOUT : 0));
    return PQsocket (self->conn);
}

static int64_t
s_pg_poll_deadline (store_backend_t *self)
{
    return self->flight ? self->flight_deadline : 0;
}

static int
s_pg_commit (store_backend_t *self)
{
    if (s_pg_commit_send (self))
        return -1;
    s_settle_flight (self);
    return self->flight_rc;
}

//  Ends a transaction that failed or was not committed: one not sent is
//  synced and read (its errors do not matter now) and rolled back; one
//  whose answer came is rolled back already (s_end_flight).
static void
s_pg_rollback (store_backend_t *self)
{
    s_settle_flight (self);
    if (!self->in_tx || self->lost) {
        self->in_tx = false;
        return;
    }
    if (s_sync_pipeline (self))
        return;
    (void) s_pipeline_step (self, true);
    s_end_flight (self, -1);
}

//  --- open: connect, wait for the lock, create, prepare --------------------------------

//  The URI without its password, for logs (store_redact).
static char *
s_shown (const char *uri)
{
    char shown [1024];
    store_redact (uri, shown, sizeof shown);
    return mem_strdup (shown);
}

//  The server's notices ("relation already exists, skipping") go to the
//  debug log, not to stderr.
static void
s_notice (void *arg, const char *message)
{
    (void) arg;
    log_debug ("postgresql: %.*s", (int) strcspn (message, "\n"), message);
}

//  Names the main session (application_name), for the active's count of
//  its standbys: a statement of its own, so that no other setting's
//  failure takes the name back with it.
static void
s_name_session (store_backend_t *self, const char *name)
{
    char sql [96];
    snprintf (sql, sizeof sql, "SET application_name = '%s'", name);
    PGresult *named = PQexec (self->conn, sql);
    if (PQresultStatus (named) != PGRES_COMMAND_OK)
        log_warn ("%s: cannot name the session '%s' (the active's count of its standbys "
                  "will be wrong): %s", self->shown, name, PQerrorMessage (self->conn));
    PQclear (named);
}

//  Tries the advisory lock until it is ours (a standby waits here, bound
//  to nothing). 0 / -1.
static int
s_become_active (store_backend_t *self, char *error, size_t error_size)
{
    bool waiting = false;
    while (true) {
        PGresult *result = PQexec (self->conn, "SELECT pg_try_advisory_lock (" STORE_PG_LOCK_KEY ")");
        bool ok = PQresultStatus (result) == PGRES_TUPLES_OK && PQntuples (result) == 1;
        bool held = ok && strcmp (PQgetvalue (result, 0, 0), "t") == 0;
        PQclear (result);
        if (!ok) {
            snprintf (error, error_size, "cannot take the broker's lock in %s: %s", self->shown,
                      PQerrorMessage (self->conn));
            return -1;
        }
        if (held)
            break;
        if (!waiting)
            log_info ("standby: another broker holds the lock in %s; waiting (bound to "
                      "nothing) to take over", self->shown);
        waiting = true;
        usleep (STORE_PG_STANDBY_MS * 1000);
    }
    log_info ("active: this broker holds the lock in %s", self->shown);
    s_name_session (self, STORE_PG_ACTIVE_NAME);
    return 0;
}

//  The session's own settings: a backend busy in a statement notices its
//  broker gone within 100 ms, and over TCP a vanished host is noticed in
//  seconds, not the kernel's two hours, so the lock goes to a standby
//  (Unix sockets ignore the keepalives).
static const char s_session [] =
    "SET client_connection_check_interval = 100;"
    "SET tcp_keepalives_idle = 2; SET tcp_keepalives_interval = 1;"
    "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 5000;";

static int
s_prepare (store_backend_t *self, char *error, size_t error_size)
{
    PGresult *result = PQexec (self->conn, s_schema);
    bool ok = PQresultStatus (result) == PGRES_COMMAND_OK;
    PQclear (result);
    if (!ok) {
        snprintf (error, error_size, "cannot create the tables in %s: %s", self->shown,
                  PQerrorMessage (self->conn));
        return -1;
    }
    for (int index = 0; index < Q_COUNT; index++) {
        char name [8];
        snprintf (name, sizeof name, "q%d", index);
        result = PQprepare (self->conn, name, s_queries [index].sql, s_queries [index].params,
                            NULL);
        ok = PQresultStatus (result) == PGRES_COMMAND_OK;
        PQclear (result);
        if (!ok) {
            snprintf (error, error_size, "cannot prepare statement %d in %s: %s", index,
                      self->shown, PQerrorMessage (self->conn));
            return -1;
        }
    }
    return 0;
}

//  A session to path. The client's own socket: TCP keepalives and a send
//  timeout, so a vanished server is noticed in seconds, and a blocking
//  connect (the main session's, at open) that gives up after five; the
//  reads session's connect is polled, within its read's deadline (the URI
//  may say otherwise: its settings come after these, and win). NULL only
//  out of memory; PQstatus says more.
//  hostaddr, when not NULL, is the server's address, so that no host name
//  is looked up (libpq ignores a keyword whose value is NULL).
#define S_CONNECT_KEYS 9

static void
s_connect_params (const char *path, const char *hostaddr, const char **keywords,
                  const char **values)
{
    static const char *const names [S_CONNECT_KEYS] = {
        "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
        "tcp_user_timeout", "connect_timeout", "hostaddr", "dbname", NULL };
    static const char *const settings [S_CONNECT_KEYS - 3] = {
        "1", "2", "1", "3", "5000", "5" };
    for (int index = 0; index < S_CONNECT_KEYS; index++) {
        keywords [index] = names [index];
        values [index] = index < S_CONNECT_KEYS - 3 ? settings [index] : NULL;
    }
    values [S_CONNECT_KEYS - 3] = hostaddr;
    values [S_CONNECT_KEYS - 2] = path;
}

static PGconn *
s_connect (const char *path)
{
    const char *keywords [S_CONNECT_KEYS], *values [S_CONNECT_KEYS];
    s_connect_params (path, NULL, keywords, values);
    return PQconnectdbParams (keywords, values, 1);
}

//  The address the main session reached, for the reads session's connects.
//  libpq looks a host name up inside PQconnectStartParams, and that lookup
//  waits, the loop with it. Given as hostaddr beside the URI's host (which
//  TLS still checks the certificate against), the reads session goes to
//  the same server, the one whose lock this broker holds, without a
//  lookup. Nothing to pin for a socket directory, a list of hosts, or a URI
//  that pairs its host with a hostaddr itself.
static void
s_pin_reads_address (store_backend_t *self)
{
    const char *address = PQhostaddr (self->conn);
    bool pinnable = address && *address;
    PQconninfoOption *options = PQconninfo (self->conn);
    for (PQconninfoOption *option = options; option && option->keyword; option++) {
        const char *value = option->val ? option->val : "";
        if (strcmp (option->keyword, "hostaddr") == 0 && *value)
            pinnable = false;
        if (strcmp (option->keyword, "host") == 0
        &&  (!*value || *value == '/' || *value == '@' || strchr (value, ',')))
            pinnable = false;
    }
    PQconninfoFree (options);
    if (pinnable)
        self->reads_hostaddr = mem_strdup (address);
}

static store_backend_t *
s_pg_open (const char *path, bool durable, char *error, size_t error_size)
{
    store_backend_t *self = mem_alloc (sizeof *self);
    self->durable = durable;
    self->shown = s_shown (path);
    self->path = mem_strdup (path);
    wire_writer_init (&self->row);
    s_batches_init (self);
    self->conn = s_connect (path);
    if (!self->conn || PQstatus (self->conn) != CONNECTION_OK) {
        snprintf (error, error_size, "cannot connect to %s: %s", self->shown,
                  self->conn ? PQerrorMessage (self->conn) : "out of memory");
        error [strcspn (error, "\n")] = 0;
        s_pg_destroy (&self);
        return NULL;
    }
    PQsetNoticeProcessor (self->conn, s_notice, NULL);
    PGresult *set = PQexec (self->conn, s_session);
    if (PQresultStatus (set) != PGRES_COMMAND_OK)
        log_warn ("%s: cannot set the session's liveness checks: %s", self->shown,
                  PQerrorMessage (self->conn));
    PQclear (set);
    s_name_session (self, STORE_PG_STANDBY_NAME);
    if (s_become_active (self, error, error_size) || s_prepare (self, error, error_size)) {
        error [strcspn (error, "\n")] = 0;
        s_pg_destroy (&self);
        return NULL;
    }
    if (PQsetnonblocking (self->conn, 1)) {
        snprintf (error, error_size, "cannot make the connection to %s non-blocking: %s",
                  self->shown, PQerrorMessage (self->conn));
        error [strcspn (error, "\n")] = 0;
        s_pg_destroy (&self);
        return NULL;
    }
    s_pin_reads_address (self);
    return self;
}

static void
s_pg_destroy (store_backend_t **self_p)
{
    store_backend_t *self = *self_p;
    if (!self)
        return;
    PQfinish (self->conn);          //  the session ends: the lock is free
    PQclear (self->read_result);
    PQfinish (self->reader);
    mem_free (self->path);
    mem_free (self->reads_hostaddr);
    mem_free (self->shown);
    wire_writer_free (&self->row);
    s_batches_free (self);
    mem_free (self);
    *self_p = NULL;
}

static const char *
s_pg_error (store_backend_t *self)
{
    return self->error;
}

static bool
s_pg_lost (store_backend_t *self)
{
    return self->lost;
}

//  --- alerts --------------------------------------------------------------------------

//  Hands one loaded row (row of result) to each: its alert, with the
//  times written over it laid on.
static void
s_load_row (const PGresult *result, int row, store_alert_fn *each, void *arg)
{
    alert_t alert = { 0 };
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (PQgetvalue (result, row, 0),
                                    (size_t) PQgetlength (result, row, 0), error, sizeof error);
    const msgpack_object *map = doc ? wire_get (wire_doc_root (doc), "alert") : NULL;
    if (!map || alert_decode (map, &alert, error, sizeof error)) {
        log_error ("skipping a stored alert that does not decode: %s",
                   map ? error : "no alert in the row");
        wire_doc_destroy (&doc);
        alert_clear_fields (&alert);
        return;
    }
    wire_doc_destroy (&doc);
    if (!PQgetisnull (result, row, 1) && s_int (result, row, 1) >= alert.updated_at) {
        alert.updated_at = s_int (result, row, 1);
        alert.raise_at = s_int (result, row, 2);
        alert.clear_at = s_int (result, row, 3);
    }
    each (&alert, S_HANDLE_WRITTEN, arg);
}

//  Every alert, a row at a time (single-row mode: a million alerts are
//  never one result in memory), each wait bounded by the deadline.
static int
s_pg_load (store_backend_t *self, store_alert_fn *each, void *arg)
{
    s_settle_flight (self);
    if (self->lost)
        return -1;
    int64_t deadline = s_deadline ();
    char name [8];
    snprintf (name, sizeof name, "q%d", (int) Q_LOAD);
    if (!PQsendQueryPrepared (self->conn, name, 0, NULL, NULL, NULL, 1))
        return s_fail (self, "sending the load");
    if (!PQsetSingleRowMode (self->conn))
        log_warn ("%s: the load comes as one result (no single-row mode)", self->shown);
    if (s_flush (self, deadline))
        return -1;
    int rc = 0;
    bool failed = false;
    PGresult *result;
    while ((result = s_result (self, deadline, &failed))) {
        deadline = s_deadline ();       //  rows keep coming: the deadline is for silence
        ExecStatusType status = PQresultStatus (result);
        if (status == PGRES_SINGLE_TUPLE || status == PGRES_TUPLES_OK)
            for (int row = 0; row < PQntuples (result); row++)
                s_load_row (result, row, each, arg);
        else
        if (rc == 0) {
            snprintf (self->error, sizeof self->error, "%s", PQresultErrorMessage (result));
            self->error [strcspn (self->error, "\n")] = 0;
            rc = -1;
        }
        PQclear (result);
    }
    return failed ? -1 : rc;
}

//  One integer a read returns (row 0, column 0), 0 when there is no row.
static int
s_read_integer (store_backend_t *self, query_t query, const char *const *values, int64_t *value)
{
    PGresult *result = s_read (self, query, values);
    if (!result)
        return -1;
    *value = 0;
    if (PQntuples (result) == 1) {
        if (PQftype (result, 0) == 25) {       //  text (meta's value)
            char text [32];
            snprintf (text, sizeof text, "%.*s", PQgetlength (result, 0, 0),
                      PQgetvalue (result, 0, 0));
            *value = strtoll (text, NULL, 10);
        }
        else
            *value = s_int (result, 0, 0);
    }
    PQclear (result);
    return 0;
}

//  A seq a read returns. 0 / -1.
static int
s_read_seq (store_backend_t *self, query_t query, const char *const *values, uint64_t *seq)
{
    int64_t value;
    if (s_read_integer (self, query, values, &value))
        return -1;
    *seq = (uint64_t) value;
    return 0;
}

static int
s_pg_last_seq (store_backend_t *self, uint64_t *seq)
{
    return s_read_seq (self, Q_LAST_SEQ, NULL, seq);
}

static int
s_pg_rows_seq (store_backend_t *self, uint64_t *seq)
{
    const char *values [] = { "rows_seq" };
    return s_read_seq (self, Q_GET_META, values, seq);
}

static int
s_set_meta (store_backend_t *self, const char *key, const char *text, int64_t number)
{
    char digits [24];
    snprintf (digits, sizeof digits, "%" PRId64, number);
    const char *values [] = { key, text ? text : digits };
    return s_send (self, Q_SET_META, values, NULL, NULL);
}

static int
s_pg_set_seq (store_backend_t *self, uint64_t seq)
{
    return s_set_meta (self, "seq", NULL, (int64_t) seq);
}

static int
s_pg_set_rows_seq (store_backend_t *self, uint64_t seq)
{
    return s_set_meta (self, "rows_seq", NULL, (int64_t) seq);
}

static int
s_pg_put_alert (store_backend_t *self, const alert_t *alert, store_handle_t *handle)
{
    (void) handle;
    if (s_writable (self))
        return -1;
    wire_writer_reset (&self->row);
    msgpack_packer *packer = &self->row.packer;
    msgpack_pack_map (packer, 2);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key (packer, "alert");
    alert_pack (packer, alert);
    s_array_t *column = self->batch [S_BATCH_ALERTS].column;
    s_array_text (&column [0], alert->source);
    s_array_text (&column [1], alert->id);
    s_array_text (&column [2], alert_state_name (alert->state));
    s_array_text (&column [3], alert_level_name (alert->level));
    s_array_int (&column [4], alert->changed_at);
    s_array_int (&column [5], (int64_t) alert->seq);
    s_array_element (&column [6], self->row.buffer.data, self->row.buffer.size);
    return 0;
}

static int
s_pg_put_times (store_backend_t *self, const alert_t *alert, store_handle_t handle)
{
    (void) handle;
    if (s_writable (self))
        return -1;
    s_array_t *column = self->batch [S_BATCH_TIMES].column;
    s_array_text (&column [0], alert->source);
    s_array_text (&column [1], alert->id);
    s_array_int (&column [2], alert->updated_at);
    s_array_int (&column [3], alert->raise_at);
    s_array_int (&column [4], alert->clear_at);
    return 0;
}

static int
s_pg_delete_alert (store_backend_t *self, const char *source, const char *id,
                   store_handle_t handle)
{
    (void) handle;
    if (s_writable (self))
        return -1;
    s_array_t *column = self->batch [S_BATCH_DELETES].column;
    s_array_text (&column [0], source);
    s_array_text (&column [1], id);
    return 0;
}

static void
s_pg_row_committed (store_backend_t *self, store_handle_t *handle)
{
    (void) self;
    *handle |= S_HANDLE_WRITTEN;
}

static void
s_pg_times_committed (store_backend_t *self, store_handle_t *handle)
{
    (void) self, (void) handle;
}

static bool
s_pg_handle_written (store_backend_t *self, store_handle_t handle)
{
    (void) self;
    return (handle & S_HANDLE_WRITTEN) != 0;
}

//  --- history and silences -------------------------------------------------------------

static int
s_pg_put_change (store_backend_t *self, uint64_t seq, int64_t at, const char *event,
                 const alert_t *alert, const void *body, size_t size, uint64_t prev_seq)
{
    if (s_writable (self))
        return -1;
    s_array_t *column = self->batch [S_BATCH_CHANGES].column;
    s_array_int (&column [0], (int64_t) seq);
    s_array_int (&column [1], at);
    s_array_text (&column [2], event);
    s_array_text (&column [3], alert->source);
    s_array_text (&column [4], alert->id);
    s_array_element (&column [5], body, size);
    s_array_int (&column [6], (int64_t) prev_seq);
    return 0;
}

static int
s_pg_since (store_backend_t *self, uint64_t after, size_t limit, store_change_fn *each,
            void *arg, size_t *count)
{
    char after_text [24], limit_text [24];
    snprintf (after_text, sizeof after_text, "%" PRIu64, after);
    snprintf (limit_text, sizeof limit_text, "%zu", limit);
    const char *values [] = { after_text, limit_text };
    PGresult *result = s_read (self, Q_SINCE, values);
    *count = 0;
    if (!result)
        return -1;
    for (int row = 0; row < PQntuples (result); row++) {
        each ((uint64_t) s_int (result, row, 0), PQgetvalue (result, row, 1),
              (size_t) PQgetlength (result, row, 1), arg);
        (*count)++;
    }
    PQclear (result);
    return 0;
}

//  The chain's parameters as text (Q_HISTORY_CHAIN's $1 to $5): below 0 is
//  no bound, the largest seq.
typedef struct {
    char seq [24], limit [24], below [24], budget [24];
    const char *values [6];
} s_chain_params_t;

//  A bound as the queries take it: 0 (none) or anything past INT64_MAX is
//  INT64_MAX.
static void
s_bound_text (char *text, size_t size, uint64_t bound)
{
    snprintf (text, size, "%" PRId64, bound && bound < INT64_MAX ? (int64_t) bound : INT64_MAX);
}

static void
s_chain_params (s_chain_params_t *params, uint64_t seq, uint64_t below, const char *source,
                const char *id, size_t limit, size_t budget)
{
    snprintf (params->seq, sizeof params->seq, "%" PRIu64, seq);
    snprintf (params->limit, sizeof params->limit, "%zu", limit);
    s_bound_text (params->below, sizeof params->below, below);
    s_bound_text (params->budget, sizeof params->budget, budget);
    params->values [0] = params->seq;
    params->values [1] = source;
    params->values [2] = id;
    params->values [3] = params->limit;
    params->values [4] = params->below;
    params->values [5] = params->budget;
}

static int
s_pg_history_chain (store_backend_t *self, uint64_t seq, uint64_t below, const char *source,
                    const char *id, size_t limit, store_change_fn *each, void *arg)
{
    if (!seq || !limit)
        return 0;
    s_chain_params_t params;
    s_chain_params (&params, seq, below, source, id, limit, 0);
    const char *const *values = params.values;
    PGresult *result = s_read (self, Q_HISTORY_CHAIN, values);
    if (!result)
        return -1;
    for (int row = 0; row < PQntuples (result); row++)
        each ((uint64_t) s_int (result, row, 0), PQgetvalue (result, row, 1),
              (size_t) PQgetlength (result, row, 1), arg);
    PQclear (result);
    return 0;
}

//  --- reads answered later, on the reader's session ----------------------------------
//
//  The reader is a second session, connected without waiting
//  (PQconnectStartParams, then PQconnectPoll each time its socket is
//  ready) at the first read and again after one failed: a read sent while
//  it connects goes out once it is up. It holds no lock and writes
//  nothing: its reads see what is committed, and a since is cut at what
//  was published. The socket is non-blocking; store_read_poll reads what
//  has come. A reply is cut at the read's byte budget on the server: the
//  rows that start past it are not sent (one that starts at it or before
//  and ends past it is, so the caller knows there are more). A read the server did not answer
//  (the session gone, the deadline passed, an error of its own like a
//  shutdown) is STORE_READ_AGAIN; an error in the statement itself is -1.

static const char s_read_since [] =
    "SELECT kept.oldest, changes.seq, changes.body"
    " FROM (SELECT coalesce (min (seq), 0) AS oldest FROM history) AS kept"
    " LEFT JOIN LATERAL (SELECT seq, body FROM"
    "  (SELECT seq, body, sum (length (body)) OVER (ORDER BY seq) AS running FROM history"
    "   WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3) AS first"
    "  WHERE running - length (body) <= $4) AS changes ON true ORDER BY changes.seq";

//  The brokers waiting as standbys on this database: their main sessions
//  are named so until they hold the lock (s_name_session: s_pg_open, then
//  s_become_active).
//  pg_stat_activity shows another session's application_name to any role.
static const char s_count_standbys [] =
    "SELECT count (*) FROM pg_stat_activity WHERE datname = current_database ()"
    " AND application_name = '" STORE_PG_STANDBY_NAME "'";

//  Ends the reader and what it held: the next read connects anew.
static void
s_reader_drop (store_backend_t *self)
{
    PQclear (self->read_result);
    self->read_result = NULL;
    PQfinish (self->reader);
    self->reader = NULL;
    self->reader_up = false;
}

//  The read is not answered and the reader is dropped: said in
//  read_error. STORE_READ_AGAIN.
static int
s_reader_failed (store_backend_t *self, const char *what)
{
    snprintf (self->read_error, sizeof self->read_error, "%s (the reads session to %s): %.*s",
              what, self->shown,
              self->reader ? (int) strcspn (PQerrorMessage (self->reader), "\n") : 13,
              self->reader ? PQerrorMessage (self->reader) : "out of memory");
    s_reader_drop (self);
    return STORE_READ_AGAIN;
}

//  Sends the read kept in self->reading on the reader, which is up. 0, or
//  STORE_READ_AGAIN.
static int
s_reader_send (store_backend_t *self)
{
    const store_read_t *read = self->reading;
    char seq_text [24], upto_text [24], limit_text [24], budget_text [24];
    snprintf (seq_text, sizeof seq_text, "%" PRIu64, read->seq);
    snprintf (upto_text, sizeof upto_text, "%" PRIu64, read->upto);
    snprintf (limit_text, sizeof limit_text, "%zu", read->limit);
    s_bound_text (budget_text, sizeof budget_text, read->budget);
    const char *since [] = { seq_text, upto_text, limit_text, budget_text };
    s_chain_params_t chain;
    s_chain_params (&chain, read->seq, read->upto, read->source, read->id, read->limit,
                    read->budget);
    bool sent = read->kind == STORE_READ_SINCE
              ? PQsendQueryParams (self->reader, s_read_since, 4, NULL, since, NULL, NULL, 1)
              : read->kind == STORE_READ_STANDBYS
              ? PQsendQueryParams (self->reader, s_count_standbys, 0, NULL, NULL, NULL, NULL, 1)
              : PQsendQueryParams (self->reader, s_queries [Q_HISTORY_CHAIN].sql, 6, NULL,
                                   chain.values, NULL, NULL, 1);
    int flushed = sent ? PQflush (self->reader) : -1;
    if (flushed < 0)
        return s_reader_failed (self, "cannot send a read");
    self->read_flushing = flushed == 1;
    return 0;
}

//  Starts connecting the reader, without waiting. 0, or STORE_READ_AGAIN.
static int
s_reader_connect (store_backend_t *self)
{
    const char *keywords [S_CONNECT_KEYS], *values [S_CONNECT_KEYS];
    s_connect_params (self->path, self->reads_hostaddr, keywords, values);
    self->reader = PQconnectStartParams (keywords, values, 1);
    if (!self->reader || PQstatus (self->reader) == CONNECTION_BAD)
        return s_reader_failed (self, "cannot connect");
    PQsetNoticeProcessor (self->reader, s_notice, NULL);
    if (PQsetnonblocking (self->reader, 1))
        return s_reader_failed (self, "cannot make non-blocking");
    self->connect_wants = PGRES_POLLING_WRITING;
    return 0;
}

static int
s_pg_read_send (store_backend_t *self, const store_read_t *read)
{
    self->reading = read;
    self->read_deadline = s_deadline ();
    self->read_on_old = false;
    if (self->reader && self->reader_up && PQstatus (self->reader) == CONNECTION_OK) {
        self->read_on_old = true;
        return s_reader_send (self) ? -1 : 0;
    }
    if (self->reader && self->reader_up)
        s_reader_failed (self, "the session went bad");     //  connect anew
    if (!self->reader && s_reader_connect (self))
        return -1;
    return 0;                           //  sent once the reader is up
}

//  Goes on connecting the reader: 1 not up yet, 0 up (the read sent),
//  STORE_READ_AGAIN failed.
static int
s_reader_connecting (store_backend_t *self)
{
    //  PQconnectPoll takes the socket to be ready for what it last asked
    //  (its first step: writable, the connect done); called before, it
    //  moves on anyway and fails sending on a socket not yet connected
    struct pollfd item = { PQsocket (self->reader),
                           self->connect_wants == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0 };
    int ready = poll (&item, 1, 0);
    if (ready < 0 && errno != EINTR)
        return s_reader_failed (self, "poll");
    if (ready <= 0)
        return 1;
    PostgresPollingStatusType status = PQconnectPoll (self->reader);
    if (status == PGRES_POLLING_FAILED)
        return s_reader_failed (self, "cannot connect");
    if (status != PGRES_POLLING_OK) {
        self->connect_wants = status;
        return 1;
    }
    self->reader_up = true;
    return s_reader_send (self);
}

//  Gives the rows of a read's result, by the read's kind: (oldest, seq,
//  body) for a since, the seq NULL when there is no change to give; (seq,
//  body) for a chain; the one (count) of the standbys'.
static void
s_read_rows (const PGresult *result, store_read_kind_t kind, store_change_fn *each, void *arg,
             uint64_t *oldest)
{
    if (kind == STORE_READ_STANDBYS) {
        each ((uint64_t) s_int (result, 0, 0), NULL, 0, arg);
        return;
    }
    int first = kind == STORE_READ_SINCE ? 1 : 0;
    for (int row = 0; row < PQntuples (result); row++) {
        if (first)
            *oldest = (uint64_t) s_int (result, row, 0);
        if (!PQgetisnull (result, row, first))
            each ((uint64_t) s_int (result, row, first), PQgetvalue (result, row, first + 1),
                  (size_t) PQgetlength (result, row, first + 1), arg);
    }
}

//  Is an error result one of the server's state rather than the
//  statement's: a connection's (08), the operator's (57: a shutdown, a
//  cancel), resources (53) or a conflict (40)? Asking again may work.
static bool
s_error_passes (const PGresult *result)
{
    const char *state = result ? PQresultErrorField (result, PG_DIAG_SQLSTATE) : NULL;
    return !state || strncmp (state, "08", 2) == 0 || strncmp (state, "57", 2) == 0
        || strncmp (state, "53", 2) == 0 || strncmp (state, "40", 2) == 0;
}

//  The read's result has come whole: its rows given (0), or its error
//  (-1, or STORE_READ_AGAIN for one that passes).
static int
s_read_answered (store_backend_t *self, PGresult *result, store_change_fn *each, void *arg,
                 uint64_t *oldest)
{
    int rc = 0;
    if (PQresultStatus (result) == PGRES_TUPLES_OK)
        s_read_rows (result, self->reading->kind, each, arg, oldest);
    else {
        snprintf (self->read_error, sizeof self->read_error, "a read from %s: %.*s",
                  self->shown,
                  result ? (int) strcspn (PQresultErrorMessage (result), "\n") : 9,
                  result ? PQresultErrorMessage (result) : "no result");
        rc = s_error_passes (result) ? STORE_READ_AGAIN : -1;
    }
    PQclear (result);
    return rc;
}

static int s_read_step (store_backend_t *self, store_change_fn *each, void *arg,
                        uint64_t *oldest);

//  A read sent on a session that had waited idle since the last, which
//  the server (an idle timeout, a pooler, a restart) may have ended
//  meanwhile: once, within the read's deadline, it goes out again on a new
//  session instead of failing. 1 (out again), or rc.
static int
s_read_again (store_backend_t *self, int rc)
{
    if (rc != STORE_READ_AGAIN || !self->read_on_old || s_mono_ms () >= self->read_deadline)
        return rc;
    self->read_on_old = false;
    log_debug ("%s: sending it again on a new session", self->read_error);
    s_reader_drop (self);
    return s_reader_connect (self) ? rc : 1;
}

static int
s_pg_read_poll (store_backend_t *self, store_change_fn *each, void *arg, uint64_t *oldest)
{
    return s_read_again (self, s_read_step (self, each, arg, oldest));
}

//  Reads what has come of the read out: as store_read_poll answers.
static int
s_read_step (store_backend_t *self, store_change_fn *each, void *arg, uint64_t *oldest)
{
    if (!self->reader)
        return s_reader_failed (self, "no session");
    int rc = self->reader_up ? 0 : s_reader_connecting (self);
    if (rc == 0) {
        int flushed = PQflush (self->reader);
        if (flushed < 0 || !PQconsumeInput (self->reader))
            return s_reader_failed (self, "the read");
        self->read_flushing = flushed == 1;
        while (!PQisBusy (self->reader)) {
            PGresult *result = PQgetResult (self->reader);
            if (result && !self->read_result)
                self->read_result = result;
            else
            if (result)
                PQclear (result);           //  one statement: one result
            else {
                result = self->read_result; //  the NULL: the read is answered
                self->read_result = NULL;
                return s_read_answered (self, result, each, arg, oldest);
            }
        }
        rc = 1;
    }
    if (rc == 1 && s_mono_ms () >= self->read_deadline)
        return s_reader_failed (self, "no answer within 5 s");
    return rc;
}

static int
s_pg_read_fd (store_backend_t *self, short *events)
{
    if (!self->reader)
        return -1;
    if (!self->reader_up)
        *events = self->connect_wants == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    else
        *events = (short) (POLLIN | (self->read_flushing ? POLLOUT : 0));
    return PQsocket (self->reader);
}

static int64_t
s_pg_read_deadline (store_backend_t *self)
{
    return self->reader ? self->read_deadline : 0;
}

static const char *
s_pg_read_error (store_backend_t *self)
{
    return self->read_error;
}

static int
s_pg_oldest_seq (store_backend_t *self, uint64_t *seq)
{
    return s_read_seq (self, Q_OLDEST, NULL, seq);
}

//  Inside a transaction, as every write here: the count deleted is known
//  only once the pipeline's results are read, at the commit, and is
//  written to *deleted then (the caller reads it after the commit).
static int
s_pg_prune_history (store_backend_t *self, int64_t before, uint64_t keep_after, int limit,
                    int *deleted)
{
    char before_text [24], limit_text [24], keep_text [24];
    snprintf (before_text, sizeof before_text, "%" PRId64, before);
    snprintf (limit_text, sizeof limit_text, "%d", limit);
    snprintf (keep_text, sizeof keep_text, "%" PRIu64, keep_after);
    const char *values [] = { before_text, limit_text, keep_text };
    *deleted = 0;
    if (s_batches_send (self))              //  (so that its place is the next one)
        return -1;
    self->counted_at [0] = self->sent;
    self->counts [0] = deleted;
    return s_send (self, Q_PRUNE, values, NULL, NULL);
}

static int
s_pg_put_silence (store_backend_t *self, const char *id, int64_t ends, uint64_t seq,
                  const void *body, size_t size)
{
    char ends_text [24], seq_text [24];
    snprintf (ends_text, sizeof ends_text, "%" PRId64, ends);
    snprintf (seq_text, sizeof seq_text, "%" PRIu64, seq);
    const char *values [] = { id, ends_text, seq_text, body };
    const int lengths [] = { 0, 0, 0, (int) size };
    const int formats [] = { 0, 0, 0, 1 };
    return s_send (self, Q_PUT_SILENCE, values, lengths, formats);
}

static int
s_pg_load_silences (store_backend_t *self, store_silence_fn *each, void *arg)
{
    PGresult *result = s_read (self, Q_LOAD_SILENCES, NULL);
    if (!result)
        return -1;
    for (int row = 0; row < PQntuples (result); row++)
        each (PQgetvalue (result, row, 0), (size_t) PQgetlength (result, row, 0), arg);
    PQclear (result);
    return 0;
}

static int
s_pg_prune_silences (store_backend_t *self, int64_t before, int *deleted)
{
    char before_text [24];
    snprintf (before_text, sizeof before_text, "%" PRId64, before);
    const char *values [] = { before_text };
    *deleted = 0;
    if (s_batches_send (self))
        return -1;
    self->counted_at [1] = self->sent;
    self->counts [1] = deleted;
    return s_send (self, Q_PRUNE_SILENCES, values, NULL, NULL);
}

//  --- epochs, liveness, upkeep -------------------------------------------------------------

//  meta[key] as text into value (empty when absent). 0 / -1.
static int
s_meta_text (store_backend_t *self, const char *key, char *value, size_t size)
{
    const char *values [] = { key };
    PGresult *result = s_read (self, Q_GET_META, values);
    if (!result)
        return -1;
    snprintf (value, size, "%.*s", PQntuples (result) ? PQgetlength (result, 0, 0) : 0,
              PQntuples (result) ? PQgetvalue (result, 0, 0) : "");
    PQclear (result);
    return 0;
}

//  As SQLite's: a new database id and epoch 1 for a database without one;
//  the same epoch after a clean stop; else the next (a crash, or a
//  takeover from a broker that did not stop cleanly), from last_seq + 1.
//  Holding the lock, this broker writes it; the fence checks it from here.
static int
s_pg_epoch_start (store_backend_t *self, uint64_t last_seq, epoch_t *epoch, const char **why)
{
    char db [64], n [24], first [24], clean [24];
    memset (epoch, 0, sizeof *epoch);
    if (s_meta_text (self, "db_id", db, sizeof db) || s_meta_text (self, "epoch", n, sizeof n)
    ||  s_meta_text (self, "epoch_first", first, sizeof first)
    ||  s_meta_text (self, "clean_stop", clean, sizeof clean))
        return -1;
    *why = NULL;
    if (strlen (db) != EPOCH_DB_SIZE - 1 || !*n || !*first) {
        if (epoch_new_db_id (epoch->db))
            return -1;
        epoch->n = 1;
        epoch->first = last_seq + 1;
        *why = "a new database id";
    }
    else {
        snprintf (epoch->db, sizeof epoch->db, "%s", db);
        epoch->n = strtoull (n, NULL, 10);
        epoch->first = strtoull (first, NULL, 10);
        if (strcmp (clean, "1") != 0) {
            epoch->n++;
            epoch->first = last_seq + 1;
            *why = "the last active broker did not stop cleanly (a crash or a takeover)";
        }
    }
    self->epoch [0] = 0;            //  no fence while the epoch itself is written
    if (s_pg_begin (self, true)
    ||  s_set_meta (self, "db_id", epoch->db, 0)
    ||  s_set_meta (self, "epoch", NULL, (int64_t) epoch->n)
    ||  s_set_meta (self, "epoch_first", NULL, (int64_t) epoch->first)
    ||  s_set_meta (self, "clean_stop", NULL, 0)
    ||  s_pg_commit (self)) {
        s_pg_rollback (self);
        return -1;
    }
    snprintf (self->epoch, sizeof self->epoch, "%" PRIu64, epoch->n);
    return 0;
}

static int
s_pg_mark_clean (store_backend_t *self, const epoch_t *epoch, uint64_t last_seq)
{
    (void) epoch, (void) last_seq;
    if (s_pg_begin (self, true) || s_set_meta (self, "clean_stop", NULL, 1)
    ||  s_pg_commit (self)) {
        s_pg_rollback (self);
        return -1;
    }
    return 0;
}

//  Is the session still ours? What the server sent meanwhile is read
//  without waiting: a terminated session (pg_terminate_backend, a server
//  stopping) shows as a closed connection. 0, or -1 with why.
static int
s_pg_file_intact (store_backend_t *self, char *why, size_t why_size)
{
    if (!self->lost && !self->in_tx && !self->flight
    &&  (!PQconsumeInput (self->conn) || PQstatus (self->conn) == CONNECTION_BAD))
        s_fail (self, "the connection");
    if (!self->lost)
        return 0;
    snprintf (why, why_size, "%s (this broker is no longer the active one: %s)", self->error,
              self->shown);
    return -1;
}

static int
s_pg_maintain (store_backend_t *self)
{
    (void) self;
    return 0;                       //  PostgreSQL's autovacuum is its upkeep
}

static size_t
s_pg_log_pages (store_backend_t *self)
{
    (void) self;
    return 0;
}

static int
s_pg_release_log (store_backend_t *self)
{
    (void) self;
    return 0;
}

const store_class_t store_pg = {
    .name = "postgresql",
    .open = s_pg_open,
    .destroy = s_pg_destroy,
    .error = s_pg_error,
    .lost = s_pg_lost,
    .load = s_pg_load,
    .last_seq = s_pg_last_seq,
    .epoch_start = s_pg_epoch_start,
    .mark_clean = s_pg_mark_clean,
    .file_intact = s_pg_file_intact,
    .begin = s_pg_begin,
    .commit = s_pg_commit,
    .commit_send = s_pg_commit_send,
    .commit_poll = s_pg_commit_poll,
    .poll_fd = s_pg_poll_fd,
    .poll_deadline = s_pg_poll_deadline,
    .rollback = s_pg_rollback,
    .maintain = s_pg_maintain,
    .log_pages = s_pg_log_pages,
    .release_log = s_pg_release_log,
    .put_alert = s_pg_put_alert,
    .put_times = s_pg_put_times,
    .delete_alert = s_pg_delete_alert,
    .row_committed = s_pg_row_committed,
    .times_committed = s_pg_times_committed,
    .handle_written = s_pg_handle_written,
    .put_change = s_pg_put_change,
    .set_seq = s_pg_set_seq,
    .set_rows_seq = s_pg_set_rows_seq,
    .rows_seq = s_pg_rows_seq,
    .since = s_pg_since,
    .history_chain = s_pg_history_chain,
    .read_send = s_pg_read_send,
    .read_poll = s_pg_read_poll,
    .read_fd = s_pg_read_fd,
    .read_deadline = s_pg_read_deadline,
    .read_error = s_pg_read_error,
    .oldest_seq = s_pg_oldest_seq,
    .prune_history = s_pg_prune_history,
    .put_silence = s_pg_put_silence,
    .load_silences = s_pg_load_silences,
    .prune_silences = s_pg_prune_silences,
};
