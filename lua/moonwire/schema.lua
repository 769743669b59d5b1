-- JSON Schema for Moonwire: checks at load time that a tool's inputSchema is well-formed, and
-- validates tools/call arguments against it. Draft 2020-12, plus the draft-07 spellings
-- (definitions, items as an array with additionalItems, dependencies).
--
-- Approach: a schema is compiled once into a tree of closures, one per subschema, and cached in
-- a weak table keyed by the schema table; check() compiles, validate() looks the compiled form up.
-- A validator returns true, or nil and a failure record; nothing is allocated unless a check fails,
-- and the JSON path in the message is assembled only then, on the way back up.
--
-- Values: "array" is a table json.is_array accepts (a decoded array, a json.array(), a non-empty
-- list); "object" is any other table. A plain empty table {} is both: Lua cannot tell {} from [],
-- so it passes type "object" and type "array", and the keywords of both apply to it (it has no
-- items and no properties, so only minItems/minProperties/required can fail). json.decode gives
-- decoded [] the array mark, so for decoded input only an empty object is ambiguous.
-- "integer" is a number with no fractional part: 1 and 1.0 are integers, 1.5 is not.
-- "null" is json.null; a missing property is nil and does not count as present for `required`.
--
-- Messages name the JSON path of the first problem found: "$.b: expected number, got string",
-- "$.tags[2]: ..." (array indexes are 0-based, as in JSONPath and the JSON the client sent).
-- Which problem is "first" among several extra or pattern-matched properties depends on table
-- iteration order; everything else is checked in a fixed order.
--
-- Limits:
--  * $ref must be local: "#" or a JSON pointer into the root ("#/$defs/Name",
--    "#/definitions/Name", "#/properties/x", ...). Remote refs, "#anchor" refs and $id-based
--    resolution are rejected by check(). $ref applies together with its sibling keywords (2020-12).
--  * A $ref cycle that never descends into the value ({"$ref": "#"}) is rejected by check();
--    recursion through a value is capped at 1000 nested $ref levels (json.decode caps nesting at
--    1000), which only a cyclic Lua table can reach.
--  * $dynamicRef, $recursiveRef and (other than `true`) unevaluatedProperties/unevaluatedItems are
--    rejected by check() rather than silently not enforced. format, default, examples, title,
--    description, $comment, $schema, $id, $anchor, readOnly, writeOnly, deprecated, content*,
--    x-* and any other unknown keyword are ignored.
--  * multipleOf on floats allows a relative error of 2^-45, so 0.3 is a multiple of 0.1.
--  * uniqueItems and enum/const compare with JSON equality: 1 equals 1.0, and {} equals [].
--  * pattern, patternProperties and propertyNames use the ECMA-262 regex subset described at
--    regex() below. A regex outside the subset (lookaround, backreferences, \p{...}) is not
--    enforced, so valid input is never rejected: its pattern check passes, its patternProperties
--    schema is skipped and additionalProperties is not enforced beside it. check() returns such
--    places as notes. A regex that is not valid ECMA-262 syntax fails check().
local json = require "moonwire.json"

local type, next, ipairs, tostring, tonumber = type, next, ipairs, tostring, tonumber
local getmetatable, setmetatable, pcall, error = getmetatable, setmetatable, pcall, error
local math_type, huge, min, abs = math.type, math.huge, math.min, math.abs
local byte, char, find, format, sub, gsub = string.byte, string.char, string.find, string.format,
  string.sub, string.gsub
local utf8_len, utf8_codes = utf8.len, utf8.codes
local concat, sort = table.concat, table.sort

local null = json.null
local json_is_array = json.is_array
local array_mt = getmetatable(json.array())
local object_mt = getmetatable(json.object())

local M = {}

---------------------------------------------------------------------------------------------------
-- values

-- Kinds of value, as bits so that a `type` keyword compiles to one mask.
local K_NULL, K_BOOLEAN, K_OBJECT, K_ARRAY, K_NUMBER, K_STRING, K_INTEGER = 1, 2, 4, 8, 16, 32, 64
local K_EMPTY = K_ARRAY | K_OBJECT -- a plain {}: either

local TYPE_MASK = {
  null = K_NULL, boolean = K_BOOLEAN, object = K_OBJECT, array = K_ARRAY,
  number = K_NUMBER | K_INTEGER, integer = K_INTEGER, string = K_STRING,
}

-- The kind of a table. Decoded objects and arrays are settled by the metatable or t[1]; only an
-- unmarked list pays for json.is_array's scan of its keys.
local function table_kind(t)
  local mt = getmetatable(t)
  if mt == array_mt then
    return K_ARRAY
  elseif mt == object_mt then
    return K_OBJECT
  elseif t[1] == nil then
    return next(t) == nil and K_EMPTY or K_OBJECT
  end
  return json_is_array(t) and K_ARRAY or K_OBJECT
end

local function kind(v)
  local tv = type(v)
  if tv == "table" then
    return table_kind(v)
  elseif tv == "string" then
    return K_STRING
  elseif tv == "number" then
    -- v % 1 is NaN for +-inf and NaN, so those are not integers
    if math_type(v) == "integer" or v % 1 == 0 then
      return K_INTEGER
    end
    return K_NUMBER
  elseif tv == "boolean" then
    return K_BOOLEAN
  elseif v == null then
    return K_NULL
  end
  return 0 -- nil, functions, other userdata: no JSON type
end

local function type_name(v)
  local k = kind(v)
  if k == K_INTEGER or k == K_NUMBER then
    return "number"
  elseif k == K_STRING then
    return "string"
  elseif k == K_OBJECT or k == K_EMPTY then
    return "object"
  elseif k == K_ARRAY then
    return "array"
  elseif k == K_BOOLEAN then
    return "boolean"
  elseif k == K_NULL then
    return "null"
  elseif v == nil then
    return "nothing"
  end
  return type(v)
end

-- JSON equality: numbers by value (1 == 1.0), tables by content; an array never equals an object,
-- except that a plain {} is both.
local function equal(a, b)
  if a == b then
    return true
  elseif type(a) ~= "table" or type(b) ~= "table" or (table_kind(a) & table_kind(b)) == 0 then
    return false
  end
  for k, va in next, a do
    local vb = b[k]
    if vb == nil or not equal(va, vb) then
      return false
    end
  end
  for k in next, b do
    if a[k] == nil then
      return false
    end
  end
  return true
end

local function encode_short(v)
  local ok, s = pcall(json.encode, v)
  if not ok then
    return tostring(v)
  end
  if #s > 120 then
    s = sub(s, 1, 117) .. "..."
  end
  return s
end

---------------------------------------------------------------------------------------------------
-- failures

-- A failure is { msg = text, [1..n] = path segments, innermost first, sub = branch failures }.
-- A segment is a property name (string) or a 0-based array index (integer). Parents append their
-- segment as the failure travels up, so the path costs nothing until something fails.
local function fail(msg)
  return nil, { msg = msg }
end

-- "1 item", "2 items"
local function count(n, one, many)
  return n .. " " .. (n == 1 and one or many)
end

local function quote(name)
  return "'" .. name .. "'"
end

-- Paths deeper than this show their outer and inner ends only (a cyclic value can be 1000 deep).
local MAX_PATH_SEGMENTS = 40

local function segment(seg)
  if math_type(seg) == "integer" then
    return "[" .. seg .. "]"
  elseif find(seg, "^[%a_$][%w_$]*$") then
    return "." .. seg
  end
  return "[" .. encode_short(seg) .. "]"
end

