/*  pushover.h — the Pushover destination of lilac-notify-pushover.

    Delivers each rule action as one message through Pushover's Messages
    API (POST API/messages.json) with libcurl, and follows the receipts of
    emergency-priority messages (see pushover.c for the whole contract).
*/
#ifndef LILAC_PUSHOVER_H
#define LILAC_PUSHOVER_H

#include "notifier.h"

extern const destination_class_t pushover_destination;

#endif
