/*  check_runner.h — runs check commands without ever blocking the agent.

    A check is a shell command (`/bin/sh -c COMMAND`, as Nagios runs them),
    started with posix_spawn in its own process group, stdin from /dev/null,
    stdout and stderr into one non-blocking pipe that the runner drains
    (keeping at most CHECK_OUTPUT_MAX bytes, discarding the rest so the child
    never blocks on a full pipe). The agent's loop polls the pipes the runner
    hands out (check_runner_poll_items) and calls check_runner_work() every
    turn: it reads output, kills the whole process group of a check past its
    timeout (SIGKILL to -pgid), reaps every exited child with waitpid
    (WNOHANG) so no zombie is left, and reports each finished run once
    through the callback. A run is finished when its child has been reaped
    AND its pipe is closed or it was killed (a grandchild that keeps the pipe
    open is killed with its group).

    The runner does not decide what a result means: check_result_t says how
    the run ended and carries its output; the agent turns that into an alert.
    It does not schedule either: the agent asks check_runner_start() when a
    check is due, and the runner refuses a name that is still running (no
    pile-up) or more than max_running at once.
*/
#ifndef LILAC_CHECK_RUNNER_H
#define LILAC_CHECK_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <zmq.h>

#define CHECK_OUTPUT_MAX (64 * 1024 + 1024)    //  bytes of output kept per run

typedef enum {
    CHECK_EXITED,                  //  exited; exit_code is set
    CHECK_SIGNALLED,               //  killed by a signal we did not send; signal is set
    CHECK_TIMED_OUT,               //  we killed it after its timeout
    CHECK_NOT_RUN                  //  could not be started; output says why
} check_outcome_t;

typedef struct {
    const char *name;              //  the check's name (borrowed for the callback)
    check_outcome_t outcome;       //  how it ended
    int exit_code;                 //  CHECK_EXITED: 0..255
    int signal;                    //  CHECK_SIGNALLED: the signal
    int64_t duration_ms;           //  from start to end
    const char *output;            //  stdout+stderr, NUL-terminated, at most CHECK_OUTPUT_MAX
    size_t output_size;            //  bytes in output
    bool output_truncated;         //  more was written than kept
} check_result_t;

//  Called once per finished run, from check_runner_work().
typedef void (check_done_fn) (const check_result_t *result, void *arg);

typedef struct _check_runner_t check_runner_t;

//  max_running: most checks running at once (≥ 1).
check_runner_t *check_runner_new (int max_running, check_done_fn *done, void *arg);
//  Kills every running check's process group, reaps them (waiting at most
//  about a second in total), reports nothing. NULL is a no-op.
void check_runner_destroy (check_runner_t **self_p);

//  Starts `/bin/sh -c command` for check `name` with a timeout.
//  Returns 0 when started; 1 when refused because `name` is still running
//  or max_running are running (try again later); -1 when it could not be
//  started at all — then the callback has already been called with
//  CHECK_NOT_RUN and the reason in output.
int check_runner_start (check_runner_t *self, const char *name, const char *command,
                        int64_t timeout_ms);
bool check_runner_is_running (check_runner_t *self, const char *name);
size_t check_runner_running (check_runner_t *self);

//  Fills up to capacity poll items (ZMQ_POLLIN on each running check's pipe
//  fd) and returns how many; the agent adds them to its zmq_poll.
size_t check_runner_poll_items (check_runner_t *self, zmq_pollitem_t *items, size_t capacity);
//  Milliseconds until the earliest running check's timeout (0 if past), or
//  -1 when nothing runs: the agent's poll must wake by then.
int64_t check_runner_next_timeout (check_runner_t *self, int64_t now_ms);
//  Reads pipes, enforces timeouts, reaps children, reports finished runs.
//  Call every loop turn (and on SIGCHLD). now_ms from a monotonic clock.
void check_runner_work (check_runner_t *self, int64_t now_ms);

#endif
