/* gpu_test.cuh -- what gpu_test's files share (gpu_test.cu, the driver;
 * gpu_test_kernels.cu, each op alone; gpu_test_model.cu, the whole model):
 * the pass / fail tally, the storage types' names and bounds, error
 * measures, device buffers seen from the host as floats, random inputs.
 */
#pragma once

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <vector>

#include "gpu_backend/gpu.h"
#include "gpu_backend/gpu_internal.h"
#include "gpu_backend/gpu_ref.h"
#include "gpu_backend/kernels/common.cuh"

/* Print "PASS  ..." or "FAIL  ..." and count it (gpu_test.cu). */
void report(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Message buffer for the API's errors (gpu_create, gpu_prefill, ...). */
extern char test_err[1024];

template <typename T> constexpr gpu_dtype dtype_of();
template <> constexpr gpu_dtype dtype_of<__half>() { return GPU_F16; }
template <> constexpr gpu_dtype dtype_of<__nv_bfloat16>() { return GPU_BF16; }
template <typename T> const char *dname() { return dtype_of<T>() == GPU_F16 ? "f16" : "bf16"; }
/* unit roundoff of the storage type */
template <typename T> double ulp() { return dtype_of<T>() == GPU_F16 ? 4.9e-4 : 3.9e-3; }
template <typename T> double model_bound() { return dtype_of<T>() == GPU_F16 ? 1e-3 : 1e-2; }

/* relative 2-norm error of a against b (the 2-norm of a - b when b is 0) */
double rel_err(const float *a, const float *b, size_t n);

/* max over i of |a - r| / (atol + rtol |r|): <= 1 passes; NaN wins */
double tol_ratio(const float *a, const float *r, size_t n, double atol, double rtol);

/* ---- device buffers holding the storage type, seen from the host as floats ---- */

template <typename E> struct Dev {
    E *p = nullptr; /* device memory, count elements (at least one allocated) */
    size_t n = 0;   /* count */
    explicit Dev(size_t count) : n(count) { cudaCheck(cudaMalloc(&p, (count ? count : 1) * sizeof(E))); }
    ~Dev() { cudaFree(p); }
    Dev(const Dev &) = delete;
    Dev &operator=(const Dev &) = delete;
};

/* host floats -> device T (rounding), and back */
template <typename T> void up(Dev<T> &d, const std::vector<float> &h) {
    std::vector<uint16_t> b(h.size());
    for (size_t i = 0; i < h.size(); i++) b[i] = gpu_to_bits(h[i], dtype_of<T>());
    cudaCheck(cudaMemcpy(d.p, b.data(), b.size() * 2, cudaMemcpyHostToDevice));
}
inline void up(Dev<float> &d, const std::vector<float> &h) {
    cudaCheck(cudaMemcpy(d.p, h.data(), h.size() * 4, cudaMemcpyHostToDevice));
}
template <typename T> std::vector<float> down(const Dev<T> &d) {
    std::vector<uint16_t> b(d.n);
    cudaCheck(cudaMemcpy(b.data(), d.p, d.n * 2, cudaMemcpyDeviceToHost));
    std::vector<float> h(d.n);
    for (size_t i = 0; i < d.n; i++) h[i] = gpu_from_bits(b[i], dtype_of<T>());
    return h;
}
inline std::vector<float> down(const Dev<float> &d) {
    std::vector<float> h(d.n);
    cudaCheck(cudaMemcpy(h.data(), d.p, d.n * 4, cudaMemcpyDeviceToHost));
    return h;
}

/* n random values in [lo, hi), rounded to T when round is set (kernel inputs) */
template <typename T> std::vector<float> rnd(size_t n, uint64_t key, float lo, float hi, bool round = true) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; i++) {
        float u = 0.5f * (gpu_uniform(key, i) + 1.0f);
        v[i] = lo + (hi - lo) * u;
        if (round) v[i] = gpu_round(v[i], dtype_of<T>());
    }
    return v;
}

/* The test groups, in the order main runs them.  small: skip the
 * hybrid-7b-shaped kernel checks; no7b: skip the hybrid-7b model. */
void gpu_test_kernels(bool small);
void gpu_test_model(bool no7b);
