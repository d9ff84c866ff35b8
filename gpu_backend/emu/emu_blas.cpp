/* emu_blas.cpp -- the two cuBLAS calls the backend makes, in plain loops
 * for the emulator: operands read as fp32, products summed in fp32, the
 * result rounded once to the output type, as cuBLAS does with
 * CUBLAS_COMPUTE_32F. */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstdio>

namespace {

float ld(const void *p, cudaDataType t, int64_t i) {
    switch (t) {
    case CUDA_R_16F: return __half2float(static_cast<const __half *>(p)[i]);
    case CUDA_R_16BF: return __bfloat162float(static_cast<const __nv_bfloat16 *>(p)[i]);
    default: return static_cast<const float *>(p)[i];
    }
}

void st(void *p, cudaDataType t, int64_t i, float v) {
    switch (t) {
    case CUDA_R_16F: static_cast<__half *>(p)[i] = __float2half_rn(v); break;
    case CUDA_R_16BF: static_cast<__nv_bfloat16 *>(p)[i] = __float2bfloat16_rn(v); break;
    default: static_cast<float *>(p)[i] = v;
    }
}

size_t tsize(cudaDataType t) { return t == CUDA_R_32F ? 4 : 2; }

void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const void *A, cudaDataType at,
          int lda, const void *B, cudaDataType bt, int ldb, float beta, void *C, cudaDataType ct, int ldc) {
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float s = 0.0f;
            for (int l = 0; l < k; l++) {
                float a = ta == CUBLAS_OP_N ? ld(A, at, (int64_t)l * lda + i) : ld(A, at, (int64_t)i * lda + l);
                float b = tb == CUBLAS_OP_N ? ld(B, bt, (int64_t)j * ldb + l) : ld(B, bt, (int64_t)l * ldb + j);
                s += a * b;
            }
            int64_t ci = (int64_t)j * ldc + i;
            st(C, ct, ci, beta == 0.0f ? alpha * s : alpha * s + beta * ld(C, ct, ci));
        }
}

} // namespace

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t *h) {
    *h = reinterpret_cast<cublasHandle_t>(new int(0));
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t h) {
    delete reinterpret_cast<int *>(h);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream_v2(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t, void *, size_t) { return CUBLAS_STATUS_SUCCESS; }
const char *cublasGetStatusString(cublasStatus_t s) { return s == CUBLAS_STATUS_SUCCESS ? "success" : "emulated failure"; }

cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType at, int lda, const void *B, cudaDataType bt,
                            int ldb, const void *beta, void *C, cudaDataType ct, int ldc, cublasComputeType_t,
                            cublasGemmAlgo_t) {
    if (m <= 0 || n <= 0 || k <= 0) return CUBLAS_STATUS_INVALID_VALUE;
    gemm(ta, tb, m, n, k, *static_cast<const float *>(alpha), A, at, lda, B, bt, ldb, *static_cast<const float *>(beta),
         C, ct, ldc);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                          int k, const void *alpha, const void *A, cudaDataType at, int lda,
                                          long long sa, const void *B, cudaDataType bt, int ldb, long long sb,
                                          const void *beta, void *C, cudaDataType ct, int ldc, long long sc,
                                          int batch, cublasComputeType_t, cublasGemmAlgo_t) {
    if (m <= 0 || n <= 0 || k <= 0 || batch <= 0) return CUBLAS_STATUS_INVALID_VALUE;
    for (int b = 0; b < batch; b++)
        gemm(ta, tb, m, n, k, *static_cast<const float *>(alpha), static_cast<const char *>(A) + b * sa * tsize(at), at,
             lda, static_cast<const char *>(B) + b * sb * tsize(bt), bt, ldb, *static_cast<const float *>(beta),
             static_cast<char *>(C) + b * sc * tsize(ct), ct, ldc);
    return CUBLAS_STATUS_SUCCESS;
}

} // extern "C"
