/*  pushover_fake.h — the fake Pushover API (tests/fakes/fake_pushover.c) as
    a child process of a test, and reading what it recorded.

    pushover_fake_new() spawns `$LILAC_BIN/fakes/fake_pushover` on a free
    loopback port (it writes the port to sandbox/pushover.port; we wait for
    that file with a deadline) with its request log in
    sandbox/pushover.requests, its script in sandbox/pushover.script and its
    acknowledgement flag at sandbox/pushover.flag; its own stderr goes to
    sandbox/pushover.log, printed as "#" lines when the test failed.

    The request log holds one JSON line per request, written by the fake
    with jansson in one shape ({"n","at","method","path","answer",
    "fields":{...}}, compact, in that order) and read here with jansson.
    Requests are selected by a path prefix and a needle (a substring of the
    whole line, e.g. "\"user\":\"uboss\"": compact JSON has no spaces).
    Every wait polls the log with a deadline.
*/
#ifndef LILAC_PUSHOVER_FAKE_H
#define LILAC_PUSHOVER_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness.h"

#define PUSHOVER_FAKE_START_DEADLINE_MS  5000
#define PUSHOVER_FAKE_MESSAGES   "/1/messages.json"
#define PUSHOVER_FAKE_RECEIPTS   "/1/receipts/"
#define PUSHOVER_FAKE_CANCEL     "/1/receipts/cancel_by_tag/"
#define PUSHOVER_FAKE_MAX_REQUESTS  64     //  requests returned by one query

typedef struct _pushover_fake_t pushover_fake_t;

//  One recorded request. line is the whole JSON line (owned).
typedef struct {
    int64_t at;                    //  wall ms when the fake read it
    char method [8];
    char path [512];
    char answer [256];             //  "200", "500", "hang", "400 text", "pending"...
    char *line;
} fake_request_t;

//  Spawns the fake and waits for its port. NULL on failure (printed).
pushover_fake_t *pushover_fake_new (sandbox_t *sandbox);
//  "http://127.0.0.1:PORT/1", borrowed: the `api` of the notifier's config.
const char *pushover_fake_api (pushover_fake_t *self);
//  Replaces the script: lines for the next message requests. 0 or -1.
int pushover_fake_script (pushover_fake_t *self, const char *text);
//  Creates the flag: receipts read from now on are acknowledged by alice.
int pushover_fake_set_flag (pushover_fake_t *self);
const char *pushover_fake_requests_path (pushover_fake_t *self);

//  Requests whose path starts with path_prefix and whose line contains
//  needle (NULL: any), in order: fills at most capacity, returns how many
//  matched in all. Free the filled ones with fake_requests_free.
size_t pushover_fake_find (pushover_fake_t *self, const char *path_prefix, const char *needle,
                           fake_request_t *requests, size_t capacity);
void fake_requests_free (fake_request_t *requests, size_t count);
//  Waits until at least count requests match. 0, or -1 at the deadline.
int pushover_fake_wait (pushover_fake_t *self, const char *path_prefix, const char *needle,
                        size_t count, int timeout_ms);
//  A form field of a recorded request, decoded (fresh string, caller frees),
//  or NULL when absent.
char *fake_request_field (const fake_request_t *request, const char *key);

//  SIGTERM, reap, and free; prints its stderr if failed. NULL is a no-op.
void pushover_fake_destroy (pushover_fake_t **self_p, bool failed);

#endif
