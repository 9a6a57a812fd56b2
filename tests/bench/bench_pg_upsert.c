/*  bench_pg_upsert.c — the PostgreSQL baseline for content-changing events:
    the plain batched upsert of the same rows into the same schema, as
    bench_sqlite's default mode is SQLite's (issue 17 §3: the broker on
    PostgreSQL is measured against this, same run).

    bench_pg_upsert URI ROWS IDS [arrays|rows] [on|off]
    Drops and creates the draft schema (tests/bench/pg_schema.sql, or the
    file BENCH_PG_SCHEMA names) in the database at URI, then writes ROWS
    rows, ids round-robin over IDS ("bench-%07d", source "bench"), each with
    a new subject, one transaction per 1000 rows, exactly the rows
    bench_sqlite writes: the row bytea is {v, alert} with alert_pack, built
    per row (packing is part of the work). on|off is the session's
    synchronous_commit (default on: every COMMIT waits for its WAL flush, as
    the broker's durable commits will; off is reported beside it, never
    instead). Prints "rows=N seconds=S".

    As fast as a plain upsert honestly goes through libpq. Statements are
    prepared once, parameter types given; integers and bytea go binary; the
    connection is nonblocking in pipeline mode, each transaction being
    BEGIN, its upserts, COMMIT and a sync point, with up to
    BENCH_TX_IN_FLIGHT transactions sent before the oldest's answers are
    read — one poll loop on PQsocket flushing and reading, as the broker's
    loop will, so neither side ever waits for the other's buffer. Two ways
    to send a transaction's 1000 rows:
    - arrays (the default, the faster): one INSERT ... SELECT FROM unnest
      of seven binary arrays ... ON CONFLICT DO UPDATE per transaction. A
      statement may not update one row twice, so IDS must be at least
      1000 (ids do not repeat within a transaction) — as for a checkpoint,
      which writes each alert once.
    - rows: one prepared upsert per row, 1000 in the pipeline.
    A failed statement aborts the run (exit 1); every wait is bounded by a
    deadline.
*/
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "alert.h"
#include "bench_sub.h"
#include "wire.h"

#define BENCH_ROWS_PER_TX 1000
//  Transactions sent and not yet answered (1: no pipelining across
//  commits). 1, 2, 4 and 8 measured within the noise of each other here
//  (Unix socket, same machine): the server's one backend is the bound.
#define BENCH_TX_IN_FLIGHT 4
//  A wait for the server's socket longer than this ends the run.
#define BENCH_DEADLINE_MS 30000
#define BENCH_SCHEMA_MAX (64 * 1024)
#define BENCH_ON_CONFLICT \
    " ON CONFLICT (source, id) DO UPDATE SET state = excluded.state," \
    " level = excluded.level, changed_at = excluded.changed_at," \
    " seq = excluded.seq, row = excluded.row"

//  Parameter types (pg_type OIDs, fixed in every PostgreSQL release).
#define OID_INT8 20
#define OID_TEXT 25
#define OID_BYTEA 17
#define OID_TEXT_ARRAY 1009
#define OID_INT8_ARRAY 1016
#define OID_BYTEA_ARRAY 1001
#define BENCH_COLUMNS 7

//  One column of a transaction's rows, as a binary one-dimensional array
//  parameter: ndim, has_null, element type, length, lower bound, then each
//  element's length and bytes (array_recv's format).
typedef struct {
    unsigned char *data;
    size_t size;                   //  bytes used
    size_t capacity;               //  bytes allocated
    uint32_t elements;             //  elements appended
    Oid element_type;
} column_t;

typedef struct {
    PGconn *conn;
    bool arrays;                   //  one unnest upsert per transaction, not one per row
    wire_writer_t writer;          //  the row bytea
    column_t columns [BENCH_COLUMNS];  //  arrays: the transaction's rows, by column
    int64_t now;                   //  ms, the rows' times
    long awaiting;                 //  statements and sync points not yet answered
    long syncs;                    //  sync points (transactions) not yet answered
} bench_t;

static void
s_fail (bench_t *self, const char *what)
{
    fprintf (stderr, "bench_pg_upsert: %s: %s\n", what,
             self->conn ? PQerrorMessage (self->conn) : "no connection");
    exit (1);
}

