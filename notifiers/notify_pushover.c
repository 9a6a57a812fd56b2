/*  notify_pushover.c — lilac-notify-pushover: the shared notifier loop with
    the Pushover destination plugged in. Everything is in notifier.c and
    pushover.c.
*/
#include "pushover.h"

int
main (int argc, char *argv [])
{
    return notifier_main (argc, argv, &pushover_destination);
}
