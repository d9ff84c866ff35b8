/* emu.cpp -- the emulator's scheduler and the CUDA runtime calls the
 * backend makes (see emu.h for what is emulated and how). */
#include "gpu_backend/emu/emu.h"

#include <setjmp.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

namespace emu {

Thread *g_cur = nullptr;
uint3 g_blockIdx;
dim3 g_blockDim, g_gridDim;

namespace {

enum State { RUN, AT_BARRIER, AT_WARP, DONE };

/* A thread of the block.  It is entered once through its ucontext, then
 * switched with _setjmp/_longjmp, which (unlike swapcontext) make no
 * system call. */
struct Fiber {
    ucontext_t ctx;
    jmp_buf jb;
    bool started;
    State st;
    Thread t;
};

struct Warp {
    unsigned gen;                      /* warp barriers passed */
    unsigned char slot[2][32][16];     /* shuffle values, double-buffered by gen */
};

constexpr size_t kStack = 256 * 1024;

jmp_buf g_sched_jb;
std::vector<Fiber> g_fib;
std::vector<char *> g_stacks;
std::vector<Warp> g_warps;
/* Dynamic shared memory, 128-byte aligned as GPU_DYN_SMEM declares it (a
 * vector's 16-byte alignment would make WMMA's 32-byte checks fail where
 * the GPU's would pass): kSmemPad spare bytes, used from the first aligned
 * one. */
constexpr size_t kSmemPad = 128;
std::vector<unsigned char> g_smem_buf;
unsigned char *g_smem = nullptr;
size_t g_smem_size = 0;
Fiber *g_run = nullptr;
const std::function<void()> *g_body = nullptr;
uint64_t g_rng = 0x9e3779b97f4a7c15ull;
const char *g_where[4] = {"running", "__syncthreads", "a warp-collective call", "exited"};

void entry() {
    (*g_body)();
    g_run->st = DONE;
    _longjmp(g_sched_jb, 1);
}

void yield(State s) {
    Fiber *f = g_run;
    f->st = s;
    if (!_setjmp(f->jb)) _longjmp(g_sched_jb, 1);
}

void resume(Fiber &f) {
    if (_setjmp(g_sched_jb)) return;
    if (!f.started) {
        f.started = true;
        setcontext(&f.ctx);
    }
    _longjmp(f.jb, 1);
}

uint64_t next_rand() {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

void run_block(int n) {
    for (int i = 0; i < n; i++) {
        Fiber &f = g_fib[i];
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = g_stacks[i];
        f.ctx.uc_stack.ss_size = kStack;
        f.ctx.uc_link = nullptr;
        makecontext(&f.ctx, entry, 0);
        f.started = false;
        f.st = RUN;
        unsigned bx = g_blockDim.x, by = g_blockDim.y;
        f.t.tid = make_uint3(i % bx, (i / bx) % by, i / (bx * by));
        f.t.lane = i % 32;
        f.t.warp = i / 32;
    }
    int nwarps = (n + 31) / 32;
    for (int w = 0; w < nwarps; w++) g_warps[w].gen = 0;
    std::vector<int> order(n);
    for (int i = 0; i < n; i++) order[i] = i;
    for (;;) {
        for (int i = n - 1; i > 0; i--) std::swap(order[i], order[next_rand() % (i + 1)]);
        bool ran = false;
        for (int k = 0; k < n; k++) {
            Fiber &f = g_fib[order[k]];
            if (f.st != RUN) continue;
            g_run = &f;
            g_cur = &f.t;
            resume(f);
            ran = true;
        }
        int live = 0, at_bar = 0;
        for (int i = 0; i < n; i++) {
            live += g_fib[i].st != DONE;
            at_bar += g_fib[i].st == AT_BARRIER;
        }
        if (live == 0) return;
        bool released = false;
        if (at_bar == live) { /* threads that exited count as arrived, as on the GPU */
            for (int i = 0; i < n; i++)
                if (g_fib[i].st == AT_BARRIER) g_fib[i].st = RUN;
            released = true;
        }
        for (int w = 0; w < nwarps && !released; w++) {
            int lo = w * 32, hi = lo + 32 < n ? lo + 32 : n, lw = 0, aw = 0;
            for (int i = lo; i < hi; i++) {
                lw += g_fib[i].st != DONE;
                aw += g_fib[i].st == AT_WARP;
            }
            if (lw > 0 && aw == lw) {
                for (int i = lo; i < hi; i++)
                    if (g_fib[i].st == AT_WARP) g_fib[i].st = RUN;
                g_warps[w].gen++;
                released = true;
            }
        }
        if (!ran && !released) {
            fprintf(stderr, "emu: deadlock in block (%u,%u,%u):\n", g_blockIdx.x, g_blockIdx.y, g_blockIdx.z);
            for (int i = 0; i < n; i++)
                fprintf(stderr, "  thread %d: %s\n", i, g_where[g_fib[i].st]);
            abort();
        }
    }
}

} // namespace

void run_grid(dim3 grid, dim3 block, size_t smem, const std::function<void()> &body) {
    int n = (int)(block.x * block.y * block.z);
    if (n < 1 || n > 1024) {
        fprintf(stderr, "emu: a block of %d threads\n", n);
        abort();
    }
    if (smem > 227 * 1024) {
        fprintf(stderr, "emu: %zu bytes of dynamic shared memory\n", smem);
        abort();
    }
    if (grid.y > 65535 || grid.z > 65535) {
        fprintf(stderr, "emu: grid (%u, %u, %u) is too large\n", grid.x, grid.y, grid.z);
        abort();
    }
    while ((int)g_stacks.size() < n) {
        void *p = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) abort();
        g_stacks.push_back(static_cast<char *>(p));
    }
    if ((int)g_fib.size() < n) g_fib.resize(n);
    if ((int)g_warps.size() < (n + 31) / 32) g_warps.resize((n + 31) / 32);
    g_smem_size = smem > 0 ? smem : 1;
    if (g_smem_buf.size() < g_smem_size + kSmemPad) g_smem_buf.resize(g_smem_size + kSmemPad);
    g_smem = g_smem_buf.data() + (kSmemPad - reinterpret_cast<uintptr_t>(g_smem_buf.data()) % kSmemPad) % kSmemPad;
    g_body = &body;
    g_blockDim = block;
    g_gridDim = grid;
    Thread *saved = g_cur;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                g_blockIdx = make_uint3(x, y, z);
                memset(g_smem, 0xff, g_smem_size);
                run_block(n);
            }
    g_cur = saved;
}

