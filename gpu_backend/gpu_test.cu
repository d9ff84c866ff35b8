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
 *   build/gpu/gpu_test [--no-7b | --small]      (make gpu-test)
 *   --no-7b   skips hybrid-7b; --small also the hybrid-7b-shaped kernel checks
 *             (make gpu-emu-test runs --small on the CPU emulator)
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmath>
#include <vector>

#include "gpu_backend/gpu.h"
#include "gpu_backend/gpu_internal.h"
#include "gpu_backend/gpu_ref.h"
#include "gpu_backend/kernels/act.cuh"
#include "gpu_backend/kernels/attention.cuh"
#include "gpu_backend/kernels/common.cuh"
#include "gpu_backend/kernels/conv1d.cuh"
#include "gpu_backend/kernels/gated_norm.cuh"
#include "gpu_backend/kernels/init.cuh"
#include "gpu_backend/kernels/kv_scatter.cuh"
#include "gpu_backend/kernels/matmul.cuh"
#include "gpu_backend/kernels/rmsnorm.cuh"
#include "gpu_backend/kernels/rope.cuh"
#include "gpu_backend/kernels/ssd_chunk_scan.cuh"
#include "gpu_backend/kernels/ssd_chunk_state.cuh"
#include "gpu_backend/kernels/ssd_ckpt.cuh"
#include "gpu_backend/kernels/ssd_prep.cuh"
#include "gpu_backend/kernels/ssd_state_passing.cuh"
#include "gpu_backend/kernels/state_io.cuh"

static int n_pass = 0, n_fail = 0;
static char err[1024];

static void report(bool ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s  ", ok ? "PASS" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    (ok ? n_pass : n_fail)++;
}

template <typename T> constexpr gpu_dtype dtype_of();
template <> constexpr gpu_dtype dtype_of<__half>() { return GPU_F16; }
template <> constexpr gpu_dtype dtype_of<__nv_bfloat16>() { return GPU_BF16; }
template <typename T> const char *dname() { return dtype_of<T>() == GPU_F16 ? "f16" : "bf16"; }
/* unit roundoff of the storage type */
template <typename T> double ulp() { return dtype_of<T>() == GPU_F16 ? 4.9e-4 : 3.9e-3; }
template <typename T> double model_bound() { return dtype_of<T>() == GPU_F16 ? 1e-3 : 1e-2; }

static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* max over i of |a - r| / (atol + rtol |r|): <= 1 passes */
static double tol_ratio(const float *a, const float *r, size_t n, double atol, double rtol) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double q = fabs((double)a[i] - (double)r[i]) / (atol + rtol * fabs((double)r[i]));
        if (!(q <= worst)) worst = q; /* NaN wins */
    }
    return worst;
}

/* ---- device buffers holding the storage type, seen from the host as floats ---- */

