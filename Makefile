# netmon build: brings its own Node (>= 22.12 is needed for SO_REUSEPORT listeners),
# installs dependencies, compiles TypeScript to dist/.
NODE_VERSION := 24.21.0
NODE_ARCH := $(subst x86_64,x64,$(subst aarch64,arm64,$(shell uname -m)))
NODE_DIR := $(CURDIR)/.node
NODE := $(NODE_DIR)/bin/node
# the system tools the tests and benchmarks run (sysctl, nft, keepalived, bird, haproxy) live
# in sbin, which a non-login or minimal environment may leave off PATH
export PATH := $(NODE_DIR)/bin:$(CURDIR)/node_modules/.bin:$(PATH):/usr/local/sbin:/usr/sbin:/sbin
export npm_config_update_notifier := false
export npm_config_fund := false
export npm_config_audit := false

PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all build node deps test test-deps lint format demo bench fuzz soak soak-relay clean distclean install install-config relay asan

all: build

node: $(NODE)

# The npm registry's node-linux-<arch> package ships the official Node binary.
$(NODE):
	@echo "fetching Node $(NODE_VERSION) ($(NODE_ARCH)) into .node/"
	@rm -rf $(NODE_DIR).tmp && mkdir -p $(NODE_DIR).tmp
	cd $(NODE_DIR).tmp && npm pack --silent node-linux-$(NODE_ARCH)@$(NODE_VERSION) >/dev/null \
	  && tar xzf node-linux-$(NODE_ARCH)-$(NODE_VERSION).tgz --strip-components=1 \
	  && rm -f node-linux-$(NODE_ARCH)-$(NODE_VERSION).tgz
	@rm -rf $(NODE_DIR) && mv $(NODE_DIR).tmp $(NODE_DIR)
	@$(NODE) --version

deps: node_modules/.installed

node_modules/.installed: package.json package-lock.json $(NODE)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

build: dist/.built relay

# The native relay (daemon/data/native/*.c): a Node-API addon built with the
# machine's C compiler against the headers of the Node in .node/, no download.
# When it cannot be built, netmon relays with Node sockets ([data] relay =
# "auto") and says so in its log.
RELAY_SRC := $(addprefix daemon/data/native/,relay.c early.c conn.c listen.c api.c wait.c binding.c events.c fds.c)
RELAY_DEPS := $(RELAY_SRC) daemon/data/native/relay.h daemon/data/native/relay-int.h daemon/data/native/wait.h daemon/data/native/binding.h
RELAY_CFLAGS := -std=gnu11 -Wall -Wextra -Werror=implicit-function-declaration -fPIC -shared -fvisibility=hidden -DNAPI_VERSION=8 -I$(NODE_DIR)/include/node
RELAY_ADDON := build/netmon-relay.node
RELAY_ASAN := build/netmon-relay-asan.node
CC ?= cc

relay: $(RELAY_ADDON)

$(RELAY_ADDON): $(RELAY_DEPS) | $(NODE)
	@mkdir -p build
	@$(CC) -O2 -g $(RELAY_CFLAGS) -o $@.tmp $(RELAY_SRC) && mv $@.tmp $@ && echo "built $@" \
	  || { rm -f $@.tmp; echo "the native relay was not built: netmon will relay with Node sockets"; }

# The same, with AddressSanitizer and UBSan, for `make asan`
$(RELAY_ASAN): $(RELAY_DEPS) | $(NODE)
	@mkdir -p build
	$(CC) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined $(RELAY_CFLAGS) -o $@ $(RELAY_SRC)

# from scratch, so a source file removed or renamed leaves no stale module (or test) behind
dist/.built: node_modules/.installed tsconfig.json $(shell find cli daemon tui backends bench test -name '*.ts' -o -name '*.tsx' 2>/dev/null)
	rm -rf dist
	tsc -p tsconfig.json
	@touch $@

# the Debian packages the tests run against, then the suite (a skipped test fails
# the run: in CI it is a hole), then lint and format checks (they gate CI too)
SHELL := /bin/bash
# (test-deps first: it installs the C compiler the native relay is built with)
test: test-deps
	$(MAKE) --no-print-directory build
	@test -f $(RELAY_ADDON) || { echo "make test: the native relay ($(RELAY_ADDON)) was not built: its tests cannot run"; exit 1; }
	set -o pipefail; npm test 2>&1 | tee .test-output.log
	tools/check-skips.sh .test-output.log
	$(MAKE) --no-print-directory lint

test-deps:
	tools/test-deps.sh

