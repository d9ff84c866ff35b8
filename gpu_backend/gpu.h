/* gpu.h -- a hybrid Attention / Mamba2 / MLP model whose prefill can start
 * from a cached prefix: the contract of the GPU backend.
 *
 * The model is the one fl_model (flops/fl.h) describes, with weights drawn
 * from a seed.  Two executors run it: a plain-C fp32 one (the reference, and
 * what CI tests) and a CUDA one (cuBLAS for every projection, fp16 or bf16
 * storage with fp32 accumulation).  Both are behind the same calls.
 *
 * A prefill is handed the tokens that are new, plus where the state of the
 * cached prefix before them lives:
 *
 *   positions      0 ........ p-1 | p ............ p+n-1
 *                  cached prefix  | new tokens (this call)
 *   KV             prefix_kv[]    | new_kv[]     (slots of the KV pool)
 *   SSM + conv     start_state    | ckpt[i] -> ckpt_slot[i] (slots of the
 *                  (after p-1)    |   state pool: the state after the
 *                                 |   first ckpt[i] tokens)
 *
 * The KV pool is paged by token: one slot holds one position's K and V in
 * every attention layer, and a prefix is any list of slots, in any order.
 *
 *   KV pool     [attention layer a][slot][K | V][kv_heads x head_dim]
 *                a = 0 .. n_attn-1, slot = 0 .. kv_slots-1
 *
 * The state pool holds whole-model checkpoints: one slot is the SSM state
 * and the conv1d window of every Mamba2 layer after some position.
 *
 *   state pool  [slot][SSM layer j] { ssm  [heads][headdim][d_state]
 *                                      conv [conv_kernel-1][conv_dim] }
 *                heads = expand*d / headdim, conv_dim = expand*d + 2*ngroups*d_state;
 *                conv holds the last conv_kernel-1 inputs of the conv1d,
 *                oldest first.
 *
 * Layers follow model.pattern, one char a layer: 'M' a Mamba2 mixer, 'A'
 * causal attention, '-' an MLP; each is pre-normed (RMSNorm) and adds into a
 * residual stream of width d:
 *
 *   tokens -> embed -> [ x += layer(rmsnorm(x)) ] x pattern -> rmsnorm -> LM head
 *
 *   'M'  in_proj -> [z | xBC | dt]; xBC -> causal conv1d (width conv_kernel)
 *        -> SiLU -> [x | B | C]; SSD scan (state [heads][headdim][d_state]);
 *        y = scan + D*x; rmsnorm(y * silu(z)) per group; out_proj
 *   'A'  Wqkv -> RoPE(q, k) -> softmax(q k^T / sqrt(head_dim)) v (causal,
 *        MHA or GQA) -> Wo
 *   '-'  W_up -> relu^2 -> W_down
 *
 * Checkpoints inside the new tokens (the paper's section 4.1) use chunked
 * state passing: the scan keeps the state at every chunk boundary, and a
 * checkpoint at position r rolls the state at the boundary before r forward
 * over the r mod chunk tokens in between (docs/gpu_backend.md: the cost).
 *
 * Every call returns 0 on success or -1 with "marconi: FILE:LINE: message"
 * in err (errlen bytes; err may be NULL).  Nothing here aborts on bad input
 * or on a budget the device cannot hold.
 */
#ifndef MARCONI_GPU_H
#define MARCONI_GPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "flops/fl.h" /* C linkage: fl.h has no guard of its own */

typedef enum gpu_backend {
    GPU_BACKEND_CPU = 0,  /* plain C, fp32: the reference */
    GPU_BACKEND_CUDA = 1, /* CUDA + cuBLAS; "built without CUDA" when libgpu has no CUDA objects */
} gpu_backend;

typedef enum gpu_dtype {
    GPU_F16 = 0,  /* IEEE half */
    GPU_BF16 = 1, /* bfloat16 */
} gpu_dtype;

/* How the CPU executor runs the SSD scan. */
typedef enum gpu_scan {
    GPU_SCAN_RECURRENT = 0, /* token by token: the definition */
    GPU_SCAN_CHUNKED = 1,   /* the CUDA algorithm (chunk states, state passing, roll-forward), in C */
} gpu_scan;

#define GPU_NO_SLOT (-1) /* "no state slot": start from zeros */

typedef struct gpu_config {
    fl_model model;           /* shapes and layer order (fl_preset / fl_load_json) */
    gpu_dtype dtype;          /* storage of weights; on CUDA also activations and both pools.
                                 The CPU executor computes in fp32 on weights rounded to it, so
                                 both executors hold bit-identical weights */
    int chunk;                /* SSD chunk length Q, tokens: a multiple of 16 in [16, 256] */
    int64_t max_tokens;       /* tokens run through the model at once (sizes the activation
                                 workspace); a longer prefill runs in segments of this many,
                                 passing the SSM state between them */
    int64_t kv_pool_bytes;    /* budget of the KV pool, bytes; slots = budget / kv_slot_bytes */
    int64_t state_pool_bytes; /* budget of the state pool, bytes; slots = budget / state_slot_bytes */
    double rope_theta;        /* RoPE base (10000) */
    float norm_eps;           /* RMSNorm epsilon (1e-5) */
    gpu_scan cpu_scan;        /* CPU executor only: which SSD algorithm */
    int device;               /* CUDA device ordinal (0) */
    int profile;              /* CUDA: time op classes with events (gpu_get_profile); 0 = off */
} gpu_config;

/* Fill *cfg with defaults for model m: fp16, chunk 128 (32 when d < 1024),
 * max_tokens 8192, pool budgets of 4096 KV positions and 4 checkpoints
 * counted at 4 bytes an element (the CUDA executor's 2-byte pools get twice
 * the slots), theta 10000, eps 1e-5, recurrent CPU scan, device 0,
 * profiling off. */
