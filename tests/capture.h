/* capture.h -- run a marconi subcommand in-process, the way the binary
 * would, with its stdout and stderr captured (the tests check exit codes,
 * messages and output). */
#ifndef MARCONI_TEST_CAPTURE_H
#define MARCONI_TEST_CAPTURE_H

#include <fcntl.h>
#include <stdio.h>
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

#endif
