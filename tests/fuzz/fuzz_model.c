/* fuzz_model.c -- the model-file reader (fl_load_json) on arbitrary bytes.
 * A model that loads is valid (fl_validate) and its FLOP and byte counts
 * can be taken. */
#include "fuzz.h"
#include "flops/fl.h"

static int fz_model(const uint8_t *d, size_t n) {
    const char *p = fz_file(0, d, n);
    fl_model m;
    char err[600];
    if (fl_load_json(p, &m, err, sizeof err) != 0) {
        FZ_CHECK(strncmp(err, p, strlen(p)) == 0 && err[strlen(p)] == ':');
        return 0;
    }
    FZ_CHECK(fl_validate(&m, err, sizeof err) == 0);
    FZ_CHECK((int)strlen(m.pattern) == m.n_attn + m.n_ssm + m.n_mlp);
    fl_flops f = fl_prefix_flops(&m, 4096);
    FZ_CHECK(fl_total(f) >= 0);
    FZ_CHECK(fl_kv_bytes_per_token(&m) >= 0 && fl_ssm_state_bytes(&m) >= 0);
    FZ_CHECK(fl_real_ssm_layer_bytes(&m) >= 0 && fl_real_kv_layer_bytes_per_token(&m) > 0);
    (void)fl_efficiency(&m, 1000);
    return 0;
}

FUZZ_ENTRY(fz_model)
