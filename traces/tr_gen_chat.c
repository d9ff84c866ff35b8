/* tr_gen_chat.c -- the LMSys- and ShareGPT-like conversations (see tr_gen.h
 * and docs/traces.md): the chat length model, fitted in closed form to a
 * dataset's published mean and standard deviation (tr_gen_fit_len, its
 * moments after clamping, draws, median), and a chat session's rounds of
 * user message + reply (tr_gen_chat_session).
 */
#include "tr_gen_int.h"

#include <math.h>
#include <string.h>

/* ---- fitting the chat length model --------------------------------------------- */

/* Normal CDF from the complementary error function of Numerical Recipes
 * (erfcc, fractional error < 1.2e-7: plenty for a fit), on tr_exp. */
static double phi(double x) {
    double z = fabs(x) * 0.70710678118654752440;
    double t = 1.0 / (1.0 + 0.5 * z);
    double ans =
        t * tr_exp(-z * z - 1.26551223 +
                   t * (1.00002368 +
                        t * (0.37409196 +
                             t * (0.09678418 +
                                  t * (-0.18628806 +
                                       t * (0.27886807 +
                                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
    /* ans = erfc(z); phi(x) = erfc(-x/sqrt 2) / 2 */
    return x >= 0 ? 1.0 - 0.5 * ans : 0.5 * ans;
}

/* Mean and second moment of min(X, cap), X lognormal(mu, s). */
static void ln_moments(double mu, double s, double cap, double *m1, double *m2) {
    double lc = tr_log(cap), a = (lc - mu) / s, above = phi(-a);
    *m1 = tr_exp(mu + 0.5 * s * s) * phi(a - s) + cap * above;
    *m2 = tr_exp(2.0 * mu + 2.0 * s * s) * phi(a - 2.0 * s) + cap * cap * above;
}

/* The same for X Lomax(alpha, lam): survival (1 + x/lam)^-alpha, so
 * E min(X,c) = int_0^c S and E min(X,c)^2 = int_0^c 2x S, in closed form
 * with U = 1 + c/lam. */
static void lomax_moments(double alpha, double lam, double cap, double *m1, double *m2) {
    double lu = tr_log(1.0 + cap / lam);
    double u1 = tr_exp((1.0 - alpha) * lu), u2 = tr_exp((2.0 - alpha) * lu);
    /* alpha = 1 and 2 are the log limits of the power integrals */
    double i1 = fabs(alpha - 1.0) < 1e-9 ? lu : (u1 - 1.0) / (1.0 - alpha);
    double i2 = fabs(alpha - 2.0) < 1e-9 ? lu : (u2 - 1.0) / (2.0 - alpha);
    *m1 = lam * i1;
    *m2 = 2.0 * lam * lam * (i2 - i1);
}

int tr_gen_fit_len(double mean, double sd, double cap, tr_len_model *m) {
    /* The published figures describe whole datasets, uncapped: fit them in
     * closed form, then clamp at cap as the context does.  Heavy tails
     * (sd > mean) take a Lomax, whose CV^2 = alpha / (alpha - 2): its median
     * stays near 40 % of the mean where a lognormal of the same CV collapses
     * to a handful of tokens.  Light ones take a lognormal,
     * sigma^2 = ln(1 + CV^2). */
    memset(m, 0, sizeof *m);
    m->cap = cap;
    if (!(mean > 0) || !(sd >= 0) || !(cap >= 1)) return -1;
    double cv2 = (sd / mean) * (sd / mean);
    if (cv2 > 1.01) {
        m->family = TR_LEN_LOMAX;
        m->a = 2.0 * cv2 / (cv2 - 1.0);
        m->b = mean * (m->a - 1.0);
    } else {
        m->family = TR_LEN_LOGNORMAL;
        double s2 = tr_log(1.0 + cv2);
        m->b = sqrt(s2);
        m->a = tr_log(mean) - 0.5 * s2;
    }
    return 0;
}

void tr_len_moments(const tr_len_model *m, double *mean, double *sd) {
    double m1, m2;
    if (m->family == TR_LEN_LOMAX) lomax_moments(m->a, m->b, m->cap, &m1, &m2);
    else if (m->b > 0) ln_moments(m->a, m->b, m->cap, &m1, &m2);
    else {
        m1 = tr_exp(m->a) < m->cap ? tr_exp(m->a) : m->cap;
        m2 = m1 * m1;
    }
    *mean = m1;
    *sd = m2 > m1 * m1 ? sqrt(m2 - m1 * m1) : 0.0;
}

uint32_t tr_len_draw(const tr_len_model *m, tr_rng *r) {
    double x;
    if (m->family == TR_LEN_LOMAX) {
        double u = 1.0 - tr_rng_unif(r); /* (0, 1] */
        x = m->b * (tr_exp(-tr_log(u) / m->a) - 1.0);
    } else {
        x = tr_exp(m->a + m->b * tr_rng_normal(r));
    }
    if (!(x < m->cap)) return (uint32_t)m->cap;
    double v = floor(x + 0.5);
    return v < 1.0 ? 1u : (uint32_t)v;
}

double tr_len_median(const tr_len_model *m) {
    double x = m->family == TR_LEN_LOMAX ? m->b * (tr_exp(tr_log(2.0) / m->a) - 1.0) : tr_exp(m->a);
    return x < m->cap ? x : m->cap;
}

/* ---- conversations ------------------------------------------------------------- */

/* A chat session: rounds of (user, reply) with the whole history as input. */
int tr_gen_chat_session(const tr_gen_cfg *c, const tr_chat_fit *f, uint32_t k, tr_gsess *s) {
    tr_rng rl, rt;
    tr_rng_seed(&rl, c->seed, (uint64_t)c->kind * 16 + TR_ST_LEN, k);
    tr_rng_seed(&rt, c->seed, (uint64_t)c->kind * 16 + TR_ST_TOK, k);
    uint32_t rounds = c->min_turns;
    if (c->turns_mean > c->min_turns) {
        /* Lomax with mean turns_mean - min_turns: scale (mean)(alpha - 1) */
        double scale = (c->turns_mean - c->min_turns) * (c->turns_alpha - 1.0);
        double u = 1.0 - tr_rng_unif(&rl); /* (0, 1] */
        double extra = scale * (tr_exp(-tr_log(u) / c->turns_alpha) - 1.0);
        rounds = extra >= (double)(c->max_turns - c->min_turns) ? c->max_turns : c->min_turns + (uint32_t)extra;
    }
    const tr_wrap *wu = &tr_wraps[c->kind][0], *wa = &tr_wraps[c->kind][1];
    double wps = c->wpm / 60.0, ts = (double)k / c->sps;
    for (uint32_t t = 0; t < rounds; t++) {
        uint32_t nu = tr_len_draw(&f->user, &rl);
        uint32_t nr = tr_len_draw(&f->reply, &rl);
        uint64_t lu = (uint64_t)wu->n_open + nu + wu->n_close, la = (uint64_t)wa->n_open + nr + wa->n_close;
        /* the artifact: LMSys stops once history + input + output would pass
         * the cap, ShareGPT once history + input would */
        uint64_t need = (uint64_t)s->n_tok + lu + (c->kind == TR_GEN_LMSYS ? la : 0);
        if (need > c->max_tokens) break;
        if (t > 0) {
            /* the next message comes after the user has typed it */
            double words = floor((double)nu * c->words_per_token);
            ts += words / wps;
        }
        int64_t uo = tr_gen_put_msg(s, wu, nu, &rt, c->vocab);
        int64_t ao = uo < 0 ? -1 : tr_gen_put_msg(s, wa, nr, &rt, c->vocab);
        if (ao < 0 || tr_gsess_turn(s, (uint32_t)uo, (uint32_t)lu, (uint32_t)ao, (uint32_t)la, (uint32_t)ao, ts))
            return -1;
    }
    return 0;
}