static void
s_exec (bench_t *self, const char *sql)
{
    PGresult *result = PQexec (self->conn, sql);
    if (PQresultStatus (result) != PGRES_COMMAND_OK)
        s_fail (self, sql);
    PQclear (result);
}

//  The schema file's text, whole (it is small).
static char *
s_read_schema (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        fprintf (stderr, "bench_pg_upsert: %s: %s\n", path, strerror (errno));
        exit (1);
    }
    char *text = malloc (BENCH_SCHEMA_MAX);
    if (!text) {
        fprintf (stderr, "bench_pg_upsert: out of memory\n");
        exit (1);
    }
    size_t size = fread (text, 1, BENCH_SCHEMA_MAX - 1, file);
    if (ferror (file) || !feof (file)) {
        fprintf (stderr, "bench_pg_upsert: %s: unreadable or over %d bytes\n", path,
                 BENCH_SCHEMA_MAX);
        exit (1);
    }
    fclose (file);
    text [size] = 0;
    return text;
}

static void
s_open (bench_t *self, const char *uri, const char *synchronous_commit)
{
    self->conn = PQconnectdb (uri);
    if (!self->conn || PQstatus (self->conn) != CONNECTION_OK)
        s_fail (self, "connect");
    const char *path = getenv ("BENCH_PG_SCHEMA");
    char *schema = s_read_schema (path && *path ? path : "tests/bench/pg_schema.sql");
    s_exec (self, "SET client_min_messages = warning");
    s_exec (self, "DROP TABLE IF EXISTS alerts, history, meta, silences");
    s_exec (self, schema);
    free (schema);
    char set [64];
    snprintf (set, sizeof set, "SET synchronous_commit = %s", synchronous_commit);
    s_exec (self, set);
    Oid types [7] = { OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8, OID_INT8, OID_BYTEA };
    PGresult *result = PQprepare (self->conn, "upsert",
        "INSERT INTO alerts (source, id, state, level, changed_at, seq, row)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)" BENCH_ON_CONFLICT, 7, types);
    if (PQresultStatus (result) != PGRES_COMMAND_OK)
        s_fail (self, "prepare upsert");
    PQclear (result);
    Oid array_types [7] = { OID_TEXT_ARRAY, OID_TEXT_ARRAY, OID_TEXT_ARRAY, OID_TEXT_ARRAY,
                            OID_INT8_ARRAY, OID_INT8_ARRAY, OID_BYTEA_ARRAY };
    result = PQprepare (self->conn, "upsert_arrays",
        "INSERT INTO alerts (source, id, state, level, changed_at, seq, row)"
        " SELECT * FROM unnest ($1::text[], $2::text[], $3::text[], $4::text[],"
        " $5::bigint[], $6::bigint[], $7::bytea[])" BENCH_ON_CONFLICT, 7, array_types);
    if (PQresultStatus (result) != PGRES_COMMAND_OK)
        s_fail (self, "prepare upsert_arrays");
    PQclear (result);
    const char *plain [][2] = { { "begin", "BEGIN" }, { "commit", "COMMIT" } };
    for (size_t index = 0; index < 2; index++) {
        result = PQprepare (self->conn, plain [index][0], plain [index][1], 0, NULL);
        if (PQresultStatus (result) != PGRES_COMMAND_OK)
            s_fail (self, plain [index][1]);
        PQclear (result);
    }
    if (PQsetnonblocking (self->conn, 1) != 0)
        s_fail (self, "PQsetnonblocking");
    if (PQenterPipelineMode (self->conn) != 1)
        s_fail (self, "PQenterPipelineMode");
    wire_writer_init (&self->writer);
    Oid element_types [BENCH_COLUMNS] = { OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT,
                                          OID_INT8, OID_INT8, OID_BYTEA };
    for (int column = 0; column < BENCH_COLUMNS; column++)
        self->columns [column].element_type = element_types [column];
    self->now = (int64_t) time (NULL) * 1000;
}

