/* fl.c -- FLOP and byte model of a hybrid LLM; presets and JSON configs.
 * See fl.h for the formulas and their provenance. */
#include "fl.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const fl_preset_names[] = {"hybrid-7b", "tiny", "tiny-gqa", NULL};

void fl_default_pattern(fl_model *m) {
    /* Spread the attention layers evenly among the mixers (as the NVIDIA
     * 8B hybrid does), and follow each mixer with an MLP while MLPs last;
     * MLPs beyond the mixer count go at the end. */
    int mixers = m->n_attn + m->n_ssm, pos = 0, attn_done = 0, mlp_left = m->n_mlp;
    for (int i = 0; i < mixers && pos < FL_PATTERN_MAX - 2; i++) {
        /* attention mixer k goes at the end of the k-th of n_attn equal
         * stretches: i == floor((k+1) * mixers / n_attn) - 1 */
        int is_attn = 0;
        if (attn_done < m->n_attn) {
            int64_t slot = (int64_t)(attn_done + 1) * mixers / m->n_attn - 1;
            if (i == slot) is_attn = 1;
        }
        m->pattern[pos++] = is_attn ? FL_LAYER_ATTN : FL_LAYER_SSM;
        attn_done += is_attn;
        if (mlp_left > 0) {
            m->pattern[pos++] = FL_LAYER_MLP;
            mlp_left--;
        }
    }
    while (mlp_left-- > 0 && pos < FL_PATTERN_MAX - 1) m->pattern[pos++] = FL_LAYER_MLP;
    m->pattern[pos] = '\0';
}

static void set_hybrid_7b(fl_model *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "hybrid-7b");
    m->n_attn = 4;
    m->n_ssm = 24;
    m->n_mlp = 28;
    m->d = 4096;
    m->n = 128;
    m->expand = 2;
    m->conv_kernel = 4;
    m->headdim = 64;
    m->ngroups = 1;
    m->n_heads = 32;
    m->n_kv_heads = 32;
    m->d_ff = 4 * 4096;
    m->vocab = 32000;
    m->bytes_per_elem = 2;
    fl_default_pattern(m);
}

int fl_preset(const char *name, fl_model *m) {
    set_hybrid_7b(m);
    if (strcmp(name, "hybrid-7b") == 0) return 0;
    if (strcmp(name, "tiny") == 0 || strcmp(name, "tiny-gqa") == 0) {
        snprintf(m->name, sizeof m->name, "%s", name);
        m->n_attn = 1;
        m->n_ssm = 2;
        m->n_mlp = 3;
        m->d = 64;
        m->n = 16;
        m->headdim = 16;
        m->n_heads = 4;
        m->n_kv_heads = strcmp(name, "tiny-gqa") == 0 ? 2 : 4;
        m->d_ff = 4 * 64;
        m->vocab = 256;
        fl_default_pattern(m);
        return 0;
    }
    return -1;
}

