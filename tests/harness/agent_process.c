/*  agent_process.c — the real lilac-agent as a child process (see
    agent_process.h for the contract).

    Like harness.c: posix_spawn, output into files in the sandbox (never a
    pipe a chatty child could fill), waitpid on our own pids only, and every
    wait a poll of its condition every HARNESS_POLL_MS up to a deadline.
*/
#include "agent_process.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "timespec.h"

extern char **environ;

#define AGENT_POLL_MS        10     //  how often waits look at their condition
#define AGENT_LOG_TAIL_LINES 80     //  agent log lines printed on failure
#define AGENT_MAX_ARGS       32
#define AGENT_MAX_CHECKS     32

struct _agent_process_t {
    char *config_path;             //  sandbox/agent.conf
    char *log_path;                //  sandbox/agent.log (appended across restarts)
    char *socket_path;             //  sandbox/agent.sock
    char listen [1100];            //  ipc://sandbox/agent.sock
    char broker [64];              //  the broker's ingest endpoint
    char events [64];              //  the broker's publish endpoint
    broker_process_t *broker_process;  //  for readiness (borrowed)
    agent_process_config_t config; //  settings (strings borrowed from the caller)
    char source [256];             //  copy of the source
    pid_t pid;                     //  running process, or 0
    int64_t spawned_at;            //  wall ms of the last spawn
};

//  --- small helpers ----------------------------------------------------------------

static const char *
s_bin_dir (void)
{
    const char *dir = getenv ("LILAC_BIN");
    return dir && *dir ? dir : "bin";
}

//  Reads a whole file into a fresh NUL-terminated string ("" if missing).
//  Reads until EOF, so /proc files (which report size 0) work too.
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
        harness_pause_ms (AGENT_POLL_MS);
    }
}

