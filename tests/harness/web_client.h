/*  web_client.h — lilac-web for tests: start one on a free loopback port,
    talk to it with the real curl, run other real clients (amtool) whose
    binaries are not ours.

    Every request spawns /usr/bin/curl; its body and HTTP status go through
    files in the sandbox, so a test sees exactly what a shell user would.
*/
#ifndef LILAC_WEB_CLIENT_H
#define LILAC_WEB_CLIENT_H

#include "harness.h"

typedef struct {
    int status;                    //  curl's exit code (-1: not run or timed out)
    long code;                     //  the HTTP status, 0 when none
    char *body;                    //  what came back (owned; free with web_reply_free)
} web_reply_t;

//  Writes SANDBOX/web.conf (listen on a free port, the broker's control and
//  events, a state dir, then extra lines — each indented under `web`) and
//  spawns lilac-web, its output in SANDBOX/web.log. Writes
//  "http://127.0.0.1:PORT" into base. The pid, or 0.
pid_t web_start (sandbox_t *sandbox, broker_process_t *broker, const char *extra,
                 char *base, size_t base_size);
//  Polls base/healthz until 200. 0, or -1 at the deadline.
int web_wait_ready (sandbox_t *sandbox, const char *base, int timeout_ms);
//  curl -s -m 10 -X METHOD [-H Content-Type: application/json --data-binary
//  BODY] BASE PATH. Fills *reply.
void web_curl (sandbox_t *sandbox, const char *base, const char *method, const char *path,
               const char *body, web_reply_t *reply);
//  web_curl with one more header ("Authorization: Bearer TOKEN"; NULL: none).
void web_curl_with (sandbox_t *sandbox, const char *base, const char *header,
                    const char *method, const char *path, const char *body, web_reply_t *reply);
void web_reply_free (web_reply_t *reply);

//  Runs the program at an absolute path (args NULL-terminated, at most 30)
//  within timeout_ms (then SIGKILL, status -1), stdout and stderr captured
//  through files in the sandbox. Fills *result (cli_result_free). 0, or -1
//  if it could not be spawned.
int program_run (sandbox_t *sandbox, const char *path, int timeout_ms, cli_result_t *result,
                 const char *arg, ...) __attribute__ ((sentinel));

#endif