static void
s_close (bench_t *self)
{
    if (PQexitPipelineMode (self->conn) != 1)
        s_fail (self, "PQexitPipelineMode");
    PQfinish (self->conn);
    wire_writer_free (&self->writer);
    for (int column = 0; column < BENCH_COLUMNS; column++)
        free (self->columns [column].data);
}

static void
s_put_int32 (unsigned char *out, uint32_t value)
{
    for (int index = 3; index >= 0; index--, value >>= 8)
        out [index] = (unsigned char) (value & 0xff);
}

static void
s_column_append (column_t *self, const void *bytes, size_t size)
{
    if (self->size + size > self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 64 * 1024;
        while (capacity < self->size + size)
            capacity *= 2;
        unsigned char *data = realloc (self->data, capacity);
        if (!data) {
            fprintf (stderr, "bench_pg_upsert: out of memory\n");
            exit (1);
        }
        self->data = data;
        self->capacity = capacity;
    }
    memcpy (self->data + self->size, bytes, size);
    self->size += size;
}

//  Empties the column, its 20-byte header reserved (written by s_column_end).
static void
s_column_start (column_t *self)
{
    static const unsigned char header [20];
    self->size = 0;
    self->elements = 0;
    s_column_append (self, header, sizeof header);
}

static void
s_column_element (column_t *self, const void *bytes, size_t size)
{
    unsigned char length [4];
    s_put_int32 (length, (uint32_t) size);
    s_column_append (self, length, sizeof length);
    s_column_append (self, bytes, size);
    self->elements++;
}

static void
s_column_end (column_t *self)
{
    s_put_int32 (self->data, 1);                    //  ndim
    s_put_int32 (self->data + 4, 0);                //  no NULL element
    s_put_int32 (self->data + 8, self->element_type);
    s_put_int32 (self->data + 12, self->elements);  //  dimension 1: its length
    s_put_int32 (self->data + 16, 1);               //  and lower bound
}

//  Reads every answer that has arrived, without waiting: a statement's
//  result and the NULL after it, or a sync point's PGRES_PIPELINE_SYNC.
static void
s_read_answers (bench_t *self)
{
    if (PQconsumeInput (self->conn) != 1)
        s_fail (self, "PQconsumeInput");
    while (self->awaiting > 0 && !PQisBusy (self->conn)) {
        PGresult *result = PQgetResult (self->conn);
        if (!result) {
            self->awaiting--;           //  the end of one statement's results
            continue;
        }
        ExecStatusType status = PQresultStatus (result);
        PQclear (result);
        if (status == PGRES_PIPELINE_SYNC) {
            self->awaiting--;
            self->syncs--;
        }
        else if (status != PGRES_COMMAND_OK)
            s_fail (self, PQresStatus (status));
    }
}

//  Flushes what is sent and reads what has come back until no more than
//  `in_flight` transactions are unanswered and nothing is left to send.
static void
s_pump (bench_t *self, long in_flight)
{
    while (true) {
        int flush = PQflush (self->conn);
        if (flush < 0)
            s_fail (self, "PQflush");
        s_read_answers (self);
        if (flush == 0 && self->syncs <= in_flight)
            return;
        struct pollfd item = { .fd = PQsocket (self->conn),
                               .events = (short) (POLLIN | (flush ? POLLOUT : 0)) };
        int ready = poll (&item, 1, BENCH_DEADLINE_MS);
        if (ready < 0 && errno != EINTR)
            s_fail (self, "poll");
        if (ready == 0) {
            fprintf (stderr, "bench_pg_upsert: no answer within %d ms\n", BENCH_DEADLINE_MS);
            exit (1);
        }
    }
}

static void
s_send (bench_t *self, const char *statement, int count, const char *const *values,
        const int *lengths, const int *formats)
{
    if (PQsendQueryPrepared (self->conn, statement, count, values, lengths, formats, 0) != 1)
        s_fail (self, statement);
    self->awaiting++;
}

static void
s_put_int8 (unsigned char *out, int64_t value)
{
    uint64_t bits = (uint64_t) value;
    for (int index = 7; index >= 0; index--, bits >>= 8)
        out [index] = (unsigned char) (bits & 0xff);
}

