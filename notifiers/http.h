/*  http.h — the one libcurl module of the notifiers: HTTP(S) requests for
    Pushover and the webhooks, driven by one curl multi handle inside the
    notifier's loop (loop.h), and SMTP submissions for e-mail, each in a
    forked child whose pipe the loop watches (http.c says why), so no
    request ever waits outside its poll (architecture §6).

    A request is started with http_start and ends with its callback,
    called exactly once from http_work or a watched fd's callback — never
    from inside http_start — unless it is cancelled first (http_cancel:
    no callback). The request's strings are copied by http_start; the
    response handed to the callback lives for the call only.

    Every request has a timeout (whole exchange and connect), follows no
    redirect, and is limited to the protocols its URL's scheme names
    (http/https, or smtp/smtps). The response keeps at most
    HTTP_BODY_MAX bytes of body and HTTP_HEADERS_MAX bytes of headers
    (the rest is read and dropped, `truncated` says so).

    Secrets (tokens in forms and URLs, passwords) are never logged here:
    the caller decides what a failure says, from `error` (curl's words)
    and `status`.
*/
#ifndef LILAC_HTTP_H
#define LILAC_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "loop.h"

#define HTTP_BODY_MAX     (64 * 1024)
#define HTTP_HEADERS_MAX  (16 * 1024)
#define HTTP_MAX_HEADERS  16               //  request headers at most
#define HTTP_MAX_RCPT     100              //  SMTP recipients at most (mail_message's too)

typedef struct _http_t http_t;
typedef struct _http_call_t http_call_t;

typedef struct {
    const char *method;            //  "GET", "POST", "PUT"; NULL: POST with a body, else GET
    const char *url;               //  http(s):// or smtp(s)://
    const char *content_type;      //  or NULL
    const void *body;              //  body_size bytes, or NULL; SMTP: the whole message
    size_t body_size;
    const char *const *headers;    //  "Name: value", header_count of them
    size_t header_count;
    const char *username;          //  basic auth (HTTP) or AUTH (SMTP), or NULL
    const char *password;
    const char *bearer;            //  "Authorization: Bearer" token, or NULL
    int64_t timeout_ms;            //  the whole exchange; 0: 30 s
    const char *user_agent;        //  or NULL
    //  SMTP only
    const char *mail_from;         //  the envelope sender (bare address)
    const char *const *mail_rcpt;  //  rcpt_count bare addresses
    size_t rcpt_count;
    bool require_tls;              //  smtp://: STARTTLS or fail (CURLUSESSL_ALL)
    const char *ca_file;           //  trust these CAs instead of the system's, or NULL
} http_request_t;

typedef struct {
    CURLcode code;                 //  CURLE_OK when a response came
    long status;                   //  HTTP status / last SMTP reply code, 0 when none
    const char *body;              //  NUL-terminated, body_size bytes
    size_t body_size;
    bool truncated;                //  body or headers were longer than kept
    const char *error;             //  curl's words for a failure, "" when none
    const char *replies;           //  the response's header lines; for SMTP, every
                                   //  reply line of the server (its words on a refusal)
    int64_t elapsed_ms;            //  from start to end
} http_response_t;

typedef void (http_done_fn) (const http_response_t *response, http_call_t *call, void *arg);

//  One multi handle whose sockets loop watches. NULL with why in error.
http_t *http_new (loop_t *loop, char *error, size_t error_size);
//  Cancels every call in flight (no callbacks), then frees.
void http_destroy (http_t **self_p);
//  Starts a request. The call, or NULL with why in error (a bad URL
//  scheme, too many headers, out of memory): nothing was sent.
http_call_t *http_start (http_t *self, const http_request_t *request,
                         http_done_fn *done, void *arg, char *error, size_t error_size);
//  Stops a call in flight; its callback is never called. NULL is a no-op.
void http_cancel (http_t *self, http_call_t *call);
//  A response header's value (first match, case-insensitive name, no
//  colon), trimmed, into out; 0 found, -1 not. For the callback's use.
int http_response_header (const http_call_t *call, const char *name, char *out, size_t out_size);
//  curl's timers and finished transfers: call every turn (cheap).
void http_work (http_t *self, int64_t mono_now);
//  ms until http_work is needed even if no fd is ready; -1 none.
int64_t http_next_wakeup (http_t *self, int64_t mono_now);
//  Calls in flight.
size_t http_in_flight (http_t *self);
//  A URL-encoded copy of text (curl_easy_escape): a fresh string to free
//  with mem_free, never NULL (out of memory is fatal).
char *http_escape (const char *text);

#endif
