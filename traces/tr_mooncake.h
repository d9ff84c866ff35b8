/* tr_mooncake.h -- Mooncake's block-hash traces to token traces.
 *
 * Mooncake (FAST'25, kvcache-ai/Mooncake, FAST25-release/traces/) publishes
 * real Kimi serving traffic without its text: one request a line,
 *
 *   {"timestamp": 27482, "input_length": 6955, "output_length": 52,
 *    "hash_ids": [46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 2353]}
 *
 * timestamp in ms, and one hash per block of 512 input tokens (the last
 * block may be partial): two requests whose prompts begin alike begin with
 * the same hashes.  The converter makes a token trace with the same
 * sharing (the format other cache simulators read, so results compare):
 *
 *   hash h          -> block(h): 512 token IDs drawn from the stream
 *                      (seed, h), uniform in [3, vocab): the same hash
 *                      gives the same tokens in every request
 *   input           -> block(h_0) block(h_1) ... block(h_last), cut to
 *                      input_length
 *   output          -> output_length fresh IDs from the stream (seed,
 *                      request index): a reply is never anyone's prefix
 *   ts              =  timestamp / 1000 (seconds)
 *
 * Sessions are not in the format.  By default requests are chained into
 * sessions the way a chat's turns extend each other: request r continues
 * the session of an earlier request p when
 *
 *   (1) r's hash_ids begin with all of p's full blocks, at least 2 of them
 *       (a single shared first block is what a system prompt looks like:
 *       every request of the conversation trace starts with hash 0);
 *   (2) input_length(r) >= input_length(p) + output_length(p): the next
 *       turn's prompt holds the previous prompt and its reply;
 *   (3) p is still the latest request of its session (a session is a line,
 *       not a tree; a second continuation starts a session of its own);
 *
 * taking the p with the most such blocks (the most recent of those on a
 * tie).  The chaining changes nothing a cache sees (the tokens come from
 * the hashes alone); it labels reuse as same-session or cross-session in
 * `marconi stats`, and under discrete-event timing a turn waits for the
 * one before it, as a chat user waits for the reply.  chain = 0 makes each
 * request its own session (turn 0): nothing is inferred.
 *
 * In memory each request's base is the earliest request that reached its
 * longest hash prefix, so tr_tokens follows at most one hop per block.
 *
 * Bad input is "FILE:LINE: message": not JSON, not an object, a field
 * missing or out of range, hash_ids not ceil(input_length / block) long, a
 * timestamp earlier than the line before it.
 */
#ifndef MARCONI_TR_MOONCAKE_H
#define MARCONI_TR_MOONCAKE_H

#include <stdint.h>

#include "traces/tr.h"

typedef struct tr_mc_cfg {
    uint32_t block;    /* tokens a hash stands for (512, Mooncake's) */
    uint32_t vocab;    /* token IDs are in [3, vocab) (32000, Llama-2's size) */
    uint64_t seed;     /* seed of the token draws (1) */
    int chain;         /* 1: chain requests into sessions (above); 0: one session each */
    uint64_t requests; /* keep the first N requests of the file; 0 = all */
} tr_mc_cfg;

/* What a conversion read. */
typedef struct tr_mc_info {
    uint64_t requests; /* requests converted */
    uint64_t chained;  /* of those, continuing an earlier request's session */
    uint64_t blocks;   /* hash ids read */
    uint64_t distinct; /* distinct hash prefixes (nodes of the block tree) */
    uint64_t shared;   /* input tokens equal to an earlier request's prefix */
} tr_mc_info;

/* Defaults (above). */
void tr_mc_defaults(tr_mc_cfg *c);

/* Convert the Mooncake trace at path into *out (session_id, turn_id as
 * above).  info may be NULL.  Returns 0, or -1 with err = "FILE:LINE:
 * message" for unreadable or malformed input or out-of-memory; *out is
 * zeroed then. */
int tr_mooncake(const tr_mc_cfg *c, const char *path, tr_trace *out, tr_mc_info *info, tr_err *err);

#endif
