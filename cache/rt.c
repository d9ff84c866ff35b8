/* rt.c -- the radix tree of the hybrid prefix cache (see rt.h for the
 * layouts and the invariants rt_check() verifies). */
#include "rt.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void changed(rt_tree *t, rt_node *n, int gone) {
    if (t->on_change) t->on_change(t->ctx, n, gone);
}

/* ---- child table (radix layout, nodes with many children) --------------- */

static uint32_t tok_hash(int32_t tk, uint32_t mask) {
    return ((uint32_t)tk * 2654435761u) & mask;
}

static int tab_build(rt_node *n) {
    uint32_t cap = 16;
    while (cap < n->nchild * 2 + 2) cap *= 2;
    rt_node **tab = calloc(cap, sizeof *tab);
    if (!tab) return -1;
    for (rt_node *c = n->first; c; c = c->next) {
        uint32_t h = tok_hash(c->tok[0], cap - 1);
        while (tab[h]) h = (h + 1) & (cap - 1);
        tab[h] = c;
    }
    free(n->tab);
    n->tab = tab;
    n->tabcap = cap;
    return 0;
}

static void tab_drop(rt_node *n) {
    free(n->tab);
    n->tab = NULL;
    n->tabcap = 0;
}

/* After a child was added: keep the table in step (or start one).  A
 * failed allocation just leaves the node without a table: lookups fall
 * back to the sibling list. */
static void tab_added(rt_tree *t, rt_node *n, rt_node *c) {
    if (t->layout != RT_RADIX) return;
    if (!n->tab) {
        if (n->nchild >= RT_TAB_MIN) tab_build(n);
        return;
    }
    if (n->nchild * 2 + 2 > n->tabcap) {
        if (tab_build(n)) tab_drop(n);
        return;
    }
    uint32_t h = tok_hash(c->tok[0], n->tabcap - 1);
    while (n->tab[h]) h = (h + 1) & (n->tabcap - 1);
    n->tab[h] = c;
}

/* c (same first token as old) replaces old in n's table. */
static void tab_replaced(rt_node *n, rt_node *old, rt_node *c) {
    if (!n->tab) return;
    uint32_t h = tok_hash(c->tok[0], n->tabcap - 1);
    while (n->tab[h] && n->tab[h] != old) h = (h + 1) & (n->tabcap - 1);
    if (n->tab[h] == old) n->tab[h] = c;
}

static void tab_removed(rt_node *n) {
    if (!n->tab) return;
    if (n->nchild < RT_TAB_MIN / 2 || tab_build(n)) tab_drop(n);
}

rt_node *rt_child(const rt_node *n, int32_t tk) {
    if (n->tab) {
        uint32_t h = tok_hash(tk, n->tabcap - 1);
        for (rt_node *c; (c = n->tab[h]); h = (h + 1) & (n->tabcap - 1))
            if (c->tok[0] == tk) return c;
        return NULL;
    }
    for (rt_node *c = n->first; c; c = c->next)
        if (c->tok[0] == tk) return c;
    return NULL;
}

/* ---- sibling list ---------------------------------------------------------- */

static void list_append(rt_node *p, rt_node *c) {
    c->parent = p;
    c->prev = p->last;
    c->next = NULL;
    if (p->last) p->last->next = c;
    else p->first = c;
    p->last = c;
    p->nchild++;
}

static void list_unlink(rt_node *p, rt_node *c) {
    if (c->prev) c->prev->next = c->next;
    else p->first = c->next;
    if (c->next) c->next->prev = c->prev;
    else p->last = c->prev;
    c->prev = c->next = NULL;
    p->nchild--;
}

/* c takes old's place among old's siblings. */
static void list_replace(rt_node *p, rt_node *old, rt_node *c) {
    c->parent = p;
    c->prev = old->prev;
    c->next = old->next;
    if (c->prev) c->prev->next = c;
    else p->first = c;
    if (c->next) c->next->prev = c;
    else p->last = c;
    old->prev = old->next = NULL;
}

/* ---- nodes ------------------------------------------------------------------ */

/* A detached node with room for cap tokens (and KV slots, if the store
 * keeps them), no slots, no state.  It is given the id t->next_id, but the
 * caller advances next_id only once the node is in the tree, so that a
 * mutation that fails later takes no id (rt.h: nothing changed). */
static rt_node *node_new(rt_tree *t, uint32_t cap) {
    rt_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    if (cap) {
        n->tok = malloc((size_t)cap * sizeof *n->tok);
        if (!n->tok) {
            free(n);
            return NULL;
        }
        if (t->store.kv_alloc) {
            n->kv = malloc((size_t)cap * sizeof *n->kv);
            if (!n->kv) {
                free(n->tok);
                free(n);
                return NULL;
            }
        }
    }
    n->cap = cap;
    n->state = RT_NO_STATE;
    n->pol.cidx = -1;
    n->id = t->next_id;
    return n;
}

