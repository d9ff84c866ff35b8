/* gpu_nocuda.c -- the CUDA executor's stand-in in builds without nvcc
 * (libgpu.a, which CI links): asking for it is a clear error. */
#include "gpu_backend/gpu_internal.h"

void *gpu_cuda_create(const gpu_config *cfg, const gpu_layout *L, uint64_t seed, gpu_info *info,
                      const gpu_ops **ops, char *err, size_t errlen) {
    GPU_ERR(err, errlen, "this build has no CUDA executor (make gpu builds one where nvcc is found)");
    return NULL;
}
