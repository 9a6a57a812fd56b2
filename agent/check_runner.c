/*  check_runner.c — runs check commands without ever blocking the agent.
    See check_runner.h for the contract.

    The runner keeps a fixed array of max_running slots; a slot holds one
    run_t while its check runs (from posix_spawn until it is reported), so
    memory is bounded by max_running × (CHECK_OUTPUT_MAX + names).

    Each run is `/bin/sh -c COMMAND`, spawned in its own process group
    (pgid = its pid), with an empty signal mask and default dispositions for
    the signals the agent blocks or ignores (it blocks them for its signalfd,
    and a child would otherwise inherit the blocked mask and never die of
    SIGTERM). stdin is /dev/null; stdout and stderr share the write end of
    one pipe. Every fd the agent holds is CLOEXEC, so only those three reach
    the check.

    check_runner_work() does, per run and in this order:
      1. reap the child with waitpid(pid, WNOHANG);
      2. drain the pipe (at most CHECK_DRAIN_PER_TURN bytes a turn, so a
         chatty check cannot starve the loop), keeping CHECK_OUTPUT_MAX bytes
         and discarding the rest;
      3. past its deadline and not reaped: SIGKILL the whole group and close
         the pipe at once — a grandchild outside the group may still hold the
         write end, so we never wait for EOF after a kill;
      4. reaped but the pipe not at EOF: something the check left behind
         (`sleep 100 &`) still holds the pipe. We choose to SIGKILL the group
         and close the pipe right away rather than wait for the leftover to
         exit: a check is over when its shell exits, and waiting could hold
         the slot until the timeout or forever. Reaping before draining makes
         this safe: once the shell is reaped, everything it wrote is already
         in the pipe, so step 2 has read it all.
      5. reaped and the pipe closed: report once, then free the slot.
    The pgid stays valid for kill() after the leader is reaped as long as any
    member lives (Linux does not reuse a pid still in use as a pgid); when no
    member lives kill() says ESRCH, which is fine.

    Limits: a process that leaves the group (setsid) escapes the group kill;
    its pipe is still closed on our side, so it cannot hold the runner up.
    A killed run is reported as CHECK_TIMED_OUT whatever its wait status.
    Times: check_runner_start() reads zclock_mono(), so now_ms given to the
    other calls must come from the same clock (the agent uses zclock_mono).
    The callback may call check_runner_start() (the slot is freed before it
    runs), but must not destroy the runner.
*/
#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "check_runner.h"
#include "child.h"
#include "log.h"
#include "mem.h"

#define CHECK_DRAIN_PER_TURN (4 * CHECK_OUTPUT_MAX) //  bytes read from one pipe per turn
#define CHECK_REAP_RETRY_MS  50                     //  wake-up for runs with no pipe to poll
#define CHECK_DESTROY_WAIT_MS 1000                  //  destroy waits this long for the dead
#define CHECK_DESTROY_STEP_MS 5                     //  between reap attempts in destroy
#define CHECK_SHELL "/bin/sh"

typedef enum {
    DRAIN_EOF,                     //  the pipe is at end of file (and now closed)
    DRAIN_AGAIN,                   //  nothing more to read for now
    DRAIN_BUDGET                   //  stopped after CHECK_DRAIN_PER_TURN bytes
} drain_t;

typedef struct {
    char *name;                    //  the check's name, owned copy
    char *command;                 //  the shell command, owned copy
    pid_t pid;                     //  the shell's pid, also its process group id
    int pipe_fd;                   //  read end of its stdout+stderr pipe, -1 once closed
    int64_t started_at;            //  monotonic ms at spawn
    int64_t deadline;              //  monotonic ms when it is killed
    int64_t ended_at;              //  monotonic ms when it was reaped
    int status;                    //  waitpid status, valid once reaped
    bool reaped;                   //  waitpid has collected the shell
    bool timed_out;                //  we killed its group at the deadline
    char *output;                  //  CHECK_OUTPUT_MAX + 1 bytes, NUL-terminated
    size_t output_size;            //  bytes kept in output
    bool output_truncated;         //  bytes were discarded past CHECK_OUTPUT_MAX
} run_t;

