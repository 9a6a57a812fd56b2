/*  pushover_fake.c — spawning the fake Pushover API and reading its log
    (see pushover_fake.h).
*/
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "json.h"
#include "pushover_fake.h"
#include "timespec.h"

#define FAKE_POLL_MS       50
#define FAKE_STOP_MS       3000
#define FAKE_LINE_MAX      (1024 * 1024)   //  bytes of one log line read

struct _pushover_fake_t {
    pid_t pid;                     //  the fake, 0 when gone
    char *requests_path;           //  its request log
    char *script_path;             //  its script
    char *flag_path;               //  its acknowledgement flag
    char *port_path;               //  where it writes its port
    char *stderr_path;             //  its own diagnostics
    char api [64];                 //  http://127.0.0.1:PORT/1
};

static char *
s_path (sandbox_t *sandbox, const char *name)
{
    char *path = sandbox_path (sandbox, name);
    assert (path);
    return path;
}

pushover_fake_t *
pushover_fake_new (sandbox_t *sandbox)
{
    pushover_fake_t *self = calloc (1, sizeof (pushover_fake_t));
    assert (self);
    self->requests_path = s_path (sandbox, "pushover.requests");
    self->script_path = s_path (sandbox, "pushover.script");
    self->flag_path = s_path (sandbox, "pushover.flag");
    self->port_path = s_path (sandbox, "pushover.port");
    self->stderr_path = s_path (sandbox, "pushover.log");
    char program [1024];
    snprintf (program, sizeof program, "%s/fakes/fake_pushover", harness_bin_dir ());
    char *argv [] = { program, "-l", self->requests_path, "-s", self->script_path,
                      "-f", self->flag_path, "-p", self->port_path, NULL };
    pid_t pid = process_spawn (argv, self->stderr_path, self->stderr_path);
    if (pid <= 0) {
        pushover_fake_destroy (&self, true);
        return NULL;
    }
    self->pid = pid;
    int64_t deadline = clock_now_ms () + PUSHOVER_FAKE_START_DEADLINE_MS;
    for (int attempt = 0; attempt < 100000; attempt++) {
        char *text = file_read_all (self->port_path);
        int port = atoi (text);
        free (text);
        if (port > 0) {
            snprintf (self->api, sizeof self->api, "http://127.0.0.1:%d/1", port);
            return self;
        }
        if (clock_now_ms () >= deadline)
            break;
        if (waitpid (self->pid, NULL, WNOHANG) == self->pid) {
            self->pid = 0;      //  reaped: destroy must not signal or wait for it
            break;
        }
        harness_pause_ms (FAKE_POLL_MS);
    }
    harness_note ("fake_pushover did not write its port within %d ms",
                  PUSHOVER_FAKE_START_DEADLINE_MS);
    pushover_fake_destroy (&self, true);
    return NULL;
}

const char *
pushover_fake_api (pushover_fake_t *self)
{
    assert (self);
    return self->api;
}

const char *
pushover_fake_requests_path (pushover_fake_t *self)
{
    assert (self);
    return self->requests_path;
}

int
pushover_fake_script (pushover_fake_t *self, const char *text)
{
    assert (self);
    //  Written aside and renamed, so the fake never reads half of it.
    char temporary [1200];
    snprintf (temporary, sizeof temporary, "%s.test", self->script_path);
    FILE *file = fopen (temporary, "w");
    if (!file)
        return -1;
    bool ok = fputs (text, file) >= 0;
    ok = fclose (file) == 0 && ok;
    return ok && rename (temporary, self->script_path) == 0 ? 0 : -1;
}

int
pushover_fake_set_flag (pushover_fake_t *self)
{
    assert (self);
    FILE *file = fopen (self->flag_path, "w");
    return file && fclose (file) == 0 ? 0 : -1;
}

//  The string member key of object (NULL: none) into out; false when absent.
static bool
s_json_field (const json_t *object, const char *key, char *out, size_t size)
{
    return json_get_string (object, key, out, size, true) == 0;
}

char *
fake_request_field (const fake_request_t *request, const char *key)
{
    char error [128];
    json_t *record = json_read_object (request->line, strlen (request->line),
                                       FAKE_LINE_MAX, error, sizeof error);
    const json_t *value = json_object_get (json_object_get (record, "fields"), key);
    char *text = json_is_string (value) ? strdup (json_string_value (value)) : NULL;
    assert (text || !json_is_string (value));
    json_decref (record);
    return text;
}

size_t
pushover_fake_find (pushover_fake_t *self, const char *path_prefix, const char *needle,
                    fake_request_t *requests, size_t capacity)
{
    assert (self);
    char *text = file_read_all (self->requests_path);
    size_t matched = 0;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        fake_request_t request = { 0 };
        request.line = line;
        char error [128];
        json_t *record = json_read_object (line, strlen (line), FAKE_LINE_MAX,
                                           error, sizeof error);
        if (!record)
            harness_note ("fake log line is not a JSON object (%s): %s", error, line);
        json_get_int (record, "at", &request.at);
        s_json_field (record, "method", request.method, sizeof request.method);
        s_json_field (record, "path", request.path, sizeof request.path);
        s_json_field (record, "answer", request.answer, sizeof request.answer);
        json_decref (record);
        if (path_prefix && strncmp (request.path, path_prefix, strlen (path_prefix)) != 0)
            continue;
        if (needle && !strstr (line, needle))
            continue;
        if (requests && matched < capacity) {
            request.line = strdup (line);
            assert (request.line);
            requests [matched] = request;
        }
        matched++;
    }
    free (text);
    return matched;
}

void
fake_requests_free (fake_request_t *requests, size_t count)
{
    for (size_t index = 0; index < count; index++) {
        free (requests [index].line);
        requests [index].line = NULL;
    }
}

int
pushover_fake_wait (pushover_fake_t *self, const char *path_prefix, const char *needle,
                    size_t count, int timeout_ms)
{
    int64_t deadline = clock_now_ms () + timeout_ms;
    for (int attempt = 0; attempt < 1000000; attempt++) {
        if (pushover_fake_find (self, path_prefix, needle, NULL, 0) >= count)
            return 0;
        if (clock_now_ms () >= deadline)
            break;
        harness_pause_ms (FAKE_POLL_MS);
    }
    return -1;
}

void
pushover_fake_destroy (pushover_fake_t **self_p, bool failed)
{
    if (!self_p || !*self_p)
        return;
    pushover_fake_t *self = *self_p;
    if (self->pid > 0) {
        kill (self->pid, SIGTERM);
        if (process_wait (self->pid, FAKE_STOP_MS) == -1) {
            kill (self->pid, SIGKILL);
            waitpid (self->pid, NULL, 0);
        }
    }
    if (failed && self->stderr_path) {
        char *text = file_read_all (self->stderr_path);
        char *save = NULL;
        for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
            harness_note ("fake: %s", line);
        free (text);
    }
    free (self->requests_path);
    free (self->script_path);
    free (self->flag_path);
    free (self->port_path);
    free (self->stderr_path);
    free (self);
    *self_p = NULL;
}