int fl_validate(const fl_model *m, char *err, size_t errlen) {
    int na = 0, ns = 0, nm = 0;
    for (const char *p = m->pattern; *p; p++) {
        if (*p == FL_LAYER_ATTN) na++;
        else if (*p == FL_LAYER_SSM) ns++;
        else if (*p == FL_LAYER_MLP) nm++;
        else {
            snprintf(err, errlen, "pattern has '%c'; layers are 'A' (attention), 'M' (SSM), '-' (MLP)", *p);
            return -1;
        }
    }
#define REQ(cond, ...)                              \
    do {                                            \
        if (!(cond)) {                              \
            snprintf(err, errlen, __VA_ARGS__);     \
            return -1;                              \
        }                                           \
    } while (0)
    REQ(m->n_attn >= 0 && m->n_ssm >= 0 && m->n_mlp >= 0, "layer counts must be >= 0");
    REQ(m->n_attn + m->n_ssm + m->n_mlp > 0, "the model has no layers");
    REQ(na == m->n_attn && ns == m->n_ssm && nm == m->n_mlp,
        "pattern has %d attention, %d SSM, %d MLP layers; the counts say %d, %d, %d", na, ns, nm,
        m->n_attn, m->n_ssm, m->n_mlp);
    REQ(m->d > 0 && m->d <= (1 << 20), "d must be in [1, 2^20]");
    REQ(m->n > 0 && m->n <= (1 << 16), "n must be in [1, 2^16]");
    REQ(m->expand > 0 && m->expand <= 16, "expand must be in [1, 16]");
    REQ(m->conv_kernel > 0 && m->conv_kernel <= 16, "conv_kernel must be in [1, 16]");
    REQ(m->bytes_per_elem > 0 && m->bytes_per_elem <= 8, "bytes_per_elem must be in [1, 8]");
    REQ(m->headdim > 0 && (m->expand * m->d) % m->headdim == 0, "headdim must divide expand*d");
    REQ(m->ngroups > 0, "ngroups must be > 0");
    REQ(m->n_heads > 0 && m->d % m->n_heads == 0, "n_heads must divide d");
    REQ(m->n_kv_heads > 0 && m->n_heads % m->n_kv_heads == 0, "n_kv_heads must divide n_heads");
    REQ(m->d_ff > 0, "d_ff must be > 0");
    REQ(m->vocab > 0, "vocab must be > 0");
#undef REQ
    return 0;
}

/* The line of the file where key is a key of the top-level object (its
 * first occurrence), or 1 when it cannot be told (an escape in the key). */
static int key_line(const char *t, size_t n, const char *key) {
    int line = 1, depth = 0;
    size_t kl = strlen(key);
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c == '\n') line++;
        else if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') depth--;
        else if (c == '"') {
            size_t s = ++i;
            while (i < n && t[i] != '"') {
                if (t[i] == '\\') i++;
                else if (t[i] == '\n') line++;
                i++;
            }
            if (depth != 1 || i >= n || i - s != kl || memcmp(t + s, key, kl)) continue;
            size_t j = i + 1;
            while (j < n && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r' || t[j] == '\n')) j++;
            if (j < n && t[j] == ':') return line;
        }
    }
    return 1;
}

/* Read one integer field of the JSON config, if present. */
static int get_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out, const char *path,
                   const char *text, size_t tlen, char *err, size_t errlen) {
    json_t *v = json_object_get(o, key);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(err, errlen, "%s:%d: \"%s\" must be an integer in [%lld, %lld]", path, key_line(text, tlen, key), key,
                 (long long)lo, (long long)hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 1;
}

/* The fields of a model file, in fl_model's order. */
static const char *const model_fields[] = {"base", "name", "n_attn", "n_ssm", "n_mlp", "d", "n", "expand",
                                           "conv_kernel", "headdim", "ngroups", "n_heads", "n_kv_heads", "d_ff",
                                           "vocab", "bytes_per_elem", "pattern", NULL};

#define FL_FILE_MAX (16 << 20) /* a model file is a few hundred bytes */

/* The file whole into *text (NUL-terminated); 0, or -1 with err set. */
static int read_model_file(const char *path, char **text, size_t *len, char *err, size_t errlen) {
    *text = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s:0: is a directory, not a model file", path);
        close(fd);
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    for (;;) {
        if (!b) {
            snprintf(err, errlen, "%s:0: out of memory", path);
            close(fd);
            return -1;
        }
        ssize_t k = read(fd, b + n, cap - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            snprintf(err, errlen, "%s:0: cannot read: %s", path, strerror(errno));
            free(b);
            close(fd);
            return -1;
        }
        if (k == 0) break;
        n += (size_t)k;
        if (n > FL_FILE_MAX) {
            snprintf(err, errlen, "%s:0: more than %d MB: not a model file", path, FL_FILE_MAX >> 20);
            free(b);
            close(fd);
            return -1;
        }
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(b, cap + 1);
            if (!nb) free(b);
            b = nb;
        }
    }
    close(fd);
    b[n] = '\0';
    *text = b;
    *len = n;
    return 0;
}

