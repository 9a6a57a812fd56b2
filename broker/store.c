/*  store.c — the broker's store: the one interface (store.h), each call
    handed to the backend store_open picked. The broker, its control ops
    and the tests call these; only store_sqlite.c knows SQLite, and only
    store_pg.c PostgreSQL.
*/
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "mem.h"
#include "store.h"

struct _store_t {
    const store_class_t *class;        //  the backend's operations
    store_backend_t *backend;          //  its state
    bool reading;                      //  a read was sent, its answer not given yet
    store_read_t read;                 //  ... which (the backend's read_send is
    char *read_source;                 //  handed this copy): its own copies of the
                                       //  read's strings
    char *read_id;
};

#define STORE_POSTGRESQL_PREFIX  "postgresql://"
#define STORE_SQLITE_PREFIX      "sqlite:"

store_t *
store_open (const char *path, bool durable, char *error, size_t error_size)
{
    assert (path);
    const store_class_t *class = store_is_postgresql (path) ? &store_pg : &store_sqlite;
    if (strncmp (path, STORE_SQLITE_PREFIX, strlen (STORE_SQLITE_PREFIX)) == 0)
        path += strlen (STORE_SQLITE_PREFIX);
    store_backend_t *backend = class->open (path, durable, error, error_size);
    if (!backend)
        return NULL;
    store_t *self = mem_alloc (sizeof *self);
    self->class = class;
    self->backend = backend;
    return self;
}

void
store_destroy (store_t **self_p)
{
    assert (self_p);
    store_t *self = *self_p;
    if (!self)
        return;
    self->class->destroy (&self->backend);
    mem_free (self->read_source);
    mem_free (self->read_id);
    mem_free (self);
    *self_p = NULL;
}

const char *
store_error (store_t *self)
{
    assert (self);
    return self->class->error (self->backend);
}

int
store_load (store_t *self, store_alert_fn *each, void *arg)
{
    assert (self);
    return self->class->load (self->backend, each, arg);
}

bool
store_lost (store_t *self)
{
    assert (self);
    return self->class->lost (self->backend);
}

bool
store_is_postgresql (const char *path)
{
    return strncmp (path, STORE_POSTGRESQL_PREFIX, strlen (STORE_POSTGRESQL_PREFIX)) == 0
        || strncmp (path, "postgres://", 11) == 0;
}

void
store_redact (const char *path, char *out, size_t size)
{
    snprintf (out, size, "%s", path);
    if (!store_is_postgresql (out) && !strstr (out, "password="))
        return;
    //  user:password@ in a URI's authority
    char *scheme = strstr (out, "://");
    char *authority = scheme ? scheme + 3 : NULL;
    char *at = authority ? strchr (authority, '@') : NULL;
    char *slash = authority ? strchr (authority, '/') : NULL;
    char *colon = at && (!slash || at < slash) ? memchr (authority, ':', (size_t) (at - authority))
                                                : NULL;
    if (colon)
        memmove (colon, at, strlen (at) + 1);
    //  password=... up to the next & or space (a URI's query, or key=value)
    char *found;
    while ((found = strstr (out, "password=")) && (found == out || found [-1] == '?'
           || found [-1] == '&' || found [-1] == ' ')) {
        char *end = found + strcspn (found, "& ");
        if (*end)
            end++;                  //  its separator goes too
        memmove (found, end, strlen (end) + 1);
    }
    size_t length = strlen (out);
    while (length && (out [length - 1] == '&' || out [length - 1] == '?' || out [length - 1] == ' '))
        out [--length] = 0;
}

int
store_last_seq (store_t *self, uint64_t *seq)
{
    assert (self);
    return self->class->last_seq (self->backend, seq);
}

int
store_epoch_start (store_t *self, uint64_t last_seq, epoch_t *epoch, const char **why)
{
    assert (self);
    return self->class->epoch_start (self->backend, last_seq, epoch, why);
}

int
store_mark_clean (store_t *self, const epoch_t *epoch, uint64_t last_seq)
{
    assert (self);
    return self->class->mark_clean (self->backend, epoch, last_seq);
}

int
store_file_intact (store_t *self, char *why, size_t why_size)
{
    assert (self);
    return self->class->file_intact (self->backend, why, why_size);
}

int
store_begin (store_t *self, bool durable)
{
    assert (self);
    return self->class->begin (self->backend, durable);
}

int
store_commit (store_t *self)
{
    assert (self);
    return self->class->commit (self->backend);
}

int
store_commit_send (store_t *self)
{
    assert (self);
    return self->class->commit_send (self->backend);
}

int
store_commit_poll (store_t *self)
{
    assert (self);
    return self->class->commit_poll (self->backend);
}

int
store_poll_fd (store_t *self, short *events)
{
    assert (self && events);
    return self->class->poll_fd (self->backend, events);
}

int64_t
store_poll_deadline (store_t *self)
{
    assert (self);
    return self->class->poll_deadline (self->backend);
}

void
store_rollback (store_t *self)
{
    assert (self);
    self->class->rollback (self->backend);
}

int
store_maintain (store_t *self)
{
    assert (self);
    return self->class->maintain (self->backend);
}

size_t
store_log_pages (store_t *self)
{
    assert (self);
    return self->class->log_pages (self->backend);
}

int
store_release_log (store_t *self)
{
    assert (self);
    return self->class->release_log (self->backend);
}

int
store_stall_copier (store_t *self, int stall_ms, int overdue_ms)
{
    assert (self);
    return self->class->stall_copier
         ? self->class->stall_copier (self->backend, stall_ms, overdue_ms) : -1;
}

