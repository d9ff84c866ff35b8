/* tr_chain.c -- the chains tr_tokens() follows: measured, and shortened.
 *
 * tr_tokens() rebuilds request i back to front: i's own tokens from the
 * pool, then the prefix it shares with its base from the base, and so on
 * down the chain of bases until the prefix is done.  A hop copies only when
 * the request it visits stores tokens below what is still missing; a base
 * that shares at least as long a prefix with its own base as the request
 * wants from it is passed through without copying anything:
 *
 *   want 0..s from b, and b shares s_b >= s with its base b2:
 *
 *     i   [ 0 ............ s | own ]         copies own
 *     b   [ 0 ..................... s_b | ]  copies nothing (s <= s_b)
 *     b2  [ 0 ... s_b2 | .............. ]   copies s_b2..s
 *
 * A packed trace's bases are chosen across sessions (the earlier request
 * with the longest common prefix, tr_pack.h), so such pass-through hops
 * pile up as the trace grows: a new session's first turn shares the
 * system prompt with the latest request of the session before it, which
 * passes the prompt down its whole session, which got it from the session
 * before that...  tr_chains_shorten() re-bases every request once on the
 * nearest ancestor that does copy: tokens 0..s of b are tokens 0..s of b2
 * whenever s <= s_b, so "i shares s with b2" is as true as "i shares s
 * with b".  Requests are taken in order, so an earlier request's chain is
 * already short when a later one walks it.  Afterwards every hop copies at
 * least one token: rebuilding a request costs O(its tokens), and the
 * replay is linear in the tokens however long the trace.  Nothing is
 * allocated: only bases change, in place.
 */
#include "tr.h"

void tr_chains_measure(const tr_trace *t, tr_chains *c) {
    tr_chains z = {0};
    for (size_t i = 0; i < t->n; i++) {
        const tr_req *r = &t->req[i];
        uint32_t upto = r->n_in + r->n_out;
        uint64_t steps = 0;
        z.tokens += upto;
        /* the loop of tr_tokens(), without the copying */
        for (int64_t j = (int64_t)i; upto > 0 && j >= 0; j = t->req[j].base) {
            const tr_req *q = &t->req[j];
            steps++;
            if (upto > q->n_shared) {
                z.copies++;
                upto = q->n_shared;
            }
        }
        z.steps += steps;
        if (steps > z.max_steps) z.max_steps = steps;
    }
    *c = z;
}

uint64_t tr_chains_shorten(tr_trace *t) {
    uint64_t moved = 0;
    for (size_t i = 0; i < t->n; i++) {
        tr_req *r = &t->req[i];
        int64_t b = r->base;
        if (r->n_shared == 0) b = -1; /* nothing comes from a base at all */
        while (b >= 0 && t->req[b].n_shared >= r->n_shared) b = t->req[b].base;
        if (b != r->base) {
            r->base = b;
            moved++;
        }
    }
    return moved;
}
