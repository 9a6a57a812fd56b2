/*  signals.h — signals as file descriptors, for daemons with one poll loop.

    A daemon blocks the signals it cares about and reads them from a
    signalfd that its loop polls with everything else: no handlers, no
    flags, no race between a flag and a sleep. Children must not inherit the
    blocked mask: whoever spawns resets it (see agent/check_runner.c).
*/
#ifndef LILAC_SIGNALS_H
#define LILAC_SIGNALS_H

#include <czmq.h>
#include <stddef.h>

//  Blocks the count signals listed and returns a non-blocking, close-on-exec
//  signalfd that reports them, or -1 (errno set).
int signals_open_fd (const int *signals, int count);

//  Starts a czmq actor (zactor_new) whose thread never takes a signal: it
//  is created with every signal blocked, which it inherits, and the
//  caller's mask is put back after. A signal meant for the daemon's
//  signalfd that reached such a thread would take its default action
//  there and end the process. NULL if the actor did not start.
zactor_t *signals_quiet_actor (zactor_fn *task, void *args);

//  SIGINT and SIGTERM call handler (which should only set a flag) whenever
//  they are not blocked, without SA_RESTART, so a wait in progress returns
//  EINTR: for programs that block in a call (a control call with a
//  deadline) and must still stop at once. 0, or -1 (errno set).
int signals_on_stop (void (*handler) (int signal_number));

//  Makes the directory path and any missing parents (mode 0755 for new
//  ones). 0, or -1 with "cannot create DIR: why" in error.
int paths_make_dirs (const char *path, char *error, size_t error_size);

#endif
