/* Person names compared as people read them: case, Latin diacritics, word order, spacing
 * and Arabic spelling variants do not make two names different. Pure, no I/O. */
#ifndef BTS_NAMEMATCH_H
#define BTS_NAMEMATCH_H

#include "bts/common.h"

#define BTS_NAME_KEY_MAX 256

/* Writes the comparison key of name into out (n bytes): words folded (ASCII lower case,
 * Latin-1 and Latin Extended-A letters to ASCII, Arabic alef forms to ا, ة to ه, ى to ي,
 * tatweel, harakat and combining marks dropped), "عبد"/"abd"-style prefixes joined to the
 * next word, sorted, one space apart. Returns the key's length (0: no letters at all), or
 * BTS_EINVAL when out is too small. */
int bts_name_key(const char *name, char *out, size_t n);

/* True when both names have the same non-empty key. */
bool bts_name_match(const char *a, const char *b);

#endif
