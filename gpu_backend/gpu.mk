# gpu_backend/gpu.mk -- the GPU backend's build, included by the top Makefile.
#
#   $(BUILD)/libgpu.a    the API and the CPU executor, plain C (every test links it)
#   make gpu             CUDA programs $(BUILD)/gpu/gpu_test and gpu_bench, when nvcc is found
#   make gpu-test        run gpu_test (CUDA vs the CPU reference); builds it first where it can
#   make gpu-bench       run gpu_bench (the hybrid-7b table); likewise
#   make gpu-emu-test    gpu_test's CUDA code compiled for the host and run on a CPU emulation
#                        of the kernels (gpu_backend/emu/): no GPU needed, only CUDA headers
#
# The default build never needs nvcc.  gpu-test and gpu-bench only run what
# is there when this machine cannot build it (no nvcc, or no jansson
# headers), so binaries built elsewhere run on a machine that has only the
# CUDA runtime.

GPU_C_SRC    := gpu_backend/gpu.c gpu_backend/gpu_weights.c gpu_backend/gpu_ref.c gpu_backend/gpu_cpu.c
GPU_C_OBJ    := $(GPU_C_SRC:%.c=$(BUILD)/obj/%.o)
GPU_STUB_OBJ := $(BUILD)/obj/gpu_backend/gpu_nocuda.o
TEST_EXTRA_LIBS := $(BUILD)/libgpu.a

$(BUILD)/libgpu.a: $(GPU_C_OBJ) $(GPU_STUB_OBJ)
	@rm -f $@
	ar rcs $@ $^
