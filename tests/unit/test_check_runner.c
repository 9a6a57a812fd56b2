/*  test_check_runner.c — the check runner against real shells: exit codes
    and output, truncation, timeouts that kill a whole process group,
    refusals, signals, no zombies, and children that do not inherit the
    agent's blocked signals.

    Every case drives the runner the way the agent does (zmq_poll on its
    pipes, then check_runner_work) until the callback has fired or a
    deadline passes — never a bare sleep.
*/
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../check.h"
#include "../../agent/check_runner.h"

#define DEADLINE_MS 5000
#define MAX_SEEN    8

typedef struct {
    char name [64];                //  copied from the result
    check_outcome_t outcome;
    int exit_code;
    int signal;
    int64_t duration_ms;
    char output [CHECK_OUTPUT_MAX + 1];
    size_t output_size;
    bool output_truncated;
} seen_result_t;

typedef struct {
    int calls;                     //  callbacks so far
    seen_result_t results [MAX_SEEN];
} seen_t;

static seen_t seen;

static void
s_done (const check_result_t *result, void *arg)
{
    seen_t *into = arg;
    if (into->calls < MAX_SEEN) {
        seen_result_t *copy = &into->results [into->calls];
        snprintf (copy->name, sizeof copy->name, "%s", result->name);
        copy->outcome = result->outcome;
        copy->exit_code = result->exit_code;
        copy->signal = result->signal;
        copy->duration_ms = result->duration_ms;
        memcpy (copy->output, result->output, result->output_size);
        copy->output [result->output_size] = 0;
        copy->output_size = result->output_size;
        copy->output_truncated = result->output_truncated;
    }
    into->calls++;
}

//  Drives the runner until `calls` callbacks have fired or the deadline.
static bool
s_run_until (check_runner_t *runner, int calls, int64_t deadline_ms)
{
    int64_t give_up = zclock_mono () + deadline_ms;
    while (seen.calls < calls && zclock_mono () < give_up) {
        zmq_pollitem_t items [8];
        size_t count = check_runner_poll_items (runner, items, 8);
        int64_t wait = check_runner_next_timeout (runner, zclock_mono ());
        if (wait < 0 || wait > 50)
            wait = 50;
        if (zmq_poll (items, (int) count, (long) wait) < 0 && zmq_errno () != EINTR)
            return false;
        check_runner_work (runner, zclock_mono ());
    }
    return seen.calls >= calls;
}

static check_runner_t *
s_runner (int max_running)
{
    memset (&seen, 0, sizeof seen);
    return check_runner_new (max_running, s_done, &seen);
}

