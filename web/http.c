/*  http.c — one HTTP request and its answer. See http.h.
*/
#include <arpa/inet.h>
#include <czmq.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "config.h"
#include "http.h"
#include "mem.h"

const unsigned http_counted_codes [HTTP_CODES_COUNTED] = {
    200, 202, 400, 401, 403, 404, 405, 413, 500, 503
};
const double http_buckets_s [HTTP_BUCKETS] = {
    0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 3
};

struct _http_request_t {
    struct MHD_Connection *connection;
    char *method;                  //  copy
    char *path;                    //  copy
    char *body;                    //  collected, NUL-terminated
    size_t body_size;
    size_t body_max;
    bool too_large;                //  answered 413 already
    bool suspended;                //  waiting on the broker
    unsigned pending_code;         //  the answer to send once resumed, 0 none
    char *pending_body;            //  its text
    char *pending_type;            //  its content type
    unsigned retry_after;          //  seconds for Retry-After on a 503, 0 none
    char **decoded;                //  query values decoded by http_query, freed with us
    size_t decoded_count;
    http_counts_t *counts;         //  where answers are counted
    int64_t started_us;            //  when the headers came (monotonic)
    char user [160];               //  who, once authenticated
    char source [160];             //  the source that sender is bound to, "" none
    const char *role;              //  the sender's role name, "" before
    bool by_session;               //  authenticated by a session cookie
    const char *trusted_proxies;   //  whose X-Forwarded-For counts, or NULL
    char *set_cookie;              //  a Set-Cookie for the answer, or NULL
};

static void
s_count (http_request_t *self, unsigned code)
{
    size_t index = 0;
    while (index < HTTP_CODES_COUNTED && http_counted_codes [index] != code)
        index++;
    self->counts->by_code [index]++;
    double seconds = (double) (zclock_usecs () - self->started_us) / 1e6;
    size_t bucket = 0;
    while (bucket < HTTP_BUCKETS && seconds > http_buckets_s [bucket])
        bucket++;
    self->counts->by_time [bucket]++;
    self->counts->seconds += seconds;
    self->counts->count++;
}

//  Queues body (copied) with code and content type.
static enum MHD_Result
s_queue (http_request_t *self, unsigned code, const char *content_type, const char *body)
{
    char *copy = mem_strdup (body);     //  MHD frees it (free) with the response
    struct MHD_Response *response = MHD_create_response_from_buffer (strlen (copy), copy,
                                                                     MHD_RESPMEM_MUST_FREE);
    if (!response) {
        mem_free (copy);
        return MHD_NO;
    }
    enum MHD_Result rc = MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                                  content_type);
    if (rc == MHD_YES && code == MHD_HTTP_SERVICE_UNAVAILABLE && self->retry_after) {
        char seconds [16];
        snprintf (seconds, sizeof seconds, "%u", self->retry_after);
        rc = MHD_add_response_header (response, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
    }
    if (rc == MHD_YES && self->set_cookie)
        rc = MHD_add_response_header (response, MHD_HTTP_HEADER_SET_COOKIE, self->set_cookie);
    if (rc == MHD_YES)
        rc = MHD_queue_response (self->connection, code, response);
    MHD_destroy_response (response);
    s_count (self, code);
    return rc;
}

static void
s_free (http_request_t *self)
{
    mem_free (self->method);
    mem_free (self->path);
    mem_free (self->body);
    mem_free (self->pending_body);
    mem_free (self->pending_type);
    mem_free (self->set_cookie);
    for (size_t index = 0; index < self->decoded_count; index++)
        mem_free (self->decoded [index]);
    mem_free (self->decoded);
    mem_free (self);
}

