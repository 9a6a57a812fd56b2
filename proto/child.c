/*  child.c — posix_spawn with our process group, signal and fd rules.
    See child.h.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "child.h"

extern char **environ;

//  Moves fd above 0..2 (keeping CLOEXEC). Returns the fd, or -1.
static int
s_fd_above_stdio (int fd)
{
    if (fd > 2)
        return fd;
    int moved = fcntl (fd, F_DUPFD_CLOEXEC, 3);
    int saved = errno;
    close (fd);
    errno = saved;
    return moved;
}

static int
s_set_nonblocking (int fd)
{
    int flags = fcntl (fd, F_GETFL);
    return flags < 0 ? -1 : fcntl (fd, F_SETFL, flags | O_NONBLOCK);
}

int
child_pipe (int *read_fd, int *write_fd, bool read_nonblocking, bool write_nonblocking)
{
    int fds [2];
    if (pipe2 (fds, O_CLOEXEC))
        return -1;
    fds [0] = s_fd_above_stdio (fds [0]);
    fds [1] = s_fd_above_stdio (fds [1]);
    if (fds [0] < 0 || fds [1] < 0
    ||  (read_nonblocking && s_set_nonblocking (fds [0]))
    ||  (write_nonblocking && s_set_nonblocking (fds [1]))) {
        int saved = errno;
        if (fds [0] >= 0)
            close (fds [0]);
        if (fds [1] >= 0)
            close (fds [1]);
        errno = saved;
        return -1;
    }
    *read_fd = fds [0];
    *write_fd = fds [1];
    return 0;
}

//  Own process group, empty mask, default dispositions. An errno or 0.
static int
s_attributes (posix_spawnattr_t *attr)
{
    sigset_t empty, defaults;
    sigemptyset (&empty);
    sigemptyset (&defaults);
    int reset [] = { SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE,
                     SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM };
    for (size_t index = 0; index < sizeof reset / sizeof reset [0]; index++)
        sigaddset (&defaults, reset [index]);
    int rc = posix_spawnattr_setflags (attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                             | POSIX_SPAWN_SETSIGDEF);
    if (!rc)
        rc = posix_spawnattr_setpgroup (attr, 0);
    if (!rc)
        rc = posix_spawnattr_setsigmask (attr, &empty);
    if (!rc)
        rc = posix_spawnattr_setsigdefault (attr, &defaults);
    return rc;
}

//  Makes target (0, 1 or 2) a copy of fd, or /dev/null for -1.
static int
s_stdio (posix_spawn_file_actions_t *actions, int fd, int target)
{
    if (fd < 0)
        return posix_spawn_file_actions_addopen (actions, target, "/dev/null",
                                                 target ? O_WRONLY : O_RDONLY, 0);
    return posix_spawn_file_actions_adddup2 (actions, fd, target);
}

static int
s_file_actions (posix_spawn_file_actions_t *actions, const child_spec_t *spawn)
{
    int rc = s_stdio (actions, spawn->stdin_fd, STDIN_FILENO);
    if (!rc)
        rc = s_stdio (actions, spawn->stdout_fd, STDOUT_FILENO);
    if (!rc)
        rc = s_stdio (actions, spawn->stderr_fd, STDERR_FILENO);
    for (int index = 0; index < 2 && !rc; index++)
        if (spawn->close_fds [index] > 2)
            rc = posix_spawn_file_actions_addclose (actions, spawn->close_fds [index]);
    return rc;
}

int
child_start (const child_spec_t *spawn, pid_t *pid)
{
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    int rc = posix_spawnattr_init (&attr);
    if (rc)
        return rc;
    rc = posix_spawn_file_actions_init (&actions);
    if (rc) {
        posix_spawnattr_destroy (&attr);
        return rc;
    }
    rc = s_attributes (&attr);
    if (!rc)
        rc = s_file_actions (&actions, spawn);
    char *const *envp = spawn->envp ? spawn->envp : environ;
    if (!rc)
        rc = spawn->search_path
           ? posix_spawnp (pid, spawn->file, &actions, &attr, spawn->argv, envp)
           : posix_spawn (pid, spawn->file, &actions, &attr, spawn->argv, envp);
    posix_spawn_file_actions_destroy (&actions);
    posix_spawnattr_destroy (&attr);
    return rc;
}

void
child_kill_group (pid_t pid)
{
    if (pid > 1 && kill (-pid, SIGKILL) && errno != ESRCH)
        log_warn ("kill of process group %d failed: %s", (int) pid, strerror (errno));
}
