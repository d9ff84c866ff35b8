/* capture.h -- run a marconi subcommand in-process, the way the binary
 * would, with its stdout discarded and its stderr captured (the tests check
 * exit codes and messages). */
#ifndef MARCONI_TEST_CAPTURE_H
#define MARCONI_TEST_CAPTURE_H

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* fn(argc, argv) with stderr written to DIR/stderr.txt and read back into
 * err (errlen bytes, NUL-terminated).  Returns fn's exit status. */
static int run_captured(int (*fn)(int, char **), int argc, char **argv, const char *dir, char *err, size_t errlen) {
    char ep[700];
    snprintf(ep, sizeof ep, "%s/stderr.txt", dir);
    fflush(stderr);
    fflush(stdout);
    int se = dup(2), so = dup(1), fd = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644), nul = open("/dev/null", O_WRONLY);
    dup2(fd, 2);
    dup2(nul, 1);
    int rc = fn(argc, argv);
    fflush(stderr);
    fflush(stdout);
    dup2(se, 2);
    dup2(so, 1);
    close(se);
    close(so);
    close(fd);
    close(nul);
    FILE *f = fopen(ep, "r");
    size_t n = f ? fread(err, 1, errlen - 1, f) : 0;
    err[n] = '\0';
    if (f) fclose(f);
    return rc;
}

#endif
