/*  exec.c — the `exec` destination of bin/lilac-notify-exec: one command run
    per notification, with the change as one JSON object on its stdin.

    Config (section `exec`; every key optional):
      command   = "/usr/local/bin/purppura-notify --verbose"
                  argv, split on spaces and tabs; "double quotes" group
                  words (and are removed); no other quoting, no shell
      shell     = no     yes: run `/bin/sh -c COMMAND` instead
      timeout   = 30s    a run still going after this is killed, with its
                         whole process group (SIGKILL)
      retry_for = 1h     how long a failing delivery is retried, counted
                         from its first failure; then it is given up (logged)
    A rule may carry its own `command` (the destination key): it overrides
    the section's for the changes that rule decides. A rule without one uses
    the section's. The check (at -n, at start, on SIGHUP) refuses a rule
    with no command anywhere, and a command (not shell text) whose first
    word is not an executable file (a bare name: not one in $PATH); a
    command that disappears later fails at delivery, retried as below.

    What the command gets:
    - stdin: one JSON object and a newline, then end of file. It holds
      purppura's notification fields, named and typed as purppura's Go
      `Alert` struct marshals them (every one a string): Detail, ID, Raise,
      Subject, Source, Status, RaiseAt, NotifiedAt, NotifyCount — so a
      purppura-notify script works unchanged (Subject is the summary, the
      line for a phone; Detail the detail, or the summary when there is
      none, as a message must not be empty; Status is
      pending/raised/acknowledged/cleared; times
      are seconds since the epoch; Raise is always ""). Next to them,
      lilac's own, typed: event, seq, at (ms), level, state, labels {},
      acked_by, ack_note, summary (null when unset), notify_count, rule; and
      for flood control `flood` ("held" or "over") with `held` (how many
      were dropped, on "over"), where Subject and Detail say so in words.
      lilac's alert subject is not in the JSON (a "subject" key would clash
      with purppura's Subject in case-insensitive decoders, Go's among
      them); it is in LILAC_SUBJECT.
    - environment: the notifier's, plus LILAC_EVENT, LILAC_SOURCE, LILAC_ID,
      LILAC_SUBJECT, LILAC_LEVEL, LILAC_STATE, LILAC_SUMMARY, LILAC_SEQ,
      LILAC_RULE, LILAC_NOTIFY_COUNT, and on flood actions LILAC_FLOOD and
      LILAC_HELD (any of these inherited from the notifier are replaced).
    - stdout and stderr: the notifier's stderr (its log, e.g. the journal).
    - its own process group, an empty signal mask and default dispositions
      (the notifier blocks SIGINT/SIGTERM for its signalfd and ignores
      SIGPIPE; a child must not inherit either). Every fd the notifier holds
      is close-on-exec, so the command inherits no socket.

    Outcome: exit 0 is DELIVERED. A non-zero exit, death by a signal, the
    timeout, or a failure to start (no such file, ...) is RETRY: the
    delivery core (delivery.h) tries again with back-off until retry_for
    after the first failure, then logs it as given up ("giving up after 9
    attempts in 1h: exit status 3"). No usable command is GIVE_UP at once.

    Never waiting: a command is started and left to run; the loop watches
    its pidfd (exit) and its stdin pipe (room to write), and work() kills
    it at its timeout. Commands for different destinations (rules with
    their own `command`) run side by side; one destination's runs are one
    at a time, in order. A hung command holds only its own destination.

    Reaping: the command is reaped by pid (waitpid, never -1) when its
    pidfd (Linux ≥ 5.3) says it exited or, without one, at every
    EXEC_POLL_STEP_MS. At its timeout its group is SIGKILLed; one that has
    not died yet (stuck in the kernel) is kept in a short list and reaped
    later (work(), every second), so no zombie is left behind. Whatever a
    command leaves running in the background after it exits 0 is its own
    business; it is not killed. At exit, runs still going are killed and
    waited for up to EXEC_KILL_WAIT_MS.

    The spawning is proto/child.c's (process group, mask, signal
    defaults, fds above stdio), shared with the agent's checks.
*/
#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "child.h"
#include "error_text.h"
#include "exec.h"
#include "json.h"
#include "loop.h"
#include "log.h"
#include "mem.h"
#include "timespec.h"
#include "wire.h"

