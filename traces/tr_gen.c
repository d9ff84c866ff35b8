/* tr_gen.c -- the synthetic workload generators (see tr_gen.h and
 * docs/traces.md).
 *
 * A generator works in three passes:
 *
 *   1. sessions: each session's messages are drawn into its own token array,
 *      laid out in conversation order, with a turn table saying where each
 *      turn's input message(s) and reply sit;
 *   2. arrivals: one event (ts, session, turn) per request, sorted by ts with
 *      ties in (session, turn) order -- the artifact's stable sort of a list
 *      built session by session;
 *   3. requests: each event's input (the kept history plus the new message)
 *      is assembled into one buffer and handed to tr_builder_add, which keeps
 *      only the tokens not shared with the session's previous request.
 *
 *   session token array (swebench):
 *   [ sys | task | act0 | obs1 | act1 | obs2 | act2 | ... ]
 *     \___obs0___/
 *   request t input = obs0 act0 (obs1) act1 ... (obs_{t-1}) act_{t-1} obs_t
 *   where obs_j (j >= 1) is left out once t > j + keep_obs.
 */
#include "tr_gen.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* ---- deterministic arithmetic ---------------------------------------------- */

static const double LN2_HI = 6.93147180369123816490e-01; /* ln 2, high bits (exact k*LN2_HI) */
static const double LN2_LO = 1.90821492927058770002e-10; /* ln 2 - LN2_HI */

double tr_exp(double x) {
    if (x != x) return x;
    if (x > 709.0) return HUGE_VAL;
    if (x < -745.0) return 0.0;
    /* x = k ln2 + r with |r| <= ln2/2; e^r by its Taylor series in Horner
     * form (18 terms: 0.35^18/18! < 1e-23), then scale by 2^k exactly */
    double kf = floor(x * 1.4426950408889634 + 0.5);
    double r = (x - kf * LN2_HI) - kf * LN2_LO;
    double p = 1.0;
    for (int i = 18; i >= 1; i--) p = 1.0 + r * p / (double)i;
    return ldexp(p, (int)kf);
}

double tr_log(double x) {
    if (x != x || x < 0) return NAN;
    if (x == 0) return -HUGE_VAL;
    if (isinf(x)) return x;
    int e;
    double m = frexp(x, &e); /* exact: x = m 2^e, m in [0.5, 1) */
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        e -= 1;
    }
    /* log m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.172: 14 odd terms */
    double s = (m - 1.0) / (m + 1.0), s2 = s * s, p = 0.0;
    for (int k = 14; k >= 0; k--) p = 1.0 / (double)(2 * k + 1) + s2 * p;
    return (double)e * LN2_HI + (2.0 * s * p + (double)e * LN2_LO);
}

/* ---- random numbers ---------------------------------------------------------- */

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void tr_rng_seed(tr_rng *r, uint64_t seed, uint64_t stream, uint64_t sub) {
    /* independent streams per (seed, stream, sub): hash the triple, so a
     * session's draws never depend on how many other sessions there are */
    r->s = mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ mix64(stream * 0xd1b54a32d192ed03ULL + 1) ^
                 mix64(sub * 0xabc98388fb8fac03ULL + 2));
}

