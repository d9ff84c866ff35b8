/* fuzz_packed.c -- the packed-trace reader (tr_pack_load) on arbitrary
 * bytes.  Checksums guard every part of the file, so mutated files mostly
 * stop at the first one; the first byte of the input picks how far in the
 * fuzzer gets:
 *
 *   0  the bytes as they are (seeds: real .mtrace files)
 *   1  the bytes with their checksums and file size made right: header and
 *      block headers as mutated, records and pool past their CRCs
 *   2  a file built around the bytes: a header from the first 40 (counts,
 *      totals, flags), one record block of the next (length in byte 40) and
 *      one pool block of the rest, compressed and checksummed, so record
 *      validation sees arbitrary records
 *
 * A trace that loads keeps its invariants and packs and loads again into
 * the same requests. */
#include <zlib.h>

#include "fuzz_trace.h"
#include "traces/tr_pack.h"

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint32_t crc(const unsigned char *p, size_t n) { return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n); }

/* Mode 1: fix the file size, the header CRC, and each block's CRCs. */
static void fix_sums(unsigned char *f, size_t n) {
    if (n < 96) return;
    put64(f + 72, n);
    uint32_t nb = get32(f + 60) + get32(f + 64);
    size_t pos = 96;
    for (uint32_t b = 0; b < nb && b < 1024 && n - pos >= 24; b++) {
        uint32_t cl = get32(f + pos + 12);
        if (cl > n - pos - 24) cl = (uint32_t)(n - pos - 24), put32(f + pos + 12, cl);
        put32(f + pos + 16, crc(f + pos + 24, cl));
        put32(f + pos + 20, crc(f + pos, 20));
        pos += 24 + cl;
    }
    put32(f + 92, crc(f, 92));
}

/* Mode 2: header fields from d[0..40), records d[41..41+k), pool the rest. */
static size_t build(unsigned char *f, size_t cap, const uint8_t *d, size_t n) {
    unsigned char h[40] = {0};
    memcpy(h, d, n < 40 ? n : 40);
    size_t k = n > 40 ? d[40] : 0, off = n > 41 ? 41 : n;
    if (k > n - off) k = n - off;
    const uint8_t *rec = d + off, *pool = d + off + k;
    size_t npool = n - off - k;
    unsigned width = h[0] & 1 ? 2 : 4;
    memset(f, 0, 96);
    memcpy(f, "MTRACE", 6);
    f[6] = 1;
    put32(f + 8, 96);
    put32(f + 12, h[0] & 1);
    put64(f + 16, 1 + h[1] % 64);            /* requests */
    put64(f + 24, 1 + h[2] % 64);            /* sessions */
    put64(f + 32, npool / width);            /* pool tokens */
    put64(f + 40, get32(h + 4) % 100000);    /* input tokens */
    put64(f + 48, get32(h + 8) % 100000);    /* output tokens */
    put32(f + 56, get32(h + 12) % 100000);   /* max_len */
    put32(f + 60, 1);
    put32(f + 64, npool / width ? 1 : 0);
    size_t pos = 96;
    const uint8_t *raw[2] = {rec, pool};
    size_t rawn[2] = {k, npool / width * width};
    for (int b = 0; b < 2; b++) {
        if (b == 1 && !rawn[1]) break;
        uLongf cl = cap - pos - 24;
        FZ_CHECK(compress2(f + pos + 24, &cl, raw[b], (uLong)rawn[b], 1) == Z_OK);
        put32(f + pos, b ? 2 : 1);
        put32(f + pos + 4, b ? (uint32_t)(rawn[1] / width) : (uint32_t)(1 + h[1] % 64));
        put32(f + pos + 8, (uint32_t)rawn[b]);
        put32(f + pos + 12, (uint32_t)cl);
        put32(f + pos + 16, crc(f + pos + 24, cl));
        put32(f + pos + 20, crc(f + pos, 20));
        pos += 24 + cl;
    }
    put64(f + 72, pos);
    put32(f + 92, crc(f, 92));
    return pos;
}

static int fz_packed(const uint8_t *d, size_t n) {
    if (n < 1) return 0;
    int mode = d[0] % 3;
    d++, n--;
    size_t cap = 2 * n + 1024;
    unsigned char *f = malloc(cap);
    FZ_CHECK(f);
    size_t len = n;
    memcpy(f, d, n);
    if (mode == 1) fix_sums(f, n);
    if (mode == 2) len = build(f, cap, d, n);
    const char *p = fz_file(0, f, len);
    free(f);
    tr_trace t;
    tr_err e;
    if (tr_pack_load(p, &t, &e) != 0) {
        FZ_CHECK(t.req == NULL && t.n == 0);
        return 0;
    }
    fz_check_trace(&t);
    const char *q = fz_path(1);
    tr_pack_opts o = {1, 64, (int)(len & 1)};
    FZ_CHECK(tr_pack_write(&t, q, &o, &e) == 0);
    tr_trace u;
    FZ_CHECK(tr_pack_load(q, &u, &e) == 0);
    fz_same_trace(&t, &u);
    tr_free(&u);
    tr_free(&t);
    return 0;
}

FUZZ_ENTRY(fz_packed)