#define EXEC_TIMEOUT_DEFAULT_MS    (30 * 1000)          //  `timeout`
#define EXEC_RETRY_FOR_DEFAULT_MS  (60 * 60 * 1000)     //  `retry_for`
#define EXEC_MAX_ARGS              64                   //  words in an argv command
#define EXEC_ORPHANS_MAX           16                   //  killed runs not yet reaped
#define EXEC_KILL_WAIT_MS          2000                 //  at exit, wait for killed runs
#define EXEC_POLL_STEP_MS          10                   //  reap polling without a pidfd
#define EXEC_ORPHAN_CHECK_MS       1000                 //  how often orphans are reaped
#define EXEC_REASON_SIZE           512                  //  why a run failed, as text
#define EXEC_SHELL                 "/bin/sh"

static const char *const s_section_keys [] = { "command", "shell", "timeout", "retry_for", NULL };
static const char *const s_rule_keys [] = { "command", NULL };

//  Environment variables we set; inherited ones of these names are dropped.
static const char *const s_env_names [] = {
    "LILAC_EVENT", "LILAC_SOURCE", "LILAC_ID", "LILAC_SUBJECT", "LILAC_LEVEL",
    "LILAC_STATE", "LILAC_SUMMARY", "LILAC_SEQ", "LILAC_RULE", "LILAC_NOTIFY_COUNT",
    "LILAC_FLOOD", "LILAC_HELD", NULL
};
#define EXEC_ENV_MAX 12                 //  entries in s_env_names

//  A command split into words.
typedef struct _exec_t exec_t;

typedef struct {
    char *words;                   //  the words, NUL-separated (owned)
    char *argv [EXEC_MAX_ARGS + 1];    //  pointers into words, NULL-terminated
    size_t argc;                   //  words
} command_line_t;

//  One command running for one delivery.
typedef struct _run_t run_t;
struct _run_t {
    exec_t *owner;
    delivery_t *delivery;          //  finished when the run ends
    pid_t pid;                     //  its process group too
    int pidfd;                     //  readable once it exits, or -1
    int write_fd;                  //  its stdin, until all is written; -1 then
    char *data;                    //  the JSON it reads
    size_t size, sent;
    int64_t started;               //  mono ms
    int64_t deadline;              //  mono ms: killed after this
    run_t *next;
};

struct _exec_t {
    char *command;                 //  the section's command, or NULL
    bool shell;                    //  run commands with /bin/sh -c
    int64_t timeout_ms;            //  a run is killed after this
    loop_t *loop;                  //  watches pidfds and stdin pipes
    run_t *runs;                   //  running now
    pid_t orphans [EXEC_ORPHANS_MAX];   //  killed, not reaped yet
    size_t orphan_count;           //  entries in orphans
};

//  --- small helpers ------------------------------------------------------------------

//  Splits text into words (see the file comment). 0, or -1 with why.
static int
s_command_split (const char *text, command_line_t *line, char *why, size_t why_size)
{
    memset (line, 0, sizeof *line);
    //  Words are at most as long as their text and separated by at least
    //  one blank, so the words and their NULs fit in strlen + 1 bytes.
    line->words = mem_alloc (strlen (text) + 1);
    char *out = line->words;
    const char *at = text;
    while (true) {
        while (*at == ' ' || *at == '\t')
            at++;
        if (!*at)
            break;
        if (line->argc == EXEC_MAX_ARGS) {
            snprintf (why, why_size, "more than %d words", EXEC_MAX_ARGS);
            goto failed;
        }
        line->argv [line->argc++] = out;
        bool quoted = false;
        while (*at && (quoted || (*at != ' ' && *at != '\t'))) {
            if (*at == '"')
                quoted = !quoted;
            else
                *out++ = *at;
            at++;
        }
        if (quoted) {
            snprintf (why, why_size, "missing closing double quote");
            goto failed;
        }
        *out++ = 0;
    }
    if (line->argc == 0) {
        snprintf (why, why_size, "empty command");
        goto failed;
    }
    line->argv [line->argc] = NULL;
    return 0;
failed:
    mem_free (line->words);
    memset (line, 0, sizeof *line);
    return -1;
}

static void
s_command_free (command_line_t *line)
{
    mem_free (line->words);
    memset (line, 0, sizeof *line);
}

//  --- the JSON and the environment ---------------------------------------------------------

//  purppura's Status words.
static const char *
s_purppura_status (alert_state_t state)
{
    switch (state) {
        case ALERT_PENDING: return "pending";
        case ALERT_RAISED:  return "raised";
        case ALERT_ACKED:   return "acknowledged";
        case ALERT_CLEARED: return "cleared";
    }
    return "unknown";
}

static const char *
s_flood_name (rule_action_kind_t kind)
{
    return kind == ACTION_FLOOD_HELD ? "held" : kind == ACTION_FLOOD_OVER ? "over" : NULL;
}

