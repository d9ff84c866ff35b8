/* test_outputs.c -- where the commands' output goes, and that none is lost
 * or left half-made:
 *
 *   - a write to stdout that fails (/dev/full) fails the command, exit 1,
 *     "marconi: stdout: No space left on device" (the built binary run, as
 *     a user would: the check is main's, after the subcommand returns);
 *   - -o of a symbolic link writes its target, of a FIFO or a device writes
 *     through it, "-" is stdout, "" and a folder are refused in words;
 *     nothing but a regular file is ever replaced;
 *   - a run killed by SIGTERM or SIGINT removes its temp file, and gen
 *     removes the temp files dead runs left;
 *   - --version, gen --paper into a new folder, model --help's columns.
 *
 * The binary is $(BUILD)/marconi, beside this suite's folder
 * ($(BUILD)/tests/test_outputs). */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "cli/cmds.h"

/* ---- the binary ------------------------------------------------------------------------ */

static char bin[4096];

static int setup(void **state) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) return -1;
    *slash = '\0';
    snprintf(bin, sizeof bin, "%.4000s/../marconi", self);
    return th_setup(state);
}

/* Run the binary with the NULL-terminated arguments (after "marconi"),
 * stdout into out_path, stderr into th_err.  Returns its exit status, or
 * 128 + the signal that ended it. */
static int run_bin(const char *out_path, ...) {
    char *argv[64];
    int argc = 0;
    argv[argc++] = bin;
    va_list ap;
    va_start(ap, out_path);
    for (char *a; argc < 63 && (a = va_arg(ap, char *));) argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    if (access(bin, X_OK) != 0) fail_msg("%s is not built (make builds it before the tests)", bin);
    const char *errp = th_path("bin.stderr");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0) _exit(99);
        dup2(o, 1);
        dup2(e, 2);
        execv(bin, argv);
        _exit(98);
    }
    int st;
    waitpid(pid, &st, 0);
    capture_read(errp, th_err, sizeof th_err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int is_chardev(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISCHR(st.st_mode);
}

/* Files in th_dir/sub (recursively) whose name holds ".tmp.". */
static int temps_in(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char p[1200];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) n += temps_in(p);
        else if (strstr(de->d_name, ".tmp.")) n++;
    }
    closedir(d);
    return n;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    if (len) *len = got;
    return s;
}

/* ---- 1. stdout write errors -------------------------------------------------------------- */

static void test_stdout_full(void **state) {
    if (!is_chardev("/dev/full")) skip();
    char trace[600];
    snprintf(trace, sizeof trace, "%s", th_path("s.jsonl"));
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "3", "-o", trace, NULL), 0);
    const char *full = "/dev/full", *enospc = "marconi: stdout: No space left on device\n";
    /* every kind of output: a table, help, JSON, a dry run, the version */
    assert_int_equal(run_bin(full, "model", NULL), 1);
    assert_string_equal(th_err, enospc);
    assert_int_equal(run_bin(full, "--help", NULL), 1);
    assert_string_equal(th_err, enospc);
    assert_int_equal(run_bin(full, "--version", NULL), 1);
    assert_string_equal(th_err, enospc);
    assert_int_equal(run_bin(full, "model", "--help", NULL), 1);
    assert_string_equal(th_err, enospc);
    assert_int_equal(run_bin(full, "stats", trace, NULL), 1);
    assert_string_equal(th_err, enospc);
    assert_int_equal(run_bin(full, "stats", trace, "--json", NULL), 1);
    assert_string_equal(th_err, enospc);
    assert_int_equal(run_bin(full, "sim", trace, "--capacity", "1e9", "--json", NULL), 1);
    assert_string_equal(th_err, enospc);
    assert_int_equal(run_bin(full, "sweep", "--trace", "lmsys:sessions=3", "--capacity", "1e9", "--dry-run", NULL), 1);
    assert_string_equal(th_err, enospc);
    /* the trace itself on stdout: the write fails inside the command */
    assert_int_equal(run_bin(full, "gen", "lmsys", "--sessions", "2", "-o", "-", NULL), 1);
    assert_non_null(strstr(th_err, "marconi: stdout: "));
    assert_non_null(strstr(th_err, "No space left on device"));
    /* a failure keeps its own status */
    assert_int_equal(run_bin(full, "model", "--bogus", NULL), 2);
    /* the same commands into a file succeed, and stdout holds the output */
    assert_int_equal(run_bin(th_path("model.out"), "model", NULL), 0);
    assert_string_equal(th_err, "");
    char *m = slurp(th_path("model.out"), NULL);
    assert_non_null(strstr(m, "hybrid-7b"));
    free(m);
}

