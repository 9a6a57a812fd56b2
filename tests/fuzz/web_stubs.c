/*  web_stubs.c — web.c's side of lilac-web's routes, for programs that link
    the route files only for their pure parsers.

    api_acts.c and api_silences.c hold both the pure functions that read a
    request body (what the fuzz targets call) and the routes that answer it,
    which call into web.c: web_call, web_send, web_user, ... Linking web.c
    would pull in the whole server (every route file, the stream, the
    ingest). The fuzz harnesses and the corpus replay link these stand-ins
    instead. No target calls a route, so each one aborts: a call is a bug
    of the harness.
*/
#include <stdlib.h>
#include "../../web/web_internal.h"

enum MHD_Result
web_call (web_t *web, http_request_t *request, const void *body, size_t size,
          web_done_fn *done, void *arg)
{
    (void) web, (void) request, (void) body, (void) size, (void) done, (void) arg;
    abort ();
}

int
web_send (web_t *web, http_request_t *request, const void *body, size_t size,
          web_done_fn *done, void *arg, char *error, size_t error_size)
{
    (void) web, (void) request, (void) body, (void) size, (void) done, (void) arg;
    (void) error, (void) error_size;
    abort ();
}

wire_doc_t *
web_reply_checked (web_t *web, http_request_t *request, wire_doc_t *reply, const char *why,
                   unsigned refused_code)
{
    (void) web, (void) request, (void) reply, (void) why, (void) refused_code;
    abort ();
}

void
web_user (web_t *web, http_request_t *request, char *by, size_t size)
{
    (void) web, (void) request, (void) by, (void) size;
    abort ();
}

ctl_t *
web_ctl (web_t *web)
{
    (void) web;
    abort ();
}

const char *
web_source_label (web_t *web)
{
    (void) web;
    abort ();
}
