/* tr_convert.c -- conversation logs to traces (see tr_convert.h).
 *
 * Input files are read whole, then split into top-level JSON values without
 * parsing them: the elements of a top-level array, the lines of a JSONL
 * file, or the one value of the file.  Each value is handed to jansson on
 * its own, so a 700 MB ShareGPT dump never becomes one giant tree, errors
 * carry the line where the value starts (plus jansson's line within it),
 * and reading stops as soon as enough sessions are kept.
 *
 * Sessions are assembled with tr_gsess (tr_gen.h), the same code the
 * generators use, so converted and generated traces follow one set of rules.
 *
 * What a conversion leaves out is counted in tr_conv_info, so the summary
 * line can say it: turns lost to the context cap or the turn cap, message
 * keys dropped (mini-swe-agent's "extra"), and how much larger the replies
 * came out than their visible role and content alone (a raw provider reply
 * kept in every message once made a trace's outputs 2-3 times too long and
 * cut a third of its turns at the 32K cap, without a word).
 */
#include "tr_convert.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "traces/tr_gen.h"

void tr_conv_defaults(tr_conv_fmt fmt, tr_conv_cfg *c) {
    memset(c, 0, sizeof *c);
    c->fmt = fmt;
    c->sps = 1.0;
    c->art = 7.5;
    c->seed = 1;
    c->min_turns = fmt == TR_CONV_AGENT ? 0 : 10;
    c->max_tokens = 32768;
    c->max_turns = fmt == TR_CONV_AGENT ? 51 : 0;
    c->keep_obs = 5;
    c->wpm = 90.0;
    c->max_non_ascii = fmt == TR_CONV_LMSYS ? 0.5 : 1.0;
    c->bos = 1;
}

int tr_conv_fmt_parse(const char *name) {
    static const char *const names[] = {"sharegpt", "lmsys", "agent"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

/* ---- splitting a file into JSON values ------------------------------------------------ */

/* End of the JSON value starting at p (strings and nesting respected, not
 * validated); NULL when it does not end.  Counts the newlines it passes. */
static const char *value_end(const char *p, const char *e, uint64_t *nl) {
    int depth = 0;
    while (p < e) {
        char c = *p;
        if (c == '"') {
            for (p++; p < e && *p != '"'; p++) {
                if (*p == '\\') p++;
                else if (*p == '\n') (*nl)++;
            }
            if (p >= e) return NULL;
            p++;
            if (!depth) return p;
            continue;
        }
        if (c == '[' || c == '{') depth++;
        else if (c == ']' || c == '}') {
            if (--depth <= 0) return depth < 0 ? p : p + 1;
        } else if (!depth && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
            return p; /* the end of a scalar */
        }
        if (c == '\n') (*nl)++;
        p++;
    }
    return depth ? NULL : p;
}

static const char *skip_ws(const char *p, const char *e, uint64_t *line) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        if (*p == '\n') (*line)++;
        p++;
    }
    return p;
}

typedef int (*value_fn)(void *ctx, json_t *v, uint64_t line);

/* Parse one value of the file, starting at `line`, and hand it to fn. */
static int one_value(const char *path, const char *p, size_t n, uint64_t line, value_fn fn, void *ctx, tr_err *err) {
    json_error_t je;
    json_t *v = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v) {
        char vis[TR_ERR_MAX / 2];
        tr_visible(je.text, vis, sizeof vis); /* what jansson quotes may be invisible */
        tr_errf(err, path, line + (je.line > 0 ? (uint64_t)je.line - 1 : 0), "invalid JSON: %s", vis);
        return -1;
    }
    int r = fn(ctx, v, line);
    json_decref(v);
    return r;
}

/* Call fn for each top-level value: elements of a top-level array, lines
 * of JSONL, or the file's single value.  fn returns 0 to go on, 1 to stop,
 * -1 on error (err set). */