struct _check_runner_t {
    run_t **slots;                 //  max_running slots, NULL when free
    size_t max_running;            //  number of slots
    size_t running;                //  slots in use
    check_done_fn *done;           //  called once per finished run
    void *arg;                     //  passed to done
};

//  --- helpers on one run ---------------------------------------------------------

static void
s_close_pipe (run_t *run)
{
    if (run->pipe_fd < 0)
        return;
    if (close (run->pipe_fd) && errno != EINTR)
        log_warn ("check %s: close of its pipe failed: %s", run->name, strerror (errno));
    run->pipe_fd = -1;          //  on Linux the fd is gone even after EINTR
}

//  SIGKILLs the run's whole process group.
static void
s_kill_group (run_t *run)
{
    child_kill_group (run->pid);
}

static void
s_run_destroy (run_t **run_p)
{
    run_t *run = *run_p;
    if (!run)
        return;
    s_close_pipe (run);
    mem_free (run->name);
    mem_free (run->command);
    mem_free (run->output);
    mem_free (run);
    *run_p = NULL;
}

//  Collects the shell if it exited. Returns true when it is reaped.
static bool
s_reap (run_t *run, int64_t now_ms)
{
    if (run->reaped)
        return true;
    int status = 0;
    pid_t rc;
    do
        rc = waitpid (run->pid, &status, WNOHANG);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return false;
    if (rc < 0) {
        //  ECHILD: someone else reaped it; we cannot know how it ended, so it
        //  is reported as exit 3, Nagios's "unknown".
        log_warn ("check %s: waitpid(%d) failed: %s; reporting it as unknown",
                  run->name, (int) run->pid, strerror (errno));
        status = 3 << 8;
    }
    run->status = status;
    run->reaped = true;
    run->ended_at = now_ms;
    return true;
}

//  Keeps what fits in output and counts the rest as truncated.
static void
s_keep_output (run_t *run, const char *bytes, size_t size)
{
    size_t room = CHECK_OUTPUT_MAX - run->output_size;
    size_t kept = size < room ? size : room;
    memcpy (run->output + run->output_size, bytes, kept);
    run->output_size += kept;
    run->output [run->output_size] = 0;
    if (kept < size)
        run->output_truncated = true;
}

//  Reads what the pipe holds now, up to CHECK_DRAIN_PER_TURN bytes.
static drain_t
s_drain (run_t *run)
{
    char buffer [16 * 1024];
    size_t drained = 0;
    while (run->pipe_fd >= 0 && drained < CHECK_DRAIN_PER_TURN) {
        ssize_t got = read (run->pipe_fd, buffer, sizeof buffer);
        if (got > 0) {
            s_keep_output (run, buffer, (size_t) got);
            drained += (size_t) got;
        }
        else
        if (got == 0) {
            s_close_pipe (run);
            return DRAIN_EOF;
        }
        else
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return DRAIN_AGAIN;
        else
        if (errno != EINTR) {
            log_warn ("check %s: read from its pipe failed: %s", run->name, strerror (errno));
            s_close_pipe (run);
            return DRAIN_EOF;
        }
    }
    return run->pipe_fd < 0 ? DRAIN_EOF : DRAIN_BUDGET;
}

static void
s_fill_result (const run_t *run, check_result_t *result)
{
    memset (result, 0, sizeof *result);
    result->name = run->name;
    result->duration_ms = run->ended_at > run->started_at ? run->ended_at - run->started_at : 0;
    result->output = run->output;
    result->output_size = run->output_size;
    result->output_truncated = run->output_truncated;
    if (run->timed_out)
        result->outcome = CHECK_TIMED_OUT;
    else
    if (WIFSIGNALED (run->status)) {
        result->outcome = CHECK_SIGNALLED;
        result->signal = WTERMSIG (run->status);
    }
    else {
        result->outcome = CHECK_EXITED;
        result->exit_code = WIFEXITED (run->status) ? WEXITSTATUS (run->status) : 3;
    }
}

