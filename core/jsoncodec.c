/* moonwire.jsoncodec; see jsoncodec.h.
 * decode: a recursive descent over the text that leaves each value on the Lua
 * stack. A container's members wait on the stack until it closes (or CHUNK of
 * them have come), so its table is created at its final size instead of being
 * rehashed as it grows.
 * encode: a walk that writes into a buffer, on the C stack until it outgrows
 * it, then in a Lua userdata (counted under LUA_MEMORY_MB, and collected when
 * an error unwinds the walk). */
#include "jsoncodec.h"

#include <lauxlib.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strcache.h"

/* cjson's default nesting limit, which json.lua has always applied. */
#define MAX_DEPTH 1000
/* 2^53: integral values within it are exact in a double. */
#define MAX_EXACT 9007199254740992.0
/* Members held on the stack before a table is made; a bigger container gets a
 * table of this size and grows as cjson's did. Bounds the stack used. */
#define CHUNK 32

/* json.lua's message, so both paths answer the same. */
static const char OUT_OF_RANGE[] = "number out of range (beyond a double)";

typedef struct {
  lua_State *L;
  const char *start; /* the text (borrowed from the Lua string at index 1) */
  const char *p;     /* next byte to read */
  const char *end;
  int array_mt;           /* stack index of the array metatable */
  mw_strcache_t *strings; /* borrowed from L; its anchor table at stack index `anchor` */
  int anchor;
  int depth;
  const char *err; /* static message, set on failure */
  const char *err_at;
} dec_t;

static bool fail(dec_t *d, const char *msg, const char *at) {
  d->err = msg;
  d->err_at = at;
  return false;
}

static void skip_ws(dec_t *d) {
  while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t'))
    d->p++;
}

static bool value(dec_t *d);

static int hex4(const char *s) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    int c = (unsigned char)s[i], h;
    if (c >= '0' && c <= '9')
      h = c - '0';
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
      h = (c | 0x20) - 'a' + 10;
    else
      return -1;
    v = v << 4 | h;
  }
  return v;
}

/* Writes code point cp as UTF-8 at o; returns the byte after it. */
static char *put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    *o++ = (char)cp;
  } else if (cp < 0x800) {
    *o++ = (char)(0xC0 | cp >> 6);
    *o++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *o++ = (char)(0xE0 | cp >> 12);
    *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *o++ = (char)(0xF0 | cp >> 18);
    *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
    *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  }
  return o;
}

