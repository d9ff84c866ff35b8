/* fuzz_lmsys.c -- the lmsys converter on arbitrary bytes (fuzz_convert.h). */
#include "fuzz_convert.h"

static int fz_lmsys(const uint8_t *d, size_t n) { return fz_convert(TR_CONV_LMSYS, d, n); }

FUZZ_ENTRY(fz_lmsys)