static int each_value(const char *path, const char *buf, size_t n, value_fn fn, void *ctx, tr_err *err) {
    const char *e = buf + n;
    uint64_t line = 1;
    const char *p = skip_ws(buf, e, &line);
    if (p == e) {
        tr_errf(err, path, line, "the file holds no JSON");
        return -1;
    }
    uint64_t first_line = line, nl = 0;
    const char *end = value_end(p, e, &nl);
    int jsonl = 0;
    if (end && nl == 0) { /* the first value ends on its line: JSONL if more follows */
        uint64_t l2 = line;
        jsonl = skip_ws(end, e, &l2) < e;
    }
    if (jsonl) {
        const char *q = buf;
        uint64_t ln = 0;
        while (q < e) {
            const char *eol = memchr(q, '\n', (size_t)(e - q));
            const char *le = eol ? eol : e;
            ln++;
            uint64_t dummy = 0;
            if (skip_ws(q, le, &dummy) < le) {
                int r = one_value(path, q, (size_t)(le - q), ln, fn, ctx, err);
                if (r) return r < 0 ? -1 : 0;
            }
            q = eol ? eol + 1 : e;
        }
        return 0;
    }
    if (*p != '[') { /* one value: the whole file */
        if (!end) {
            tr_errf(err, path, first_line, "invalid JSON: the value starting here never ends");
            return -1;
        }
        uint64_t l2 = first_line + nl;
        const char *rest = skip_ws(end, e, &l2);
        if (rest < e) {
            tr_errf(err, path, l2, "invalid JSON: extra data after the value that starts on line %llu",
                    (unsigned long long)first_line);
            return -1;
        }
        int r = one_value(path, p, (size_t)(end - p), first_line, fn, ctx, err);
        return r < 0 ? -1 : 0;
    }
    /* a top-level array: each element on its own */
    p++;
    for (size_t k = 0;; k++) {
        p = skip_ws(p, e, &line);
        if (p < e && *p == ']' && k == 0) {
            p++;
            break;
        }
        if (p >= e) {
            tr_errf(err, path, line, "invalid JSON: the array starting on line %llu never ends",
                    (unsigned long long)first_line);
            return -1;
        }
        uint64_t el = line, enl = 0;
        const char *ee = value_end(p, e, &enl);
        if (!ee || ee == p) {
            tr_errf(err, path, el, "invalid JSON: element %zu never ends", k);
            return -1;
        }
        int r = one_value(path, p, (size_t)(ee - p), el, fn, ctx, err);
        if (r < 0) return -1;
        if (r > 0) return 0;
        line += enl;
        p = skip_ws(ee, e, &line);
        if (p < e && *p == ',') {
            p++;
            continue;
        }
        if (p < e && *p == ']') {
            p++;
            break;
        }
        tr_errf(err, path, line, "invalid JSON: expected ',' or ']' after element %zu", k);
        return -1;
    }
    p = skip_ws(p, e, &line);
    if (p < e) {
        tr_errf(err, path, line, "invalid JSON: extra data after the top-level array");
        return -1;
    }
    return 0;
}

/* ---- conversations to sessions --------------------------------------------------------- */

typedef struct ctx {
    const tr_conv_cfg *c;  /* settings */
    tr_conv_info *info;    /* counts */
    const char *path;      /* current file */
    tr_err *err;           /* where errors go */
    tr_gsess *ss;          /* sessions kept */
    size_t n_ss, cap_ss;   /* used, allocated */
    mu_buf txt;            /* a dumped message */
    tr_ids ids;            /* its tokens */
    json_t *msgs;          /* agent: messages gathered from a top-level array */
    uint64_t msgs_line;    /* where that array starts */
    int agent_msgs;        /* agent: the file's top-level array holds messages */
    int first;             /* no value of this file seen yet */
    const char *fields;    /* agent: keys kept of the current trajectory's messages (NULL all) */
    uint64_t out_tok, out_vis; /* the current turn's reply: tokens, and with role and content
                                  only; counted in info once the turn becomes a request */
} ctx;

