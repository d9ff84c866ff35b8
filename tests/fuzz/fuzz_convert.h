/* fuzz_convert.h -- the converters (tr_convert) on arbitrary bytes, for
 * fuzz_sharegpt.c, fuzz_lmsys.c and fuzz_agent.c.  The first byte of the
 * input picks settings (min_turns, max_tokens, BOS, --fields, keep_obs,
 * sessions, one file or two); the rest is the log.  A trace that comes out
 * keeps its invariants (in arrival order included), and the counts add up. */
#ifndef MARCONI_FUZZ_CONVERT_H
#define MARCONI_FUZZ_CONVERT_H

#include "fuzz_trace.h"
#include "traces/tr_convert.h"

static int fz_convert(tr_conv_fmt fmt, const uint8_t *d, size_t n) {
    static tr_tok *tok;
    if (!tok) FZ_CHECK((tok = tr_tok_builtin()) != NULL);
    if (n < 1) return 0;
    unsigned o = d[0];
    d++, n--;
    tr_conv_cfg c;
    tr_conv_defaults(fmt, &c);
    c.tok = tok;
    c.min_turns = o & 3;                      /* 0-3 rounds, not 10: most logs qualify */
    c.max_tokens = 64u << ((o >> 2) & 7);     /* 64 .. 8192 */
    c.bos = !(o & 0x20);
    c.fields = o & 0x40 ? "role,content" : NULL;
    c.keep_obs = (o >> 2) & 3;
    c.sessions = o & 0x80 ? 2 : 0;
    char *files[2];
    size_t nfiles = 1;
    if (o & 0x10 && n > 0) { /* two files: split where the next byte says */
        size_t cut = d[0] % n;
        d++, n--;
        if (cut > n) cut = n;
        files[0] = (char *)fz_file(0, d, cut);
        files[1] = (char *)fz_file(1, d + cut, n - cut);
        nfiles = 2;
    } else {
        files[0] = (char *)fz_file(0, d, n);
    }
    tr_trace t;
    tr_conv_info info;
    tr_err e;
    if (tr_convert(&c, files, nfiles, &t, &info, &e) != 0) {
        FZ_CHECK(t.req == NULL && t.n == 0);
        return 0;
    }
    fz_check_trace(&t);
    /* a conversation kept may give no request (its first turn too long): kept >= sessions */
    FZ_CHECK(info.kept > 0 && info.kept <= info.read && t.n_sessions <= info.kept);
    FZ_CHECK(!c.sessions || info.kept <= c.sessions);
    for (size_t i = 0; i < t.n; i++) FZ_CHECK(t.req[i].n_in <= c.max_tokens);
    tr_free(&t);
    return 0;
}

#endif
