/* ssd_state_passing.cuh -- the SSD scan, step 4 of 5: chain the chunks.
 *
 *   states[0]   the state before the segment (state_io.cuh restores it)
 *   states[c+1] chunk c's own state in, the state after chunk c out:
 *               S_{c+1} = exp(cs_c[Q-1]) S_c + local_c
 *
 * Sequential in c, parallel over the H P N state elements: one thread an
 * element, coalesced, fp32 all the way.  The loads of local_c do not depend
 * on the running state, so unrolling lets them overlap; the kernel moves
 * 8 bytes per element per chunk and is bound by memory bandwidth. */
#pragma once
#include "gpu_backend/kernels/common.cuh"

static __global__ void ssd_state_passing_kernel(float *states, const float *cs, int64_t SE, int64_t PN, int H, int Q,
                                         int64_t nch) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= SE) return;
    int64_t h = e / PN;
    float s = states[e];
#pragma unroll 4
    for (int64_t c = 0; c < nch; c++) {
        float local = states[(c + 1) * SE + e];
        s = expf(cs[(c * H + h) * Q + Q - 1]) * s + local;
        states[(c + 1) * SE + e] = s;
    }
}

static void ssd_state_passing(float *states, const float *cs, int64_t SE, int64_t PN, int H, int Q, int64_t nch,
                              cudaStream_t st) {
    GPU_LAUNCH(dim3((unsigned)ceil_div(SE, 256)), dim3(256), 0, st, ssd_state_passing_kernel)(states, cs, SE, PN, H,
                                                                                            Q, nch);
    launchCheck();
}