//  purppura's Subject and Detail: the alert's, or for flood actions words
//  saying what happened. Writes into the caller's buffers.
static void
s_subject_detail (const alert_change_t *change, const rule_action_t *action,
                  char *subject, size_t subject_size, char *detail, size_t detail_size,
                  const char **subject_out, const char **detail_out)
{
    const alert_t *alert = &change->alert;
    if (action->kind == ACTION_NOTIFY) {
        *subject_out = alert_headline (alert);
        *detail_out = alert->detail && *alert->detail ? alert->detail : alert_headline (alert);
        return;
    }
    const char *limit = NULL;
    if (action->settings)
        config_string (action->settings, "limit", NULL, &limit);
    if (action->kind == ACTION_FLOOD_HELD) {
        snprintf (subject, subject_size, "lilac: further alerts of rule %s are held back%s%s%s",
                  action->rule, limit ? " (limit " : "", limit ? limit : "", limit ? ")" : "");
        snprintf (detail, detail_size, "Too many alerts matched rule %s; the last one was"
                  " %s/%s: %s. Further alerts of this rule are held back until the rate drops.",
                  action->rule, alert->source, alert->id, alert_headline (alert));
    }
    else {
        snprintf (subject, subject_size, "lilac: normal service resumes for rule %s;"
                  " %" PRId64 " alert%s held back", action->rule, action->held,
                  action->held == 1 ? " was" : "s were");
        snprintf (detail, detail_size, "Alerts of rule %s are sent again; %" PRId64
                  " were held back. This one: %s/%s: %s.", action->rule, action->held,
                  alert->source, alert->id, alert_headline (alert));
    }
    *subject_out = subject;
    *detail_out = detail;
}

//  object[key] = a string (NULL: null), an integer, or an integer as
//  decimal text (purppura's fields are all strings). 0, or -1 when out of
//  memory. Strings come from decoded frames (valid UTF-8); any that were
//  not would get U+FFFD rather than fail the delivery. Label keys are
//  names the decoder checked.
static int
s_put_string (json_t *object, const char *key, const char *value)
{
    return json_object_set_new (object, key,
                                json_string_lossy (value, value ? strlen (value) : 0));
}

static int
s_put_int (json_t *object, const char *key, int64_t value)
{
    return json_object_set_new (object, key, json_integer (value));
}

static int
s_put_decimal (json_t *object, const char *key, int64_t value)
{
    char text [32];
    snprintf (text, sizeof text, "%" PRId64, value);
    return s_put_string (object, key, text);
}

//  The alert's labels as an object; NULL when out of memory.
static json_t *
s_labels (const alert_t *alert)
{
    json_t *labels = json_object ();
    for (size_t index = 0; labels && index < alert->label_count; index++) {
        const wire_label_t *label = &alert->labels [index];
        if (json_object_set_new (labels, label->key,
                                 json_string_lossy (label->value, strlen (label->value)))) {
            json_decref (labels);
            labels = NULL;
        }
    }
    return labels;
}

//  The change as one line of JSON with a newline; a fresh string (free()).
static char *
s_json (const alert_change_t *change, const rule_action_t *action, size_t *size)
{
    const alert_t *alert = &change->alert;
    char subject_buffer [WIRE_MAX_NAME * 2 + 256];
    char detail_buffer [WIRE_MAX_SUMMARY + WIRE_MAX_NAME * 3 + 256];
    const char *subject, *detail;
    s_subject_detail (change, action, subject_buffer, sizeof subject_buffer,
                      detail_buffer, sizeof detail_buffer, &subject, &detail);
    const char *flood = s_flood_name (action->kind);

    json_t *object = json_object ();
    //  purppura's Alert, in its field order, every value a string.
    bool ok = object
        && s_put_string (object, "Detail", detail) == 0
        && s_put_string (object, "ID", alert->id ? alert->id : "") == 0
        && s_put_string (object, "Raise", "") == 0
        && s_put_string (object, "Subject", subject) == 0
        && s_put_string (object, "Source", alert->source ? alert->source : "") == 0
        && s_put_string (object, "Status", s_purppura_status (alert->state)) == 0
        && s_put_decimal (object, "RaiseAt", alert->raise_at / 1000) == 0
        && s_put_decimal (object, "NotifiedAt", alert->notified_at / 1000) == 0
        && s_put_decimal (object, "NotifyCount", alert->notify_count) == 0
    //  lilac's own.
        && s_put_string (object, "event", change->event) == 0
        && s_put_int (object, "seq", (int64_t) change->seq) == 0
        && s_put_int (object, "at", change->at) == 0
        && s_put_string (object, "level", alert_level_name (alert->level)) == 0
        && s_put_string (object, "state", alert_state_name (alert->state)) == 0
        && json_object_set_new (object, "labels", s_labels (alert)) == 0
        && s_put_string (object, "acked_by", alert->acked_by) == 0
        && s_put_string (object, "ack_note", alert->ack_note) == 0
        && s_put_string (object, "summary", alert->summary) == 0
        && s_put_int (object, "notify_count", alert->notify_count) == 0
        && s_put_string (object, "rule", action->rule) == 0
        && (!flood || s_put_string (object, "flood", flood) == 0)
        && (action->kind != ACTION_FLOOD_OVER || s_put_int (object, "held", action->held) == 0);
    char *json = ok ? json_text (object) : NULL;
    json_decref (object);
    if (!json)
        return NULL;
    size_t length = strlen (json);
    char *line = realloc (json, length + 2);
    if (!line) {
        free (json);
        return NULL;
    }
    line [length] = '\n';
    line [length + 1] = 0;
    *size = length + 1;
    return line;
}