/* cjson's short escapes, by the letter after the backslash. */
static const char UNESCAPE[128] = {['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
                                   ['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t'};

/* The string whose opening quote is at d->p. Escapes are rare, so the bytes up
 * to the closing quote are pushed in one piece when there is none. Otherwise
 * they are undone into a buffer of the escaped text's size: unescaping never
 * lengthens (a \u escape is 6 bytes for at most 3 of UTF-8, a surrogate pair 12
 * for 4). */
static bool string(dec_t *d) {
  const char *s = ++d->p;
  const char *q = memchr(s, '"', (size_t)(d->end - s));
  if (!q) return fail(d, "unterminated string", s - 1);
  const char *bs = memchr(s, '\\', (size_t)(q - s));
  if (!bs) {
    mw_strcache_push(d->L, d->strings, d->anchor, s, (size_t)(q - s));
    d->p = q + 1;
    return true;
  }
  /* The closing quote is the first one after an even run of backslashes. */
  const char *close = q;
  for (;;) {
    const char *k = close;
    while (k > bs && k[-1] == '\\')
      k--;
    if ((close - k) % 2 == 0) break;
    close = memchr(close + 1, '"', (size_t)(d->end - close - 1));
    if (!close) return fail(d, "unterminated string", s - 1);
  }
  luaL_Buffer b;
  char *out = luaL_buffinitsize(d->L, &b, (size_t)(close - s));
  char *o = out;
  for (q = s; q < close;) {
    if (*q != '\\') {
      *o++ = *q++;
      continue;
    }
    unsigned char c = (unsigned char)q[1];
    if (c < sizeof UNESCAPE && UNESCAPE[c]) {
      *o++ = UNESCAPE[c];
      q += 2;
      continue;
    }
    if (c != 'u') return fail(d, "invalid escape in string", q);
    int hi = close - q >= 6 ? hex4(q + 2) : -1;
    if (hi < 0) return fail(d, "invalid unicode escape", q);
    unsigned cp = (unsigned)hi;
    if (hi >= 0xDC00 && hi <= 0xDFFF) return fail(d, "lone UTF-16 surrogate in escape", q);
    if (hi >= 0xD800 && hi <= 0xDBFF) {
      int lo = close - q >= 12 && q[6] == '\\' && q[7] == 'u' ? hex4(q + 8) : -1;
      if (lo < 0xDC00 || lo > 0xDFFF) return fail(d, "lone UTF-16 surrogate in escape", q);
      cp = 0x10000 + (((unsigned)hi - 0xD800) << 10) + ((unsigned)lo - 0xDC00);
      q += 6;
    }
    o = put_utf8(o, cp);
    q += 6;
  }
  luaL_pushresultsize(&b, (size_t)(o - out));
  d->p = close + 1;
  return true;
}

static bool digits(dec_t *d) {
  const char *s = d->p;
  while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
    d->p++;
  return d->p > s;
}

/* RFC 8259's number grammar; the value follows json.lua's to_integer. Short
 * plain integers (the ids and counts of JSON-RPC) skip strtod. */
static bool number(dec_t *d) {
  const char *s = d->p;
  bool neg = *d->p == '-';
  if (neg) d->p++;
  if (d->p < d->end && *d->p == '0')
    d->p++;
  else if (!digits(d))
    return fail(d, "invalid number", s);
  const char *int_end = d->p;
  bool plain = true;
  if (d->p < d->end && *d->p == '.') {
    d->p++;
    if (!digits(d)) return fail(d, "invalid number", s);
    plain = false;
  }
  if (d->p < d->end && (*d->p == 'e' || *d->p == 'E')) {
    d->p++;
    if (d->p < d->end && (*d->p == '+' || *d->p == '-')) d->p++;
    if (!digits(d)) return fail(d, "invalid number", s);
    plain = false;
  }
  const char *first = s + neg;
  if (plain && int_end - first <= 15) { /* < 10^15 < 2^53: exact */
    lua_Integer v = 0;
    for (const char *c = first; c < int_end; c++)
      v = v * 10 + (*c - '0');
    if (neg && v == 0) {
      lua_pushnumber(d->L, -0.0); /* stays a float, to re-encode as -0 */
      return true;
    }
    lua_pushinteger(d->L, neg ? -v : v);
    return true;
  }
  /* strtod wants a terminated string; the token is copied unless it is long. */
  char buf[64];
  char *heap = NULL;
  size_t len = (size_t)(d->p - s);
  char *t = buf;
  if (len >= sizeof buf) {
    heap = malloc(len + 1);
    if (!heap) return fail(d, "not enough memory", s);
    t = heap;
  }
  memcpy(t, s, len);
  t[len] = '\0';
  double v = strtod(t, NULL);
  free(heap);
  if (!isfinite(v)) return fail(d, OUT_OF_RANGE, NULL);
  if (floor(v) == v && v >= -MAX_EXACT && v <= MAX_EXACT && !(v == 0 && signbit(v)))
    lua_pushinteger(d->L, (lua_Integer)v);
  else
    lua_pushnumber(d->L, v);
  return true;
}

static bool literal(dec_t *d, const char *word, size_t n) {
  if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
    return fail(d, "expected a value", d->p);
  d->p += n;
  return true;
}

/* The n members on top of the stack (an array's values, or an object's
 * key/value pairs) go into the table at stack index t, or, when t is 0, into
 * a new one made in place of the first of them: `base` + 1. Objects take
 * their pairs in order, so a repeated key keeps its last value. Returns the
 * table's index; the members are gone. */
static int flush(dec_t *d, int base, int t, int n, bool array, lua_Integer *next_index) {
  lua_State *L = d->L;
  int first = t ? t + 1 : base + 1;
  if (!t) {
    lua_createtable(L, array ? n : 0, array ? 0 : n);
    if (array) {
      lua_pushvalue(L, d->array_mt);
      lua_setmetatable(L, -2);
    }
    lua_insert(L, first);
    t = first++;
  }
  if (array) {
    for (int i = n; i >= 1; i--)
      lua_rawseti(L, t, *next_index + i); /* pops the top */
    *next_index += n;
  } else {
    for (int i = 0; i < n; i++) {
      lua_pushvalue(L, first + 2 * i);
      lua_pushvalue(L, first + 2 * i + 1);
      lua_rawset(L, t);
    }
    lua_settop(L, t);
  }
  return t;
}

/* An array or object whose opening bracket is at d->p. */
static bool container(dec_t *d, bool array) {
  lua_State *L = d->L;
  const char *open = d->p;
  if (++d->depth > MAX_DEPTH) return fail(d, "nested deeper than 1000", open);
  d->p++;
  char close = array ? ']' : '}';
  int base = lua_gettop(L); /* the table goes at base + 1 once made */
  int t = 0, n = 0;
  lua_Integer next_index = 0;
  skip_ws(d);
  if (d->p < d->end && *d->p == close) {
    d->p++;
  } else {
    for (;;) {
      luaL_checkstack(L, 4, "json nesting");
      if (!array) {
        if (d->p == d->end || *d->p != '"') return fail(d, "expected a string key", d->p);
        if (!string(d)) return false;
        skip_ws(d);
        if (d->p == d->end || *d->p != ':') return fail(d, "expected ':' after key", d->p);
        d->p++;
        skip_ws(d);
      }
      if (!value(d)) return false;
      if (++n == CHUNK) {
        t = flush(d, base, t, n, array, &next_index);
        n = 0;
      }
      skip_ws(d);
      if (d->p < d->end && *d->p == ',') {
        d->p++;
        skip_ws(d);
        continue;
      }
      if (d->p < d->end && *d->p == close) {
        d->p++;
        break;
      }
      return fail(d, array ? "expected ',' or ']'" : "expected ',' or '}'", d->p);
    }
  }
  if (n || !t) flush(d, base, t, n, array, &next_index);
  d->depth--;
  return true;
}

static bool value(dec_t *d) {
  if (d->p == d->end) return fail(d, "expected a value", d->p);
  switch (*d->p) {
  case '{':
    return container(d, false);
  case '[':
    return container(d, true);
  case '"':
    return string(d);
  case 't':
    if (!literal(d, "true", 4)) return false;
    lua_pushboolean(d->L, 1);
    return true;
  case 'f':
    if (!literal(d, "false", 5)) return false;
    lua_pushboolean(d->L, 0);
    return true;
  case 'n':
    if (!literal(d, "null", 4)) return false;
    lua_pushlightuserdata(d->L, NULL);
    return true;
  default:
    if (*d->p == '-' || (*d->p >= '0' && *d->p <= '9')) return number(d);
    return fail(d, "expected a value", d->p);
  }
}

static int l_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  dec_t d = {.L = L, .start = s, .p = s, .end = s + len, .array_mt = 2};
  d.strings = mw_strcache_open(L);
  d.anchor = 3;
  skip_ws(&d);
  bool ok = value(&d);
  if (ok) {
    skip_ws(&d);
    if (d.p != d.end) ok = fail(&d, "unexpected text after the value", d.p);
  }
  if (ok) return 1;
  lua_settop(L, 2);
  lua_pushnil(L);
  if (!d.err_at)
    lua_pushstring(L, d.err);
  else if (d.err_at == d.end)
    lua_pushfstring(L, "%s at the end of the text (byte %d)", d.err, (int)(d.err_at - d.start) + 1);
  else
    lua_pushfstring(L, "%s at byte %d", d.err, (int)(d.err_at - d.start) + 1);
  return 2;
}

/* ---- encode ---- */

typedef struct {
  lua_State *L;
  char *data; /* small, or the userdata at stack index `slot` */
  size_t len, cap;
  int slot;
  int array_mt, object_mt; /* stack indexes */
  char small[1024];
} enc_t;

/* Raises json.lua's error object: { code = "json_encode", message = ... }. */
static int enc_error(enc_t *e, const char *fmt, const char *what) {
  lua_State *L = e->L;
  lua_createtable(L, 0, 2);
  lua_pushliteral(L, "json_encode");
  lua_setfield(L, -2, "code");
  lua_pushfstring(L, fmt, what);
  lua_setfield(L, -2, "message");
  return lua_error(L);
}

static void reserve(enc_t *e, size_t n) {
  if (e->cap - e->len >= n) return;
  size_t cap = e->cap * 2;
  while (cap - e->len < n)
    cap *= 2;
  char *p = lua_newuserdatauv(e->L, cap, 0); /* raises on a full memory: the old one is collected */
  memcpy(p, e->data, e->len);
  lua_replace(e->L, e->slot);
  e->data = p;
  e->cap = cap;
}

static void put(enc_t *e, const char *s, size_t n) {
  reserve(e, n);
  memcpy(e->data + e->len, s, n);
  e->len += n;
}

/* By hand: snprintf("%lld") costs more than the rest of a small response. */
static void put_integer(enc_t *e, lua_Integer v) {
  char buf[24];
  char *p = buf + sizeof buf;
  /* Unsigned, so that the most negative integer negates. */
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  put(e, p, (size_t)(buf + sizeof buf - p));
}

/* A finite double as json.lua's number_text has it: the shortest of %.14g
 * (cjson's precision) to %.17g that reads back as the same value. Integral
 * values below 1e14 print exactly at 14 digits, so they skip the check. */
static void put_float(enc_t *e, double v) {
  if (v > -1e14 && v < 1e14 && floor(v) == v) {
    if (v == 0 && signbit(v))
      put(e, "-0", 2);
    else
      put_integer(e, (lua_Integer)v);
    return;
  }
  char buf[32];
  int n;
  for (int prec = 14;; prec++) {
    n = snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (prec == 17 || strtod(buf, NULL) == v) break;
  }
  put(e, buf, (size_t)n);
}

/* cjson's escapes, except that "/" stays as is (json.lua undid cjson's "\/"):
 * these, and \u00XX for the other control characters and DEL. */
static const char SHORT_ESCAPE[] = {['"'] = '"',  ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
                                    ['\n'] = 'n', ['\r'] = 'r',  ['\t'] = 't'};

/* The bytes put_string escapes: control characters, '"', '\\' and DEL. */
/* clang-format off */
static const unsigned char ESCAPED[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00-0x0f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10-0x1f */
    ['"'] = 1, ['\\'] = 1, [0x7f] = 1};
/* clang-format on */

static void put_string(enc_t *e, const char *s, size_t n) {
  reserve(e, n + 2);
  e->data[e->len++] = '"';
  size_t run = 0;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i++];
    if (!ESCAPED[c]) continue;
    put(e, s + run, i - 1 - run);
    run = i;
    char esc[7];
    size_t len = 2;
    if (c < sizeof SHORT_ESCAPE && SHORT_ESCAPE[c]) {
      esc[0] = '\\';
      esc[1] = SHORT_ESCAPE[c];
    } else {
      len = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
    }
    put(e, esc, len);
  }
  put(e, s + run, n - run);
  put(e, "\"", 1);
}

