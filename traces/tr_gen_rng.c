/* tr_gen_rng.c -- the generators' deterministic arithmetic and random
 * numbers (tr_gen.h): exp and log from + - * / only (tr_exp, tr_log), so
 * every machine draws the same values, and the splitmix64 streams with
 * their samplers (uniform, standard normal, Poisson, rounded lognormal).
 */
#include "tr_gen.h"

#include <math.h>

/* ---- deterministic arithmetic ---------------------------------------------- */

static const double LN2_HI = 6.93147180369123816490e-01; /* ln 2, high bits (exact k*LN2_HI) */
static const double LN2_LO = 1.90821492927058770002e-10; /* ln 2 - LN2_HI */

double tr_exp(double x) {
    if (x != x) return x;
    if (x > 709.0) return HUGE_VAL;
    if (x < -745.0) return 0.0;
    /* x = k ln2 + r with |r| <= ln2/2; e^r by its Taylor series in Horner
     * form (18 terms: 0.35^18/18! < 1e-23), then scale by 2^k exactly */
    double kf = floor(x * 1.4426950408889634 + 0.5);
    double r = (x - kf * LN2_HI) - kf * LN2_LO;
    double p = 1.0;
    for (int i = 18; i >= 1; i--) p = 1.0 + r * p / (double)i;
    return ldexp(p, (int)kf);
}

double tr_log(double x) {
    if (x != x || x < 0) return NAN;
    if (x == 0) return -HUGE_VAL;
    if (isinf(x)) return x;
    int e;
    double m = frexp(x, &e); /* exact: x = m 2^e, m in [0.5, 1) */
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        e -= 1;
    }
    /* log m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.172: 14 odd terms */
    double s = (m - 1.0) / (m + 1.0), s2 = s * s, p = 0.0;
    for (int k = 14; k >= 0; k--) p = 1.0 / (double)(2 * k + 1) + s2 * p;
    return (double)e * LN2_HI + (2.0 * s * p + (double)e * LN2_LO);
}

/* ---- random numbers ---------------------------------------------------------- */

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void tr_rng_seed(tr_rng *r, uint64_t seed, uint64_t stream, uint64_t sub) {
    /* independent streams per (seed, stream, sub): hash the triple, so a
     * session's draws never depend on how many other sessions there are */
    r->s = mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ mix64(stream * 0xd1b54a32d192ed03ULL + 1) ^
                 mix64(sub * 0xabc98388fb8fac03ULL + 2));
}

uint64_t tr_rng_u64(tr_rng *r) {
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

double tr_rng_unif(tr_rng *r) { return (double)(tr_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

double tr_rng_normal(tr_rng *r) {
    double u, v, s;
    do {
        u = 2.0 * tr_rng_unif(r) - 1.0;
        v = 2.0 * tr_rng_unif(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * tr_log(s) / s); /* sqrt is exactly rounded in IEEE 754 */
}

uint64_t tr_rng_poisson(tr_rng *r, double lam) {
    /* Knuth's product of uniforms; a sum of Poissons is Poisson, so large
     * means go in pieces of 30 to keep e^-lam far from underflow */
    uint64_t k = 0;
    while (lam > 0) {
        double part = lam > 30.0 ? 30.0 : lam;
        lam -= part;
        double lim = tr_exp(-part), p = 1.0;
        for (;;) {
            p *= tr_rng_unif(r);
            if (p <= lim) break;
            k++;
        }
    }
    return k;
}

uint32_t tr_rng_lognormal_len(tr_rng *r, double mu, double sigma, uint32_t lo, uint32_t hi) {
    double x = tr_exp(mu + sigma * tr_rng_normal(r));
    if (!(x < (double)hi)) return hi;
    double v = floor(x + 0.5);
    if (v < (double)lo) return lo;
    return (uint32_t)v;
}