static bool
s_env_ours (const char *entry)
{
    for (size_t index = 0; s_env_names [index]; index++) {
        size_t length = strlen (s_env_names [index]);
        if (strncmp (entry, s_env_names [index], length) == 0 && entry [length] == '=')
            return true;
    }
    return false;
}

static void
s_env_add (char **envp, size_t *count, const char *name, const char *value)
{
    size_t size = strlen (name) + strlen (value) + 2;
    char *entry = mem_alloc (size);
    snprintf (entry, size, "%s=%s", name, value);
    envp [(*count)++] = entry;
}

//  The notifier's environment with ours on top; free with s_env_free.
//  Entries from index *own_from on are ours (allocated).
static char **
s_environment (const alert_change_t *change, const rule_action_t *action, size_t *own_from)
{
    const alert_t *alert = &change->alert;
    size_t inherited = 0;
    while (environ && environ [inherited])
        inherited++;
    char **envp = mem_alloc ((inherited + EXEC_ENV_MAX + 1) * sizeof *envp);
    size_t count = 0;
    for (size_t index = 0; index < inherited; index++)
        if (!s_env_ours (environ [index]))
            envp [count++] = environ [index];
    *own_from = count;
    char number [32];
    s_env_add (envp, &count, "LILAC_EVENT", change->event ? change->event : "");
    s_env_add (envp, &count, "LILAC_SOURCE", alert->source ? alert->source : "");
    s_env_add (envp, &count, "LILAC_ID", alert->id ? alert->id : "");
    s_env_add (envp, &count, "LILAC_SUBJECT", alert->subject ? alert->subject
                                            : alert->source ? alert->source : "");
    s_env_add (envp, &count, "LILAC_LEVEL", alert_level_name (alert->level));
    s_env_add (envp, &count, "LILAC_STATE", alert_state_name (alert->state));
    s_env_add (envp, &count, "LILAC_SUMMARY", alert->summary ? alert->summary : "");
    snprintf (number, sizeof number, "%" PRIu64, change->seq);
    s_env_add (envp, &count, "LILAC_SEQ", number);
    s_env_add (envp, &count, "LILAC_RULE", action->rule ? action->rule : "");
    snprintf (number, sizeof number, "%" PRId64, alert->notify_count);
    s_env_add (envp, &count, "LILAC_NOTIFY_COUNT", number);
    const char *flood = s_flood_name (action->kind);
    if (flood)
        s_env_add (envp, &count, "LILAC_FLOOD", flood);
    if (action->kind == ACTION_FLOOD_OVER) {
        snprintf (number, sizeof number, "%" PRId64, action->held);
        s_env_add (envp, &count, "LILAC_HELD", number);
    }
    assert (count <= inherited + EXEC_ENV_MAX);
    envp [count] = NULL;
    return envp;
}

static void
s_env_free (char **envp, size_t own_from)
{
    for (size_t index = own_from; envp [index]; index++)
        mem_free (envp [index]);
    mem_free (envp);
}

//  --- running one command ---------------------------------------------------------------

