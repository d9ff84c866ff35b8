/* store.c -- the null store and the counting store (see store.h). */
#include "store.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static int32_t null_ssm_alloc(void *ctx) { return 0; }
static void null_ssm_free(void *ctx, int32_t slot) {}

rt_store rt_null_store(void) {
    rt_store s = {.ctx = NULL,
                  .ssm_alloc = null_ssm_alloc,
                  .ssm_free = null_ssm_free,
                  .kv_alloc = NULL, /* no per-token slots: nodes carry no kv array */
                  .kv_free = NULL,
                  .avail = NULL};
    return s;
}

static int32_t cnt_ssm_alloc(void *ctx) {
    rt_count_store *s = ctx;
    for (int64_t i = 0; i < s->ssm_cap; i++)
        if (!s->ssm_used[i]) {
            s->ssm_used[i] = 1;
            s->ssm_live++;
            return (int32_t)i;
        }
    return -1;
}

static void cnt_ssm_free(void *ctx, int32_t slot) {
    rt_count_store *s = ctx;
    if (slot < 0 || slot >= s->ssm_cap || !s->ssm_used[slot]) {
        s->errors++;
        return;
    }
    s->ssm_used[slot] = 0;
    s->ssm_live--;
}

static int cnt_kv_alloc(void *ctx, uint32_t n, int32_t *out) {
    rt_count_store *s = ctx;
    if (s->kv_live + n > s->kv_cap) return -1;
    uint32_t got = 0;
    for (int64_t i = 0; i < s->kv_cap && got < n; i++)
        if (!s->kv_used[i]) {
            s->kv_used[i] = 1;
            out[got++] = (int32_t)i;
        }
    s->kv_live += n;
    return 0;
}

static void cnt_kv_free(void *ctx, const int32_t *slots, uint32_t n) {
    rt_count_store *s = ctx;
    for (uint32_t i = 0; i < n; i++) {
        if (slots[i] < 0 || slots[i] >= s->kv_cap || !s->kv_used[slots[i]]) {
            s->errors++;
            continue;
        }
        s->kv_used[slots[i]] = 0;
        s->kv_live--;
    }
}

static void cnt_avail(void *ctx, int64_t *ssm, int64_t *kv) {
    rt_count_store *s = ctx;
    *ssm = s->ssm_cap - s->ssm_live;
    *kv = s->kv_cap - s->kv_live;
}

int rt_count_store_init(rt_count_store *s, int64_t ssm_cap, int64_t kv_cap) {
    assert(ssm_cap >= 0 && ssm_cap <= INT32_MAX && kv_cap >= 0 && kv_cap <= INT32_MAX); /* slots are int32_t */
    memset(s, 0, sizeof *s);
    s->ssm_used = calloc((size_t)ssm_cap + 1, 1);
    s->kv_used = calloc((size_t)kv_cap + 1, 1);
    if (!s->ssm_used || !s->kv_used) {
        rt_count_store_free(s);
        return -1;
    }
    s->ssm_cap = ssm_cap;
    s->kv_cap = kv_cap;
    return 0;
}

void rt_count_store_free(rt_count_store *s) {
    free(s->ssm_used);
    free(s->kv_used);
    memset(s, 0, sizeof *s);
}

rt_store rt_count_store_iface(rt_count_store *s) {
    rt_store st = {.ctx = s,
                   .ssm_alloc = cnt_ssm_alloc,
                   .ssm_free = cnt_ssm_free,
                   .kv_alloc = cnt_kv_alloc,
                   .kv_free = cnt_kv_free,
                   .avail = cnt_avail};
    return st;
}
