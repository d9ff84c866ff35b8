/* fuzz_jsonl_gz.c -- the JSONL reader's gzip path (tr_load).
 *
 * The first byte picks what the rest of the input becomes on disk:
 *
 *   0  the bytes as they are (seeds are real .gz files: the fuzzer mutates
 *      headers, deflate data and trailers)
 *   1  one gzip member of the bytes
 *   2  two members, split where the second byte says
 *   3  one member of the first part, then the rest raw after it (trailing
 *      garbage, or a cut second member)
 *
 * In modes 1 and 2 the file must read exactly as the plain bytes do: the
 * same requests, or the same error message (the path aside). */
#include <zlib.h>

#include "fuzz_trace.h"

/* gzip members of d[0..n) split at the cuts, appended to a buffer. */
static size_t put_member(unsigned char *out, size_t cap, const uint8_t *d, size_t n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    FZ_CHECK(deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    z.next_in = (Bytef *)d;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    FZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    size_t w = cap - z.avail_out;
    deflateEnd(&z);
    return w;
}

/* The message without its path (so two files' messages compare). */
static const char *after_path(const char *msg, const char *path) {
    size_t k = strlen(path);
    FZ_CHECK(strncmp(msg, path, k) == 0);
    return msg + k;
}

static int fz_jsonl_gz(const uint8_t *d, size_t n) {
    if (n < 1) return 0;
    int mode = d[0] & 3;
    d++, n--;
    const char *p;
    unsigned char *buf = NULL;
    if (mode == 0) {
        p = fz_file(0, d, n);
    } else {
        size_t cut = n, cap = 2 * n + 256;
        if (mode >= 2 && n >= 1) {
            cut = d[0] % (n + 1);
            d++, n--;
            if (cut > n) cut = n;
        }
        buf = malloc(cap);
        FZ_CHECK(buf);
        size_t len = put_member(buf, cap, d, mode == 1 ? n : cut);
        if (mode == 2) len += put_member(buf + len, cap - len, d + cut, n - cut);
        if (mode == 3) {
            memcpy(buf + len, d + cut, n - cut);
            len += n - cut;
        }
        p = fz_file(0, buf, len);
    }
    tr_trace t, u;
    tr_err e, f;
    int rc = tr_load(p, &t, &e);
    if (rc == 0) fz_check_trace(&t);
    else FZ_CHECK(t.req == NULL);
    if ((mode == 1 || mode == 2) && !(n >= 2 && d[0] == 0x1f && d[1] == 0x8b) && !(n >= 6 && !memcmp(d, "MTRACE", 6))) {
        const char *q = fz_file(1, d, n); /* the same text, plain */
        int rq = tr_load(q, &u, &f);
        FZ_CHECK(rq == rc);
        if (rc == 0) {
            fz_same_trace(&t, &u);
            tr_free(&u);
        } else {
            FZ_CHECK(!strcmp(after_path(e.msg, p), after_path(f.msg, q)));
        }
    }
    if (rc == 0) tr_free(&t);
    free(buf);
    return 0;
}

FUZZ_ENTRY(fz_jsonl_gz)
