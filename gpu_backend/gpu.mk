# gpu_backend/gpu.mk -- the GPU backend's build, included by the top Makefile.
#
#   $(BUILD)/libgpu.a    the API and the CPU executor, plain C (every test links it)
#   make gpu             CUDA programs $(BUILD)/gpu/gpu_test, gpu_bench and marconi (the
#                        command with the CUDA executor behind replay/profile), when nvcc is found
#                        (gpu_test from GPU_TEST_CU: the driver, kernel checks, model checks)
#   make gpu-test        run gpu_test (CUDA vs the CPU reference; GPU_TEST_ARGS=--no-7b skips hybrid-7b)
#   make gpu-bench       run gpu_bench (the hybrid-7b table; GPU_BENCH_ARGS=--quick for a short one)
#   make gpu-device      gpu-check with shorter limits, then marconi replay --backend cuda
#                        and marconi profile on hybrid-7b (scripts/gpu_device.sh: ten minutes)
#   make gpu-check       both, then compute-sanitizer, each under a time limit, logs into
#                        GPU_CHECK_OUT (scripts/gpu_check.sh: the one command for a lent GPU machine)
#   make gpu-emu-test    gpu_test's CUDA code compiled for the host and run on a CPU emulation
#                        of the kernels (gpu_backend/emu/): no GPU needed, only CUDA headers
#                        (EMU_SAN=1: under AddressSanitizer and UBSan's alignment check)
#
# The default build never needs nvcc.  Where this machine cannot build the
# CUDA programs (no nvcc, or no jansson headers), gpu-test and gpu-bench run
# the binaries already in $(BUILD)/gpu/, so programs built elsewhere run on
# a machine that has only the CUDA runtime (they need libcublas.so.13 and
# libjansson.so.4; cudart is linked statically).

# The plain-C part of the backend.  The CUDA programs and the emulator link
# these same objects (GPU_HOST_OBJ below), so a file added here reaches every
# link line.
GPU_C_SRC    := gpu_backend/gpu.c gpu_backend/gpu_layout.c gpu_backend/gpu_weights.c gpu_backend/gpu_ref.c gpu_backend/gpu_cpu.c
GPU_C_OBJ    := $(GPU_C_SRC:%.c=$(BUILD)/obj/%.o)
GPU_STUB_OBJ := $(BUILD)/obj/gpu_backend/gpu_nocuda.o