/* A number key of a table cjson writes as an object: cjson's %.14g. */
static void put_cjson_key(enc_t *e, lua_State *L, int k) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "\"%.14g\"", (double)lua_tonumber(L, k));
  put(e, buf, (size_t)n);
}

static void put_value(enc_t *e, int idx, int depth);

/* cjson's rule for a table that is not a json.object: a JSON array of length
 * max when every key is an integral number >= 1 and the keys are not sparser
 * than half filled (above index 10), else -1 (an object). */
static lua_Integer array_length(lua_State *L, int t) {
  lua_Integer max = 0, items = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    /* In Lua 5.4 an integral float key that fits is stored as an integer:
     * any other number key is a fraction or too large to be an index. */
    lua_Integer k = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    if (k < 1) {
      lua_pop(L, 1);
      return -1;
    }
    if (k > max) max = k;
    items++;
  }
  if (max > items * 2 && max > 10) return -1;
  return max;
}

static void put_table(enc_t *e, int t, int depth) {
  lua_State *L = e->L;
  if (depth > MAX_DEPTH) {
    char n[16];
    snprintf(n, sizeof n, "%d", depth);
    enc_error(e, "Cannot serialise, excessive nesting (%s)", n);
  }
  if (!lua_checkstack(L, 6)) enc_error(e, "Cannot serialise, %s", "stack overflow");
  bool object_mark = false;
  if (lua_getmetatable(L, t)) {
    object_mark = lua_rawequal(L, -1, e->object_mt);
    bool array_mark = lua_rawequal(L, -1, e->array_mt);
    lua_pop(L, 1);
    if (array_mark) {
      lua_pushnil(L);
      if (!lua_next(L, t)) {
        put(e, "[]", 2);
        return;
      }
      lua_pop(L, 2);
    }
  }
  lua_Integer n = object_mark ? -1 : array_length(L, t);
  if (n > 0) {
    put(e, "[", 1);
    for (lua_Integer i = 1; i <= n; i++) {
      if (i > 1) put(e, ",", 1);
      lua_rawgeti(L, t, i);
      put_value(e, lua_gettop(L), depth);
      lua_pop(L, 1);
    }
    put(e, "]", 1);
    return;
  }
  put(e, "{", 1);
  bool first = true;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (!first) put(e, ",", 1);
    first = false;
    int kt = lua_type(L, -2);
    if (kt == LUA_TSTRING) {
      size_t len;
      const char *k = lua_tolstring(L, -2, &len);
      put_string(e, k, len);
    } else if (kt != LUA_TNUMBER) {
      enc_error(e, "Cannot serialise %s: table key must be a number or string",
                luaL_typename(L, -2));
    } else if (!object_mark) {
      put_cjson_key(e, L, -2);
    } else { /* json.object: the key written as its value would be */
      put(e, "\"", 1);
      if (lua_isinteger(L, -2))
        put_integer(e, lua_tointeger(L, -2));
      else
        put_float(e, lua_tonumber(L, -2));
      put(e, "\"", 1);
    }
    put(e, ":", 1);
    put_value(e, lua_gettop(L), depth);
    lua_pop(L, 1);
  }
  put(e, "}", 1);
}

