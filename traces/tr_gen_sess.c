/* tr_gen_sess.c -- sessions as the generators and the converter assemble
 * them (tr_gen.h): the message wrappers (json.dumps' tokens around a
 * message), a session's token array and turn table, the kept history and a
 * turn's input, and sessions to a trace (tr_gsess_build: requests sorted by
 * arrival, each handed to the prefix-sharing builder).
 */
#include "tr_gen_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- message wrappers ---------------------------------------------------------- *
 * Stand-ins for the Llama-2 tokens of json.dumps around a message's content:
 * BOS, then e.g. '{"' 'content' '":' ' "' ... and '",' ' "' 'role' ... '"}'.
 * The IDs are Llama-2-like; what matters is that every message of a role
 * opens with the same tokens. */

static const int32_t LM_OPEN[] = {1, 8853, 3051, 1115, 376};                         /* {"content": " */
static const int32_t LM_CLOSE_U[] = {613, 376, 12154, 1115, 376, 1792, 9092};        /* ", "role": "user"} */
static const int32_t LM_CLOSE_A[] = {613, 376, 12154, 1115, 376, 465, 22137, 9092};  /* ", "role": "assistant"} */
static const int32_t SG_OPEN_U[] = {1, 8853, 3166, 1115, 376, 26029, 613, 376, 1767, 1115, 376}; /* {"from": "human", "value": " */
static const int32_t SG_OPEN_A[] = {1, 8853, 3166, 1115, 376, 29887, 415, 613, 376, 1767, 1115, 376}; /* ... "gpt" ... */
static const int32_t CLOSE_Q[] = {9092};                                              /* "} */
static const int32_t SW_OPEN_S[] = {1, 8853, 12154, 1115, 376, 5205, 613, 376, 3051, 1115, 376}; /* {"role": "system", "content": " */
static const int32_t SW_OPEN_U[] = {1, 8853, 12154, 1115, 376, 1792, 613, 376, 3051, 1115, 376}; /* ... "user" ... */
static const int32_t SW_OPEN_A[] = {1, 8853, 12154, 1115, 376, 465, 22137, 613, 376, 3051, 1115, 376}; /* ... "assistant" ... */

#define W(o, c) {o, c, sizeof o / sizeof o[0], sizeof c / sizeof c[0]}
const tr_wrap tr_wraps[3][3] = {
    /* role: user/observation, reply/action, system */
    [TR_GEN_LMSYS] = {W(LM_OPEN, LM_CLOSE_U), W(LM_OPEN, LM_CLOSE_A), W(LM_OPEN, LM_CLOSE_U)},
    [TR_GEN_SHAREGPT] = {W(SG_OPEN_U, CLOSE_Q), W(SG_OPEN_A, CLOSE_Q), W(SG_OPEN_U, CLOSE_Q)},
    [TR_GEN_SWEBENCH] = {W(SW_OPEN_U, CLOSE_Q), W(SW_OPEN_A, CLOSE_Q), W(SW_OPEN_S, CLOSE_Q)},
};

uint32_t tr_gen_wrapper_tokens(tr_gen_kind kind, int role) {
    if ((unsigned)kind > TR_GEN_SWEBENCH || role < 0 || role > 2) return 0;
    return tr_wraps[kind][role].n_open + tr_wraps[kind][role].n_close;
}

/* ---- sessions ------------------------------------------------------------------- */

int32_t *tr_gsess_grow(tr_gsess *s, uint32_t n) {
    uint64_t need = (uint64_t)s->n_tok + n;
    if (need > 0xfffffff0u) return NULL;
    if (need > s->cap) {
        uint64_t nc = s->cap ? s->cap : 1024;
        while (nc < need) nc *= 2;
        if (nc > 0xfffffff0u) nc = need;
        int32_t *p = realloc(s->tok, (size_t)nc * 4);
        if (!p) return NULL;
        s->tok = p;
        s->cap = (uint32_t)nc;
    }
    int32_t *dst = s->tok + s->n_tok;
    s->n_tok += n;
    return dst;
}

int tr_gsess_turn(tr_gsess *s, uint32_t obs_off, uint32_t obs_len, uint32_t out_off, uint32_t out_len, uint32_t in_len,
                  double ts) {
    if (s->n_turn == s->turn_cap) {
        uint32_t nc = s->turn_cap ? s->turn_cap * 2 : 16;
        tr_gturn *nt = realloc(s->turn, (size_t)nc * sizeof *nt);
        if (!nt) return -1;
        s->turn = nt;
        s->turn_cap = nc;
    }
    s->turn[s->n_turn++] = (tr_gturn){obs_off, obs_len, out_off, out_len, in_len, ts};
    return 0;
}