/* ---- 2. what -o points at ------------------------------------------------------------------ */

/* A child that copies FIFO fifo into file out, then exits (killed after
 * a while by the caller if no writer ever comes). */
static pid_t fifo_reader(const char *fifo, const char *out) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(60);
        int in = open(fifo, O_RDONLY), o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char buf[1 << 16];
        ssize_t n;
        while (in >= 0 && (n = read(in, buf, sizeof buf)) > 0)
            if (write(o, buf, (size_t)n) != n) _exit(3);
        _exit(in >= 0 ? 0 : 2);
    }
    return pid;
}

/* Wait up to 10 s for pid; kill it then.  Returns 1 when it ended by itself. */
static int reaped(pid_t pid) {
    for (int i = 0; i < 1000; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) && WEXITSTATUS(st) == 0;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 0;
}

static void test_output_paths(void **state) {
    char trace[600], fifo[600]; /* th_path's buffers rotate: these stay */
    snprintf(trace, sizeof trace, "%s", th_path("t.jsonl"));
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "2", "--seed", "5", "-o", trace, NULL), 0);
    size_t tlen;
    char *want = slurp(trace, &tlen);
    struct stat st;

    /* a symbolic link: its target written, the link left a link */
    assert_non_null(th_write("target.jsonl", "old\n"));
    assert_int_equal(symlink("target.jsonl", th_path("link.jsonl")), 0);
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "2", "--seed", "5", "-o", th_path("link.jsonl"), NULL), 0);
    assert_int_equal(lstat(th_path("link.jsonl"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char *got = slurp(th_path("target.jsonl"), NULL);
    assert_string_equal(got, want);
    free(got);
    /* a dangling one, into another folder: the target made there */
    assert_int_equal(mkdir(th_path("sub"), 0755), 0);
    assert_int_equal(symlink("sub/new.jsonl", th_path("dangling.jsonl")), 0);
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "2", "--seed", "5", "-o", th_path("dangling.jsonl"), NULL), 0);
    assert_int_equal(lstat(th_path("dangling.jsonl"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    got = slurp(th_path("sub/new.jsonl"), NULL);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);

    /* a FIFO: written through, still a FIFO after (pack and convert too) */
    snprintf(fifo, sizeof fifo, "%s", th_path("pipe"));
    assert_int_equal(mkfifo(fifo, 0644), 0);
    pid_t r = fifo_reader(fifo, th_path("pipe.out"));
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "2", "--seed", "5", "-o", fifo, NULL), 0);
    int read_ok = reaped(r);
    assert_int_equal(lstat(fifo, &st), 0);
    if (!S_ISFIFO(st.st_mode)) fail_msg("gen -o FIFO replaced the FIFO");
    assert_true(read_ok);
    got = slurp(th_path("pipe.out"), NULL);
    assert_string_equal(got, want);
    free(got);
    r = fifo_reader(fifo, th_path("pipe.out"));
    assert_int_equal(th_run(cmd_pack, "pack", trace, "-o", fifo, NULL), 0);
    assert_true(reaped(r));
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    got = slurp(th_path("pipe.out"), NULL);
    assert_memory_equal(got, "MTRACE", 6);
    free(got);
    assert_non_null(th_write("conv.json", "[{\"conversations\": [{\"from\": \"human\", \"value\": \"hi there\"}, "
                                          "{\"from\": \"gpt\", \"value\": \"hello\"}]}]"));
    r = fifo_reader(fifo, th_path("pipe.out"));
    assert_int_equal(th_run(cmd_convert, "convert", "sharegpt", th_path("conv.json"), "--min-turns", "0", "-o", fifo, NULL), 0);
    assert_true(reaped(r));
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));

    /* a device: written through (so a full one fails, exit 1), never replaced */
    if (is_chardev("/dev/full")) {
        assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "2", "-o", "/dev/full", NULL), 1);
        assert_non_null(strstr(th_err, "No space left on device"));
        assert_true(is_chardev("/dev/full"));
        assert_int_equal(th_run(cmd_pack, "pack", trace, "-o", "/dev/full", NULL), 1);
        assert_true(is_chardev("/dev/full"));
    }
    if (is_chardev("/dev/null")) {
        assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "2", "-o", "/dev/null", NULL), 0);
        assert_true(is_chardev("/dev/null"));
    }

    /* "-": stdout (the summary lines of pack and convert then on stderr) */
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "2", "--seed", "5", "-o", "-", NULL), 0);
    got = slurp(th_path("stdout.txt"), NULL); /* th_run's capture, whole (th_out holds 64 KiB) */
    assert_string_equal(got, want);
    free(got);
    assert_int_equal(th_run(cmd_pack, "pack", trace, "-o", "-", NULL), 0);
    assert_memory_equal(th_out, "MTRACE", 6);
    assert_non_null(strstr(th_err, "requests"));
    assert_int_equal(th_run(cmd_pack, "pack", trace, "-o", "-", "--verify", NULL), 2);
    assert_non_null(strstr(th_err, "--verify reads the output back"));
    assert_int_equal(th_run(cmd_convert, "convert", "sharegpt", th_path("conv.json"), "--min-turns", "0", "-o", "-", NULL), 0);
    assert_true(!strncmp(th_out, "{\"session_id\": 0", 16));
    assert_non_null(strstr(th_err, "requests in"));

    /* "" and a folder: said in words */
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "-o", "", NULL), 2);
    assert_string_equal(th_err, "marconi: --output: '' is empty: name a file, or - for stdout\n");
    assert_int_equal(th_run(cmd_pack, "pack", trace, "-o", "", NULL), 2);
    assert_string_equal(th_err, "marconi: --output: '' is empty: name a file, or - for stdout\n");
    assert_int_equal(th_run(cmd_convert, "convert", "sharegpt", th_path("conv.json"), "-o", "", NULL), 2);
    assert_string_equal(th_err, "marconi: --output: '' is empty: name a file, or - for stdout\n");
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "2", "-o", th_path("sub"), NULL), 2);
    assert_non_null(strstr(th_err, "is a folder, not a file"));
    assert_int_equal(stat(th_path("sub"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* a regular file keeps its mode when replaced */
    assert_int_equal(chmod(th_path("target.jsonl"), 0600), 0);
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "2", "-o", th_path("target.jsonl"), NULL), 0);
    assert_int_equal(stat(th_path("target.jsonl"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    assert_int_equal(temps_in(th_dir), 0);
    free(want);
}

/* ---- 6. temp files: removed on a signal, and stale ones on start ------------------------------ */

/* Does th_dir hold a file starting with prefix? */
static int has_prefix(const char *prefix) {
    DIR *d = opendir(th_dir);
    int found = 0;
    for (struct dirent *de; d && !found && (de = readdir(d));) found = !strncmp(de->d_name, prefix, strlen(prefix));
    if (d) closedir(d);
    return found;
}

static void test_signal_removes_temp(void **state) {
    static const int sigs[] = {SIGTERM, SIGINT};
    for (int i = 0; i < 2; i++) {
        char name[64], tmp[80];
        snprintf(name, sizeof name, "victim%d.jsonl.gz", i);
        snprintf(tmp, sizeof tmp, "%s.tmp.", name);
        const char *out = th_path(name);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) { /* a trace big enough to take a while to write */
            char *argv[] = {"gen", "lmsys", "--sessions", "200", "-o", (char *)out, NULL};
            _exit(cmd_gen(6, argv));
        }
        int seen = 0, st;
        for (int k = 0; k < 60000 && !seen; k++) {
            if (waitpid(pid, &st, WNOHANG) == pid) fail_msg("gen finished before its temp file was seen: make the trace bigger");
            if (!(seen = has_prefix(tmp))) usleep(1000);
        }
        assert_true(seen);
        kill(pid, sigs[i]);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        /* ended by the signal itself, the temp file gone, no output */
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), sigs[i]);
        if (has_prefix(tmp)) fail_msg("%s* is left behind after signal %d", tmp, sigs[i]);
        assert_int_not_equal(access(out, F_OK), 0);
    }
}

