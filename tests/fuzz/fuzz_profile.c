/* fuzz_profile.c -- the profile CSV reader (ttft_load "profile:FILE") on
 * arbitrary bytes.  A profile that loads has rows sorted by cached tokens,
 * points by strictly increasing new tokens with non-decreasing ms, and
 * gives finite latencies >= 0 anywhere. */
#include <math.h>

#include "fuzz.h"
#include "sim/ttft.h"

static int fz_profile(const uint8_t *d, size_t n) {
    const char *p = fz_file(0, d, n);
    char spec[600], err[600];
    snprintf(spec, sizeof spec, "profile:%s", p);
    ttft_model m;
    if (ttft_load(spec, &m, err, sizeof err) != 0) {
        FZ_CHECK(strncmp(err, p, strlen(p)) == 0 && err[strlen(p)] == ':');
        return 0;
    }
    FZ_CHECK(m.kind == TTFT_PROFILE && m.nrows > 0);
    for (size_t i = 0; i < m.nrows; i++) {
        FZ_CHECK(m.rows[i].n > 0);
        if (i) FZ_CHECK(m.rows[i].cached > m.rows[i - 1].cached);
        for (size_t k = 1; k < m.rows[i].n; k++)
            FZ_CHECK(m.rows[i].x[k] > m.rows[i].x[k - 1] && m.rows[i].ms[k] >= m.rows[i].ms[k - 1]);
    }
    fl_model model;
    fl_preset("tiny", &model);
    static const uint64_t at[] = {0, 1, 7, 1000, 1u << 20};
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++) {
            double s = ttft_seconds(&m, &model, at[a], at[b]);
            FZ_CHECK(isfinite(s) && s >= 0);
        }
    ttft_free(&m);
    return 0;
}

FUZZ_ENTRY(fz_profile)
