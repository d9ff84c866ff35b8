/* fuzz_tokenizer.c -- the llama2.c tokenizer.bin reader (tr_tok_load_llama2)
 * on arbitrary bytes; a tokenizer that loads encodes text (ASCII, UTF-8,
 * bytes with no token) into IDs below its vocabulary size. */
#include "fuzz.h"
#include "traces/tr_tok.h"

static int fz_tokenizer(const uint8_t *d, size_t n) {
    const char *p = fz_file(0, d, n);
    tr_tok *t;
    tr_err e;
    if (tr_tok_load_llama2(p, &t, &e) != 0) {
        FZ_CHECK(t == NULL);
        return 0;
    }
    static const char *texts[] = {"", "hello world", "caf\xc3\xa9 \xe2\x82\xac 12 \xf0\x9f\x98\x80 \xff\xfe", "aaaaaaaaaaaaaaaa"};
    tr_ids ids = {0};
    for (int i = 0; i < 4; i++) {
        ids.n = 0;
        FZ_CHECK(tr_tok_encode(t, texts[i], strlen(texts[i]), i & 1, &ids) == 0);
        /* IDs of the vocabulary, or byte fallbacks (byte + 3) */
        uint32_t lim = tr_tok_vocab(t) > 259 ? tr_tok_vocab(t) : 259;
        for (size_t k = 0; k < ids.n; k++) FZ_CHECK(ids.v[k] >= 0 && (uint32_t)ids.v[k] < lim);
    }
    free(ids.v);
    tr_tok_free(t);
    return 0;
}

FUZZ_ENTRY(fz_tokenizer)
