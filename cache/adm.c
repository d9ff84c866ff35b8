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

const adm_policy adm_judicious = {"judicious", "a state at the branch point and at the last token (Marconi)",
                                  RT_RADIX, 1};
const adm_policy adm_leaf = {"leaf", "a state at the last token only (no branch-point checkpoints)", RT_RADIX, 0};
const adm_policy adm_block = {"block", "a state at every --block-size tokens, blocks as in vLLM (vLLM+)", RT_BLOCK,
                              0};

const adm_policy *const adm_policies[] = {&adm_judicious, &adm_leaf, &adm_block, NULL};

const adm_policy *adm_find(const char *name) {
    for (int i = 0; adm_policies[i]; i++)
        if (strcmp(adm_policies[i]->name, name) == 0) return adm_policies[i];
    return NULL;
}