//  --- spawning ---------------------------------------------------------------------

//  Spawns the shell for run: stdin from /dev/null, stdout and stderr onto
//  the pipe. Returns 0, or an errno value.
static int
s_spawn (run_t *run, int write_fd)
{
    char *argv [] = { "sh", "-c", run->command, NULL };
    child_spec_t spec = { .file = CHECK_SHELL, .argv = argv, .stdin_fd = -1,
                          .stdout_fd = write_fd, .stderr_fd = write_fd,
                          .close_fds = { run->pipe_fd, write_fd } };
    return child_start (&spec, &run->pid);
}

//  Reports a run that never started and returns -1.
static int
s_not_run (check_runner_t *self, const char *name, const char *what, int error)
{
    char reason [256];
    snprintf (reason, sizeof reason, "cannot run %s: %s%s", CHECK_SHELL, what, strerror (error));
    log_warn ("check %s: %s", name, reason);
    check_result_t result = {
        .name = name, .outcome = CHECK_NOT_RUN,
        .output = reason, .output_size = strlen (reason)
    };
    self->done (&result, self->arg);
    return -1;
}

//  --- the runner -------------------------------------------------------------------

check_runner_t *
check_runner_new (int max_running, check_done_fn *done, void *arg)
{
    assert (done);
    if (max_running < 1) {
        log_warn ("check runner: max_running must be at least 1, not %d", max_running);
        return NULL;
    }
    check_runner_t *self = mem_alloc (sizeof *self);
    self->max_running = (size_t) max_running;
    self->slots = mem_alloc (self->max_running * sizeof *self->slots);
    self->done = done;
    self->arg = arg;
    return self;
}

//  Waits up to CHECK_DESTROY_WAIT_MS for every killed shell to be reaped.
static void
s_reap_all (check_runner_t *self)
{
    int64_t give_up = zclock_mono () + CHECK_DESTROY_WAIT_MS;
    while (true) {
        bool waiting = false;
        for (size_t index = 0; index < self->max_running; index++) {
            run_t *run = self->slots [index];
            if (run && !s_reap (run, zclock_mono ()))
                waiting = true;
        }
        if (!waiting || zclock_mono () >= give_up)
            break;
        struct timespec step = { 0, CHECK_DESTROY_STEP_MS * 1000000L };
        nanosleep (&step, NULL);    //  EINTR only shortens a step
    }
}

void
check_runner_destroy (check_runner_t **self_p)
{
    assert (self_p);
    check_runner_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; index < self->max_running; index++)
        if (self->slots [index]) {
            s_kill_group (self->slots [index]);
            s_close_pipe (self->slots [index]);
        }
    s_reap_all (self);
    for (size_t index = 0; index < self->max_running; index++) {
        run_t *run = self->slots [index];
        if (run && !run->reaped)
            log_warn ("check %s: pid %d did not die within %d ms of SIGKILL; left behind",
                      run->name, (int) run->pid, CHECK_DESTROY_WAIT_MS);
        s_run_destroy (&self->slots [index]);
    }
    mem_free (self->slots);
    mem_free (self);
    *self_p = NULL;
}

static run_t *
s_find (check_runner_t *self, const char *name)
{
    for (size_t index = 0; index < self->max_running; index++)
        if (self->slots [index] && strcmp (self->slots [index]->name, name) == 0)
            return self->slots [index];
    return NULL;
}

static run_t **
s_free_slot (check_runner_t *self)
{
    for (size_t index = 0; index < self->max_running; index++)
        if (!self->slots [index])
            return &self->slots [index];
    return NULL;
}