http_request_t *
http_request_take (struct MHD_Connection *connection, const char *url, const char *method,
                   const char *upload_data, size_t *upload_data_size, void **request_state,
                   size_t body_max, http_counts_t *counts, enum MHD_Result *handled)
{
    http_request_t *self = *request_state;
    *handled = MHD_YES;
    if (!self) {                    //  the headers: the request begins
        self = mem_alloc (sizeof (http_request_t));
        self->connection = connection;
        self->method = mem_strdup (method);
        self->path = mem_strdup (url);
        self->body = mem_strdup ("");
        self->role = "";
        self->body_max = body_max;
        self->counts = counts;
        self->started_us = zclock_usecs ();
        *request_state = self;
        return NULL;
    }
    if (self->pending_code) {       //  resumed: send what the broker's answer made
        self->suspended = false;
        *handled = s_queue (self, self->pending_code, self->pending_type, self->pending_body);
        self->pending_code = 0;
        return NULL;
    }
    if (*upload_data_size) {        //  a piece of the body
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        if (self->too_large)
            return NULL;
        if (self->body_size + size > self->body_max) {
            self->too_large = true;
            return NULL;
        }
        self->body = mem_realloc (self->body, self->body_size + size + 1);
        memcpy (self->body + self->body_size, upload_data, size);
        self->body_size += size;
        self->body [self->body_size] = 0;
        return NULL;
    }
    if (self->suspended)
        return NULL;
    if (self->too_large) {
        *handled = http_reply_error (self, MHD_HTTP_CONTENT_TOO_LARGE,
                                     "the body is larger than %zu bytes", self->body_max);
        return NULL;
    }
    return self;
}

void
http_request_completed (void *arg, struct MHD_Connection *connection, void **request_state,
                        enum MHD_RequestTerminationCode code)
{
    (void) arg, (void) connection, (void) code;
    if (request_state && *request_state) {
        s_free (*request_state);
        *request_state = NULL;
    }
}

const char *http_method (http_request_t *self) { return self->method; }
const char *http_path (http_request_t *self) { return self->path; }
const char *http_body (http_request_t *self) { return self->body; }
size_t http_body_size (http_request_t *self) { return self->body_size; }

void
http_set_user (http_request_t *self, const char *name, const char *source)
{
    snprintf (self->user, sizeof self->user, "%s", name);
    snprintf (self->source, sizeof self->source, "%s", source ? source : "");
}

void
http_set_role (http_request_t *self, const char *role, bool by_session)
{
    self->role = role;
    self->by_session = by_session;
}

bool
http_by_session (http_request_t *self)
{
    return self->by_session;
}

const char *
http_role (http_request_t *self)
{
    return self->role;
}

const char *
http_source (http_request_t *self)
{
    return self->source;
}

const char *
http_user (http_request_t *self)
{
    return self->user;
}

enum MHD_Result
http_reply_unauthorized (http_request_t *self, const char *why)
{
    json_t *body = json_pack ("{s:s}", "error", why);
    char *text = body ? json_dumps (body, JSON_COMPACT) : NULL;
    json_decref (body);
    char *copy = mem_strdup (text ? text : "{\"error\":\"authentication required\"}");
    free (text);
    struct MHD_Response *response = MHD_create_response_from_buffer (strlen (copy), copy,
                                                                     MHD_RESPMEM_MUST_FREE);
    if (!response) {
        mem_free (copy);
        return MHD_NO;
    }
    enum MHD_Result rc = MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                                  "application/json");
    if (rc == MHD_YES)
        rc = MHD_add_response_header (response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                      "Basic realm=\"lilac\"");
    if (rc == MHD_YES)
        rc = http_queue_response (self, MHD_HTTP_UNAUTHORIZED, response);
    MHD_destroy_response (response);
    return rc;
}

struct MHD_Connection *
http_connection (http_request_t *self)
{
    return self->connection;
}

enum MHD_Result
http_queue_response (http_request_t *self, unsigned code, struct MHD_Response *response)
{
    s_count (self, code);
    return MHD_queue_response (self->connection, code, response);
}

bool
http_is (http_request_t *self, const char *method)
{
    return strcmp (self->method, method) == 0;
}

//  --- escapes -------------------------------------------------------------------------