static void node_free(rt_node *n) {
    free(n->tab);
    free(n->tok);
    free(n->kv);
    free(n);
}

/* Give back n's slots (KV and state) to the store: the first n->len KV
 * slots, so n->len must count exactly the slots it holds. */
static void node_release(rt_tree *t, rt_node *n) {
    if (n->kv && t->store.kv_free) t->store.kv_free(t->store.ctx, n->kv, n->len);
    if (n->state != RT_NO_STATE) t->store.ssm_free(t->store.ctx, n->state);
}

int rt_init(rt_tree *t, int layout, uint32_t block, rt_store store) {
    assert(layout == RT_RADIX || (layout == RT_BLOCK && block >= 1));
    assert(store.ssm_alloc && store.ssm_free);
    assert(!store.kv_alloc == !store.kv_free);
    memset(t, 0, sizeof *t);
    t->layout = layout;
    t->block = block;
    t->store = store;
    t->root = node_new(t, 0);
    if (!t->root) return -1;
    t->next_id++;
    return 0;
}

/* Free every node under and including root, post-order without recursion
 * (a node goes once its children are gone); release their slots to t's
 * store only if release. */
static void free_nodes(rt_tree *t, rt_node *root, int release) {
    rt_node *n = root;
    while (n) {
        if (n->first) {
            n = n->first;
            continue;
        }
        rt_node *p = n->parent;
        if (p) list_unlink(p, n);
        if (release) node_release(t, n);
        node_free(n);
        n = p;
    }
}

void rt_free(rt_tree *t) {
    if (!t->root) return;
    free_nodes(t, t->root, 1);
    memset(t, 0, sizeof *t);
}

static rt_node *copy_node(rt_tree *t, const rt_node *s) {
    rt_node *n = node_new(t, s->cap);
    if (!n) return NULL;
    if (s->len) memcpy(n->tok, s->tok, (size_t)s->len * sizeof *n->tok);
    if (s->kv && n->kv) memcpy(n->kv, s->kv, (size_t)s->len * sizeof *n->kv);
    n->len = s->len;
    n->end = s->end;
    n->ts = s->ts;
    n->state = s->state;
    n->lock = s->lock;
    n->pol = s->pol;
    n->hits = s->hits;
    n->read = s->read;
    n->id = s->id;
    return n;
}

int rt_clone(rt_tree *dst, const rt_tree *src) {
    memset(dst, 0, sizeof *dst);
    dst->layout = src->layout;
    dst->block = src->block;
    dst->store = rt_null_store(); /* a copy owns no slots: see rt.h */
    dst->root = copy_node(dst, src->root);
    if (!dst->root) return -1;
    /* pre-order over src; each node's copy is appended to its parent's copy,
     * so children keep their order.  A stack of (src, dst) pairs. */
    size_t cap = 64, sp = 0;
    const rt_node **ss = malloc(cap * sizeof *ss);
    rt_node **ds = malloc(cap * sizeof *ds);
    if (!ss || !ds) goto oom;
    ss[sp] = src->root;
    ds[sp++] = dst->root;
    while (sp) {
        const rt_node *s = ss[--sp];
        rt_node *d = ds[sp];
        for (const rt_node *c = s->last; c; c = c->prev) { /* pushed in reverse, popped in order */
            rt_node *dc = copy_node(dst, c);
            if (!dc) goto oom;
            /* children must be linked in order: prepend while walking backwards */
            dc->parent = d;
            dc->next = d->first;
            dc->prev = NULL;
            if (d->first) d->first->prev = dc;
            else d->last = dc;
            d->first = dc;
            d->nchild++;
            if (sp == cap) {
                cap *= 2;
                const rt_node **ns = realloc(ss, cap * sizeof *ns);
                if (!ns) goto oom;
                ss = ns;
                rt_node **nd = realloc(ds, cap * sizeof *nd);
                if (!nd) goto oom;
                ds = nd;
            }
            ss[sp] = c;
            ds[sp++] = dc;
        }
        if (s->tab && dst->layout == RT_RADIX && tab_build(d)) goto oom;
    }
    free(ss);
    free(ds);
    dst->nodes = src->nodes;
    dst->kv_tokens = src->kv_tokens;
    dst->states = src->states;
    dst->next_id = src->next_id;
    return 0;
oom:
    free(ss);
    free(ds);
    free_nodes(dst, dst->root, 0); /* the copies' slot numbers are src's: keep the slots */
    memset(dst, 0, sizeof *dst);
    return -1;
}

