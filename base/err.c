/* err.c -- see err.h. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>

int mu_err(int code, const char *fmt, ...) {
    va_list ap;
    fputs("marconi: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int mu_bad_opt(const char *opt, const char *val, const char *why) {
    return mu_err(MU_EXIT_USAGE, "--%s: '%s' %s", opt, val, why);
}
