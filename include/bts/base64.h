/* Base64 (for HTTP Basic) and base64url (for JWT payloads). */
#ifndef BTS_BASE64_H
#define BTS_BASE64_H

#include "bts/common.h"

/* Standard base64 with padding; a new string. */
char *bts_base64_encode(const unsigned char *data, size_t len);

/* base64url or base64, padding optional; a new NUL-terminated buffer, length in *ret_len.
 * Returns NULL on an invalid character. */
unsigned char *bts_base64_decode(const char *s, size_t n, size_t *ret_len);

#endif
