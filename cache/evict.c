/* evict.c -- the eviction-policy registry: every policy the command line
 * can name (--eviction), in --help order, and the lookup by name.
 *
 * Each policy lives in its own file (cache/evict_lru.c, cache/evict_flop.c)
 * and exports one const evict_policy; adding a policy is that file, its
 * extern in cache.h, and one entry here.
 */
#include <string.h>

#include "cache.h"

const evict_policy *const evict_policies[] = {&evict_lru, &evict_flop, &evict_belady, NULL};

const evict_policy *evict_find(const char *name) {
    for (int i = 0; evict_policies[i]; i++)
        if (!strcmp(evict_policies[i]->name, name)) return evict_policies[i];
    return NULL;
}
