/* fuzz_agent.c -- the agent converter on arbitrary bytes (fuzz_convert.h). */
#include "fuzz_convert.h"

static int fz_agent(const uint8_t *d, size_t n) { return fz_convert(TR_CONV_AGENT, d, n); }

FUZZ_ENTRY(fz_agent)
