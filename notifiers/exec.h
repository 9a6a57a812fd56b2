/*  exec.h — the `exec` destination: runs a command per notification, with
    the change as one JSON object on stdin (purppura-compatible), for
    bin/lilac-notify-exec. See exec.c for the config keys and the contract.
*/
#ifndef LILAC_EXEC_H
#define LILAC_EXEC_H

#include "notifier.h"

extern const destination_class_t exec_destination;

#endif
