/* evict.c -- the eviction-policy registry: every policy the command line
 * can name (--eviction), in --help order, and the lookup by name.
 *
 * Each policy exports one const evict_policy from its file: lru
 * (cache/evict_lru.c), flop (cache/evict_flop.c), seglen
 * (cache/evict_seglen.c), gdsf (cache/evict_gdsf.c), and SGLang's plain
 * radix-cache strategies lfu, fifo, mru, filo, priority, slru, which share
 * their candidates and loop (cache/evict_sgl.c).  Adding a policy is its
 * file, its extern in cache.h, and one entry here.
 */
#include <string.h>

#include "cache.h"

const evict_policy *const evict_policies[] = {
    &evict_lru,  &evict_flop, &evict_seglen,   &evict_gdsf, &evict_lfu,
    &evict_slru, &evict_fifo, &evict_priority, &evict_mru,  &evict_filo,
    &evict_belady,
    NULL,
};

const evict_policy *evict_find(const char *name) {
    for (int i = 0; evict_policies[i]; i++)
        if (!strcmp(evict_policies[i]->name, name)) return evict_policies[i];
    return NULL;
}