/* ---- navigation ----------------------------------------------------------- */

static uint32_t depth_of(const rt_node *n) {
    uint32_t d = 0;
    while (n->parent) {
        n = n->parent;
        d++;
    }
    return d;
}

int rt_preorder_cmp(const rt_node *a, const rt_node *b) {
    if (a == b) return 0;
    uint32_t da = depth_of(a), db = depth_of(b);
    const rt_node *x = a, *y = b;
    while (da > db) {
        x = x->parent;
        da--;
    }
    while (db > da) {
        y = y->parent;
        db--;
    }
    if (x == y) return a == x ? -1 : 1; /* one is an ancestor of the other: it comes first */
    while (x->parent != y->parent) {
        x = x->parent;
        y = y->parent;
    }
    for (const rt_node *s = x->next; s; s = s->next)
        if (s == y) return -1;
    return 1;
}

rt_node *rt_last_preorder(const rt_tree *t) {
    rt_node *n = t->root;
    while (n->last) n = n->last;
    return n;
}

int rt_walk(const rt_tree *t, int (*fn)(rt_node *n, void *arg), void *arg) {
    rt_node *n = t->root->first;
    while (n) {
        int r = fn(n, arg);
        if (r) return r;
        if (n->first) {
            n = n->first;
            continue;
        }
        while (n != t->root && !n->next) n = n->parent;
        n = n == t->root ? NULL : n->next;
    }
    return 0;
}

/* ---- mutation --------------------------------------------------------------- */

rt_node *rt_add_child(rt_tree *t, rt_node *parent, const int32_t *tok, uint32_t n, uint64_t ts, int with_state) {
    assert(parent && tok && n >= 1);
    assert(t->layout != RT_RADIX || !rt_child(parent, tok[0]));
    assert(t->layout != RT_BLOCK || (n <= t->block && (parent == t->root || parent->len == t->block)));
    uint32_t cap = n;
    if (t->layout == RT_BLOCK && cap < t->block) cap = t->block; /* a partial block grows in place */
    rt_node *c = node_new(t, cap);
    if (!c) return NULL;
    memcpy(c->tok, tok, (size_t)n * sizeof *tok);
    if (c->kv && t->store.kv_alloc(t->store.ctx, n, c->kv) != 0) {
        node_free(c);
        return NULL;
    }
    /* c->len counts the KV slots node_release gives back: set it as soon
     * as they are held, so a failed state allocation returns all n (it
     * used to be still 0 here, and the n slots leaked) */
    c->len = n;
    if (with_state) {
        c->state = t->store.ssm_alloc(t->store.ctx);
        if (c->state < 0) {
            c->state = RT_NO_STATE;
            node_release(t, c);
            node_free(c);
            return NULL;
        }
    }
    t->next_id++;
    c->end = parent->end + n;
    c->ts = ts;
    list_append(parent, c);
    tab_added(t, parent, c);
    t->nodes++;
    t->kv_tokens += n;
    t->states += with_state != 0;
    changed(t, c, 0);
    changed(t, parent, 0);
    return c;
}

rt_node *rt_split(rt_tree *t, rt_node *n, uint32_t k, uint64_t ts, int with_state) {
    assert(t->layout == RT_RADIX);
    assert(n && n->parent && k > 0 && k < n->len);
    rt_node *m = node_new(t, k);
    if (!m) return NULL;
    /* the state is the only slot a split takes (the KV slots of the first
     * k tokens move from n to m), and the last step that can fail: a
     * failure frees m, which holds nothing yet */
    if (with_state) {
        m->state = t->store.ssm_alloc(t->store.ctx);
        if (m->state < 0) {
            m->state = RT_NO_STATE;
            node_free(m);
            return NULL;
        }
    }
    t->next_id++;
    memcpy(m->tok, n->tok, (size_t)k * sizeof *m->tok);
    memmove(n->tok, n->tok + k, (size_t)(n->len - k) * sizeof *n->tok);
    if (n->kv) {
        memcpy(m->kv, n->kv, (size_t)k * sizeof *m->kv);
        memmove(n->kv, n->kv + k, (size_t)(n->len - k) * sizeof *n->kv);
    }
    rt_node *p = n->parent;
    m->len = k;
    m->end = p->end + k;
    m->ts = ts;
    m->lock = n->lock; /* whoever pinned n's path pins its new prefix too */
    m->read = n->read < k ? n->read : k;
    n->read = n->read > k ? n->read - k : 0;
    n->len -= k;
    list_replace(p, n, m);
    tab_replaced(p, n, m);
    n->prev = n->next = NULL;
    list_append(m, n);
    t->nodes++;
    t->states += with_state != 0;
    changed(t, m, 0);
    changed(t, n, 0);
    return m;
}

