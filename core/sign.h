/* Tamper-proof tokens for state the server hands to clients and must trust
 * when it comes back (the 2026-07-28 revision's requestState): the payload,
 * base64url, a dot, and an HMAC-SHA256 of it under a per-process random key
 * (or MOONWIRE_STATE_SECRET when several instances must accept each other's
 * tokens). The MAC comes from OpenSSL's libcrypto; nothing hand-rolled. */
#ifndef MW_SIGN_H
#define MW_SIGN_H

#include <stddef.h>

#define MW_SIGN_KEY_LEN 32

/* Sets the key: SHA-256 of `secret` (any length), or, when NULL or empty,
 * 32 random bytes. */
void mw_sign_init(unsigned char key[MW_SIGN_KEY_LEN], size_t *key_len, const char *secret);

/* Returns an owned NUL-terminated token for `data`. */
char *mw_sign(const unsigned char *key, size_t key_len, const char *data, size_t len);

/* Checks `token` in constant time; returns the owned payload (length in
 * *len) or NULL when the token is malformed or its MAC does not match. */
char *mw_sign_verify(const unsigned char *key, size_t key_len, const char *token, size_t *len);

#endif
