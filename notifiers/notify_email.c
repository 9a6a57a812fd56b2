/*  notify_email.c — lilac-notify-email: the shared notifier loop with the
    e-mail destination plugged in. Everything is in notifier.c, email.c
    and mail_message.c.
*/
#include "email.h"

int
main (int argc, char *argv [])
{
    return notifier_main (argc, argv, &email_destination);
}
