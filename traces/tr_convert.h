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
 *
 * Agent messages: a mini-swe-agent trajectory (an object whose
 * "trajectory_format" starts with "mini-swe-agent", or whose messages carry
 * an "extra" key) keeps only each message's "role" and "content": its
 * "extra.response" is the raw provider reply, base64 reasoning blobs
 * included, which the model never saw as text.  Other trajectories keep
 * every key (the artifact), unless fields says which.  A folder given as a
 * file stands for every *.traj.json under it (tr_conv_expand).
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
    const char *fields;   /* "role,content": keep only these keys of each agent
                             message before dumping it; NULL: the format's
                             default (mini-swe-agent role,content, else all) */
    int all_fields;       /* 1: every key of every agent message, mini-swe-agent
                             too (the artifact's rule; --fields all) */
} tr_conv_cfg;

/* A message key a conversion left out, and how often. */
typedef struct tr_conv_drop {
    char name[32]; /* the key (cut to 31 bytes) */
    uint64_t n;    /* messages it was dropped from */
} tr_conv_drop;
#define TR_CONV_DROPS 4 /* keys named in tr_conv_info; more are counted in drop_other */

/* What a conversion read and kept. */
typedef struct tr_conv_info {
    uint64_t read;      /* conversations / trajectories read */
    uint64_t kept;      /* became sessions */
    uint64_t short_;    /* skipped: fewer than min_turns rounds */
    uint64_t non_ascii; /* skipped: mostly non-ASCII (lmsys) */
    uint64_t messages;  /* messages tokenised */
    uint64_t tokens;    /* tokens those messages made */
    uint64_t words;     /* whitespace-separated words in their text (before dumping) */
    uint64_t files;     /* files read (a folder's *.traj.json counted one by one) */
    uint64_t mswea;     /* agent: trajectories read as mini-swe-agent (role, content kept) */
    uint64_t turns;     /* turns of the kept conversations, before any cap */
    uint64_t cut_tokens; /* of those, lost because the session stopped at max_tokens */
    uint64_t cut_turns; /* lost to max_turns */
    uint64_t cut_empty; /* agent: lost because a turn had no input (a reply right after a reply) */
    uint64_t out_tokens; /* tokens of the replies (outputs) as dumped */
    uint64_t out_visible; /* what the same replies give with only role and content kept */
    tr_conv_drop drop[TR_CONV_DROPS]; /* keys dropped from agent messages, first seen first */
    uint64_t drop_other; /* drops of further keys */
} tr_conv_info;

/* Defaults of a format (as above; tok NULL: the caller sets it). */
void tr_conv_defaults(tr_conv_fmt fmt, tr_conv_cfg *c);

/* "sharegpt", "lmsys", "agent" -> format, or -1. */
int tr_conv_fmt_parse(const char *name);

/* Convert files[0..nfiles) in order into *out; for the agent format a
 * folder among them stands for its *.traj.json files (tr_conv_expand).
 * info may be NULL.  Returns 0, or -1 with err = "FILE:LINE: message" for
 * unreadable or malformed input (LINE: where the conversation starts, or of
 * the JSON syntax error), no conversation that qualifies, or out-of-memory;
 * *out is zeroed then. */
int tr_convert(const tr_conv_cfg *c, char *const *files, size_t nfiles, tr_trace *out, tr_conv_info *info,
               tr_err *err);

/* paths[0..n) with each folder replaced, in place, by every file under it
 * (recursively) whose name ends in suffix, sorted by strcmp of the whole
 * path (LC_ALL=C sort of `find DIR -name '*SUFFIX'`), so a folder converts
 * alike on any machine.  Other paths are copied as they are.  Symbolic
 * links to files are taken; links to folders are not followed (no loops).
 * Returns 0 with *out (n_out paths, free with tr_conv_expand_free), or -1
 * with err: "DIR:0: holds no *SUFFIX file", "DIR:0: cannot read: ...", out
 * of memory. */
int tr_conv_expand(char *const *paths, size_t n, const char *suffix, char ***out, size_t *n_out, tr_err *err);
void tr_conv_expand_free(char **v, size_t n);

/* Is key one of fields ("a,b,c")?  What --fields keeps (tr_pydumps.c). */
int tr_fields_has(const char *fields, const char *key);

/* Python's json.dumps(v) (ensure_ascii, ", " and ": " separators) of a
 * jansson value, appended to b; 0 or -1 on OOM.  Exposed for the tests. */
struct json_t;
int tr_py_dumps(const struct json_t *v, mu_buf *b);
/* The same, keeping only the top-level object's keys named in fields
 * ("k1,k2"; NULL: all): what --fields does (tr_pydumps.c). */
int tr_py_dumps_keep(const struct json_t *v, mu_buf *b, const char *fields);

#endif
