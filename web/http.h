/*  http.h — one HTTP request as lilac-web's routes see it, and the ways to
    answer it.

    libmicrohttpd calls the access handler several times per request: once
    with the headers, then with pieces of the body, then once more with
    nothing left. http_request_take (web.c's handler calls it) collects the
    body (up to the server's body limit: past it the request is answered
    413 at once) and returns the request to route only on that last call.
    A route answers exactly once, through http_reply_* — or later, for
    requests that wait on the broker (http_suspend, then http_resume with
    the reply queued), so the loop never waits.

    Every answer is counted by code for /metrics. Errors are JSON
    {"error": "..."} with a sentence a human can act on.
*/
#ifndef LILAC_HTTP_H
#define LILAC_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_BODY_DEFAULT_MAX  (1024 * 1024)   //  bytes of a request body, by default

typedef struct _http_request_t http_request_t;

//  Counts of answers by code, and how long they took (from the headers to
//  the answer queued), for /metrics.
#define HTTP_CODES_COUNTED 10
#define HTTP_BUCKETS       8
typedef struct {
    uint64_t by_code [HTTP_CODES_COUNTED + 1];  //  http_counted_codes order; the last: others
    uint64_t by_time [HTTP_BUCKETS + 1];        //  at or under http_buckets_s [i]; the last: more
    double seconds;                             //  the sum of all
    uint64_t count;
} http_counts_t;
extern const unsigned http_counted_codes [HTTP_CODES_COUNTED];
extern const double http_buckets_s [HTTP_BUCKETS];

//  The access handler's work: keeps the request's state in *request_state
//  (set it NULL before the first call; freed by http_request_completed),
//  collects the body. Returns the request when it is whole and must be
//  answered now, NULL when MHD should call again (or an answer, 413, was
//  already queued: then *handled is set to the MHD result to return).
http_request_t *http_request_take (struct MHD_Connection *connection, const char *url,
                                   const char *method, const char *upload_data,
                                   size_t *upload_data_size, void **request_state,
                                   size_t body_max, http_counts_t *counts,
                                   enum MHD_Result *handled);
//  For MHD_OPTION_NOTIFY_COMPLETED: frees the request's state.
void http_request_completed (void *arg, struct MHD_Connection *connection,
                             void **request_state, enum MHD_RequestTerminationCode code);

const char *http_method (http_request_t *self);
const char *http_path (http_request_t *self);      //  as sent, percent-encoded
//  Path segment index (0 is the one after the leading '/'), decoded on its
//  own (so an id "disk-space-/" is written disk-space-%2F), into buffer.
//  0, or -1 when there is no such segment, it does not fit or its escapes
//  are bad.
int http_segment (http_request_t *self, size_t index, char *buffer, size_t size);
size_t http_segment_count (http_request_t *self);
//  A query argument (decoded), or NULL. Valid until the request ends.
const char *http_query (http_request_t *self, const char *key);
//  Calls each (arg, MHD_GET_ARGUMENT_KIND, key, value) for every query
//  argument, repeated keys included, value decoded (may be NULL).
void http_each_query (http_request_t *self, MHD_KeyValueIterator each, void *arg);
//  The client's IP address as text ("127.0.0.1", "::1"): the peer's, or,
//  when the peer is a trusted proxy (http_trust_proxies), the rightmost
//  address of X-Forwarded-For that is not one (the proxies append, so
//  what is left of them the client could have written). An entry that is
//  not an address stops the walk at the last trusted hop. 0, or -1.
int http_peer_address (http_request_t *self, char *out, size_t out_size);
//  That walk alone, a pure function of its text: the client of a request
//  from peer (an address) whose X-Forwarded-For is header (NULL: none),
//  believing the proxies of trusted_proxies (NULL: none), into out. 0, or
//  -1 when out_size cannot hold it.
int http_forwarded_client (const char *header, const char *peer, const char *trusted_proxies,
                           char *out, size_t out_size);