int
check_runner_start (check_runner_t *self, const char *name, const char *command,
                    int64_t timeout_ms)
{
    assert (self && name && command);
    run_t **slot = s_free_slot (self);
    if (!slot || s_find (self, name))
        return 1;
    int read_fd, write_fd;
    if (child_pipe (&read_fd, &write_fd, true, false))     //  the write end is its stdout
        return s_not_run (self, name, "cannot make a pipe: ", errno);

    run_t *run = mem_alloc (sizeof *run);
    run->name = mem_strdup (name);
    run->command = mem_strdup (command);
    run->pipe_fd = read_fd;
    run->output = mem_alloc (CHECK_OUTPUT_MAX + 1);
    int rc = s_spawn (run, write_fd);
    if (close (write_fd) && errno != EINTR)
        log_warn ("check %s: close of the pipe's write end failed: %s", name, strerror (errno));
    if (rc) {
        s_run_destroy (&run);
        return s_not_run (self, name, "", rc);
    }
    run->started_at = zclock_mono ();
    run->deadline = run->started_at + (timeout_ms > 0 ? timeout_ms : 0);
    *slot = run;
    self->running++;
    log_debug ("check %s: started pid %d, timeout %lld ms: %s", name, (int) run->pid,
               (long long) timeout_ms, command);
    return 0;
}

bool
check_runner_is_running (check_runner_t *self, const char *name)
{
    assert (self);
    return name && s_find (self, name) != NULL;
}

size_t
check_runner_running (check_runner_t *self)
{
    assert (self);
    return self->running;
}

size_t
check_runner_poll_items (check_runner_t *self, zmq_pollitem_t *items, size_t capacity)
{
    assert (self);
    size_t count = 0;
    for (size_t index = 0; index < self->max_running && count < capacity; index++) {
        run_t *run = self->slots [index];
        if (run && run->pipe_fd >= 0)
            items [count++] = (zmq_pollitem_t) { NULL, run->pipe_fd, ZMQ_POLLIN, 0 };
    }
    return count;
}

//  A run whose pipe is already closed gives poll nothing to wake on, so the
//  loop is asked back every CHECK_REAP_RETRY_MS to reap it (the agent also
//  wakes on SIGCHLD; this does not rely on it).
int64_t
check_runner_next_timeout (check_runner_t *self, int64_t now_ms)
{
    assert (self);
    int64_t earliest = -1;
    for (size_t index = 0; index < self->max_running; index++) {
        run_t *run = self->slots [index];
        if (!run)
            continue;
        int64_t wait = run->deadline > now_ms ? run->deadline - now_ms : 0;
        if (run->timed_out || run->pipe_fd < 0)
            wait = CHECK_REAP_RETRY_MS;
        if (earliest < 0 || wait < earliest)
            earliest = wait;
    }
    return earliest;
}

//  Steps 1–4 of the file comment for one run. Returns true when it is finished.
static bool
s_advance (run_t *run, int64_t now_ms)
{
    bool reaped = s_reap (run, now_ms);
    drain_t drained = run->pipe_fd >= 0 ? s_drain (run) : DRAIN_EOF;
    if (!reaped && !run->timed_out && now_ms >= run->deadline) {
        log_debug ("check %s: past its timeout; killing process group %d",
                   run->name, (int) run->pid);
        s_kill_group (run);
        run->timed_out = true;
        s_close_pipe (run);
    }
    if (reaped && drained != DRAIN_EOF) {
        log_debug ("check %s: exited but its pipe is still held; killing process group %d",
                   run->name, (int) run->pid);
        s_kill_group (run);
        s_close_pipe (run);
    }
    return reaped && run->pipe_fd < 0;
}

void
check_runner_work (check_runner_t *self, int64_t now_ms)
{
    assert (self);
    for (size_t index = 0; index < self->max_running; index++) {
        run_t *run = self->slots [index];
        if (!run || !s_advance (run, now_ms))
            continue;
        self->slots [index] = NULL;     //  free before the callback: it may start checks
        self->running--;
        check_result_t result;
        s_fill_result (run, &result);
        self->done (&result, self->arg);
        s_run_destroy (&run);
    }
}
