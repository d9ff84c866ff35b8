/* harness.h -- what every cmocka suite shares: a private temporary folder
 * made by th_setup and removed by th_teardown, paths and files in it, a
 * marconi subcommand run in-process the way the binary would (stdout and
 * stderr captured: the tests check exit codes, messages and output), and
 * the golden folder.
 *
 *   static int setup(void **s)  ->  th_setup    (creates th_dir)
 *   th_run(cmd_sim, "sim", trace, "--capacity", "3e9", NULL)
 *       -> exit status; th_err holds stderr, th_out stdout
 *   th_teardown                  (rm -rf th_dir)
 *
 * Header-only (static functions): each suite is one translation unit. */
#ifndef MARCONI_TEST_HARNESS_H
#define MARCONI_TEST_HARNESS_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void capture_read(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f) fclose(f);
}

/* fn(argc, argv) with stderr read back into err (errlen bytes) and stdout
 * into out (outlen bytes; NULL: discarded), both NUL-terminated; the files
 * go in dir.  Returns fn's exit status. */
static inline int run_captured_out(int (*fn)(int, char **), int argc, char **argv, const char *dir, char *err,
                            size_t errlen, char *out, size_t outlen) {
    char ep[700], op[700];
    snprintf(ep, sizeof ep, "%s/stderr.txt", dir);
    snprintf(op, sizeof op, "%s/stdout.txt", dir);
    fflush(stderr);
    fflush(stdout);
    int se = dup(2), so = dup(1);
    int fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fo = out ? open(op, O_WRONLY | O_CREAT | O_TRUNC, 0644) : open("/dev/null", O_WRONLY);
    dup2(fe, 2);
    dup2(fo, 1);
    int rc = fn(argc, argv);
    fflush(stderr);
    fflush(stdout);
    dup2(se, 2);
    dup2(so, 1);
    close(se);
    close(so);
    close(fe);
    close(fo);
    capture_read(ep, err, errlen);
    if (out) capture_read(op, out, outlen);
    return rc;
}

static inline int run_captured(int (*fn)(int, char **), int argc, char **argv, const char *dir, char *err, size_t errlen) {
    return run_captured_out(fn, argc, argv, dir, err, errlen, NULL, 0);
}

/* ---- the suite's temporary folder ------------------------------------------------------ */

static char th_dir[256];     /* the suite's folder, set by th_setup */
static char th_out[1 << 16]; /* stdout of the last th_run */
static char th_err[1 << 14]; /* stderr of the last th_run */

/* cmocka group setup: a fresh folder /tmp/marconi_test_XXXXXX. */
static inline int th_setup(void **state) {
    (void)state;
    snprintf(th_dir, sizeof th_dir, "%s/marconi_test_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(th_dir) ? 0 : -1;
}

/* cmocka group teardown: the folder and all in it removed. */
static inline int th_teardown(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", th_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* th_dir/name, in one of 8 rotating buffers (so a call's arguments may be
 * several paths). */
static inline const char *th_path(const char *name) {
    static char p[8][600];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", th_dir, name);
    return p[k];
}

/* Write text to th_dir/name; returns its path (as th_path), NULL on error. */
static inline const char *th_write(const char *name, const char *text) {
    const char *p = th_path(name);
    FILE *f = fopen(p, "wb");
    if (!f) return NULL;
    fputs(text, f);
    return fclose(f) == 0 ? p : NULL;
}

/* Run fn with the NULL-terminated arguments (argv[0] first, as the binary
 * passes them: "sim", TRACE, ...); stdout into th_out, stderr into th_err.
 * Returns fn's exit status. */
static inline int th_run(int (*fn)(int, char **), ...) {
    char *argv[128];
    int argc = 0;
    va_list ap;
    va_start(ap, fn);
    for (char *a; argc < 127 && (a = va_arg(ap, char *));) argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return run_captured_out(fn, argc, argv, th_dir, th_err, sizeof th_err, th_out, sizeof th_out);
}

/* The reference's golden folder: $MARCONI_GOLDEN_DIR (make test sets it
 * from GOLDEN_DIR), else ../shared/golden. */
static inline const char *th_golden_dir(void) {
    const char *d = getenv("MARCONI_GOLDEN_DIR");
    return d && *d ? d : "../shared/golden";
}

#endif