template <typename E> struct Dev {
    E *p = nullptr;
    size_t n = 0;
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
static void up(Dev<float> &d, const std::vector<float> &h) {
    cudaCheck(cudaMemcpy(d.p, h.data(), h.size() * 4, cudaMemcpyHostToDevice));
}
template <typename T> std::vector<float> down(const Dev<T> &d) {
    std::vector<uint16_t> b(d.n);
    cudaCheck(cudaMemcpy(b.data(), d.p, d.n * 2, cudaMemcpyDeviceToHost));
    std::vector<float> h(d.n);
    for (size_t i = 0; i < d.n; i++) h[i] = gpu_from_bits(b[i], dtype_of<T>());
    return h;
}
static std::vector<float> down(const Dev<float> &d) {
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

/* ---- kernels ------------------------------------------------------------------ */

template <typename T> void test_init() {
    const int64_t n = 100003;
    Dev<T> d(n);
    init_uniform<T>(d.p, n, gpu_tensor_key(42, 7), 0.0123f, 0);
    cudaCheck(cudaDeviceSynchronize());
    std::vector<uint16_t> b(n);
    cudaCheck(cudaMemcpy(b.data(), d.p, n * 2, cudaMemcpyDeviceToHost));
    gpu_tensor t = {n, 1, GPU_INIT_UNIFORM, 0.0123f, 0};
    std::vector<float> h(n);
    gpu_weight_fill(&t, 7, 42, dtype_of<T>(), h.data());
    int64_t diff = 0;
    for (int64_t i = 0; i < n; i++) diff += b[i] != gpu_to_bits(h[i], dtype_of<T>());
    report(diff == 0, "kernel init_uniform %s: %lld of %lld weights differ from the host's bits", dname<T>(),
           (long long)diff, (long long)n);
}

template <typename T> void test_rmsnorm() {
    int64_t Tn = 37, d = 200;
    auto x = rnd<T>(Tn * d, 1, -3, 3, false), w = rnd<T>(d, 2, 0.5, 1.5);
    Dev<float> dx(Tn * d);
    Dev<T> dw(d), dout(Tn * d);
    up(dx, x);
    up(dw, w);
    rmsnorm<T>(dout.p, d, dx.p, d, dw.p, Tn, d, 1e-5f, 0);
    std::vector<float> ref(Tn * d);
    gpu_ref_rmsnorm(ref.data(), d, x.data(), d, w.data(), Tn, d, 1e-5f);
    auto got = down(dout);
    double q = tol_ratio(got.data(), ref.data(), ref.size(), 2 * ulp<T>(), 2 * ulp<T>());
    report(q <= 1, "kernel rmsnorm %s: worst error %.2f of tolerance", dname<T>(), q);
}

template <typename T> void test_conv1d(int K) {
    int64_t Tn = 150, C = 96;
    auto in = rnd<T>(Tn * C, 3, -2, 2), win = rnd<T>((K - 1) * C, 4, -2, 2);
    auto w = rnd<T>(C * K, 5, -0.5, 0.5), b = rnd<T>(C, 6, -0.1, 0.1);
    Dev<T> din(Tn * C), dwin((K - 1) * C), dw(C * K), db(C), dout(Tn * C);
    up(din, in);
    up(dwin, win);
    up(dw, w);
    up(db, b);
    conv1d<T>(dout.p, C, din.p, C, dwin.p, dw.p, db.p, Tn, C, K, 0);
    std::vector<float> ref(Tn * C);
    gpu_ref_conv1d(ref.data(), C, in.data(), C, win.data(), w.data(), b.data(), Tn, C, K);
    auto got = down(dout);
    double q = tol_ratio(got.data(), ref.data(), ref.size(), 2 * ulp<T>(), 2 * ulp<T>());
    report(q <= 1, "kernel conv1d K=%d %s: worst error %.2f of tolerance", K, dname<T>(), q);
}

template <typename T> void test_gated_norm() {
    int64_t Tn = 19, d = 256;
    int G = 2;
    auto y = rnd<T>(Tn * d, 7, -2, 2), z = rnd<T>(Tn * d, 8, -3, 3), w = rnd<T>(d, 9, 0.5, 1.5);
    Dev<T> dy(Tn * d), dz(Tn * d), dw(d), dout(Tn * d);
    up(dy, y);
    up(dz, z);
    up(dw, w);
    gated_rmsnorm<T>(dout.p, d, dy.p, d, dz.p, d, dw.p, Tn, d, G, 1e-5f, 0);
    std::vector<float> ref(Tn * d);
    gpu_ref_gated_rmsnorm(ref.data(), d, y.data(), d, z.data(), d, w.data(), Tn, d, G, 1e-5f);
    auto got = down(dout);
    double q = tol_ratio(got.data(), ref.data(), ref.size(), 2 * ulp<T>(), 2 * ulp<T>());
    report(q <= 1, "kernel gated_rmsnorm %s: worst error %.2f of tolerance", dname<T>(), q);
}

template <typename T> void test_relu2_rope() {
    int64_t Tn = 33, heads = 6, hd = 32, ld = heads * hd + 16;
    auto x = rnd<T>(Tn * ld, 10, -2, 2);
    Dev<T> dx(Tn * ld);
    up(dx, x);
    Dev<float2> tab(Tn * hd / 2);
    rope_table(tab.p, 1000, Tn, (int)hd, 10000.0, 0);
    rope<T>(dx.p, ld, tab.p, Tn, (int)heads, (int)hd, 0);
    std::vector<float> rtab(Tn * hd), ref = x;
    gpu_ref_rope_table(rtab.data(), 1000, Tn, hd, 10000.0);
    gpu_ref_rope(ref.data(), ld, heads, hd, rtab.data(), Tn);
    auto got = down(dx);
    double q = tol_ratio(got.data(), ref.data(), ref.size(), 2 * ulp<T>(), 2 * ulp<T>());
    report(q <= 1, "kernel rope %s (positions 1000..): worst error %.2f of tolerance", dname<T>(), q);

    Dev<T> dr(Tn * 64);
    auto r = rnd<T>(Tn * 64, 11, -2, 2);
    up(dr, r);
    relu2<T>(dr.p, Tn * 64, 0);
    gpu_ref_relu2(r.data(), 64, Tn, 64);
    auto gr = down(dr);
    q = tol_ratio(gr.data(), r.data(), r.size(), 1e-6, ulp<T>());
    report(q <= 1, "kernel relu2 %s: worst error %.2f of tolerance", dname<T>(), q);
}

template <typename T> void test_matmul(cublasHandle_t h) {
    int64_t Tn = 45, in = 96, out = 80;
    auto x = rnd<T>(Tn * in, 12, -1, 1), w = rnd<T>(out * in, 13, -0.2f, 0.2f), y0 = rnd<T>(Tn * out, 14, -1, 1, false);
    Dev<T> dx(Tn * in), dw(out * in);
    Dev<float> dy(Tn * out);
    up(dx, x);
    up(dw, w);
    up(dy, y0);
    matmul<T, float>(h, dy.p, out, dx.p, in, dw.p, Tn, in, out, true);
    std::vector<float> ref = y0;
    gpu_ref_matmul(ref.data(), out, x.data(), in, w.data(), Tn, in, out, 1);
    auto got = down(dy);
    double q = tol_ratio(got.data(), ref.data(), ref.size(), 1e-4, 1e-4);
    report(q <= 1, "kernel matmul (cuBLAS, fp32 accumulate into fp32) %s: worst error %.2f of tolerance", dname<T>(), q);
}

/* The whole SSD pipeline of one layer, with an initial state and
 * checkpoints on and off chunk boundaries, against the recurrence; each
 * checkpoint's conv window (ssd_ckpt's extra blocks, the raw inputs being
 * xbc here) against gpu_ref_conv_state, r = 1 reaching into the window
 * before the segment. */
template <typename T> void test_ssd(cublasHandle_t hb, int H, int P, int N, int G, int Q, int64_t Tn) {
    int64_t di = (int64_t)H * P, cd = di + 2LL * G * N, nch = ceil_div(Tn, Q), Tp = nch * Q, SE = (int64_t)H * P * N;
    auto xbc = rnd<T>(Tp * cd, 20, -1, 1);
    for (int64_t i = Tn * cd; i < Tp * cd; i++) xbc[i] = 0; /* the executor zeroes the tail */
    auto raw = rnd<T>(Tn * H, 21, -2, 1);
    auto bias = rnd<T>(H, 22, -4, -2, false), alog = rnd<T>(H, 23, 0, 2.5f, false), Dk = rnd<T>(H, 24, 0.5, 1.5, false);
    auto s0 = rnd<T>(SE, 25, -1, 1, false);
    const int K = 4;
    int64_t CE = (K - 1) * cd, slot = SE + CE; /* a slot: the SSM half, then the conv window */
    auto win = rnd<T>(CE, 26, -1, 1);
    std::vector<int64_t> ck = {1, (int64_t)Q, (int64_t)Q + 5, Tn - 1, Tn};
    int nck = (int)ck.size();
    Dev<T> dxbc(Tp * cd), draw(Tn * H), dy(Tn * di), dpool(nck * slot), dwin(CE), dcarry_conv(CE);
    Dev<float> dbias(H), dalog(H), dD(H), ddt(nch * H * Q), dcs(nch * H * Q), dcb(G * nch * Q * Q),
        dstates((nch + 1) * SE), dcarry(SE);
    Dev<int64_t> dck(nck);
    Dev<int32_t> ddst(nck);
    up(dxbc, xbc);
    up(draw, raw);
    up(dbias, bias);
    up(dalog, alog);
    up(dD, Dk);
    up(dwin, win);
    cudaCheck(cudaMemcpy(dstates.p, s0.data(), SE * 4, cudaMemcpyHostToDevice));
    /* checkpoints 0..nck-2 to pool slots, the last to the carry */
    std::vector<int32_t> dst(nck);
    for (int i = 0; i < nck; i++) dst[i] = i < nck - 1 ? i : GPU_SRC_CARRY;
    cudaCheck(cudaMemcpy(dck.p, ck.data(), nck * 8, cudaMemcpyHostToDevice));
    cudaCheck(cudaMemcpy(ddst.p, dst.data(), nck * 4, cudaMemcpyHostToDevice));

    ssd_prep<T>(ddt.p, dcs.p, draw.p, H, dbias.p, dalog.p, Tn, H, Q, nch, 0);
    for (int g = 0; g < G; g++)
        chunk_cb<T>(hb, dcb.p + (int64_t)g * nch * Q * Q, dxbc.p + di + (int64_t)g * N,
                    dxbc.p + di + (int64_t)G * N + (int64_t)g * N, cd, Q, N, nch);
    ssd_chunk_state<T>(dstates.p, dxbc.p, cd, di, ddt.p, dcs.p, Tn, H, P, N, G, Q, nch, 0);
    ssd_state_passing(dstates.p, dcs.p, SE, (int64_t)P * N, H, Q, nch, 0);
    ssd_chunk_scan<T>(dy.p, di, dxbc.p, cd, di, di + (int64_t)G * N, dcb.p, dstates.p, ddt.p, dcs.p, dD.p, Tn, H, P, N,
                      G, Q, nch, 0);
    conv_save_args<T> cv = {dpool.p, slot, SE, dcarry_conv.p, dxbc.p, cd, dwin.p, cd, K};
    ssd_ckpt<T>(dpool.p, slot, 0, dcarry.p, dck.p, ddst.p, nck, dxbc.p, cd, di, dstates.p, ddt.p, dcs.p, H, P, N, G, Q,
                cv, 0);
    cudaCheck(cudaDeviceSynchronize());

    /* the reference on the same (rounded) inputs */
    std::vector<float> dt(Tn * H), A(H), state = s0, y(Tn * di);
    gpu_ref_dt(dt.data(), H, raw.data(), H, bias.data(), Tn, H);
    for (int h = 0; h < H; h++) A[h] = -expf(alog[h]);
    std::vector<std::vector<float>> outs(nck, std::vector<float>(SE));
    std::vector<float *> optr(nck);
    for (int i = 0; i < nck; i++) optr[i] = outs[i].data();
    gpu_ssd a = {};
    a.T = Tn, a.H = H, a.P = P, a.N = N, a.G = G;
    a.x = xbc.data(), a.ldx = cd, a.B = xbc.data() + di, a.C = xbc.data() + di + (int64_t)G * N, a.ldbc = cd;
    a.dt = dt.data(), a.lddt = H, a.A = A.data(), a.D = Dk.data(), a.state = state.data(), a.y = y.data(), a.ldy = di;
    a.n_ckpt = nck, a.ckpt_r = ck.data(), a.ckpt_out = optr.data();
    gpu_ref_ssd_recurrent(&a);

    auto gy = down(dy);
    double ey = rel_err(gy.data(), y.data(), y.size());
    double bound = 8 * ulp<T>();
    report(ey < bound, "kernel ssd scan %s H=%d P=%d N=%d G=%d Q=%d T=%lld: y relative error %.2e (bound %.1e)",
           dname<T>(), H, P, N, G, Q, (long long)Tn, ey, bound);
    auto gp = down(dpool);
    auto gc = down(dcarry), gcc = down(dcarry_conv);
    double worst = 0;
    bool conv_ok = true;
    std::vector<float> wref(CE);
    for (int i = 0; i < nck; i++) {
        const float *g = i < nck - 1 ? gp.data() + i * slot : gc.data();
        double e = rel_err(g, outs[i].data(), SE);
        if (!(e <= worst)) worst = e;
        const float *gw = i < nck - 1 ? gp.data() + i * slot + SE : gcc.data();
        gpu_ref_conv_state(wref.data(), xbc.data(), cd, win.data(), ck[i], cd, K);
        for (int64_t e2 = 0; e2 < CE; e2++) conv_ok &= gw[e2] == wref[e2];
    }
    report(worst < bound && conv_ok,
           "kernel ssd checkpoints %s at 1, Q, Q+5, T-1, T (pool and carry): worst relative error %.2e; conv windows %s",
           dname<T>(), worst, conv_ok ? "exact" : "WRONG");
}

/* Paged attention over a shuffled prefix plus the new tokens. */
template <typename T> void test_attention(int nh, int nkv, int hd, int64_t pos0, int64_t Tn) {
    int64_t kvd = (int64_t)nkv * hd, qd = (int64_t)nh * hd, ld = qd + 2 * kvd, total = pos0 + Tn, slots = total + 17;
    auto pool = rnd<T>(slots * 2 * kvd, 30, -1, 1), qkv = rnd<T>(Tn * ld, 31, -1, 1);
    std::vector<int32_t> slot_of(total);
    for (int64_t i = 0; i < total; i++) slot_of[i] = (int32_t)((i * 7 + 3) % slots); /* slots is coprime to 7 */
    Dev<T> dpool(slots * 2 * kvd), dqkv(Tn * ld), dout(Tn * qd);
    Dev<int32_t> dslot(total);
    up(dpool, pool);
    up(dqkv, qkv);
    cudaCheck(cudaMemcpy(dslot.p, slot_of.data(), total * 4, cudaMemcpyHostToDevice));
    kv_scatter<T>(dpool.p, dslot.p, pos0, dqkv.p, ld, qd, kvd, Tn, 0);
    attention<T>(dout.p, qd, dqkv.p, ld, dpool.p, dslot.p, pos0, Tn, nh, nkv, hd, 0);
    cudaCheck(cudaDeviceSynchronize());
    /* reference: the new K, V scattered the same way */
    for (int64_t t = 0; t < Tn; t++)
        memcpy(pool.data() + (int64_t)slot_of[pos0 + t] * 2 * kvd, qkv.data() + t * ld + qd, 2 * kvd * sizeof(float));
    std::vector<float> ref(Tn * qd), scratch(total);
    gpu_ref_attention(ref.data(), qd, qkv.data(), ld, pool.data(), slot_of.data(), pos0, Tn, nh, nkv, hd,
                      scratch.data());
    auto got = down(dout);
    auto gpool = down(dpool);
    double e = rel_err(got.data(), ref.data(), ref.size()), bound = 8 * ulp<T>();
    report(e < bound && rel_err(gpool.data(), pool.data(), pool.size()) == 0,
           "kernel attention+kv_scatter %s nh=%d nkv=%d hd=%d prefix=%lld T=%lld: relative error %.2e (bound %.1e)",
           dname<T>(), nh, nkv, hd, (long long)pos0, (long long)Tn, e, bound);
}

template <typename T> void test_state_io(int64_t C) {
    int64_t SE = 512, CE = 3 * C;
    int64_t slot_elems = 2 * (SE + CE), off = SE + CE; /* layer 1 of a two-layer slot */
    auto pool = rnd<T>(3 * slot_elems, 40, -1, 1);
    auto carry = rnd<T>(SE, 42, -1, 1, false); /* fp32: unrounded */
    auto carry_conv = rnd<T>(CE, 43, -1, 1);
    Dev<T> dpool(3 * slot_elems), dwin(CE), dcarry_conv(CE);
    Dev<float> ds0(SE), dcarry(SE);
    up(dpool, pool);
    up(dcarry, carry);
    up(dcarry_conv, carry_conv);
    bool ok = true;
    /* from the carry, then from nothing (zeros), then from slot 2 */
    state_restore<T>(ds0.p, dwin.p, dpool.p, slot_elems, off, GPU_SRC_CARRY, dcarry.p, dcarry_conv.p, SE, CE, 0);
    auto s0 = down(ds0), w = down(dwin);
    for (int64_t e = 0; e < SE; e++) ok &= s0[e] == carry[e];
    for (int64_t e = 0; e < CE; e++) ok &= w[e] == carry_conv[e];
    state_restore<T>(ds0.p, dwin.p, dpool.p, slot_elems, off, GPU_SRC_ZERO, dcarry.p, dcarry_conv.p, SE, CE, 0);
    s0 = down(ds0), w = down(dwin);
    for (int64_t e = 0; e < SE; e++) ok &= s0[e] == 0.0f;
    for (int64_t e = 0; e < CE; e++) ok &= w[e] == 0.0f;
    state_restore<T>(ds0.p, dwin.p, dpool.p, slot_elems, off, 2, dcarry.p, dcarry_conv.p, SE, CE, 0);
    s0 = down(ds0), w = down(dwin);
    for (int64_t e = 0; e < SE; e++) ok &= s0[e] == pool[2 * slot_elems + off + e];
    for (int64_t e = 0; e < CE; e++) ok &= w[e] == pool[2 * slot_elems + off + SE + e];
    report(ok, "kernel state_restore (slot, carry, zeros) %s C=%lld: exact copies", dname<T>(), (long long)C);
}

/* ---- the model ------------------------------------------------------------------ */

static gpu_config tiny_cfg(const char *preset, gpu_dtype dt, int64_t max_tokens) {
    fl_model m;
    fl_preset(preset, &m);
    gpu_config c;
    gpu_config_init(&c, &m);
    c.dtype = dt;
    c.chunk = 16;
    c.max_tokens = max_tokens;
    c.kv_pool_bytes = 256 * (int64_t)m.n_attn * 2 * m.n_kv_heads * (m.d / m.n_heads) * 4;
    c.state_pool_bytes = 8 * (int64_t)m.n_ssm * 4 *
                         ((int64_t)m.expand * m.d * m.n + ((int64_t)m.expand * m.d + 2 * m.ngroups * m.n) * 3);
    return c;
}

struct Seq {
    std::vector<int32_t> tok, slot;
};

static Seq make_seq(int64_t n, int vocab, int64_t nslots, uint64_t key) {
    Seq s;
    for (int64_t i = 0; i < n; i++) {
        s.tok.push_back((int32_t)(gpu_mix64(key * 1000 + i) % vocab));
        s.slot.push_back((int32_t)((i * 5 + 11) % nslots));
    }
    return s;
}

static bool prefill(gpu_model *g, const Seq &s, int64_t p, int64_t n, int32_t start, std::vector<int64_t> ck,
                    std::vector<int32_t> cks, float *logits) {
    gpu_prefill_req r = {};
    r.tokens = s.tok.data() + p;
    r.n = n;
    r.n_prefix = p;
    r.prefix_kv = s.slot.data();
    r.start_state = start;
    r.new_kv = s.slot.data() + p;
    r.ckpt = ck.data();
    r.ckpt_slot = cks.data();
    r.n_ckpt = (int)ck.size();
    r.logits = logits;
    if (gpu_prefill(g, &r, err, sizeof err) == 0) return true;
    report(false, "gpu_prefill: %s", err);
    return false;
}

template <typename T> void test_model(const char *preset) {
    gpu_config cfg = tiny_cfg(preset, dtype_of<T>(), 4096);
    gpu_model *gc = gpu_create(&cfg, 1234, GPU_BACKEND_CUDA, err, sizeof err);
    if (!gc) return report(false, "create %s %s on CUDA: %s", preset, dname<T>(), err);
    gpu_model *gr = gpu_create(&cfg, 1234, GPU_BACKEND_CPU, err, sizeof err);
    if (!gr) return report(false, "create %s on CPU: %s", preset, err);
    int vocab = cfg.model.vocab;
    int64_t nslots = gpu_get_info(gr)->kv_slots; /* the CPU's fp32 pool has fewer */
    double bound = model_bound<T>();
    std::vector<float> a(vocab), b(vocab), c(vocab);

    /* CUDA vs CPU, whole prefills of several lengths */
    double worst = 0;
    for (int64_t n : {1, 16, 37, 100}) {
        Seq s = make_seq(n, vocab, nslots, (uint64_t)n);
        if (!prefill(gc, s, 0, n, GPU_NO_SLOT, {}, {}, a.data()) || !prefill(gr, s, 0, n, GPU_NO_SLOT, {}, {}, b.data()))
            return;
        double e = rel_err(a.data(), b.data(), vocab);
        if (!(e <= worst)) worst = e;
    }
    report(worst < bound, "model %s %s: CUDA vs CPU logits, n = 1, 16, 37, 100: worst relative error %.2e (bound %.0e)",
           preset, dname<T>(), worst, bound);

    /* split vs whole on the GPU, and the split GPU run vs the CPU's whole */
    double worst_split = 0, worst_x = 0;
    int64_t cases[][2] = {{64, 16}, {64, 32}, {80, 17}, {100, 1}, {100, 99}, {77, 40}, {48, 47}};
    for (auto &cs : cases) {
        int64_t n = cs[0], p = cs[1];
        Seq s = make_seq(n, vocab, nslots, (uint64_t)(n * 131 + p));
        if (!prefill(gc, s, 0, n, GPU_NO_SLOT, {}, {}, a.data())) return;
        if (!prefill(gc, s, 0, p, GPU_NO_SLOT, {p}, {2}, nullptr)) return;
        if (!prefill(gc, s, p, n - p, 2, {}, {}, b.data())) return;
        if (!prefill(gr, s, 0, n, GPU_NO_SLOT, {}, {}, c.data())) return;
        double e = rel_err(b.data(), a.data(), vocab), x = rel_err(b.data(), c.data(), vocab);
        if (!(e <= worst_split)) worst_split = e;
        if (!(x <= worst_x)) worst_x = x;
    }
    report(worst_split < bound, "model %s %s: split at p (on/off chunk boundaries) vs whole, on the GPU: worst %.2e",
           preset, dname<T>(), worst_split);
    /* two errors stacked: the state rounded to the storage type at the split,
     * and the CUDA-vs-CPU difference; hence twice the bound */
    report(worst_x < 2 * bound, "model %s %s: split on the GPU vs whole on the CPU: worst %.2e (bound %.0e)", preset,
           dname<T>(), worst_x, 2 * bound);

    /* a checkpoint mid-prefill == the final state of a shorter prefill, on
     * the GPU, and == the CPU's state */
    {
        int64_t n = 90;
        Seq s = make_seq(n, vocab, nslots, 99);
        std::vector<int64_t> ck = {16, 23, 48, 89};
        if (!prefill(gc, s, 0, n, GPU_NO_SLOT, ck, {0, 1, 2, 3}, nullptr)) return;
        if (!prefill(gr, s, 0, n, GPU_NO_SLOT, ck, {0, 1, 2, 3}, nullptr)) return;
        const gpu_info *ic = gpu_get_info(gc);
        int64_t se = ic->state_slot_bytes / ic->elem_bytes;
        std::vector<float> sa(se), sb(se), sr(se);
        double wm = 0, wr = 0;
        for (int i = 0; i < 4; i++) {
            if (!prefill(gc, s, 0, ck[i], GPU_NO_SLOT, {ck[i]}, {5}, nullptr)) return;
            gpu_read_state(gc, i, sa.data(), err, sizeof err);
            gpu_read_state(gc, 5, sb.data(), err, sizeof err);
            gpu_read_state(gr, i, sr.data(), err, sizeof err);
            double e = rel_err(sa.data(), sb.data(), se), x = rel_err(sa.data(), sr.data(), se);
            if (!(e <= wm)) wm = e;
            if (!(x <= wr)) wr = x;
        }
        report(wm < bound, "model %s %s: checkpoints at 16, 23, 48, 89 vs shorter prefills' final states: worst %.2e",
               preset, dname<T>(), wm);
        report(wr < 4 * bound, "model %s %s: those checkpoints vs the CPU's: worst %.2e (bound %.0e)", preset,
               dname<T>(), wr, 4 * bound);
    }

    /* segments: max_tokens 24 vs one pass */
    {
        gpu_config sc = tiny_cfg(preset, dtype_of<T>(), 24);
        gpu_model *gs = gpu_create(&sc, 1234, GPU_BACKEND_CUDA, err, sizeof err);
        if (!gs) return report(false, "create with max_tokens 24: %s", err);
        Seq s = make_seq(100, vocab, nslots, 7);
        if (prefill(gc, s, 0, 100, GPU_NO_SLOT, {30, 97}, {0, 1}, a.data()) &&
            prefill(gs, s, 0, 100, GPU_NO_SLOT, {30, 97}, {0, 1}, b.data())) {
            double e = rel_err(b.data(), a.data(), vocab);
            report(e < bound, "model %s %s: 100 tokens in segments of 24 vs one pass: %.2e", preset, dname<T>(), e);
        }
        gpu_destroy(gs);
    }
    gpu_destroy(gc);
    gpu_destroy(gr);
}

/* A budget the device cannot hold is an error, not a crash or a hang; the
 * device is usable after it. */
static void test_budget() {
    gpu_config cfg = tiny_cfg("tiny", GPU_F16, 64);
    cfg.kv_pool_bytes = (int64_t)1 << 50;
    err[0] = 0;
    gpu_model *g = gpu_create(&cfg, 1, GPU_BACKEND_CUDA, err, sizeof err);
    report(!g && strstr(err, "device memory"), "budget of 1 PiB refused: %s", err);
    gpu_destroy(g);
    cfg = tiny_cfg("tiny", GPU_F16, 64);
    cfg.max_tokens = (int64_t)1 << 24;
    fl_preset("hybrid-7b", &cfg.model);
    g = gpu_create(&cfg, 1, GPU_BACKEND_CUDA, err, sizeof err);
    report(!g && strstr(err, "device memory"), "hybrid-7b with 16M-token workspace refused: %s", err);
    gpu_destroy(g);
    cfg = tiny_cfg("tiny", GPU_F16, 64);
    g = gpu_create(&cfg, 1, GPU_BACKEND_CUDA, err, sizeof err);
    report(g != nullptr, "a model fits afterwards%s%s", g ? "" : ": ", g ? "" : err);
    gpu_destroy(g);
}

/* hybrid-7b on the GPU: a split prefill equals the whole. */
static void test_7b() {
    fl_model m;
    fl_preset("hybrid-7b", &m);
    gpu_config cfg;
    gpu_config_init(&cfg, &m);
    cfg.max_tokens = 2048;
    cfg.kv_pool_bytes = 4096LL * m.n_attn * 2 * 4096 * 2;
    cfg.state_pool_bytes = 4LL * m.n_ssm * fl_real_ssm_layer_bytes(&m);
    gpu_model *g = gpu_create(&cfg, 7, GPU_BACKEND_CUDA, err, sizeof err);
    if (!g) return report(false, "create hybrid-7b: %s", err);
    const gpu_info *in = gpu_get_info(g);
    printf("      hybrid-7b: %.2f B params, weights %.2f GiB, state slot %lld B (formula %lld), KV %lld B/token "
           "(formula %lld)\n",
           in->n_params / 1e9, in->weight_bytes / 1073741824.0, (long long)in->state_slot_bytes,
           (long long)in->formula_state_bytes, (long long)in->kv_slot_bytes, (long long)in->formula_kv_bytes_per_token);
    std::vector<float> a(m.vocab), b(m.vocab);
    Seq s = make_seq(3000, m.vocab, in->kv_slots, 5);
    int64_t n = 3000, p = 1337; /* n > max_tokens: two segments */
    if (prefill(g, s, 0, n, GPU_NO_SLOT, {}, {}, a.data()) && prefill(g, s, 0, p, GPU_NO_SLOT, {p}, {1}, nullptr) &&
        prefill(g, s, p, n - p, 1, {}, {}, b.data())) {
        double e = rel_err(b.data(), a.data(), m.vocab);
        bool finite = true;
        for (float v : a) finite &= std::isfinite(v);
        report(finite && e < 1e-2, "model hybrid-7b f16: 3000 tokens split at 1337 vs whole: %.2e (bound 1e-2)", e);
    }
    gpu_destroy(g);
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
        cublasHandle_t hb;
        cublasCheck(cublasCreate(&hb));
        test_init<__half>();
        test_init<__nv_bfloat16>();
        test_rmsnorm<__half>();
        test_rmsnorm<__nv_bfloat16>();
        test_conv1d<__half>(4);
        test_conv1d<__nv_bfloat16>(3);
        test_gated_norm<__half>();
        test_gated_norm<__nv_bfloat16>();
        test_relu2_rope<__half>();
        test_relu2_rope<__nv_bfloat16>();
        test_matmul<__half>(hb);
        test_matmul<__nv_bfloat16>(hb);
        test_state_io<__half>(40);
        test_state_io<__nv_bfloat16>(48);
        test_ssd<__half>(hb, 8, 16, 16, 1, 16, 75);
        test_ssd<__half>(hb, 4, 32, 32, 2, 32, 70);
        test_ssd<__nv_bfloat16>(hb, 8, 16, 16, 1, 16, 75);
        test_ssd<__half>(hb, 40, 16, 16, 2, 16, 40); /* two groups of heads in ssd_prep, the second partial */
        if (!small) test_ssd<__half>(hb, 4, 64, 128, 1, 128, 300);
        test_attention<__half>(4, 4, 16, 0, 70);
        test_attention<__half>(4, 2, 16, 50, 40);
        test_attention<__nv_bfloat16>(4, 2, 32, 70, 90);
        if (!small) test_attention<__half>(2, 2, 128, 100, 130);
        cublasDestroy(hb);
        test_model<__half>("tiny");
        test_model<__half>("tiny-gqa");
        test_model<__nv_bfloat16>("tiny");
        test_model<__nv_bfloat16>("tiny-gqa");
        test_budget();
        if (!no7b) test_7b();
    } catch (const std::exception &e) {
        report(false, "exception: %s", e.what());
    }
    printf("gpu_test: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
