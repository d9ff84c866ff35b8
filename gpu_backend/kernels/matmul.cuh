/* matmul.cuh -- every projection, through cuBLAS: fp16/bf16 operands,
 * fp32 accumulation (CUBLAS_COMPUTE_32F, tensor cores).
 *
 * Activations are row-major [tokens][features] and weights [out][in], as
 * PyTorch stores them; in cuBLAS's column-major terms y^T = W x^T, i.e.
 * C (out x T) = op_T(W stored in x out) * op_N(x^T stored in x T).
 * An output of type float with accumulate = true adds into it (beta = 1):
 * that is how every out-projection adds into the fp32 residual stream.
 */
#pragma once
#include "gpu_backend/kernels/common.cuh"

/* y[t][o] (+)= sum_i x[t][i] w[o][i], t < T, o < out. */
template <typename T, typename TY>
static void matmul(cublasHandle_t h, TY *y, int64_t ldy, const T *x, int64_t ldx, const T *w, int64_t T_,
                   int64_t in, int64_t out, bool accumulate) {
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    cublasCheck(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)out, (int)T_, (int)in, &alpha, w,
                             cuda_dtype<T>::value, (int)in, x, cuda_dtype<T>::value, (int)ldx, &beta, y,
                             cuda_dtype<TY>::value, (int)ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

/* The SSD's C B^T of every chunk at once (a strided batched GEMM):
 * cb[c][q][s] = sum_n C[cQ+q][n] B[cQ+s][n], fp32, for nch chunks of Q rows;
 * B and C are column blocks of the conv output (row stride ld). */
template <typename T>
static void chunk_cb(cublasHandle_t h, float *cb, const T *B, const T *C, int64_t ld, int64_t Q, int64_t N,
                     int64_t nch) {
    const float alpha = 1.0f, beta = 0.0f;
    cublasCheck(cublasGemmStridedBatchedEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)Q, (int)Q, (int)N, &alpha, B,
                                           cuda_dtype<T>::value, (int)ld, Q * ld, C, cuda_dtype<T>::value, (int)ld,
                                           Q * ld, &beta, cb, CUDA_R_32F, (int)Q, Q * Q, (int)nch,
                                           CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}
