/* gpu_internal.h -- what the two executors share: the model's derived
 * sizes, the weight plan and its seeded generator, fp16/bf16 rounding, and
 * the interface gpu.c drives them through.  Not part of the public API.
 *
 * Weights.  Tensor i of the plan (gpu_weights_plan) has element j equal to
 *
 *     round_dtype( u(seed, i, j) * scale )      u in [-1, 1), 24 bits
 *
 * where u comes from splitmix64 of a per-tensor key plus j: counter-based, so
 * the CUDA executor draws its big matrices on the device in parallel and
 * gets the same bits the CPU draws one by one.  Small per-layer vectors
 * (norm weights, the SSM's A, dt bias and D) are made on the host by
 * gpu_weight_fill for both.
 *
 * A prefill is cut into segments of at most max_tokens tokens; gpu.c checks
 * the request, builds the position -> KV slot table, and hands each segment
 * to the executor as a gpu_seg.  Between segments the SSM and conv states
 * travel in a "carry" buffer inside the executor (fp32 on both), so a long
 * prefill is the same computation as a chain of short ones.
 */
#ifndef MARCONI_GPU_INTERNAL_H
#define MARCONI_GPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gpu_backend/gpu.h"

#ifdef __CUDACC__
#define GPU_HD __host__ __device__
#else
#define GPU_HD
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sizes derived from the config ------------------------------------- */

typedef struct gpu_layout {
    int n_layers;             /* strlen(pattern) */
    char kind[FL_PATTERN_MAX];/* the pattern: FL_LAYER_* per layer */
    int idx[FL_PATTERN_MAX];  /* layer's index among the layers of its kind */
    int n_attn, n_ssm, n_mlp; /* layers of each kind */
    int64_t d;                /* residual width */
    int64_t vocab;            /* embedding / LM head rows */
    int64_t d_ff;             /* MLP hidden width */
    /* Mamba2 */
    int64_t d_inner;          /* expand * d */
    int64_t H;                /* SSM heads: d_inner / headdim */
    int64_t P;                /* headdim */
    int64_t N;                /* d_state */
    int64_t G;                /* B/C groups; head h uses group h / (H / G) */
    int64_t K;                /* conv1d width */
    int64_t conv_dim;         /* conv1d channels: d_inner + 2 G N (x, B, C) */
    int64_t d_in_proj;        /* in_proj rows: [z d_inner | xBC conv_dim | dt H] */
    int64_t ssm_elems;        /* H P N: one layer's SSM state */
    int64_t conv_elems;       /* (K-1) conv_dim: one layer's conv window */
    int64_t state_slot_elems; /* n_ssm (ssm_elems + conv_elems): one state slot */
    /* attention */
    int64_t nh;               /* query heads */
    int64_t nkv;              /* KV heads */
    int64_t hd;               /* head dim: d / nh */
    int64_t q_dim;            /* nh hd */
    int64_t kv_dim;           /* nkv hd */
    int64_t qkv_dim;          /* q_dim + 2 kv_dim: rows of Wqkv, [q | k | v] */
    int64_t kv_slot_elems;    /* n_attn 2 kv_dim: one KV slot, all layers */
    int64_t big_dim;          /* widest projection output: max(d_in_proj, qkv_dim, d_ff) */
} gpu_layout;

/* Derive the layout (gpu_layout.c); -1 with a message when the shapes do
 * not make a model (beyond fl_validate: groups divide heads, even head_dim
 * for RoPE, ...). */
int gpu_layout_init(gpu_layout *L, const gpu_config *cfg, char *err, size_t errlen);

/* ---- weights --------------------------------------------------------------- */

typedef enum gpu_init {
    GPU_INIT_UNIFORM = 0, /* u * scale, rounded to dtype (the big matrices) */
    GPU_INIT_NORM,        /* 1 + 0.1 u, rounded to dtype */
    GPU_INIT_DT_BIAS,     /* softplus^-1 of dt log-uniform in [0.001, 0.1], fp32 (Mamba2 init) */
    GPU_INIT_A_LOG,       /* log A, A uniform in [1, 16], fp32 (Mamba2 init) */
    GPU_INIT_D,           /* skip D: 1 + 0.1 u, fp32 */
} gpu_init;

typedef struct gpu_tensor {
    int64_t rows, cols; /* a rows x cols row-major matrix (cols = 1 for a vector) */
    gpu_init init;      /* how element values are drawn */
    float scale;        /* GPU_INIT_UNIFORM: half-width of the range */
    int fp32;           /* kept in fp32 by every executor (the per-head SSM scalars) */
} gpu_tensor;

/* Tensor ids of one layer (-1 where the layer kind has none). */
typedef struct gpu_layer_w {
    int norm;                                    /* pre-norm weight [d] */
    int in_proj, conv_w, conv_b, dt_bias, a_log; /* 'M': [d_in_proj][d], [conv_dim][K], [conv_dim], [H], [H] */
    int d_skip, gnorm, out_proj;                 /* 'M': [H], [d_inner], [d][d_inner] */
    int wqkv, wo;                                /* 'A': [qkv_dim][d], [d][q_dim] */
    int up, down;                                /* '-': [d_ff][d], [d][d_ff] */
} gpu_layer_w;

typedef struct gpu_wplan {
    int n;                             /* tensors */
    gpu_tensor *t;                     /* n tensors, id = index (malloc'd) */
    int emb, final_norm, lm_head;      /* [vocab][d], [d], [vocab][d] */
    gpu_layer_w layer[FL_PATTERN_MAX]; /* per layer */
    int64_t n_params;                  /* elements, all tensors */
} gpu_wplan;