static int cerr(ctx *x, uint64_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cerr(ctx *x, uint64_t line, const char *fmt, ...) {
    char m[TR_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    tr_errf(x->err, x->path, line, "%s", m);
    return -1;
}

static int oom(ctx *x, uint64_t line) { return cerr(x, line, "out of memory"); }

static tr_gsess *new_session(ctx *x) {
    if (x->n_ss == x->cap_ss) {
        size_t nc = x->cap_ss ? x->cap_ss * 2 : 64;
        tr_gsess *ns = realloc(x->ss, nc * sizeof *ns);
        if (!ns) return NULL;
        x->ss = ns;
        x->cap_ss = nc;
    }
    x->ss[x->n_ss] = (tr_gsess){0};
    return &x->ss[x->n_ss++];
}

static uint64_t count_words(const char *s, size_t n) {
    uint64_t w = 0;
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        int sp = s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r';
        if (!sp && !in) w++;
        in = !sp;
    }
    return w;
}

/* Count the keys of message m that fields leaves out. */
static void count_drops(tr_conv_info *in, const json_t *m, const char *fields) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)m, key, v) {
        if (tr_fields_has(fields, key)) continue;
        int k = 0;
        while (k < TR_CONV_DROPS && in->drop[k].n && strncmp(in->drop[k].name, key, sizeof in->drop[k].name - 1)) k++;
        if (k == TR_CONV_DROPS) {
            in->drop_other++;
            continue;
        }
        if (!in->drop[k].n) snprintf(in->drop[k].name, sizeof in->drop[k].name, "%s", key);
        in->drop[k].n++;
    }
}

/* Does message m keep a key besides role and content under fields? */
static int keeps_more(const json_t *m, const char *fields) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)m, key, v) {
        if (!strcmp(key, "role") || !strcmp(key, "content")) continue;
        if (!fields || tr_fields_has(fields, key)) return 1;
    }
    return 0;
}

/* Tokenise message m into session s; its offset and length go to *off, *len.
 * A reply also counts toward out_tokens and out_visible. */
static int put_message(ctx *x, tr_gsess *s, const json_t *m, const char *fields, int reply, uint32_t *off,
                       uint32_t *len, uint64_t line) {
    x->txt.len = 0;
    x->ids.n = 0;
    if (fields && json_is_object(m)) count_drops(x->info, m, fields);
    if (reply && x->c->fmt == TR_CONV_AGENT && json_is_object(m) && keeps_more(m, fields)) {
        /* what the reply would be without the keys beyond role and content */
        if (tr_py_dumps_keep(m, &x->txt, "role,content") ||
            tr_tok_encode(x->c->tok, x->txt.p ? x->txt.p : "", x->txt.len, x->c->bos, &x->ids))
            return oom(x, line);
        x->out_vis += x->ids.n;
        x->txt.len = 0;
        x->ids.n = 0;
        reply = 2; /* visible already counted */
    }
    if (tr_py_dumps_keep(m, &x->txt, fields) || tr_tok_encode(x->c->tok, x->txt.p ? x->txt.p : "", x->txt.len, x->c->bos, &x->ids))
        return oom(x, line);
    if (reply) x->out_tok += x->ids.n;
    if (reply == 1) x->out_vis += x->ids.n;
    if (x->ids.n > 0xfffffff0u - s->n_tok) return cerr(x, line, "a session longer than 2^32 tokens");
    *off = s->n_tok;
    *len = (uint32_t)x->ids.n;
    int32_t *d = tr_gsess_grow(s, (uint32_t)x->ids.n);
    if (!d) return oom(x, line);
    memcpy(d, x->ids.v, x->ids.n * 4);
    x->info->messages++;
    x->info->tokens += x->ids.n;
    x->info->words += count_words(x->txt.p, x->txt.len);
    return 0;
}

static int enough(const ctx *x) { return x->c->sessions && x->n_ss >= x->c->sessions; }

/* A turn became a request: its reply counts; start the next. */
static void count_reply(ctx *x, int kept) {
    if (kept) {
        x->info->out_tokens += x->out_tok;
        x->info->out_visible += x->out_vis;
    }
    x->out_tok = x->out_vis = 0;
}

