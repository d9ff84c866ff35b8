/* tr_tok.c -- the built-in splitter and llama2.c's BPE (see tr_tok.h).
 *
 * BPE merging keeps the symbols in a doubly linked list and every adjacent
 * pair that could merge in a max-heap ordered by (score, leftmost).  A merge
 * bumps the left symbol's version and kills the right one, so heap entries
 * for pairs that no longer exist are recognised and skipped when popped:
 *
 *   symbols:  [ ][h][e][l][l][o]     heap: (he 3.1) (ll 2.9) (lo 1.0) ...
 *   pop he:   [ ][he]  [l][l][o]     push ( he+l ?), ( _+he ?)
 */
#include "tr_tok.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_BUILTIN = 0, KIND_LLAMA2 = 1 };
#define BUILTIN_VOCAB 32000u
#define BUILTIN_PIECE 10 /* longest piece of a word, bytes (plus its leading space) */

typedef struct vent {
    const char *s; /* bytes (up to the first NUL, as llama2.c compares them) */
    uint32_t len;  /* their count */
    float score;   /* merge priority */
} vent;

struct tr_tok {
    int kind;        /* KIND_* */
    uint32_t vocab;  /* tokens */
    vent *v;         /* per token (llama2c) */
    char *blob;      /* the file's bytes, which v[].s point into */
    int32_t *map;    /* string -> lowest ID, open addressing, -1 empty */
    uint64_t map_cap;/* slots, a power of two */
    uint32_t maxlen; /* longest token string */
};

int tr_ids_push(tr_ids *a, int32_t id) {
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 256;
        int32_t *nv = realloc(a->v, nc * sizeof *nv);
        if (!nv) return -1;
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n++] = id;
    return 0;
}

static uint64_t fnv(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
#define FNV0 0xcbf29ce484222325ULL

tr_tok *tr_tok_builtin(void) {
    tr_tok *t = calloc(1, sizeof *t);
    if (t) {
        t->kind = KIND_BUILTIN;
        t->vocab = BUILTIN_VOCAB;
    }
    return t;
}

void tr_tok_free(tr_tok *t) {
    if (!t) return;
    free(t->v);
    free(t->blob);
    free(t->map);
    free(t);
}

const char *tr_tok_kind(const tr_tok *t) { return t->kind == KIND_BUILTIN ? "builtin" : "llama2c"; }
uint32_t tr_tok_vocab(const tr_tok *t) { return t->vocab; }

/* ---- the built-in splitter ---------------------------------------------------------- */

static int is_word(unsigned char c) { return (unsigned)((c | 0x20) - 'a') < 26u || c >= 0x80; }
static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static int piece(const char *s, size_t n, tr_ids *out) {
    uint64_t h = fnv(FNV0, s, n);
    h ^= h >> 29; /* FNV's low bits are weak: fold the high ones in */
    return tr_ids_push(out, (int32_t)(3 + h % (BUILTIN_VOCAB - 3)));
}

static int encode_builtin(const char *s, size_t n, tr_ids *out) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (is_word(c) || (c == ' ' && i + 1 < n && is_word((unsigned char)s[i + 1]))) {
            size_t start = i, w = i + (c == ' ');
            size_t end = w;
            while (end < n && is_word((unsigned char)s[end])) end++;
            /* first piece keeps the space; then pieces of BUILTIN_PIECE bytes */
            size_t cut = w + BUILTIN_PIECE < end ? w + BUILTIN_PIECE : end;
            if (piece(s + start, cut - start, out)) return -1;
            for (size_t p = cut; p < end; p += BUILTIN_PIECE)
                if (piece(s + p, end - p < BUILTIN_PIECE ? end - p : BUILTIN_PIECE, out)) return -1;
            i = end;
        } else if (is_space(c)) {
            size_t j = i;
            while (j < n && is_space((unsigned char)s[j])) j++;
            /* a space just before a word goes with the word */
            if (j < n && is_word((unsigned char)s[j]) && s[j - 1] == ' ' && j - 1 > i) j--;
            if (piece(s + i, j - i, out)) return -1;
            i = j;
        } else {
            if (piece(s + i, 1, out)) return -1; /* a digit, punctuation, a symbol */
            i++;
        }
    }
    return 0;
}

/* ---- llama2.c tokenizer.bin ----------------------------------------------------------- */

static int32_t lookup(const tr_tok *t, const char *a, uint32_t na, const char *b, uint32_t nb) {
    uint64_t h = fnv(fnv(FNV0, a, na), b, nb), m = t->map_cap - 1;
    for (uint64_t k = h & m;; k = (k + 1) & m) {
        int32_t id = t->map[k];
        if (id < 0) return -1;
        const vent *e = &t->v[id];
        if (e->len == na + nb && memcmp(e->s, a, na) == 0 && memcmp(e->s + na, b, nb) == 0) return id;
    }
}

