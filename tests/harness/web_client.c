/*  web_client.c — lilac-web for tests. See web_client.h.

    Kept apart from harness.c so that the web tests share one way to start
    lilac-web and to drive curl; the files a request goes through are
    reused (one request at a time per sandbox).
*/
#include <stdarg.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "web_client.h"
#include "timespec.h"

#define S_MAX_ARGS  30            //  program_run's arguments, at most

pid_t
web_start (sandbox_t *sandbox, broker_process_t *broker, const char *extra, char *base,
           size_t base_size)
{
    char *config = sandbox_path (sandbox, "web.conf");
    char *state = sandbox_path (sandbox, "web-state");
    char *log = sandbox_path (sandbox, "web.log");
    int port = port_free ();
    snprintf (base, base_size, "http://127.0.0.1:%d", port);
    char text [4096];
    snprintf (text, sizeof text, "web\n    listen = \"127.0.0.1:%d\"\n    control = \"%s\"\n"
              "    events = \"%s\"\n    state_dir = \"%s\"\n%s", port,
              broker_process_control (broker), broker_process_publish (broker), state,
              extra ? extra : "");
    char program [1024];
    snprintf (program, sizeof program, "%s/lilac-web", harness_bin_dir ());
    pid_t pid = 0;
    if (file_write_text (config, text) == 0) {
        char *argv [] = { program, "-c", config, NULL };
        pid = process_spawn (argv, log, log);
    }
    free (config);
    free (state);
    free (log);
    return pid > 0 ? pid : 0;
}

int
web_wait_ready (sandbox_t *sandbox, const char *base, int timeout_ms)
{
    for (int64_t end = clock_now_ms () + timeout_ms; clock_now_ms () < end; ) {
        web_reply_t reply;
        web_curl (sandbox, base, "GET", "/healthz", NULL, &reply);
        long code = reply.code;
        web_reply_free (&reply);
        if (code == 200)
            return 0;
        harness_pause_ms (100);
    }
    return -1;
}

void
web_curl (sandbox_t *sandbox, const char *base, const char *method, const char *path,
          const char *body, web_reply_t *reply)
{
    web_curl_with (sandbox, base, NULL, method, path, body, reply);
}

void
web_curl_with (sandbox_t *sandbox, const char *base, const char *header, const char *method,
               const char *path, const char *body, web_reply_t *reply)
{
    char url [1024], out_path [4200], code_path [4200], data_path [4200], data_arg [4300];
    const char *dir = sandbox_dir (sandbox);
    snprintf (url, sizeof url, "%s%s", base, path);
    snprintf (out_path, sizeof out_path, "%s/curl.body", dir);
    snprintf (code_path, sizeof code_path, "%s/curl.code", dir);
    snprintf (data_path, sizeof data_path, "%s/curl.data", dir);
    snprintf (data_arg, sizeof data_arg, "@%s", data_path);
    unlink (out_path);
    unlink (code_path);
    char verb [16];
    snprintf (verb, sizeof verb, "%s", method);
    char *argv [20] = { "/usr/bin/curl", "-s", "-m", "10", "-X", verb, "-o", out_path,
                        "-w", "%{http_code}" };
    size_t count = 10;
    if (body && file_write_text (data_path, body) == 0) {
        argv [count++] = "-H";
        argv [count++] = "Content-Type: application/json";
        argv [count++] = "--data-binary";
        argv [count++] = data_arg;
    }
    if (header) {
        argv [count++] = "-H";
        argv [count++] = (char *) (uintptr_t) header;
    }
    argv [count++] = url;
    argv [count] = NULL;
    pid_t pid = process_spawn (argv, code_path, code_path);
    reply->status = pid > 0 ? process_wait (pid, 20000) : -1;
    if (pid > 0 && reply->status == -1)
        process_kill (&pid, 5000);
    char *code = file_read_all (code_path);
    reply->code = code ? strtol (code, NULL, 10) : 0;
    free (code);
    reply->body = file_read_all (out_path);
    if (!reply->body)
        reply->body = strdup ("");
}

void
web_reply_free (web_reply_t *reply)
{
    free (reply->body);
    reply->body = NULL;
}

int
program_run (sandbox_t *sandbox, const char *path, int timeout_ms, cli_result_t *result,
             const char *arg, ...)
{
    static int serial;
    serial++;
    memset (result, 0, sizeof *result);
    char *argv [S_MAX_ARGS + 2];
    int count = 0;
    argv [count++] = (char *) (uintptr_t) path;
    va_list args;
    va_start (args, arg);
    for (const char *next = arg; next && count <= S_MAX_ARGS; next = va_arg (args, const char *))
        argv [count++] = (char *) (uintptr_t) next;
    va_end (args);
    argv [count] = NULL;
    char out_path [4200], err_path [4200];
    snprintf (out_path, sizeof out_path, "%s/program-%d.out", sandbox_dir (sandbox), serial);
    snprintf (err_path, sizeof err_path, "%s/program-%d.err", sandbox_dir (sandbox), serial);
    int64_t started = clock_now_ms ();
    pid_t pid = process_spawn (argv, out_path, err_path);
    if (pid <= 0) {
        result->status = -1;
        result->out = strdup ("");
        result->err = strdup ("");
        return -1;
    }
    result->status = process_wait (pid, timeout_ms);
    if (result->status == -1)
        process_kill (&pid, 5000);
    result->elapsed_ms = clock_now_ms () - started;
    result->out = file_read_all (out_path);
    result->err = file_read_all (err_path);
    if (!result->out)
        result->out = strdup ("");
    if (!result->err)
        result->err = strdup ("");
    return 0;
}
