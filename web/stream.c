/*  stream.c — the SSE stream. See stream.h.

    The clients form a list; the mirror tells the stream of every change
    (mirror_on_change), and each client whose filter takes the alert gets
    the event appended to its buffer; a silence's change goes, as `event:
    silence`, to every client that did not say silences=no (s_wanted).
    libmicrohttpd pulls from the buffer through the response's content
    reader; an empty buffer suspends the connection (the reader returns 0
    then, as MHD asks in external-poll mode), a new event resumes it. The
    response's free callback unlinks the client when the connection ends,
    whoever ended it.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter.h"
#include "log.h"
#include "mem.h"
#include "stream.h"

typedef struct _stream_client_t stream_client_t;
struct _stream_client_t {
    stream_t *stream;              //  owner
    struct MHD_Connection *connection;
    filter_t filter;
    bool silences;                 //  silences' changes wanted (not silences=no)
    char *buffer;                  //  unsent bytes: buffer [sent .. size)
    size_t size;
    size_t sent;
    size_t capacity;               //  bytes allocated
    bool suspended;                //  waiting for an event
    bool overflowed;               //  too far behind: a reset is queued, nothing more
    stream_client_t *next;
};

struct _stream_t {
    mirror_t *mirror;
    stream_client_t *clients;
    size_t client_count;
    int64_t next_keepalive;        //  mono ms
};

#define S_BUFFER_KEEP  (64 * 1024)    //  a drained buffer larger than this is freed

//  Room for length more bytes in the client's buffer: the sent part is
//  dropped first (moved out when it is most of the buffer, or before any
//  growth), then the capacity at least doubles, so a backlog is not copied
//  at every append and never takes more than twice STREAM_BUFFER_MAX.
static void
s_reserve (stream_client_t *client, size_t length)
{
    if (client->sent == client->size)
        client->size = client->sent = 0;
    else
    if (client->sent > client->size / 2
    ||  (client->sent && client->size + length > client->capacity)) {
        memmove (client->buffer, client->buffer + client->sent, client->size - client->sent);
        client->size -= client->sent;
        client->sent = 0;
    }
    if (client->size + length <= client->capacity)
        return;
    size_t capacity = client->capacity ? client->capacity : 1024;
    while (capacity < client->size + length)
        capacity *= 2;
    client->buffer = mem_realloc (client->buffer, capacity);
    client->capacity = capacity;
}

//  Drops what the client has not been given, but the rest of the event MHD
//  has begun to send: a reset glued to half an event would be read as part
//  of it (a change with broken JSON, its id taken as seen).
static void
s_drop_backlog (stream_client_t *client)
{
    size_t keep = client->sent;
    bool between = keep == 0 || (keep >= 2 && client->buffer [keep - 1] == '\n'
                                 && client->buffer [keep - 2] == '\n');
    if (!between) {
        const char *end = memmem (client->buffer + keep, client->size - keep, "\n\n", 2);
        keep = end ? (size_t) (end + 2 - client->buffer) : client->size;
    }
    client->size = keep;
}

//  Queues length bytes of text for the client and wakes it.
static void
s_append_bytes (stream_client_t *client, const char *text, size_t length)
{
    if (client->overflowed)
        return;
    if (client->size - client->sent + length > STREAM_BUFFER_MAX) {
        client->overflowed = true;
        s_drop_backlog (client);
        text = "event: reset\ndata: {\"why\":\"too far behind\"}\n\n";
        length = strlen (text);
    }
    s_reserve (client, length);
    memcpy (client->buffer + client->size, text, length);
    client->size += length;
    if (client->suspended) {
        client->suspended = false;
        MHD_resume_connection (client->connection);
    }
}

static void
s_append (stream_client_t *client, const char *text)
{
    s_append_bytes (client, text, strlen (text));
}

//  Does the client take the change? Filters apply to alerts; a silence's
//  change goes to every client that did not opt out.
static bool
s_wanted (const stream_client_t *client, const mirror_change_t *change)
{
    return change->alert ? filter_matches (&client->filter, change->alert) : client->silences;
}

//  The change as one SSE event, "event: KIND\nid: N:SEQ\ndata: JSON\n\n"
//  (fresh; NULL when out of memory), written once for every client.
static char *
s_event_text (const mirror_change_t *change, size_t *length)
{
    char *text = NULL;
    int written = asprintf (&text, "event: %s\nid: %" PRIu64 ":%" PRIu64 "\ndata: %s\n\n",
                            change->alert ? "change" : "silence", change->epoch_n, change->seq,
                            change->json);
    if (written < 0)
        return NULL;
    *length = (size_t) written;
    return text;
}

static const char s_reset_reload [] =
    "event: reset\ndata: {\"why\":\"a new epoch, or a change lilac-web could not keep\"}\n\n";

//  The change (NULL: everyone must reload) to client, if it takes it.
static void
s_append_change (stream_client_t *client, const mirror_change_t *change)
{
    if (!change) {
        s_append (client, s_reset_reload);
        return;
    }
    if (!s_wanted (client, change))
        return;
    size_t length;
    char *text = s_event_text (change, &length);
    if (text)
        s_append_bytes (client, text, length);
    else
        s_append (client, s_reset_reload);
    free (text);
}

static void
s_on_change (const mirror_change_t *change, void *arg)
{
    stream_t *self = arg;
    if (!self->clients)                 //  nobody to tell: no event text to write
        return;
    size_t length = 0;
    char *text = change ? s_event_text (change, &length) : NULL;
    for (stream_client_t *client = self->clients; client; client = client->next)
        if (!text)
            s_append (client, s_reset_reload);
        else
        if (s_wanted (client, change))
            s_append_bytes (client, text, length);
    free (text);
}

static void
s_replayed (const mirror_change_t *change, void *arg)
{
    s_append_change (arg, change);
}

static ssize_t
s_read (void *arg, uint64_t position, char *buffer, size_t max)
{
    (void) position;
    stream_client_t *client = arg;
    if (client->sent == client->size) {
        if (client->overflowed)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (client->capacity > S_BUFFER_KEEP) {     //  a burst is over: give it back
            mem_free (client->buffer);
            client->buffer = NULL;
            client->size = client->sent = client->capacity = 0;
        }
        client->suspended = true;
        MHD_suspend_connection (client->connection);
        return 0;
    }
    size_t count = client->size - client->sent;
    if (count > max)
        count = max;
    memcpy (buffer, client->buffer + client->sent, count);
    client->sent += count;
    return (ssize_t) count;
}

static void
s_client_gone (void *arg)
{
    stream_client_t *client = arg;
    stream_t *self = client->stream;
    for (stream_client_t **link = self ? &self->clients : NULL; link && *link;
         link = &(*link)->next)
        if (*link == client) {
            *link = client->next;
            self->client_count--;
            break;
        }
    mem_free (client->buffer);
    mem_free (client);
}

//  "N:SEQ" into its two numbers. 0 / -1.
static int
s_parse_position (const char *text, uint64_t *epoch_n, uint64_t *seq)
{
    unsigned long long n, s;
    char tail;
    if (!text || sscanf (text, "%llu:%llu%c", &n, &s, &tail) != 2)
        return -1;
    *epoch_n = n;
    *seq = s;
    return 0;
}

//  Reads the query: the alert filters, and silences=yes|no (absent: yes).
//  0, or -1 with why in error.
static int
s_read_query (stream_client_t *client, http_request_t *request, char *error,
              size_t error_size)
{
    if (filter_read (&client->filter, request)) {
        snprintf (error, error_size, "%s", client->filter.error);
        return -1;
    }
    const char *silences = http_query (request, "silences");
    client->silences = !silences || strcmp (silences, "yes") == 0;
    if (silences && !client->silences && strcmp (silences, "no") != 0) {
        snprintf (error, error_size, "silences: yes or no");
        return -1;
    }
    return 0;
}

enum MHD_Result
stream_open (stream_t *self, http_request_t *request)
{
    if (!mirror_ready (self->mirror))
        return http_reply_error (request, MHD_HTTP_SERVICE_UNAVAILABLE,
                                 "not in step with the broker yet: try again shortly");
    if (self->client_count >= STREAM_CLIENTS_MAX)
        return http_reply_error (request, MHD_HTTP_SERVICE_UNAVAILABLE,
                                 "%d streams are open already", STREAM_CLIENTS_MAX);
    stream_client_t *client = mem_alloc (sizeof (stream_client_t));
    client->stream = self;
    client->connection = http_connection (request);
    char error [sizeof client->filter.error];
    if (s_read_query (client, request, error, sizeof error)) {
        mem_free (client);
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "%s", error);
    }
    const char *resume = http_header (request, "Last-Event-ID");
    if (!resume)
        resume = http_query (request, "since");
    uint64_t epoch_n, after;
    s_append (client, ": lilac-web stream\n\n");
    if (resume && s_parse_position (resume, &epoch_n, &after))
        s_append (client, "event: reset\ndata: {\"why\":\"an unreadable resume point\"}\n\n");
    else
    if (resume && !mirror_replay (self->mirror, epoch_n, after, s_replayed, client))
        s_append (client, "event: reset\ndata: {\"why\":\"the resume point is gone\"}\n\n");
    struct MHD_Response *response = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, 4096,
                                                                       s_read, client,
                                                                       s_client_gone);
    if (!response) {
        mem_free (client->buffer);
        mem_free (client);
        return MHD_NO;
    }
    client->next = self->clients;
    self->clients = client;
    self->client_count++;
    enum MHD_Result rc = MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                                  "text/event-stream");
    if (rc == MHD_YES)
        rc = MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (rc == MHD_YES)
        rc = http_queue_response (request, MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    return rc;
}

int64_t
stream_work (stream_t *self, int64_t mono_now)
{
    if (mono_now >= self->next_keepalive) {
        for (stream_client_t *client = self->clients; client; client = client->next)
            s_append (client, ": keepalive\n\n");
        self->next_keepalive = mono_now + STREAM_KEEPALIVE_MS;
    }
    return self->next_keepalive - mono_now;
}

void
stream_release (stream_t *self)
{
    for (stream_client_t *client = self->clients; client; client = client->next) {
        client->overflowed = true;          //  the reader ends the stream
        if (client->suspended) {
            client->suspended = false;
            MHD_resume_connection (client->connection);
        }
    }
}

size_t
stream_clients (stream_t *self)
{
    return self->client_count;
}

stream_t *
stream_new (mirror_t *mirror)
{
    stream_t *self = mem_alloc (sizeof (stream_t));
    self->mirror = mirror;
    self->next_keepalive = zclock_mono () + STREAM_KEEPALIVE_MS;
    mirror_on_change (mirror, s_on_change, self);
    return self;
}

void
stream_destroy (stream_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    stream_t *self = *self_p;
    mirror_on_change (self->mirror, NULL, NULL);
    //  the clients are freed by MHD (s_client_gone) when it stops
    for (stream_client_t *client = self->clients; client; client = client->next)
        client->stream = NULL;
    mem_free (self);
    *self_p = NULL;
}
