/* rt_check.c -- the full walk that recounts everything the tree keeps
 * incrementally (rt_check; the tests run it after every mutation), and a
 * debugging dump (see rt.h). */
#include "cache/rt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- checking ----------------------------------------------------------------- */

#define FAIL(...)                                  \
    do {                                           \
        snprintf(err, errlen, __VA_ARGS__);        \
        free(stack);                               \
        return -1;                                 \
    } while (0)

int rt_check(const rt_tree *t, char *err, size_t errlen) {
    size_t cap = 64, sp = 0;
    const rt_node **stack = malloc(cap * sizeof *stack);
    if (!stack) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint64_t nodes = 0, kv = 0, states = 0;
    const rt_node *r = t->root;
    if (r->parent || r->len || r->end || r->state != RT_NO_STATE) FAIL("root holds tokens or state");
    stack[sp++] = r;
    while (sp) {
        const rt_node *n = stack[--sp];
        uint32_t cnt = 0;
        const rt_node *prev = NULL;
        for (const rt_node *c = n->first; c; c = c->next) {
            cnt++;
            if (c->parent != n) FAIL("node %" PRIu64 ": parent link broken", c->id);
            if (c->prev != prev) FAIL("node %" PRIu64 ": sibling prev link broken", c->id);
            if (c->len == 0 || !c->tok) FAIL("node %" PRIu64 ": empty edge", c->id);
            if (c->len > c->cap) FAIL("node %" PRIu64 ": len %u > cap %u", c->id, c->len, c->cap);
            if (c->end != n->end + c->len)
                FAIL("node %" PRIu64 ": end %" PRIu64 " != parent end %" PRIu64 " + len %u", c->id, c->end,
                     n->end, c->len);
            if (t->store.kv_alloc && !c->kv) FAIL("node %" PRIu64 ": no KV slots", c->id);
            if (t->layout == RT_RADIX) {
                if (rt_child(n, c->tok[0]) != c)
                    FAIL("node %" PRIu64 ": not found by its first token %d", c->id, c->tok[0]);
            } else {
                if (c->len > t->block) FAIL("node %" PRIu64 ": block of %u > %u tokens", c->id, c->len, t->block);
                if (c->first && c->len != t->block) FAIL("node %" PRIu64 ": partial block has children", c->id);
                for (const rt_node *d = n->first; d != c; d = d->next)
                    if (d->len == c->len && memcmp(d->tok, c->tok, (size_t)c->len * sizeof *c->tok) == 0)
                        FAIL("node %" PRIu64 ": duplicate block", c->id);
            }
            nodes++;
            kv += c->len;
            states += c->state != RT_NO_STATE;
            if (sp == cap) {
                cap *= 2;
                const rt_node **ns = realloc(stack, cap * sizeof *ns);
                if (!ns) FAIL("out of memory");
                stack = ns;
            }
            stack[sp++] = c;
            prev = c;
        }
        if (n->last != prev) FAIL("node %" PRIu64 ": last-child link broken", n->id);
        if (cnt != n->nchild) FAIL("node %" PRIu64 ": nchild %u but %u children", n->id, n->nchild, cnt);
        if (n->tab) {
            uint32_t in_tab = 0;
            for (uint32_t i = 0; i < n->tabcap; i++) in_tab += n->tab[i] != NULL;
            if (in_tab != cnt) FAIL("node %" PRIu64 ": child table has %u of %u children", n->id, in_tab, cnt);
        }
    }
    free(stack);
    if (nodes != t->nodes) {
        snprintf(err, errlen, "nodes counter %" PRIu64 " != %" PRIu64, t->nodes, nodes);
        return -1;
    }
    if (kv != t->kv_tokens) {
        snprintf(err, errlen, "kv_tokens counter %" PRIu64 " != %" PRIu64, t->kv_tokens, kv);
        return -1;
    }
    if (states != t->states) {
        snprintf(err, errlen, "states counter %" PRIu64 " != %" PRIu64, t->states, states);
        return -1;
    }
    return 0;
}

static void dump_rec(const rt_node *n, int depth, FILE *f) {
    for (const rt_node *c = n->first; c; c = c->next) {
        fprintf(f, "%*s[%u tok, end %" PRIu64 ", ts %" PRIu64 "%s%s] %d..\n", depth * 2, "", c->len, c->end, c->ts,
                c->state != RT_NO_STATE ? ", state" : "", c->lock ? ", locked" : "", c->tok[0]);
        dump_rec(c, depth + 1, f);
    }
}

void rt_dump(const rt_tree *t, FILE *f) {
    fprintf(f, "tree: %" PRIu64 " nodes, %" PRIu64 " KV tokens, %" PRIu64 " states\n", t->nodes, t->kv_tokens,
            t->states);
    dump_rec(t->root, 0, f);
}
