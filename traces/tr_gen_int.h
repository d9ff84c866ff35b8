/* tr_gen_int.h -- what the generator's files share, private to traces/
 * (the public API is tr_gen.h; see docs/traces.md):
 *
 *   tr_gen.c        kinds, defaults, the knob table (set / get / spec
 *                   strings, --help), the cross-field check, the dispatcher
 *                   tr_gen (shared prompts, shared-prefix group order)
 *   tr_gen_rng.c    exp and log from + - * / (tr_exp, tr_log), splitmix64
 *                   streams and their samplers (uniform, normal, Poisson,
 *                   lognormal lengths)
 *   tr_gen_chat.c   the chat length model (fit, moments, draws) and the
 *                   LMSys / ShareGPT conversations
 *   tr_gen_agent.c  SWE-bench-like agent sessions and shared-prefix requests
 *   tr_gen_sess.c   message wrappers, session token arrays and turn tables,
 *                   and sessions to a trace (arrival sort, request assembly)
 *
 * A generator works in three passes:
 *
 *   1. sessions: each session's messages are drawn into its own token array,
 *      laid out in conversation order, with a turn table saying where each
 *      turn's input message(s) and reply sit (tr_gen_chat_session, ...);
 *   2. arrivals: one event (ts, session, turn) per request, sorted by ts with
 *      ties in (session, turn) order -- the artifact's stable sort of a list
 *      built session by session (tr_gsess_build);
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
#ifndef MARCONI_TR_GEN_INT_H
#define MARCONI_TR_GEN_INT_H

#include <stdint.h>

#include "traces/tr_gen.h"

/* Purposes of the PRNG streams: a session's draws come from stream
 * kind * 16 + TR_ST_*, sub-stream the session (or group) index. */
enum {
    TR_ST_LEN = 1,  /* lengths: rounds, message sizes, trajectory length */
    TR_ST_TOK = 2,  /* content tokens */
    TR_ST_GAP = 3,  /* swebench: seconds between turns */
    TR_ST_SYS = 4,  /* the shared prompt(s), sub-stream the group */
    TR_ST_ORDER = 5 /* shared-prefix: the shuffle of the groups */
};

/* A token ID uniform in [3, vocab): 0-2 are unk, BOS and EOS. */
static inline int32_t tr_draw_token(tr_rng *r, uint32_t vocab) {
    return (int32_t)(3 + (((tr_rng_u64(r) >> 32) * (uint64_t)(vocab - 3)) >> 32));
}

/* The Llama-2-like tokens json.dumps puts around a message's content. */
typedef struct tr_wrap {
    const int32_t *open;  /* tokens before the content */
    const int32_t *close; /* tokens after it */
    uint32_t n_open;      /* count of open */
    uint32_t n_close;     /* count of close */
} tr_wrap;

/* tr_wraps[kind][role]: kind lmsys, sharegpt or swebench; role 0 the user /
 * observation, 1 the reply / action, 2 the system prompt. */
extern const tr_wrap tr_wraps[3][3];

/* Append a message wrapped in w with n content tokens drawn from r; returns
 * its offset in the session, or -1 on OOM. */
int64_t tr_gen_put_msg(tr_gsess *s, const tr_wrap *w, uint32_t n, tr_rng *r, uint32_t vocab);

/* The chat generators' fitted length models (tr_gen_fit_len). */
typedef struct tr_chat_fit {
    tr_len_model user;  /* content tokens of a user message */
    tr_len_model reply; /* content tokens of a reply */
} tr_chat_fit;

/* Session k of each kind into the empty s; 0, or -1 on OOM.
 *   chat:   rounds of (user, reply), the whole history as input
 *   swe:    sys (c->system_tokens, the same in every session) + task, then
 *           (observation, action) turns
 *   shared: one request, BOS + group's prompt (prompts + group *
 *           system_tokens) + a question; nothing when it passes max-tokens */
int tr_gen_chat_session(const tr_gen_cfg *c, const tr_chat_fit *f, uint32_t k, tr_gsess *s);
int tr_gen_swe_session(const tr_gen_cfg *c, const int32_t *sys, uint32_t k, tr_gsess *s);
int tr_gen_shared_request(const tr_gen_cfg *c, const int32_t *prompts, uint32_t k, uint32_t group, tr_gsess *s);

/* Format an error message into err (nothing when err is NULL). */
void tr_gen_err(tr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
