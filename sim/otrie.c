/* otrie.c -- the offline compact trie (see otrie.h). */
#include "sim/otrie.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hkey(uint32_t p, int32_t tok) { return (uint64_t)p << 32 | (uint32_t)tok; }

static uint64_t hslot(uint64_t k, uint64_t cap) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k & (cap - 1);
}

/* The slot of key k: where it is, or the empty slot where it would go. */
static uint64_t hfind(const otrie *t, uint64_t k) {
    uint64_t i = hslot(k, t->hcap);
    while (t->hval[i] && t->hkey[i] != k) i = (i + 1) & (t->hcap - 1);
    return i;
}

static int hput(otrie *t, uint64_t k, uint32_t v);

static int hgrow(otrie *t) {
    uint64_t oc = t->hcap, *ok = t->hkey;
    uint32_t *ov = t->hval;
    uint64_t nc = oc ? oc * 2 : 1024;
    t->hkey = calloc(nc, sizeof *t->hkey);
    t->hval = calloc(nc, sizeof *t->hval);
    if (!t->hkey || !t->hval) {
        free(t->hkey);
        free(t->hval);
        t->hkey = ok;
        t->hval = ov;
        return -1;
    }
    t->hcap = nc;
    t->hused = 0;
    for (uint64_t i = 0; i < oc; i++)
        if (ov[i]) hput(t, ok[i], ov[i]);
    free(ok);
    free(ov);
    return 0;
}

/* Set key k to child v (replacing what it held). */
static int hput(otrie *t, uint64_t k, uint32_t v) {
    if ((t->hused + 1) * 2 > t->hcap && hgrow(t)) return -1;
    uint64_t i = hfind(t, k);
    if (!t->hval[i]) t->hused++;
    t->hkey[i] = k;
    t->hval[i] = v;
    return 0;
}

uint32_t ot_child(const otrie *t, uint32_t p, int32_t tok) {
    if (!t->hcap) return 0;
    return t->hval[hfind(t, hkey(p, tok))];
}

int ot_init(otrie *t) {
    memset(t, 0, sizeof *t);
    t->cap = 1024;
    t->node = malloc(t->cap * sizeof *t->node);
    if (!t->node || hgrow(t)) {
        ot_free(t);
        return -1;
    }
    t->node[0] = (ot_node){0};
    t->nnodes = 1;
    return 0;
}

void ot_free(otrie *t) {
    free(t->node);
    free(t->pool);
    free(t->hkey);
    free(t->hval);
    memset(t, 0, sizeof *t);
}

static long new_node(otrie *t) {
    if (t->nnodes == UINT32_MAX) return -1;
    if (t->nnodes == t->cap) {
        uint32_t nc = t->cap > UINT32_MAX / 2 ? UINT32_MAX : t->cap * 2;
        ot_node *nn = realloc(t->node, (size_t)nc * sizeof *nn);
        if (!nn) return -1;
        t->node = nn;
        t->cap = nc;
    }
    return (long)t->nnodes++;
}

/* Split node x after its first k tokens (0 < k < len): the new node takes
 * x's place and the first k tokens.  Returns it, or 0 on out of memory. */
static uint32_t split(otrie *t, uint32_t x, uint32_t k) {
    long y = new_node(t);
    if (y < 0) return 0;
    ot_node *X = &t->node[x], *Y = &t->node[y];
    *Y = (ot_node){.parent = X->parent, .len = k, .off = X->off, .end = X->end - X->len + k, .val = X->val};
    if (hput(t, hkey(X->parent, t->pool[X->off]), (uint32_t)y)) return 0;
    X = &t->node[x];
    X->parent = (uint32_t)y;
    X->off += k;
    X->len -= k;
    if (hput(t, hkey((uint32_t)y, t->pool[X->off]), x)) return 0;
    return (uint32_t)y;
}

static uint64_t lcp(const int32_t *a, const int32_t *b, uint64_t n) {
    uint64_t i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

int ot_insert(otrie *t, const int32_t *key, uint32_t n, int64_t val, uint32_t *m_nodes) {
    uint32_t node = 0, pos = 0, m = 0;
    t->node[0].val = val;
    while (pos < n) {
        uint32_t ch = ot_child(t, node, key[pos]);
        if (!ch) { /* a new leaf with the rest */
            if (t->npool + (n - pos) > t->pool_cap) {
                uint64_t nc = t->pool_cap ? t->pool_cap : 4096;
                while (nc < t->npool + (n - pos)) nc *= 2;
                int32_t *np = realloc(t->pool, nc * sizeof *np);
                if (!np) return -1;
                t->pool = np;
                t->pool_cap = nc;
            }
            long y = new_node(t);
            if (y < 0) return -1;
            memcpy(t->pool + t->npool, key + pos, (size_t)(n - pos) * sizeof *key);
            t->node[y] = (ot_node){.parent = node, .len = n - pos, .off = t->npool, .end = n, .val = val, .is_end = 1};
            t->npool += n - pos;
            if (hput(t, hkey(node, key[pos]), (uint32_t)y)) return -1;
            m++;
            break;
        }
        ot_node *C = &t->node[ch];
        uint64_t lim = C->len < n - pos ? C->len : n - pos;
        uint32_t l = (uint32_t)lcp(t->pool + C->off, key + pos, lim);
        if (l < C->len && !(ch = split(t, ch, l))) return -1;
        t->node[ch].val = val;
        m++;
        node = ch;
        pos += l;
    }
    if (node && pos == n) t->node[node].is_end = 1;
    if (m_nodes) *m_nodes = m;
    return 0;
}

long ot_match(const otrie *t, const int32_t *key, uint32_t n, ot_seg **segs, size_t *cap) {
    uint32_t node = 0;
    uint64_t pos = 0;
    long ns = 0;
    while (pos < n) {
        uint32_t ch = ot_child(t, node, key[pos]);
        if (!ch) break;
        const ot_node *C = &t->node[ch];
        uint64_t lim = C->len < n - pos ? C->len : n - pos;
        uint64_t l = lcp(t->pool + C->off, key + pos, lim);
        if ((size_t)ns == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            ot_seg *na = realloc(*segs, nc * sizeof *na);
            if (!na) return -1;
            *segs = na;
            *cap = nc;
        }
        (*segs)[ns++] = (ot_seg){.node = ch, .from = pos, .to = pos + l, .full = l == C->len};
        if (l < C->len) break;
        node = ch;
        pos += l;
    }
    return ns;
}
