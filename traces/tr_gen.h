/* tr_gen.h -- synthetic workloads shaped like the paper's traces.
 *
 * The paper's traces are built from LMSys-Chat-1M, ShareGPT and SWE-bench
 * agent trajectories that cannot be fetched from here.  These generators
 * follow the same construction (the reference artifact's
 * utils/generate_trace.py) with message lengths drawn from heavy-tailed
 * distributions calibrated to the published statistics; docs/traces.md
 * gives every distribution and how it was calibrated.
 *
 *   kind           a session is                          next turn after
 *   lmsys          >= min_turns rounds of user + reply   typing the message
 *   sharegpt       the same, ShareGPT's lengths          typing the message
 *   swebench       system + task, then observation +     Poisson(art) s
 *                  action turns, old observations
 *                  dropped (the artifact's collapse)
 *   shared-prefix  one request: a group's long system     -
 *                  prompt + a question (SGLang's
 *                  generated-shared-prefix)
 *
 * Every message is tokenised like `json.dumps(message)` under Llama-2: a BOS
 * token and the same few wrapper tokens open every message of a role, so
 * every session starts alike -- the short shared root branches that
 * judicious admission checkpoints.  Content tokens are uniform in
 * [3, vocab).
 *
 * Determinism: every draw comes from splitmix64 streams keyed by (seed,
 * session, purpose), and the only floating point is + - * / and sqrt, with
 * exp and log computed here (tr_exp, tr_log) rather than by libm, so the same
 * configuration gives the same bytes on any machine.  Session contents do not
 * depend on sps or art: traces that differ only in arrival rate hold the same
 * conversations, as the artifact's do.
 *
 * The code: tr_gen.c (knobs, the dispatcher tr_gen), tr_gen_rng.c
 * (tr_exp, tr_log, the PRNG), tr_gen_chat.c (length model, chat sessions),
 * tr_gen_agent.c (swebench, shared-prefix), tr_gen_sess.c (wrappers,
 * sessions, tr_gsess_build); traces/tr_gen_int.h is what they share.
 */
#ifndef MARCONI_TR_GEN_H
#define MARCONI_TR_GEN_H

#include <stdint.h>

#include "traces/tr.h"

typedef enum tr_gen_kind {
    TR_GEN_LMSYS = 0,
    TR_GEN_SHAREGPT,
    TR_GEN_SWEBENCH,
    TR_GEN_SHARED_PREFIX,
    TR_GEN_NKINDS
} tr_gen_kind;

/* Every knob of every generator.  Each field is a flag of `marconi gen` and
 * a key of a spec string, named as in the comment (e.g. --user-mean,
 * "user-mean=70"); tr_gen_defaults() fills the paper's values. */
