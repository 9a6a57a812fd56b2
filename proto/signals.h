/*  signals.h — signals as file descriptors, for daemons with one poll loop.

    A daemon blocks the signals it cares about and reads them from a
    signalfd that its loop polls with everything else: no handlers, no
    flags, no race between a flag and a sleep. Children must not inherit the
    blocked mask: whoever spawns resets it (see agent/check_runner.c).
*/
#ifndef LILAC_SIGNALS_H
#define LILAC_SIGNALS_H

#include <stddef.h>

//  Blocks the count signals listed and returns a non-blocking, close-on-exec
//  signalfd that reports them, or -1 (errno set).
int signals_open_fd (const int *signals, int count);

//  SIGINT and SIGTERM call handler (which should only set a flag) whenever
//  they are not blocked, without SA_RESTART, so a wait in progress returns
//  EINTR: for programs that block in a call (a control call with a
//  deadline) and must still stop at once. 0, or -1 (errno set).
int signals_on_stop (void (*handler) (int signal_number));

//  Makes the directory path and any missing parents (mode 0755 for new
//  ones). 0, or -1 with "cannot create DIR: why" in error.
int paths_make_dirs (const char *path, char *error, size_t error_size);

#endif