int
file_write_text (const char *path, const char *text)
{
    //  Write a sibling and rename, so a reader never sees half a file.
    char temp [1100];
    snprintf (temp, sizeof temp, "%s.new", path);
    FILE *file = fopen (temp, "w");
    if (!file) {
        harness_note ("cannot write %s: %s", temp, strerror (errno));
        return -1;
    }
    bool ok = fputs (text, file) >= 0;
    ok = fclose (file) == 0 && ok;
    if (!ok || rename (temp, path) != 0) {
        harness_note ("cannot write %s: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}

bool
file_has_text (const char *path, const char *text)
{
    char *content = s_read_file (path);
    bool found = strstr (content, text) != NULL;
    free (content);
    return found;
}

int
file_count_text (const char *path, const char *text)
{
    char *content = s_read_file (path);
    int count = 0;
    size_t length = strlen (text);
    for (const char *at = length ? strstr (content, text) : NULL; at; at = strstr (at + length, text))
        count++;
    free (content);
    return count;
}

int
harness_become_subreaper (void)
{
    if (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        harness_note ("prctl PR_SET_CHILD_SUBREAPER: %s", strerror (errno));
        return -1;
    }
    return 0;
}

bool
process_gone (pid_t pid)
{
    if (pid <= 0)
        return false;
    int status;
    waitpid (pid, &status, WNOHANG);    //  our orphaned zombie (subreaper): reap it
    return kill (pid, 0) == -1 && errno == ESRCH;
}

int
wait_alert (broker_process_t *broker, const char *source, const char *id,
            alert_state_t state, int level, const char *summary_prefix,
            int timeout_ms, alert_t *alert)
{
    memset (alert, 0, sizeof *alert);
    int64_t deadline = clock_now_ms () + timeout_ms;
    for (int count = 0; count < 100000; count++) {
        alert_t row;
        if (control_get_alert (broker, source, id, &row) == 0) {
            alert_clear_fields (alert);
            *alert = row;
            if (row.state == state
            &&  (level < 0 || (int) row.level == level)
            &&  (!summary_prefix || (row.summary
                 && strncmp (row.summary, summary_prefix, strlen (summary_prefix)) == 0)))
                return 0;
        }
        if (clock_now_ms () >= deadline)
            break;
        harness_pause_ms (50);
    }
    return -1;
}

//  --- config file -----------------------------------------------------------------

static void
s_key (FILE *file, const char *key, const char *value)
{
    if (value)
        fprintf (file, "    %s = %s\n", key, value);
}

//  A quoted ZPL value: "..." unless the text holds a double quote.
static void
s_quoted_key (FILE *file, const char *key, const char *value)
{
    if (!value)
        return;
    char quote = strchr (value, '"') ? '\'' : '"';
    assert (!strchr (value, quote));   //  ZPL quoted values have no escapes
    fprintf (file, "    %s = %c%s%c\n", key, quote, value, quote);
}

int
agent_process_write_checks (agent_process_t *self, const agent_check_spec_t *checks,
                            size_t check_count)
{
    assert (self);
    char temp [1100];
    snprintf (temp, sizeof temp, "%s.new", self->config_path);
    FILE *file = fopen (temp, "w");
    if (!file) {
        harness_note ("cannot write %s: %s", temp, strerror (errno));
        return -1;
    }
    const agent_process_config_t *config = &self->config;
    fprintf (file, "#   written by the end-to-end test harness\n");
    fprintf (file, "agent\n");
    s_quoted_key (file, "broker", self->broker);
    s_quoted_key (file, "events", self->events);
    s_quoted_key (file, "listen", self->listen);
    s_key (file, "source", self->source);
    s_key (file, "allow_other_sources", config->allow_other_sources);
    s_key (file, "max_alerts", config->max_alerts);
    s_key (file, "resync", config->resync);
    s_key (file, "max_running", config->max_running);
    fprintf (file, "heartbeat\n");
    s_key (file, "enabled", config->heartbeat_disabled ? "no" : "yes");
    s_key (file, "interval", config->heartbeat_interval ? config->heartbeat_interval : "500ms");
    s_key (file, "raise", config->heartbeat_raise ? config->heartbeat_raise : "+2s");
    s_key (file, "level", config->heartbeat_level);
    s_quoted_key (file, "summary", config->heartbeat_summary);
    for (size_t index = 0; index < check_count; index++) {
        const agent_check_spec_t *check = &checks [index];
        fprintf (file, "check = %s\n", check->name);
        s_quoted_key (file, "command", check->command);
        s_key (file, "interval", check->interval);
        s_key (file, "timeout", check->timeout);
        s_key (file, "warning_level", check->warning_level);
        s_key (file, "critical_level", check->critical_level);
    }
    bool ok = fclose (file) == 0;
    if (!ok || rename (temp, self->config_path) != 0) {
        harness_note ("cannot write %s: %s", self->config_path, strerror (errno));
        return -1;
    }
    return 0;
}

agent_process_t *
agent_process_new (sandbox_t *sandbox, broker_process_t *broker,
                   const agent_process_config_t *config,
                   const agent_check_spec_t *checks, size_t check_count)
{
    assert (sandbox && broker);
    agent_process_t *self = calloc (1, sizeof *self);
    assert (self);
    self->config_path = sandbox_path (sandbox, "agent.conf");
    self->log_path = sandbox_path (sandbox, "agent.log");
    self->socket_path = sandbox_path (sandbox, "agent.sock");
    assert (self->config_path && self->log_path && self->socket_path);
    snprintf (self->listen, sizeof self->listen, "ipc://%s", self->socket_path);
    snprintf (self->broker, sizeof self->broker, "%s", broker_process_ingest (broker));
    snprintf (self->events, sizeof self->events, "%s", broker_process_publish (broker));
    self->broker_process = broker;
    if (config)
        self->config = *config;
    snprintf (self->source, sizeof self->source, "%s",
              self->config.source ? self->config.source : "web1");
    self->config.source = NULL;
    if (agent_process_write_checks (self, checks, check_count) != 0) {
        agent_process_destroy (&self, false);
        return NULL;
    }
    return self;
}

//  --- the process -----------------------------------------------------------------

//  True when the broker holds our heartbeat, updated at or after since.
static bool
s_heartbeat_seen (agent_process_t *self, int64_t since)
{
    alert_t row;
    if (control_get_alert (self->broker_process, self->source, "heartbeat", &row) != 0)
        return false;
    bool fresh = row.updated_at >= since;
    alert_clear_fields (&row);
    return fresh;
}

int
agent_process_start (agent_process_t *self)
{
    assert (self);
    if (self->pid) {
        harness_note ("agent_process_start: already running (pid %d)", (int) self->pid);
        return -1;
    }
    char binary [1024];
    snprintf (binary, sizeof binary, "%s/lilac-agent", s_bin_dir ());
    char *argv [] = { binary, (char *) "-c", self->config_path, (char *) "-v", NULL };
    //  The broker's clock stamps updated_at: allow it to lag ours a little.
    self->spawned_at = clock_now_ms ();
    pid_t pid = s_spawn (argv, self->log_path, self->log_path);
    if (pid <= 0)
        return -1;
    self->pid = pid;
    bool broker_up = broker_process_running (self->broker_process)
                  && !self->config.heartbeat_disabled;
    int64_t deadline = self->spawned_at + AGENT_START_DEADLINE_MS;
    for (int attempt = 0; attempt < 100000 && clock_now_ms () < deadline; attempt++) {
        if (!agent_process_running (self)) {
            harness_note ("agent exited during start-up (see its log)");
            return -1;
        }
        if (broker_up ? s_heartbeat_seen (self, self->spawned_at - 50)
                      : access (self->socket_path, F_OK) == 0)
            return 0;
        harness_pause_ms (AGENT_POLL_MS * 5);
    }
    harness_note ("agent not ready within %d ms (%s)", AGENT_START_DEADLINE_MS,
                  broker_up ? "no heartbeat at the broker" : "no local socket");
    agent_process_kill (self);
    return -1;
}

int
agent_process_stop (agent_process_t *self)
{
    assert (self);
    if (!self->pid)
        return -1;
    kill (self->pid, SIGTERM);
    int status = s_wait_pid (self->pid, AGENT_STOP_DEADLINE_MS);
    if (status == -1) {
        harness_note ("agent did not exit within %d ms of SIGTERM; killing it",
                      AGENT_STOP_DEADLINE_MS);
        agent_process_kill (self);
        return -1;
    }
    self->pid = 0;
    return status;
}

int
agent_process_kill (agent_process_t *self)
{
    assert (self);
    if (!self->pid)
        return -1;
    kill (self->pid, SIGKILL);
    s_wait_pid (self->pid, AGENT_STOP_DEADLINE_MS);
    self->pid = 0;
    return 0;
}

int
agent_process_hup (agent_process_t *self)
{
    assert (self);
    if (!self->pid || kill (self->pid, SIGHUP) != 0)
        return -1;
    return 0;
}

bool
agent_process_running (agent_process_t *self)
{
    assert (self);
    if (!self->pid)
        return false;
    int status;
    pid_t done = waitpid (self->pid, &status, WNOHANG);
    if (done == self->pid) {
        if (WIFSIGNALED (status))
            harness_note ("agent died of signal %d", WTERMSIG (status));
        else
        if (WIFEXITED (status))
            harness_note ("agent exited with status %d", WEXITSTATUS (status));
        self->pid = 0;
        return false;
    }
    return true;
}

pid_t agent_process_pid (agent_process_t *self) { assert (self); return self->pid; }
int64_t agent_process_spawned_at (agent_process_t *self) { assert (self); return self->spawned_at; }
const char *agent_process_source (agent_process_t *self) { assert (self); return self->source; }
const char *agent_process_listen (agent_process_t *self) { assert (self); return self->listen; }
const char *agent_process_config_path (agent_process_t *self) { assert (self); return self->config_path; }
const char *agent_process_log_path (agent_process_t *self) { assert (self); return self->log_path; }

int64_t
agent_process_status_kb (agent_process_t *self, const char *field)
{
    assert (self && field);
    if (!self->pid)
        return -1;
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/status", (int) self->pid);
    char *text = s_read_file (path);
    int64_t value = -1;
    size_t length = strlen (field);
    for (char *line = text; line && *line; ) {
        if (strncmp (line, field, length) == 0 && line [length] == ':') {
            long long kb;
            if (sscanf (line + length + 1, " %lld", &kb) == 1)
                value = kb;
            break;
        }
        line = strchr (line, '\n');
        if (line)
            line++;
    }
    free (text);
    return value;
}

int
agent_process_wait_log (agent_process_t *self, const char *text, int timeout_ms)
{
    assert (self && text);
    int64_t deadline = clock_now_ms () + timeout_ms;
    for (int count = 0; count < 100000; count++) {
        if (file_has_text (self->log_path, text))
            return 0;
        if (clock_now_ms () >= deadline)
            break;
        harness_pause_ms (AGENT_POLL_MS * 5);
    }
    return -1;
}

void
agent_process_print_log (agent_process_t *self)
{
    assert (self);
    char *text = s_read_file (self->log_path);
    size_t length = strlen (text);
    size_t start = length;
    int lines = 0;
    while (start > 0 && lines <= AGENT_LOG_TAIL_LINES) {
        start--;
        if (text [start] == '\n' && start + 1 < length)
            lines++;
    }
    if (lines > AGENT_LOG_TAIL_LINES)
        start++;
    harness_note ("--- agent log %s (last %d lines) ---", self->log_path, AGENT_LOG_TAIL_LINES);
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
agent_process_destroy (agent_process_t **self_p, bool failed)
{
    assert (self_p);
    agent_process_t *self = *self_p;
    if (!self)
        return;
    if (self->pid)
        agent_process_kill (self);
    if (failed && self->log_path)
        agent_process_print_log (self);
    free (self->config_path);
    free (self->log_path);
    free (self->socket_path);
    free (self);
    *self_p = NULL;
}

//  --- lilac-agent as a command ------------------------------------------------------

int
agent_command_run (const char *dir, int timeout_ms, cli_result_t *result, const char *arg, ...)
{
    assert (dir && result);
    static int serial;
    serial++;
    memset (result, 0, sizeof *result);
    char binary [1024];
    snprintf (binary, sizeof binary, "%s/lilac-agent", s_bin_dir ());
    char *argv [AGENT_MAX_ARGS + 2];
    int count = 0;
    argv [count++] = binary;
    va_list args;
    va_start (args, arg);
    for (const char *next = arg; next && count <= AGENT_MAX_ARGS; next = va_arg (args, const char *))
        argv [count++] = (char *) (uintptr_t) next;    //  posix_spawn does not write argv
    va_end (args);
    argv [count] = NULL;
    char out_path [1100], err_path [1100];
    snprintf (out_path, sizeof out_path, "%s/agent-command-%d.out", dir, serial);
    snprintf (err_path, sizeof err_path, "%s/agent-command-%d.err", dir, serial);
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
        s_wait_pid (pid, AGENT_STOP_DEADLINE_MS);
    }
    result->status = status;
    result->elapsed_ms = clock_now_ms () - started;
    result->out = s_read_file (out_path);
    result->err = s_read_file (err_path);
    return 0;
}