void gpu_config_init(gpu_config *cfg, const fl_model *m);

/* What a model holds, in real bytes, beside the paper's formula bytes. */
typedef struct gpu_info {
    int64_t kv_slots;                  /* KV pool capacity, positions */
    int64_t state_slots;               /* state pool capacity, checkpoints */
    int elem_bytes;                    /* bytes of one pool element: 4 on CPU, 2 on CUDA */
    int64_t kv_slot_bytes;             /* one position's KV, all attention layers, real */
    int64_t ssm_layer_bytes;           /* one SSM layer's SSM state, real */
    int64_t conv_layer_bytes;          /* one SSM layer's conv window, real */
    int64_t state_slot_bytes;          /* one checkpoint, all SSM layers, real */
    int64_t formula_kv_bytes_per_token;/* fl_kv_bytes_per_token(): 2 d bytes per attention layer */
    int64_t formula_state_bytes;       /* fl_ssm_state_bytes(): the paper's checkpoint size */
    int64_t n_params;                  /* weights, elements */
    int64_t weight_bytes;              /* weights as stored */
    int64_t kv_pool_bytes;             /* allocated */
    int64_t state_pool_bytes;          /* allocated */
    int64_t workspace_bytes;           /* activations and scratch for max_tokens */
} gpu_info;

typedef struct gpu_model gpu_model;

/* Build a model: check cfg, draw the weights from seed, size and allocate
 * weights, both pools and the workspace, all before any prefill runs.
 * Same cfg and seed give bit-identical weights on both backends.
 * Returns NULL with a message in err when cfg is invalid, a pool budget
 * holds no slot while the model needs one, memory (host, or device after
 * cudaMemGetInfo) cannot hold it all, or CUDA is absent. */
gpu_model *gpu_create(const gpu_config *cfg, uint64_t seed, gpu_backend backend, char *err, size_t errlen);

/* Free everything (NULL is fine). */
void gpu_destroy(gpu_model *g);

/* Elements of one KV slot (one position, all attention layers) and of one
 * state slot (all SSM layers) for cfg's model, before creating it: a pool
 * of S slots needs S x elements x the backend's element bytes (4 on the
 * CPU, 2 on CUDA).  Returns 0, or -1 with err when the model is invalid. */
int gpu_slot_elems(const gpu_config *cfg, int64_t *kv_elems, int64_t *state_elems, char *err, size_t errlen);

const gpu_info *gpu_get_info(const gpu_model *g);
const gpu_config *gpu_get_config(const gpu_model *g);

/* One prefill. */
typedef struct gpu_prefill_req {
    const int32_t *tokens;     /* n new tokens, each in [0, vocab) */
    int64_t n;                 /* >= 1 */
    int64_t n_prefix;          /* p: cached positions before the new tokens */
    const int32_t *prefix_kv;  /* p KV slots, positions 0..p-1 (ignored without attention layers) */
    int32_t start_state;       /* state slot holding the state after position p-1; must be a
                                  slot when p > 0 and GPU_NO_SLOT when p == 0 (ignored without
                                  SSM layers) */
    const int32_t *new_kv;     /* n KV slots that receive the new positions' KV; all p+n slots
                                  distinct (ignored without attention layers) */
    const int64_t *ckpt;       /* n_ckpt positions, strictly increasing, in (p, p+n]: save the
                                  state after the first ckpt[i] tokens of the sequence */
    const int32_t *ckpt_slot;  /* state slot for each; may be start_state (read before written) */
    int n_ckpt;                /* >= 0 */
    float *logits;             /* out: vocab logits of the last token (may be NULL) */
    int32_t *next_token;       /* out: greedy argmax of them, lowest index on ties (may be NULL) */
} gpu_prefill_req;

/* Run one prefill.  Returns 0, or -1 with nothing written when the request
 * is malformed (a slot out of range or repeated, a checkpoint outside
 * (p, p+n], a missing start state, ...); -1 after a CUDA error. */
int gpu_prefill(gpu_model *g, const gpu_prefill_req *req, char *err, size_t errlen);

/* Read a state slot as floats, in the pool layout above (state_slot_bytes /
 * elem_bytes floats).  Returns 0, or -1 for a bad slot. */
int gpu_read_state(gpu_model *g, int32_t slot, float *out, char *err, size_t errlen);

/* Read one KV slot as floats: [attention layer][K | V][kv_heads x head_dim]. */
int gpu_read_kv(gpu_model *g, int32_t slot, float *out, char *err, size_t errlen);

/* Copy state slot src to dst (how a cache would fork a checkpoint). */
int gpu_copy_state(gpu_model *g, int32_t dst, int32_t src, char *err, size_t errlen);

/* Time of the last prefill by op class, milliseconds: CUDA with
 * cfg.profile fills the classes (restore and save stay 0: they are inside
 * `state`); the CPU executor always fills restore, save and total (its
 * checkpoints' SSM states are written inside the scan and count there). */
typedef struct gpu_profile {
    double gemm;      /* cuBLAS projections, LM head included */
    double scan;      /* SSD: prep, C B^T, chunk states, state passing, chunk scan */
    double attention; /* attention kernel */
    double conv;      /* conv1d */
    double state;     /* state restore and checkpoint save, KV scatter */
    double other;     /* norms, RoPE, activations, embedding */
    double total;     /* the whole prefill, host calls included */
    double restore;   /* CPU: copying the resumed SSM + conv state in */
    double save;      /* CPU: writing the checkpoints' conv windows and the carry */
} gpu_profile;
void gpu_get_profile(const gpu_model *g, gpu_profile *out);

#ifdef __cplusplus
}
#endif

#endif