//  Spawns file (searched in PATH when search is true) with argv and envp,
//  stdin from read_fd, stdout and stderr onto our stderr (or /dev/null if
//  we have none). 0 with *pid, or an errno.
static int
s_spawn (const char *file, bool search, char *const argv [], char *const envp [],
         int read_fd, int write_fd, pid_t *pid)
{
    int output = fcntl (STDERR_FILENO, F_GETFD) >= 0 ? STDERR_FILENO : -1;
    child_spec_t spec = { .file = file, .search_path = search, .argv = argv, .envp = envp,
                          .stdin_fd = read_fd, .stdout_fd = output, .stderr_fd = output,
                          .close_fds = { read_fd, write_fd } };
    return child_start (&spec, pid);
}

//  A pidfd for pid (readable once it exits), or -1 where the kernel has none.
static int
s_pidfd (pid_t pid)
{
#ifdef SYS_pidfd_open
    long fd = syscall (SYS_pidfd_open, pid, 0);     //  always close-on-exec
    return fd >= 0 ? (int) fd : -1;
#else
    (void) pid;
    return -1;
#endif
}

//  Collects pid if it exited. True when reaped (*status set). ECHILD
//  (someone else reaped it) counts as reaped with status -1.
static bool
s_reap (pid_t pid, int *status)
{
    pid_t rc;
    do
        rc = waitpid (pid, status, WNOHANG);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return false;
    if (rc < 0) {
        log_warn ("waitpid(%d) failed: %s; its exit status is lost", (int) pid, strerror (errno));
        *status = -1;
    }
    return true;
}

static void
s_close (int *fd)
{
    if (*fd >= 0)
        close (*fd);    //  on Linux the fd is gone even after EINTR
    *fd = -1;
}

//  Writes what the pipe takes now; closes it when all is written or the
//  command closed its end (EPIPE: it need not read its input).
static void
s_feed_stdin (int *fd, const char *data, size_t size, size_t *sent)
{
    while (*fd >= 0 && *sent < size) {
        ssize_t wrote = write (*fd, data + *sent, size - *sent);
        if (wrote > 0)
            *sent += (size_t) wrote;
        else
        if (wrote < 0 && errno == EINTR)
            continue;
        else
        if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        else {
            if (errno != EPIPE)
                log_warn ("writing the command's stdin failed: %s", strerror (errno));
            s_close (fd);
        }
    }
    if (*sent == size)
        s_close (fd);
}

static void
s_keep_orphan (exec_t *self, pid_t pid)
{
    if (self->orphan_count == EXEC_ORPHANS_MAX) {
        log_error ("pid %d ignores SIGKILL and %d others do too; it will be a zombie",
                   (int) pid, EXEC_ORPHANS_MAX);
        return;
    }
    self->orphans [self->orphan_count++] = pid;
}

static void
s_reap_orphans (exec_t *self)
{
    size_t kept = 0;
    for (size_t index = 0; index < self->orphan_count; index++) {
        int status;
        if (s_reap (self->orphans [index], &status))
            log_info ("pid %d, killed earlier, is reaped at last", (int) self->orphans [index]);
        else
            self->orphans [kept++] = self->orphans [index];
    }
    self->orphan_count = kept;
}

//  --- runs --------------------------------------------------------------------------

static void
s_run_free (run_t *run)
{
    exec_t *self = run->owner;
    for (run_t **link = &self->runs; *link; link = &(*link)->next)
        if (*link == run) {
            *link = run->next;
            break;
        }
    if (run->pidfd >= 0)
        loop_unwatch (self->loop, run->pidfd);
    if (run->write_fd >= 0)
        loop_unwatch (self->loop, run->write_fd);
    s_close (&run->pidfd);
    s_close (&run->write_fd);
    free (run->data);
    mem_free (run);
}

//  A wait status as the reason a delivery failed; true when it is success.
static bool
s_exit_status (int status, char *reason, size_t reason_size)
{
    if (status == -1)
        snprintf (reason, reason_size, "its exit status was lost (is SIGCHLD ignored?)");
    else
    if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        return true;
    else
    if (WIFEXITED (status))
        snprintf (reason, reason_size, "exit status %d", WEXITSTATUS (status));
    else
    if (WIFSIGNALED (status))
        snprintf (reason, reason_size, "killed by signal %d (%s)", WTERMSIG (status),
                  strsignal (WTERMSIG (status)));
    else
        snprintf (reason, reason_size, "wait status 0x%x", (unsigned) status);
    return false;
}

