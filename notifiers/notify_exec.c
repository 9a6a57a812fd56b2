/*  notify_exec.c — bin/lilac-notify-exec: the notifier with the exec
    destination (notifiers/exec.c). Everything else is notifier_main.
*/
#include "exec.h"

int
main (int argc, char *argv [])
{
    return notifier_main (argc, argv, &exec_destination);
}
