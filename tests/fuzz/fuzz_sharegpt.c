/* fuzz_sharegpt.c -- the sharegpt converter on arbitrary bytes (fuzz_convert.h). */
#include "fuzz_convert.h"

static int fz_sharegpt(const uint8_t *d, size_t n) { return fz_convert(TR_CONV_SHAREGPT, d, n); }

FUZZ_ENTRY(fz_sharegpt)
