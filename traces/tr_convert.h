/* tr_convert.h -- real conversation logs to traces, by the reference
 * artifact's rules (utils/generate_trace.py).
 *
 *   format    input                                           a turn is
 *   sharegpt  [{"conversations": [{"from", "value"}, ...]}]    messages 2t, 2t+1
 *             (a JSON array, or one conversation per line)
 *   lmsys     {"conversation": [{"content", "role"}, ...]}    messages 2t, 2t+1
 *             per line (JSONL), or a JSON array of them
 *   agent     a trajectory per file: [{"role", "content"}, ...] the messages up to
 *             or {"messages": [...]} (mini-swe-agent) or       and including the
 *             {"history": [...]} (SWE-agent); an array or       next assistant
 *             JSONL of trajectories also works                  message
 *
 * Every message is tokenised as the artifact tokenises it: json.dumps of
 * the whole message object (Python's separators and \uXXXX escapes,
 * ensure_ascii), with BOS first.  Session k (the k-th conversation kept)
 * starts at k / sps; then
 *
 *   chat:  the next turn comes after typing the user message at wpm words a
 *          minute (words = spaces in it); conversations with fewer than
 *          min_turns rounds are skipped; LMSys stops a session once history +
 *          input + output would pass max_tokens, ShareGPT once history +
 *          input would, and LMSys skips conversations more than
 *          max_non_ascii non-ASCII;
 *   agent: turns come Poisson(art) whole seconds apart; a session stops once
 *          history + input would pass max_tokens or after max_turns turns;
 *          an observation leaves the history keep_obs turns later.
 */
#ifndef MARCONI_TR_CONVERT_H
#define MARCONI_TR_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "traces/tr.h"
#include "traces/tr_tok.h"

typedef enum tr_conv_fmt { TR_CONV_SHAREGPT = 0, TR_CONV_LMSYS, TR_CONV_AGENT } tr_conv_fmt;

typedef struct tr_conv_cfg {
    tr_conv_fmt fmt;      /* input format */
    const tr_tok *tok;    /* tokenizer (not owned) */
    double sps;           /* sessions per second */
    double art;           /* agent: mean seconds between turns (Poisson, whole s) */
    uint64_t seed;        /* agent: seed of those draws */
    uint32_t sessions;    /* keep the first N conversations that qualify; 0 = all */
    uint32_t min_turns;   /* skip conversations with fewer rounds (chat 10, agent 0) */
    uint32_t max_tokens;  /* context cap (32768) */
    uint32_t max_turns;   /* most turns per session (agent 51; 0 = no limit) */
    uint32_t keep_obs;    /* agent: observations leave the history this many turns later (5; 0 never) */
    double wpm;           /* chat typing speed, words per minute (90) */
    double max_non_ascii; /* lmsys: skip conversations whose characters are more
                             than this share non-ASCII (0.5; 1 keeps all) */
    int bos;              /* BOS before every message (1) */
    const char *fields;   /* "role,content": keep only these keys of each message
                             before dumping it; NULL keeps all (the artifact) */
} tr_conv_cfg;

/* What a conversion read and kept. */
typedef struct tr_conv_info {
    uint64_t read;      /* conversations / trajectories read */
    uint64_t kept;      /* became sessions */
    uint64_t short_;    /* skipped: fewer than min_turns rounds */
    uint64_t non_ascii; /* skipped: mostly non-ASCII (lmsys) */
    uint64_t messages;  /* messages tokenised */
    uint64_t tokens;    /* tokens those messages made */
    uint64_t words;     /* whitespace-separated words in their text (before dumping) */
} tr_conv_info;

/* Defaults of a format (as above; tok NULL: the caller sets it). */
void tr_conv_defaults(tr_conv_fmt fmt, tr_conv_cfg *c);

/* "sharegpt", "lmsys", "agent" -> format, or -1. */
int tr_conv_fmt_parse(const char *name);

/* Convert files[0..nfiles) in order into *out.  info may be NULL.  Returns 0,
 * or -1 with err = "FILE:LINE: message" for unreadable or malformed input
 * (LINE: where the conversation starts, or of the JSON syntax error), no
 * conversation that qualifies, or out-of-memory; *out is zeroed then. */
int tr_convert(const tr_conv_cfg *c, char *const *files, size_t nfiles, tr_trace *out, tr_conv_info *info,
               tr_err *err);

/* Python's json.dumps(v) (ensure_ascii, ", " and ": " separators) of a
 * jansson value, appended to b; 0 or -1 on OOM.  Exposed for the tests. */
struct json_t;
int tr_py_dumps(const struct json_t *v, mu_buf *b);
/* The same, keeping only the top-level object's keys named in fields
 * ("k1,k2"; NULL: all): what --fields does (tr_pydumps.c). */
int tr_py_dumps_keep(const struct json_t *v, mu_buf *b, const char *fields);

#endif
