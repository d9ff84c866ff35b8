/* fuzz_jsonl.c -- the JSONL trace reader on arbitrary bytes (tr_load_jsonl).
 *
 * Beyond "no crash, no leak, no sanitizer report": each line must be read
 * alike by the fast parser and by jansson (tr_jsonl_line_selfcheck: the
 * fast path never accepts what jansson refuses, nor reads other values); a
 * loaded trace keeps its invariants, and written back as JSONL it loads
 * into the same requests. */
#include "fuzz_trace.h"

static int fz_jsonl(const uint8_t *d, size_t n) {
    for (size_t i = 0; i < n;) { /* each line, both parsers */
        const uint8_t *nl = memchr(d + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - d) : n;
        FZ_CHECK(tr_jsonl_line_selfcheck((const char *)d + i, e - i) >= 0);
        i = e + 1;
    }
    const char *p = fz_file(0, d, n);
    tr_trace t;
    tr_err e;
    if (tr_load_jsonl(p, &t, &e) != 0) {
        FZ_CHECK(t.req == NULL && t.n == 0);
        FZ_CHECK(strncmp(e.msg, p, strlen(p)) == 0 && e.msg[strlen(p)] == ':');
        return 0;
    }
    fz_check_trace(&t);
    if (t.total_in + t.total_out < 100000) { /* the round trip, when it is quick */
        const char *q = fz_path(1);
        FZ_CHECK(tr_write_jsonl(&t, q, &e) == 0);
        tr_trace u;
        FZ_CHECK(tr_load_jsonl(q, &u, &e) == 0);
        fz_same_trace(&t, &u);
        tr_free(&u);
    }
    tr_free(&t);
    return 0;
}

FUZZ_ENTRY(fz_jsonl)
