/*  webhook.h — the destination of bin/lilac-notify-webhook. */
#ifndef LILAC_WEBHOOK_H
#define LILAC_WEBHOOK_H

#include "notifier.h"

extern const destination_class_t webhook_destination;

#endif
