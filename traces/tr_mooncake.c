/* tr_mooncake.c -- Mooncake block-hash traces to token traces (see
 * tr_mooncake.h).
 *
 * Two passes.  The first reads every line into a request table and one
 * array of hash ids, checking each field.  The second walks each request's
 * hashes down a tree of hash prefixes (node = a distinct prefix, children
 * in one open-addressing table keyed by (parent, hash)):
 *
 *   root --0--> n1 --1--> n2 --2--> n3        request 0: [0 1 2]
 *                 \--14-> n4 --15-> n5        request 1: [0 14 15]
 *
 * The deepest node reached before the request's own blocks are added gives
 * its base (first[node]: the earliest request that reached it) and the
 * length it shares with it; the nodes along the way hold ender[] (the
 * latest request whose full blocks end there), which gives the session to
 * continue.  Then the pool is filled: each request's unshared input tokens
 * (regenerated from the hashes) and its fresh output.
 */
#include "tr_mooncake.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "traces/tr_gen.h"

#define STREAM_BLOCK 0x6d6f6f6e626c6bULL /* "moonblk": a hash's tokens */
#define STREAM_OUT 0x6d6f6f6e6f7574ULL   /* "moonout": a request's output */
#define LEN_MAX (1u << 30)               /* input_length, output_length at most */

void tr_mc_defaults(tr_mc_cfg *c) {
    memset(c, 0, sizeof *c);
    c->block = 512;
    c->vocab = 32000;
    c->seed = 1;
    c->chain = 1;
}

/* One request as read. */
typedef struct mreq {
    double ts;      /* seconds */
    double ms;      /* the timestamp as read, ms */
    uint32_t n_in;  /* input_length */
    uint32_t n_out; /* output_length */
    uint64_t h;     /* its hash ids: hash[h .. h + nb) */
    uint32_t nb;    /* blocks */
    uint64_t line;  /* where it was */
} mreq;

/* Everything the conversion holds. */
typedef struct mc {
    const tr_mc_cfg *c; /* settings */
    const char *path;   /* the file */
    tr_err *err;        /* where errors go */
    mreq *r;            /* requests read */
    size_t n, cap;      /* used, allocated */
    int64_t *hash;      /* every request's hash ids, in order */
    uint64_t nh, hcap;  /* used, allocated */
} mc;

/* ---- pass 1: reading --------------------------------------------------------------------- */

/* An integer field in [lo, hi]. */
static int get_int(mc *m, json_t *o, const char *key, long long lo, long long hi, long long *v, uint64_t line) {
    json_t *x = json_object_get(o, key);
    if (!x) {
        tr_errf(m->err, m->path, line, "\"%s\" is missing", key);
        return -1;
    }
    if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi) {
        tr_errf(m->err, m->path, line, "\"%s\" is not an integer in [%lld, %lld]", key, lo, hi);
        return -1;
    }
    *v = json_integer_value(x);
    return 0;
}

static int add_hash(mc *m, int64_t h) {
    if (m->nh == m->hcap) {
        uint64_t nc = m->hcap ? m->hcap * 2 : 1 << 16;
        int64_t *nh = realloc(m->hash, nc * sizeof *nh);
        if (!nh) return -1;
        m->hash = nh;
        m->hcap = nc;
    }
    m->hash[m->nh++] = h;
    return 0;
}