$(BUILD)/libgpu.a: $(GPU_C_OBJ) $(GPU_STUB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# ---- CUDA ----------------------------------------------------------------------

NVCC      ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA_HOME ?= $(if $(NVCC),$(patsubst %/bin/nvcc,%,$(NVCC)),/usr/local/cuda)
GPU_ARCH  ?= sm_90
GPU_DIR   := $(BUILD)/gpu
NVCCFLAGS ?= -O3 -std=c++17 -arch=$(GPU_ARCH) -lineinfo -I. -Xcompiler -Wall,-Wno-unused-function
GPU_LIBS  := -lcublas -ljansson -lm
GPU_HDRS  := gpu_backend/gpu.h gpu_backend/gpu_internal.h gpu_backend/gpu_ref.h $(wildcard gpu_backend/kernels/*.cuh)
GPU_HOST_OBJ := $(GPU_C_OBJ) $(BUILD)/obj/flops/fl.o
# gpu_test's sources (sharing gpu_test.cuh); gpu_bench is gpu_bench.cu alone.
GPU_TEST_CU  := gpu_backend/gpu_test.cu gpu_backend/gpu_test_kernels.cu gpu_backend/gpu_test_model.cu
GPU_TEST_OBJ := $(GPU_TEST_CU:gpu_backend/%.cu=$(GPU_DIR)/%.o)
GPU_HAVE_JANSSON := $(shell echo '\#include <jansson.h>' | $(CC) -E -x c - >/dev/null 2>&1 && echo yes)
GPU_CAN_BUILD := $(if $(and $(NVCC),$(GPU_HAVE_JANSSON)),yes,)
GPU_WHY_NOT := $(if $(NVCC),,nvcc not found; )$(if $(GPU_HAVE_JANSSON),,jansson headers not found; )
ifeq ($(SAN),1)
  GPU_CAN_BUILD :=
  GPU_WHY_NOT := not built under SAN=1 (use plain make gpu);
endif

.PHONY: gpu gpu-test gpu-bench gpu-check gpu-device gpu-emu-test

GPU_CHECK_OUT ?= $(if $(OUT),$(OUT),results/gpu)
gpu-check:
	bash scripts/gpu_check.sh $(GPU_CHECK_OUT)
# the device check, then the CUDA replay and profile: one ten-minute command
gpu-device:
	bash scripts/gpu_device.sh $(GPU_CHECK_OUT)

$(GPU_DIR)/%.o: gpu_backend/%.cu $(GPU_HDRS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(GPU_TEST_OBJ): gpu_backend/gpu_test.cuh

$(GPU_DIR)/gpu_test: $(GPU_TEST_OBJ) $(GPU_DIR)/gpu_cuda.o $(GPU_HOST_OBJ)
	$(NVCC) -arch=$(GPU_ARCH) -o $@ $^ $(GPU_LIBS)
$(GPU_DIR)/gpu_bench: $(GPU_DIR)/gpu_bench.o $(GPU_DIR)/gpu_cuda.o $(GPU_HOST_OBJ)
	$(NVCC) -arch=$(GPU_ARCH) -o $@ $^ $(GPU_LIBS)

# marconi itself with the CUDA executor linked in (replay --backend cuda,
# profile --backend cuda): the same objects as build/marconi, gpu_cuda.o in
# place of the no-CUDA stub.
$(GPU_DIR)/marconi: $(MAIN_OBJ) $(CLI_LIB) $(BUILD)/libmarconi.a $(GPU_C_OBJ) $(GPU_DIR)/gpu_cuda.o
	$(NVCC) -arch=$(GPU_ARCH) -o $@ $(MAIN_OBJ) -Xlinker --start-group $(CLI_LIB) $(BUILD)/libmarconi.a \
	    $(GPU_C_OBJ) $(GPU_DIR)/gpu_cuda.o -Xlinker --end-group $(GPU_LIBS) -lz -lpthread

ifneq ($(GPU_CAN_BUILD),)
gpu: $(GPU_DIR)/gpu_test $(GPU_DIR)/gpu_bench $(GPU_DIR)/marconi
gpu-test: $(GPU_DIR)/gpu_test
	$(GPU_DIR)/gpu_test $(GPU_TEST_ARGS)
gpu-bench: $(GPU_DIR)/gpu_bench
	$(GPU_DIR)/gpu_bench $(GPU_BENCH_ARGS)
else
gpu:
	@echo "gpu: $(GPU_WHY_NOT) the CUDA programs are not built. The CPU executor is tested by make test."
gpu-test:
	@test -x $(GPU_DIR)/gpu_test || { echo "gpu-test: no $(GPU_DIR)/gpu_test here and nothing to build it with; run make gpu where nvcc is"; exit 1; }
	$(GPU_DIR)/gpu_test $(GPU_TEST_ARGS)
gpu-bench:
	@test -x $(GPU_DIR)/gpu_bench || { echo "gpu-bench: no $(GPU_DIR)/gpu_bench here and nothing to build it with; run make gpu where nvcc is"; exit 1; }
	$(GPU_DIR)/gpu_bench $(GPU_BENCH_ARGS)
endif

# ---- the CPU emulation of the kernels (gpu_backend/emu/emu.h) --------------------

# EMU_SAN=1 adds AddressSanitizer, so a kernel reading or writing outside a
# buffer is caught (on the GPU it would be an illegal-address fault), and
# UBSan's alignment check, so a 16-byte vector load or store at an address
# the GPU would refuse (misaligned address) is caught; ~5x slower.
CXX       ?= g++
EMU_SANFLAGS := -fsanitize=address,alignment -fno-sanitize-recover=alignment
EMU_DIR   := $(GPU_DIR)/emu$(if $(filter 1,$(EMU_SAN)),-asan)
EMU_FLAGS := -std=c++17 -O2 -g -Wall -Wno-unknown-pragmas -Wno-unused-function -I. -I$(CUDA_HOME)/include \
             -DGPU_EMU -U_FORTIFY_SOURCE $(if $(filter 1,$(EMU_SAN)),$(EMU_SANFLAGS) -fno-omit-frame-pointer)
EMU_LDFLAGS := $(if $(filter 1,$(EMU_SAN)),$(EMU_SANFLAGS))
EMU_TEST_OBJ := $(GPU_TEST_CU:gpu_backend/%.cu=$(EMU_DIR)/%.o)
EMU_OBJ   := $(EMU_TEST_OBJ) $(EMU_DIR)/gpu_cuda.o $(EMU_DIR)/emu.o $(EMU_DIR)/emu_blas.o

$(EMU_DIR)/%.o: gpu_backend/%.cu $(GPU_HDRS) gpu_backend/emu/emu.h
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_FLAGS) -x c++ -c $< -o $@
$(EMU_DIR)/%.o: gpu_backend/emu/%.cpp gpu_backend/emu/emu.h
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_FLAGS) -c $< -o $@
$(EMU_TEST_OBJ): gpu_backend/gpu_test.cuh
$(EMU_DIR)/gpu_test: $(EMU_OBJ) $(GPU_HOST_OBJ)
	$(CXX) $(EMU_LDFLAGS) -o $@ $^ -ljansson -lm

gpu-emu-test:
	@test -f $(CUDA_HOME)/include/cuda_fp16.h || { echo "gpu-emu-test: CUDA headers not found under $(CUDA_HOME)/include"; exit 1; }
	$(MAKE) --no-print-directory $(EMU_DIR)/gpu_test $(EMU_DIR)/gpu_bench
	$(EMU_DIR)/gpu_test --small
	$(EMU_DIR)/gpu_bench --quick --model tiny --lens 64,100 --scan-tokens 256 --no-floors

# The bench program too, on a model small enough to emulate: checks its
# host logic, measures nothing.
$(EMU_DIR)/gpu_bench: $(EMU_DIR)/gpu_bench.o $(EMU_DIR)/gpu_cuda.o $(EMU_DIR)/emu.o $(EMU_DIR)/emu_blas.o $(GPU_HOST_OBJ)
	$(CXX) $(EMU_LDFLAGS) -o $@ $^ -ljansson -lm
