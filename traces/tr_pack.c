/* tr_pack.c -- writing and loading packed traces (layout in tr_pack.h).
 *
 * Writing: (1) pick each request's base with the prefix tree, (2) lay the
 * pool out session by session with overlapping regions, (3) compress the
 * records and the pool in blocks, all in memory, (4) write header + blocks
 * through mu_atomic_* so a failure leaves no file behind.
 *
 * Loading: read the file whole, check the header and every block header
 * before allocating anything (counts must agree, sizes must fit the file),
 * then inflate each block into place and validate every record.
 */
#include "tr_pack.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/util.h"
#include "traces/tr_stats.h"

enum { HDR = 96, BLK = 24, K_REC = 1, K_POOL = 2, F_U16 = 1 };
#define REC_PER_BLOCK 65536u
#define REC_MAX 64 /* bytes one record can take */

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

static uint32_t crc(const unsigned char *p, size_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) { /* crc32 takes a uInt count */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

static unsigned char *put_uv(unsigned char *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}
/* v < 0 ? all ones : 0, spelled out: a signed right shift is implementation-defined. */
static uint64_t zz(int64_t v) { return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0); }
static int64_t unzz(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* Read a varint from [*p, e); -1 when it runs off the end or past 64 bits. */
static int get_uv(const unsigned char **p, const unsigned char *e, uint64_t *v) {
    uint64_t x = 0;
    for (int s = 0; s < 64; s += 7) {
        if (*p >= e) return -1;
        unsigned char b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

int tr_pack_sniff(const void *head, size_t n) { return n >= 6 && memcmp(head, TR_PACK_MAGIC, 6) == 0; }

uint64_t tr_trace_bytes(const tr_trace *t) { return (uint64_t)t->n * sizeof(tr_req) + t->pool_len * 4; }

/* ---- writing ------------------------------------------------------------------- */

typedef struct obuf {
    unsigned char *p; /* bytes */
    size_t len, cap;  /* used, allocated */
} obuf;

static int ob_grow(obuf *b, size_t more) {
    if (b->len + more <= b->cap) return 0;
    size_t nc = b->cap ? b->cap : 1 << 16;
    while (nc < b->len + more) nc *= 2;
    unsigned char *np = realloc(b->p, nc);
    if (!np) return -1;
    b->p = np;
    b->cap = nc;
    return 0;
}

/* Append one compressed block of raw[0..n) to out. */
static int put_block(obuf *out, uint32_t kind, uint32_t items, const unsigned char *raw, size_t n, int level) {
    uLong bound = compressBound((uLong)n);
    if (ob_grow(out, BLK + bound)) return -1;
    unsigned char *h = out->p + out->len;
    uLongf clen = bound;
    if (compress2(h + BLK, &clen, raw, (uLong)n, level) != Z_OK) return -1;
    put32(h, kind);
    put32(h + 4, items);
    put32(h + 8, (uint32_t)n);
    put32(h + 12, (uint32_t)clen);
    put32(h + 16, crc(h + BLK, clen));
    put32(h + 20, crc(h, 20));
    out->len += BLK + clen;
    return 0;
}

int tr_pack_write(const tr_trace *t, const char *path, const tr_pack_opts *o, tr_err *err) {
    return tr_pack_write_info(t, path, o, NULL, err);
}

int tr_pack_write_info(const tr_trace *t, const char *path, const tr_pack_opts *o, tr_pack_info *info, tr_err *err) {
    tr_pack_opts def = {Z_DEFAULT_COMPRESSION, 1u << 20, 0};
    if (!o) o = &def;
    uint32_t bt = o->block_tokens ? o->block_tokens : 1u << 20;
    size_t pl = strlen(path);
    if (pl >= 3 && !strcmp(path + pl - 3, ".gz")) {
        tr_errf(err, path, 0, "a packed trace is compressed already: name it without .gz");
        return -1;
    }
    if (t->n == 0) {
        tr_errf(err, path, 0, "the trace holds no requests");
        return -1;
    }
    if (tr_check_order(t, path, err)) return -1;
    int rc = -1;
    size_t n = t->n;
    int64_t *base = malloc(n * sizeof *base);
    uint32_t *shared = malloc(n * sizeof *shared);
    uint64_t *off = malloc(n * sizeof *off);
    int32_t *buf = malloc(((size_t)t->max_len + 1) * 4);
    size_t *order = malloc(n * sizeof *order);
    int32_t *pool = NULL;
    uint64_t pool_len = 0, pool_cap = 0, rebased = 0;
    unsigned char *raw = NULL;
    obuf out = {0};
    tr_ptrie *pt = NULL;
    if (!base || !shared || !off || !buf || !order) goto oom;

    /* (1) bases: the earlier request sharing the longest prefix */
    if (!o->keep_bases && !(pt = tr_ptrie_new())) goto oom;
    int64_t root = pt ? tr_ptrie_root(pt) : -1;
    if (pt && root < 0) goto oom;
    for (size_t i = 0; i < n; i++) {
        const tr_req *r = &t->req[i];
        base[i] = r->base;
        shared[i] = r->n_shared;
        if (!pt) continue;
        uint32_t len = tr_tokens(t, i, buf);
        int64_t who;
        uint32_t l = tr_ptrie_match(pt, root, buf, len, &who);
        if (l > r->n_shared && who >= 0) {
            base[i] = who;
            shared[i] = l;
            rebased++;
        }
        tr_seg own = {r->n_shared, len - r->n_shared, t->pool + r->off};
        if (tr_ptrie_insert(pt, root, buf, len, &own, len > r->n_shared, (int64_t)i) < 0) goto oom;
    }
    tr_ptrie_free(pt);
    pt = NULL;

    /* (2) the pool, session by session: sort request indices by (first
     * appearance of their session, index) with a counting pass */
    {
        uint64_t scap = 64;
        while (scap < 2 * (t->n_sessions + 1)) scap *= 2;
        struct { int64_t id; uint64_t idx; } *sm = calloc(scap, sizeof *sm); /* idx: session + 1 */
        uint64_t *cnt = calloc(t->n_sessions + 2, sizeof *cnt), ns = 0;
        uint32_t *sof = malloc(n * sizeof *sof);
        if (!sm || !cnt || !sof) {
            free(sm);
            free(cnt);
            free(sof);
            goto oom;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t h = (uint64_t)t->req[i].session_id * 0x9e3779b97f4a7c15ULL;
            h = (h ^ (h >> 29)) & (scap - 1);
            while (sm[h].idx && sm[h].id != t->req[i].session_id) h = (h + 1) & (scap - 1);
            if (!sm[h].idx) {
                if (ns > t->n_sessions) { /* the count is wrong: cannot happen for a loaded trace */
                    free(sm);
                    free(cnt);
                    free(sof);
                    tr_errf(err, path, 0, "the trace's session count is wrong");
                    goto out;
                }
                sm[h].id = t->req[i].session_id;
                sm[h].idx = ++ns;
            }
            sof[i] = (uint32_t)(sm[h].idx - 1);
            cnt[sm[h].idx]++;
        }
        for (uint64_t s = 1; s <= ns; s++) cnt[s] += cnt[s - 1];
        for (size_t i = 0; i < n; i++) order[cnt[sof[i]]++] = i;
        free(sm);
        free(cnt);
        free(sof);
    }
    uint64_t region = 0; /* where the current session's region starts */
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        const tr_req *r = &t->req[i];
        if (k == 0 || t->req[order[k - 1]].session_id != r->session_id) region = pool_len;
        uint32_t len = tr_tokens(t, i, buf), fl = len - shared[i];
        const int32_t *f = buf + shared[i];
        /* the longest tail of the region that f begins with */
        /* (at most 256 verifications, so runs of one repeated token cannot
         * make this quadratic) */
        uint64_t from = pool_len - region > fl ? pool_len - fl : region, j = pool_len;
        int tries = 256;
        for (uint64_t c = from; c < pool_len && fl && tries; c++) {
            if (pool[c] != f[0]) continue;
            tries--;
            if (mu_lcp32(pool + c, f, pool_len - c) == pool_len - c) {
                j = c;
                break;
            }
        }
        uint64_t have = pool_len - j;
        if (pool_len + (fl - have) > pool_cap) {
            uint64_t nc = pool_cap ? pool_cap * 2 : 1 << 16;
            while (nc < pool_len + (fl - have)) nc *= 2;
            int32_t *np = realloc(pool, nc * 4);
            if (!np) goto oom;
            pool = np;
            pool_cap = nc;
        }
        memcpy(pool + pool_len, f + have, (size_t)(fl - have) * 4);
        pool_len += fl - have;
        off[i] = fl ? j : 0;
    }

    /* (3) blocks */
    int u16 = 1;
    for (uint64_t i = 0; i < pool_len && u16; i++) u16 = (uint32_t)pool[i] < 65536;
    size_t rawcap = (size_t)(REC_PER_BLOCK * REC_MAX > (size_t)bt * 4 ? REC_PER_BLOCK * REC_MAX : (size_t)bt * 4);
    raw = malloc(rawcap);
    if (!raw || ob_grow(&out, HDR)) goto oom;
    out.len = HDR;
    uint32_t nrec_blocks = 0, npool_blocks = 0;
    uint64_t prev_off = 0;
    for (size_t i = 0; i < n; i += REC_PER_BLOCK) {
        size_t m = n - i < REC_PER_BLOCK ? n - i : REC_PER_BLOCK;
        unsigned char *p = raw;
        for (size_t k = i; k < i + m; k++) {
            const tr_req *r = &t->req[k];
            uint64_t tsb;
            memcpy(&tsb, &r->ts, 8);
            p = put_uv(p, zz(r->session_id));
            p = put_uv(p, zz(r->turn_id));
            put64(p, tsb);
            p += 8;
            p = put_uv(p, r->n_in);
            p = put_uv(p, r->n_out);
            p = put_uv(p, base[k] < 0 ? 0 : (uint64_t)k - (uint64_t)base[k]);
            p = put_uv(p, shared[k]);
            p = put_uv(p, zz((int64_t)(off[k] - prev_off)));
            prev_off = off[k];
        }
        if (put_block(&out, K_REC, (uint32_t)m, raw, (size_t)(p - raw), o->level)) goto oom;
        nrec_blocks++;
    }
    for (uint64_t i = 0; i < pool_len; i += bt) {
        uint64_t m = pool_len - i < bt ? pool_len - i : bt;
        unsigned char *p = raw;
        for (uint64_t k = i; k < i + m; k++) {
            uint32_t v = (uint32_t)pool[k];
            *p++ = (unsigned char)v;
            *p++ = (unsigned char)(v >> 8);
            if (!u16) {
                *p++ = (unsigned char)(v >> 16);
                *p++ = (unsigned char)(v >> 24);
            }
        }
        if (put_block(&out, K_POOL, (uint32_t)m, raw, (size_t)(p - raw), o->level)) goto oom;
        npool_blocks++;
    }
    unsigned char *h = out.p;
    memset(h, 0, HDR);
    memcpy(h, TR_PACK_MAGIC, 6);
    h[6] = TR_PACK_VERSION;
    put32(h + 8, HDR);
    put32(h + 12, u16 ? F_U16 : 0);
    put64(h + 16, n);
    put64(h + 24, t->n_sessions);
    put64(h + 32, pool_len);
    put64(h + 40, t->total_in);
    put64(h + 48, t->total_out);
    put32(h + 56, t->max_len);
    put32(h + 60, nrec_blocks);
    put32(h + 64, npool_blocks);
    put64(h + 72, out.len);
    put32(h + 92, crc(h, 92));

    /* (4) write */
    {
        mu_atomic_file af;
        char e[256];
        if (mu_atomic_open(&af, path, e, sizeof e) != 0) {
            tr_errf(err, path, 0, "%s", e);
            goto out;
        }
        if (mu_atomic_write(&af, out.p, out.len, e, sizeof e) != 0) {
            mu_atomic_abort(&af);
            tr_errf(err, path, 0, "%s", e);
            goto out;
        }
        if (mu_atomic_commit(&af, e, sizeof e) != 0) {
            tr_errf(err, path, 0, "%s", e);
            goto out;
        }
    }
    if (info) *info = (tr_pack_info){t->pool_len, pool_len, rebased, out.len};
    rc = 0;
    goto out;
oom:
    tr_errf(err, path, 0, "out of memory packing the trace");
out:
    tr_ptrie_free(pt);
    free(base);
    free(shared);
    free(off);
    free(buf);
    free(order);
    free(pool);
    free(raw);
    free(out.p);
    return rc;
}

/* ---- loading ------------------------------------------------------------------- */

/* Read n bytes at off; 0, or -1 when the file ends first or fails. */
static int read_at(int fd, void *buf, size_t n, uint64_t off) {
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t k = pread(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

static int inflate_to(const unsigned char *src, size_t n, unsigned char *dst, size_t raw) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) return -1;
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)n;
    z.next_out = dst;
    z.avail_out = (uInt)raw;
    int r = inflate(&z, Z_FINISH);
    int ok = r == Z_STREAM_END && z.total_out == raw && z.avail_in == 0;
    inflateEnd(&z);
    return ok ? 0 : -1;
}

static int pack_load(const char *path, tr_trace *t, int shorten, tr_err *err);

int tr_pack_load(const char *path, tr_trace *t, tr_err *err) { return pack_load(path, t, 1, err); }

int tr_pack_load_as_stored(const char *path, tr_trace *t, tr_err *err) { return pack_load(path, t, 0, err); }

/* Read, check every block and record, then (shorten) re-base the requests
 * on the nearest ancestors that copy tokens (tr_chain.c). */
static int pack_load(const char *path, tr_trace *t, int shorten, tr_err *err) {
    /* blocks are read one at a time (pread), so the peak is the trace plus
     * one block, not the trace plus the file */
    memset(t, 0, sizeof *t);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        tr_errf(err, path, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    int rc = -1;
    unsigned char *tmp = NULL, *comp = NULL, h[HDR], bh[BLK];
    uint64_t *sset = NULL;
    tr_order ord;
    memset(&ord, 0, sizeof ord);
    struct stat st;
    if (tr_check_fd(fd, path, "a packed trace", err)) goto out;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        tr_errf(err, path, 0, "cannot read: not a regular file");
        goto out;
    }
    uint64_t fsz = (uint64_t)st.st_size;
    size_t got = fsz < HDR ? (size_t)fsz : HDR;
    if (read_at(fd, h, got, 0)) {
        tr_errf(err, path, 0, "cannot read: %s", strerror(errno));
        goto out;
    }
    if (fsz < HDR || !tr_pack_sniff(h, got)) {
        tr_errf(err, path, 0, fsz < HDR && tr_pack_sniff(h, got) ? "truncated packed trace: %llu bytes, not even a header"
                                                                   : "not a packed trace (no MTRACE header)",
                (unsigned long long)fsz);
        goto out;
    }
    if (get32(h + 92) != crc(h, 92)) {
        tr_errf(err, path, 0, "corrupt packed trace: header checksum mismatch");
        goto out;
    }
    if (h[6] != TR_PACK_VERSION || h[7] != 0 || get32(h + 8) != HDR) {
        tr_errf(err, path, 0, "packed trace version %u is not one this build reads (%d)", h[6] | h[7] << 8,
                TR_PACK_VERSION);
        goto out;
    }
    uint32_t flags = get32(h + 12);
    uint64_t n = get64(h + 16), nsess = get64(h + 24), pool_len = get64(h + 32), tin = get64(h + 40),
             tout = get64(h + 48), want = get64(h + 72);
    uint32_t max_len = get32(h + 56), nrb = get32(h + 60), npb = get32(h + 64);
    if (want != fsz) {
        tr_errf(err, path, 0, "%s packed trace: %llu bytes, the header says %llu", want > fsz ? "truncated" : "corrupt",
                (unsigned long long)fsz, (unsigned long long)want);
        goto out;
    }
    unsigned width = flags & F_U16 ? 2 : 4;
    /* walk the block headers before allocating anything */
    uint64_t pos = HDR, items[3] = {0}, maxraw = 0, maxcomp = 0;
    for (uint64_t b = 0; b < (uint64_t)nrb + npb; b++) {
        if (fsz - pos < BLK || read_at(fd, bh, BLK, pos)) {
            tr_errf(err, path, 0, "truncated packed trace: block %llu at byte %llu is missing", (unsigned long long)b,
                    (unsigned long long)pos);
            goto out;
        }
        uint32_t kind = get32(bh), cnt = get32(bh + 4), rawn = get32(bh + 8), cl = get32(bh + 12);
        uint32_t want_kind = b < nrb ? K_REC : K_POOL;
        if (get32(bh + 20) != crc(bh, 20) || kind != want_kind || cl > fsz - pos - BLK ||
            (kind == K_POOL && rawn != (uint64_t)cnt * width) || (kind == K_REC && rawn > (uint64_t)cnt * REC_MAX)) {
            tr_errf(err, path, 0, "corrupt packed trace: block %llu header at byte %llu is damaged", (unsigned long long)b,
                    (unsigned long long)pos);
            goto out;
        }
        items[kind] += cnt;
        if (rawn > maxraw) maxraw = rawn;
        if (cl > maxcomp) maxcomp = cl;
        pos += BLK + cl;
    }
    if (pos != fsz || items[K_REC] != n || items[K_POOL] != pool_len || n == 0 || nsess == 0 || nsess > n) {
        tr_errf(err, path, 0, "corrupt packed trace: the blocks do not add up to the header's counts");
        goto out;
    }
    t->req = malloc(n * sizeof *t->req);
    t->pool = malloc((pool_len ? pool_len : 1) * 4);
    tmp = malloc(maxraw ? maxraw : 1);
    comp = malloc(maxcomp ? maxcomp : 1);
    if (!t->req || !t->pool || !tmp || !comp) {
        tr_errf(err, path, 0, "out of memory loading %llu requests and %llu tokens", (unsigned long long)n,
                (unsigned long long)pool_len);
        goto out;
    }
    t->n = n;
    t->pool_len = pool_len;
    pos = HDR;
    uint64_t ri = 0, pi = 0, prev_off = 0;
    for (uint64_t b = 0; b < (uint64_t)nrb + npb; b++) {
        if (read_at(fd, bh, BLK, pos) || get32(bh + 20) != crc(bh, 20) ||
            read_at(fd, comp, get32(bh + 12) <= maxcomp ? get32(bh + 12) : 0, pos + BLK) || get32(bh + 12) > maxcomp) {
            tr_errf(err, path, 0, "corrupt packed trace: block %llu at byte %llu changed while loading",
                    (unsigned long long)b, (unsigned long long)pos);
            goto out;
        }
        uint32_t cnt = get32(bh + 4), rawn = get32(bh + 8), cl = get32(bh + 12);
        /* (the counts were checked in the first pass; these only matter if
         * the file changed in between) */
        if (rawn > maxraw || (b >= nrb && (uint64_t)cnt > pool_len - pi) || (b < nrb && (uint64_t)cnt > n - ri) ||
            (b >= nrb ? rawn != (uint64_t)cnt * width : rawn > (uint64_t)cnt * REC_MAX) ||
            get32(bh + 16) != crc(comp, cl)) {
            tr_errf(err, path, 0, "corrupt packed trace: block %llu at byte %llu fails its checksum",
                    (unsigned long long)b, (unsigned long long)pos);
            goto out;
        }
        /* 4-byte pool blocks inflate straight into place */
        unsigned char *dst = b >= nrb && width == 4 ? (unsigned char *)(t->pool + pi) : tmp;
        if (inflate_to(comp, cl, dst, rawn)) {
            tr_errf(err, path, 0, "corrupt packed trace: block %llu at byte %llu does not decompress",
                    (unsigned long long)b, (unsigned long long)pos);
            goto out;
        }
        if (b >= nrb) {
            if (width == 2)
                for (uint32_t k = 0; k < cnt; k++) t->pool[pi + k] = (int32_t)(tmp[2 * k] | tmp[2 * k + 1] << 8);
            else
                for (uint32_t k = 0; k < cnt; k++)
                    if (t->pool[pi + k] < 0) {
                        tr_errf(err, path, 0, "corrupt packed trace: token %llu is negative", (unsigned long long)(pi + k));
                        goto out;
                    }
            pi += cnt;
        } else {
            const unsigned char *p = tmp, *e = tmp + rawn;
            for (uint32_t k = 0; k < cnt; k++, ri++) {
                tr_req *r = &t->req[ri];
                uint64_t sid, tid, nin, nout, bd, sh, od;
                int bad = get_uv(&p, e, &sid) || get_uv(&p, e, &tid) || e - p < 8;
                if (!bad) {
                    uint64_t tsb = get64(p);
                    memcpy(&r->ts, &tsb, 8);
                    p += 8;
                    bad = get_uv(&p, e, &nin) || get_uv(&p, e, &nout) || get_uv(&p, e, &bd) || get_uv(&p, e, &sh) ||
                          get_uv(&p, e, &od);
                }
                if (!bad) {
                    r->session_id = unzz(sid);
                    r->turn_id = unzz(tid);
                    uint64_t len = nin + nout;
                    r->n_in = (uint32_t)nin;
                    r->n_out = (uint32_t)nout;
                    r->base = bd ? (int64_t)(ri - bd) : -1;
                    r->n_shared = (uint32_t)sh;
                    r->off = prev_off + (uint64_t)unzz(od);
                    prev_off = r->off;
                    uint64_t blen = r->base >= 0 && bd <= ri ? (uint64_t)t->req[r->base].n_in + t->req[r->base].n_out : 0;
                    /* the invariants tr_tokens relies on */
                    bad = r->session_id < 0 || !(r->ts >= 0) || !isfinite(r->ts) || nin == 0 || nin > 0xffffffffu ||
                          nout > 0xffffffffu || len > max_len || bd > ri || sh > len || sh > blen ||
                          (len > sh && (r->off > pool_len || len - sh > pool_len - r->off));
                }
                if (bad) {
                    tr_errf(err, path, 0, "corrupt packed trace: request %llu (block %llu) is inconsistent",
                            (unsigned long long)ri, (unsigned long long)b);
                    goto out;
                }
                char why[TR_ERR_MAX];
                if (tr_order_check(&ord, r->session_id, r->turn_id, r->ts, ri, "request", why, sizeof why)) {
                    tr_errf(err, path, 0, "request %llu: %s", (unsigned long long)ri, why);
                    goto out;
                }
                t->total_in += r->n_in;
                t->total_out += r->n_out;
                if (r->n_in + r->n_out > t->max_len) t->max_len = r->n_in + r->n_out;
            }
            if (p != e) {
                tr_errf(err, path, 0, "corrupt packed trace: block %llu has %lld stray bytes", (unsigned long long)b,
                        (long long)(e - p));
                goto out;
            }
        }
        pos += BLK + cl;
    }
    if (t->total_in != tin || t->total_out != tout || t->max_len != max_len) {
        tr_errf(err, path, 0, "corrupt packed trace: token totals differ from the header's");
        goto out;
    }
    /* distinct sessions, counted as the builder counts them */
    uint64_t cap = 64;
    while (cap < 2 * nsess + 2) cap *= 2;
    sset = malloc(cap * sizeof *sset);
    if (!sset) {
        tr_errf(err, path, 0, "out of memory");
        goto out;
    }
    memset(sset, 0xff, cap * sizeof *sset); /* all ones: empty (ids are >= 0) */
    uint64_t ns = 0;
    for (uint64_t i = 0; i < n && ns <= nsess; i++) {
        uint64_t id = (uint64_t)t->req[i].session_id, hh = (id * 0x9e3779b97f4a7c15ULL) >> 20 & (cap - 1);
        while (sset[hh] != ~0ULL && sset[hh] != id) hh = (hh + 1) & (cap - 1);
        if (sset[hh] == ~0ULL) {
            sset[hh] = id;
            ns++;
        }
    }
    if (ns != nsess) {
        tr_errf(err, path, 0, "corrupt packed trace: %llu sessions, the header says %llu", (unsigned long long)ns,
                (unsigned long long)nsess);
        goto out;
    }
    t->n_sessions = ns;
    if (shorten) tr_chains_shorten(t); /* every record was checked: bases earlier, shares within them */
    if (!(t->path = strdup(path))) {
        tr_errf(err, path, 0, "out of memory");
        goto out;
    }
    rc = 0;
out:
    close(fd);
    tr_order_free(&ord);
    free(tmp);
    free(comp);
    free(sset);
    if (rc) tr_free(t);
    return rc;
}
