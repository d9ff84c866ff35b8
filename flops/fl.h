/* fl.h -- model shapes, FLOP counts and state bytes of a hybrid LLM.
 *
 * One config struct (fl_model) describes a hybrid Attention / SSM (Mamba2) /
 * MLP model.  The simulator's accounting (cache/, sim/, tuner/) and the GPU
 * backend's real model (gpu_backend/) are both built from it, so the shapes
 * the simulator charges for are the shapes the GPU runs.
 *
 * The paper's formulas (artifact utils.py), forward pass, sequence length L:
 *
 *   attention layer   8 L D^2 + 4 L^2 D        FLOPs
 *   MLP layer        16 L D^2                  FLOPs
 *   Mamba layer      12 L D^2 + 16 L D N + 10 L D   FLOPs
 *   KV per token      2 D * bytes              bytes per attention layer
 *   SSM checkpoint    D N bytes + (expand D + 2 N) conv_kernel bytes
 *                                              bytes per SSM layer
 *
 * At the defaults (hybrid-7b, fp16) one checkpoint of all 24 SSM layers is
 * 26,787,840 bytes and the KV of one token in the 4 attention layers is
 * 65,536 bytes.  The real Mamba2 tensors are larger than the formula (the
 * SSM state is expand*D*N, not D*N); fl_real_ssm_bytes() gives those, and
 * the GPU backend reports them beside the formula's.
 *
 * Integer FLOP counts fit comfortably in int64 for any sequence the cache
 * can hold (hybrid-7b at L = 1M tokens: ~2e19 would not, so the functions
 * work in __int128 and callers sum in fl_i128).
 */
#ifndef MARCONI_FL_H
#define MARCONI_FL_H

#include <stddef.h>
#include <stdint.h>

typedef __int128 fl_i128;

#define FL_NAME_MAX 64
#define FL_PATTERN_MAX 512

/* Layer kinds in fl_model.pattern. */
#define FL_LAYER_ATTN 'A' /* causal self-attention (RoPE, MHA or GQA) */
#define FL_LAYER_SSM 'M'  /* Mamba2 mixer */
#define FL_LAYER_MLP '-'  /* two-matmul MLP, hidden width d_ff */

typedef struct fl_model {
    char name[FL_NAME_MAX];       /* preset or file name, for reports */
    int n_attn;                   /* attention layers */
    int n_ssm;                    /* SSM (Mamba2) layers */
    int n_mlp;                    /* MLP layers */
    int64_t d;                    /* model width D (residual stream) */
    int64_t n;                    /* SSM state dimension N (d_state) */
    int expand;                   /* SSM inner width = expand * D (2) */
    int conv_kernel;              /* causal conv1d width (4) */
    int headdim;                  /* Mamba2 head dimension (64) */
    int ngroups;                  /* Mamba2 B/C groups (1) */
    int n_heads;                  /* attention query heads (D / 128) */
    int n_kv_heads;               /* attention KV heads; < n_heads is GQA */
    int64_t d_ff;                 /* MLP hidden width (4 D, as 16 L D^2 assumes) */
    int vocab;                    /* embedding / LM head rows (32000) */
    int bytes_per_elem;           /* bytes of one KV / SSM state element (2: fp16) */
    char pattern[FL_PATTERN_MAX]; /* layer order, one char a layer (FL_LAYER_*),
                                     e.g. "M-M-M-M-M-M-A-" x 4 for hybrid-7b */
} fl_model;

/* FLOP split of a prefix, by layer kind. */
typedef struct fl_flops {
    fl_i128 attn; /* all attention layers */
    fl_i128 mlp;  /* all MLP layers */
    fl_i128 ssm;  /* all SSM layers */
} fl_flops;