void syncthreads() { yield(AT_BARRIER); }

void syncwarp() { yield(AT_WARP); }

void warp_exchange(const void *in, void *out, size_t size, int src) {
    Warp &w = g_warps[g_cur->warp];
    int b = w.gen & 1;
    memcpy(w.slot[b][g_cur->lane], in, size);
    yield(AT_WARP);
    memcpy(out, w.slot[b][src], size);
}

unsigned char *dyn_smem() { return g_smem; }

} // namespace emu

/* ---- the CUDA runtime, as far as the backend uses it ------------------------ */

namespace {
std::map<void *, size_t> g_alloc;
std::map<const void *, size_t> g_granted;
size_t g_used = 0;
cudaError_t g_last = cudaSuccess;

size_t emu_total() {
    const char *e = getenv("EMU_MEM_MB");
    return (size_t)(e ? atoll(e) : 16384) << 20;
}
} // namespace

namespace emu {
size_t smem_granted(const void *kernel) {
    auto it = g_granted.find(kernel);
    return it == g_granted.end() ? 48 * 1024 : it->second;
}
void launch_error(cudaError_t e) { g_last = e; }
} // namespace emu

extern "C" {

cudaError_t cudaGetDeviceCount(int *n) {
    *n = 1;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaGetDevice(int *d) {
    *d = 0;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr attr, int) {
    switch (attr) {
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = 227 * 1024; break;
    case cudaDevAttrMultiProcessorCount: *v = 132; break;
    default: *v = 0;
    }
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int) {
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "CPU emulator (emu.h)");
    p->multiProcessorCount = 132;
    p->totalGlobalMem = emu_total();
    p->major = 9;
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b) {
    *total_b = emu_total();
    *free_b = *total_b > g_used ? *total_b - g_used : 0;
    return cudaSuccess;
}
cudaError_t cudaMalloc(void **p, size_t n) {
    if (g_used + n > emu_total()) {
        *p = nullptr;
        return g_last = cudaErrorMemoryAllocation;
    }
    *p = aligned_alloc(256, (n + 255) / 256 * 256);
    if (!*p) return g_last = cudaErrorMemoryAllocation;
    memset(*p, 0xa5, n); /* device memory starts as garbage */
    g_alloc[*p] = n;
    g_used += n;
    return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    auto it = g_alloc.find(p);
    if (it == g_alloc.end()) return g_last = cudaErrorInvalidValue;
    g_used -= it->second;
    g_alloc.erase(it);
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMallocHost(void **p, size_t n) {
    *p = malloc(n);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFreeHost(void *p) {
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) {
    memmove(d, s, n);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind, cudaStream_t) {
    memmove(d, s, n);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *p, int v, size_t n) {
    memset(p, v, n);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t) {
    memset(p, v, n);
    return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t *s) {
    *s = reinterpret_cast<cudaStream_t>(new int(0));
    return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) { return cudaStreamCreate(s); }
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    delete reinterpret_cast<int *>(s);
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaFuncSetAttribute(const void *kernel, cudaFuncAttribute attr, int value) {
    if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
        if (value > 227 * 1024) return g_last = cudaErrorInvalidValue;
        g_granted[kernel] = (size_t)value;
    }
    return cudaSuccess;
}
cudaError_t cudaGetLastError(void) {
    cudaError_t e = g_last;
    g_last = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError(void) { return g_last; }
const char *cudaGetErrorString(cudaError_t e) {
    return e == cudaSuccess ? "no error" : e == cudaErrorMemoryAllocation ? "out of memory" : "emulated error";
}
const char *cudaGetErrorName(cudaError_t e) {
    return e == cudaSuccess ? "cudaSuccess" : e == cudaErrorMemoryAllocation ? "cudaErrorMemoryAllocation" : "cudaError";
}
cudaError_t cudaEventCreate(cudaEvent_t *e) {
    *e = reinterpret_cast<cudaEvent_t>(new double(0));
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    delete reinterpret_cast<double *>(e);
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
    *reinterpret_cast<double *>(e) =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    *ms = (float)(*reinterpret_cast<double *>(b) - *reinterpret_cast<double *>(a));
    return cudaSuccess;
}

} // extern "C"
