/*  notifier_process.c — a real lilac notifier as a child process (see
    notifier_process.h for the contract).

    Like agent_process.c, built on harness.c's child-process and file
    helpers: output into files in the sandbox (never a pipe a chatty child
    could fill), waitpid on our own pid only, and every wait a poll of its
    condition every NOTIFIER_POLL_MS up to a deadline.
*/
#include "notifier_process.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "timespec.h"

#define NOTIFIER_POLL_MS        10      //  how often waits look at their condition
#define NOTIFIER_LOG_TAIL_LINES 80      //  log lines printed on failure

struct _notifier_process_t {
    char *program;                 //  binary name in $LILAC_BIN
    char *config_path;             //  sandbox/NAME.conf
    char *log_path;                //  sandbox/NAME.log (appended across restarts)
    pid_t pid;                     //  running process, or 0
};

char *
notifier_process_broker_section (broker_process_t *broker, const char *state_dir,
                                 char *buffer, size_t size)
{
    snprintf (buffer, size,
              "notifier\n"
              "    events = \"%s\"\n"
              "    control = \"%s\"\n"
              "    state_dir = \"%s\"\n",
              broker_process_publish (broker), broker_process_control (broker), state_dir);
    return buffer;
}

//  --- the process ---------------------------------------------------------------------

int
notifier_process_write_config (notifier_process_t *self, const char *config_text)
{
    assert (self && config_text);
    return file_write_text (self->config_path, config_text);
}

notifier_process_t *
notifier_process_new (sandbox_t *sandbox, const char *program, const char *name,
                      const char *config_text)
{
    assert (sandbox && program && name && config_text);
    notifier_process_t *self = calloc (1, sizeof *self);
    assert (self);
    char file [256];
    self->program = strdup (program);
    snprintf (file, sizeof file, "%s.conf", name);
    self->config_path = sandbox_path (sandbox, file);
    snprintf (file, sizeof file, "%s.log", name);
    self->log_path = sandbox_path (sandbox, file);
    assert (self->program && self->config_path && self->log_path);
    if (notifier_process_write_config (self, config_text) != 0) {
        notifier_process_destroy (&self, false);
        return NULL;
    }
    return self;
}

int
notifier_process_start (notifier_process_t *self)
{
    assert (self);
    if (self->pid) {
        harness_note ("notifier_process_start: already running (pid %d)", (int) self->pid);
        return -1;
    }
    char binary [1024];
    snprintf (binary, sizeof binary, "%s/%s", harness_bin_dir (), self->program);
    char *argv [] = { binary, (char *) "-c", self->config_path, (char *) "-v", NULL };
    int ready_before = file_count_text (self->log_path, NOTIFIER_READY_TEXT);
    pid_t pid = process_spawn (argv, self->log_path, self->log_path);
    if (pid <= 0)
        return -1;
    self->pid = pid;
    int64_t deadline = clock_now_ms () + NOTIFIER_START_DEADLINE_MS;
    for (int attempt = 0; attempt < 100000 && clock_now_ms () < deadline; attempt++) {
        if (!notifier_process_running (self)) {
            harness_note ("%s exited during start-up (see its log)", self->program);
            return -1;
        }
        if (file_count_text (self->log_path, NOTIFIER_READY_TEXT) > ready_before)
            return 0;
        harness_pause_ms (NOTIFIER_POLL_MS);
    }
    harness_note ("%s not ready within %d ms", self->program, NOTIFIER_START_DEADLINE_MS);
    notifier_process_kill (self);
    return -1;
}

int
notifier_process_stop (notifier_process_t *self)
{
    assert (self);
    return process_stop (&self->pid, self->program, NOTIFIER_STOP_DEADLINE_MS);
}

int
notifier_process_kill (notifier_process_t *self)
{
    assert (self);
    return process_kill (&self->pid, NOTIFIER_STOP_DEADLINE_MS);
}

bool
notifier_process_running (notifier_process_t *self)
{
    assert (self);
    return process_running (&self->pid, self->program);
}

pid_t notifier_process_pid (notifier_process_t *self) { assert (self); return self->pid; }
const char *notifier_process_config_path (notifier_process_t *self) { assert (self); return self->config_path; }
const char *notifier_process_log_path (notifier_process_t *self) { assert (self); return self->log_path; }

int
notifier_process_wait_log (notifier_process_t *self, const char *text, int count, int timeout_ms)
{
    assert (self && text);
    return file_wait_count (self->log_path, text, count, timeout_ms);
}

int
notifier_process_count_log (notifier_process_t *self, const char *text)
{
    assert (self && text);
    return file_count_text (self->log_path, text);
}

void
notifier_process_print_log (notifier_process_t *self)
{
    assert (self);
    log_print_tail (self->program, self->log_path, NOTIFIER_LOG_TAIL_LINES);
}

void
notifier_process_destroy (notifier_process_t **self_p, bool failed)
{
    assert (self_p);
    notifier_process_t *self = *self_p;
    if (!self)
        return;
    if (self->pid)
        notifier_process_kill (self);
    if (failed && self->log_path)
        notifier_process_print_log (self);
    free (self->program);
    free (self->config_path);
    free (self->log_path);
    free (self);
    *self_p = NULL;
}

//  --- the notifier as a command ------------------------------------------------------

int
notifier_command_run (const char *program, const char *dir, int timeout_ms,
                      cli_result_t *result, const char *arg, ...)
{
    assert (program && dir && result);
    char stem [256];
    snprintf (stem, sizeof stem, "%s-command", program);
    va_list args;
    va_start (args, arg);
    int rc = command_runv (program, stem, dir, timeout_ms, NOTIFIER_STOP_DEADLINE_MS,
                           result, arg, args);
    va_end (args);
    return rc;
}
