/* tr_gen.c -- the synthetic workload generators' front (see tr_gen.h and
 * docs/traces.md): kinds and their defaults, the knob table behind
 * tr_gen_set / tr_gen_get / tr_gen_parse_spec and --help, the cross-field
 * check, and the dispatcher tr_gen, which draws the shared prompts, orders
 * the shared-prefix groups, generates every session and builds the trace.
 * The other files of the generator, and its three passes, are listed in
 * tr_gen_int.h.
 */
#include "tr_gen_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

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

void tr_gen_err(tr_err *err, const char *fmt, ...) {
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
        tr_gen_err(err, "%s: not a generator setting (marconi gen --help lists them)", key);
        return -1;
    }
    if (!(k->kinds & KM(c->kind))) {
        tr_gen_err(err, "%s: not a setting of the %s generator", key, tr_gen_kind_name(c->kind));
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
    tr_gen_err(err, "%s: '%.60s' is not %s in %s%.15g, %.15g]", key, val, k->type == K_DBL ? "a number" : "an integer",
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
        tr_gen_err(err, "generator spec '%.60s...' is too long", spec);
        return -1;
    }
    strcpy(buf, spec);
    char *colon = strchr(buf, ':');
    if (colon) *colon = '\0';
    int kind = tr_gen_kind_parse(buf);
    if (kind < 0) {
        tr_gen_err(err, "'%s' is not a generator (lmsys, sharegpt, swebench, shared-prefix)", buf);
        return -1;
    }
    tr_gen_cfg tmp;
    tr_gen_defaults((tr_gen_kind)kind, &tmp);
    if (colon) {
        char *save = NULL;
        for (char *kv = strtok_r(colon + 1, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq) {
                tr_gen_err(err, "'%s' in the generator spec is not key=value", kv);
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
        tr_gen_err(err, "unknown generator kind");
        return -1;
    }
    if (!(c->sps > 0) || c->sessions < 1 || c->vocab < 4 || c->max_tokens < 2) {
        tr_gen_err(err, "sessions, sps, vocab and max-tokens must be positive");
        return -1;
    }
    if (c->kind == TR_GEN_LMSYS || c->kind == TR_GEN_SHAREGPT) {
        if (c->turns_mean < c->min_turns) {
            tr_gen_err(err, "turns-mean: %s is below min-turns %u", mu_fmt_double(c->turns_mean, a), c->min_turns);
            return -1;
        }
        if (c->max_turns < c->min_turns) {
            tr_gen_err(err, "max-turns: %u is below min-turns %u", c->max_turns, c->min_turns);
            return -1;
        }
        if (c->user_mean >= c->msg_max || c->reply_mean >= c->msg_max) {
            tr_gen_err(err, "msg-max: %u is not above user-mean and reply-mean", c->msg_max);
            return -1;
        }
    }
    return 0;
}

int tr_gen(const tr_gen_cfg *c, tr_trace *out, tr_err *err) {
    memset(out, 0, sizeof *out);
    if (tr_gen_check(c, err)) return -1;
    int rc = -1;
    tr_gsess *ss = calloc(c->sessions, sizeof *ss);
    int32_t *shared = NULL;
    uint32_t *group = NULL;
    if (!ss) goto oom;
    tr_chat_fit f = {0};
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
            tr_rng_seed(&r, c->seed, (uint64_t)c->kind * 16 + TR_ST_SYS, g);
            for (uint32_t i = 0; i < c->system_tokens; i++)
                shared[(size_t)g * c->system_tokens + i] = tr_draw_token(&r, c->vocab);
        }
    }
    if (c->kind == TR_GEN_SHARED_PREFIX) {
        /* requests go round-robin over the groups, then are shuffled, as
         * SGLang shuffles its generated-shared-prefix prompts */
        group = malloc((size_t)c->sessions * sizeof *group);
        if (!group) goto oom;
        for (uint32_t k = 0; k < c->sessions; k++) group[k] = k % c->groups;
        tr_rng r;
        tr_rng_seed(&r, c->seed, (uint64_t)c->kind * 16 + TR_ST_ORDER, 0);
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
        case TR_GEN_SWEBENCH: r = tr_gen_swe_session(c, shared, k, &ss[k]); break;
        case TR_GEN_SHARED_PREFIX: r = tr_gen_shared_request(c, shared, k, group[k], &ss[k]); break;
        default: r = tr_gen_chat_session(c, &f, k, &ss[k]); break;
        }
        if (r) goto oom;
        n_req += ss[k].n_turn;
    }
    if (n_req == 0) {
        tr_gen_err(err, "max-tokens: no request fits in %u tokens", c->max_tokens);
        goto out;
    }
    rc = tr_gsess_build(ss, c->sessions, c->kind == TR_GEN_SWEBENCH ? c->keep_obs : 0, out, err);
    goto out;
oom:
    tr_gen_err(err, "out of memory generating %s", tr_gen_kind_name(c->kind));
out:
    tr_gsess_free(ss, ss ? c->sessions : 0);
    free(ss);
    free(shared);
    free(group);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}