/* A process id no process has now. */
static long dead_pid(void) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return (long)pid;
}

static void test_stale_temps(void **state) {
    char p[300];
    long dead = dead_pid(), live = (long)getppid();
    assert_int_equal(mkdir(th_path("g"), 0755), 0);
    snprintf(p, sizeof p, "g/x.jsonl.tmp.%ld", dead);
    assert_non_null(th_write(p, "partial"));
    snprintf(p, sizeof p, "g/x.jsonl.tmp.%ld", live); /* a live process's: kept */
    assert_non_null(th_write(p, "partial"));
    snprintf(p, sizeof p, "g/y.jsonl.tmp.%ld", dead); /* another output's: kept */
    assert_non_null(th_write(p, "partial"));
    snprintf(p, sizeof p, "g/x.jsonl.tmp.%ldz", dead); /* not this naming: kept */
    assert_non_null(th_write(p, "partial"));
    assert_int_equal(th_run(cmd_gen, "gen", "lmsys", "--sessions", "2", "-o", th_path("g/x.jsonl"), NULL), 0);
    assert_non_null(strstr(th_err, "removed 1 stale temp file"));
    snprintf(p, sizeof p, "g/x.jsonl.tmp.%ld", dead);
    if (access(th_path(p), F_OK) == 0) fail_msg("%s was not removed", p);
    snprintf(p, sizeof p, "g/x.jsonl.tmp.%ld", live);
    assert_int_equal(access(th_path(p), F_OK), 0);
    snprintf(p, sizeof p, "g/y.jsonl.tmp.%ld", dead);
    assert_int_equal(access(th_path(p), F_OK), 0);
    snprintf(p, sizeof p, "g/x.jsonl.tmp.%ldz", dead);
    assert_int_equal(access(th_path(p), F_OK), 0);
    /* --paper: each of its names */
    assert_int_equal(mkdir(th_path("pp"), 0755), 0);
    snprintf(p, sizeof p, "pp/lmsys_sps=1_nums=2.mtrace.tmp.%ld", dead);
    assert_non_null(th_write(p, "partial"));
    assert_int_equal(th_run(cmd_gen, "gen", "--paper", th_path("pp"), "--sessions", "2", "--format", "mtrace", NULL), 0);
    assert_int_not_equal(access(th_path(p), F_OK), 0);
}

