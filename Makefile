# marconi -- prefix caching for hybrid LLMs.
#
#   make            build/marconi (CPU only; no CUDA needed)
#   make test       cmocka suites, the output regression check (tests/regress),
#                   then golden parity when ../shared/golden exists
#   make SAN=1 test the same under AddressSanitizer + UBSan
#   make bench      benchmark table (bench/)
#   make demo       install missing packages, build, run the four systems on a
#                   built-in workload
#   make gpu-test / gpu-bench   CUDA backend (built only when nvcc is found)
#
# Every module lists its sources here; gpu_backend/gpu.mk adds the GPU
# backend's targets.

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?=
# -ffp-contract=off: no fused multiply-add, so scores are bit-identical to
# the reference simulator's IEEE double arithmetic on every machine.
XCFLAGS := -std=gnu11 $(OPT) -g -Wall -Wextra -Wno-unused-parameter -ffp-contract=off -pthread \
           -I. -MMD -MP
LDLIBS  := -ljansson -lz -lm -lpthread
# SAN=1 keeps OPT (-O2: the sanitizer suites run in minutes, not tens)
ifeq ($(SAN),1)
  BUILD   := build-san
  XCFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif

# Sources by module, ground first.  The library (libmarconi.a) is every
# module but the command line; cli/ is linked into the binary (and into the
# tests and benchmarks that drive a subcommand), never into the library.
BASE_SRC   := base/util.c base/buf.c base/err.c
FLOPS_SRC  := flops/fl.c
CACHE_SRC  := cache/rt.c cache/rt_check.c cache/store.c cache/adm.c cache/evict.c cache/evict_lru.c cache/evict_flop.c cache/evict_sgl.c cache/evict_seglen.c cache/evict_gdsf.c cache/evict_belady.c cache/cache.c cache/cache_walk.c cache/cache_insert.c cache/cache_check.c cache/eng.c cache/eng_sglang.c cache/eng_vllm.c
TRACES_SRC := traces/tr.c traces/tr_json.c traces/tr_json_line.c traces/tr_load.c traces/tr_gen.c traces/tr_gen_rng.c traces/tr_gen_chat.c traces/tr_gen_agent.c traces/tr_gen_sess.c traces/tr_stats.c traces/tr_pack.c traces/tr_tok.c traces/tr_convert.c traces/tr_conv_dir.c traces/tr_mooncake.c traces/tr_pydumps.c
TRACES_SRC += traces/tr_chain.c
TUNER_SRC  := tuner/tun.c tuner/tun_ghost.c tuner/tun_shadow.c tuner/tun_bandit.c
SIM_SRC    := sim/sim.c sim/replay.c sim/otrie.c sim/oracle.c sim/bound.c sim/exec.c sim/des.c sim/ttft.c sim/metrics.c sim/explain.c
CORE_SRC   := $(BASE_SRC) $(FLOPS_SRC) $(CACHE_SRC) $(TRACES_SRC) $(TUNER_SRC) $(SIM_SRC)
CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)

CLI_SRC    := cli/cli.c cli/cmd_sim.c cli/live.c cli/opts.c cli/cache_opts.c cli/eng_opts.c cli/report.c cli/cmd_model.c cli/cmd_sweep.c cli/sweep_grid.c cli/sweep_run.c \
              cli/sweep_journal.c cli/sweep_pool.c cli/sweep_out.c cli/sweep_merge.c cli/cmd_gen.c cli/cmd_stats.c \
              cli/cmd_pack.c cli/cmd_convert.c cli/cmd_profile.c cli/cmd_explain.c
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
CLI_LIB    := $(BUILD)/libmarconi_cli.a
MAIN_OBJ   := $(BUILD)/obj/cli/main.o