//  The upsert of row number `row` (id `id`), its bytea packed as the
//  broker packs it: sent (rows), or appended to the columns (arrays).
static void
s_send_row (bench_t *self, long row, char *id)
{
    char subject [32];
    alert_t alert;
    bench_row (&self->writer, &alert, row, id, subject, sizeof subject, self->now);
    unsigned char changed_at [8], seq [8];
    s_put_int8 (changed_at, alert.changed_at);
    s_put_int8 (seq, (int64_t) alert.seq);
    const char *values [7] = {
        "bench", id, alert_state_name (alert.state), alert_level_name (alert.level),
        (const char *) changed_at, (const char *) seq, self->writer.buffer.data
    };
    int lengths [7] = { 0, 0, 0, 0, 8, 8, (int) self->writer.buffer.size };
    if (self->arrays) {
        for (int column = 0; column < BENCH_COLUMNS; column++)
            s_column_element (&self->columns [column], values [column],
                              lengths [column] ? (size_t) lengths [column]
                                               : strlen (values [column]));
        return;
    }
    int formats [7] = { 0, 0, 0, 0, 1, 1, 1 };
    s_send (self, "upsert", 7, values, lengths, formats);
}

//  arrays: sends the one upsert of the columns gathered.
static void
s_send_columns (bench_t *self)
{
    const char *values [BENCH_COLUMNS];
    int lengths [BENCH_COLUMNS], formats [BENCH_COLUMNS];
    for (int column = 0; column < BENCH_COLUMNS; column++) {
        s_column_end (&self->columns [column]);
        values [column] = (const char *) self->columns [column].data;
        lengths [column] = (int) self->columns [column].size;
        formats [column] = 1;
    }
    s_send (self, "upsert_arrays", BENCH_COLUMNS, values, lengths, formats);
}

//  Rows 0..count-1, one transaction per BENCH_ROWS_PER_TX, each ended by a
//  sync point; all answered on return.
static void
s_write_rows (bench_t *self, long count, long ids)
{
    for (long row = 0; row < count; row++) {
        if (row % BENCH_ROWS_PER_TX == 0) {
            s_send (self, "begin", 0, NULL, NULL, NULL);
            for (int column = 0; self->arrays && column < BENCH_COLUMNS; column++)
                s_column_start (&self->columns [column]);
        }
        char id [32];
        snprintf (id, sizeof id, "bench-%07ld", row % ids);
        s_send_row (self, row, id);
        if (row % BENCH_ROWS_PER_TX == BENCH_ROWS_PER_TX - 1 || row == count - 1) {
            if (self->arrays)
                s_send_columns (self);
            s_send (self, "commit", 0, NULL, NULL, NULL);
            if (PQpipelineSync (self->conn) != 1)
                s_fail (self, "PQpipelineSync");
            self->awaiting++;
            self->syncs++;
            s_pump (self, BENCH_TX_IN_FLIGHT - 1);
        }
    }
    s_pump (self, 0);
}

int
main (int argc, char *argv [])
{
    long rows = argc >= 4 ? atol (argv [2]) : 0;
    long ids = argc >= 4 ? atol (argv [3]) : 0;
    const char *way = argc >= 5 ? argv [4] : "arrays";
    const char *synchronous_commit = argc == 6 ? argv [5] : "on";
    bool arrays = strcmp (way, "arrays") == 0;
    if (argc < 4 || argc > 6 || rows < 1 || ids < 1
        || (!arrays && strcmp (way, "rows") != 0)
        || (arrays && ids < BENCH_ROWS_PER_TX)
        || (strcmp (synchronous_commit, "on") != 0 && strcmp (synchronous_commit, "off") != 0)) {
        fprintf (stderr, "usage: bench_pg_upsert URI ROWS IDS [arrays|rows] [on|off]"
                         " (arrays: IDS >= %d)\n", BENCH_ROWS_PER_TX);
        return 2;
    }
    bench_t self = { .arrays = arrays };
    s_open (&self, argv [1], synchronous_commit);
    double started = bench_mono_s ();
    s_write_rows (&self, rows, ids);
    printf ("rows=%ld seconds=%.3f\n", rows, bench_mono_s () - started);
    s_close (&self);
    return 0;
}