/* ---- help, --version, --paper --------------------------------------------------------------- */

static void test_version_help_paper(void **state) {
    assert_int_equal(run_bin(th_path("v.out"), "--version", NULL), 0);
    char *v = slurp(th_path("v.out"), NULL);
    assert_string_equal(v, "marconi 0.5\n");
    free(v);
    assert_int_equal(run_bin(th_path("h.out"), "--help", NULL), 0);
    v = slurp(th_path("h.out"), NULL);
    assert_non_null(strstr(v, "--version"));
    free(v);
    /* model --help names the columns --csv writes */
    assert_int_equal(th_run(cmd_model, "model", "--csv", "--lengths", "1", NULL), 0);
    char header[256];
    snprintf(header, sizeof header, "%.*s", (int)strcspn(th_out, "\n"), th_out);
    assert_int_equal(th_run(cmd_model, "model", "--help", NULL), 0);
    if (!strstr(th_out, header)) fail_msg("model --help does not name the CSV columns %s", header);
    /* --paper into a folder that is not there yet: made */
    assert_int_equal(th_run(cmd_gen, "gen", "--paper", th_path("new/deeper"), "--sessions", "2", "--format", "mtrace", NULL), 0);
    assert_int_equal(access(th_path("new/deeper/lmsys_sps=0.25_nums=2.mtrace"), F_OK), 0);
    assert_int_equal(access(th_path("new/deeper/swebench_sps=10_art=10_nums=2.mtrace"), F_OK), 0);
    /* ... but not through a file */
    assert_non_null(th_write("afile", "x"));
    assert_int_equal(th_run(cmd_gen, "gen", "--paper", th_path("afile/sub"), "--sessions", "2", NULL), 2);
    assert_non_null(strstr(th_err, "--paper: cannot make the folder"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdout_full),
        cmocka_unit_test(test_output_paths),
        cmocka_unit_test(test_signal_removes_temp),
        cmocka_unit_test(test_stale_temps),
        cmocka_unit_test(test_version_help_paper),
    };
    return cmocka_run_group_tests(tests, setup, th_teardown);
}