int
http_segment (http_request_t *self, size_t index, char *buffer, size_t size)
{
    const char *start = self->path [0] == '/' ? self->path + 1 : self->path;
    for (size_t skipped = 0; skipped < index; skipped++) {
        start = strchr (start, '/');
        if (!start)
            return -1;
        start++;
    }
    size_t length = strcspn (start, "/?");
    if (length == 0 || http_unescape (start, length, buffer, size) < 0)
        return -1;
    return 0;
}

size_t
http_segment_count (http_request_t *self)
{
    const char *path = self->path [0] == '/' ? self->path + 1 : self->path;
    if (!*path)
        return 0;
    size_t count = 1;
    for (const char *at = path; (at = strchr (at, '/')); at++)
        count++;
    return count;
}

const char *
http_query (http_request_t *self, const char *key)
{
    const char *raw = MHD_lookup_connection_value (self->connection, MHD_GET_ARGUMENT_KIND, key);
    if (!raw)
        return NULL;
    size_t size = strlen (raw);
    char *value = mem_alloc (size + 1);
    if (http_unescape (raw, size, value, size + 1) < 0) {
        mem_free (value);
        return NULL;
    }
    self->decoded = mem_realloc (self->decoded, (self->decoded_count + 1) * sizeof (char *));
    self->decoded [self->decoded_count++] = value;
    return value;
}

static int
s_hex (char digit)
{
    return digit >= '0' && digit <= '9' ? digit - '0'
         : digit >= 'a' && digit <= 'f' ? digit - 'a' + 10
         : digit >= 'A' && digit <= 'F' ? digit - 'A' + 10 : -1;
}

ssize_t
http_unescape (const char *text, size_t size, char *out, size_t out_size)
{
    size_t length = 0;
    for (size_t index = 0; index < size; index++) {
        char byte = text [index];
        if (byte == '%') {
            int high = index + 2 < size ? s_hex (text [index + 1]) : -1;
            int low = high >= 0 ? s_hex (text [index + 2]) : -1;
            if (low < 0 || (high == 0 && low == 0))
                return -1;          //  a bad escape, or %00
            byte = (char) (high * 16 + low);
            index += 2;
        }
        else
        if (byte == 0)
            return -1;
        if (length + 1 >= out_size)
            return -1;
        out [length++] = byte;
    }
    if (out_size == 0)
        return -1;
    out [length] = 0;
    return (ssize_t) length;
}

size_t
http_keep_escapes (void *arg, struct MHD_Connection *connection, char *text)
{
    (void) arg, (void) connection;
    return strlen (text);
}

//  The socket peer's address as text. 0, or -1.
static int
s_socket_peer (http_request_t *self, char *out, size_t out_size)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (self->connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *address = info ? info->client_addr : NULL;
    const void *bytes = !address ? NULL
                      : address->sa_family == AF_INET
                      ? (const void *) &((const struct sockaddr_in *) address)->sin_addr
                      : address->sa_family == AF_INET6
                      ? (const void *) &((const struct sockaddr_in6 *) address)->sin6_addr : NULL;
    if (!bytes || !inet_ntop (address->sa_family, bytes, out, (socklen_t) out_size))
        return -1;
    return 0;
}

//  The address's bytes (16, IPv4 mapped into IPv6), so "::ffff:127.0.0.1"
//  and "127.0.0.1" compare equal. false if text is not an address.
static bool
s_address_bytes (const char *text, unsigned char bytes [16])
{
    struct in_addr v4;
    if (inet_pton (AF_INET, text, &v4) == 1) {
        memset (bytes, 0, 10);
        bytes [10] = bytes [11] = 0xff;
        memcpy (bytes + 12, &v4, 4);
        return true;
    }
    return inet_pton (AF_INET6, text, bytes) == 1;
}

bool
http_address_valid (const char *text)
{
    unsigned char bytes [16];
    return s_address_bytes (text, bytes);
}

