/* fuzz.h -- what the libFuzzer targets of tests/fuzz/ share.
 *
 * Each target is one file, fuzz_NAME.c, with a static entry
 *
 *   static int fz_NAME(const uint8_t *data, size_t size)
 *
 * and FUZZ_ENTRY(fz_NAME) at its end, which defines libFuzzer's
 * LLVMFuzzerTestOneInput.  tests/test_traces_fuzz.c defines FUZZ_NO_MAIN
 * and includes every target, to replay the seed corpus
 * (tests/fuzz/corpus/NAME/) in `make test` under the ordinary build and the
 * sanitizer build.  The readers take a path: fz_file writes the input to
 * this process's temporary file and returns its name.  A broken invariant
 * calls FZ_CHECK, which aborts: libFuzzer records the input as a crash.
 */
#ifndef MARCONI_FUZZ_H
#define MARCONI_FUZZ_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FZ_CHECK(c)                                                                          \
    do {                                                                                     \
        if (!(c)) {                                                                          \
            fprintf(stderr, "fuzz: check failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);    \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

#ifdef FUZZ_NO_MAIN
#define FUZZ_ENTRY(fn)
#else
#define FUZZ_ENTRY(fn) \
    int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fn(d, n); }
#endif

/* Temporary files of this process, one per slot (a target may need two:
 * an input and what it wrote back), removed at exit. */
enum { FZ_SLOTS = 4 };
static char fz_paths[FZ_SLOTS][512];

static void fz_cleanup(void) {
    for (int i = 0; i < FZ_SLOTS; i++)
        if (fz_paths[i][0]) unlink(fz_paths[i]);
}

/* The path of slot k (created on first use, empty). */
static const char *fz_path(int k) {
    if (!fz_paths[k][0]) {
        static int registered;
        if (!registered) {
            atexit(fz_cleanup);
            registered = 1;
        }
        const char *t = getenv("TMPDIR");
        snprintf(fz_paths[k], sizeof fz_paths[k], "%s/marconi_fuzz_%d_%d_XXXXXX", t && *t ? t : "/tmp", (int)getpid(),
                 k);
        int fd = mkstemp(fz_paths[k]);
        FZ_CHECK(fd >= 0);
        close(fd);
    }
    return fz_paths[k];
}

/* Write d[0..n) to slot k's file; returns its path. */
static const char *fz_file(int k, const void *d, size_t n) {
    const char *p = fz_path(k);
    int fd = open(p, O_WRONLY | O_TRUNC);
    FZ_CHECK(fd >= 0);
    const char *s = d;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        FZ_CHECK(w > 0);
        s += w;
        n -= (size_t)w;
    }
    close(fd);
    return p;
}

#endif