# The relay tests and the relay fuzz (test/relay/fuzz.test.ts, a longer run:
# NETMON_RELAY_FUZZ) run on the native relay built with AddressSanitizer and
# UBSan (Node itself is not: the runtime is preloaded; Node's own allocations at
# exit are not leaks of ours, so leak checking is off)
ASAN_RUNTIME = $(shell $(CC) -print-file-name=libasan.so)
asan: build $(RELAY_ASAN)
	LD_PRELOAD=$(ASAN_RUNTIME) ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  NETMON_RELAY_ADDON=$(CURDIR)/$(RELAY_ASAN) NETMON_TEST_RELAY=native NETMON_RELAY_FUZZ=600 \
	  node --test --test-timeout=600000 dist/test/relay/*.test.js

# Long runs kept out of `make test`: 1 GiB each way through each relay, checksummed
soak-relay: build
	NETMON_RELAY_TRANSFER_MIB=1024 node --test --test-timeout=1800000 --test-name-pattern=checksummed dist/test/relay/transfer.test.js

# eslint (with the rule that keeps daemon/data/ off the control plane), formatting,
# dead code (knip: unused files, exports, types, dependencies) and import circles
# (madge, type-only imports included)
lint: deps
	eslint .
	prettier --check .
	knip
	npm run --silent lint:cycles

format: deps
	prettier --write .

demo: build
	bin/netmon demo

# `make bench BENCH_ARGS=--quick` for a short run
bench: build
	bin/netmon bench $(BENCH_ARGS)

# faults under load against a real daemon (docs/reliability.md): about 12 minutes;
# `make soak SOAK_ARGS=--quick` for a short run, `SOAK_ARGS="--only burst"` for one
soak: build test-deps
	$(NODE) dist/bench/soak/soak-main.js $(SOAK_ARGS)

# every parser with 1,000,000 seeded inputs each (random, mutated, well-formed): a table of
# exceptions, wrong answers and hangs; failing inputs saved under test/fixtures/fuzz/<parser>/;
# exit 1 on any. `make fuzz FUZZ_ARGS="--inputs 100000 --only config --seed 7"`
# Then the relays under random peers (test/relay/fuzz.test.ts): the same seeded peers, RELAY_FUZZ
# connections, through the native relay and through Node sockets; no crash, nothing leaked, still
# serving. `make fuzz RELAY_FUZZ=500 RELAY_FUZZ_SEED=3`
RELAY_FUZZ ?= 4000
RELAY_FUZZ_SEED ?= 7
fuzz: build
	$(NODE) dist/test/fuzz/main.js $(FUZZ_ARGS)
	NETMON_RELAY_FUZZ=$(RELAY_FUZZ) NETMON_RELAY_FUZZ_SEED=$(RELAY_FUZZ_SEED) NETMON_RELAY_FUZZ_AT_ONCE=64 \
	  $(NODE) --test --test-timeout=7200000 dist/test/relay/fuzz.test.js

clean:
	rm -rf dist build

distclean: clean
	rm -rf node_modules .node

# A working layout for systemd/netmon.service: the app and its Node under
# $(PREFIX)/lib/netmon, `netmon` on PATH, units with paths rewritten to PREFIX,
# the docs and the commented example config (conf/netmon.toml, which listens on
# every address) under $(PREFIX)/share/doc/netmon, and /etc/netmon/netmon.toml
# unless one is already there (never overwritten, never touched): a minimal
# config that listens on loopback only and says where the example is.
LIBDIR := $(DESTDIR)$(PREFIX)/lib/netmon
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
DOCDIR := $(PREFIX)/share/doc/netmon
install: build install-config
	rm -rf $(LIBDIR) && mkdir -p $(LIBDIR)/bin $(LIBDIR)/.node/bin $(DESTDIR)$(PREFIX)/bin
	cp -a package.json package-lock.json dist $(LIBDIR)/ && rm -rf $(LIBDIR)/dist/test $(LIBDIR)/dist/.built
	if [ -f $(RELAY_ADDON) ]; then mkdir -p $(LIBDIR)/build && cp $(RELAY_ADDON) $(LIBDIR)/build/; fi
	cp -a node_modules $(LIBDIR)/ && cd $(LIBDIR) && npm prune --omit=dev --no-audit --no-fund --loglevel=error
	install -m 0755 bin/netmon $(LIBDIR)/bin/netmon
	install -m 0755 $(NODE) $(LIBDIR)/.node/bin/node
	ln -sf ../lib/netmon/bin/netmon $(DESTDIR)$(PREFIX)/bin/netmon
	mkdir -p $(DESTDIR)$(UNITDIR)
	for u in netmon.service netmon.socket; do \
	  sed -e 's|/usr/local|$(PREFIX)|g' -e 's|/etc/netmon|$(SYSCONFDIR)/netmon|g' systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u; \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; \
	done
	@echo "installed netmon under $(DESTDIR)$(PREFIX); then: systemctl daemon-reload && systemctl enable --now netmon"

# The config part of install, on its own: docs, the example, and the minimal
# config when none is there.
install-config:
	mkdir -p $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/netmon
	cp docs/*.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 conf/netmon.toml $(DESTDIR)$(DOCDIR)/netmon.example.toml
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/netmon/netmon.toml ]; then \
	  echo "kept the existing $(DESTDIR)$(SYSCONFDIR)/netmon/netmon.toml (the example is $(DESTDIR)$(DOCDIR)/netmon.example.toml)"; \
	else \
	  sed -e 's|@EXAMPLE@|$(DOCDIR)/netmon.example.toml|' -e 's|@CONFIG@|$(SYSCONFDIR)/netmon/netmon.toml|' \
	    conf/netmon.minimal.toml > $(DESTDIR)$(SYSCONFDIR)/netmon/netmon.toml.tmp \
	  && chmod 0644 $(DESTDIR)$(SYSCONFDIR)/netmon/netmon.toml.tmp \
	  && mv -n $(DESTDIR)$(SYSCONFDIR)/netmon/netmon.toml.tmp $(DESTDIR)$(SYSCONFDIR)/netmon/netmon.toml \
	  && rm -f $(DESTDIR)$(SYSCONFDIR)/netmon/netmon.toml.tmp \
	  && echo "installed $(DESTDIR)$(SYSCONFDIR)/netmon/netmon.toml: loopback only; the example is $(DOCDIR)/netmon.example.toml"; \
	fi