//  Looks at one run: exited (finished, freed), out of time (killed,
//  finished, freed; reaped now or later as an orphan), or still going.
static void
s_run_check (run_t *run, int64_t now)
{
    exec_t *self = run->owner;
    int status = 0;
    char reason [EXEC_REASON_SIZE], text [32];
    if (s_reap (run->pid, &status)) {
        log_debug ("pid %d ended after %" PRId64 " ms", (int) run->pid, now - run->started);
        if (s_exit_status (status, reason, sizeof reason))
            delivery_finish (run->delivery, DELIVERY_DELIVERED, 0, NULL);
        else
            delivery_finish (run->delivery, DELIVERY_RETRY, 0, "%s", reason);
        s_run_free (run);
        return;
    }
    if (now < run->deadline)
        return;
    child_kill_group (run->pid);
    if (!s_reap (run->pid, &status))
        s_keep_orphan (self, run->pid);        //  reaped by work() once it died
    delivery_finish (run->delivery, DELIVERY_RETRY, 0,
                     "timed out after %s (process group %d killed)",
                     duration_format (self->timeout_ms, text, (int) sizeof text), (int) run->pid);
    s_run_free (run);
}

static void
s_on_pidfd (int fd, short revents, void *arg)
{
    (void) fd;
    (void) revents;
    s_run_check (arg, zclock_mono ());
}

static void
s_on_stdin (int fd, short revents, void *arg)
{
    (void) fd;
    (void) revents;
    run_t *run = arg;
    int was = run->write_fd;
    s_feed_stdin (&run->write_fd, run->data, run->size, &run->sent);
    if (run->write_fd < 0)
        loop_unwatch (run->owner->loop, was);
}

//  Starts one command for delivery, feeding it data (taken over) on
//  stdin. 0, or -1 with why in reason (nothing runs; data freed).
static int
s_run_start (exec_t *self, delivery_t *delivery, const char *file, bool search,
             char *const argv [], char *const envp [], char *data, size_t size,
             char *reason, size_t reason_size)
{
    int read_fd, write_fd;
    if (child_pipe (&read_fd, &write_fd, false, true)) {    //  ours is the write end
        free (data);
        return error_text (reason, reason_size, -1, "cannot make a pipe: %s", strerror (errno));
    }
    pid_t pid = 0;
    int rc = s_spawn (file, search, argv, envp, read_fd, write_fd, &pid);
    s_close (&read_fd);
    if (rc) {
        s_close (&write_fd);
        free (data);
        return error_text (reason, reason_size, -1, "cannot run %s: %s", file, strerror (rc));
    }
    run_t *run = mem_alloc (sizeof *run);
    *run = (run_t) { .owner = self, .delivery = delivery, .pid = pid, .pidfd = s_pidfd (pid),
                     .write_fd = write_fd, .data = data, .size = size,
                     .started = zclock_mono (), .next = self->runs };
    run->deadline = run->started + self->timeout_ms;
    self->runs = run;
    if (run->pidfd >= 0 && loop_watch (self->loop, run->pidfd, ZMQ_POLLIN, s_on_pidfd, run))
        s_close (&run->pidfd);         //  the table is full: work() polls it
    s_feed_stdin (&run->write_fd, data, size, &run->sent);
    if (run->write_fd >= 0
    &&  loop_watch (self->loop, run->write_fd, ZMQ_POLLOUT, s_on_stdin, run)) {
        log_warn ("pid %d: too many fds to watch; its stdin is cut short", (int) pid);
        s_close (&run->write_fd);
    }
    return 0;
}

//  Starts the command of one action. 0 when it runs; else -1 with the
//  reason, and *permanent when retrying cannot help (no usable command).
static int
s_attempt (exec_t *self, delivery_t *delivery, char *reason, size_t reason_size,
           bool *permanent)
{
    const alert_change_t *change = delivery_change (delivery);
    const rule_action_t *action = delivery_action (delivery);
    *permanent = false;
    const char *command = NULL;
    config_t *node = NULL;
    if (action->settings) {
        config_string (action->settings, "command", NULL, &command);
        node = config_locate (action->settings, "command");
    }
    if (!command || !*command)
        command = self->command;
    if (!command) {
        snprintf (reason, reason_size, "no command: set one in section `exec` or in the rule");
        *permanent = true;
        return -1;
    }
    command_line_t line = { 0 };
    const char *file = EXEC_SHELL;
    bool search = false;
    char *shell_command = mem_strdup (command);     //  argv is not const
    char *shell_argv [] = { (char *) "sh", (char *) "-c", shell_command, NULL };
    char *const *argv = shell_argv;
    if (!self->shell) {
        char why [128];
        if (s_command_split (command, &line, why, sizeof why)) {
            if (node && command != self->command)
                snprintf (reason, reason_size, "%s:%d: command: %s", config_file (node),
                          config_line (node), why);
            else
                snprintf (reason, reason_size, "command: %s", why);
            *permanent = true;
            mem_free (shell_command);
            return -1;
        }
        file = line.argv [0];
        search = strchr (file, '/') == NULL;
        argv = line.argv;
    }
    size_t size = 0;
    char *json = s_json (change, action, &size);
    if (!json) {
        s_command_free (&line);
        mem_free (shell_command);
        snprintf (reason, reason_size, "out of memory for the JSON");
        return -1;
    }
    size_t own_from;
    char **envp = s_environment (change, action, &own_from);
    int rc = s_run_start (self, delivery, file, search, argv, envp, json, size,
                          reason, reason_size);
    s_env_free (envp, own_from);
    s_command_free (&line);
    mem_free (shell_command);
    return rc;
}