uint64_t tr_rng_u64(tr_rng *r) {
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

double tr_rng_unif(tr_rng *r) { return (double)(tr_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

double tr_rng_normal(tr_rng *r) {
    double u, v, s;
    do {
        u = 2.0 * tr_rng_unif(r) - 1.0;
        v = 2.0 * tr_rng_unif(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * tr_log(s) / s); /* sqrt is exactly rounded in IEEE 754 */
}

uint64_t tr_rng_poisson(tr_rng *r, double lam) {
    /* Knuth's product of uniforms; a sum of Poissons is Poisson, so large
     * means go in pieces of 30 to keep e^-lam far from underflow */
    uint64_t k = 0;
    while (lam > 0) {
        double part = lam > 30.0 ? 30.0 : lam;
        lam -= part;
        double lim = tr_exp(-part), p = 1.0;
        for (;;) {
            p *= tr_rng_unif(r);
            if (p <= lim) break;
            k++;
        }
    }
    return k;
}

uint32_t tr_rng_lognormal_len(tr_rng *r, double mu, double sigma, uint32_t lo, uint32_t hi) {
    double x = tr_exp(mu + sigma * tr_rng_normal(r));
    if (!(x < (double)hi)) return hi;
    double v = floor(x + 0.5);
    if (v < (double)lo) return lo;
    return (uint32_t)v;
}

/* A token ID uniform in [3, vocab): 0-2 are unk, BOS and EOS. */
static int32_t draw_token(tr_rng *r, uint32_t vocab) {
    return (int32_t)(3 + (((tr_rng_u64(r) >> 32) * (uint64_t)(vocab - 3)) >> 32));
}

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

/* ---- kinds, knobs and specs ---------------------------------------------------- */

static const char *const kind_names[TR_GEN_NKINDS] = {"lmsys", "sharegpt", "swebench", "shared-prefix"};

const char *tr_gen_kind_name(tr_gen_kind k) { return (unsigned)k < TR_GEN_NKINDS ? kind_names[k] : "?"; }

int tr_gen_kind_parse(const char *name) {
    for (int i = 0; i < TR_GEN_NKINDS; i++)
        if (!strcmp(name, kind_names[i])) return i;
    return -1;
}

void tr_gen_defaults(tr_gen_kind kind, tr_gen_cfg *c) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->sessions = 100;
    c->sps = 1.0;
    c->seed = 1;
    c->max_tokens = 32768;
    c->vocab = 32000;
    c->msg_max = 32768;
    c->wpm = 90.0;
    c->words_per_token = 0.75;
    c->min_turns = 10;
    c->turns_alpha = 2.0;
    c->max_turns = 200;
    c->keep_obs = 5;
    switch (kind) {
    case TR_GEN_LMSYS: /* LMSYS-Chat-1M: user 69.8 +- 143.5, reply 215.7 +- 1858.1 */
        c->user_mean = 70;
        c->user_sd = 143;
        c->reply_mean = 216;
        c->reply_sd = 1858;
        c->turns_mean = 14;
        break;
    case TR_GEN_SHAREGPT: /* ShareGPT: user 94.46 +- 626.39, reply 348.45 +- 269.93 */
        c->user_mean = 94;
        c->user_sd = 626;
        c->reply_mean = 348;
        c->reply_sd = 270;
        c->turns_mean = 15;
        break;
    case TR_GEN_SWEBENCH: /* fitted to 100 real mini-swe-agent trajectories (docs/traces.md) */
        c->art = 7.5;
        c->max_turns = 51;
        c->system_tokens = 1500;
        c->task_min = 645;
        c->task_median = 455;
        c->task_sigma = 0.9;
        c->obs_median = 200;
        c->obs_sigma = 1.3;
        c->act_min = 30;
        c->act_median = 105;
        c->act_sigma = 1.55;
        c->traj_median = 33;
        c->traj_sigma = 0.3;
        break;
    case TR_GEN_SHARED_PREFIX: /* SGLang's generated-shared-prefix defaults */
        c->system_tokens = 2048;
        c->groups = 8;
        c->question_tokens = 128;
        c->output_tokens = 256;
        break;
    default: break;
    }
}

enum { K_U32, K_U64, K_DBL };
#define KM(k) (1u << (k))
#define CHAT (KM(TR_GEN_LMSYS) | KM(TR_GEN_SHAREGPT))
#define SWE KM(TR_GEN_SWEBENCH)
#define SP KM(TR_GEN_SHARED_PREFIX)
#define ALL (CHAT | SWE | SP)

static const struct knob {
    const char *name;   /* flag without dashes */
    int type;           /* K_* */
    size_t off;         /* offsetof in tr_gen_cfg */
    double lo, hi;      /* accepted range, inclusive */
    int lo_open;        /* the range excludes lo */
    unsigned kinds;     /* KM() of the kinds that use it */
    const char *help;   /* for --help */
} knobs[] = {
    {"sessions", K_U32, offsetof(tr_gen_cfg, sessions), 1, 1e7, 0, ALL, "sessions (shared-prefix: requests)"},
    {"sps", K_DBL, offsetof(tr_gen_cfg, sps), 0, 1e6, 1, ALL, "sessions per second: session k starts at k/sps s"},
    {"seed", K_U64, offsetof(tr_gen_cfg, seed), 0, 9.2e18, 0, ALL, "PRNG seed"},
    {"max-tokens", K_U32, offsetof(tr_gen_cfg, max_tokens), 2, 1073741824, 0, ALL,
     "context cap: a session stops at the first turn past it"},
    {"vocab", K_U32, offsetof(tr_gen_cfg, vocab), 4, 2147483648.0, 0, ALL, "content token IDs are in [3, vocab)"},
    {"user-mean", K_DBL, offsetof(tr_gen_cfg, user_mean), 0, 1e6, 1, CHAT, "user message tokens, mean"},
    {"user-sd", K_DBL, offsetof(tr_gen_cfg, user_sd), 0, 1e7, 0, CHAT, "user message tokens, standard deviation"},
    {"reply-mean", K_DBL, offsetof(tr_gen_cfg, reply_mean), 0, 1e6, 1, CHAT, "reply tokens, mean"},
    {"reply-sd", K_DBL, offsetof(tr_gen_cfg, reply_sd), 0, 1e7, 0, CHAT, "reply tokens, standard deviation"},
    {"msg-max", K_U32, offsetof(tr_gen_cfg, msg_max), 1, 1073741824, 0, CHAT, "longest message, tokens"},
    {"min-turns", K_U32, offsetof(tr_gen_cfg, min_turns), 1, 1e6, 0, CHAT, "rounds every conversation has"},
    {"turns-mean", K_DBL, offsetof(tr_gen_cfg, turns_mean), 1, 1e6, 0, CHAT, "mean rounds before the token cap"},
    {"turns-alpha", K_DBL, offsetof(tr_gen_cfg, turns_alpha), 1, 100, 1, CHAT, "tail index of rounds - min-turns"},
    {"max-turns", K_U32, offsetof(tr_gen_cfg, max_turns), 1, 1e6, 0, CHAT | SWE, "most turns of a session"},
    {"wpm", K_DBL, offsetof(tr_gen_cfg, wpm), 0, 1e6, 1, CHAT, "typing speed, words per minute"},
    {"words-per-token", K_DBL, offsetof(tr_gen_cfg, words_per_token), 0, 100, 0, CHAT,
     "words typed per user-message token"},
    {"art", K_DBL, offsetof(tr_gen_cfg, art), 0, 1e5, 0, SWE, "mean seconds between turns (Poisson, whole s)"},
    {"system-tokens", K_U32, offsetof(tr_gen_cfg, system_tokens), 0, 16777216, 0, SWE | SP,
     "system prompt shared by all sessions (shared-prefix: per group)"},
    {"task-min", K_DBL, offsetof(tr_gen_cfg, task_min), 0, 1e7, 0, SWE, "task message: this + a lognormal"},
    {"task-median", K_DBL, offsetof(tr_gen_cfg, task_median), 0, 1e7, 1, SWE, "... its median"},
    {"task-sigma", K_DBL, offsetof(tr_gen_cfg, task_sigma), 0, 10, 0, SWE, "... its sigma"},
    {"obs-median", K_DBL, offsetof(tr_gen_cfg, obs_median), 0, 1e7, 1, SWE, "observation tokens, median"},
    {"obs-sigma", K_DBL, offsetof(tr_gen_cfg, obs_sigma), 0, 10, 0, SWE, "... sigma of the log"},
    {"obs-sess-sigma", K_DBL, offsetof(tr_gen_cfg, obs_sess_sigma), 0, 10, 0, SWE,
     "sigma of a per-session factor on obs-median"},
    {"act-min", K_U32, offsetof(tr_gen_cfg, act_min), 0, 16777216, 0, SWE, "action message: this + a lognormal"},
    {"act-median", K_DBL, offsetof(tr_gen_cfg, act_median), 0, 1e7, 1, SWE, "action tokens, median"},
    {"act-sigma", K_DBL, offsetof(tr_gen_cfg, act_sigma), 0, 10, 0, SWE, "... sigma of the log"},
    {"act-sess-sigma", K_DBL, offsetof(tr_gen_cfg, act_sess_sigma), 0, 10, 0, SWE,
     "sigma of a per-session factor on act-median"},
    {"traj-median", K_DBL, offsetof(tr_gen_cfg, traj_median), 0, 1e6, 1, SWE, "turns an agent takes uncapped, median"},
    {"traj-sigma", K_DBL, offsetof(tr_gen_cfg, traj_sigma), 0, 10, 0, SWE, "... sigma of the log"},
    {"keep-obs", K_U32, offsetof(tr_gen_cfg, keep_obs), 0, 1e6, 0, SWE,
     "observations older than this many turns are dropped (0: never)"},
    {"groups", K_U32, offsetof(tr_gen_cfg, groups), 1, 1e7, 0, SP, "distinct shared prompts"},
    {"question-tokens", K_U32, offsetof(tr_gen_cfg, question_tokens), 0, 16777216, 0, SP, "question after the prompt"},
    {"output-tokens", K_U32, offsetof(tr_gen_cfg, output_tokens), 0, 16777216, 0, SP, "output per request"},
};

int tr_gen_knob_count(void) { return (int)(sizeof knobs / sizeof knobs[0]); }

const char *tr_gen_knob_info(int i, unsigned *kinds, const char **help) {
    if (i < 0 || i >= tr_gen_knob_count()) return NULL;
    if (kinds) *kinds = knobs[i].kinds;
    if (help) *help = knobs[i].help;
    return knobs[i].name;
}

static void gerr(tr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gerr(tr_err *err, const char *fmt, ...) {
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

int tr_gen_set(tr_gen_cfg *c, const char *key, const char *val, tr_err *err) {
    const struct knob *k = NULL;
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++)
        if (!strcmp(knobs[i].name, key)) k = &knobs[i];
    if (!k) {
        gerr(err, "%s: not a generator setting (marconi gen --help lists them)", key);
        return -1;
    }
    if (!(k->kinds & KM(c->kind))) {
        gerr(err, "%s: not a setting of the %s generator", key, tr_gen_kind_name(c->kind));
        return -1;
    }
    double v;
    if (k->type == K_DBL) {
        if (mu_parse_double(val, &v) || !isfinite(v)) goto bad;
    } else {
        long long iv;
        if (mu_parse_long(val, 0, k->type == K_U64 ? 0x7fffffffffffffffLL : 0xffffffffLL, &iv)) goto bad;
        v = (double)iv;
        if (k->type == K_U64) {
            if (v < k->lo) goto bad;
            *(uint64_t *)((char *)c + k->off) = (uint64_t)iv;
            return 0;
        }
    }
    if (v < k->lo || v > k->hi || (k->lo_open && v == k->lo)) goto bad;
    if (k->type == K_DBL) *(double *)((char *)c + k->off) = v;
    else *(uint32_t *)((char *)c + k->off) = (uint32_t)v;
    return 0;
bad:
    gerr(err, "%s: '%.60s' is not %s in %s%.15g, %.15g]", key, val, k->type == K_DBL ? "a number" : "an integer",
         k->lo_open ? "(" : "[", k->lo, k->hi);
    return -1;
}

int tr_gen_get(const tr_gen_cfg *c, const char *key, char *buf) {
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
        if (strcmp(knobs[i].name, key)) continue;
        const char *p = (const char *)c + knobs[i].off;
        if (knobs[i].type == K_DBL) mu_fmt_double(*(const double *)p, buf);
        else if (knobs[i].type == K_U64) snprintf(buf, 48, "%llu", (unsigned long long)*(const uint64_t *)p);
        else snprintf(buf, 48, "%u", *(const uint32_t *)p);
        return 0;
    }
    return -1;
}

int tr_gen_parse_spec(const char *spec, tr_gen_cfg *c, tr_err *err) {
    char buf[1024];
    if (strlen(spec) >= sizeof buf) {
        gerr(err, "generator spec '%.60s...' is too long", spec);
        return -1;
    }
    strcpy(buf, spec);
    char *colon = strchr(buf, ':');
    if (colon) *colon = '\0';
    int kind = tr_gen_kind_parse(buf);
    if (kind < 0) {
        gerr(err, "'%s' is not a generator (lmsys, sharegpt, swebench, shared-prefix)", buf);
        return -1;
    }
    tr_gen_cfg tmp;
    tr_gen_defaults((tr_gen_kind)kind, &tmp);
    if (colon) {
        char *save = NULL;
        for (char *kv = strtok_r(colon + 1, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq) {
                gerr(err, "'%s' in the generator spec is not key=value", kv);
                return -1;
            }
            *eq = '\0';
            if (tr_gen_set(&tmp, kv, eq + 1, err)) return -1;
        }
    }
    if (tr_gen_check(&tmp, err)) return -1;
    *c = tmp;
    return 0;
}

int tr_gen_check(const tr_gen_cfg *c, tr_err *err) {
    char a[40];
    if ((unsigned)c->kind >= TR_GEN_NKINDS) {
        gerr(err, "unknown generator kind");
        return -1;
    }
    if (!(c->sps > 0) || c->sessions < 1 || c->vocab < 4 || c->max_tokens < 2) {
        gerr(err, "sessions, sps, vocab and max-tokens must be positive");
        return -1;
    }
    if (c->kind == TR_GEN_LMSYS || c->kind == TR_GEN_SHAREGPT) {
        if (c->turns_mean < c->min_turns) {
            gerr(err, "turns-mean: %s is below min-turns %u", mu_fmt_double(c->turns_mean, a), c->min_turns);
            return -1;
        }
        if (c->max_turns < c->min_turns) {
            gerr(err, "max-turns: %u is below min-turns %u", c->max_turns, c->min_turns);
            return -1;
        }
        if (c->user_mean >= c->msg_max || c->reply_mean >= c->msg_max) {
            gerr(err, "msg-max: %u is not above user-mean and reply-mean", c->msg_max);
            return -1;
        }
    }
    return 0;
}

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

typedef struct wrap {
    const int32_t *open, *close; /* tokens before / after the content */
    uint32_t n_open, n_close;    /* their counts */
} wrap;

#define W(o, c) {o, c, sizeof o / sizeof o[0], sizeof c / sizeof c[0]}
static const wrap WRAPS[3][3] = {
    /* role: user/observation, reply/action, system */
    [TR_GEN_LMSYS] = {W(LM_OPEN, LM_CLOSE_U), W(LM_OPEN, LM_CLOSE_A), W(LM_OPEN, LM_CLOSE_U)},
    [TR_GEN_SHAREGPT] = {W(SG_OPEN_U, CLOSE_Q), W(SG_OPEN_A, CLOSE_Q), W(SG_OPEN_U, CLOSE_Q)},
    [TR_GEN_SWEBENCH] = {W(SW_OPEN_U, CLOSE_Q), W(SW_OPEN_A, CLOSE_Q), W(SW_OPEN_S, CLOSE_Q)},
};

uint32_t tr_gen_wrapper_tokens(tr_gen_kind kind, int role) {
    if ((unsigned)kind > TR_GEN_SWEBENCH || role < 0 || role > 2) return 0;
    return WRAPS[kind][role].n_open + WRAPS[kind][role].n_close;
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
static int64_t put_msg(tr_gsess *s, const wrap *w, uint32_t n, tr_rng *r, uint32_t vocab) {
    uint32_t off = s->n_tok;
    int32_t *d = tr_gsess_grow(s, w->n_open + n + w->n_close);
    if (!d) return -1;
    memcpy(d, w->open, (size_t)w->n_open * 4);
    d += w->n_open;
    for (uint32_t i = 0; i < n; i++) *d++ = draw_token(r, vocab);
    memcpy(d, w->close, (size_t)w->n_close * 4);
    return off;
}

enum { ST_LEN = 1, ST_TOK = 2, ST_GAP = 3, ST_SYS = 4, ST_ORDER = 5 };

typedef struct fit {
    tr_len_model user, reply; /* fitted length models */
} fit;

/* A chat session: rounds of (user, reply) with the whole history as input. */
static int gen_chat(const tr_gen_cfg *c, const fit *f, uint32_t k, tr_gsess *s) {
    tr_rng rl, rt;
    tr_rng_seed(&rl, c->seed, (uint64_t)c->kind * 16 + ST_LEN, k);
    tr_rng_seed(&rt, c->seed, (uint64_t)c->kind * 16 + ST_TOK, k);
    uint32_t rounds = c->min_turns;
    if (c->turns_mean > c->min_turns) {
        /* Lomax with mean turns_mean - min_turns: scale (mean)(alpha - 1) */
        double scale = (c->turns_mean - c->min_turns) * (c->turns_alpha - 1.0);
        double u = 1.0 - tr_rng_unif(&rl); /* (0, 1] */
        double extra = scale * (tr_exp(-tr_log(u) / c->turns_alpha) - 1.0);
        rounds = extra >= (double)(c->max_turns - c->min_turns) ? c->max_turns : c->min_turns + (uint32_t)extra;
    }
    const wrap *wu = &WRAPS[c->kind][0], *wa = &WRAPS[c->kind][1];
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
        int64_t uo = put_msg(s, wu, nu, &rt, c->vocab);
        int64_t ao = uo < 0 ? -1 : put_msg(s, wa, nr, &rt, c->vocab);
        if (ao < 0 || tr_gsess_turn(s, (uint32_t)uo, (uint32_t)lu, (uint32_t)ao, (uint32_t)la, (uint32_t)ao, ts))
            return -1;
    }
    return 0;
}

/* An agent session: system prompt + task, then (observation, action) turns;
 * once a turn is keep_obs turns old its observation leaves the history. */
static int gen_swe(const tr_gen_cfg *c, const int32_t *sys, uint32_t k, tr_gsess *s) {
    tr_rng rl, rt, rg;
    tr_rng_seed(&rl, c->seed, (uint64_t)c->kind * 16 + ST_LEN, k);
    tr_rng_seed(&rt, c->seed, (uint64_t)c->kind * 16 + ST_TOK, k);
    tr_rng_seed(&rg, c->seed, (uint64_t)c->kind * 16 + ST_GAP, k);
    const wrap *wu = &WRAPS[TR_GEN_SWEBENCH][0], *wa = &WRAPS[TR_GEN_SWEBENCH][1],
               *ws = &WRAPS[TR_GEN_SWEBENCH][2];
    uint32_t turns = tr_rng_lognormal_len(&rl, tr_log(c->traj_median), c->traj_sigma, 1, c->max_turns);
    /* the system message: the same tokens in every session */
    int32_t *d = tr_gsess_grow(s, ws->n_open + c->system_tokens + ws->n_close);
    if (!d) return -1;
    memcpy(d, ws->open, (size_t)ws->n_open * 4);
    memcpy(d + ws->n_open, sys, (size_t)c->system_tokens * 4);
    memcpy(d + ws->n_open + c->system_tokens, ws->close, (size_t)ws->n_close * 4);
    uint32_t ntask = tr_rng_lognormal_len(&rl, tr_log(c->task_median), c->task_sigma, 0, 0x7fffffff);
    double task_total = c->task_min + (double)ntask;
    ntask = task_total > 16777216.0 ? 16777216u : (uint32_t)task_total;
    if (put_msg(s, wu, ntask, &rt, c->vocab) < 0) return -1;
    /* some tasks touch big files all session long: a per-session factor on
     * the observations' median */
    double obs_mu = tr_log(c->obs_median) + c->obs_sess_sigma * tr_rng_normal(&rl);
    double act_mu = tr_log(c->act_median) + c->act_sess_sigma * tr_rng_normal(&rl);
    double ts = (double)k / c->sps;
    uint64_t hist = 0; /* tokens of the kept history before this turn */
    for (uint32_t t = 0; t < turns; t++) {
        uint32_t obs_off, obs_len;
        if (t == 0) {
            obs_off = 0;
            obs_len = s->n_tok;
        } else {
            uint32_t n = tr_rng_lognormal_len(&rl, obs_mu, c->obs_sigma, 1, c->max_tokens);
            int64_t o = put_msg(s, wu, n, &rt, c->vocab);
            if (o < 0) return -1;
            obs_off = (uint32_t)o;
            obs_len = s->n_tok - obs_off;
        }
        uint64_t na = (uint64_t)c->act_min + tr_rng_lognormal_len(&rl, act_mu, c->act_sigma, 1, c->max_tokens);
        if (na > c->max_tokens) na = c->max_tokens;
        int64_t ao = put_msg(s, wa, (uint32_t)na, &rt, c->vocab);
        if (ao < 0) return -1;
        if (t > 0) ts += (double)tr_rng_poisson(&rg, c->art);
        /* the artifact stops once history + input would pass the cap */
        if (hist + obs_len > c->max_tokens) break;
        uint32_t out_len = s->n_tok - (uint32_t)ao;
        if (tr_gsess_turn(s, obs_off, obs_len, (uint32_t)ao, out_len, (uint32_t)(hist + obs_len), ts)) return -1;
        hist = tr_gsess_next_hist(s, hist, c->keep_obs);
    }
    return 0;
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

/* One request: BOS, its group's prompt, a question; then the answer. */
static int gen_shared(const tr_gen_cfg *c, const int32_t *prompts, uint32_t k, uint32_t group, tr_gsess *s) {
    tr_rng rt;
    tr_rng_seed(&rt, c->seed, (uint64_t)c->kind * 16 + ST_TOK, k);
    uint64_t n_in = 1 + (uint64_t)c->system_tokens + c->question_tokens;
    if (n_in > c->max_tokens) return 0;
    int32_t *d = tr_gsess_grow(s, (uint32_t)n_in + c->output_tokens);
    if (!d) return -1;
    d[0] = 1;
    memcpy(d + 1, prompts + (size_t)group * c->system_tokens, (size_t)c->system_tokens * 4);
    for (uint32_t i = 1 + c->system_tokens; i < s->n_tok; i++) d[i] = draw_token(&rt, c->vocab);
    return tr_gsess_turn(s, 0, (uint32_t)n_in, (uint32_t)n_in, c->output_tokens, (uint32_t)n_in, (double)k / c->sps);
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
        gerr(err, "no request: every session is empty");
        return -1;
    }
    int rc = -1;
    gev *ev = malloc(n_ev * sizeof *ev);
    int32_t *buf = malloc(((size_t)max_in + 1) * 4);
    tr_builder *b = tr_builder_new();
    if (!ev || !buf || !b) {
        gerr(err, "out of memory building the trace");
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

int tr_gen(const tr_gen_cfg *c, tr_trace *out, tr_err *err) {
    memset(out, 0, sizeof *out);
    if (tr_gen_check(c, err)) return -1;
    int rc = -1;
    tr_gsess *ss = calloc(c->sessions, sizeof *ss);
    int32_t *shared = NULL;
    uint32_t *group = NULL;
    if (!ss) goto oom;
    fit f = {0};
    if (c->kind == TR_GEN_LMSYS || c->kind == TR_GEN_SHAREGPT) {
        tr_gen_fit_len(c->user_mean, c->user_sd, c->msg_max, &f.user);
        tr_gen_fit_len(c->reply_mean, c->reply_sd, c->msg_max, &f.reply);
    }
    if (c->kind == TR_GEN_SWEBENCH || c->kind == TR_GEN_SHARED_PREFIX) {
        /* the shared prompt(s), from their own stream */
        uint32_t ng = c->kind == TR_GEN_SWEBENCH ? 1 : c->groups;
        shared = malloc(((size_t)ng * c->system_tokens + 1) * 4);
        if (!shared) goto oom;
        for (uint32_t g = 0; g < ng; g++) {
            tr_rng r;
            tr_rng_seed(&r, c->seed, (uint64_t)c->kind * 16 + ST_SYS, g);
            for (uint32_t i = 0; i < c->system_tokens; i++)
                shared[(size_t)g * c->system_tokens + i] = draw_token(&r, c->vocab);
        }
    }
    if (c->kind == TR_GEN_SHARED_PREFIX) {
        /* requests go round-robin over the groups, then are shuffled, as
         * SGLang shuffles its generated-shared-prefix prompts */
        group = malloc((size_t)c->sessions * sizeof *group);
        if (!group) goto oom;
        for (uint32_t k = 0; k < c->sessions; k++) group[k] = k % c->groups;
        tr_rng r;
        tr_rng_seed(&r, c->seed, (uint64_t)c->kind * 16 + ST_ORDER, 0);
        for (uint32_t k = c->sessions; k > 1; k--) {
            uint32_t j = (uint32_t)(((tr_rng_u64(&r) >> 32) * k) >> 32), x = group[k - 1];
            group[k - 1] = group[j];
            group[j] = x;
        }
    }
    size_t n_req = 0;
    for (uint32_t k = 0; k < c->sessions; k++) {
        int r;
        switch (c->kind) {
        case TR_GEN_SWEBENCH: r = gen_swe(c, shared, k, &ss[k]); break;
        case TR_GEN_SHARED_PREFIX: r = gen_shared(c, shared, k, group[k], &ss[k]); break;
        default: r = gen_chat(c, &f, k, &ss[k]); break;
        }
        if (r) goto oom;
        n_req += ss[k].n_turn;
    }
    if (n_req == 0) {
        gerr(err, "max-tokens: no request fits in %u tokens", c->max_tokens);
        goto out;
    }
    rc = tr_gsess_build(ss, c->sessions, c->kind == TR_GEN_SWEBENCH ? c->keep_obs : 0, out, err);
    goto out;
oom:
    gerr(err, "out of memory generating %s", tr_gen_kind_name(c->kind));
out:
    tr_gsess_free(ss, ss ? c->sessions : 0);
    free(ss);
    free(shared);
    free(group);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}