/* One ShareGPT or LMSys conversation. */
static int chat_value(void *vx, json_t *v, uint64_t line) {
    ctx *x = vx;
    const tr_conv_cfg *c = x->c;
    int sg = c->fmt == TR_CONV_SHAREGPT;
    const char *key = sg ? "conversations" : "conversation", *ckey = sg ? "value" : "content";
    uint64_t idx = x->info->read++;
    json_t *msgs = json_is_object(v) ? json_object_get(v, key) : NULL;
    if (!json_is_object(v)) return cerr(x, line, "conversation %llu is not a JSON object", (unsigned long long)idx);
    if (!json_is_array(msgs))
        return cerr(x, line, "conversation %llu has no \"%s\" array", (unsigned long long)idx, key);
    size_t nm = json_array_size(msgs);
    uint64_t nonascii = 0, chars = 0;
    for (size_t i = 0; i < nm; i++) {
        json_t *m = json_array_get(msgs, i);
        json_t *t = json_is_object(m) ? json_object_get(m, ckey) : NULL;
        if (!json_is_string(t))
            return cerr(x, line, "conversation %llu: %s[%zu] has no \"%s\" string", (unsigned long long)idx, key, i, ckey);
        /* characters, as Python counts them: UTF-8 lead bytes */
        const char *s = json_string_value(t);
        for (size_t k = 0, n = json_string_length(t); k < n; k++) {
            unsigned char ch = (unsigned char)s[k];
            if ((ch & 0xc0) != 0x80) chars++;
            if (ch >= 0xc0) nonascii++;
        }
        chars += 30; /* the ASCII str() puts around each message: {'content': '...', 'role': 'user'} */
    }
    if (nm / 2 < c->min_turns) {
        x->info->short_++;
        return 0;
    }
    if (c->fmt == TR_CONV_LMSYS && chars && (double)nonascii / (double)chars > c->max_non_ascii) {
        x->info->non_ascii++;
        return 0;
    }
    size_t k = x->n_ss;
    tr_gsess *s = new_session(x);
    if (!s) return oom(x, line);
    x->info->kept++;
    x->info->turns += nm / 2;
    double ts = (double)k / c->sps, wps = c->wpm / 60.0;
    uint64_t hist = 0;
    for (size_t t = 0; t < nm / 2; t++) {
        if (c->max_turns && t >= c->max_turns) {
            x->info->cut_turns += nm / 2 - t;
            break;
        }
        uint32_t uo, ul, ao, al;
        json_t *um = json_array_get(msgs, 2 * t), *am = json_array_get(msgs, 2 * t + 1);
        if (put_message(x, s, um, NULL, 0, &uo, &ul, line) || put_message(x, s, am, NULL, 1, &ao, &al, line)) return -1;
        /* LMSys stops once history + input + output would pass the cap,
         * ShareGPT once history + input would */
        if (hist + ul + (sg ? 0 : al) > c->max_tokens) {
            x->info->cut_tokens += nm / 2 - t;
            count_reply(x, 0);
            break;
        }
        count_reply(x, 1);
        if (t > 0) {
            json_t *u = json_object_get(um, ckey);
            const char *str = json_string_value(u);
            double words = 0;
            for (size_t q = 0, n = json_string_length(u); q < n; q++) words += str[q] == ' ';
            ts += words / wps;
        }
        if (tr_gsess_turn(s, uo, ul, ao, al, (uint32_t)(hist + ul), ts)) return oom(x, line);
        hist += (uint64_t)ul + al;
    }
    return enough(x) ? 1 : 0;
}

static int is_assistant(const json_t *m) {
    const char *r = json_string_value(json_object_get(m, "role"));
    return r && !strcmp(r, "assistant");
}

