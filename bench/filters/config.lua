-- make bench, target 8: the tools/call echo with three message filters active.
plugins = {
  _paths = { "plugins" },
  bench_filters = { blocked_prefixes = { "delete_", "write_" } },
}
