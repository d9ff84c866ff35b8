/* tr_tok.h -- tokenizers for turning conversation text into token IDs.
 *
 * builtin   needs no files.  UTF-8 text is cut into pieces, each one token:
 *             - a word (a run of ASCII letters or non-ASCII bytes) with the
 *               one space before it, if any, like SentencePiece's "_word";
 *               words longer than 10 bytes continue in pieces of <= 10 bytes
 *             - each digit
 *             - a run of whitespace (less a space taken by the next word)
 *             - each other character (punctuation, symbols)
 *           and a piece's ID is a 64-bit FNV-1a hash of its bytes mapped to
 *           [3, 32000) (0-2 stay unk, BOS, EOS).  On English prose it gives
 *           1.34 tokens per whitespace-separated word (GNU GPL-3 text; 1.42
 *           on Apache-2.0), about what Llama-2's tokenizer gives; markdown
 *           full of numbers and code gives more (2.1 on the artifact's
 *           evaluation guide).  docs/traces.md has the measurement.
 *
 * llama2c   a tokenizer.bin in llama2.c's format:
 *             int32 max_token_length
 *             per token: float32 score, int32 length, that many bytes
 *           (vocabulary size = the tokens in the file), encoded as llama2.c's
 *           encode() does: a dummy-prefix " " token, each UTF-8 codepoint
 *           looked up (unknown ones fall back to byte tokens, ID = byte + 3),
 *           then the adjacent pair whose concatenation is in the vocabulary
 *           with the highest score (leftmost on ties, scores > -1e10 only)
 *           merged until none is left -- here with a heap, in O(n log n)
 *           instead of llama2.c's O(n^2).  Where a string occurs twice in the
 *           vocabulary the lowest ID wins.
 *
 * Both prepend BOS (1) when asked, as Hugging Face's Llama tokenizer does for
 * each message the artifact tokenises.
 */
#ifndef MARCONI_TR_TOK_H
#define MARCONI_TR_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "traces/tr.h"

typedef struct tr_tok tr_tok;

/* A growing array of token IDs. */
typedef struct tr_ids {
    int32_t *v; /* IDs */
    size_t n;   /* used */
    size_t cap; /* allocated */
} tr_ids;

/* The built-in splitter; NULL on OOM. */
tr_tok *tr_tok_builtin(void);

/* Load a llama2.c tokenizer.bin.  Returns 0, or -1 with err set
 * ("path:0: message") for a missing, truncated or malformed file. */
int tr_tok_load_llama2(const char *path, tr_tok **out, tr_err *err);

void tr_tok_free(tr_tok *t);

/* "builtin" or "llama2c"; and the vocabulary size (32000 for builtin). */
const char *tr_tok_kind(const tr_tok *t);
uint32_t tr_tok_vocab(const tr_tok *t);

/* Append the tokens of text[0..n) (UTF-8, not NUL-terminated) to out, with
 * BOS first when bos.  Returns 0, or -1 on OOM (out keeps what it had). */
int tr_tok_encode(const tr_tok *t, const char *text, size_t n, int bos, tr_ids *out);

/* Append one ID; 0 or -1 on OOM. */
int tr_ids_push(tr_ids *a, int32_t id);

#endif
