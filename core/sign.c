/* Signed tokens; see sign.h. */
#include "sign.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "common.h"

void mw_sign_init(unsigned char key[MW_SIGN_KEY_LEN], size_t *key_len, const char *secret) {
  if (secret && *secret) {
    /* Long secrets are hashed down, as HMAC itself would. */
    unsigned int n = 0;
    EVP_Digest(secret, strlen(secret), key, &n, EVP_sha256(), NULL);
    *key_len = n;
    return;
  }
  mw_random_bytes(key, MW_SIGN_KEY_LEN);
  *key_len = MW_SIGN_KEY_LEN;
}

static void mac(const unsigned char *key, size_t key_len, const char *data, size_t len,
                unsigned char out[32]) {
  unsigned int n = 32;
  if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, len, out, &n)) abort();
}

char *mw_sign(const unsigned char *key, size_t key_len, const char *data, size_t len) {
  size_t plen = (len * 4 + 2) / 3 + 1;
  char *out = mw_malloc(plen + 1 + 44 + 1);
  size_t o = mw_base64url((const unsigned char *)data, len, out);
  /* The MAC covers the encoded payload, so verification never decodes
   * anything unauthenticated. */
  unsigned char m[32];
  mac(key, key_len, out, o, m);
  out[o++] = '.';
  mw_base64url(m, sizeof m, out + o);
  return out;
}

static int b64val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

/* Strict unpadded base64url decode; returns the length or -1. */
static long b64decode(const char *in, size_t n, unsigned char *out) {
  if (n % 4 == 1) return -1;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64val(in[i]);
    if (v < 0) return -1;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits);
    }
  }
  /* Non-canonical trailing bits would let two encodings verify alike. */
  if (bits && (acc & ((1u << bits) - 1))) return -1;
  return (long)o;
}

char *mw_sign_verify(const unsigned char *key, size_t key_len, const char *token, size_t *len) {
  const char *dot = strrchr(token, '.');
  if (!dot) return NULL;
  size_t plen = (size_t)(dot - token);
  unsigned char want[32], got[33];
  if (strlen(dot + 1) != 43 || b64decode(dot + 1, 43, got) != 32) return NULL;
  mac(key, key_len, token, plen, want);
  if (CRYPTO_memcmp(want, got, 32) != 0) return NULL;
  unsigned char *out = mw_malloc(plen * 3 / 4 + 2);
  long n = b64decode(token, plen, out);
  if (n < 0) {
    mw_free(out);
    return NULL;
  }
  out[n] = '\0';
  *len = (size_t)n;
  return (char *)out;
}
