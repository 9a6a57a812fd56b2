/*  error_text.h — the reason a call failed, handed back to its caller.

    Functions that can fail on outside input (a frame, a config file, an
    endpoint) take `char *error, size_t error_size` and write one sentence
    there, which the caller logs or prints as it sees fit. This is the one
    helper that writes it.
*/
#ifndef LILAC_ERROR_TEXT_H
#define LILAC_ERROR_TEXT_H

#include <stddef.h>

//  Formats the reason into error (if error is not NULL and error_size > 0)
//  and returns rc, so a failure path reads: return error_text (..., -1, "...").
int error_text (char *error, size_t error_size, int rc, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

#endif