//  --- the destination ---------------------------------------------------------------------

static void
s_start (void *self_, delivery_t *delivery)
{
    exec_t *self = self_;
    char reason [EXEC_REASON_SIZE];
    bool permanent = false;
    if (s_attempt (self, delivery, reason, sizeof reason, &permanent))
        delivery_finish (delivery, permanent ? DELIVERY_GIVE_UP : DELIVERY_RETRY, 0, "%s", reason);
}

//  "FILE:LINE: key: why" for a key of section.
static void
s_section_error (config_t *section, const char *key, const char *why, char *error, size_t error_size)
{
    config_t *node = config_locate (section, key);
    if (!node)
        node = section;
    snprintf (error, error_size, "%s:%d: %s: %s", config_file (node), config_line (node), key, why);
}

static void
s_close_destination (void **self_p)
{
    assert (self_p);
    exec_t *self = *self_p;
    if (!self)
        return;
    while (self->runs) {                //  cut short, not finished (the core is closing)
        child_kill_group (self->runs->pid);
        s_keep_orphan (self, self->runs->pid);
        s_run_free (self->runs);
    }
    for (size_t index = 0; index < self->orphan_count; index++)
        child_kill_group (self->orphans [index]);
    int64_t give_up = zclock_mono () + EXEC_KILL_WAIT_MS;
    while (self->orphan_count && zclock_mono () < give_up) {
        s_reap_orphans (self);
        struct timespec step = { 0, EXEC_POLL_STEP_MS * 1000000L };
        nanosleep (&step, NULL);
    }
    mem_free (self->command);
    mem_free (self);
    *self_p = NULL;
}

static void *
s_open (config_t *section, notifier_env_t *env, char *error, size_t error_size)
{
    exec_t *self = mem_alloc (sizeof *self);
    self->timeout_ms = EXEC_TIMEOUT_DEFAULT_MS;
    self->loop = env->loop;
    env->retry_for_ms = EXEC_RETRY_FOR_DEFAULT_MS;
    if (section) {
        const char *command = NULL;
        if (config_check_keys (section, s_section_keys, error, error_size)
        ||  config_boolean (section, "shell", false, &self->shell, error, error_size)
        ||  config_duration (section, "timeout", EXEC_TIMEOUT_DEFAULT_MS, &self->timeout_ms,
                             error, error_size)
        ||  config_duration (section, "retry_for", EXEC_RETRY_FOR_DEFAULT_MS,
                             &env->retry_for_ms, error, error_size))
            goto failed;
        if (self->timeout_ms <= 0) {
            s_section_error (section, "timeout", "must be more than 0", error, error_size);
            goto failed;
        }
        if (env->retry_for_ms < 0) {
            s_section_error (section, "retry_for", "must not be negative", error, error_size);
            goto failed;
        }
        config_string (section, "command", NULL, &command);
        if (command && *command && !self->shell) {
            command_line_t line;
            char why [128];
            if (s_command_split (command, &line, why, sizeof why)) {
                s_section_error (section, "command", why, error, error_size);
                goto failed;
            }
            s_command_free (&line);
        }
        self->command = command && *command ? mem_strdup (command) : NULL;
    }
    if (!self->command)
        log_warn ("section `exec` has no command: every rule needs its own");
    char timeout [32], retry_for [32];
    log_info ("commands run %s, timeout %s, retried for %s", self->shell ? "with /bin/sh -c" : "directly",
              duration_format (self->timeout_ms, timeout, (int) sizeof timeout),
              duration_format (env->retry_for_ms, retry_for, (int) sizeof retry_for));
    return self;
failed:
    {
        void *state = self;
        s_close_destination (&state);
    }
    return NULL;
}