static bool
s_trusted (const char *list, const char *address)
{
    unsigned char want [16], entry_bytes [16];
    char entry [INET6_ADDRSTRLEN + 1];
    if (!list || !s_address_bytes (address, want))
        return false;
    for (const char *next = list; (next = config_list_next (next, entry, sizeof entry)); )
        if (s_address_bytes (entry, entry_bytes) && memcmp (want, entry_bytes, 16) == 0)
            return true;
    return false;
}

//  The entry of header that ends at end (at a comma or the end), without
//  its blanks, into entry; where it starts in *start. false if it is not
//  an address (empty, too long for entry, anything else).
static bool
s_forwarded_entry (const char *header, size_t end, size_t *start, char *entry,
                   size_t entry_size)
{
    *start = end;
    while (*start > 0 && header [*start - 1] != ',')
        (*start)--;
    const char *from = header + *start;
    size_t length = end - *start;
    while (length && (*from == ' ' || *from == '\t'))
        from++, length--;
    while (length && (from [length - 1] == ' ' || from [length - 1] == '\t'))
        length--;
    if (!length || length >= entry_size)
        return false;
    memcpy (entry, from, length);
    entry [length] = '\0';
    return http_address_valid (entry);
}

int
http_forwarded_client (const char *header, const char *peer, const char *trusted_proxies,
                       char *out, size_t out_size)
{
    if ((size_t) snprintf (out, out_size, "%s", peer) >= out_size)
        return -1;
    if (!header || !s_trusted (trusted_proxies, peer))
        return 0;
    //  Right to left: the proxies' own entries come last.
    for (size_t end = strlen (header), start = 0; end > 0; end = start > 0 ? start - 1 : 0) {
        char entry [INET6_ADDRSTRLEN + 1];
        if (!s_forwarded_entry (header, end, &start, entry, sizeof entry))
            break;                              //  garbage: keep the last trusted hop
        if ((size_t) snprintf (out, out_size, "%s", entry) >= out_size)
            return -1;
        if (!s_trusted (trusted_proxies, entry))
            break;
    }
    return 0;
}

int
http_peer_address (http_request_t *self, char *out, size_t out_size)
{
    char peer [INET6_ADDRSTRLEN + 1];
    if (s_socket_peer (self, peer, sizeof peer))
        return -1;
    const char *forwarded = self->trusted_proxies
        ? MHD_lookup_connection_value (self->connection, MHD_HEADER_KIND, "X-Forwarded-For")
        : NULL;
    return http_forwarded_client (forwarded, peer, self->trusted_proxies, out, out_size);
}

void
http_trust_proxies (http_request_t *self, const char *list)
{
    self->trusted_proxies = list;
}

bool
http_from_trusted_proxy (http_request_t *self)
{
    char peer [INET6_ADDRSTRLEN + 1];
    return self->trusted_proxies && s_socket_peer (self, peer, sizeof peer) == 0
        && s_trusted (self->trusted_proxies, peer);
}

void
http_retry_after (http_request_t *self, unsigned seconds)
{
    self->retry_after = seconds;
}

typedef struct {
    MHD_KeyValueIterator each;
    void *arg;
} s_each_t;

static enum MHD_Result
s_each_decoded (void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
    s_each_t *each = arg;
    if (!value || !strchr (value, '%'))
        return each->each (each->arg, kind, key, value);
    size_t size = strlen (value);
    char *decoded = mem_alloc (size + 1);
    enum MHD_Result rc = http_unescape (value, size, decoded, size + 1) < 0
                       ? MHD_YES           //  a bad escape: the argument is left out
                       : each->each (each->arg, kind, key, decoded);
    mem_free (decoded);
    return rc;
}

void
http_each_query (http_request_t *self, MHD_KeyValueIterator each, void *arg)
{
    s_each_t wrapped = { each, arg };
    MHD_get_connection_values (self->connection, MHD_GET_ARGUMENT_KIND, s_each_decoded, &wrapped);
}

const char *
http_header (http_request_t *self, const char *name)
{
    return MHD_lookup_connection_value (self->connection, MHD_HEADER_KIND, name);
}

