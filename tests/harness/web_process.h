/*  web_process.h — the real lilac-web as a child of a test, and the real
    curl as its client.

    A web_process_t writes sandbox/web.conf (a free loopback port, the
    broker's endpoints, or lists of several brokers' endpoints
    (web_process_new_lists), a state directory, and any lines the test adds),
    spawns `$LILAC_BIN/lilac-web -c FILE` with its output in sandbox/web.log,
    and waits for /healthz to answer 200 (open whatever the authentication).
    web_process_new_tls adds tls_cert and tls_key: lilac-web serves HTTPS,
    the base is https://127.0.0.1:PORT, and the /healthz wait verifies the
    server against the certificate (curl --cacert: a self-signed one is its
    own authority). http_call runs /usr/bin/curl once: the code, the body
    and the headers come back in an http_result_t. Every wait has a deadline.
*/
#ifndef LILAC_WEB_PROCESS_H
#define LILAC_WEB_PROCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "harness.h"

#define WEB_START_DEADLINE_MS  10000   //  /healthz 200 within this

typedef struct _web_process_t web_process_t;

//  extra: lines added to the `web` section ("    users = ...\n"), or NULL.
web_process_t *web_process_new (sandbox_t *sandbox, broker_process_t *broker, const char *extra);
//  As web_process_new, with control and events given as text: endpoint lists
//  ("tcp://a,tcp://b") for two brokers on one PostgreSQL.
web_process_t *web_process_new_lists (sandbox_t *sandbox, const char *control,
                                      const char *events, const char *extra);
//  As web_process_new, serving HTTPS with the PEM files cert and key; curl
//  trusts cert (--cacert) when it waits for /healthz.
web_process_t *web_process_new_tls (sandbox_t *sandbox, broker_process_t *broker,
                                    const char *cert, const char *key, const char *extra);
//  Spawns it and waits for /healthz 200. 0, or -1 (printed).
int web_process_start (web_process_t *self);
//  The two halves of web_process_start, so a test can do other work while
//  lilac-web gets in step: spawn only (0 / -1), and wait for /healthz 200
//  within WEB_START_DEADLINE_MS (0, or -1 printed; not killed).
int web_process_spawn (web_process_t *self);
int web_process_wait_ready (web_process_t *self);
//  SIGTERM and wait: its exit status, or -1.
int web_process_stop (web_process_t *self);
//  SIGKILL and reap. 0, or -1 when it was not running.
int web_process_kill (web_process_t *self);
//  Kills it if it runs; prints its log when failed. NULL is a no-op.
void web_process_destroy (web_process_t **self_p, bool failed);
const char *web_process_base (web_process_t *self);     //  http(s)://127.0.0.1:PORT
const char *web_process_config (web_process_t *self);   //  the config file
const char *web_process_log (web_process_t *self);      //  its output
pid_t web_process_pid (web_process_t *self);
//  curl -sN BASE/api/stream + query ("?state=raised", or "") into the file
//  at out, in the background, with Last-Event-ID when last_event_id is not
//  NULL; its pid once the stream opened (noted when it did not in 5 s).
pid_t web_process_stream (web_process_t *self, const char *query, const char *last_event_id,
                          const char *out);

//  What one request sends beyond its method and URL; every field may be NULL.
typedef struct {
    const char *login;             //  -u USER:PASSWORD
    const char *token;             //  Authorization: Bearer TOKEN
    const char *body;              //  a JSON body (Content-Type: application/json)
    const char *body_file;         //  ... or one read from this file
    const char *header;            //  more header lines, '\n' between ("Last-Event-ID: 1:5")
    const char *ca_file;           //  --cacert FILE: what vouches for an https server
} http_options_t;

typedef struct {
    int status;                    //  curl's exit status
    long code;                     //  the HTTP status, 0 when none
    char *body;                    //  the answer's body (owned)
    char *headers;                 //  its headers (owned)
    int64_t elapsed_ms;
} http_result_t;

//  curl -s -m 15 -X METHOD URL with options, its files in dir. Fills
//  *result (free with http_result_free). 0, or -1 when curl did not run.
int http_call (const char *dir, const char *method, const char *url,
               const http_options_t *options, http_result_t *result);
void http_result_free (http_result_t *result);

#endif