/* One line: a request object, appended to m->r. */
static int read_line(mc *m, const char *p, size_t n, uint64_t line) {
    json_error_t je;
    json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!o) {
        char vis[TR_ERR_MAX / 2];
        tr_visible(je.text, vis, sizeof vis);
        tr_errf(m->err, m->path, line, "invalid JSON: %s", vis);
        return -1;
    }
    int rc = -1;
    long long in, out;
    if (!json_is_object(o)) {
        tr_errf(m->err, m->path, line,
                "a request is a JSON object {\"timestamp\", \"input_length\", \"output_length\", \"hash_ids\"}");
        goto done;
    }
    json_t *ts = json_object_get(o, "timestamp"), *hs = json_object_get(o, "hash_ids");
    if (!ts) {
        tr_errf(m->err, m->path, line, "\"timestamp\" is missing");
        goto done;
    }
    double t = json_number_value(ts);
    if (!json_is_number(ts) || !(t >= 0) || t > 1e15) {
        tr_errf(m->err, m->path, line, "\"timestamp\" is not a number of ms in [0, 1e15]");
        goto done;
    }
    if (get_int(m, o, "input_length", 1, LEN_MAX, &in, line) || get_int(m, o, "output_length", 0, LEN_MAX, &out, line))
        goto done;
    if (!hs) {
        tr_errf(m->err, m->path, line, "\"hash_ids\" is missing");
        goto done;
    }
    if (!json_is_array(hs)) {
        tr_errf(m->err, m->path, line, "\"hash_ids\" is not a list");
        goto done;
    }
    uint64_t need = ((uint64_t)in + m->c->block - 1) / m->c->block;
    if (json_array_size(hs) != need) {
        tr_errf(m->err, m->path, line, "\"hash_ids\" has %zu blocks, but input_length %lld needs %llu of %u tokens",
                json_array_size(hs), in, (unsigned long long)need, m->c->block);
        goto done;
    }
    if (m->n > 0 && t / 1000.0 < m->r[m->n - 1].ts) {
        char a[40], b[40];
        snprintf(a, sizeof a, "%.15g", t);
        snprintf(b, sizeof b, "%.15g", m->r[m->n - 1].ms);
        tr_errf(m->err, m->path, line,
                "\"timestamp\" %s is earlier than line %llu's %s: requests must be in arrival order", a,
                (unsigned long long)m->r[m->n - 1].line, b);
        goto done;
    }
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1024;
        mreq *nr = realloc(m->r, nc * sizeof *nr);
        if (!nr) goto oom;
        m->r = nr;
        m->cap = nc;
    }
    mreq *r = &m->r[m->n];
    *r = (mreq){t / 1000.0, t, (uint32_t)in, (uint32_t)out, m->nh, (uint32_t)need, line};
    for (size_t i = 0; i < need; i++) {
        json_t *h = json_array_get(hs, i);
        if (!json_is_integer(h) || json_integer_value(h) < 0) {
            tr_errf(m->err, m->path, line, "hash_ids[%zu] is not an integer >= 0", i);
            m->nh = r->h;
            goto done;
        }
        if (add_hash(m, (int64_t)json_integer_value(h))) goto oom;
    }
    m->n++;
    rc = 0;
    goto done;
oom:
    tr_errf(m->err, m->path, line, "out of memory");
done:
    json_decref(o);
    return rc;
}