typedef struct tr_gen_cfg {
    tr_gen_kind kind;         /* which generator */
    /* all kinds */
    uint32_t sessions;        /* sessions: sessions (shared-prefix: requests) */
    double sps;               /* sps: sessions per second; session k starts at k/sps s */
    uint64_t seed;            /* seed: PRNG seed */
    uint32_t max_tokens;      /* max-tokens: context cap, tokens (32768): a session
                                 stops at the first turn that would pass it */
    uint32_t vocab;           /* vocab: content token IDs are in [3, vocab) */
    /* lmsys, sharegpt: content tokens of a message (wrapper excluded) are a
     * lognormal rounded and clamped to [1, msg_max], whose mean and standard
     * deviation after clamping are the targets below */
    double user_mean;         /* user-mean: tokens per user message, mean */
    double user_sd;           /* user-sd: ... standard deviation */
    double reply_mean;        /* reply-mean: tokens per reply, mean */
    double reply_sd;          /* reply-sd: ... standard deviation */
    uint32_t msg_max;         /* msg-max: longest message, tokens */
    uint32_t min_turns;       /* min-turns: rounds of every conversation (the
                                 artifact keeps conversations with >= 10) */
    double turns_mean;        /* turns-mean: mean rounds, before the token cap;
                                 rounds = min_turns + Lomax(turns_alpha) */
    double turns_alpha;       /* turns-alpha: tail index of the Lomax (> 1) */
    uint32_t max_turns;       /* max-turns: most turns of a session (swebench: 51,
                                 the artifact's turn_id > 50 cut) */
    double wpm;               /* wpm: typing speed, words per minute (90) */
    double words_per_token;   /* words-per-token: words typed per content token */
    /* swebench: lognormals given by median and sigma (of the log) */
    double art;               /* art: mean seconds between turns (Poisson, whole s) */
    uint32_t system_tokens;   /* system-tokens: system prompt shared by all sessions
                                 (shared-prefix: each group's prompt) */
    double task_min;          /* task-min: task message = task_min + lognormal */
    double task_median;       /* task-median: ... median of the lognormal part */
    double task_sigma;        /* task-sigma */
    double obs_median;        /* obs-median: observation (tool output) tokens */
    double obs_sigma;         /* obs-sigma */
    double obs_sess_sigma;    /* obs-sess-sigma: each session's obs median is
                                 obs_median e^(this Z): some tasks are verbose */
    uint32_t act_min;         /* act-min: action (model reply) = act_min + lognormal */
    double act_median;        /* act-median: ... median of the lognormal part */
    double act_sigma;         /* act-sigma */
    double act_sess_sigma;    /* act-sess-sigma: the same for actions */
    double traj_median;       /* traj-median: turns the agent would take uncapped */
    double traj_sigma;        /* traj-sigma */
    uint32_t keep_obs;        /* keep-obs: observations older than this many turns
                                 are removed from the history (5) */
    /* shared-prefix */
    uint32_t groups;          /* groups: distinct shared prompts */
    uint32_t question_tokens; /* question-tokens: per request, after the prompt */
    uint32_t output_tokens;   /* output-tokens: per request */
} tr_gen_cfg;

/* Name of a kind ("lmsys", ...), and the reverse (-1 when unknown). */
const char *tr_gen_kind_name(tr_gen_kind k);
int tr_gen_kind_parse(const char *name);

/* Fill cfg with kind's defaults (the paper's calibration, 100 sessions,
 * sps 1, seed 1). */
void tr_gen_defaults(tr_gen_kind kind, tr_gen_cfg *cfg);

/* Set one knob by its flag name without dashes ("user-mean", "seed").
 * Returns 0, or -1 with err = "KEY: message" for an unknown key or a value
 * out of range (nothing changed then). */
int tr_gen_set(tr_gen_cfg *cfg, const char *key, const char *val, tr_err *err);

/* Format knob `key` of cfg into buf (48 bytes); 0, or -1 for an unknown key. */
int tr_gen_get(const tr_gen_cfg *cfg, const char *key, char *buf);

/* Parse "kind" or "kind:key=val,key=val" into cfg (defaults of kind, then
 * the settings left to right).  Returns 0, or -1 with err set. */
int tr_gen_parse_spec(const char *spec, tr_gen_cfg *cfg, tr_err *err);

/* The knobs, for --help: name of knob i (NULL past the last), the kinds
 * using it (bit 1 << kind) and a one-line description. */
int tr_gen_knob_count(void);
const char *tr_gen_knob_info(int i, unsigned *kinds, const char **help);

/* Check a whole configuration (cross-field rules); 0 or -1 with err set. */
int tr_gen_check(const tr_gen_cfg *cfg, tr_err *err);

/* Generate the trace into *out (requests sorted by arrival, ties in
 * session order, as the artifact's stable sort leaves them).  Returns 0, or
 * -1 with err set on a bad configuration or out-of-memory (*out zeroed). */
int tr_gen(const tr_gen_cfg *cfg, tr_trace *out, tr_err *err);

/* Wrapper tokens around a message's content for kind: role 0 the user /
 * observation, 1 the reply / action.  Content tokens of a request's newest
 * message = its new tokens minus this (the stats tests use it). */
uint32_t tr_gen_wrapper_tokens(tr_gen_kind kind, int role);