int
store_put_alert (store_t *self, const alert_t *alert, store_handle_t *handle)
{
    assert (self);
    return self->class->put_alert (self->backend, alert, handle);
}

int
store_put_times (store_t *self, const alert_t *alert, store_handle_t handle)
{
    assert (self);
    return self->class->put_times (self->backend, alert, handle);
}

int
store_delete_alert (store_t *self, const char *source, const char *id, store_handle_t handle)
{
    assert (self);
    return self->class->delete_alert (self->backend, source, id, handle);
}

void
store_row_committed (store_t *self, store_handle_t *handle)
{
    assert (self);
    self->class->row_committed (self->backend, handle);
}

void
store_times_committed (store_t *self, store_handle_t *handle)
{
    assert (self);
    self->class->times_committed (self->backend, handle);
}

bool
store_handle_written (store_t *self, store_handle_t handle)
{
    assert (self);
    return self->class->handle_written (self->backend, handle);
}

int
store_put_change (store_t *self, uint64_t seq, int64_t at, const char *event,
                  const alert_t *alert, const void *body, size_t size, uint64_t prev_seq)
{
    assert (self);
    return self->class->put_change (self->backend, seq, at, event, alert, body, size, prev_seq);
}

int
store_set_seq (store_t *self, uint64_t seq)
{
    assert (self);
    return self->class->set_seq (self->backend, seq);
}

int
store_set_rows_seq (store_t *self, uint64_t seq)
{
    assert (self);
    return self->class->set_rows_seq (self->backend, seq);
}

int
store_rows_seq (store_t *self, uint64_t *seq)
{
    assert (self);
    return self->class->rows_seq (self->backend, seq);
}

int
store_since (store_t *self, uint64_t after, size_t limit, store_change_fn *each, void *arg,
             size_t *count)
{
    assert (self);
    return self->class->since (self->backend, after, limit, each, arg, count);
}

int
store_history_chain (store_t *self, uint64_t seq, uint64_t below, const char *source,
                     const char *id, size_t limit, store_change_fn *each, void *arg)
{
    assert (self);
    return self->class->history_chain (self->backend, seq, below, source, id, limit, each,
                                       arg);
}

bool
store_reads_later (store_t *self)
{
    assert (self);
    return self->class->read_send != NULL;
}

int
store_read_send (store_t *self, const store_read_t *read)
{
    assert (self && read && !self->reading);
    self->read = *read;
    mem_free (self->read_source);
    mem_free (self->read_id);
    self->read_source = read->source ? mem_strdup (read->source) : NULL;
    self->read_id = read->id ? mem_strdup (read->id) : NULL;
    self->read.source = self->read_source;
    self->read.id = self->read_id;
    if (self->class->read_send && self->class->read_send (self->backend, &self->read))
        return -1;
    self->reading = true;
    return 0;
}

//  A since for a backend whose reads are answered at once: what its
//  `since` gives, cut at upto.
typedef struct {
    uint64_t upto;
    store_change_fn *each;
    void *arg;
} s_upto_t;

static void
s_give_upto (uint64_t seq, const void *body, size_t size, void *arg)
{
    s_upto_t *upto = arg;
    if (seq <= upto->upto)
        upto->each (seq, body, size, upto->arg);
}

//  The read, run now. 0 / -1.
static int
s_read_now (store_t *self, store_change_fn *each, void *arg, uint64_t *oldest)
{
    const store_read_t *read = &self->read;
    if (read->kind == STORE_READ_STANDBYS) {
        each (0, NULL, 0, arg);
        return 0;
    }
    if (read->kind == STORE_READ_CHAIN)
        return store_history_chain (self, read->seq, read->upto, read->source, read->id,
                                    read->limit, each, arg);
    s_upto_t upto = { read->upto, each, arg };
    size_t count;
    return store_oldest_seq (self, oldest)
        || store_since (self, read->seq, read->limit, s_give_upto, &upto, &count) ? -1 : 0;
}

int
store_read_poll (store_t *self, store_change_fn *each, void *arg, uint64_t *oldest)
{
    assert (self && self->reading);
    *oldest = 0;
    int rc = self->class->read_poll ? self->class->read_poll (self->backend, each, arg, oldest)
                                    : s_read_now (self, each, arg, oldest);
    if (rc != 1)
        self->reading = false;
    return rc;
}

int
store_read_fd (store_t *self, short *events)
{
    assert (self);
    return self->reading && self->class->read_fd ? self->class->read_fd (self->backend, events)
                                                 : -1;
}

int64_t
store_read_deadline (store_t *self)
{
    assert (self);
    return self->reading && self->class->read_deadline
         ? self->class->read_deadline (self->backend) : 0;
}

const char *
store_read_error (store_t *self)
{
    assert (self);
    return self->class->read_error ? self->class->read_error (self->backend)
                                   : store_error (self);
}

int
store_oldest_seq (store_t *self, uint64_t *seq)
{
    assert (self);
    return self->class->oldest_seq (self->backend, seq);
}

int
store_prune_history (store_t *self, int64_t before, uint64_t keep_after, int limit,
                     int *deleted)
{
    assert (self);
    return self->class->prune_history (self->backend, before, keep_after, limit, deleted);
}

int
store_put_silence (store_t *self, const char *id, int64_t ends, uint64_t seq, const void *body,
                   size_t size)
{
    assert (self);
    return self->class->put_silence (self->backend, id, ends, seq, body, size);
}

int
store_load_silences (store_t *self, store_silence_fn *each, void *arg)
{
    assert (self);
    return self->class->load_silences (self->backend, each, arg);
}

int
store_prune_silences (store_t *self, int64_t before, int *deleted)
{
    assert (self);
    return self->class->prune_silences (self->backend, before, deleted);
}
