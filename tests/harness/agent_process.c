/*  agent_process.c — the real lilac-agent as a child process (see
    agent_process.h for the contract).

    Built on harness.c's child-process and file helpers (process_spawn,
    process_stop, command_runv, file_read_all, ...): output into files in
    the sandbox (never a pipe a chatty child could fill), waitpid on our own
    pids only, and every wait a poll of its condition up to a deadline.
*/
#include "agent_process.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus.h"
#include "timespec.h"

#define AGENT_POLL_MS        10     //  how often waits look at their condition
#define AGENT_LOG_TAIL_LINES 80     //  agent log lines printed on failure
#define AGENT_MAX_CHECKS     32

struct _agent_process_t {
    char *config_path;             //  sandbox/agent.conf
    char *log_path;                //  sandbox/agent.log (appended across restarts)
    char *socket_path;             //  sandbox/agent.sock
    char *state_dir;               //  sandbox/agent-state
    char listen [1100];            //  ipc://sandbox/agent.sock
    char broker [64];              //  the broker's ingest endpoint
    char events [256];             //  the broker's publish endpoint (or a list)
    char control [256];            //  the broker's control endpoint (submits; or a list)
    char submit [1100];            //  ipc://sandbox/agent-submit.sock (local submits)
    broker_process_t *broker_process;  //  for readiness (borrowed)
    agent_process_config_t config; //  settings (strings borrowed from the caller)
    char source [256];             //  copy of the source
    pid_t pid;                     //  running process, or 0
    int64_t spawned_at;            //  wall ms of the last spawn
};

//  --- small helpers ----------------------------------------------------------------

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
pids_gone (const char *path, int timeout_ms, int *alive)
{
    *alive = 0;
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    int seen = 0;
    char line [64];
    int64_t deadline = clock_now_ms () + timeout_ms;
    while (fgets (line, sizeof line, file) && seen < 1000) {
        pid_t pid = (pid_t) atoi (line);
        if (pid <= 1)
            continue;
        seen++;
        bool gone = process_gone (pid);
        for (int count = 0; count < 1000 && !gone && clock_now_ms () < deadline; count++) {
            harness_pause_ms (20);
            gone = process_gone (pid);
        }
        if (!gone) {
            (*alive)++;
            harness_note ("pid %d listed in %s is still there", (int) pid, path);
            kill (pid, SIGKILL);
            process_gone (pid);
        }
    }
    fclose (file);
    return seen;
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
    s_quoted_key (file, "control", self->control);
    s_quoted_key (file, "listen", self->listen);
    if (!config->source_from_cert)
        s_key (file, "source", self->source);
    s_quoted_key (file, "state_dir", self->state_dir);
    s_key (file, "allow_other_sources", config->allow_other_sources);
    s_key (file, "max_alerts", config->max_alerts);
    s_key (file, "resync", config->resync);
    s_key (file, "max_running", config->max_running);
    s_quoted_key (file, "cert", config->cert);
    s_quoted_key (file, "server_key", config->server_key);
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
    self->state_dir = sandbox_path (sandbox, "agent-state");
    assert (self->config_path && self->log_path && self->socket_path && self->state_dir);
    snprintf (self->listen, sizeof self->listen, "ipc://%s", self->socket_path);
    snprintf (self->broker, sizeof self->broker, "%s", broker_process_ingest (broker));
    snprintf (self->events, sizeof self->events, "%s", config && config->events
              ? config->events : broker_process_publish (broker));
    snprintf (self->control, sizeof self->control, "%s", config && config->control
              ? config->control : broker_process_control (broker));
    snprintf (self->submit, sizeof self->submit, "ipc://%s", self->socket_path);
    //  the agent's default: beside listen, "agent.sock" → "agent-submit.sock"
    char *suffix = strstr (self->submit, ".sock");
    if (suffix)
        snprintf (suffix, sizeof self->submit - (size_t) (suffix - self->submit), "-submit.sock");
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
    snprintf (binary, sizeof binary, "%s/lilac-agent", harness_bin_dir ());
    char *argv [] = { binary, (char *) "-c", self->config_path, (char *) "-v", NULL };
    //  A killed agent leaves its socket file: readiness must see a new one
    if (unlink (self->socket_path) != 0 && errno != ENOENT)
        harness_note ("cannot remove %s: %s", self->socket_path, strerror (errno));
    //  The broker's clock stamps updated_at: allow it to lag ours a little.
    self->spawned_at = clock_now_ms ();
    pid_t pid = process_spawn (argv, self->log_path, self->log_path);
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
    return process_stop (&self->pid, "agent", AGENT_STOP_DEADLINE_MS);
}

int
agent_process_kill (agent_process_t *self)
{
    assert (self);
    return process_kill (&self->pid, AGENT_STOP_DEADLINE_MS);
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
    return process_running (&self->pid, "agent");
}

pid_t agent_process_pid (agent_process_t *self) { assert (self); return self->pid; }
int64_t agent_process_spawned_at (agent_process_t *self) { assert (self); return self->spawned_at; }
const char *agent_process_source (agent_process_t *self) { assert (self); return self->source; }
const char *agent_process_listen (agent_process_t *self) { assert (self); return self->listen; }
const char *agent_process_submit (agent_process_t *self) { assert (self); return self->submit; }
const char *agent_process_config_path (agent_process_t *self) { assert (self); return self->config_path; }
const char *agent_process_log_path (agent_process_t *self) { assert (self); return self->log_path; }
const char *agent_process_state_dir (agent_process_t *self) { assert (self); return self->state_dir; }

int64_t
agent_process_status_kb (agent_process_t *self, const char *field)
{
    assert (self && field);
    return self->pid ? process_status_kb (self->pid, field) : -1;
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
    log_print_tail ("agent", self->log_path, AGENT_LOG_TAIL_LINES);
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
    free (self->state_dir);
    free (self);
    *self_p = NULL;
}

//  --- lilac-agent as a command ------------------------------------------------------

int
agent_command_run (const char *dir, int timeout_ms, cli_result_t *result, const char *arg, ...)
{
    assert (dir && result);
    va_list args;
    va_start (args, arg);
    int rc = command_runv ("lilac-agent", "agent-command", dir, timeout_ms,
                           AGENT_STOP_DEADLINE_MS, result, arg, args);
    va_end (args);
    return rc;
}

int
agent_push_ids (agent_process_t *self, const char *source, const char *id_format,
                int count, int per_frame, const event_spec_t *event)
{
    assert (self && per_frame > 0 && per_frame <= 1000);
    char error [256];
    zsock_t *push = bus_open (ZMQ_PUSH, agent_process_listen (self), BUS_CONNECT,
                              error, sizeof error);
    if (!push) {
        harness_note ("PUSH to the agent: %s", error);
        return -1;
    }
    zsock_set_sndtimeo (push, 5000);
    static char ids [1000][32];
    static event_spec_t events [1000];
    int sent = 0;
    for (int first = 0; first < count; first += per_frame) {
        int size = count - first < per_frame ? count - first : per_frame;
        for (int index = 0; index < size; index++) {
            snprintf (ids [index], sizeof ids [index], id_format, first + index);
            events [index] = *event;
            events [index].id = ids [index];
        }
        batch_spec_t batch = { .source = source, .events = events, .event_count = (size_t) size };
        if (ingest_send (push, &batch) != 0) {
            harness_note ("the agent did not take frame %d", first / per_frame);
            break;
        }
        sent += size;
    }
    zsock_destroy (&push);
    return sent == count ? 0 : -1;
}
