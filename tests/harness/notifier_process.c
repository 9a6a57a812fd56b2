/*  notifier_process.c — a real lilac notifier as a child process (see
    notifier_process.h for the contract).

    Like agent_process.c: posix_spawn, output into files in the sandbox
    (never a pipe a chatty child could fill), waitpid on our own pid only,
    and every wait a poll of its condition every NOTIFIER_POLL_MS up to a
    deadline.
*/
#include "notifier_process.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_process.h"      //  file_count_text
#include "timespec.h"

extern char **environ;

#define NOTIFIER_POLL_MS        10      //  how often waits look at their condition
#define NOTIFIER_LOG_TAIL_LINES 80      //  log lines printed on failure
#define NOTIFIER_MAX_ARGS       32

struct _notifier_process_t {
    char *program;                 //  binary name in $LILAC_BIN
    char *config_path;             //  sandbox/NAME.conf
    char *log_path;                //  sandbox/NAME.log (appended across restarts)
    pid_t pid;                     //  running process, or 0
};

static const char *
s_bin_dir (void)
{
    const char *dir = getenv ("LILAC_BIN");
    return dir && *dir ? dir : "bin";
}

//  Reads a whole file into a fresh NUL-terminated string ("" if missing).
static char *
s_read_file (const char *path)
{
    size_t size = 0, capacity = 4096;
    char *text = malloc (capacity + 1);
    assert (text);
    FILE *file = fopen (path, "rb");
    if (file) {
        for (;;) {
            if (size == capacity) {
                capacity *= 2;
                text = realloc (text, capacity + 1);
                assert (text);
            }
            size_t got = fread (text + size, 1, capacity - size, file);
            if (got == 0)
                break;
            size += got;
        }
        fclose (file);
    }
    text [size] = 0;
    return text;
}

static pid_t
s_spawn (char *const argv [], const char *out_path, const char *err_path)
{
    posix_spawn_file_actions_t actions;
    if (posix_spawn_file_actions_init (&actions) != 0)
        return -1;
    int flags = O_WRONLY | O_CREAT | O_APPEND;
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen (&actions, 1, out_path, flags, 0644);
    if (strcmp (out_path, err_path) == 0)
        posix_spawn_file_actions_adddup2 (&actions, 1, 2);
    else
        posix_spawn_file_actions_addopen (&actions, 2, err_path, flags, 0644);
    pid_t pid;
    int rc = posix_spawn (&pid, argv [0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&actions);
    if (rc != 0) {
        harness_note ("cannot spawn %s: %s", argv [0], strerror (rc));
        return -1;
    }
    return pid;
}

//  Exit code, 128+signal, or -1 if still running at the deadline.
static int
s_wait_pid (pid_t pid, int timeout_ms)
{
    int64_t deadline = clock_now_ms () + timeout_ms;
    for (;;) {
        int status;
        pid_t done = waitpid (pid, &status, WNOHANG);
        if (done == pid)
            return WIFEXITED (status) ? WEXITSTATUS (status)
                 : WIFSIGNALED (status) ? 128 + WTERMSIG (status) : -1;
        if (done == -1 && errno != EINTR)
            return -1;
        if (clock_now_ms () >= deadline)
            return -1;
        harness_pause_ms (NOTIFIER_POLL_MS);
    }
}

int
file_wait_count (const char *path, const char *text, int count, int timeout_ms)
{
    assert (path && text);
    int64_t deadline = clock_now_ms () + timeout_ms;
    for (int attempt = 0; attempt < 1000000; attempt++) {
        if (file_count_text (path, text) >= count)
            return 0;
        if (clock_now_ms () >= deadline)
            break;
        harness_pause_ms (NOTIFIER_POLL_MS);
    }
    return -1;
}

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
    snprintf (binary, sizeof binary, "%s/%s", s_bin_dir (), self->program);
    char *argv [] = { binary, (char *) "-c", self->config_path, (char *) "-v", NULL };
    int ready_before = file_count_text (self->log_path, NOTIFIER_READY_TEXT);
    pid_t pid = s_spawn (argv, self->log_path, self->log_path);
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
    if (!self->pid)
        return -1;
    kill (self->pid, SIGTERM);
    int status = s_wait_pid (self->pid, NOTIFIER_STOP_DEADLINE_MS);
    if (status == -1) {
        harness_note ("%s did not exit within %d ms of SIGTERM; killing it",
                      self->program, NOTIFIER_STOP_DEADLINE_MS);
        notifier_process_kill (self);
        return -1;
    }
    self->pid = 0;
    return status;
}

int
notifier_process_kill (notifier_process_t *self)
{
    assert (self);
    if (!self->pid)
        return -1;
    kill (self->pid, SIGKILL);
    s_wait_pid (self->pid, NOTIFIER_STOP_DEADLINE_MS);
    self->pid = 0;
    return 0;
}

bool
notifier_process_running (notifier_process_t *self)
{
    assert (self);
    if (!self->pid)
        return false;
    int status;
    pid_t done = waitpid (self->pid, &status, WNOHANG);
    if (done == self->pid) {
        if (WIFSIGNALED (status))
            harness_note ("%s died of signal %d", self->program, WTERMSIG (status));
        else
        if (WIFEXITED (status))
            harness_note ("%s exited with status %d", self->program, WEXITSTATUS (status));
        self->pid = 0;
        return false;
    }
    return true;
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
    char *text = s_read_file (self->log_path);
    size_t length = strlen (text);
    size_t start = length;
    int lines = 0;
    while (start > 0 && lines <= NOTIFIER_LOG_TAIL_LINES) {
        start--;
        if (text [start] == '\n' && start + 1 < length)
            lines++;
    }
    if (lines > NOTIFIER_LOG_TAIL_LINES)
        start++;
    harness_note ("--- %s log %s (last %d lines) ---", self->program, self->log_path,
                  NOTIFIER_LOG_TAIL_LINES);
    char *line = text + start;
    while (*line) {
        char *end = strchr (line, '\n');
        if (end)
            *end = 0;
        harness_note ("  %s", line);
        if (!end)
            break;
        line = end + 1;
    }
    free (text);
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
    static int serial;
    serial++;
    memset (result, 0, sizeof *result);
    char binary [1024];
    snprintf (binary, sizeof binary, "%s/%s", s_bin_dir (), program);
    char *argv [NOTIFIER_MAX_ARGS + 2];
    int count = 0;
    argv [count++] = binary;
    va_list args;
    va_start (args, arg);
    for (const char *next = arg; next && count <= NOTIFIER_MAX_ARGS; next = va_arg (args, const char *))
        argv [count++] = (char *) (uintptr_t) next;    //  posix_spawn does not write argv
    va_end (args);
    argv [count] = NULL;
    char out_path [1100], err_path [1100];
    snprintf (out_path, sizeof out_path, "%s/%s-command-%d.out", dir, program, serial);
    snprintf (err_path, sizeof err_path, "%s/%s-command-%d.err", dir, program, serial);
    int64_t started = clock_now_ms ();
    pid_t pid = s_spawn (argv, out_path, err_path);
    if (pid <= 0) {
        result->status = -1;
        result->out = strdup ("");
        result->err = strdup ("");
        return -1;
    }
    int status = s_wait_pid (pid, timeout_ms);
    if (status == -1) {
        kill (pid, SIGKILL);
        s_wait_pid (pid, NOTIFIER_STOP_DEADLINE_MS);
    }
    result->status = status;
    result->elapsed_ms = clock_now_ms () - started;
    result->out = s_read_file (out_path);
    result->err = s_read_file (err_path);
    return 0;
}