static void put_value(enc_t *e, int idx, int depth) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    put_string(e, s, len);
    return;
  }
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      put_integer(e, lua_tointeger(L, idx));
    } else {
      double v = lua_tonumber(L, idx);
      if (!isfinite(v)) enc_error(e, "Cannot serialise %s: must not be NaN or Inf", "number");
      put_float(e, v);
    }
    return;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx))
      put(e, "true", 4);
    else
      put(e, "false", 5);
    return;
  case LUA_TNIL:
    put(e, "null", 4);
    return;
  case LUA_TTABLE:
    put_table(e, idx, depth + 1);
    return;
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) {
      put(e, "null", 4);
      return;
    }
    /* fall through */
  default:
    enc_error(e, "Cannot serialise %s: type not supported", luaL_typename(L, idx));
  }
}

static int l_encode(lua_State *L) {
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  lua_pushnil(L); /* the buffer's slot, once it outgrows `small` */
  enc_t e = {.L = L, .cap = sizeof e.small, .slot = 4, .array_mt = 2, .object_mt = 3};
  e.data = e.small;
  put_value(&e, 1, 0);
  lua_pushlstring(L, e.data, e.len);
  return 1;
}

/* The bound forms json.lua exports as json.decode and json.encode themselves:
 * a Lua wrapper passing the metatables cost a call frame (~200 instructions)
 * on every request and every response. */
static int l_decode_bound(lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING) { /* json.lua's own path says what is wrong */
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
  }
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  return l_decode(L);
}

static int l_encode_bound(lua_State *L) {
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, lua_upvalueindex(2));
  return l_encode(L);
}

/* fn closed over the two arguments: a table, then a value of type `second`. */
static int bind(lua_State *L, int second, lua_CFunction fn) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, second);
  lua_settop(L, 2);
  lua_pushcclosure(L, fn, 2);
  return 1;
}

static int l_decoder(lua_State *L) {
  return bind(L, LUA_TFUNCTION, l_decode_bound);
}

static int l_encoder(lua_State *L) {
  return bind(L, LUA_TTABLE, l_encode_bound);
}

int mw_jsoncodec_open(lua_State *L) {
  static const luaL_Reg fns[] = {{"decode", l_decode},
                                 {"encode", l_encode},
                                 {"decoder", l_decoder},
                                 {"encoder", l_encoder},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
