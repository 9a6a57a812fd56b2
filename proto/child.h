/*  child.h — starting a command the way every lilac daemon must.

    Checks (the agent) and notification commands (lilac-notify-exec) run
    with posix_spawn in a process group of their own, so a timeout kills the
    command and everything it started; with an empty signal mask and default
    dispositions, because the daemons block signals for their signalfd and a
    child must not inherit that; and with nothing of ours open but the fds
    we hand it, because every fd the daemons hold is close-on-exec.
*/
#ifndef LILAC_CHILD_H
#define LILAC_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    const char *file;              //  the program
    bool search_path;              //  look file up in PATH (posix_spawnp)
    char *const *argv;             //  its arguments, NULL-terminated
    char *const *envp;             //  its environment, or NULL for ours
    int stdin_fd;                  //  becomes its stdin; -1 for /dev/null
    int stdout_fd;                 //  becomes its stdout; -1 for /dev/null
    int stderr_fd;                 //  becomes its stderr; -1 for /dev/null
    int close_fds [2];             //  our pipe ends, closed in the child; -1 unused
} child_spec_t;

//  Starts the command. Returns 0 with *pid, or an errno value.
int child_start (const child_spec_t *spec, pid_t *pid);

//  A pipe whose ends are close-on-exec and above 0..2 (so setting up a
//  child's stdio cannot clobber them); the ends asked for are non-blocking.
//  0, or -1 with errno.
int child_pipe (int *read_fd, int *write_fd, bool read_nonblocking, bool write_nonblocking);

//  SIGKILL to the whole process group pid leads. Never for pid ≤ 1:
//  kill(-1) would hit every process we may signal.
void child_kill_group (pid_t pid);

#endif
