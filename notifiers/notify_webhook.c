/*  notify_webhook.c — lilac-notify-webhook: the shared notifier loop with
    the webhook destination plugged in. Everything is in notifier.c,
    webhook.c and webhook_format.c.
*/
#include "webhook.h"

int
main (int argc, char *argv [])
{
    return notifier_main (argc, argv, &webhook_destination);
}