int tr_tok_load_llama2(const char *path, tr_tok **out, tr_err *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        tr_errf(err, path, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (tr_check_fd(fileno(f), path, "a tokenizer", err)) {
        fclose(f);
        return -1;
    }
    char *blob = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 1 << 16;
            char *nb = realloc(blob, nc);
            if (!nb) {
                fclose(f);
                free(blob);
                tr_errf(err, path, 0, "out of memory");
                return -1;
            }
            blob = nb;
            cap = nc;
        }
        size_t k = fread(blob + len, 1, cap - len, f);
        len += k;
        if (k == 0) break;
    }
    int rd = ferror(f), en = errno;
    fclose(f);
    if (rd) {
        free(blob);
        tr_errf(err, path, 0, "cannot read: %s", strerror(en));
        return -1;
    }
    tr_tok *t = calloc(1, sizeof *t);
    if (!t) {
        free(blob);
        tr_errf(err, path, 0, "out of memory");
        return -1;
    }
    t->kind = KIND_LLAMA2;
    t->blob = blob;
    int32_t maxlen;
    if (len < 4) {
        tr_errf(err, path, 0, "not a llama2.c tokenizer: %zu bytes, shorter than its header", len);
        goto bad;
    }
    memcpy(&maxlen, blob, 4);
    if (maxlen <= 0 || maxlen > (1 << 20)) {
        tr_errf(err, path, 0, "not a llama2.c tokenizer: max_token_length is %d", maxlen);
        goto bad;
    }
    /* count, then index the tokens */
    size_t vcap = 0;
    for (size_t pos = 4; pos < len;) {
        int32_t n;
        if (len - pos < 8) {
            tr_errf(err, path, 0, "truncated tokenizer: token %u at byte %zu has no score and length", t->vocab, pos);
            goto bad;
        }
        memcpy(&n, blob + pos + 4, 4);
        if (n < 0 || (size_t)n > len - pos - 8) {
            tr_errf(err, path, 0, "%s tokenizer: token %u at byte %zu claims %d bytes",
                    n < 0 ? "malformed" : "truncated", t->vocab, pos, n);
            goto bad;
        }
        if (t->vocab == vcap) {
            vcap = vcap ? vcap * 2 : 1024;
            vent *nv = realloc(t->v, vcap * sizeof *nv);
            if (!nv) {
                tr_errf(err, path, 0, "out of memory");
                goto bad;
            }
            t->v = nv;
        }
        vent *e = &t->v[t->vocab++];
        memcpy(&e->score, blob + pos, 4);
        e->s = blob + pos + 8;
        const char *z = memchr(e->s, 0, (size_t)n);
        e->len = z ? (uint32_t)(z - e->s) : (uint32_t)n;
        if (e->len > t->maxlen) t->maxlen = e->len;
        pos += 8 + (size_t)n;
        if (t->vocab > (1u << 30)) {
            tr_errf(err, path, 0, "malformed tokenizer: too many tokens");
            goto bad;
        }
    }
    if (t->vocab == 0) {
        tr_errf(err, path, 0, "empty tokenizer: no tokens after the header");
        goto bad;
    }
    t->map_cap = 64;
    while (t->map_cap < 2 * (uint64_t)t->vocab) t->map_cap *= 2;
    t->map = malloc(t->map_cap * sizeof *t->map);
    if (!t->map) {
        tr_errf(err, path, 0, "out of memory");
        goto bad;
    }
    memset(t->map, 0xff, t->map_cap * sizeof *t->map);
    for (uint32_t id = 0; id < t->vocab; id++) {
        const vent *e = &t->v[id];
        if (lookup(t, e->s, e->len, "", 0) >= 0) continue; /* a duplicate: the lowest ID keeps it */
        uint64_t k = fnv(FNV0, e->s, e->len) & (t->map_cap - 1);
        while (t->map[k] >= 0) k = (k + 1) & (t->map_cap - 1);
        t->map[k] = (int32_t)id;
    }
    *out = t;
    return 0;
bad:
    tr_tok_free(t);
    return -1;
}

typedef struct hent {
    float score;   /* the merged token's score */
    uint32_t pos;  /* left symbol: also its original position, for leftmost-first */
    uint32_t r;    /* right symbol */
    uint32_t lv, rv; /* their versions when pushed */
    int32_t id;    /* the merged token */
} hent;

static int h_before(const hent *a, const hent *b) { return a->score > b->score || (a->score == b->score && a->pos < b->pos); }

typedef struct bpe {
    const tr_tok *t;   /* the vocabulary */
    int32_t *id;       /* per symbol: its token, -1 once merged into its left neighbour */
    uint32_t *next;    /* per symbol: the next live symbol, NONE at the end */
    uint32_t *prev;    /* per symbol: the previous live symbol, NONE at the start */
    uint32_t *ver;     /* per symbol: bumped at each merge, to spot stale heap entries */
    uint32_t n;        /* symbols */
    hent *h;           /* candidate merges, a max-heap on (score, leftmost) */
    size_t hn, hcap;   /* heap entries used, allocated */
} bpe;

#define NONE 0xffffffffu

