/*  email.h — the destination of bin/lilac-notify-email. */
#ifndef LILAC_EMAIL_H
#define LILAC_EMAIL_H

#include "notifier.h"

extern const destination_class_t email_destination;

#endif