/* Fill *m with a named preset.  Returns 0, or -1 for an unknown name.
 * Presets: "hybrid-7b" (default: 24 SSM, 4 attention, 28 MLP, D 4096,
 * N 128), "tiny" (tests: 2 SSM, 1 attention, 3 MLP, D 64, N 16, vocab 256),
 * "tiny-gqa" (as tiny with 2 KV heads of 4). */
int fl_preset(const char *name, fl_model *m);

/* Names of the presets, NULL-terminated, for --help. */
extern const char *const fl_preset_names[];

/* Load a model from a JSON file: an object with any of the fl_model field
 * names above (missing fields keep the hybrid-7b value; "base": "tiny" starts
 * from another preset).  Without "base" the file must set at least one
 * field besides "name" ({"name": "x"} alone is refused: it would be
 * hybrid-7b under another name; "base": "hybrid-7b" says that on purpose).
 * When layer counts are given without "pattern", a pattern is built that
 * spreads attention evenly among the mixers and follows each mixer with an
 * MLP while MLPs last.  Unknown or repeated fields, bad values, a
 * directory, a byte-order mark are errors.  On error returns -1 and writes
 * "FILE:LINE: message" into err (errlen bytes; LINE: where the field is). */
int fl_load_json(const char *path, fl_model *m, char *err, size_t errlen);

/* Check a model's consistency (positive sizes, pattern counts equal layer
 * counts, heads divide D, ...).  Returns 0, or -1 with a message in err. */
int fl_validate(const fl_model *m, char *err, size_t errlen);

/* Build the default interleaved pattern from n_attn / n_ssm / n_mlp. */
void fl_default_pattern(fl_model *m);

/* Per-layer FLOPs of a forward pass over L tokens (paper formulas). */
fl_i128 fl_attn_flops(int64_t l, int64_t d);
fl_i128 fl_mlp_flops(int64_t l, int64_t d);
fl_i128 fl_ssm_flops(int64_t l, int64_t d, int64_t n);

/* Whole-model FLOPs to prefill a prefix of L tokens from nothing. */
fl_flops fl_prefix_flops(const fl_model *m, int64_t l);
fl_i128 fl_total(fl_flops f);

/* FLOPs saved by reusing a cached prefix of `cached` tokens when a request's
 * prefill would otherwise start at 0: equal to fl_prefix_flops(cached), the
 * whole quadratic attention term of the prefix included. */
fl_flops fl_saved_flops(const fl_model *m, int64_t cached);

/* FLOPs to prefill `l_new` tokens after a cached prefix of `l_cached`
 * tokens: attention pays for attending to the prefix. */
fl_flops fl_extend_flops(const fl_model *m, int64_t l_cached, int64_t l_new);

/* Bytes, paper formulas: KV of one token across all attention layers;
 * one SSM checkpoint across all SSM layers. */
int64_t fl_kv_bytes_per_token(const fl_model *m);
int64_t fl_ssm_state_bytes(const fl_model *m);
/* One SSM layer's checkpoint (paper formula). */
int64_t fl_ssm_layer_bytes(const fl_model *m);

/* Bytes of the real tensors of a Mamba2 layer's checkpoint: SSM state
 * (expand*D/headdim heads x headdim x N) plus conv state ((expand*D +
 * 2*ngroups*N) x (conv_kernel-1)), both in bytes_per_elem. */
int64_t fl_real_ssm_layer_bytes(const fl_model *m);
/* Real KV bytes per token per attention layer (2 x n_kv_heads x head dim). */
int64_t fl_real_kv_layer_bytes_per_token(const fl_model *m);

/* Whole-model FLOPs saved per byte of state for a prefix of L tokens
 * (the paper's Fig. 5 "FLOP efficiency"). */
double fl_efficiency(const fl_model *m, int64_t l);

/* Correctly rounded a / b for integers (Python's int true division). */
double fl_div(fl_i128 a, fl_i128 b);

/* Format an __int128 in decimal into buf (at least 41 bytes). */
char *fl_i128_str(fl_i128 v, char *buf);

#endif
