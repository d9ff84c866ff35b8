/* gpu_test_kernels.cu -- gpu_test's kernel checks (see gpu_test.cu): each op
 * alone on random inputs, against gpu_ref.c on the same inputs (rounded to
 * the storage type), within abs + |ref| * eps; the weights drawn on the
 * device bit-identical to the host's; the whole SSD pipeline with
 * checkpoints; paged attention over a shuffled prefix; state copies.
 */
#include <math.h>
#include <string.h>

#include <vector>

#include "gpu_backend/gpu_test.cuh"
#include "gpu_backend/kernels/act.cuh"
#include "gpu_backend/kernels/attention.cuh"
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

void gpu_test_kernels(bool small) {
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
}
