/*  web_internal.h — what lilac-web's route files share with web.c.

    A route is a function of (web, request) that answers the request once,
    now or — when it waits on the broker — later: web_call sends a control
    request without waiting and suspends the HTTP request; when the answer
    comes (or WEB_CALL_TIMEOUT_MS passes without one) the route's done
    function is called with the reply (NULL and a reason when there is
    none) and answers with http_resume_json. So no route ever blocks the
    loop.
*/
#ifndef LILAC_WEB_INTERNAL_H
#define LILAC_WEB_INTERNAL_H

#include "ctl.h"
#include "http.h"
#include "web.h"
#include "wire.h"

typedef enum MHD_Result (web_route_fn) (web_t *web, http_request_t *request);

//  Called once with the broker's reply document (whatever its ok; owned by
//  the callee) or with NULL and why there is none.
typedef void (web_done_fn) (web_t *web, http_request_t *request, wire_doc_t *reply,
                            const char *why, void *arg);

//  Sends request (a packed control request) to the broker and suspends the
//  HTTP request until done is called. Returns what the handler returns:
//  MHD_YES, or an immediate 503 when the request could not even be sent.
enum MHD_Result web_call (web_t *web, http_request_t *request, const void *body, size_t size,
                          web_done_fn *done, void *arg);

//  web_call's first half, for a request already suspended (the next of a
//  chain, sent from a done function): sends and suspends, never answers.
//  0, or -1 with why in error (then done will not be called).
int web_send (web_t *web, http_request_t *request, const void *body, size_t size,
              web_done_fn *done, void *arg, char *error, size_t error_size);

//  For a done function: the reply when it says ok (caller destroys);
//  otherwise NULL after the request was answered — 503 without a reply, 404
//  when the broker says there is no such alert, refused_code for any other
//  refusal — each with {"error"}.
wire_doc_t *web_reply_checked (web_t *web, http_request_t *request, wire_doc_t *reply,
                               const char *why, unsigned refused_code);

//  The broker's control endpoint, for messages.
const char *web_control_endpoint (web_t *web);
//  Who made the request, for the `by` of an act: the authenticated user
//  once authentication exists; until then "anonymous@ADDRESS".
void web_user (web_t *web, http_request_t *request, char *by, size_t size);
//  Users, tokens and sessions.
struct _auth_t;
struct _auth_t *web_auth (web_t *web);
//  Did the browser reach us over HTTPS? Ours under TLS; through a trusted
//  proxy, what its X-Forwarded-Proto says.
bool web_https (web_t *web, http_request_t *request);
//  The control client (to check replies with ctl_reply_ok).
ctl_t *web_ctl (web_t *web);
//  The live copy of every alert.
struct _mirror_t;
struct _mirror_t *web_mirror (web_t *web);
//  The ingest routes' submits of this turn (ingest.h); NULL once
//  lilac-web is stopping.
struct _ingest_t;
struct _ingest_t *web_ingest (web_t *web);
//  The Alertmanager label that names an alert's source (config source_label).
const char *web_source_label (web_t *web);
//  Alertmanager's severity → level setting, or NULL for the default.
const char *web_severity_levels (web_t *web);

#endif