/* Random numbers: splitmix64 streams. */
typedef struct tr_rng {
    uint64_t s; /* splitmix64 state */
} tr_rng;
void tr_rng_seed(tr_rng *r, uint64_t seed, uint64_t stream, uint64_t sub);
uint64_t tr_rng_u64(tr_rng *r);
double tr_rng_unif(tr_rng *r);                 /* [0, 1), 53 bits */
double tr_rng_normal(tr_rng *r);               /* standard normal (polar method) */
uint64_t tr_rng_poisson(tr_rng *r, double lam); /* whole number, mean lam */
uint32_t tr_rng_lognormal_len(tr_rng *r, double mu, double sigma, uint32_t lo, uint32_t hi);

/* The chat generators' message length model, fitted to a published mean
 * and standard deviation of whole (uncapped) datasets: a Lomax (Pareto II,
 * survival (1 + x/b)^-a) when sd > 1.005 mean, else a lognormal (mu a,
 * sigma b); draws are rounded and clamped to [1, cap] as the context
 * clamps them, which lowers the sd of heavy tails a lot and the mean a
 * little (tr_len_moments gives both after clamping).  tr_gen_fit_len
 * returns 0, or -1 for a mean <= 0 or sd < 0. */
enum { TR_LEN_LOGNORMAL = 0, TR_LEN_LOMAX = 1 };
typedef struct tr_len_model {
    int family; /* TR_LEN_* */
    double a;   /* Lomax alpha (tail index) / lognormal mu */
    double b;   /* Lomax lambda (scale, tokens) / lognormal sigma */
    double cap; /* largest value, tokens */
} tr_len_model;
int tr_gen_fit_len(double mean, double sd, double cap, tr_len_model *m);
uint32_t tr_len_draw(const tr_len_model *m, tr_rng *r);
void tr_len_moments(const tr_len_model *m, double *mean, double *sd); /* after clamping (not rounding) */
double tr_len_median(const tr_len_model *m); /* before rounding */

/* exp and log from + - * / only, identical on every machine (about 1 ulp). */
double tr_exp(double x);
double tr_log(double x);

/* ---- sessions, as the generators and the converter assemble them --------- *
 * A session's messages are appended to one token array in conversation
 * order; each turn that becomes a request names its new input message(s)
 * ("observation") and its reply in that array.  Request t's input is then
 *
 *   obs_0 out_0 obs_1 out_1 ... out_{t-1} obs_t
 *
 * less obs_j for 1 <= j < t - keep_obs (keep_obs 0: nothing dropped), the
 * artifact's SWE-bench history collapse. */
typedef struct tr_gturn {
    uint32_t obs_off, obs_len; /* new input message(s): offset and tokens in tok */
    uint32_t out_off, out_len; /* the reply */
    uint32_t in_len;           /* input tokens of the request (history + obs) */
    double ts;                 /* arrival, s */
} tr_gturn;

typedef struct tr_gsess {
    int32_t *tok;      /* every message of the session, in order */
    uint32_t n_tok;    /* tokens used */
    uint32_t cap;      /* tokens allocated */
    tr_gturn *turn;    /* turns that become requests */
    uint32_t n_turn;   /* their count */
    uint32_t turn_cap; /* allocated */
} tr_gsess;

/* Append n tokens to s->tok; returns where to write them (valid until the
 * next call), or NULL on OOM. */
int32_t *tr_gsess_grow(tr_gsess *s, uint32_t n);
/* Append a turn; 0 or -1 on OOM. */
int tr_gsess_turn(tr_gsess *s, uint32_t obs_off, uint32_t obs_len, uint32_t out_off, uint32_t out_len, uint32_t in_len,
                  double ts);
/* The history length after the latest turn, given the one before it. */
uint64_t tr_gsess_next_hist(const tr_gsess *s, uint64_t hist, uint32_t keep_obs);
/* Assemble turn t's input into buf (in_len tokens); returns its length. */
uint32_t tr_gsess_input(const tr_gsess *s, uint32_t t, uint32_t keep_obs, int32_t *buf);
/* Sessions 0..n-1 to a trace: requests sorted by ts, ties in (session,
 * turn) order (the artifact's stable sort); session_id = index, turn_id =
 * turn.  0, or -1 with err set (no request at all, or OOM). */
int tr_gsess_build(const tr_gsess *ss, size_t n, uint32_t keep_obs, tr_trace *out, tr_err *err);
/* Free each session's arrays (not ss itself). */
void tr_gsess_free(tr_gsess *ss, size_t n);

#endif