/* One agent trajectory: an array of {"role", "content"} messages. */
static int agent_traj(ctx *x, json_t *msgs, uint64_t line) {
    const tr_conv_cfg *c = x->c;
    uint64_t idx = x->info->read++;
    size_t nm = json_array_size(msgs);
    for (size_t i = 0; i < nm; i++) {
        json_t *m = json_array_get(msgs, i);
        if (!json_is_object(m) || !json_is_string(json_object_get(m, "role")))
            return cerr(x, line, "trajectory %llu: message %zu is not an object with a \"role\" string",
                        (unsigned long long)idx, i);
    }
    /* turns: the messages up to and including the next assistant message(s) */
    size_t i = 0, nturns = 0;
    while (i < nm && is_assistant(json_array_get(msgs, i))) i++; /* a leading reply has no prompt: dropped */
    size_t start = i;
    for (size_t j = start; j < nm;) {
        while (j < nm && !is_assistant(json_array_get(msgs, j))) j++;
        if (j >= nm) break;
        while (j < nm && is_assistant(json_array_get(msgs, j))) j++;
        nturns++;
    }
    if (nturns < c->min_turns) {
        x->info->short_++;
        return 0;
    }
    size_t k = x->n_ss;
    tr_gsess *s = new_session(x);
    if (!s) return oom(x, line);
    x->info->kept++;
    x->info->turns += nturns;
    tr_rng rg;
    tr_rng_seed(&rg, c->seed, 0x6167656e74ULL /* "agent" */, k);
    double ts = (double)k / c->sps;
    uint64_t hist = 0;
    i = start;
    for (uint32_t t = 0; i < nm; t++) {
        uint32_t obs_off = s->n_tok, out_off, o, l;
        size_t j = i;
        while (j < nm && !is_assistant(json_array_get(msgs, j))) j++;
        if (j >= nm) break; /* a last observation without a reply */
        for (; i < j; i++) /* the turn's input: every message since the last reply */
            if (put_message(x, s, json_array_get(msgs, i), x->fields, 0, &o, &l, line)) return -1;
        uint32_t obs_len = s->n_tok - obs_off;
        out_off = s->n_tok;
        for (; i < nm && is_assistant(json_array_get(msgs, i)); i++) /* replies in a row make one output */
            if (put_message(x, s, json_array_get(msgs, i), x->fields, 1, &o, &l, line)) return -1;
        uint32_t out_len = s->n_tok - out_off;
        if (t > 0) ts += (double)tr_rng_poisson(&rg, c->art);
        /* the session stops here: say why, for the turns it loses */
        count_reply(x, !(c->max_turns && t >= c->max_turns) && hist + obs_len <= c->max_tokens && obs_len);
        if (c->max_turns && t >= c->max_turns) {
            x->info->cut_turns += nturns - t;
            break;
        }
        if (hist + obs_len > c->max_tokens) {
            x->info->cut_tokens += nturns - t;
            break;
        }
        if (obs_len == 0) {
            x->info->cut_empty += nturns - t;
            break;
        }
        if (tr_gsess_turn(s, obs_off, obs_len, out_off, out_len, (uint32_t)(hist + obs_len), ts)) return oom(x, line);
        hist = tr_gsess_next_hist(s, hist, c->keep_obs);
    }
    return enough(x) ? 1 : 0;
}

/* Is this trajectory mini-swe-agent's?  Its "trajectory_format" says so
 * ("mini-swe-agent-1"), or its messages carry mini-swe-agent's "extra". */
static int is_mswea(const json_t *traj, const json_t *msgs) {
    const char *f = json_string_value(json_object_get(traj, "trajectory_format"));
    if (f && !strncmp(f, "mini-swe-agent", 14)) return 1;
    for (size_t i = 0; i < json_array_size(msgs); i++)
        if (json_object_get(json_array_get(msgs, i), "extra")) return 1;
    return 0;
}

/* The keys kept of a trajectory's messages: --fields, else role and
 * content for mini-swe-agent, else all (the artifact). */
static const char *traj_fields(ctx *x, const json_t *traj, const json_t *msgs) {
    if (x->c->all_fields) return NULL;
    if (x->c->fields) return x->c->fields;
    if (json_is_array(msgs) && is_mswea(traj, msgs)) {
        x->info->mswea++;
        return "role,content";
    }
    return NULL;
}

static int agent_value(void *vx, json_t *v, uint64_t line) {
    ctx *x = vx;
    if (x->first) {
        x->first = 0;
        /* a file whose top-level array holds messages is one trajectory */
        x->agent_msgs = json_is_object(v) && json_object_get(v, "role");
        if (x->agent_msgs) {
            x->msgs = json_array();
            x->msgs_line = line;
            if (!x->msgs) return oom(x, line);
        }
    }
    if (x->agent_msgs) {
        if (!json_is_object(v) || !json_is_string(json_object_get(v, "role")))
            return cerr(x, line, "message %zu is not an object with a \"role\" string", json_array_size(x->msgs));
        return json_array_append(x->msgs, v) ? oom(x, line) : 0;
    }
    json_t *msgs = v;
    if (json_is_object(v)) {
        msgs = json_object_get(v, "messages");
        if (!msgs) msgs = json_object_get(v, "history");
    }
    if (!json_is_array(msgs))
        return cerr(x, line,
                    "an agent trajectory is a list of {\"role\", \"content\"} messages, or an object with a "
                    "\"messages\" or \"history\" list");
    x->fields = traj_fields(x, json_is_object(v) ? v : NULL, msgs);
    return agent_traj(x, msgs, line);
}

