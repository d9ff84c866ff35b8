/* sweep_pool.c -- the workers of a sweep, their schedule, and the progress
 * bar.
 *
 * A phase (sw_phase) is ntask numbered tasks.  Each worker takes the next
 * number under the lock until none is left or a task has failed.  Which
 * thread ran what never shows in the results: a task writes only its own
 * slot (a trace, a baseline, out[grid index]) and the files are written in
 * grid order.  Nor in the error: the failure reported is the lowest-
 * numbered task's, which always runs (tasks are taken in order, and every
 * task taken finishes).  The runs go biggest first, so the threads run out of work
 * together rather than one finishing a long run alone.
 *
 * While the runs go, the calling thread draws the bar (on a terminal only)
 * and rewrites the files every ten seconds, so a long sweep can be watched
 * and a crash loses no finished row (the journal keeps them too).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "cli/sweep.h"

/* ---- schedule ------------------------------------------------------------------------- */

/* Biggest first; the grid index breaks ties, so the order is one order. */
static int cmp_cost(const void *a, const void *b) {
    const sw_run *x = a, *y = b;
    if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

void sw_schedule(sweep *s) {
    size_t left = 0;
    for (size_t i = 0; i < s->nruns; i++) {
        sw_run r = s->runs[i];
        /* input tokens, weighted by a rough per-system factor (marconi's
         * tuner replays the trace again): enough to balance the threads */
        double tok = (double)s->tr[r.trace].tr.total_in;
        r.cost = tok * (!strcmp(r.system, "marconi") ? 4 : !strcmp(r.system, "vllm+") ? 2 : 1);
        if (!s->out[r.idx].done) s->runs[left++] = r;
    }
    s->nleft = left;
    s->total = left + s->resumed;
    qsort(s->runs, left, sizeof *s->runs, cmp_cost);
}

/* ---- tasks ---------------------------------------------------------------------------- */

/* runs[k], its rows stored and journaled. */
static int run_task(sweep *s, size_t k, char *err, size_t errlen) {
    const sw_run *r = &s->runs[k];
    sw_out o = {0};
    /* the message names the run, then says what went wrong */
    int n = snprintf(err, errlen, "%s %s capacity %g: ", s->tr[r->trace].label, r->system, r->capacity);
    size_t used = n < 0 ? 0 : (size_t)n < errlen ? (size_t)n : errlen - 1;
    if (sw_run_rows(s, r, &o, err + used, errlen - used)) return -1;
    pthread_mutex_lock(&s->mu);
    o.done = 1;
    s->out[r->idx] = o;
    sw_journal_put(s, r->idx);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static int task(sweep *s, size_t k, char *err, size_t errlen) {
    switch (s->phase) {
    case SW_LOAD: return sw_load_trace(&s->tr[k], err, errlen);
    case SW_VANILLA: return sw_run_vanilla(s, k, err, errlen);
    case SW_RUNS: return run_task(s, k, err, errlen);
    }
    return -1;
}

static void *worker(void *arg) {
    sweep *s = arg;
    char err[1024];
    for (;;) {
        pthread_mutex_lock(&s->mu);
        size_t k = s->next++;
        int stop = s->failed;
        pthread_mutex_unlock(&s->mu);
        if (stop || k >= s->ntask) break;
        err[0] = '\0';
        int rc = task(s, k, err, sizeof err);
        pthread_mutex_lock(&s->mu);
        s->finished++;
        if (rc && (!s->failed || k < s->failed_task)) {
            s->failed = 1;
            s->failed_task = k;
            snprintf(s->err, sizeof s->err, "%s", err);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* ---- progress ------------------------------------------------------------------------- */

static void progress(const sweep *s, size_t done, int final) {
    if (!isatty(2)) return; /* a log or a pipe gets the summary line only */
    double el = mu_now() - s->t0, eta = done ? el * (double)(s->total - done) / (double)done : 0;
    int w = 30, fill = s->total ? (int)((double)w * (double)done / (double)s->total) : w;
    char bar[64];
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
    bar[w] = '\0';
    fprintf(stderr, "\rsweep [%s] %zu/%zu runs  %d:%02d elapsed  ETA %d:%02d ", bar, done, s->total, (int)el / 60,
            (int)el % 60, (int)eta / 60, (int)eta % 60);
    if (final) fputc('\n', stderr);
}

/* Until the runs are done: the bar, and the files kept current. */
static void watch(sweep *s) {
    double last = 0;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        size_t f = s->finished;
        int failed = s->failed;
        pthread_mutex_unlock(&s->mu);
        if (f >= s->ntask || failed) break;
        progress(s, s->resumed + f, 0);
        usleep(100000);
        if (mu_now() - last > 10) {
            char e[1024]; /* ignored here: the final write reports it */
            pthread_mutex_lock(&s->mu);
            if (last > 0) sw_write_outputs(s, e, sizeof e);
            pthread_mutex_unlock(&s->mu);
            last = mu_now();
        }
    }
}

int sw_pool_run(sweep *s, sw_phase phase, size_t ntask, int threads) {
    s->phase = phase;
    s->next = 0;
    s->ntask = ntask;
    s->finished = 0;
    size_t nt = (size_t)threads < ntask ? (size_t)threads : ntask, started = 0;
    pthread_t *th = nt ? malloc(nt * sizeof *th) : NULL;
    for (size_t i = 0; th && i < nt; i++)
        if (pthread_create(&th[started], NULL, worker, s) == 0) started++;
    if (!started && ntask) worker(s); /* no thread to be had: the work is done here */
    if (phase == SW_RUNS) watch(s);
    for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    if (phase == SW_RUNS) progress(s, s->resumed + s->finished, 1);
    return s->failed ? -1 : 0;
}
