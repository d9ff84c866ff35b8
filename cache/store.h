/* store.h -- where a cache's states live.
 *
 * The radix tree never owns payloads.  When a node gains an SSM checkpoint
 * or KV entries it asks a store for slots, and gives them back when it
 * loses them (rt.h: a mutation that fails gives back whatever it took).
 *
 * What uses which store: the simulator runs on the null store (slots are
 * numbers that name nothing; byte accounting is the cache's own), the
 * tests on the counting store, which checks that every slot is freed
 * exactly once and can be made to run out, and the live replay on the
 * executor's pools (sim/exec.c: the KV and state slots the model really
 * reads and writes).  A store that runs out means eviction (avail, and
 * cache_insert_plan), not failure.
 */
#ifndef MARCONI_STORE_H
#define MARCONI_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A store: ssm_alloc and ssm_free are required; kv_alloc and kv_free are
 * both set or both NULL. */
typedef struct rt_store {
    void *ctx; /* the store's own data, passed to every call */
    /* An SSM state slot (>= 0), or -1 when none is free.  Slots are int32_t
     * here as in the executor's pools (gpu_backend/gpu.h). */
    int32_t (*ssm_alloc)(void *ctx);
    /* Give back a slot ssm_alloc returned (once). */
    void (*ssm_free)(void *ctx, int32_t slot);
    /* KV slots for n tokens into out[0..n); 0, or -1 when not enough are
     * free (then nothing is allocated: all or none).  NULL: the store keeps
     * no per-token slots and nodes carry none. */
    int (*kv_alloc)(void *ctx, uint32_t n, int32_t *out);
    /* Give back n slots kv_alloc returned (each once). */
    void (*kv_free)(void *ctx, const int32_t *slots, uint32_t n);
    /* Slots free now: *ssm state slots, *kv KV slots.  NULL: unlimited (the
     * null store).  A cache asks before an insert and evicts until the
     * store can hand out what the insert needs, so a store that runs out
     * means eviction, not failure (cache.h). */
    void (*avail)(void *ctx, int64_t *ssm, int64_t *kv);
} rt_store;

/* The null store: every SSM alloc succeeds (slot 0), no KV slots, no
 * limit.  Snapshots (cache_clone, rt_clone) always live on one. */
rt_store rt_null_store(void);

/* A counting store for tests: hands out numbered slots up to the given
 * limits (0 is allowed: a store that is full from the start), keeps a
 * bitmap, and records double frees and frees of slots it never gave out.
 * A leak shows as ssm_live / kv_live above what the tree holds
 * (rt_tree.states / kv_tokens), or above 0 once the tree is freed. */
typedef struct rt_count_store {
    uint8_t *ssm_used;  /* 1 per SSM slot in use */
    uint8_t *kv_used;   /* 1 per KV slot in use */
    int64_t ssm_cap;    /* SSM slots */
    int64_t kv_cap;     /* KV slots */
    int64_t ssm_live;   /* SSM slots in use */
    int64_t kv_live;    /* KV slots in use */
    int64_t errors;     /* double frees or frees of unknown slots */
} rt_count_store;
/* Set up s with ssm_cap SSM and kv_cap KV slots (both >= 0).  Returns 0,
 * or -1 on out-of-memory (s zeroed). */
int rt_count_store_init(rt_count_store *s, int64_t ssm_cap, int64_t kv_cap);
void rt_count_store_free(rt_count_store *s);
/* The rt_store over s (s must outlive every tree using it). */
rt_store rt_count_store_iface(rt_count_store *s);

#endif