//  The proxies (a list as config_list_next reads it) whose X-Forwarded-For this
//  request believes; NULL: none. The text must outlive the request.
void http_trust_proxies (http_request_t *self, const char *list);
//  True if text is a numeric IPv4 or IPv6 address.
bool http_address_valid (const char *text);
//  Did the request come straight from a trusted proxy (its socket peer)?
bool http_from_trusted_proxy (http_request_t *self);
//  A 503 answered to this request from now on carries Retry-After: seconds.
void http_retry_after (http_request_t *self, unsigned seconds);
//  A header, or NULL.
const char *http_header (http_request_t *self, const char *name);
//  The request's cookies named exactly name (case matters; every one of
//  duplicates, in order) go to each until it returns true: true if one did.
//  libmicrohttpd's own cookie table is not used: it matches names without
//  case and keeps only the first of duplicates.
typedef bool (http_cookie_fn) (const char *value, void *arg);
bool http_cookie_find (http_request_t *self, const char *name, http_cookie_fn *each, void *arg);
//  Does the request carry a cookie named exactly name?
bool http_has_cookie (http_request_t *self, const char *name);
//  The answer carries Set-Cookie: cookie (the whole header value).
void http_set_cookie (http_request_t *self, const char *cookie);
const char *http_body (http_request_t *self);      //  NUL-terminated ("" when none)
size_t http_body_size (http_request_t *self);
bool http_is (http_request_t *self, const char *method);
//  Who the request is from, once authenticated ("" before), and the source
//  that sender is bound to ("" when none: it may name any).
void http_set_user (http_request_t *self, const char *name, const char *source);
const char *http_user (http_request_t *self);
const char *http_source (http_request_t *self);
//  The sender's role's name (static text: auth_role_name), "" before, and
//  whether a session cookie said so.
void http_set_role (http_request_t *self, const char *role, bool by_session);
const char *http_role (http_request_t *self);
bool http_by_session (http_request_t *self);
//  401 with a Basic challenge and {"error": why}.
enum MHD_Result http_reply_unauthorized (http_request_t *self, const char *why);
//  For a route that builds its own response (a stream).
struct MHD_Connection *http_connection (http_request_t *self);
//  Queues response with code and counts it.
enum MHD_Result http_queue_response (http_request_t *self, unsigned code,
                                     struct MHD_Response *response);

//  Answers. Each returns the MHD result for the handler to return.
enum MHD_Result http_reply_text (http_request_t *self, unsigned code,
                                 const char *content_type, const char *body);
//  Takes a reference to body (json_decref'd here).
enum MHD_Result http_reply_json (http_request_t *self, unsigned code, json_t *body);
enum MHD_Result http_reply_error (http_request_t *self, unsigned code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  A request whose answer waits on the broker: the route suspends it and
//  returns MHD_YES; when the answer is known, http_resume_json queues it
//  (MHD calls the handler again, which sends it). The server needs
//  MHD_ALLOW_SUSPEND_RESUME. The request stays valid until answered.
//  Suspending a suspended request is a no-op.
enum MHD_Result http_suspend (http_request_t *self);
bool http_suspended (http_request_t *self);
void http_resume_json (http_request_t *self, unsigned code, json_t *body);
void http_resume_text (http_request_t *self, unsigned code, const char *content_type,
                       const char *body);

//  --- paths ---------------------------------------------------------------------------

//  The server leaves URLs as sent (MHD_OPTION_UNESCAPE_CALLBACK with
//  http_keep_escapes): a path is split on "/" first, then each segment is
//  decoded, so an id may hold "/" as %2F. http_unescape decodes size bytes
//  of text (%HH, either case; "+" stays "+") into out, NUL-terminated.
//  The decoded length, or -1 for a bad escape, a NUL (%00) or no room.
ssize_t http_unescape (const char *text, size_t size, char *out, size_t out_size);
//  The unescape callback that changes nothing.
size_t http_keep_escapes (void *arg, struct MHD_Connection *connection, char *text);

#endif