int rt_extend(rt_tree *t, rt_node *n, const int32_t *tok, uint32_t k) {
    assert(n && n->parent && n->nchild == 0);
    assert(t->layout != RT_BLOCK || n->len + k <= t->block);
    /* grow the buffers first: if the KV slots are then refused, the node
     * keeps larger buffers but holds exactly what it held */
    if (n->len + k > n->cap) {
        uint32_t nc = n->cap ? n->cap : 16;
        while (nc < n->len + k) nc *= 2;
        int32_t *nt = realloc(n->tok, (size_t)nc * sizeof *nt);
        if (!nt) return -1;
        n->tok = nt;
        if (n->kv) {
            int32_t *nk = realloc(n->kv, (size_t)nc * sizeof *nk);
            if (!nk) return -1;
            n->kv = nk;
        }
        n->cap = nc;
    }
    if (n->kv && t->store.kv_alloc(t->store.ctx, k, n->kv + n->len) != 0) return -1;
    memcpy(n->tok + n->len, tok, (size_t)k * sizeof *tok);
    n->len += k;
    n->end += k;
    t->kv_tokens += k;
    changed(t, n, 0);
    return 0;
}

void rt_move_last(rt_tree *t, rt_node *n) {
    assert(n && n->parent);
    rt_node *p = n->parent;
    if (p->last == n) return;
    list_unlink(p, n);
    list_append(p, n);
}

int rt_add_state(rt_tree *t, rt_node *n) {
    assert(n && n->parent); /* the root never holds a state (rt_check) */
    if (n->state != RT_NO_STATE) return 0;
    int32_t s = t->store.ssm_alloc(t->store.ctx);
    if (s < 0) return -1;
    n->state = s;
    t->states++;
    changed(t, n, 0);
    return 0;
}

void rt_drop_state(rt_tree *t, rt_node *n) {
    assert(n && n->parent);
    assert(n->state == RT_NO_STATE || t->states > 0);
    if (n->state == RT_NO_STATE) return;
    t->store.ssm_free(t->store.ctx, n->state);
    n->state = RT_NO_STATE;
    t->states--;
    changed(t, n, 0);
}

void rt_remove_leaf(rt_tree *t, rt_node *n) {
    assert(n && n->parent && n->nchild == 0);
    assert(t->nodes > 0 && t->kv_tokens >= n->len);
    rt_node *p = n->parent;
    list_unlink(p, n);
    tab_removed(p);
    t->nodes--;
    t->kv_tokens -= n->len;
    t->states -= n->state != RT_NO_STATE;
    changed(t, n, 1);
    node_release(t, n);
    node_free(n);
    changed(t, p, 0);
}

rt_node *rt_merge_into_child(rt_tree *t, rt_node *n) {
    assert(t->layout == RT_RADIX);
    assert(n && n->parent && n->nchild == 1);
    rt_node *c = n->first, *p = n->parent;
    /* only the merged buffers are allocated (no slot: n's KV slots move to
     * c, its state is freed), and before anything changes */
    uint32_t len = n->len + c->len;
    int32_t *nt = malloc((size_t)len * sizeof *nt);
    int32_t *nk = c->kv ? malloc((size_t)len * sizeof *nk) : NULL;
    if (!nt || (c->kv && !nk)) {
        free(nt);
        free(nk);
        return NULL;
    }
    memcpy(nt, n->tok, (size_t)n->len * sizeof *nt);
    memcpy(nt + n->len, c->tok, (size_t)c->len * sizeof *nt);
    if (nk) {
        memcpy(nk, n->kv, (size_t)n->len * sizeof *nk);
        memcpy(nk + n->len, c->kv, (size_t)c->len * sizeof *nk);
    }
    free(c->tok);
    free(c->kv);
    c->tok = nt;
    c->kv = nk;
    c->read = c->read ? c->read + n->len : n->read; /* read tokens stay a prefix */
    c->len = c->cap = len;
    if (n->ts > c->ts) c->ts = n->ts;
    list_unlink(n, c);
    list_replace(p, n, c);
    tab_replaced(p, n, c);
    t->nodes--;
    t->states -= n->state != RT_NO_STATE;
    if (n->state != RT_NO_STATE) t->store.ssm_free(t->store.ctx, n->state);
    n->state = RT_NO_STATE;
    changed(t, n, 1);
    n->len = 0; /* its KV slots now belong to c */
    node_free(n);
    changed(t, c, 0);
    return c;
}