int tr_convert(const tr_conv_cfg *c, char *const *files, size_t nfiles, tr_trace *out, tr_conv_info *info,
               tr_err *err) {
    memset(out, 0, sizeof *out);
    tr_conv_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    ctx x = {c, info, NULL, err, NULL, 0, 0, {0}, {0}, NULL, 0, 0, 0, NULL, 0, 0};
    int rc = -1;
    char *buf = NULL;
    /* a folder of trajectories: its *.traj.json files, in sorted order */
    char **list = NULL;
    size_t nlist = 0;
    if (c->fmt == TR_CONV_AGENT) {
        if (tr_conv_expand(files, nfiles, ".traj.json", &list, &nlist, err)) return -1;
        files = list;
        nfiles = nlist;
    }
    for (size_t f = 0; f < nfiles && !enough(&x); f++) {
        info->files++;
        x.path = files[f];
        FILE *fp = fopen(files[f], "rb");
        if (!fp) {
            tr_errf(err, files[f], 0, "cannot open: %s", strerror(errno));
            goto out;
        }
        if (tr_check_fd(fileno(fp), files[f], "a conversation log", err)) {
            fclose(fp);
            goto out;
        }
        size_t len = 0, cap = 0;
        for (;;) {
            if (len == cap) {
                size_t nc = cap ? cap * 2 : 1 << 16;
                char *nb = realloc(buf, nc);
                if (!nb) {
                    fclose(fp);
                    tr_errf(err, files[f], 0, "out of memory reading the file");
                    goto out;
                }
                buf = nb;
                cap = nc;
            }
            size_t k = fread(buf + len, 1, cap - len, fp);
            len += k;
            if (k == 0) break;
        }
        int rd = ferror(fp), en = errno;
        fclose(fp);
        if (rd) {
            tr_errf(err, files[f], 0, "cannot read: %s", strerror(en));
            goto out;
        }
        if (tr_has_bom(buf, len)) {
            tr_errf(err, files[f], 1, "%s", TR_BOM_MSG);
            goto out;
        }
        x.first = 1;
        x.agent_msgs = 0;
        if (each_value(files[f], buf, len, c->fmt == TR_CONV_AGENT ? agent_value : chat_value, &x, err)) goto out;
        if (x.msgs) {
            x.fields = traj_fields(&x, NULL, x.msgs);
            int r = agent_traj(&x, x.msgs, x.msgs_line);
            json_decref(x.msgs);
            x.msgs = NULL;
            if (r < 0) goto out;
        }
    }
    if (x.n_ss == 0) {
        tr_errf(err, nfiles ? files[nfiles - 1] : "-", 0,
                "no conversation qualifies (%llu read, %llu with fewer than %u rounds, %llu mostly non-ASCII)",
                (unsigned long long)info->read, (unsigned long long)info->short_, c->min_turns,
                (unsigned long long)info->non_ascii);
        goto out;
    }
    tr_err e2;
    if (tr_gsess_build(x.ss, x.n_ss, c->fmt == TR_CONV_AGENT ? c->keep_obs : 0, out, &e2)) {
        tr_errf(err, files[nfiles - 1], 0, "%s (no turn fits in %u tokens?)", e2.msg, c->max_tokens);
        goto out;
    }
    rc = 0;
out:
    json_decref(x.msgs);
    tr_gsess_free(x.ss, x.n_ss);
    free(x.ss);
    free(x.txt.p);
    free(x.ids.v);
    free(buf);
    tr_conv_expand_free(list, nlist);
    return rc;
}
