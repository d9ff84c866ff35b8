/* gpu_test.cu -- the CUDA executor against the plain-C reference.
 *
 *   kernels   each op alone on random inputs, against gpu_ref.c on the same
 *             inputs (rounded to the storage type), within abs + |ref| * eps
 *   weights   drawn on the device, bit-identical to the host's
 *   model     tiny and tiny-gqa, fp16 and bf16: CUDA logits vs CPU logits;
 *             a prefill split at p (on and off chunk boundaries) vs the whole,
 *             on the GPU; a checkpoint taken mid-prefill vs the final state of
 *             a shorter prefill; segments; bad budgets refused
 *   hybrid-7b split vs whole on the GPU (skipped with --small)
 *
 * Bounds (relative 2-norm error of the logits): 1e-3 in fp16, 1e-2 in bf16.
 * Prints one line a check and exits nonzero if any failed.
 *
 * The code: gpu_test.cu (this driver, the tally, the error measures),
 * gpu_test_kernels.cu (the kernel checks), gpu_test_model.cu (the model
 * checks), gpu_test.cuh (what they share).
 *
 *   build/gpu/gpu_test [--no-7b | --small]      (make gpu-test)
 *   --no-7b   skips hybrid-7b; --small also the hybrid-7b-shaped kernel checks
 *             (make gpu-emu-test runs --small on the CPU emulator)
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_backend/gpu_test.cuh"

static int n_pass = 0, n_fail = 0;
char test_err[1024];

void report(bool ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s  ", ok ? "PASS" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    (ok ? n_pass : n_fail)++;
}

double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

double tol_ratio(const float *a, const float *r, size_t n, double atol, double rtol) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double q = fabs((double)a[i] - (double)r[i]) / (atol + rtol * fabs((double)r[i]));
        if (!(q <= worst)) worst = q; /* NaN wins */
    }
    return worst;
}

int main(int argc, char **argv) {
    bool small = false, no7b = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--small") == 0) small = no7b = true;
        else if (strcmp(argv[i], "--no-7b") == 0) no7b = true;
        else {
            printf("usage: gpu_test [--small | --no-7b]\n");
            return 2;
        }
    }
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("gpu_test: no CUDA device\n");
        return 1;
    }
    try {
        gpu_test_kernels(small);
        gpu_test_model(no7b);
    } catch (const std::exception &e) {
        report(false, "exception: %s", e.what());
    }
    printf("gpu_test: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
