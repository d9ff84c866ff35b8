/* adm.c -- admission policies: which SSM states an insert keeps.
 *
 * judicious  Marconi's: at most two states per request, the branch point
 *            (where the sequence leaves the tree, if it splits a node) and
 *            the last token.  Branch points are where later requests that
 *            share only the input (a system prompt, a few-shot preamble)
 *            can resume.
 * leaf       only the last token; a split node holds KV but no state, so
 *            purely-input reuse gets no hit (an ablation of judicious).
 * block      vLLM+'s: a state at the end of every fixed-size token block,
 *            in the block layout (rt.h) -- many states, most never reused.
 */
#include "cache.h"

#include <string.h>

/* Admission policies are data: cache.c's insert reads layout and
 * state_at_branch, so each is one table with no code of its own, and the
 * tables and their registry share this file (eviction policies are code,
 * one file each; their registry is cache/evict.c). */

const adm_policy adm_judicious = {
    .name = "judicious",
    .help = "a state at the branch point and at the last token (Marconi)",
    .layout = RT_RADIX,
    .state_at_branch = 1,
};
const adm_policy adm_leaf = {
    .name = "leaf",
    .help = "a state at the last token only (no branch-point checkpoints)",
    .layout = RT_RADIX,
    .state_at_branch = 0,
};
const adm_policy adm_block = {
    .name = "block",
    .help = "a state at every --block-size tokens, blocks as in vLLM (vLLM+)",
    .layout = RT_BLOCK,
    .state_at_branch = 0, /* the block layout never splits: a state ends every block */
};

/* In --help order. */
const adm_policy *const adm_policies[] = {&adm_judicious, &adm_leaf, &adm_block, NULL};

const adm_policy *adm_find(const char *name) {
    for (int i = 0; adm_policies[i]; i++)
        if (strcmp(adm_policies[i]->name, name) == 0) return adm_policies[i];
    return NULL;
}
