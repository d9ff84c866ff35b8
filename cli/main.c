/* main.c -- the marconi command: dispatch to a subcommand (cli/cmds.h),
 * then make sure what it printed got out: a write to stdout or stderr that
 * failed (a full disk, /dev/full, a closed pipe) fails the command, so no
 * result is lost with exit 0.
 *
 * stdout is a stream of our own over descriptor 1 (fopencookie) that
 * keeps the first error a write met: stdio forgets why a buffered write
 * failed by the time the last flush comes, and the message should say it
 * ("No space left on device"). */
#define _GNU_SOURCE /* fopencookie */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "cli/cmds.h"

static const struct {
    const char *name;             /* subcommand */
    int (*fn)(int argc, char **argv);
    const char *summary;          /* one line for --help */
} cmds[] = {
    {.name = "sim", .fn = cmd_sim, .summary = "replay a trace through a prefix cache and report what it saved"},
    {.name = "replay", .fn = cmd_replay, .summary = "the same replay with the model really running behind the cache (CPU or CUDA)"},
    {.name = "profile", .fn = cmd_profile, .summary = "measure the executor's prefill latency by new x cached tokens (a --ttft-model profile)"},
    {.name = "gen", .fn = cmd_gen, .summary = "generate an LMSys-, ShareGPT-, SWE-bench-like or shared-prefix trace"},
    {.name = "explain", .fn = cmd_explain, .summary = "why every miss happened: compulsory, admission, capacity, alignment, in flight"},
    {.name = "stats", .fn = cmd_stats, .summary = "describe a trace: lengths, rates, oracle token hit rate"},
    {.name = "pack", .fn = cmd_pack, .summary = "write a trace in the packed form (.mtrace): fast to load, checksummed"},
    {.name = "convert", .fn = cmd_convert, .summary = "turn ShareGPT / LMSys / agent logs or Mooncake traces into a trace"},
    {.name = "sweep", .fn = cmd_sweep, .summary = "run a grid of simulations (traces x systems x alphas x capacities) into tidy CSV"},
    {.name = "model", .fn = cmd_model, .summary = "a model's state bytes, FLOPs and FLOP efficiency by length"},
};

/* The version --version prints. */
#define MARCONI_VERSION "0.5"

static void usage(FILE *f) {
    fprintf(f,
            "usage: marconi COMMAND [options]   (marconi COMMAND --help for each)\n"
            "\n"
            "Prefix caching for hybrid (Attention + SSM) LLMs: the Marconi cache, its\n"
            "baselines, and the tools to study them.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f,
            "\n"
            "marconi --version prints the version.  Exit status: 0 done, 1 a failure (out\n"
            "of memory, a failed write or check), 2 a bad option, argument or input file.\n");
}

/* ---- stdout --------------------------------------------------------------------------- */

static int out_errno; /* the first error of a write to descriptor 1, or 0 */

/* Every byte to descriptor 1; fewer than n returned marks the stream's
 * error (glibc), out_errno says why. */
static ssize_t out_write(void *cookie, const char *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(1, buf + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (!out_errno) out_errno = w < 0 ? errno : EIO;
            break;
        }
        done += (size_t)w;
    }
    return (ssize_t)done;
}

static int out_close(void *cookie) {
    if (close(1) != 0 && errno != EBADF) {
        if (!out_errno) out_errno = errno;
        return -1;
    }
    return 0;
}

/* stdout replaced by the stream above, buffered as the C library would
 * (lines on a terminal, blocks otherwise); left as it is when that fails. */
static void out_init(void) {
    FILE *f = fopencookie(NULL, "w", (cookie_io_functions_t){.write = out_write, .close = out_close});
    if (!f) return;
    if (setvbuf(f, NULL, isatty(1) ? _IOLBF : _IOFBF, 1 << 16) != 0) {
        fclose(f);
        return;
    }
    stdout = f;
}

/* Flush stdout and stderr and check that every write to them went out.  A
 * failed stdout write turns success into MU_EXIT_FAIL with "marconi:
 * stdout: why" on stderr; a failed stderr write (nothing can be said)
 * turns it into MU_EXIT_FAIL silently.  An exit status that already says
 * failure is kept. */
static int finish(int rc) {
    errno = 0;
    int bad = fflush(stdout) != 0, e = errno;
    bad |= ferror(stdout) != 0;
    /* fclose catches what only the close reports (some file systems) */
    if (fclose(stdout) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (out_errno) e = out_errno; /* the first failure's reason, however long ago */
    if (bad) {
        if (e) mu_err(MU_EXIT_FAIL, "stdout: %s", strerror(e));
        else mu_err(MU_EXIT_FAIL, "stdout: a write failed");
        if (rc == MU_EXIT_OK) rc = MU_EXIT_FAIL;
    }
    if ((fflush(stderr) != 0 || ferror(stderr)) && rc == MU_EXIT_OK) rc = MU_EXIT_FAIL;
    return rc;
}

static int dispatch(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return MU_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return MU_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("marconi %s\n", MARCONI_VERSION);
        return MU_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    return mu_err(MU_EXIT_USAGE, "unknown command '%s' (marconi --help lists them)", argv[1]);
}

int main(int argc, char **argv) {
    out_init();
    return finish(dispatch(argc, argv));
}