static int try_pair(bpe *b, uint32_t l, uint32_t r) {
    const vent *x = &b->t->v[b->id[l]], *y = &b->t->v[b->id[r]];
    if (x->len + y->len > b->t->maxlen) return 0;
    int32_t m = lookup(b->t, x->s, x->len, y->s, y->len);
    if (m < 0 || !(b->t->v[m].score > -1e10f)) return 0; /* llama2.c starts from best = -1e10 */
    if (b->hn == b->hcap) {
        size_t nc = b->hcap ? b->hcap * 2 : 256;
        hent *nh = realloc(b->h, nc * sizeof *nh);
        if (!nh) return -1;
        b->h = nh;
        b->hcap = nc;
    }
    hent e = {b->t->v[m].score, l, r, b->ver[l], b->ver[r], m};
    size_t i = b->hn++;
    while (i > 0 && h_before(&e, &b->h[(i - 1) / 2])) {
        b->h[i] = b->h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    b->h[i] = e;
    return 0;
}

static hent pop(bpe *b) {
    hent top = b->h[0], last = b->h[--b->hn];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= b->hn) break;
        if (c + 1 < b->hn && h_before(&b->h[c + 1], &b->h[c])) c++;
        if (!h_before(&b->h[c], &last)) break;
        b->h[i] = b->h[c];
        i = c;
    }
    if (b->hn) b->h[i] = last;
    return top;
}

static int encode_llama2(const tr_tok *t, const char *s, size_t n, int bos, tr_ids *out) {
    tr_ids sym = {0};
    int rc = -1;
    if (bos && tr_ids_push(&sym, 1)) goto done;
    if (n > 0) { /* the dummy prefix: llama2.c always adds it to non-empty text */
        int32_t sp = lookup(t, " ", 1, "", 0);
        if (sp >= 0 && tr_ids_push(&sym, sp)) goto done;
    }
    char buf[8];
    size_t bl = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xc0) != 0x80) bl = 0; /* not a continuation byte: a new codepoint */
        buf[bl++] = (char)c;
        unsigned char nx = i + 1 < n ? (unsigned char)s[i + 1] : 0;
        if ((nx & 0xc0) == 0x80 && bl < 4) continue;
        int32_t id = lookup(t, buf, (uint32_t)bl, "", 0);
        if (id >= 0) {
            if (tr_ids_push(&sym, id)) goto done;
        } else {
            for (size_t k = 0; k < bl; k++) /* byte fallback: <0x00>..<0xFF> are IDs 3..258 */
                if (tr_ids_push(&sym, (int32_t)(unsigned char)buf[k] + 3)) goto done;
        }
        bl = 0;
    }
    /* merges: only symbols with a vocabulary entry take part (byte-fallback
     * IDs past the vocabulary cannot merge) */
    bpe b = {t, sym.v, NULL, NULL, NULL, (uint32_t)sym.n, NULL, 0, 0};
    b.next = malloc((sym.n + 1) * 4);
    b.prev = malloc((sym.n + 1) * 4);
    b.ver = calloc(sym.n + 1, 4);
    if (!b.next || !b.prev || !b.ver) goto merged;
    for (uint32_t i = 0; i < b.n; i++) {
        b.next[i] = i + 1 < b.n ? i + 1 : NONE;
        b.prev[i] = i ? i - 1 : NONE;
    }
    int ok = 1;
    for (uint32_t i = 0; i + 1 < b.n && ok; i++)
        if ((uint32_t)b.id[i] < t->vocab && (uint32_t)b.id[i + 1] < t->vocab) ok = try_pair(&b, i, i + 1) == 0;
    while (ok && b.hn) {
        hent e = pop(&b);
        uint32_t l = e.pos, r = e.r;
        if (b.id[l] < 0 || b.id[r] < 0 || b.next[l] != r || b.ver[l] != e.lv || b.ver[r] != e.rv) continue;
        b.id[l] = e.id;
        b.ver[l]++;
        b.id[r] = -1;
        b.next[l] = b.next[r];
        if (b.next[r] != NONE) b.prev[b.next[r]] = l;
        if (b.prev[l] != NONE && (uint32_t)b.id[b.prev[l]] < t->vocab) ok = try_pair(&b, b.prev[l], l) == 0;
        if (ok && b.next[l] != NONE && (uint32_t)b.id[b.next[l]] < t->vocab) ok = try_pair(&b, l, b.next[l]) == 0;
    }
    if (!ok) goto merged;
    size_t before = out->n;
    for (uint32_t i = 0; i < b.n; i++)
        if (b.id[i] >= 0 && tr_ids_push(out, b.id[i])) {
            out->n = before;
            goto merged;
        }
    rc = 0;
merged:
    free(b.next);
    free(b.prev);
    free(b.ver);
    free(b.h);
done:
    free(sym.v);
    return rc;
}

int tr_tok_encode(const tr_tok *t, const char *text, size_t n, int bos, tr_ids *out) {
    if (t->kind == KIND_LLAMA2) return encode_llama2(t, text, n, bos, out);
    size_t before = out->n;
    if ((bos && tr_ids_push(out, 1)) || encode_builtin(text, n, out)) {
        out->n = before;
        return -1;
    }
    return 0;
}
