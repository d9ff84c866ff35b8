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

/* An output file, written so that readers never see a partial file and a
 * failure leaves what was there untouched:
 *
 *   a regular file, or a new name   written under PATH.tmp.PID beside it
 *                                   and renamed into place by
 *                                   mu_atomic_commit
 *   a symbolic link                 the same for the file it points to (the
 *                                   temp file in the target's folder, the
 *                                   rename there): the link stays a link
 *   anything else that exists       written through, no temp, no rename: a
 *   (a device, a FIFO, a socket)    device stays a device
 *   "-", /dev/stdout, /dev/stderr,  written through to that descriptor
 *   /dev/fd/N, /proc/self/fd/N
 *
 * No call ever renames over anything but a regular file.  A path ending in
 * ".gz" is written gzip-compressed ("-" never is).  While open, the temp
 * file is registered: SIGINT, SIGTERM, SIGHUP and SIGPIPE (when they were
 * at their default action) remove every registered temp file, then end
 * the process by the same signal.  Errors: "the output path is empty",
 * "is a folder, not a file", "cannot write: ...", "write failed: ...". */
typedef struct mu_atomic_file {
    char path[4096]; /* the final name (a symbolic link's target) */
    char tmp[4096];  /* temporary name, or "" when written through */
    FILE *f;         /* plain output, or NULL */
    gzFile gz;       /* gzip output, or NULL */
    int direct;      /* 1: written through, nothing renamed */
    int slot;        /* the temp file's place in the signal registry, or -1 */
} mu_atomic_file;
int mu_atomic_open(mu_atomic_file *af, const char *path, char *err, size_t errlen);
int mu_atomic_write(mu_atomic_file *af, const void *p, size_t n, char *err, size_t errlen);
int mu_atomic_commit(mu_atomic_file *af, char *err, size_t errlen);
void mu_atomic_abort(mu_atomic_file *af);

/* Remove the temp files mu_atomic_open made for path (PATH.tmp.PID beside
 * the file path names, a symbolic link followed) whose process is gone, or
 * is this process (nothing of this process is open yet when a command
 * calls it).  Returns how many were removed; the first one's name into
 * first (may be NULL). */
int mu_atomic_clean(const char *path, char *first, size_t firstlen);
/* The same for dir/PREFIX<PID> files (e.g. ".write-test."). */
int mu_clean_stale(const char *dir, const char *prefix, char *first, size_t firstlen);

/* Does path name standard output: "-", /dev/stdout, /dev/fd/1,
 * /proc/self/fd/1, or the very file descriptor 1 writes to? */
int mu_is_stdout(const char *path);

/* mkdir -p: dir and every missing folder above it.  Returns 0, or -1 with
 * errno set. */
int mu_mkdirs(const char *dir);

/* A 64-bit hash of n bytes, continuing from h (0 to start): fast (8 bytes
 * a step), for telling contents apart, not for security. */
uint64_t mu_hash_bytes(uint64_t h, const void *p, size_t n);
/* mu_hash_bytes of a whole file's bytes, its size folded in.  Returns 0,
 * or -1 with err ("cannot read: ..."). */
int mu_hash_file(const char *path, uint64_t *out, char *err, size_t errlen);

#endif