/* Build the plan (tensor shapes and init kinds, ids in a fixed order;
 * gpu_weights.c).  -1 when out of memory. */
int gpu_weights_plan(const gpu_layout *L, gpu_wplan *w);
void gpu_weights_free(gpu_wplan *w);

/* Element values of tensor id, as floats already rounded to dt (or exact
 * fp32 for fp32 tensors): out holds rows*cols floats. */
void gpu_weight_fill(const gpu_tensor *t, int id, uint64_t seed, gpu_dtype dt, float *out);

static inline GPU_HD uint64_t gpu_mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Stream key of tensor id under seed. */
static inline GPU_HD uint64_t gpu_tensor_key(uint64_t seed, int id) {
    return gpu_mix64(seed ^ gpu_mix64(0x6d61726b6f6e69ULL + (uint64_t)id));
}

/* Element j of a stream: exactly k / 2^23 for an integer k in [-2^23, 2^23),
 * so the conversion is exact and u * scale rounds once, on any machine. */
static inline GPU_HD float gpu_uniform(uint64_t key, uint64_t j) {
    uint64_t r = gpu_mix64(key + j);
    return (float)((int32_t)(r >> 40) - 8388608) * (1.0f / 8388608.0f);
}

/* ---- fp16 / bf16, round to nearest even ------------------------------------ */

static inline uint16_t gpu_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
    if (ax < 0x38800000u) {                                    /* below 2^-14: subnormal */
        if (ax < 0x33000000u) return (uint16_t)sign;           /* <= 2^-25 rounds to 0 */
        uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u, s = 126 - e;
        uint32_t h = m >> s, rem = m & ((1u << s) - 1), half = 1u << (s - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t r = ax - 0x38000000u; /* exponent bias 127 -> 15 */
    r += 0xfffu + ((r >> 13) & 1);
    return (uint16_t)(sign | (r >> 13));
}

static inline float gpu_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0) {
        if (m == 0) x = sign;
        else {
            e = 113;
            while (!(m & 0x400u)) {
                m <<= 1;
                e--;
            }
            x = sign | (e << 23) | ((m & 0x3ffu) << 13);
        }
    } else if (e == 31) x = sign | 0x7f800000u | (m << 13);
    else x = sign | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static inline uint16_t gpu_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

static inline float gpu_bf16_to_f32(uint16_t b) {
    uint32_t x = (uint32_t)b << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static inline uint16_t gpu_to_bits(float f, gpu_dtype dt) {
    return dt == GPU_BF16 ? gpu_f32_to_bf16(f) : gpu_f32_to_f16(f);
}
static inline float gpu_from_bits(uint16_t b, gpu_dtype dt) {
    return dt == GPU_BF16 ? gpu_bf16_to_f32(b) : gpu_f16_to_f32(b);
}
/* f rounded to the nearest value dt can hold. */
static inline float gpu_round(float f, gpu_dtype dt) { return gpu_from_bits(gpu_to_bits(f, dt), dt); }

/* ---- errors ------------------------------------------------------------------- */

/* Write "marconi: file:line: message" into err (file cut to its
 * gpu_backend/ part; gpu.c); returns -1, so a check can return it. */
int gpu_errf(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 5, 6)))
#endif
    ;
#define GPU_ERR(err, errlen, ...) gpu_errf((err), (errlen), __FILE__, __LINE__, __VA_ARGS__)

/* ---- what gpu.c hands an executor -------------------------------------------- */

#define GPU_SRC_ZERO (-1)  /* state source: zeros (a prefill from position 0) */
#define GPU_SRC_CARRY (-2) /* state source / checkpoint target: the executor's carry buffer */

/* One segment of a prefill: T tokens at positions pos0 .. pos0+T-1. */
typedef struct gpu_seg {
    const int32_t *tokens;      /* T tokens */
    int64_t T;                  /* 1 .. max_tokens */
    int64_t pos0;               /* absolute position of tokens[0] */
    const int32_t *slot_of_pos; /* KV slot of positions 0 .. pos0+T-1 (NULL without attention) */
    int32_t src;                /* state before tokens[0]: a slot, GPU_SRC_ZERO or GPU_SRC_CARRY */
    int n_ckpt;                 /* checkpoints in this segment */
    const int64_t *ckpt_r;      /* tokens of this segment consumed, 1 .. T, increasing */
    const int32_t *ckpt_dst;    /* a state slot or GPU_SRC_CARRY */
    float *logits;              /* non-NULL on the last segment: vocab logits of token T-1 */
    int first;                  /* the request's first segment (profiles restart) */
} gpu_seg;

typedef struct gpu_ops {
    int (*segment)(void *impl, const gpu_seg *s, char *err, size_t errlen);
    int (*read_state)(void *impl, int32_t slot, float *out, char *err, size_t errlen);
    int (*read_kv)(void *impl, int32_t slot, float *out, char *err, size_t errlen);
    int (*copy_state)(void *impl, int32_t dst, int32_t src, char *err, size_t errlen);
    void (*profile)(void *impl, gpu_profile *out);
    void (*destroy)(void *impl);
} gpu_ops;

/* Executors.  info arrives with the slot counts and slot sizes filled in;
 * the executor fills the allocated byte counts.  NULL with err on failure,
 * everything it allocated freed. */
void *gpu_cpu_create(const gpu_config *cfg, const gpu_layout *L, uint64_t seed, gpu_info *info,
                     const gpu_ops **ops, char *err, size_t errlen);
void *gpu_cuda_create(const gpu_config *cfg, const gpu_layout *L, uint64_t seed, gpu_info *info,
                      const gpu_ops **ops, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