int fl_load_json(const char *path, fl_model *m, char *err, size_t errlen) {
    char *text;
    size_t tlen;
    if (read_model_file(path, &text, &tlen, err, errlen)) return -1;
    if (tlen >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
        snprintf(err, errlen, "%s:1: a UTF-8 byte-order mark (bytes EF BB BF) starts the file: save it without one",
                 path);
        free(text);
        return -1;
    }
    json_error_t je;
    json_t *o = json_loadb(text, tlen, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        if (tlen == 0 || text[strspn(text, " \t\r\n")] == '\0')
            snprintf(err, errlen, "%s:%d: the file is empty; a model file is a JSON object", path, je.line > 0 ? je.line : 1);
        else if (je.line < 1) snprintf(err, errlen, "%s:0: %s", path, je.text);
        else snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
        free(text);
        return -1;
    }
    int rc = -1;
#define KL(key) key_line(text, tlen, key)
    if (!json_is_object(o)) {
        snprintf(err, errlen, "%s:1: a model file is a JSON object", path);
        goto out;
    }
    const char *base = "hybrid-7b";
    json_t *b = json_object_get(o, "base");
    if (b) {
        if (!json_is_string(b) || fl_preset(json_string_value(b), m) != 0) {
            snprintf(err, errlen, "%s:%d: \"base\" must name a preset (hybrid-7b, tiny, tiny-gqa)", path, KL("base"));
            goto out;
        }
        base = json_string_value(b);
    }
    fl_preset(base, m);
    const char *slash = strrchr(path, '/');
    snprintf(m->name, sizeof m->name, "%s", slash ? slash + 1 : path);
    const char *key;
    json_t *val;
    int shape = 0; /* fields besides base and name */
    json_object_foreach(o, key, val) {
        int ok = 0;
        for (int i = 0; model_fields[i]; i++) ok |= strcmp(model_fields[i], key) == 0;
        if (!ok) {
            snprintf(err, errlen, "%s:%d: unknown field \"%s\"", path, KL(key), key);
            goto out;
        }
        shape += strcmp(key, "base") && strcmp(key, "name");
    }
    /* a file that names no shape is a preset under another name: say which */
    if (!shape && !b) {
        snprintf(err, errlen,
                 "%s:1: no model field%s: give the shape (n_attn, n_ssm, n_mlp or pattern, d, n, ...), or "
                 "\"base\": \"hybrid-7b\" to rename that preset",
                 path, json_object_get(o, "name") ? " (the file sets only \"name\")" : " (the object is empty)");
        goto out;
    }
    json_t *nm = json_object_get(o, "name");
    if (nm) {
        if (!json_is_string(nm)) {
            snprintf(err, errlen, "%s:%d: \"name\" must be a string", path, KL("name"));
            goto out;
        }
        snprintf(m->name, sizeof m->name, "%s", json_string_value(nm));
    }
    int64_t v;
    int counts = 0, r;
#define INTF(field, lo, hi, is_count)                                                              \
    do {                                                                                           \
        if ((r = get_int(o, #field, lo, hi, &v, path, text, tlen, err, errlen)) < 0) goto out;     \
        if (r) {                                                                                   \
            m->field = v;                                                                          \
            counts |= is_count;                                                                    \
        }                                                                                          \
    } while (0)
    INTF(n_attn, 0, 4096, 1);
    INTF(n_ssm, 0, 4096, 1);
    INTF(n_mlp, 0, 4096, 1);
    INTF(d, 1, 1 << 20, 0);
    INTF(n, 1, 1 << 16, 0);
    INTF(expand, 1, 16, 0);
    INTF(conv_kernel, 1, 16, 0);
    INTF(headdim, 1, 1 << 16, 0);
    INTF(ngroups, 1, 1 << 16, 0);
    INTF(n_heads, 1, 1 << 16, 0);
    INTF(n_kv_heads, 1, 1 << 16, 0);
    INTF(d_ff, 1, 1 << 24, 0);
    INTF(vocab, 1, 1 << 24, 0);
    INTF(bytes_per_elem, 1, 8, 0);
#undef INTF
    if (!json_object_get(o, "d_ff") && json_object_get(o, "d")) m->d_ff = 4 * m->d;
    if (!json_object_get(o, "n_heads") && json_object_get(o, "d")) {
        m->n_heads = m->d % 128 == 0 ? (int)(m->d / 128) : 1;
        if (!json_object_get(o, "n_kv_heads")) m->n_kv_heads = m->n_heads;
    }
    json_t *p = json_object_get(o, "pattern");
    if (p) {
        if (!json_is_string(p) || strlen(json_string_value(p)) >= FL_PATTERN_MAX) {
            snprintf(err, errlen, "%s:%d: \"pattern\" must be a string of at most %d layers", path, KL("pattern"),
                     FL_PATTERN_MAX - 1);
            goto out;
        }
        snprintf(m->pattern, sizeof m->pattern, "%s", json_string_value(p));
        if (!counts) { /* counts follow the pattern when not given */
            m->n_attn = m->n_ssm = m->n_mlp = 0;
            for (const char *c = m->pattern; *c; c++) {
                m->n_attn += *c == FL_LAYER_ATTN;
                m->n_ssm += *c == FL_LAYER_SSM;
                m->n_mlp += *c == FL_LAYER_MLP;
            }
        }
    } else if (counts) {
        if (m->n_attn + m->n_ssm + m->n_mlp >= FL_PATTERN_MAX) {
            snprintf(err, errlen, "%s:1: at most %d layers", path, FL_PATTERN_MAX - 1);
            goto out;
        }
        fl_default_pattern(m);
    }
    char verr[256];
    if (fl_validate(m, verr, sizeof verr) != 0) {
        snprintf(err, errlen, "%s:1: %s", path, verr);
        goto out;
    }
#undef KL
    rc = 0;
out:
    json_decref(o);
    free(text);
    return rc;
}

fl_i128 fl_attn_flops(int64_t l, int64_t d) {
    fl_i128 L = l, D = d;
    return 8 * L * D * D + 4 * L * L * D;
}

fl_i128 fl_mlp_flops(int64_t l, int64_t d) {
    fl_i128 L = l, D = d;
    return 16 * L * D * D;
}

fl_i128 fl_ssm_flops(int64_t l, int64_t d, int64_t n) {
    fl_i128 L = l, D = d, N = n;
    return 12 * L * D * D + 16 * L * D * N + 10 * L * D;
}

fl_flops fl_prefix_flops(const fl_model *m, int64_t l) {
    fl_flops f;
    f.attn = (fl_i128)m->n_attn * fl_attn_flops(l, m->d);
    f.mlp = (fl_i128)m->n_mlp * fl_mlp_flops(l, m->d);
    f.ssm = (fl_i128)m->n_ssm * fl_ssm_flops(l, m->d, m->n);
    return f;
}

fl_i128 fl_total(fl_flops f) { return f.attn + f.mlp + f.ssm; }

fl_flops fl_saved_flops(const fl_model *m, int64_t cached) { return fl_prefix_flops(m, cached); }

fl_flops fl_extend_flops(const fl_model *m, int64_t l_cached, int64_t l_new) {
    fl_flops a = fl_prefix_flops(m, l_cached + l_new), b = fl_prefix_flops(m, l_cached);
    fl_flops f = {a.attn - b.attn, a.mlp - b.mlp, a.ssm - b.ssm};
    return f;
}

int64_t fl_kv_bytes_per_token(const fl_model *m) {
    return (int64_t)m->n_attn * 2 * m->d * m->bytes_per_elem;
}

int64_t fl_ssm_layer_bytes(const fl_model *m) {
    return m->d * m->n * m->bytes_per_elem +
           ((int64_t)m->expand * m->d + 2 * m->n) * m->conv_kernel * m->bytes_per_elem;
}

int64_t fl_ssm_state_bytes(const fl_model *m) { return (int64_t)m->n_ssm * fl_ssm_layer_bytes(m); }

int64_t fl_real_ssm_layer_bytes(const fl_model *m) {
    int64_t d_inner = (int64_t)m->expand * m->d;
    int64_t ssm = d_inner * m->n;                                           /* heads x headdim x N */
    int64_t conv = (d_inner + 2 * (int64_t)m->ngroups * m->n) * (m->conv_kernel - 1);
    return (ssm + conv) * m->bytes_per_elem;
}

int64_t fl_real_kv_layer_bytes_per_token(const fl_model *m) {
    int64_t head_dim = m->d / m->n_heads;
    return 2 * (int64_t)m->n_kv_heads * head_dim * m->bytes_per_elem;
}

double fl_efficiency(const fl_model *m, int64_t l) {
    fl_i128 bytes = (fl_i128)fl_ssm_state_bytes(m) + (fl_i128)fl_kv_bytes_per_token(m) * l;
    return fl_div(fl_total(fl_prefix_flops(m, l)), bytes);
}

static int bitlen(unsigned __int128 x) {
    int n = 0;
    uint64_t hi = (uint64_t)(x >> 64);
    if (hi) return 64 + 64 - __builtin_clzll(hi);
    uint64_t lo = (uint64_t)x;
    if (lo) n = 64 - __builtin_clzll(lo);
    return n;
}

double fl_div(fl_i128 a, fl_i128 b) {
    if (b == 0) return a == 0 ? NAN : (a > 0 ? INFINITY : -INFINITY);
    int neg = (a < 0) != (b < 0);
    unsigned __int128 ua = a < 0 ? (unsigned __int128)(-a) : (unsigned __int128)a;
    unsigned __int128 ub = b < 0 ? (unsigned __int128)(-b) : (unsigned __int128)b;
    if (ua == 0) return 0.0;
    const unsigned __int128 exact = (unsigned __int128)1 << 53;
    if (ua <= exact && ub <= exact) { /* both exact in double: one rounding */
        double r = (double)(uint64_t)ua / (double)(uint64_t)ub;
        return neg ? -r : r;
    }
    /* Scale so the quotient has 55 or 56 bits, divide exactly, fold the
     * remainder into a sticky bit, and let the one conversion to double
     * round to nearest even, as CPython's long true division does. */
    int s = 55 - (bitlen(ua) - bitlen(ub));
    unsigned __int128 q, r;
    if (s >= 0) {
        if (bitlen(ua) + s > 127) { /* beyond 128 bits: long double is close enough */
            long double x = (long double)ua / (long double)ub;
            return neg ? -(double)x : (double)x;
        }
        unsigned __int128 sa = ua << s;
        q = sa / ub;
        r = sa % ub;
    } else {
        if (bitlen(ub) - s > 127) {
            long double x = (long double)ua / (long double)ub;
            return neg ? -(double)x : (double)x;
        }
        unsigned __int128 sb = ub << (-s);
        q = ua / sb;
        r = ua % sb;
    }
    uint64_t q64 = (uint64_t)q | (r != 0);
    double res = ldexp((double)q64, -s);
    return neg ? -res : res;
}

char *fl_i128_str(fl_i128 v, char *buf) {
    char tmp[48];
    int i = 0, neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-v) : (unsigned __int128)v;
    do {
        tmp[i++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    int j = 0;
    if (neg) buf[j++] = '-';
    while (i) buf[j++] = tmp[--i];
    buf[j] = '\0';
    return buf;
}
