/*  web_process.c — lilac-web and curl for the tests. See web_process.h.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "timespec.h"
#include "web_process.h"

struct _web_process_t {
    sandbox_t *sandbox;            //  borrowed
    char *config;                  //  sandbox/web.conf
    char *log;                     //  sandbox/web.log
    char base [64];                //  http(s)://127.0.0.1:PORT
    char *ca_file;                 //  HTTPS: the certificate curl trusts, else NULL
    pid_t pid;                     //  running, or 0
};

//  The config file with tls (the tls_cert and tls_key lines, or "") and
//  extra in the `web` section; the base URL's scheme from cert.
static web_process_t *
s_new (sandbox_t *sandbox, const char *control, const char *events, const char *cert,
       const char *tls, const char *extra)
{
    web_process_t *self = calloc (1, sizeof *self);
    assert (self);
    self->sandbox = sandbox;
    self->config = sandbox_path (sandbox, "web.conf");
    self->log = sandbox_path (sandbox, "web.log");
    if (cert)
        self->ca_file = strdup (cert);
    char *state = sandbox_path (sandbox, "web-state");
    int port = port_free ();
    snprintf (self->base, sizeof self->base, "%s://127.0.0.1:%d", cert ? "https" : "http",
              port);
    char text [8192];
    snprintf (text, sizeof text, "web\n    listen = \"127.0.0.1:%d\"\n    control = \"%s\"\n"
              "    events = \"%s\"\n    state_dir = \"%s\"\n%s%s", port, control, events, state,
              tls, extra ? extra : "");
    free (state);
    if (port <= 0 || (cert && !self->ca_file) || file_write_text (self->config, text)) {
        web_process_destroy (&self, true);
        return NULL;
    }
    return self;
}

web_process_t *
web_process_new (sandbox_t *sandbox, broker_process_t *broker, const char *extra)
{
    return s_new (sandbox, broker_process_control (broker), broker_process_publish (broker),
                  NULL, "", extra);
}

web_process_t *
web_process_new_lists (sandbox_t *sandbox, const char *control, const char *events,
                       const char *extra)
{
    return s_new (sandbox, control, events, NULL, "", extra);
}

web_process_t *
web_process_new_tls (sandbox_t *sandbox, broker_process_t *broker, const char *cert,
                     const char *key, const char *extra)
{
    char tls [4200];
    snprintf (tls, sizeof tls, "    tls_cert = \"%s\"\n    tls_key = \"%s\"\n", cert, key);
    return s_new (sandbox, broker_process_control (broker), broker_process_publish (broker),
                  cert, tls, extra);
}

int
web_process_start (web_process_t *self)
{
    return web_process_spawn (self) ? -1 : web_process_wait_ready (self);
}

int
web_process_spawn (web_process_t *self)
{
    char program [1024];
    snprintf (program, sizeof program, "%s/lilac-web", harness_bin_dir ());
    char *argv [] = { program, "-c", self->config, NULL };
    self->pid = process_spawn (argv, self->log, self->log);
    if (self->pid <= 0) {
        self->pid = 0;
        return -1;
    }
    return 0;
}

int
web_process_wait_ready (web_process_t *self)
{
    char url [128];
    snprintf (url, sizeof url, "%s/healthz", self->base);
    http_options_t options = { .ca_file = self->ca_file };
    for (int64_t end = clock_now_ms () + WEB_START_DEADLINE_MS; clock_now_ms () < end; ) {
        http_result_t result;
        http_call (sandbox_dir (self->sandbox), "GET", url, &options, &result);
        long code = result.code;
        http_result_free (&result);
        if (code == 200)
            return 0;
        if (!process_running (&self->pid, "lilac-web"))
            break;
        harness_pause_ms (100);
    }
    harness_note ("lilac-web did not answer /healthz 200 within %d ms", WEB_START_DEADLINE_MS);
    return -1;
}

int
web_process_stop (web_process_t *self)
{
    return process_stop (&self->pid, "lilac-web", HARNESS_STOP_DEADLINE_MS);
}

int
web_process_kill (web_process_t *self)
{
    return process_kill (&self->pid, HARNESS_STOP_DEADLINE_MS);
}

void
web_process_destroy (web_process_t **self_p, bool failed)
{
    if (!self_p || !*self_p)
        return;
    web_process_t *self = *self_p;
    if (self->pid)
        process_kill (&self->pid, HARNESS_STOP_DEADLINE_MS);
    if (failed && self->log)
        log_print_tail ("lilac-web", self->log, HARNESS_LOG_TAIL_LINES);
    free (self->config);
    free (self->log);
    free (self->ca_file);
    free (self);
    *self_p = NULL;
}

const char *web_process_base (web_process_t *self) { return self->base; }
const char *web_process_config (web_process_t *self) { return self->config; }
const char *web_process_log (web_process_t *self) { return self->log; }
pid_t web_process_pid (web_process_t *self) { return self->pid; }

int
http_call (const char *dir, const char *method, const char *url,
           const http_options_t *options, http_result_t *result)
{
    static const http_options_t none = { 0 };
    options = options ? options : &none;
    memset (result, 0, sizeof *result);
    char out [4200], code_path [4200], headers [4200], data_path [4200], data [4300] = "";
    snprintf (out, sizeof out, "%s/curl.body", dir);
    snprintf (code_path, sizeof code_path, "%s/curl.code", dir);
    snprintf (headers, sizeof headers, "%s/curl.headers", dir);
    snprintf (data_path, sizeof data_path, "%s/curl.data", dir);
    unlink (out);
    unlink (code_path);             //  process_spawn appends
    unlink (headers);
    const char *body_file = options->body_file;
    if (options->body && file_write_text (data_path, options->body) == 0)
        body_file = data_path;
    if (body_file)
        snprintf (data, sizeof data, "@%s", body_file);
    char verb [16], where [1024], login [256], bearer [300], extra [1024], ca_file [4200];
    snprintf (verb, sizeof verb, "%s", method);
    snprintf (where, sizeof where, "%s", url);
    snprintf (login, sizeof login, "%s", options->login ? options->login : "");
    snprintf (bearer, sizeof bearer, "Authorization: Bearer %s",
              options->token ? options->token : "");
    snprintf (extra, sizeof extra, "%s", options->header ? options->header : "");
    snprintf (ca_file, sizeof ca_file, "%s", options->ca_file ? options->ca_file : "");
    char *argv [32] = { "/usr/bin/curl", "-s", "-m", "15", "-X", verb, "-o", out,
                        "-D", headers, "-w", "%{http_code}" };
    int count = 12;
    if (options->login) {
        argv [count++] = "-u";
        argv [count++] = login;
    }
    if (options->token) {
        argv [count++] = "-H";
        argv [count++] = bearer;
    }
    //  Header lines, split on '\n', one -H each (at most 4 after -u and -H Bearer).
    for (char *line = options->header ? extra : NULL, *next; line && *line && count < 20;
         line = next) {
        next = strchr (line, '\n');
        if (next)
            *next++ = 0;
        argv [count++] = "-H";
        argv [count++] = line;
    }
    if (options->ca_file) {
        argv [count++] = "--cacert";
        argv [count++] = ca_file;
    }
    if (body_file) {
        argv [count++] = "-H";
        argv [count++] = "Content-Type: application/json";
        argv [count++] = "--data-binary";
        argv [count++] = data;
    }
    argv [count++] = where;
    argv [count] = NULL;
    int64_t started = clock_now_ms ();
    pid_t pid = process_spawn (argv, code_path, code_path);
    result->status = pid > 0 ? process_wait (pid, 30000) : -1;
    result->elapsed_ms = clock_now_ms () - started;
    char *code = file_read_all (code_path);
    result->code = strtol (code, NULL, 10);
    free (code);
    result->body = file_read_all (out);
    result->headers = file_read_all (headers);
    return pid > 0 ? 0 : -1;
}

void
http_result_free (http_result_t *result)
{
    free (result->body);
    free (result->headers);
    result->body = result->headers = NULL;
}

pid_t
web_process_stream (web_process_t *self, const char *query, const char *last_event_id,
                    const char *out)
{
    char url [512], header [128];
    snprintf (url, sizeof url, "%s/api/stream%s", self->base, query);
    snprintf (header, sizeof header, "Last-Event-ID: %s", last_event_id ? last_event_id : "");
    char *with [] = { "/usr/bin/curl", "-sN", "-H", header, url, NULL };
    char *without [] = { "/usr/bin/curl", "-sN", url, NULL };
    unlink (out);
    pid_t pid = process_spawn (last_event_id ? with : without, out, out);
    if (pid > 0 && file_wait_count (out, "lilac-web stream", 1, 5000))
        harness_note ("the stream at %s never opened", url);
    return pid;
}