local function path_of(prefix, e)
  local n, parts, keep = #e, { prefix }, MAX_PATH_SEGMENTS // 2
  for i = n, 1, -1 do
    if n <= MAX_PATH_SEGMENTS or i > n - keep or i <= keep then
      parts[#parts + 1] = segment(e[i])
    elseif i == n - keep then
      parts[#parts + 1] = "...(" .. (n - 2 * keep) .. " more)..."
    end
  end
  return concat(parts)
end

local function render(e, prefix)
  local path = path_of(prefix, e)
  local msg = e.msg
  if e.sub then
    local subs = {}
    for i = 1, #e.sub do
      subs[i] = (i - 1) .. ": " .. render(e.sub[i], path)
    end
    msg = msg .. " (" .. concat(subs, "; ") .. ")"
  end
  return path .. ": " .. msg
end

---------------------------------------------------------------------------------------------------
-- regex: the ECMA-262 subset of pattern, patternProperties and propertyNames
--
-- Supported: literals, ".", [...] and [^...] with ranges, \d \w \s \D \W \S, \b \B, ^ $, groups
-- ( ) (?: ) (?<name> ), alternation |, quantifiers * + ? {n} {n,} {n,m} and their lazy forms,
-- escapes \t \n \r \v \f \0 \cX \xHH \uHHHH \u{H...} and escaped punctuation. Matching is by code
-- point, with no flags (so ^ and $ are the ends of the string), and unanchored like RegExp.test.
-- Unsupported, so not enforced: lookaround, backreferences, \p{...}, other letter escapes, and
-- patterns whose expansion exceeds MAX_PROG instructions (\d{5000}).
--
-- Two engines. A pattern made only of single-character items (the usual "^[a-z0-9_-]+$") is also
-- translated to a Lua pattern, which matches ASCII strings in C; everything else, and any string
-- with a byte >= 0x80, runs on a Thompson NFA over code points, which is linear in the string so a
-- client cannot make a pattern backtrack for long. The Lua pattern is used only while its
-- backtracking stays polynomial of low degree (see fast_limit).

local MAX_CP = 0x10FFFF
local MAX_PROG = 2000

-- Character sets are sorted, merged inclusive ranges { lo1, hi1, lo2, hi2, ... }.
local function normalize(r)
  local spans = {}
  for i = 1, #r, 2 do
    spans[#spans + 1] = { r[i], r[i + 1] }
  end
  sort(spans, function(a, b)
    return a[1] < b[1]
  end)
  local out = {}
  for _, p in ipairs(spans) do
    local n = #out
    if n > 0 and p[1] <= out[n] + 1 then
      if p[2] > out[n] then
        out[n] = p[2]
      end
    else
      out[n + 1], out[n + 2] = p[1], p[2]
    end
  end
  return out
end

local function complement(r)
  local out, lo = {}, 0
  for i = 1, #r, 2 do
    if r[i] > lo then
      out[#out + 1], out[#out + 2] = lo, r[i] - 1
    end
    lo = r[i + 1] + 1
  end
  if lo <= MAX_CP then
    out[#out + 1], out[#out + 2] = lo, MAX_CP
  end
  return out
end

local DIGIT = { 48, 57 }
local WORD = { 48, 57, 65, 90, 95, 95, 97, 122 }
local SPACE = normalize({ 9, 13, 32, 32, 0xA0, 0xA0, 0x1680, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029,
  0x202F, 0x202F, 0x205F, 0x205F, 0x3000, 0x3000, 0xFEFF, 0xFEFF })
local DOT = complement({ 10, 10, 13, 13, 0x2028, 0x2029 }) -- "." stops at line terminators
local CLASS_ESCAPE = {
  [100] = DIGIT, [68] = complement(DIGIT), -- \d \D
  [119] = WORD, [87] = complement(WORD), -- \w \W
  [115] = SPACE, [83] = complement(SPACE), -- \s \S
}
local CONTROL_ESCAPE = { [116] = 9, [110] = 10, [118] = 11, [102] = 12, [114] = 13 } -- \t \n \v \f \r

local function regex_error(kind_, msg)
  error({ regex = kind_, msg = msg }, 0)
end

local function is_digit(c)
  return c ~= nil and c >= 48 and c <= 57
end

local function hex_value(c)
  if c == nil then
    return nil
  elseif c >= 48 and c <= 57 then
    return c - 48
  elseif c >= 65 and c <= 70 then
    return c - 55
  elseif c >= 97 and c <= 102 then
    return c - 87
  end
  return nil
end

-- Parses `src` into a tree of { t = "char", cp } { t = "set", ranges } { t = "seq", items }
-- { t = "alt", branches } { t = "rep", node, min, max (nil: unbounded) } { t = "bol" } { t = "eol" }
-- { t = "wb", neg }. Raises { regex = "syntax" | "unsupported", msg }.
local function parse_regex(src)
  local cps = {}
  for _, c in utf8_codes(src) do
    cps[#cps + 1] = c
  end
  local n, pos = #cps, 1

  -- {n}, {n,} or {n,m} at position p; returns min, max (nil: unbounded), next position, or nil.
  local function braces(p)
    local i = p + 1
    local function number()
      local start, v = i, 0
      while is_digit(cps[i]) do
        v = min(v * 10 + cps[i] - 48, 1e6)
        i = i + 1
      end
      return i > start and v or nil
    end
    local lo = number()
    if not lo then
      return nil
    end
    local hi = lo
    if cps[i] == 44 then -- ,
      i = i + 1
      hi = number()
    end
    if cps[i] ~= 125 then -- }
      return nil
    end
    return lo, hi, i + 1
  end

  local function hex_digits(count)
    local v = 0
    for _ = 1, count do
      local h = hex_value(cps[pos])
      if not h then
        return nil
      end
      v, pos = v * 16 + h, pos + 1
    end
    return v
  end

  -- After a backslash: returns "cp", code point | "class", ranges | "assert", node.
  local function escape(in_class)
    local c = cps[pos]
    if c == nil then
      regex_error("syntax", "\\ at end of pattern")
    end
    pos = pos + 1
    if CLASS_ESCAPE[c] then
      return "class", CLASS_ESCAPE[c]
    elseif CONTROL_ESCAPE[c] then
      return "cp", CONTROL_ESCAPE[c]
    elseif c == 98 then -- \b: backspace in a class, a word boundary outside
      if in_class then
        return "cp", 8
      end
      return "assert", { t = "wb", neg = false }
    elseif c == 66 and not in_class then -- \B
      return "assert", { t = "wb", neg = true }
    elseif c == 48 and not is_digit(cps[pos]) then -- \0
      return "cp", 0
    elseif c == 120 then -- \xHH
      local v = hex_digits(2)
      if v then
        return "cp", v
      end
    elseif c == 117 then -- \uHHHH, \u{H...}
      if cps[pos] == 123 then
        pos = pos + 1
        local v, count = 0, 0
        while hex_value(cps[pos]) do
          v, pos, count = v * 16 + hex_value(cps[pos]), pos + 1, count + 1
        end
        if count == 0 or cps[pos] ~= 125 or v > MAX_CP then
          regex_error("syntax", "invalid \\u{...} escape")
        end
        pos = pos + 1
        return "cp", v
      end
      local v = hex_digits(4)
      if v and v >= 0xD800 and v <= 0xDBFF and cps[pos] == 92 and cps[pos + 1] == 117 then
        local save = pos
        pos = pos + 2
        local lo = hex_digits(4)
        if lo and lo >= 0xDC00 and lo <= 0xDFFF then
          return "cp", 0x10000 + (v - 0xD800) * 0x400 + (lo - 0xDC00)
        end
        pos = save
      end
      if v and (v < 0xD800 or v > 0xDFFF) then
        return "cp", v
      end
    elseif c == 99 then -- \cX
      local l = cps[pos]
      if l and ((l >= 65 and l <= 90) or (l >= 97 and l <= 122)) then
        pos = pos + 1
        return "cp", l % 32
      end
    elseif not ((c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122)) then
      return "cp", c -- escaped punctuation (\. \/ \-) or any non-ASCII character
    end
    -- \1 (backreference), \k, \p{...}, \B in a class, \z, lone surrogates, a bad \x or \c: each
    -- means something else in some dialect, so guessing could reject valid input.
    regex_error("unsupported", "\\" .. utf8.char(c))
  end

  local function class()
    local r = {}
    local neg = cps[pos] == 94 -- ^
    if neg then
      pos = pos + 1
    end
    -- one class member: a code point, or nil and the ranges of a class escape
    local function member()
      local c = cps[pos]
      pos = pos + 1
      if c == 92 then
        local what, v = escape(true)
        if what == "class" then
          return nil, v
        end
        return v
      end
      return c
    end
    local function add(cp, ranges)
      if cp then
        r[#r + 1], r[#r + 2] = cp, cp
      else
        for i = 1, #ranges do
          r[#r + 1] = ranges[i]
        end
      end
    end
    while true do
      local c = cps[pos]
      if c == nil then
        regex_error("syntax", "missing ]")
      elseif c == 93 then -- ] ([] is the empty class, as in ECMA-262)
        pos = pos + 1
        break
      end
      local lo, lo_class = member()
      if cps[pos] == 45 and cps[pos + 1] ~= nil and cps[pos + 1] ~= 93 then -- a-b
        pos = pos + 1
        local hi, hi_class = member()
        if lo_class or hi_class then -- [\d-z] is \d, "-" and "z" (Annex B)
          add(lo, lo_class)
          add(45)
          add(hi, hi_class)
        elseif lo > hi then
          regex_error("syntax", "range out of order in character class")
        else
          r[#r + 1], r[#r + 2] = lo, hi
        end
      else
        add(lo, lo_class)
      end
    end
    r = normalize(r)
    return { t = "set", ranges = neg and complement(r) or r }
  end

  local disjunction

  -- One atom; returns the node and whether a quantifier may follow it.
  local function atom()
    local c = cps[pos]
    pos = pos + 1
    if c == 94 then -- ^
      return { t = "bol" }, false
    elseif c == 36 then -- $
      return { t = "eol" }, false
    elseif c == 46 then -- .
      return { t = "set", ranges = DOT }, true
    elseif c == 91 then -- [
      return class(), true
    elseif c == 92 then -- \
      local what, v = escape(false)
      if what == "cp" then
        return { t = "char", cp = v }, true
      elseif what == "class" then
        return { t = "set", ranges = v }, true
      end
      return v, false
    elseif c == 40 then -- (
      if cps[pos] == 63 then -- ?
        local c2, c3 = cps[pos + 1], cps[pos + 2]
        if c2 == 58 then -- (?:
          pos = pos + 2
        elseif c2 == 60 and c3 ~= 61 and c3 ~= 33 then -- (?<name>
          pos = pos + 2
          while cps[pos] ~= nil and cps[pos] ~= 62 do
            pos = pos + 1
          end
          if cps[pos] == nil then
            regex_error("syntax", "unterminated group name")
          end
          pos = pos + 1
        elseif c2 == 61 or c2 == 33 or c2 == 60 then
          regex_error("unsupported", "lookaround assertion")
        else
          regex_error("syntax", "invalid group")
        end
      end
      local inner = disjunction()
      if cps[pos] ~= 41 then
        regex_error("syntax", "missing )")
      end
      pos = pos + 1
      return inner, true
    elseif c == 42 or c == 43 or c == 63 or (c == 123 and braces(pos - 1)) then
      regex_error("syntax", "nothing to repeat")
    end
    return { t = "char", cp = c }, true -- including a "{", "}" or "]" that starts nothing (Annex B)
  end

  local function quantifier()
    local c = cps[pos]
    if c == 42 then
      pos = pos + 1
      return 0, nil
    elseif c == 43 then
      pos = pos + 1
      return 1, nil
    elseif c == 63 then
      pos = pos + 1
      return 0, 1
    elseif c == 123 then
      local lo, hi, after = braces(pos)
      if lo then
        pos = after
        return lo, hi
      end
    end
    return nil
  end

  local function alternative()
    local items = {}
    while pos <= n and cps[pos] ~= 124 and cps[pos] ~= 41 do -- | )
      local node, quantifiable = atom()
      local lo, hi = quantifier()
      if lo then
        if not quantifiable then
          regex_error("syntax", "nothing to repeat")
        elseif hi and lo > hi then
          regex_error("syntax", "numbers out of order in {} quantifier")
        end
        if cps[pos] == 63 then -- lazy: matches the same strings
          pos = pos + 1
        end
        node = { t = "rep", node = node, min = lo, max = hi }
        local save = pos
        if quantifier() then
          regex_error("syntax", "nothing to repeat")
        end
        pos = save
      end
      items[#items + 1] = node
    end
    return { t = "seq", items = items }
  end

  function disjunction()
    local branches = { alternative() }
    while cps[pos] == 124 do
      pos = pos + 1
      branches[#branches + 1] = alternative()
    end
    if #branches == 1 then
      return branches[1]
    end
    return { t = "alt", branches = branches }
  end

  local tree = disjunction()
  if pos <= n then
    regex_error("syntax", "unmatched )")
  end
  return tree
end

-- NFA program: parallel arrays op/x/y, instruction 1 first.
local OP_CHAR, OP_SET, OP_SPLIT, OP_JMP, OP_BOL, OP_EOL, OP_WB, OP_NWB, OP_MATCH = 1, 2, 3, 4, 5, 6, 7, 8, 9

local function program_size(node)
  local t = node.t
  if t == "seq" then
    local s = 0
    for _, item in ipairs(node.items) do
      s = s + program_size(item)
    end
    return s
  elseif t == "alt" then
    local s = 2 * (#node.branches - 1)
    for _, b in ipairs(node.branches) do
      s = s + program_size(b)
    end
    return s
  elseif t == "rep" then
    local s = program_size(node.node)
    local optional = node.max and (node.max - node.min) * (s + 1) or s + 2
    return node.min * s + optional
  end
  return 1
end

local function make_set(ranges)
  local ascii = {}
  for c = 0, 127 do
    ascii[c] = false
  end
  for i = 1, #ranges, 2 do
    for c = ranges[i], min(ranges[i + 1], 127) do
      ascii[c] = true
    end
  end
  return { ranges = ranges, ascii = ascii, npairs = #ranges // 2 }
end

local function in_set(set, cp)
  if cp < 128 then
    return set.ascii[cp]
  end
  local r, lo, hi = set.ranges, 1, set.npairs
  while lo <= hi do
    local mid = (lo + hi) // 2
    if cp < r[2 * mid - 1] then
      hi = mid - 1
    elseif cp > r[2 * mid] then
      lo = mid + 1
    else
      return true
    end
  end
  return false
end

local function build_program(tree)
  local op, x, y = {}, {}, {}
  local pc = 0
  local function emit(o, a, b)
    pc = pc + 1
    op[pc], x[pc], y[pc] = o, a, b
    return pc
  end
  local function gen(node)
    local t = node.t
    if t == "char" then
      emit(OP_CHAR, node.cp)
    elseif t == "set" then
      local r = node.ranges
      if #r == 2 and r[1] == r[2] then
        emit(OP_CHAR, r[1])
      else
        node.set = node.set or make_set(r)
        emit(OP_SET, node.set)
      end
    elseif t == "bol" then
      emit(OP_BOL)
    elseif t == "eol" then
      emit(OP_EOL)
    elseif t == "wb" then
      emit(node.neg and OP_NWB or OP_WB)
    elseif t == "seq" then
      for _, item in ipairs(node.items) do
        gen(item)
      end
    elseif t == "alt" then
      local jumps, nb = {}, #node.branches
      for i = 1, nb - 1 do
        local split = emit(OP_SPLIT, pc + 2)
        gen(node.branches[i])
        jumps[i] = emit(OP_JMP)
        y[split] = pc + 1
      end
      gen(node.branches[nb])
      for _, j in ipairs(jumps) do
        x[j] = pc + 1
      end
    else -- rep
      for _ = 1, node.min do
        gen(node.node)
      end
      if node.max == nil then
        local split = emit(OP_SPLIT, pc + 2)
        gen(node.node)
        emit(OP_JMP, split)
        y[split] = pc + 1
      else
        local splits = {}
        for i = 1, node.max - node.min do
          splits[i] = emit(OP_SPLIT, pc + 2)
          gen(node.node)
        end
        for _, s in ipairs(splits) do
          y[s] = pc + 1
        end
      end
    end
  end
  gen(tree)
  emit(OP_MATCH)
  local first = tree.t == "seq" and tree.items[1] or tree
  -- mark: generation in which each instruction was last added, so no list holds it twice;
  -- l1, l2: the current and next thread lists. Reused by every match (a match never yields).
  return { op = op, x = x, y = y, mark = {}, gen = 0, l1 = {}, l2 = {},
           anchored = first ~= nil and first.t == "bol" }
end

local function word_byte(b)
  return b ~= nil and ((b >= 48 and b <= 57) or (b >= 65 and b <= 90) or b == 95 or (b >= 97 and b <= 122))
end

-- Adds the thread at instruction `pc`, at string position `i`, to `list` of `cnt` entries,
-- following jumps and assertions. Returns the new count, or -1 if the thread reached MATCH.
local function add_thread(re, list, cnt, pc, i, s, n, gen)
  local mark = re.mark
  if mark[pc] == gen then
    return cnt
  end
  mark[pc] = gen
  local o = re.op[pc]
  if o == OP_JMP then
    return add_thread(re, list, cnt, re.x[pc], i, s, n, gen)
  elseif o == OP_SPLIT then
    cnt = add_thread(re, list, cnt, re.x[pc], i, s, n, gen)
    if cnt < 0 then
      return cnt
    end
    return add_thread(re, list, cnt, re.y[pc], i, s, n, gen)
  elseif o == OP_BOL then
    return i == 1 and add_thread(re, list, cnt, pc + 1, i, s, n, gen) or cnt
  elseif o == OP_EOL then
    return i == n + 1 and add_thread(re, list, cnt, pc + 1, i, s, n, gen) or cnt
  elseif o == OP_WB or o == OP_NWB then
    -- word characters are ASCII, so bytes are enough on either side
    local boundary = word_byte(byte(s, i - 1)) ~= word_byte(byte(s, i))
    return boundary == (o == OP_WB) and add_thread(re, list, cnt, pc + 1, i, s, n, gen) or cnt
  elseif o == OP_MATCH then
    return -1
  end
  cnt = cnt + 1
  list[cnt] = pc
  return cnt
end

-- The code point at `i` (lead byte `b` >= 0x80) and the position after it; a malformed sequence
-- counts as one code point per byte.
local function decode_at(s, i, b)
  local need, cp
  if b >= 0xF0 and b <= 0xF4 then
    need, cp = 3, b & 0x07
  elseif b >= 0xE0 then
    need, cp = 2, b & 0x0F
  elseif b >= 0xC2 and b < 0xE0 then
    need, cp = 1, b & 0x1F
  else
    return b, i + 1
  end
  for k = 1, need do
    local c = byte(s, i + k)
    if c == nil or c < 0x80 or c > 0xBF then
      return b, i + 1
    end
    cp = cp * 64 + (c & 0x3F)
  end
  return cp, i + need + 1
end

local function nfa_match(re, s)
  local n, op, x = #s, re.op, re.x
  local clist, nlist = re.l1, re.l2
  local gen = re.gen + 1
  local ccnt = add_thread(re, clist, 0, 1, 1, s, n, gen)
  local anchored, i = re.anchored, 1
  while ccnt >= 0 and i <= n and (ccnt > 0 or not anchored) do
    local b = byte(s, i)
    local cp, ni
    if b < 0x80 then
      cp, ni = b, i + 1
    else
      cp, ni = decode_at(s, i, b)
    end
    gen = gen + 1
    local ncnt = 0
    for j = 1, ccnt do
      local pc = clist[j]
      local o = op[pc]
      if (o == OP_CHAR and x[pc] == cp) or (o == OP_SET and in_set(x[pc], cp)) then
        ncnt = add_thread(re, nlist, ncnt, pc + 1, ni, s, n, gen)
        if ncnt < 0 then
          break
        end
      end
    end
    if ncnt >= 0 and not anchored then -- RegExp.test: a match may start anywhere
      ncnt = add_thread(re, nlist, ncnt, 1, ni, s, n, gen)
    end
    clist, nlist, ccnt, i = nlist, clist, ncnt, ni
  end
  re.gen = gen
  return ccnt < 0
end

-- Lua pattern translation, for patterns that are a sequence of single-character items.
local LUA_MAGIC = { [36] = true, [37] = true, [40] = true, [41] = true, [42] = true, [43] = true,
  [45] = true, [46] = true, [63] = true, [91] = true, [93] = true, [94] = true } -- $%()*+-.?[]^
local LUA_SET_SPECIAL = { [37] = true, [45] = true, [93] = true, [94] = true } -- % - ] ^

-- The Lua item for a one-character node, seen on ASCII input only; nil if there is none.
local function lua_item(node)
  if node.t == "char" then
    local c = node.cp
    if c > 127 then
      return nil
    end
    return (LUA_MAGIC[c] and "%" or "") .. char(c)
  elseif node.t ~= "set" then
    return nil
  end
  local r, parts = node.ranges, {}
  for i = 1, #r, 2 do
    local lo, hi = r[i], min(r[i + 1], 127)
    if lo > 127 then
      break
    end
    -- a range end must be a raw character, and these are not raw inside a Lua set
    while lo <= hi and LUA_SET_SPECIAL[lo] do
      parts[#parts + 1] = "%" .. char(lo)
      lo = lo + 1
    end
    while hi >= lo and LUA_SET_SPECIAL[hi] do
      parts[#parts + 1] = "%" .. char(hi)
      hi = hi - 1
    end
    if lo == hi then
      parts[#parts + 1] = char(lo)
    elseif lo < hi then
      parts[#parts + 1] = char(lo) .. "-" .. char(hi)
    end
  end
  if #parts == 0 then
    return nil -- matches no ASCII character; leave it to the NFA
  end
  return "[" .. concat(parts) .. "]"
end

local function flatten(node, items)
  if node.t == "seq" then
    for _, item in ipairs(node.items) do
      if not flatten(item, items) then
        return false
      end
    end
    return true
  elseif node.t == "alt" or node.t == "wb" then
    return false
  end
  items[#items + 1] = node
  return true
end

-- Returns the Lua pattern and the degree of its worst-case backtracking (unbounded items, plus
-- one for the unanchored search), or nil.
local function lua_pattern(tree)
  local items = {}
  if not flatten(tree, items) then
    return nil
  end
  local out, unbounded, optional, anchored = {}, 0, 0, false
  for idx, node in ipairs(items) do
    local t = node.t
    if t == "bol" then
      if idx ~= 1 then
        return nil
      end
      out[#out + 1], anchored = "^", true
    elseif t == "eol" then
      if idx ~= #items then
        return nil
      end
      out[#out + 1] = "$"
    elseif t == "rep" then
      local item = lua_item(node.node)
      if not item or node.min > 32 then
        return nil
      end
      for _ = 1, node.min do
        out[#out + 1] = item
      end
      if node.max == nil then
        if node.min > 0 then
          out[#out] = item .. "+"
        else
          out[#out + 1] = item .. "*"
        end
        unbounded = unbounded + 1
      else
        for _ = node.min + 1, node.max do
          out[#out + 1] = item .. "?"
        end
        optional = optional + node.max - node.min
      end
    else
      local item = lua_item(node)
      if not item then
        return nil
      end
      out[#out + 1] = item
    end
  end
  if optional > 8 then -- each "?" doubles the backtracking
    return nil
  end
  return concat(out), unbounded + (anchored and 0 or 1)
end

local regex_cache = setmetatable({}, { __mode = "v" })

-- Compiles an ECMA-262 regex (the subset above) into a matcher function(s) -> boolean that tells
-- whether `s` contains a match. Returns nil, "syntax" | "unsupported", message otherwise.
local function regex(src)
  local cached = regex_cache[src]
  if cached then
    return cached
  end
  if not utf8_len(src) then
    return nil, "syntax", "invalid UTF-8"
  end
  local ok, tree = pcall(parse_regex, src)
  if not ok then
    if type(tree) == "table" and tree.regex then
      return nil, tree.regex, tree.msg
    end
    error(tree, 0)
  end
  if program_size(tree) > MAX_PROG then
    return nil, "unsupported", "pattern too large"
  end
  local re = build_program(tree)
  local lpat, degree = lua_pattern(tree)
  -- Lua's matcher backtracks: O(n^degree) in the worst case. Degree 1 is linear; degree 2 is
  -- at most a million steps in C up to 1024 bytes; past that the NFA's linear time wins.
  local fast_limit = not lpat and -1 or degree <= 1 and huge or degree == 2 and 1024 or -1
  local function match(s)
    if #s <= fast_limit and not find(s, "[\128-\255]") then
      return find(s, lpat) ~= nil
    end
    return nfa_match(re, s)
  end
  regex_cache[src] = match
  return match
end

M.regex = regex

---------------------------------------------------------------------------------------------------
-- compiling schemas

-- Compile errors travel as { bad_schema = message } and are caught by compile_root.
local function bad(ptr, msg)
  error({ bad_schema = ptr .. ": " .. msg }, 0)
end

local function ptr_join(ptr, key)
  if type(key) == "number" then
    return ptr .. "/" .. key
  end
  return ptr .. "/" .. gsub(gsub(key, "~", "~0"), "/", "~1")
end

local function ALWAYS()
  return true
end

local function NEVER()
  return fail("not allowed (schema is false)")
end

-- A reference to a schema that is still being compiled (recursion through $ref, or a schema table
-- that contains itself) goes through this guard: the only way validation can recurse without
-- bound is a cyclic Lua value against such a schema, and every such recursion passes here.
local MAX_REF_DEPTH = 1000
local ref_depth = 0

local function guarded(cell)
  return function(v)
    if ref_depth >= MAX_REF_DEPTH then
      return fail("nesting deeper than " .. MAX_REF_DEPTH .. " $ref levels")
    end
    ref_depth = ref_depth + 1
    local ok, e = cell[1](v)
    ref_depth = ref_depth - 1
    return ok, e
  end
end

local function seq(checks)
  local n = #checks
  if n == 0 then
    return ALWAYS
  elseif n == 1 then
    return checks[1]
  elseif n == 2 then
    local a, b = checks[1], checks[2]
    return function(v)
      local ok, e = a(v)
      if not ok then
        return nil, e
      end
      return b(v)
    end
  end
  return function(v)
    for i = 1, n do
      local ok, e = checks[i](v)
      if not ok then
        return nil, e
      end
    end
    return true
  end
end

local function is_array_value(t)
  return type(t) == "table" and (table_kind(t) & K_ARRAY) ~= 0
end

local function is_object_value(t)
  return type(t) == "table" and (table_kind(t) & K_OBJECT) ~= 0
end

local function is_count(x)
  return type(x) == "number" and x >= 0 and x % 1 == 0
end

local function is_number(x)
  return type(x) == "number" and x == x
end

local compile

-- The keys of an object-valued keyword, sorted so that compilation (and so the order of checks
-- and of error messages) does not depend on hash order.
local function sorted_keys(t, ptr)
  local keys = {}
  for k in next, t do
    if type(k) ~= "string" then
      bad(ptr, "keys must be strings, got " .. type(k))
    end
    keys[#keys + 1] = k
  end
  sort(keys)
  return keys
end

local function compile_list(ctx, s, list, ptr, inplace)
  local fns = {}
  for i = 1, #list do
    local p = ptr_join(ptr, i - 1)
    fns[i] = compile(ctx, list[i], p)
    if inplace then
      ctx.edge(s, list[i], p)
    end
  end
  return fns
end

local function string_list(x, ptr)
  if not is_array_value(x) then
    bad(ptr, "expected an array of strings")
  end
  if next(x) == nil and getmetatable(x) == nil then
    setmetatable(x, array_mt) -- `required = {}` is a list: sent as [], not {}
  end
  for i = 1, #x do
    if type(x[i]) ~= "string" then
      bad(ptr_join(ptr, i - 1), "expected a string, got " .. type_name(x[i]))
    end
  end
  return x
end

-- Resolves a local $ref against the root; returns the target schema or nil.
local function resolve(root, ref)
  if ref == "#" then
    return root
  elseif sub(ref, 1, 2) ~= "#/" then
    return nil
  end
  local node = root
  for seg in (sub(ref, 3) .. "/"):gmatch("([^/]*)/") do
    seg = gsub(seg, "%%(%x%x)", function(h)
      return char(tonumber(h, 16))
    end)
    seg = gsub(gsub(seg, "~1", "/"), "~0", "~")
    if type(node) ~= "table" then
      return nil
    end
    if table_kind(node) == K_ARRAY then
      local i = find(seg, "^%d+$") and tonumber(seg)
      node = i and node[i + 1]
    else
      node = node[seg]
    end
    if node == nil then
      return nil
    end
  end
  return node
end

local function type_check(mask, names)
  local function wrong(v)
    return fail("expected " .. names .. ", got " .. type_name(v))
  end
  if mask == K_STRING then
    return function(v)
      if type(v) == "string" then
        return true
      end
      return wrong(v)
    end
  elseif mask == K_NUMBER | K_INTEGER then
    return function(v)
      if type(v) == "number" then
        return true
      end
      return wrong(v)
    end
  elseif mask == K_BOOLEAN then
    return function(v)
      if type(v) == "boolean" then
        return true
      end
      return wrong(v)
    end
  end
  -- An empty plain table passes as either; where only an array may be, it is
  -- marked one, so that it goes out as [] (a tool's structured content), not {}.
  local array_only = (mask & K_ARRAY) ~= 0 and (mask & K_OBJECT) == 0
  return function(v)
    local k = kind(v)
    if (k & mask) ~= 0 then
      if array_only and k == K_EMPTY and getmetatable(v) == nil then
        setmetatable(v, array_mt)
      end
      return true
    end
    return wrong(v)
  end
end

local TYPE_LIST = "array, boolean, integer, null, number, object or string"

local function compile_type(t, ptr)
  local names, mask = t, TYPE_MASK[t]
  if type(t) == "string" then
    if not mask then
      bad(ptr, format("unknown type %q (expected %s)", t, TYPE_LIST))
    end
  elseif is_array_value(t) and #t > 0 then
    local seen = {}
    mask = 0
    for i = 1, #t do
      local name, p = t[i], ptr_join(ptr, i - 1)
      if type(name) ~= "string" then
        bad(p, "expected a type name, got " .. type_name(name))
      elseif not TYPE_MASK[name] then
        bad(p, format("unknown type %q (expected %s)", name, TYPE_LIST))
      elseif seen[name] then
        bad(p, format("duplicate type %q", name))
      end
      seen[name] = true
      mask = mask | TYPE_MASK[name]
    end
    names = concat(t, " or ")
  else
    bad(ptr, "expected a type name or a non-empty array of type names")
  end
  return type_check(mask, names)
end

local function compile_enum(e, ptr)
  if not is_array_value(e) then
    bad(ptr, "expected an array")
  end
  local set, tables = {}, {}
  for i = 1, #e do
    local x = e[i]
    if type(x) == "table" then
      tables[#tables + 1] = x
    elseif x == x then -- NaN cannot be a key, and equals nothing anyway
      set[x] = true -- integral floats become integer keys, so 1.0 finds 1
    end
  end
  local ntables = #tables
  return function(v)
    if type(v) ~= "table" then
      if v == v and set[v] then
        return true
      end
    else
      for i = 1, ntables do
        if equal(v, tables[i]) then
          return true
        end
      end
    end
    return fail("expected one of " .. encode_short(e))
  end
end

local function compile_const(c)
  return function(v)
    if v == c or equal(v, c) then
      return true
    end
    return fail("expected constant " .. encode_short(c))
  end
end

local function compile_number(s, ptr)
  local mn, mx, xmn, xmx, mult = s.minimum, s.maximum, s.exclusiveMinimum, s.exclusiveMaximum, s.multipleOf
  if mn == nil and mx == nil and xmn == nil and xmx == nil and mult == nil then
    return nil
  end
  for _, k in ipairs({ "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf" }) do
    local x = s[k]
    if type(x) == "boolean" and k ~= "minimum" and k ~= "maximum" and k ~= "multipleOf" then
      bad(ptr_join(ptr, k), "expected a number (the draft-04 boolean form is not supported)")
    elseif x ~= nil and not is_number(x) then
      bad(ptr_join(ptr, k), "expected a number, got " .. type_name(x))
    end
  end
  if mult ~= nil and mult <= 0 then
    bad(ptr_join(ptr, "multipleOf"), "expected a number greater than 0")
  end
  local exact = math_type(mult) == "integer"
  return function(v)
    if type(v) ~= "number" then
      return true
    end
    if mn and v < mn then
      return fail("expected a number >= " .. tostring(mn) .. ", got " .. tostring(v))
    elseif mx and v > mx then
      return fail("expected a number <= " .. tostring(mx) .. ", got " .. tostring(v))
    elseif xmn and v <= xmn then
      return fail("expected a number > " .. tostring(xmn) .. ", got " .. tostring(v))
    elseif xmx and v >= xmx then
      return fail("expected a number < " .. tostring(xmx) .. ", got " .. tostring(v))
    end
    if mult then
      local ok
      if exact and math_type(v) == "integer" then
        ok = v % mult == 0
      else
        -- floats: a decimal step like 0.1 has no exact binary form, so allow rounding error
        local q = v / mult
        local r = q % 1
        local eps = abs(q) * 2 ^ -45
        ok = r <= eps or 1 - r <= eps
      end
      if not ok then
        return fail("expected a multiple of " .. tostring(mult) .. ", got " .. tostring(v))
      end
    end
    return true
  end
end

local function compile_pattern(ctx, src, ptr)
  if type(src) ~= "string" then
    bad(ptr, "expected a string, got " .. type_name(src))
  end
  local re, why, msg = regex(src)
  if not re then
    if why == "syntax" then
      bad(ptr, format("invalid regular expression %s: %s", encode_short(src), msg))
    end
    ctx.notes[#ctx.notes + 1] = format("%s: regular expression %s not enforced (%s is not supported)",
      ptr, encode_short(src), msg)
  end
  return re
end

local function compile_string(ctx, s, ptr)
  local mnl, mxl, pat = s.minLength, s.maxLength, s.pattern
  if s.format ~= nil and type(s.format) ~= "string" then
    bad(ptr_join(ptr, "format"), "expected a string, got " .. type_name(s.format))
  end
  if mnl == nil and mxl == nil and pat == nil then
    return nil
  end
  if mnl ~= nil and not is_count(mnl) then
    bad(ptr_join(ptr, "minLength"), "expected a non-negative integer")
  end
  if mxl ~= nil and not is_count(mxl) then
    bad(ptr_join(ptr, "maxLength"), "expected a non-negative integer")
  end
  local re = pat ~= nil and compile_pattern(ctx, pat, ptr_join(ptr, "pattern")) or nil
  if mnl == 0 then
    mnl = nil
  end
  if mnl == nil and mxl == nil and re == nil then
    return nil
  end
  return function(v)
    if type(v) ~= "string" then
      return true
    end
    -- A UTF-8 string has between #v / 4 and #v code points: count only when that range straddles
    -- a limit. Invalid UTF-8 counts bytes.
    local bytes = #v
    if mxl and bytes > mxl then
      local len = utf8_len(v) or bytes
      if len > mxl then
        return fail("expected at most " .. count(mxl, "character", "characters") .. ", got " .. len)
      end
    end
    if mnl and bytes < 4 * mnl then
      local len = bytes < mnl and bytes or utf8_len(v) or bytes
      if len < mnl then
        return fail("expected at least " .. count(mnl, "character", "characters") .. ", got " .. len)
      end
    end
    if re and not re(v) then
      return fail("does not match pattern " .. encode_short(pat))
    end
    return true
  end
end

local function unique_failure(v, n)
  -- small arrays: pairwise, no allocation
  if n <= 16 then
    for i = 1, n - 1 do
      for j = i + 1, n do
        if equal(v[i], v[j]) then
          return i, j
        end
      end
    end
    return nil
  end
  local seen, tables = {}, {}
  for i = 1, n do
    local x = v[i]
    if type(x) == "table" then
      for _, j in ipairs(tables) do
        if equal(v[j], x) then
          return j, i
        end
      end
      tables[#tables + 1] = i
    elseif x == x then
      local j = seen[x]
      if j then
        return j, i
      end
      seen[x] = i
    end
  end
  return nil
end

local function compile_array(ctx, s, ptr)
  local items, prefix, additional = s.items, s.prefixItems, s.additionalItems
  local mni, mxi, uniq = s.minItems, s.maxItems, s.uniqueItems
  local contains, mnc, mxc = s.contains, s.minContains, s.maxContains
  for _, k in ipairs({ "minItems", "maxItems", "minContains", "maxContains" }) do
    if s[k] ~= nil and not is_count(s[k]) then
      bad(ptr_join(ptr, k), "expected a non-negative integer")
    end
  end
  if uniq ~= nil and type(uniq) ~= "boolean" then
    bad(ptr_join(ptr, "uniqueItems"), "expected a boolean")
  end
  local prefix_fns, rest
  if prefix ~= nil then
    if not is_array_value(prefix) or #prefix == 0 then
      bad(ptr_join(ptr, "prefixItems"), "expected a non-empty array of schemas")
    end
    prefix_fns = compile_list(ctx, s, prefix, ptr_join(ptr, "prefixItems"))
    if type(items) == "table" and table_kind(items) == K_ARRAY then
      bad(ptr_join(ptr, "items"), "the array form of items cannot be combined with prefixItems")
    end
  end
  if type(items) == "table" and table_kind(items) == K_ARRAY then -- draft-07 tuple
    prefix_fns = compile_list(ctx, s, items, ptr_join(ptr, "items"))
    if additional ~= nil then
      rest = compile(ctx, additional, ptr_join(ptr, "additionalItems"))
    end
  else
    if items ~= nil then
      rest = compile(ctx, items, ptr_join(ptr, "items"))
    end
    if additional ~= nil then -- ignored without a tuple, but still a schema
      compile(ctx, additional, ptr_join(ptr, "additionalItems"))
    end
  end
  local contains_fn
  if contains ~= nil then
    contains_fn = compile(ctx, contains, ptr_join(ptr, "contains"))
    mnc = mnc or 1
  end
  if rest == ALWAYS then
    rest = nil
  end
  if uniq ~= true then
    uniq = nil
  end
  local nprefix = prefix_fns and #prefix_fns or 0
  if nprefix == 0 and not rest and not mni and not mxi and not uniq and not contains_fn then
    return nil
  end
  return function(v)
    if type(v) ~= "table" then
      return true
    end
    if (table_kind(v) & K_ARRAY) == 0 then
      return true -- an object
    end
    local n = #v
    if mni and n < mni then
      return fail("expected at least " .. count(mni, "item", "items") .. ", got " .. n)
    elseif mxi and n > mxi then
      return fail("expected at most " .. count(mxi, "item", "items") .. ", got " .. n)
    end
    for i = 1, min(n, nprefix) do
      local ok, e = prefix_fns[i](v[i])
      if not ok then
        e[#e + 1] = i - 1
        return nil, e
      end
    end
    if rest then
      if rest == NEVER and n > nprefix then
        return fail("expected at most " .. count(nprefix, "item", "items") .. ", got " .. n)
      end
      for i = nprefix + 1, n do
        local ok, e = rest(v[i])
        if not ok then
          e[#e + 1] = i - 1
          return nil, e
        end
      end
    end
    if uniq and n > 1 then
      local i, j = unique_failure(v, n)
      if i then
        return fail(format("items %d and %d are equal, expected unique items", i - 1, j - 1))
      end
    end
    if contains_fn then
      local found = 0
      for i = 1, n do
        if contains_fn(v[i]) then
          found = found + 1
          if not mxc and found >= mnc then
            break
          end
        end
      end
      if found < mnc then
        return fail("expected at least " .. count(mnc, "item", "items") .. " matching 'contains', got " .. found)
      elseif mxc and found > mxc then
        return fail("expected at most " .. count(mxc, "item", "items") .. " matching 'contains', got " .. found)
      end
    end
    return true
  end
end

-- `typed`: the schema's type is exactly "object" and no other check runs between that type check
-- and this one, so the returned validator does the type check itself (one call instead of two).
local function compile_object(ctx, s, ptr, typed)
  local props, pattern_props, addl, names = s.properties, s.patternProperties,
    s.additionalProperties, s.propertyNames
  local req, mnp, mxp = s.required, s.minProperties, s.maxProperties
  local dep_req, dep_schemas, deps = s.dependentRequired, s.dependentSchemas, s.dependencies

  local required = req ~= nil and string_list(req, ptr_join(ptr, "required")) or {}
  local nreq = #required
  for _, k in ipairs({ "minProperties", "maxProperties" }) do
    if s[k] ~= nil and not is_count(s[k]) then
      bad(ptr_join(ptr, k), "expected a non-negative integer")
    end
  end

  -- properties: parallel arrays of names and validators, plus the set of declared names
  local pnames, pfns, declared = {}, {}, {}
  if props ~= nil then
    local p = ptr_join(ptr, "properties")
    if not is_object_value(props) then
      bad(p, "expected an object of schemas")
    end
    for _, k in ipairs(sorted_keys(props, p)) do
      local f = compile(ctx, props[k], ptr_join(p, k))
      declared[k] = true
      if f ~= ALWAYS then
        pnames[#pnames + 1], pfns[#pfns + 1] = k, f
      end
    end
  end
  local nprops = #pnames

  local pat_res, pat_fns, unenforced = {}, {}, false
  if pattern_props ~= nil then
    local p = ptr_join(ptr, "patternProperties")
    if not is_object_value(pattern_props) then
      bad(p, "expected an object of schemas")
    end
    for _, k in ipairs(sorted_keys(pattern_props, p)) do
      local f = compile(ctx, pattern_props[k], ptr_join(p, k))
      local re = compile_pattern(ctx, k, ptr_join(p, k))
      if re then
        pat_res[#pat_res + 1], pat_fns[#pat_fns + 1] = re, f
      else
        unenforced = true -- cannot tell which names it covers, so none is "additional"
      end
    end
  end
  local npat = #pat_res

  local addl_fn = addl ~= nil and compile(ctx, addl, ptr_join(ptr, "additionalProperties")) or nil
  if addl_fn == ALWAYS or unenforced then
    addl_fn = nil
  end
  local names_fn = names ~= nil and compile(ctx, names, ptr_join(ptr, "propertyNames")) or nil
  if names_fn == ALWAYS then
    names_fn = nil
  end

  -- dependentRequired / dependentSchemas, and draft-07 dependencies (either form per entry)
  local dr_keys, dr_lists, ds_keys, ds_fns = {}, {}, {}, {}
  local function dependencies(t, p, allow_list, allow_schema)
    if t == nil then
      return
    end
    if not is_object_value(t) then
      bad(p, "expected an object")
    end
    for _, k in ipairs(sorted_keys(t, p)) do
      local x, kp = t[k], ptr_join(p, k)
      if allow_list and is_array_value(x) then
        dr_keys[#dr_keys + 1], dr_lists[#dr_lists + 1] = k, string_list(x, kp)
      elseif allow_schema then
        ds_keys[#ds_keys + 1], ds_fns[#ds_fns + 1] = k, compile(ctx, x, kp)
        ctx.edge(s, x, kp)
      else
        bad(kp, "expected an array of strings")
      end
    end
  end
  dependencies(dep_req, ptr_join(ptr, "dependentRequired"), true, false)
  dependencies(dep_schemas, ptr_join(ptr, "dependentSchemas"), false, true)
  dependencies(deps, ptr_join(ptr, "dependencies"), true, true)
  local ndr, nds = #dr_keys, #ds_keys

  local scan = addl_fn ~= nil or npat > 0 or names_fn ~= nil or mnp ~= nil or mxp ~= nil
  if nreq == 0 and nprops == 0 and not scan and ndr == 0 and nds == 0 then
    return nil
  end
  return function(v)
    if type(v) ~= "table" or (table_kind(v) & K_OBJECT) == 0 then
      if typed then
        return fail("expected object, got " .. type_name(v))
      end
      return true -- not an object: other keywords judge it
    end
    for i = 1, nreq do
      if v[required[i]] == nil then
        return fail("missing required property " .. quote(required[i]))
      end
    end
    for i = 1, nprops do
      local x = v[pnames[i]]
      if x ~= nil then
        local ok, e = pfns[i](x)
        if not ok then
          e[#e + 1] = pnames[i]
          return nil, e
        end
      end
    end
    if scan then
      local nkeys = 0
      for k, x in next, v do
        nkeys = nkeys + 1
        local key = type(k) == "string" and k or tostring(k)
        if names_fn then
          local ok, e = names_fn(key)
          if not ok then
            return fail("invalid property name " .. quote(key) .. ": " .. e.msg)
          end
        end
        local matched = declared[key]
        for j = 1, npat do
          if pat_res[j](key) then
            matched = true
            local ok, e = pat_fns[j](x)
            if not ok then
              e[#e + 1] = key
              return nil, e
            end
          end
        end
        if not matched and addl_fn then
          if addl_fn == NEVER then
            return fail("property " .. quote(key) .. " is not allowed")
          end
          local ok, e = addl_fn(x)
          if not ok then
            e[#e + 1] = key
            return nil, e
          end
        end
      end
      if mnp and nkeys < mnp then
        return fail("expected at least " .. count(mnp, "property", "properties") .. ", got " .. nkeys)
      elseif mxp and nkeys > mxp then
        return fail("expected at most " .. count(mxp, "property", "properties") .. ", got " .. nkeys)
      end
    end
    for i = 1, ndr do
      if v[dr_keys[i]] ~= nil then
        local list = dr_lists[i]
        for j = 1, #list do
          if v[list[j]] == nil then
            return fail(format("property %s is required when %s is present", quote(list[j]), quote(dr_keys[i])))
          end
        end
      end
    end
    for i = 1, nds do
      if v[ds_keys[i]] ~= nil then
        local ok, e = ds_fns[i](v)
        if not ok then
          return nil, e
        end
      end
    end
    return true
  end
end

local function compile_combinators(ctx, s, ptr, checks)
  for _, k in ipairs({ "allOf", "anyOf", "oneOf" }) do
    local list = s[k]
    if list ~= nil then
      local p = ptr_join(ptr, k)
      if not is_array_value(list) or #list == 0 then
        bad(p, "expected a non-empty array of schemas")
      end
      local fns = compile_list(ctx, s, list, p, true)
      local n = #fns
      if k == "allOf" then
        for i = 1, n do
          if fns[i] ~= ALWAYS then
            checks[#checks + 1] = fns[i]
          end
        end
      elseif k == "anyOf" then
        checks[#checks + 1] = function(v)
          local subs
          for i = 1, n do
            local ok, e = fns[i](v)
            if ok then
              return true
            end
            subs = subs or {}
            subs[i] = e
          end
          return nil, { msg = "does not match any schema in anyOf", sub = subs }
        end
      else
        checks[#checks + 1] = function(v)
          local first, subs
          for i = 1, n do
            local ok, e = fns[i](v)
            if ok then
              if first then
                return fail(format("matches more than one schema in oneOf (%d and %d)", first - 1, i - 1))
              end
              first = i
            elseif not first then
              subs = subs or {}
              subs[i] = e
            end
          end
          if first then
            return true
          end
          return nil, { msg = "does not match any schema in oneOf", sub = subs }
        end
      end
    end
  end
  if s["not"] ~= nil then
    local p = ptr_join(ptr, "not")
    local f = compile(ctx, s["not"], p)
    ctx.edge(s, s["not"], p)
    checks[#checks + 1] = function(v)
      if f(v) then
        return fail("must not match the schema in 'not'")
      end
      return true
    end
  end
  local fns = {}
  for _, k in ipairs({ "if", "then", "else" }) do
    if s[k] ~= nil then
      local p = ptr_join(ptr, k)
      fns[k] = compile(ctx, s[k], p)
      ctx.edge(s, s[k], p)
    end
  end
  local f_if, f_then, f_else = fns["if"], fns["then"] or ALWAYS, fns["else"] or ALWAYS
  if f_if and (f_then ~= ALWAYS or f_else ~= ALWAYS) then
    checks[#checks + 1] = function(v)
      if f_if(v) then
        return f_then(v)
      end
      return f_else(v)
    end
  end
end

-- Keywords that would change what validates but are not implemented: failing the load is better
-- than silently accepting what the schema forbids.
local UNSUPPORTED = {
  "$dynamicRef", "$dynamicRef is not supported",
  "$recursiveRef", "$recursiveRef is not supported",
  "unevaluatedProperties", "unevaluatedProperties is not supported; use additionalProperties",
  "unevaluatedItems", "unevaluatedItems is not supported; use items",
}

-- Compiles schema `s`, found at JSON pointer `ptr` of ctx.root, into a validator.
function compile(ctx, s, ptr)
  if s == true then
    return ALWAYS
  elseif s == false then
    return NEVER
  elseif type(s) ~= "table" or table_kind(s) == K_ARRAY then
    bad(ptr, "expected a schema (an object or a boolean), got " .. type_name(s))
  end
  local done = ctx.fns[s]
  if done then
    return done
  end
  local cell = ctx.cells[s]
  if cell then -- s is being compiled: a recursive schema
    return guarded(cell)
  end
  cell = {}
  ctx.cells[s] = cell
  ctx.order[#ctx.order + 1] = s

  for i = 1, #UNSUPPORTED, 2 do
    local k = UNSUPPORTED[i]
    if s[k] ~= nil and s[k] ~= true then
      bad(ptr_join(ptr, k), UNSUPPORTED[i + 1])
    end
  end

  local checks = {}
  if s.type ~= nil then
    checks[1] = compile_type(s.type, ptr_join(ptr, "type"))
  end
  local ref = s["$ref"]
  if ref ~= nil then
    local p = ptr_join(ptr, "$ref")
    if type(ref) ~= "string" then
      bad(p, "expected a string, got " .. type_name(ref))
    elseif sub(ref, 1, 1) ~= "#" then
      bad(p, format("cannot resolve %q: only local references (#, #/$defs/...) are supported", ref))
    end
    local target = resolve(ctx.root, ref)
    if target == nil then
      bad(p, format("cannot resolve %q: no such definition in this schema", ref))
    end
    local f = compile(ctx, target, ref)
    ctx.edge(s, target, p)
    if f ~= ALWAYS then
      checks[#checks + 1] = f
    end
  end
  if s.enum ~= nil then
    checks[#checks + 1] = compile_enum(s.enum, ptr_join(ptr, "enum"))
  end
  if s.const ~= nil then
    checks[#checks + 1] = compile_const(s.const)
  end
  -- each returns nil when none of its keywords is present; appending nil leaves no hole
  checks[#checks + 1] = compile_number(s, ptr)
  checks[#checks + 1] = compile_string(ctx, s, ptr)
  checks[#checks + 1] = compile_array(ctx, s, ptr)
  -- The common tool input schema (type "object" with properties and required): one validator.
  local typed = s.type == "object" and #checks == 1
  local obj = compile_object(ctx, s, ptr, typed)
  if obj and typed then
    checks[1] = obj
  else
    checks[#checks + 1] = obj
  end
  compile_combinators(ctx, s, ptr, checks)
  for _, k in ipairs({ "$defs", "definitions" }) do
    -- compiled so that a bad definition fails the load even if nothing refers to it
    local defs = s[k]
    if defs ~= nil then
      local p = ptr_join(ptr, k)
      if not is_object_value(defs) then
        bad(p, "expected an object of schemas")
      end
      for _, name in ipairs(sorted_keys(defs, p)) do
        compile(ctx, defs[name], ptr_join(p, name))
      end
    end
  end

  local fn = seq(checks)
  cell[1] = fn
  ctx.fns[s] = fn
  return fn
end

-- A cycle of schemas applied to the same value ($ref, allOf, anyOf, oneOf, not, if/then/else,
-- dependentSchemas) would recurse forever; returns the pointer of the edge that closes one.
local function inplace_cycle(ctx)
  local color = {}
  local function visit(s)
    color[s] = 1
    local edges = ctx.edges[s]
    if edges then
      for i = 1, #edges, 2 do
        local target, p = edges[i], edges[i + 1]
        if color[target] == 1 then
          return p
        elseif color[target] == nil then
          local found = visit(target)
          if found then
            return found
          end
        end
      end
    end
    color[s] = 2
    return nil
  end
  for _, s in ipairs(ctx.order) do
    if color[s] == nil then
      local found = visit(s)
      if found then
        return found
      end
    end
  end
  return nil
end

local function compile_root(s)
  local ctx = { root = s, fns = {}, cells = {}, order = {}, edges = {}, notes = {} }
  function ctx.edge(from, to, p)
    if type(to) == "table" then
      local list = ctx.edges[from]
      if not list then
        list = {}
        ctx.edges[from] = list
      end
      list[#list + 1], list[#list + 2] = to, p
    end
  end
  local ok, fn = pcall(compile, ctx, s, "#")
  if not ok then
    if type(fn) == "table" and fn.bad_schema then
      return nil, fn.bad_schema
    end
    error(fn, 0)
  end
  local p = inplace_cycle(ctx)
  if p then
    return nil, p .. ": reference cycle that never descends into the value"
  end
  return fn, nil, ctx.notes[1] and ctx.notes or nil
end

---------------------------------------------------------------------------------------------------
-- API

-- Compiled validators by schema table. Weak keys: a schema dropped by a reload takes its compiled
-- form with it. Schemas are treated as immutable once checked or used: a schema table changed
-- afterwards keeps validating as it was.
local compiled = setmetatable({}, { __mode = "k" })
local notes_of = setmetatable({}, { __mode = "k" })

--- Checks that `s` is a usable schema (a table or a boolean). Returns true and, if some regex will
--- not be enforced, a list of notes naming where; or nil and a message naming the bad keyword by
--- its JSON pointer, e.g. `#/properties/a/type: unknown type "strnig" (...)`.
function M.check(s)
  if s == true or s == false then
    return true
  end
  if type(s) == "table" and compiled[s] then
    return true, notes_of[s]
  end
  local fn, err, notes = compile_root(s)
  if not fn then
    return nil, err
  end
  compiled[s], notes_of[s] = fn, notes
  return true, notes
end

--- Validates `value` against schema `s`. Returns true, or nil and a message naming the JSON path of
--- the first problem, e.g. "$.b: expected number, got string". A schema that check() would reject
--- raises { code = "schema_invalid", message = ... }: that is a bug in the caller, not bad input.
function M.validate(s, value)
  local fn = compiled[s]
  if fn == nil then
    if s == true then
      return true
    elseif s == false then
      return nil, "$: not allowed (schema is false)"
    end
    local err
    fn, err = compile_root(s)
    if not fn then
      error({ code = "schema_invalid", message = "invalid schema: " .. err }, 2)
    end
    compiled[s] = fn
  end
  ref_depth = 0 -- validators never throw or yield, but start clean regardless
  local ok, e = fn(value)
  if ok then
    return true
  end
  return nil, render(e, "$")
end

return M