# cmocka suites: tests/test_X.c -> $(BUILD)/tests/test_X
TEST_SRC   := $(wildcard tests/test_*.c)
TESTS      := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all test bench demo clean golden figures
all: $(BUILD)/marconi

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libmarconi.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(CLI_LIB): $(CLI_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The library's replay drives the GPU backend's executors (sim/exec.c), and
# the backend uses flops/: one link group resolves the two archives.
LINK_LIBS  = -Wl,--start-group $(CLI_LIB) $(BUILD)/libmarconi.a $(BUILD)/libgpu.a -Wl,--end-group

$(BUILD)/marconi: $(MAIN_OBJ) $(CLI_LIB) $(BUILD)/libmarconi.a $(BUILD)/libgpu.a
	$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(LINK_LIBS) $(LDLIBS)

# GPU backend: CPU executor always, CUDA targets when nvcc is found.
-include gpu_backend/gpu.mk

$(BUILD)/tests/%: tests/%.c $(CLI_LIB) $(BUILD)/libmarconi.a $(BUILD)/libgpu.a
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LINK_LIBS) -lcmocka $(LDLIBS)

GOLDEN_DIR ?= ../shared/golden
test: $(BUILD)/marconi $(TESTS)
	@fail=0; for t in $(TESTS); do echo "== $$t"; MARCONI_GOLDEN_DIR=$(GOLDEN_DIR) $$t || fail=1; done; \
	echo "== output regression (tests/regress)"; tests/regress/run.sh $(BUILD)/marconi || fail=1; \
	if [ -d $(GOLDEN_DIR) ] && [ -x ../shared/tools/golden-check ]; then \
	  echo "== golden parity ($(GOLDEN_DIR))"; \
	  ../shared/tools/golden-check --bin $(BUILD)/marconi --dir $(GOLDEN_DIR) || fail=1; \
	elif [ -d $(GOLDEN_DIR) ]; then echo "== golden parity skipped: ../shared/tools/golden-check is absent"; \
	else echo "== golden parity skipped: $(GOLDEN_DIR) is absent"; fi; \
	exit $$fail

golden: $(BUILD)/marconi
	../shared/tools/golden-check --bin $(BUILD)/marconi --dir $(GOLDEN_DIR)

BENCH_SRC  := $(wildcard bench/bench_*.c)
BENCH_BIN  := $(BENCH_SRC:bench/%.c=$(BUILD)/%)
$(BUILD)/bench_%: bench/bench_%.c $(CLI_LIB) $(BUILD)/libmarconi.a $(BUILD)/libgpu.a
	$(CC) $(XCFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LINK_LIBS) $(LDLIBS)
bench: $(BUILD)/marconi $(BENCH_BIN)
	@for b in $(BENCH_BIN); do $$b || exit 1; done

demo:
	@scripts/demo.sh

# The paper's figures from nothing (gnuplot and python3 at run time).
figures: $(BUILD)/marconi
	@BIN=$(BUILD)/marconi scripts/figures.sh

clean:
	rm -rf build build-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- fuzzing: libFuzzer targets (tests/fuzz/fuzz_*.c) under ASan + UBSan -----
#   make fuzz FUZZ_S=60   builds $(BUILD)/fuzz/fuzz_T with clang and runs each
#                         target FUZZ_S seconds on its seed corpus
#                         (tests/fuzz/corpus/T/); any crash, leak or sanitizer
#                         report fails it (tests/fuzz/run.sh).  The library's
#                         readers are rebuilt with -fsanitize=fuzzer-no-link.
FUZZ_S       ?= 60
FUZZ_CC      ?= clang
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_NAMES   := jsonl jsonl_gz packed model profile sharegpt lmsys agent tokenizer mooncake
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_LIB_SRC := $(BASE_SRC) $(FLOPS_SRC) $(TRACES_SRC) sim/ttft.c
FUZZ_OBJ     := $(FUZZ_LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_CFLAGS  := -std=gnu11 -O1 -g -ffp-contract=off -pthread -I. -fno-omit-frame-pointer \
                -fsanitize=address,undefined -fno-sanitize-recover=undefined

.PHONY: fuzz fuzz-build
.SECONDARY: $(FUZZ_OBJ)
fuzz-build: $(FUZZ_BINS)
fuzz: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_S) $(FUZZ_NAMES)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ) $(wildcard tests/fuzz/*.h)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(LDLIBS)
