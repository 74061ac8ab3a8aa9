/* Name keys: fold each code point, split into words, join name prefixes, sort the words.
 * Two names match when their keys are equal, so matching thousands is a sort and a look-up
 * (roster.c), never a pairwise fuzzy score that would pair strangers. */
#include "bts/namematch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_WORDS_MAX 16

/* Latin-1 Supplement and Latin Extended-A (U+00C0..U+017F) folded to ASCII; "" = not a
 * letter (× ÷), which separates words. */
static const char *const latin_fold[] = {
    /* C0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* D0 */ "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "ss",
    /* E0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* F0 */ "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y",
    /* 100 */ "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d",
    /* 110 */ "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g",
    /* 120 */ "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i",
    /* 130 */ "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l",
    /* 140 */ "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o",
    /* 150 */ "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s",
    /* 160 */ "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u",
    /* 170 */ "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
};

/* Words that are the first half of one name written either joined or apart. */
static const char *const joined_prefixes[] = {
    "\xd8\xb9\xd8\xa8\xd8\xaf", /* عبد */
    "abd", "abdul", "abdel", "abdal", "abdoul",
};

typedef struct {
    char buf[BTS_NAME_KEY_MAX]; /* folded text, words separated by NUL */
    size_t len;
    const char *words[NAME_WORDS_MAX];
    size_t n_words;
    bool in_word;
} name_parts;

static uint32_t utf8_decode(const unsigned char *s, size_t len)
{
    static const unsigned char mask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    uint32_t cp = s[0] & mask[len];

    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | (s[i] & 0x3F);
    return cp;
}

static void put_bytes(name_parts *p, const char *s, size_t n)
{
    if (p->len + n + 1 >= sizeof(p->buf) || n == 0)
        return; /* a longer name is cut: its key still compares on the first 250 bytes */
    if (!p->in_word) {
        if (p->n_words == NAME_WORDS_MAX)
            return;
        p->words[p->n_words++] = p->buf + p->len;
        p->in_word = true;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
}

static void end_word(name_parts *p)
{
    if (p->in_word)
        p->buf[p->len++] = '\0';
    p->in_word = false;
}

static void put_cp(name_parts *p, uint32_t cp)
{
    char out[4];
    size_t n;

    if (cp < 0x80) {
        out[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    put_bytes(p, out, n);
}

/* Arabic spelling variants: the letter written, 0 to drop it, or cp unchanged. */
static uint32_t arabic_fold(uint32_t cp)
{
    switch (cp) {
    case 0x0622: case 0x0623: case 0x0625: case 0x0671: return 0x0627; /* آ أ إ ٱ -> ا */
    case 0x0629: return 0x0647;                                       /* ة -> ه */
    case 0x0649: case 0x06CC: return 0x064A;                          /* ى ی -> ي */
    case 0x0624: return 0x0648;                                       /* ؤ -> و */
    case 0x0626: return 0x064A;                                       /* ئ -> ي */
    case 0x06A9: return 0x0643;                                       /* ک -> ك */
    case 0x0640: return 0;                                            /* tatweel */
    default: break;
    }
    if ((cp >= 0x064B && cp <= 0x065F) || cp == 0x0670) /* harakat, superscript alef */
        return 0;
    if (cp >= 0x0660 && cp <= 0x0669) /* Arabic-Indic digits */
        return '0' + (cp - 0x0660);
    return cp;
}

static bool is_space(uint32_t cp)
{
    return cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0x060C;
}

static void fold_ascii(name_parts *p, uint32_t cp)
{
    if (cp >= 'A' && cp <= 'Z')
        cp += 'a' - 'A';
    if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))
        put_cp(p, cp);
    else if (cp != '\'' && cp != '`') /* O'Brien = OBrien; other punctuation splits words */
        end_word(p);
}

static void fold_cp(name_parts *p, uint32_t cp)
{
    if (cp < 0x80) {
        fold_ascii(p, cp);
    } else if (cp >= 0xC0 && cp <= 0x17F) {
        const char *f = latin_fold[cp - 0xC0];
        if (*f)
            put_bytes(p, f, strlen(f));
        else
            end_word(p);
    } else if ((cp >= 0x0300 && cp <= 0x036F) || cp == 0x200C || cp == 0x200D ||
               cp == 0xFEFF || cp == 0x2019) {
        /* combining marks, zero-width joiners, a typographic apostrophe: nothing */
    } else if (is_space(cp) || (cp >= 0x80 && cp < 0xC0)) {
        end_word(p);
    } else if ((cp = arabic_fold(cp)) != 0) {
        put_cp(p, cp);
    }
}

static bool is_prefix_word(const char *w)
{
    for (size_t i = 0; i < BTS_ARRAY_SIZE(joined_prefixes); i++)
        if (strcmp(w, joined_prefixes[i]) == 0)
            return true;
    return false;
}

static int word_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Writes the words into out, joining a prefix word to the next, then sorts them. */
static int key_write(name_parts *p, char *out, size_t n)
{
    char joined[NAME_WORDS_MAX][BTS_NAME_KEY_MAX];
    const char *words[NAME_WORDS_MAX];
    size_t k = 0, len = 0;

    for (size_t i = 0; i < p->n_words; i++) {
        bool join = is_prefix_word(p->words[i]) && i + 1 < p->n_words;
        snprintf(joined[k], sizeof(joined[k]), "%s%s", p->words[i], join ? p->words[i + 1] : "");
        words[k] = joined[k];
        k++;
        i += join;
    }
    qsort(words, k, sizeof(words[0]), word_cmp);
    for (size_t i = 0; i < k; i++) {
        size_t w = strlen(words[i]);
        if (len + w + (i > 0) + 1 > n)
            return BTS_EINVAL;
        if (i > 0)
            out[len++] = ' ';
        memcpy(out + len, words[i], w);
        len += w;
    }
    out[len] = '\0';
    return (int)len;
}

int bts_name_key(const char *name, char *out, size_t n)
{
    const unsigned char *s = (const unsigned char *)name;
    size_t left = name ? strlen(name) : 0;
    name_parts p = {.len = 0};

    if (!out || n == 0)
        return BTS_EINVAL;
    while (left > 0) {
        size_t len = bts_utf8_seq(s, left);
        if (len == 0) { /* not UTF-8: a separator, never a crash */
            end_word(&p);
            s++;
            left--;
            continue;
        }
        fold_cp(&p, utf8_decode(s, len));
        s += len;
        left -= len;
    }
    end_word(&p);
    return key_write(&p, out, n);
}

bool bts_name_match(const char *a, const char *b)
{
    char ka[BTS_NAME_KEY_MAX], kb[BTS_NAME_KEY_MAX];

    if (bts_name_key(a, ka, sizeof(ka)) <= 0 || bts_name_key(b, kb, sizeof(kb)) <= 0)
        return false;
    return strcmp(ka, kb) == 0;
}
