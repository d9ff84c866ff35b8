/* ttft.h -- how long a prefill takes, given the tokens it computes and the
 * prefix it resumes from (the discrete-event simulator's service time).
 *
 *   roofline   FLOPs(new tokens after the cached prefix) / (peak x mfu)
 *              + (state bytes loaded + weight bytes) / bandwidth
 *              + a fixed per-step overhead
 *   profile    measured latency by (new tokens, cached tokens) from a CSV,
 *              interpolated linearly (and extrapolated from the two last
 *              points of a row), e.g. what the GPU backend measures
 *
 * Presets (--ttft-model): a100 (312 TFLOP/s fp16 dense, 2.039 TB/s),
 * h100 (989 TFLOP/s fp16 dense, 3.35 TB/s), both at mfu 0.5; jamba-a100:
 * the artifact's measured Jamba-1.5-Mini profile on 4xA100 (cached tokens
 * ignored, as the artifact's linear fit does).
 */
#ifndef MARCONI_TTFT_H
#define MARCONI_TTFT_H

#include <stddef.h>
#include <stdint.h>

#include "flops/fl.h"

enum { TTFT_ROOFLINE = 0, TTFT_PROFILE = 1 };

#define TTFT_ROWS_MAX 64

/* One row of a profile: latency against new tokens at one cached length. */
typedef struct ttft_row {
    double cached;   /* cached tokens of this row */
    double *x;       /* new tokens, strictly increasing */
    double *ms;      /* prefill latency in ms, non-decreasing */
    int *line;       /* the CSV line of each point (0: built in) */
    size_t n;        /* points */
} ttft_row;

typedef struct ttft_model {
    int kind;              /* TTFT_ROOFLINE or TTFT_PROFILE */
    char name[64];         /* preset or file, for reports */
    double peak_flops;     /* roofline: device FLOP/s */
    double mfu;            /* roofline: fraction of peak reached */
    double bandwidth;      /* roofline: memory bytes/s */
    double weight_bytes;   /* roofline: bytes of weights read per step (0: from the model) */
    double overhead_s;     /* seconds added to every prefill step */
    ttft_row rows[TTFT_ROWS_MAX]; /* profile rows, by increasing cached tokens */
    size_t nrows;          /* profile rows */
} ttft_model;

/* A preset ("a100", "h100", "jamba-a100") or "profile:FILE.csv".
 * Returns 0, or -1 with "FILE:LINE: message" / a message in err. */
int ttft_load(const char *spec, ttft_model *m, char *err, size_t errlen);
void ttft_free(ttft_model *m);

/* Tensor-parallel over n GPUs (roofline models): peak FLOP/s and bandwidth
 * times n, the name gets "xN".  -1 for a profile model (it is measured). */
int ttft_scale(ttft_model *m, int n);

/* Seconds to prefill n_new tokens after n_cached cached ones; `hit` says
 * whether an SSM state and the prefix's KV are loaded. */
double ttft_seconds(const ttft_model *m, const fl_model *model, uint64_t n_cached, uint64_t n_new);

/* Bytes of a model's weights (embedding, layers, LM head) at bytes_per_elem. */
double ttft_weight_bytes(const fl_model *model);

#endif
