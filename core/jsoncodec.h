/* The `moonwire.jsoncodec` Lua module: json.lua's decode and encode, each in one
 * C pass. Every request body and every response goes through them. Before,
 * cjson did the parsing and serialising and json.lua walked every value again
 * to close cjson 2.1's gaps (integers, [] against {}, %.14g numbers, "\/"),
 * and decoding also paid for cjson growing each table key by key. json.lua
 * keeps that path where this module is absent (plain lua5.4, the busted
 * specs); core/tests/test_jsoncodec.c holds the two to the same results. */
#ifndef MW_JSONCODEC_H
#define MW_JSONCODEC_H

#include <lua.h>

/* lua_CFunction for package.preload: pushes the module table with
 *   decode(s, array_mt)  the value of the JSON text s (RFC 8259; raw control
 *                        characters inside strings are let through, as cjson
 *                        does): objects are tables without a metatable, arrays
 *                        (empty ones too) tables with array_mt, null the NULL
 *                        lightuserdata (cjson.null), integral numbers within
 *                        +-2^53 (not -0) integers, other numbers floats.
 *                        Returns nil and a message naming the byte offset for
 *                        text that is not JSON, nests deeper than 1000, or
 *                        holds a number beyond a double. Raises only on
 *                        memory errors and when s is not a string.
 *   encode(v, array_mt, object_mt)
 *                        the JSON text of v, byte for byte what json.lua's
 *                        cjson path writes (its rules for arrays, sparse
 *                        lists, json.array/json.object marks, exact numbers,
 *                        escapes); raises json.lua's { code = "json_encode",
 *                        message = ... } for values JSON cannot hold
 *                        (functions, NaN, non-string/number keys, nesting
 *                        deeper than 1000, which includes cycles).
 *   decoder(array_mt, fallback), encoder(array_mt, object_mt)
 *                        decode(s) and encode(v) with those arguments bound;
 *                        the decoder hands anything but a string to
 *                        fallback(...) and returns what it returns. */
int mw_jsoncodec_open(lua_State *L);

#endif
