/*  error_text.c — writes a failure's reason for the caller. See error_text.h. */
#include <stdarg.h>
#include <stdio.h>
#include "error_text.h"

int
error_text (char *error, size_t error_size, int rc, const char *format, ...)
{
    if (error && error_size > 0) {
        va_list args;
        va_start (args, format);
        vsnprintf (error, error_size, format, args);
        va_end (args);
    }
    return rc;
}
