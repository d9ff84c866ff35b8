/* test_traces_fuzz.c -- the fuzz targets' seed corpus, replayed in
 * `make test`: every file of tests/fuzz/corpus/TARGET/ through its target
 * (tests/fuzz/fuzz_TARGET.c, built here without libFuzzer), so what the
 * fuzzing found stays fixed under the ordinary build and the sanitizer
 * build alike.  A target checks its own invariants and aborts on a broken
 * one; each must also have seeds. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FUZZ_NO_MAIN
#include "fuzz/fuzz_agent.c"
#include "fuzz/fuzz_jsonl.c"
#include "fuzz/fuzz_jsonl_gz.c"
#include "fuzz/fuzz_lmsys.c"
#include "fuzz/fuzz_model.c"
#include "fuzz/fuzz_mooncake.c"
#include "fuzz/fuzz_packed.c"
#include "fuzz/fuzz_profile.c"
#include "fuzz/fuzz_sharegpt.c"
#include "fuzz/fuzz_tokenizer.c"

typedef struct target {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} target;

/* Every file of the target's corpus through it; returns how many. */
static int replay(const target *t) {
    char dir[512];
    snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", t->name);
    DIR *d = opendir(dir);
    if (!d) fail_msg("%s: %s", dir, "no corpus (run the tests from the repository root)");
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        FILE *f = fopen(p, "rb");
        assert_non_null(f);
        size_t cap = 1 << 16, len = 0;
        uint8_t *buf = malloc(cap);
        for (size_t k; buf && (k = fread(buf + len, 1, cap - len, f)) > 0;) {
            len += k;
            if (len == cap) buf = realloc(buf, cap *= 2);
        }
        fclose(f);
        assert_non_null(buf);
        assert_int_equal(t->fn(buf, len), 0);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void test_corpus(void **state) {
    static const target targets[] = {
        {"jsonl", fz_jsonl},   {"jsonl_gz", fz_jsonl_gz}, {"packed", fz_packed},
        {"model", fz_model},   {"profile", fz_profile},   {"sharegpt", fz_sharegpt},
        {"lmsys", fz_lmsys},   {"agent", fz_agent},       {"tokenizer", fz_tokenizer},
        {"mooncake", fz_mooncake},
    };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        int n = replay(&targets[i]);
        if (n < 3) fail_msg("tests/fuzz/corpus/%s has %d seeds", targets[i].name, n);
        printf("[ corpus   ] %-10s %3d inputs, no invariant broken\n", targets[i].name, n);
    }
}

/* A packed trace out of arrival order (the writers never make one: the
 * fuzz target's mode 2 builds it around two records, corpus
 * packed/built_out_of_order) is refused as the JSONL reader refuses one. */
static void test_packed_order(void **state) {
    FILE *f = fopen("tests/fuzz/corpus/packed/built_out_of_order", "rb");
    assert_non_null(f);
    uint8_t in[512];
    size_t n = fread(in, 1, sizeof in, f);
    fclose(f);
    unsigned char out[4096];
    size_t len = build(out, sizeof out, in + 1, n - 1);
    const char *p = fz_file(0, out, len);
    tr_trace t;
    tr_err e;
    assert_int_equal(tr_pack_load(p, &t, &e), -1);
    char want[700];
    snprintf(want, sizeof want,
             "%s:0: request 1: \"ts\" 1.0 is earlier than request 0's 2.0: requests must be in arrival order (ts never "
             "decreasing)",
             p);
    assert_string_equal(e.msg, want);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_corpus), cmocka_unit_test(test_packed_order)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