//  Whether file can be run: a name with a slash must be an executable
//  regular file (relative to the working directory); a bare name one in a
//  directory of $PATH, as posix_spawnp looks. 0, or -1 with why.
static int
s_executable_check (const char *file, char *why, size_t why_size)
{
    struct stat info;
    if (strchr (file, '/')) {
        if (stat (file, &info))
            return error_text (why, why_size, -1, "%s: %s", file, strerror (errno));
        if (!S_ISREG (info.st_mode) || access (file, X_OK))
            return error_text (why, why_size, -1, "%s: not an executable file", file);
        return 0;
    }
    const char *path = getenv ("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t length = strcspn (path, ":");
        char candidate [4096];
        int size = snprintf (candidate, sizeof candidate, "%.*s/%s", (int) length, path, file);
        if (size > 0 && (size_t) size < sizeof candidate && stat (candidate, &info) == 0
        &&  S_ISREG (info.st_mode) && access (candidate, X_OK) == 0)
            return 0;
        path += length + (path [length] == ':');
    }
    return error_text (why, why_size, -1, "'%s' is not an executable file in $PATH", file);
}

//  A command as run without a shell: words that split, a first word that
//  can run. Shell text (shell = yes) is the shell's business: not checked.
static void
s_command_check (const char *command, bool shell, config_t *node, config_report_t *errors)
{
    if (shell)
        return;
    command_line_t line;
    char why [4200];
    if (s_command_split (command, &line, why, sizeof why) == 0) {
        if (s_executable_check (line.argv [0], why, sizeof why) == 0)
            *why = 0;
        s_command_free (&line);
    }
    if (*why)
        config_report_at (errors, node, "command: %s", why);
}

//  The section's values and every rule's command, as open and deliver use
//  them; a rule with no command where the section has none never notifies.
static void
s_check (config_t *root, config_report_t *errors)
{
    config_t *section = config_locate (root, "exec");
    bool shell = false;
    const char *command = NULL;
    char error [CONFIG_ERROR_SIZE];
    if (section) {
        int64_t timeout = EXEC_TIMEOUT_DEFAULT_MS, retry_for = EXEC_RETRY_FOR_DEFAULT_MS;
        if (config_boolean (section, "shell", false, &shell, error, sizeof error))
            config_report_error (errors, error);
        if (config_duration (section, "timeout", timeout, &timeout, error, sizeof error))
            config_report_error (errors, error);
        else
        if (timeout <= 0)
            config_report_at (errors, config_locate (section, "timeout"),
                              "timeout: must be more than 0");
        if (config_duration (section, "retry_for", retry_for, &retry_for, error, sizeof error))
            config_report_error (errors, error);
        else
        if (retry_for < 0)
            config_report_at (errors, config_locate (section, "retry_for"),
                              "retry_for: must not be negative");
        config_string (section, "command", NULL, &command);
        if (command && *command)
            s_command_check (command, shell, config_locate (section, "command"), errors);
    }
    for (config_t *rule = config_child (root); rule; rule = config_next (rule)) {
        if (strcmp (config_name (rule), "rule") != 0)
            continue;
        config_t *node = config_locate (rule, "command");
        if (node && *config_value (node))
            s_command_check (config_value (node), shell, node, errors);
        else
        if (!node && !(command && *command))
            config_report_at (errors, rule, "rule %s has no command, and section exec has"
                              " none: it could never notify", config_value (rule));
    }
}

//  Runs out of time, runs without a pidfd, orphans.
static void
s_work (void *self_, int64_t mono_now)
{
    exec_t *self = self_;
    for (run_t *run = self->runs, *next; run; run = next) {
        next = run->next;
        if (run->pidfd < 0 || mono_now >= run->deadline)
            s_run_check (run, mono_now);
    }
    s_reap_orphans (self);
}

static int64_t
s_next_wakeup (void *self_, int64_t mono_now)
{
    exec_t *self = self_;
    int64_t wait = self->orphan_count ? EXEC_ORPHAN_CHECK_MS : -1;
    for (run_t *run = self->runs; run; run = run->next) {
        int64_t left = run->pidfd < 0 ? EXEC_POLL_STEP_MS
                     : run->deadline > mono_now ? run->deadline - mono_now : 0;
        if (wait < 0 || left < wait)
            wait = left;
    }
    return wait;
}

const destination_class_t exec_destination = {
    .program = "lilac-notify-exec",
    .section = "exec",
    .section_keys = s_section_keys,
    .rule_keys = s_rule_keys,
    .destination_key = "command",
    .check = s_check,
    .open = s_open,
    .close = s_close_destination,
    .start = s_start,
    .work = s_work,
    .next_wakeup = s_next_wakeup,
};