//  True when no child of ours is left unreaped.
static bool
s_no_zombies (void)
{
    return waitpid (-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

//  True when pid is gone or a zombie (a killed orphan is init's to reap,
//  and this container's init may never do it).
static bool
s_process_gone (pid_t pid)
{
    if (kill (pid, 0) && errno == ESRCH)
        return true;
    char path [64], state = 0;
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return true;
    //  "pid (comm) S ..." — the state follows the last ')'
    char line [512];
    if (fgets (line, sizeof line, file)) {
        char *paren = strrchr (line, ')');
        if (paren && paren [1] == ' ')
            state = paren [2];
    }
    fclose (file);
    return state == 'Z' || state == 'X';
}

static void
s_test_exit_codes (void)
{
    TEST ("exit 0..3 give CHECK_EXITED with the code and the output");
    for (int code = 0; code <= 3; code++) {
        check_runner_t *runner = s_runner (4);
        char command [128];
        snprintf (command, sizeof command, "echo 'OK - fine'; printf line2 >&2; exit %d", code);
        CHECK (check_runner_start (runner, "disk", command, 5000) == 0, "start");
        CHECK (check_runner_is_running (runner, "disk"), "running");
        CHECK (check_runner_running (runner) == 1, "one running");
        CHECK (s_run_until (runner, 1, DEADLINE_MS), "no result for exit %d", code);
        CHECK (seen.calls == 1, "calls %d", seen.calls);
        seen_result_t *result = &seen.results [0];
        CHECK (strcmp (result->name, "disk") == 0, "name %s", result->name);
        CHECK (result->outcome == CHECK_EXITED, "outcome %d", (int) result->outcome);
        CHECK (result->exit_code == code, "exit %d, want %d", result->exit_code, code);
        CHECK (strcmp (result->output, "OK - fine\nline2") == 0, "output '%s'", result->output);
        CHECK (result->output_size == strlen ("OK - fine\nline2"), "size %zu", result->output_size);
        CHECK (!result->output_truncated, "not truncated");
        CHECK (!check_runner_is_running (runner, "disk"), "no longer running");
        CHECK (check_runner_running (runner) == 0, "none running");
        CHECK (check_runner_next_timeout (runner, zclock_mono ()) == -1, "no timeout");
        check_runner_destroy (&runner);
        CHECK (runner == NULL, "destroy clears");
        CHECK (s_no_zombies (), "a zombie is left");
    }
}

static void
s_test_truncation (void)
{
    TEST ("200 KiB of output is truncated at CHECK_OUTPUT_MAX and the check finishes");
    check_runner_t *runner = s_runner (1);
    CHECK (check_runner_start (runner, "chatty",
                               "head -c 204800 /dev/zero | tr '\\0' x; exit 2", 5000) == 0,
           "start");
    CHECK (s_run_until (runner, 1, DEADLINE_MS), "no result");
    seen_result_t *result = &seen.results [0];
    CHECK (result->outcome == CHECK_EXITED && result->exit_code == 2,
           "outcome %d exit %d", (int) result->outcome, result->exit_code);
    CHECK (result->output_size == CHECK_OUTPUT_MAX, "size %zu", result->output_size);
    CHECK (result->output_truncated, "truncated");
    CHECK (strspn (result->output, "x") == CHECK_OUTPUT_MAX, "content");
    check_runner_destroy (&runner);
    CHECK (s_no_zombies (), "a zombie is left");
}

static void
s_test_timeout (void)
{
    TEST ("sleep 30 with a 300 ms timeout is CHECK_TIMED_OUT within about a second");
    check_runner_t *runner = s_runner (1);
    int64_t started = zclock_mono ();
    CHECK (check_runner_start (runner, "slow", "echo before; sleep 30", 300) == 0, "start");
    int64_t wait = check_runner_next_timeout (runner, zclock_mono ());
    CHECK (wait > 0 && wait <= 300, "next timeout %lld", (long long) wait);
    CHECK (s_run_until (runner, 1, DEADLINE_MS), "no result");
    int64_t took = zclock_mono () - started;
    seen_result_t *result = &seen.results [0];
    CHECK (result->outcome == CHECK_TIMED_OUT, "outcome %d", (int) result->outcome);
    CHECK (took >= 300 && took < 1000, "took %lld ms", (long long) took);
    CHECK (result->duration_ms >= 300, "duration %lld", (long long) result->duration_ms);
    CHECK (strcmp (result->output, "before\n") == 0, "output '%s'", result->output);
    check_runner_destroy (&runner);
    CHECK (s_no_zombies (), "a zombie is left");
}

static pid_t
s_read_pid (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    int pid = -1;
    if (fscanf (file, "%d", &pid) != 1)
        pid = -1;
    fclose (file);
    return (pid_t) pid;
}

static void
s_test_grandchild_killed (void)
{
    TEST ("a timed-out check's grandchild dies with its group");
    char pid_file [] = "/tmp/test_check_runner.XXXXXX";
    int fd = mkstemp (pid_file);
    if (!CHECK (fd >= 0, "mkstemp: %s", strerror (errno)))
        return;
    close (fd);
    check_runner_t *runner = s_runner (1);
    char command [256];
    snprintf (command, sizeof command, "sleep 60 & echo $! > %s; wait", pid_file);
    CHECK (check_runner_start (runner, "family", command, 500) == 0, "start");
    CHECK (s_run_until (runner, 1, DEADLINE_MS), "no result");
    CHECK (seen.results [0].outcome == CHECK_TIMED_OUT, "outcome %d",
           (int) seen.results [0].outcome);
    pid_t grandchild = s_read_pid (pid_file);
    CHECK (grandchild > 1, "no pid in %s", pid_file);
    bool gone = false;
    for (int64_t give_up = zclock_mono () + 2000; grandchild > 1 && !gone;) {
        gone = s_process_gone (grandchild);
        if (gone || zclock_mono () >= give_up)
            break;
        zmq_poll (NULL, 0, 20);         //  a short wait between looks
    }
    CHECK (gone, "grandchild %d is still alive", (int) grandchild);
    check_runner_destroy (&runner);
    CHECK (s_no_zombies (), "a zombie is left");
    unlink (pid_file);
}

static void
s_test_leftover_holds_pipe (void)
{
    TEST ("a check that exits leaving a child on its pipe is reported at once");
    char pid_file [] = "/tmp/test_check_runner.XXXXXX";
    int fd = mkstemp (pid_file);
    if (!CHECK (fd >= 0, "mkstemp: %s", strerror (errno)))
        return;
    close (fd);
    check_runner_t *runner = s_runner (1);
    char command [256];
    snprintf (command, sizeof command, "sleep 100 & echo $! > %s; echo done; exit 1", pid_file);
    int64_t started = zclock_mono ();
    CHECK (check_runner_start (runner, "leaver", command, 10000) == 0, "start");
    CHECK (s_run_until (runner, 1, DEADLINE_MS), "no result");
    CHECK (zclock_mono () - started < 2000, "took %lld ms",
           (long long) (zclock_mono () - started));
    seen_result_t *result = &seen.results [0];
    CHECK (result->outcome == CHECK_EXITED && result->exit_code == 1,
           "outcome %d exit %d", (int) result->outcome, result->exit_code);
    CHECK (strcmp (result->output, "done\n") == 0, "output '%s'", result->output);
    pid_t leftover = s_read_pid (pid_file);
    bool gone = false;
    for (int64_t give_up = zclock_mono () + 2000; leftover > 1 && !gone;) {
        gone = s_process_gone (leftover);
        if (gone || zclock_mono () >= give_up)
            break;
        zmq_poll (NULL, 0, 20);
    }
    CHECK (gone, "leftover %d is still alive", (int) leftover);
    check_runner_destroy (&runner);
    CHECK (s_no_zombies (), "a zombie is left");
    unlink (pid_file);
}

static void
s_test_closes_output_first (void)
{
    TEST ("a check that closes its output before exiting is still reaped and reported");
    check_runner_t *runner = s_runner (1);
    CHECK (check_runner_start (runner, "quiet", "echo said; exec >&- 2>&-; sleep 0.2; exit 4",
                               5000) == 0, "start");
    CHECK (s_run_until (runner, 1, DEADLINE_MS), "no result");
    seen_result_t *result = &seen.results [0];
    CHECK (result->outcome == CHECK_EXITED && result->exit_code == 4,
           "outcome %d exit %d", (int) result->outcome, result->exit_code);
    CHECK (strcmp (result->output, "said\n") == 0, "output '%s'", result->output);
    CHECK (result->duration_ms >= 200 && result->duration_ms < 1000, "duration %lld",
           (long long) result->duration_ms);
    check_runner_destroy (&runner);
    CHECK (s_no_zombies (), "a zombie is left");
}

#define FD_SCAN 1024

//  Marks the fds this process holds without CLOEXEC: those it inherited from
//  whoever started the test, which any child inherits too.
static void
s_inherited_fds (bool *inherited)
{
    for (int fd = 0; fd < FD_SCAN; fd++) {
        int flags = fcntl (fd, F_GETFD);
        inherited [fd] = flags >= 0 && !(flags & FD_CLOEXEC);
    }
}

//  True when the check's fds (listed by number) are 0..2 plus only fds
//  inherited before the runner existed: none of the runner's reached it.
static bool
s_only_inherited_fds (const char *listing, const bool *inherited)
{
    bool seen_stdio [3] = { false, false, false };
    const char *cursor = listing;
    while (*cursor) {
        char *end;
        long fd = strtol (cursor, &end, 10);
        if (end == cursor || fd < 0 || fd >= FD_SCAN)
            return false;
        cursor = *end ? end + 1 : end;
        if (fd <= 2)
            seen_stdio [fd] = true;
        else
        if (!inherited [fd]) {
            printf ("#   fd %ld reached the check\n", fd);
            return false;
        }
    }
    return seen_stdio [0] && seen_stdio [1] && seen_stdio [2];
}

static void
s_test_no_leaked_fds (void)
{
    TEST ("a check gets stdin from /dev/null and none of the runner's fds");
    static bool inherited [FD_SCAN];
    s_inherited_fds (inherited);
    //  No pipeline in the command: the shell would hold its pipe while
    //  forking, and ls would list it.
    check_runner_t *runner = s_runner (2);
    CHECK (check_runner_start (runner, "other", "sleep 30", 5000) == 0, "start other");
    CHECK (check_runner_start (runner, "fds", "cat; ls /proc/$$/fd", 5000) == 0,
           "start");
    CHECK (s_run_until (runner, 1, DEADLINE_MS), "no result");
    CHECK (strcmp (seen.results [0].name, "fds") == 0, "name %s", seen.results [0].name);
    CHECK (s_only_inherited_fds (seen.results [0].output, inherited), "fds '%s'",
           seen.results [0].output);
    check_runner_destroy (&runner);
    CHECK (s_no_zombies (), "a zombie is left");
}

static void
s_test_refusals (void)
{
    TEST ("the same name twice is refused, and so is more than max_running");
    check_runner_t *runner = s_runner (2);
    CHECK (check_runner_start (runner, "a", "sleep 30", 10000) == 0, "start a");
    CHECK (check_runner_start (runner, "a", "sleep 30", 10000) == 1, "a twice");
    CHECK (check_runner_start (runner, "b", "sleep 30", 10000) == 0, "start b");
    CHECK (check_runner_start (runner, "c", "sleep 30", 10000) == 1, "third");
    CHECK (check_runner_running (runner) == 2, "running %zu", check_runner_running (runner));
    CHECK (!check_runner_is_running (runner, "c"), "c is not running");
    zmq_pollitem_t items [4];
    CHECK (check_runner_poll_items (runner, items, 4) == 2, "two poll items");
    CHECK (check_runner_poll_items (runner, items, 1) == 1, "capacity kept");
    check_runner_work (runner, zclock_mono ());
    CHECK (seen.calls == 0, "a refusal called back");
    int64_t before = zclock_mono ();
    check_runner_destroy (&runner);
    CHECK (zclock_mono () - before < 1500, "destroy took %lld ms",
           (long long) (zclock_mono () - before));
    CHECK (seen.calls == 0, "destroy reported");
    CHECK (s_no_zombies (), "a zombie is left");
}

static void
s_test_signalled (void)
{
    TEST ("a check killed by a signal is CHECK_SIGNALLED with that signal");
    check_runner_t *runner = s_runner (1);
    CHECK (check_runner_start (runner, "suicide", "kill -TERM $$", 5000) == 0, "start");
    CHECK (s_run_until (runner, 1, DEADLINE_MS), "no result");
    CHECK (seen.results [0].outcome == CHECK_SIGNALLED, "outcome %d",
           (int) seen.results [0].outcome);
    CHECK (seen.results [0].signal == SIGTERM, "signal %d", seen.results [0].signal);
    check_runner_destroy (&runner);
    CHECK (s_no_zombies (), "a zombie is left");
}

static void
s_test_blocked_signals (void)
{
    TEST ("a check does not inherit the agent's blocked or ignored signals");
    sigset_t block, old;
    sigemptyset (&block);
    sigaddset (&block, SIGTERM);
    sigaddset (&block, SIGCHLD);
    CHECK (sigprocmask (SIG_BLOCK, &block, &old) == 0, "sigprocmask");
    //  dash clears its mask at start, so ignoring SIGTERM too is what makes
    //  this case fail without POSIX_SPAWN_SETSIGDEF.
    signal (SIGTERM, SIG_IGN);
    signal (SIGPIPE, SIG_IGN);
    check_runner_t *runner = s_runner (1);
    int64_t started = zclock_mono ();
    CHECK (check_runner_start (runner, "blocked", "kill -TERM $$; sleep 5", 3000) == 0, "start");
    CHECK (s_run_until (runner, 1, DEADLINE_MS), "no result");
    CHECK (seen.results [0].outcome == CHECK_SIGNALLED, "outcome %d",
           (int) seen.results [0].outcome);
    CHECK (seen.results [0].signal == SIGTERM, "signal %d", seen.results [0].signal);
    CHECK (zclock_mono () - started < 1000, "took %lld ms",
           (long long) (zclock_mono () - started));
    check_runner_destroy (&runner);
    CHECK (s_no_zombies (), "a zombie is left");
    signal (SIGPIPE, SIG_DFL);
    signal (SIGTERM, SIG_DFL);
    sigprocmask (SIG_SETMASK, &old, NULL);
}

static void
s_test_not_run (void)
{
    TEST ("a check that cannot be spawned is CHECK_NOT_RUN with a reason");
    //  With no free fd, pipe2 fails.
    check_runner_t *runner = s_runner (1);
    struct rlimit limit, low = { 3, 3 };
    CHECK (getrlimit (RLIMIT_NOFILE, &limit) == 0, "getrlimit");
    low.rlim_max = limit.rlim_max;
    CHECK (setrlimit (RLIMIT_NOFILE, &low) == 0, "setrlimit");
    int rc = check_runner_start (runner, "nofd", "true", 1000);
    CHECK (setrlimit (RLIMIT_NOFILE, &limit) == 0, "setrlimit back");
    CHECK (rc == -1, "start returned %d", rc);
    CHECK (seen.calls == 1, "calls %d", seen.calls);
    CHECK (seen.results [0].outcome == CHECK_NOT_RUN, "outcome %d", (int) seen.results [0].outcome);
    CHECK (strncmp (seen.results [0].output, "cannot run /bin/sh: ", 20) == 0,
           "output '%s'", seen.results [0].output);
    CHECK (check_runner_running (runner) == 0, "nothing running");

    //  One argument over the kernel's 128 KiB limit: execve, so posix_spawn, fails (E2BIG).
    memset (&seen, 0, sizeof seen);
    size_t huge_size = 200 * 1024;
    char *huge = malloc (huge_size + 1);
    if (!CHECK (huge, "malloc"))
        return;
    memset (huge, ':', huge_size);
    huge [huge_size] = 0;
    rc = check_runner_start (runner, "huge", huge, 1000);
    free (huge);
    CHECK (rc == -1, "start returned %d", rc);
    CHECK (seen.calls == 1, "calls %d", seen.calls);
    CHECK (seen.results [0].outcome == CHECK_NOT_RUN, "outcome %d", (int) seen.results [0].outcome);
    CHECK (strncmp (seen.results [0].output, "cannot run /bin/sh: ", 20) == 0
           && !strstr (seen.results [0].output, "pipe"), "output '%s'", seen.results [0].output);
    CHECK (check_runner_running (runner) == 0, "nothing running");
    check_runner_destroy (&runner);
    CHECK (s_no_zombies (), "a zombie is left");
}

static void
s_test_destroy_null (void)
{
    TEST ("destroy of NULL is a no-op; max_running 0 is refused");
    check_runner_t *runner = NULL;
    check_runner_destroy (&runner);
    CHECK (check_runner_new (0, s_done, &seen) == NULL, "max_running 0 accepted");
}

int
main (void)
{
    s_test_exit_codes ();
    s_test_truncation ();
    s_test_timeout ();
    s_test_grandchild_killed ();
    s_test_leftover_holds_pipe ();
    s_test_closes_output_first ();
    s_test_no_leaked_fds ();
    s_test_refusals ();
    s_test_signalled ();
    s_test_blocked_signals ();
    s_test_not_run ();
    s_test_destroy_null ();
    return check_done ();
}
