/* util.h -- the ground module's helpers (base/, prefix mu_): token-array
 * comparison, an integer hash, number formatting and parsing, atomic output
 * files, clocks.  Every module may include base/; base/ includes nothing of
 * the project. */
#ifndef MARCONI_UTIL_H
#define MARCONI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

/* Length of the longest common prefix of a[0..n) and b[0..n). */
size_t mu_lcp32(const int32_t *a, const int32_t *b, size_t n);

/* A 64-bit mixer (murmur3's finaliser) for hash tables keyed by integers. */
static inline uint64_t mu_hash64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* Shortest decimal that reads back as v, Python repr style ("0.1", "3.0",
 * "1e+20" -> "1e+20"); buf holds at least 40 bytes. */
char *mu_fmt_double(double v, char *buf);

/* Parse a byte count: a float literal ("3e9", "3000000000.0") or a number
 * with a unit (B, KB, MB, GB, TB = powers of 1000; KiB, MiB, GiB, TiB =
 * powers of 1024; case-insensitive).  Returns 0, or -1 when s is not one. */
int mu_parse_bytes(const char *s, double *out);

/* Parse a whole-string double / integer; -1 when s is not entirely one. */
int mu_parse_double(const char *s, double *out);
int mu_parse_long(const char *s, long long lo, long long hi, long long *out);

/* Seconds on a monotonic clock. */
double mu_now(void);

/* An output file written under a temporary name in the same folder and
 * renamed into place by mu_atomic_commit, so readers never see a partial
 * file and a failure leaves the old file (if any) untouched.  A path ending
 * in ".gz" is written gzip-compressed. */
typedef struct mu_atomic_file {
    char path[4096]; /* final name */
    char tmp[4096];  /* temporary name */
    FILE *f;         /* plain output, or NULL */
    gzFile gz;       /* gzip output, or NULL */
} mu_atomic_file;
int mu_atomic_open(mu_atomic_file *af, const char *path, char *err, size_t errlen);
int mu_atomic_write(mu_atomic_file *af, const void *p, size_t n, char *err, size_t errlen);
int mu_atomic_commit(mu_atomic_file *af, char *err, size_t errlen);
void mu_atomic_abort(mu_atomic_file *af);

#endif
