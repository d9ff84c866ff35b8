/* store.h -- where a cache's states live.
 *
 * The radix tree never owns payloads.  When a node gains an SSM checkpoint
 * or KV entries it asks a store for slots, and gives them back when it
 * loses them.  The simulator uses the null store (slots are numbers that
 * name nothing; byte accounting is the cache's own), the GPU backend a
 * store over its device pools, the tests a counting store that checks
 * every slot is freed exactly once.
 */
#ifndef MARCONI_STORE_H
#define MARCONI_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct rt_store {
    void *ctx; /* the store's own data */
    /* An SSM state slot (>= 0), or -1 when none is free. */
    int64_t (*ssm_alloc)(void *ctx);
    void (*ssm_free)(void *ctx, int64_t slot);
    /* KV slots for n tokens into out[0..n); 0, or -1 when not enough are
     * free (nothing allocated).  NULL: the store keeps no per-token slots
     * and nodes carry none. */
    int (*kv_alloc)(void *ctx, uint32_t n, int32_t *out);
    void (*kv_free)(void *ctx, const int32_t *slots, uint32_t n);
} rt_store;

/* The null store: every SSM alloc succeeds, no KV slots. */
rt_store rt_null_store(void);

/* A counting store for tests: hands out numbered slots up to the given
 * limits, keeps a bitmap, and records double frees and leaks. */
typedef struct rt_count_store {
    uint8_t *ssm_used;  /* 1 per SSM slot in use */
    uint8_t *kv_used;   /* 1 per KV slot in use */
    int64_t ssm_cap;    /* SSM slots */
    int64_t kv_cap;     /* KV slots */
    int64_t ssm_live;   /* SSM slots in use */
    int64_t kv_live;    /* KV slots in use */
    int64_t errors;     /* double frees or frees of unknown slots */
} rt_count_store;
int rt_count_store_init(rt_count_store *s, int64_t ssm_cap, int64_t kv_cap);
void rt_count_store_free(rt_count_store *s);
rt_store rt_count_store_iface(rt_count_store *s);

#endif