//  One Cookie header's "NAME=VALUE; ..." pairs: each whose name is exactly
//  name goes to each (its value unquoted) until it says yes.
static bool
s_cookie_pairs (const char *header, const char *name, http_cookie_fn *each, void *arg)
{
    size_t name_length = strlen (name);
    for (const char *at = header; at && *at; ) {
        at += strspn (at, " \t;");
        size_t pair = strcspn (at, ";");
        const char *equals = memchr (at, '=', pair);
        if (equals && (size_t) (equals - at) == name_length && memcmp (at, name, name_length) == 0) {
            char value [1024];
            const char *from = equals + 1;
            size_t length = pair - (size_t) (from - at);
            while (length && (from [length - 1] == ' ' || from [length - 1] == '\t'))
                length--;
            if (length >= 2 && from [0] == '"' && from [length - 1] == '"')
                from++, length -= 2;
            if (length < sizeof value) {
                memcpy (value, from, length);
                value [length] = 0;
                if (each (value, arg))
                    return true;
            }
        }
        at += pair;
    }
    return false;
}

typedef struct {
    const char *name;
    http_cookie_fn *each;
    void *arg;
    bool found;
} s_cookie_walk_t;

static enum MHD_Result
s_cookie_header (void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    s_cookie_walk_t *walk = arg;
    if (strcasecmp (key, MHD_HTTP_HEADER_COOKIE) == 0 && value
    &&  s_cookie_pairs (value, walk->name, walk->each, walk->arg)) {
        walk->found = true;
        return MHD_NO;                  //  stop
    }
    return MHD_YES;
}

bool
http_cookie_find (http_request_t *self, const char *name, http_cookie_fn *each, void *arg)
{
    s_cookie_walk_t walk = { name, each, arg, false };
    MHD_get_connection_values (self->connection, MHD_HEADER_KIND, s_cookie_header, &walk);
    return walk.found;
}

static bool
s_any (const char *value, void *arg)
{
    (void) value, (void) arg;
    return true;
}

bool
http_has_cookie (http_request_t *self, const char *name)
{
    return http_cookie_find (self, name, s_any, NULL);
}

void
http_set_cookie (http_request_t *self, const char *cookie)
{
    mem_replace (&self->set_cookie, cookie);
}

enum MHD_Result
http_reply_text (http_request_t *self, unsigned code, const char *content_type, const char *body)
{
    return s_queue (self, code, content_type, body);
}

enum MHD_Result
http_reply_json (http_request_t *self, unsigned code, json_t *body)
{
    char *text = body ? json_dumps (body, JSON_COMPACT) : NULL;
    json_decref (body);
    enum MHD_Result rc = s_queue (self, code, "application/json",
                                  text ? text : "{\"error\":\"out of memory\"}");
    free (text);
    return rc;
}

enum MHD_Result
http_reply_error (http_request_t *self, unsigned code, const char *format, ...)
{
    char why [512];
    va_list args;
    va_start (args, format);
    vsnprintf (why, sizeof why, format, args);
    va_end (args);
    return http_reply_json (self, code, json_pack ("{s:s}", "error", why));
}

enum MHD_Result
http_suspend (http_request_t *self)
{
    if (!self->suspended) {         //  a second call (two requests to the broker) is a no-op
        self->suspended = true;
        MHD_suspend_connection (self->connection);
    }
    return MHD_YES;
}

bool
http_suspended (http_request_t *self)
{
    return self->suspended;
}

void
http_resume_text (http_request_t *self, unsigned code, const char *content_type,
                  const char *body)
{
    mem_free (self->pending_body);
    mem_free (self->pending_type);
    self->pending_body = mem_strdup (body);
    self->pending_type = mem_strdup (content_type);
    self->pending_code = code;
    MHD_resume_connection (self->connection);
}

void
http_resume_json (http_request_t *self, unsigned code, json_t *body)
{
    char *text = body ? json_dumps (body, JSON_COMPACT) : NULL;
    json_decref (body);
    http_resume_text (self, code, "application/json",
                      text ? text : "{\"error\":\"out of memory\"}");
    free (text);
}