/* The file, whole, into *buf. */
static int slurp(const char *path, char **buf, size_t *len, tr_err *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        tr_errf(err, path, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (tr_check_fd(fileno(fp), path, "a Mooncake trace", err)) {
        fclose(fp);
        return -1;
    }
    size_t n = 0, cap = 0;
    char *b = NULL;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1 << 16;
            char *nb = realloc(b, nc);
            if (!nb) {
                free(b);
                fclose(fp);
                tr_errf(err, path, 0, "out of memory reading the file");
                return -1;
            }
            b = nb;
            cap = nc;
        }
        size_t k = fread(b + n, 1, cap - n, fp);
        n += k;
        if (k == 0) break;
    }
    int rd = ferror(fp), en = errno;
    fclose(fp);
    if (rd) {
        free(b);
        tr_errf(err, path, 0, "cannot read: %s", strerror(en));
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

static int read_all(mc *m) {
    char *buf = NULL;
    size_t len = 0;
    if (slurp(m->path, &buf, &len, m->err)) return -1;
    int rc = -1;
    if (tr_has_bom(buf, len)) {
        tr_errf(m->err, m->path, 1, "%s", TR_BOM_MSG);
        goto out;
    }
    uint64_t line = 0;
    for (const char *q = buf, *e = buf + len; q < e && (!m->c->requests || m->n < m->c->requests);) {
        const char *eol = memchr(q, '\n', (size_t)(e - q)), *le = eol ? eol : e;
        line++;
        const char *s = q;
        while (s < le && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
        if (s < le && read_line(m, q, (size_t)(le - q), line)) goto out;
        q = eol ? eol + 1 : e;
    }
    if (m->n == 0) {
        tr_errf(m->err, m->path, line ? line : 1, "holds no requests");
        goto out;
    }
    rc = 0;
out:
    free(buf);
    return rc;
}

/* ---- pass 2: the tree of hash prefixes -------------------------------------------------- */

/* A child hlink: (parent, hash) -> child; child 0 marks a free slot. */
typedef struct hlink {
    int64_t hash;    /* the block's hash */
    uint32_t parent; /* node it hangs from */
    uint32_t child;  /* node it leads to (never the root, 0) */
} hlink;

typedef struct tree {
    hlink *slot;      /* open addressing */
    uint64_t mask;   /* slots - 1 */
    int64_t *first;  /* per node: the earliest request that reached it */
    int64_t *ender;  /* per node: the latest request whose full blocks end here, or -1 */
    uint32_t nodes;  /* nodes made (root included) */
} tree;

static uint64_t slot_of(const tree *t, uint32_t parent, int64_t h) {
    return mu_hash64(((uint64_t)parent * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)h) & t->mask;
}

static uint32_t child_of(const tree *t, uint32_t parent, int64_t h) {
    for (uint64_t s = slot_of(t, parent, h);; s = (s + 1) & t->mask) {
        const hlink *l = &t->slot[s];
        if (!l->child) return 0;
        if (l->parent == parent && l->hash == h) return l->child;
    }
}

static uint32_t add_child(tree *t, uint32_t parent, int64_t h, int64_t req) {
    uint64_t s = slot_of(t, parent, h);
    while (t->slot[s].child) s = (s + 1) & t->mask;
    uint32_t c = t->nodes++;
    t->slot[s] = (hlink){h, parent, c};
    t->first[c] = req;
    t->ender[c] = -1;
    return c;
}

/* The tokens of block h, all block of them, into buf. */
static void block_tokens(const tr_mc_cfg *c, int64_t h, int32_t *buf) {
    tr_rng r;
    tr_rng_seed(&r, c->seed, STREAM_BLOCK, (uint64_t)h);
    for (uint32_t j = 0; j < c->block; j++) buf[j] = (int32_t)(3 + tr_rng_u64(&r) % (c->vocab - 3));
}

int tr_mooncake(const tr_mc_cfg *c, const char *path, tr_trace *out, tr_mc_info *info, tr_err *err) {
    memset(out, 0, sizeof *out);
    tr_mc_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    mc m = {c, path, err, NULL, 0, 0, NULL, 0, 0};
    tree t = {0};
    int64_t *sess = NULL, *sess_last = NULL, *sess_turns = NULL;
    uint32_t *path_nodes = NULL;
    int32_t *blk = NULL;
    int rc = -1;
    if (read_all(&m)) goto out;
    if (m.nh + 1 > 0xffffffffu) {
        tr_errf(err, path, 0, "more than 2^32 blocks");
        goto out;
    }
    uint64_t slots = 16;
    while (slots < 2 * (m.nh + 1)) slots *= 2;
    t.slot = calloc(slots, sizeof *t.slot);
    t.mask = slots - 1;
    t.first = malloc((m.nh + 1) * sizeof *t.first);
    t.ender = malloc((m.nh + 1) * sizeof *t.ender);
    t.nodes = 1;
    out->req = calloc(m.n, sizeof *out->req);
    sess = malloc(m.n * sizeof *sess);
    sess_last = malloc(m.n * sizeof *sess_last);
    sess_turns = calloc(m.n, sizeof *sess_turns);
    uint32_t maxb = 0;
    for (size_t i = 0; i < m.n; i++)
        if (m.r[i].nb > maxb) maxb = m.r[i].nb;
    path_nodes = malloc(((size_t)maxb + 1) * sizeof *path_nodes);
    blk = malloc((size_t)c->block * sizeof *blk);
    if (!t.slot || !t.first || !t.ender || !out->req || !sess || !sess_last || !sess_turns || !path_nodes || !blk) goto oom;
    t.first[0] = -1;
    t.ender[0] = -1;
    uint64_t pool_len = 0;
    size_t n_sess = 0;
    for (size_t i = 0; i < m.n; i++) {
        const mreq *r = &m.r[i];
        const int64_t *h = m.hash + r->h;
        /* down the tree as far as earlier requests went */
        uint32_t node = 0, d = 0;
        int64_t cont = -1;
        path_nodes[0] = 0;
        while (d < r->nb) {
            uint32_t ch = child_of(&t, node, h[d]);
            if (!ch) break;
            node = ch;
            path_nodes[++d] = node;
            int64_t p = t.ender[node];
            if (c->chain && d >= 2 && p >= 0 && sess_last[sess[p]] == p &&
                (uint64_t)r->n_in >= (uint64_t)m.r[p].n_in + m.r[p].n_out)
                cont = p; /* deeper wins */
        }
        tr_req *q = &out->req[i];
        q->base = d ? t.first[node] : -1;
        if (d) {
            uint64_t sh = (uint64_t)d * c->block;
            if (sh > r->n_in) sh = r->n_in;
            if (sh > m.r[q->base].n_in) sh = m.r[q->base].n_in;
            q->n_shared = (uint32_t)sh;
        }
        /* the rest of the path is new */
        for (; d < r->nb; d++) path_nodes[d + 1] = node = add_child(&t, node, h[d], (int64_t)i);
        uint32_t full = r->n_in / c->block;
        if (full) t.ender[path_nodes[full]] = (int64_t)i;
        /* its session */
        int64_t s = cont >= 0 && c->chain ? sess[cont] : (int64_t)n_sess++;
        if (cont >= 0) info->chained++;
        sess[i] = s;
        sess_last[s] = (int64_t)i;
        q->session_id = s;
        q->turn_id = sess_turns[s]++;
        q->ts = r->ts;
        q->n_in = r->n_in;
        q->n_out = r->n_out;
        q->off = pool_len;
        pool_len += (uint64_t)r->n_in - q->n_shared + r->n_out;
        info->shared += q->n_shared;
        if (r->n_in + r->n_out > out->max_len) out->max_len = r->n_in + r->n_out;
        out->total_in += r->n_in;
        out->total_out += r->n_out;
    }
    /* the pool: each request's unshared input, then its output */
    out->pool = malloc((pool_len ? pool_len : 1) * sizeof *out->pool);
    if (!out->pool) goto oom;
    for (size_t i = 0; i < m.n; i++) {
        const mreq *r = &m.r[i];
        const tr_req *q = &out->req[i];
        int32_t *w = out->pool + q->off;
        for (uint32_t pos = q->n_shared; pos < r->n_in;) {
            uint32_t b = pos / c->block, j = pos % c->block, k = c->block - j;
            if (k > r->n_in - pos) k = r->n_in - pos;
            block_tokens(c, m.hash[r->h + b], blk);
            memcpy(w, blk + j, (size_t)k * sizeof *w);
            w += k;
            pos += k;
        }
        tr_rng g;
        tr_rng_seed(&g, c->seed, STREAM_OUT, i);
        for (uint32_t j = 0; j < r->n_out; j++) *w++ = (int32_t)(3 + tr_rng_u64(&g) % (c->vocab - 3));
    }
    out->n = m.n;
    out->pool_len = pool_len;
    out->n_sessions = n_sess;
    info->requests = m.n;
    info->blocks = m.nh;
    info->distinct = t.nodes - 1;
    rc = 0;
    goto out;
oom:
    tr_errf(err, path, 0, "out of memory");
out:
    if (rc) tr_free(out);
    free(m.r);
    free(m.hash);
    free(t.slot);
    free(t.first);
    free(t.ender);
    free(sess);
    free(sess_last);
    free(sess_turns);
    free(path_nodes);
    free(blk);
    return rc;
}
