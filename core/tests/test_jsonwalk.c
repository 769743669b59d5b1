/* Tests for core/jsonwalk.c: lua/moonwire/json.lua loaded with the C walks
 * must decode and encode exactly as it does with its own Lua walks, on values
 * that take every branch (integers, -0, 2^53, floats %.14g misprints, empty
 * and marked tables, deep nesting); and clean() must refuse what prep() would
 * change. */
#include "mw_test.h"

#include <lauxlib.h>
#include <lualib.h>

#include "jsonwalk.h"

/* Runs in a state where `fast` is json.lua with the C walks and `slow` the
 * same file without them. Returns the number of mismatches, each printed. */
static const char *const COMPARE =
    "local fast, slow, walk = ...\n"
    "local bad = 0\n"
    "local function same(a, b, path)\n"
    "  if type(a) ~= type(b) or math.type(a) ~= math.type(b) then return false end\n"
    "  if type(a) ~= 'table' then\n"
    "    if a ~= a then return b ~= b end\n"
    "    if a == 0 and b == 0 and type(a) == 'number' then return 1 / a == 1 / b end\n"
    "    return a == b\n"
    "  end\n"
    "  if fast.is_array(a) ~= slow.is_array(b) then return false end\n"
    "  for k, v in pairs(a) do if not same(v, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "local texts = {\n"
    "  '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",'\n"
    "    .. '\"arguments\":{\"text\":\"hi\"},\"_meta\":{\"a/b\":\"x\",\"caps\":{}}}}',\n"
    "  '[1, 2.5, -0, 0, 9007199254740992, 9007199254740993, 9007199254740994, -9007199254740992, "
    "1e300, 3.0]',\n"
    "  '{\"a\":[],\"b\":[[],{}],\"c\":\"[]\",\"d\":[ ],\"e\":{\"f\":[1,[2,[3.0]]]}}',\n"
    "  '{\"x\":-0.0,\"y\":1.5e2,\"z\":[{\"k\":2e0}],\"n\":null,\"t\":true}',\n"
    "  '[]', '{}', '[[[[[[1.0]]]]]]', '42', '\"s\"', 'null',\n"
    "}\n"
    "for _, s in ipairs(texts) do\n"
    "  local a, b = fast.decode(s), slow.decode(s)\n"
    "  if not same(a, b) then bad = bad + 1 print('decode differs: ' .. s) end\n"
    "  if fast.encode(a) ~= slow.encode(b) then bad = bad + 1 print('re-encode differs: ' .. s) "
    "end\n"
    "end\n"
    "for _, s in ipairs({ '[1,[2,1e400]]', '{\"a\":{\"b\":-1e999}}', '{\"a\":[1e309]}' }) do\n"
    "  local a, ea = fast.decode(s)\n"
    "  local b, eb = slow.decode(s)\n"
    "  if a ~= nil or b ~= nil or ea ~= eb then bad = bad + 1 print('out of range: ' .. s) end\n"
    "end\n"
    "local deep = {}\n"
    "local node = deep\n"
    "for _ = 1, 999 do node.x = {} node = node.x end\n"
    "local function values(j)\n"
    "  return {\n"
    "    { jsonrpc = '2.0', id = 1, result = { content = j.array({ { type = 'text', text = 'a/b' } "
    "}) } },\n"
    "    { n = 2^53 - 1, f = 0.1, g = 1 / 3, h = 1e14, i = 1e14 - 1, j = -1e14 + 1, k = "
    "math.maxinteger },\n"
    "    { empty = {}, arr = j.array(), obj = j.object({ [1] = 'one', [2] = 'two' }) },\n"
    "    { list = { 1, 2, 3.5, { 2^60 } }, s = 'x' }, deep,\n"
    "  }\n"
    "end\n"
    "local vf, vs = values(fast), values(slow)\n"
    "for i = 1, #vf do\n"
    "  local okf, a = pcall(fast.encode, vf[i])\n"
    "  local oks, b = pcall(slow.encode, vs[i])\n"
    "  if okf ~= oks or (okf and a ~= b) then bad = bad + 1 print('encode differs: #' .. i) end\n"
    "end\n"
    "local too_deep = {}\n"
    "node = too_deep\n"
    "for _ = 1, 1001 do node.x = {} node = node.x end\n"
    "local cyc = {}\n"
    "cyc.self = cyc\n"
    "for _, v in ipairs({ too_deep, cyc, { f = function() end }, { n = 0 / 0 } }) do\n"
    "  local okf, ef = pcall(fast.encode, v)\n"
    "  local oks, es = pcall(slow.encode, v)\n"
    "  if okf or oks or type(ef) ~= 'table' or ef.message ~= es.message then\n"
    "    bad = bad + 1 print('error differs: ' .. tostring(ef and ef.message))\n"
    "  end\n"
    "end\n"
    "return bad\n";

/* What clean() itself answers: the cases prep() must get. */
static const char *const CLEAN =
    "local fast, slow, walk = ...\n"
    "local A, O = getmetatable(fast.array()), getmetatable(fast.object())\n"
    "local bad = 0\n"
    "local function expect(want, v, what)\n"
    "  if walk.clean(v, A, O) ~= want then bad = bad + 1 print('clean wrong: ' .. what) end\n"
    "end\n"
    "expect(true, { a = 1, b = { 'x', 2.5, 0.1 }, c = {} }, 'plain')\n"
    "expect(true, { a = fast.array({ 1 }) }, 'non-empty array')\n"
    "expect(false, { a = fast.array() }, 'empty array')\n"
    "expect(false, { a = fast.object({ x = 1 }) }, 'object')\n"
    "expect(false, { a = 2^53 - 1 }, 'big integer')\n"
    "expect(false, { a = 1 / 3 }, 'float %.14g misprints')\n"
    "expect(false, { a = 0 / 0 }, 'nan')\n"
    "expect(false, 'x', 'not a table')\n"
    "return bad\n";

static int run(lua_State *L, const char *code) {
  if (luaL_loadstring(L, code) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return 1;
  }
  int bad = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return bad;
}

/* Stack after: fast json, slow json, walk module. */
static void load_both(lua_State *L) {
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, MW_SOURCE_LUA_DIR "/?.lua");
  lua_setfield(L, -2, "path");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, mw_jsonwalk_open);
  lua_setfield(L, -2, "moonwire.jsonwalk");
  lua_pop(L, 2);
  CHECK(luaL_dostring(L, "return (require 'moonwire.json')") == LUA_OK);
  /* The same file again, with the module gone. */
  CHECK(luaL_dostring(L, "package.loaded['moonwire.json'] = nil\n"
                         "local walk = require 'moonwire.jsonwalk'\n"
                         "package.loaded['moonwire.jsonwalk'] = nil\n"
                         "package.preload['moonwire.jsonwalk'] = nil\n"
                         "return (require 'moonwire.json'), walk") == LUA_OK);
}

static void test_same_as_lua_walks(void) {
  lua_State *L = luaL_newstate();
  load_both(L);
  CHECK(lua_gettop(L) == 3);
  CHECK_EQ_INT(run(L, COMPARE), 0);
  CHECK_EQ_INT(run(L, CLEAN), 0);
  lua_close(L);
}

int main(void) {
  RUN(same_as_lua_walks);
  return TEST_DONE();
}
