/*  signals.c — signalfd set-up and directory creation for the daemons.
    See signals.h.
*/
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include "error_text.h"
#include "signals.h"

int
signals_open_fd (const int *signals, int count)
{
    sigset_t set;
    sigemptyset (&set);
    for (int index = 0; index < count; index++)
        sigaddset (&set, signals [index]);
    if (sigprocmask (SIG_BLOCK, &set, NULL))
        return -1;
    return signalfd (-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

zactor_t *
signals_quiet_actor (zactor_fn *task, void *args)
{
    sigset_t every, previous;
    sigfillset (&every);
    if (pthread_sigmask (SIG_BLOCK, &every, &previous))
        return NULL;
    zactor_t *actor = zactor_new (task, args);
    pthread_sigmask (SIG_SETMASK, &previous, NULL);
    return actor;
}

int
paths_make_dirs (const char *path, char *error, size_t error_size)
{
    char partial [512];
    if (snprintf (partial, sizeof partial, "%s", path) >= (int) sizeof partial)
        return error_text (error, error_size, -1, "cannot create %s: path too long", path);
    for (char *slash = strchr (partial + 1, '/'); ; slash = strchr (slash + 1, '/')) {
        if (slash)
            *slash = 0;
        if (*partial && mkdir (partial, 0755) && errno != EEXIST)
            return error_text (error, error_size, -1, "cannot create %s: %s",
                               partial, strerror (errno));
        if (!slash)
            return 0;
        *slash = '/';
    }
}

int
signals_on_stop (void (*handler) (int signal_number))
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = handler;
    sigemptyset (&action.sa_mask);
    if (sigaction (SIGINT, &action, NULL) || sigaction (SIGTERM, &action, NULL))
        return -1;
    return 0;
}