void tr_gsess_free(tr_gsess *ss, size_t n) {
    for (size_t k = 0; ss && k < n; k++) {
        free(ss[k].tok);
        free(ss[k].turn);
        ss[k] = (tr_gsess){0};
    }
}

/* Append a wrapped message of n content tokens drawn from r; returns its
 * offset in the session, or -1 on OOM. */
int64_t tr_gen_put_msg(tr_gsess *s, const tr_wrap *w, uint32_t n, tr_rng *r, uint32_t vocab) {
    uint32_t off = s->n_tok;
    int32_t *d = tr_gsess_grow(s, w->n_open + n + w->n_close);
    if (!d) return -1;
    memcpy(d, w->open, (size_t)w->n_open * 4);
    d += w->n_open;
    for (uint32_t i = 0; i < n; i++) *d++ = tr_draw_token(r, vocab);
    memcpy(d, w->close, (size_t)w->n_close * 4);
    return off;
}

uint64_t tr_gsess_next_hist(const tr_gsess *s, uint64_t hist, uint32_t keep_obs) {
    /* the latest turn joins the history, and the observation keep_obs turns
     * back leaves it (never the first: system + task), as the artifact pops
     * it once six complete turns are kept (keep_obs 5) */
    uint32_t t = s->n_turn - 1;
    hist += (uint64_t)s->turn[t].obs_len + s->turn[t].out_len;
    if (keep_obs && t >= keep_obs + 1) hist -= s->turn[t - keep_obs].obs_len;
    return hist;
}

uint32_t tr_gsess_input(const tr_gsess *s, uint32_t t, uint32_t keep_obs, int32_t *buf) {
    uint32_t n = 0;
    for (uint32_t j = 0; j < t; j++) {
        const tr_gturn *g = &s->turn[j];
        if (j == 0 || !keep_obs || t <= j + keep_obs) {
            memcpy(buf + n, s->tok + g->obs_off, (size_t)g->obs_len * 4);
            n += g->obs_len;
        }
        memcpy(buf + n, s->tok + g->out_off, (size_t)g->out_len * 4);
        n += g->out_len;
    }
    memcpy(buf + n, s->tok + s->turn[t].obs_off, (size_t)s->turn[t].obs_len * 4);
    return n + s->turn[t].obs_len;
}

/* ---- arrivals and requests ----------------------------------------------------- */

typedef struct gev {
    double ts;     /* arrival */
    uint32_t sess; /* session index */
    uint32_t turn; /* turn within it */
} gev;

static int ev_cmp(const void *a, const void *b) {
    const gev *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    if (x->sess != y->sess) return x->sess < y->sess ? -1 : 1;
    return x->turn < y->turn ? -1 : x->turn > y->turn;
}

int tr_gsess_build(const tr_gsess *ss, size_t n, uint32_t keep_obs, tr_trace *out, tr_err *err) {
    memset(out, 0, sizeof *out);
    size_t n_ev = 0;
    uint32_t max_in = 0;
    for (size_t k = 0; k < n; k++) {
        n_ev += ss[k].n_turn;
        for (uint32_t t = 0; t < ss[k].n_turn; t++)
            if (ss[k].turn[t].in_len > max_in) max_in = ss[k].turn[t].in_len;
    }
    if (n_ev == 0) {
        tr_gen_err(err, "no request: every session is empty");
        return -1;
    }
    int rc = -1;
    gev *ev = malloc(n_ev * sizeof *ev);
    int32_t *buf = malloc(((size_t)max_in + 1) * 4);
    tr_builder *b = tr_builder_new();
    if (!ev || !buf || !b) {
        tr_gen_err(err, "out of memory building the trace");
        goto out;
    }
    n_ev = 0;
    for (size_t k = 0; k < n; k++)
        for (uint32_t t = 0; t < ss[k].n_turn; t++) ev[n_ev++] = (gev){ss[k].turn[t].ts, (uint32_t)k, t};
    qsort(ev, n_ev, sizeof *ev, ev_cmp);
    for (size_t i = 0; i < n_ev; i++) {
        const tr_gsess *s = &ss[ev[i].sess];
        const tr_gturn *g = &s->turn[ev[i].turn];
        uint32_t n_in = tr_gsess_input(s, ev[i].turn, keep_obs, buf);
        if (tr_builder_add(b, ev[i].sess, ev[i].turn, g->ts, buf, n_in, s->tok + g->out_off, g->out_len, err)) goto out;
    }
    rc = tr_builder_finish(b, out, NULL, err);
    b = NULL;
out:
    free(ev);
    free(buf);
    tr_builder_free(b);
    return rc;
}

