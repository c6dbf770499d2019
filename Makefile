# netmon build: brings its own Node (>= 22.12 is needed for SO_REUSEPORT listeners),
# installs dependencies, compiles TypeScript to dist/.
NODE_VERSION := 24.21.0
NODE_ARCH := $(subst x86_64,x64,$(subst aarch64,arm64,$(shell uname -m)))
NODE_DIR := $(CURDIR)/.node
NODE := $(NODE_DIR)/bin/node
export PATH := $(NODE_DIR)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export npm_config_update_notifier := false
export npm_config_fund := false
export npm_config_audit := false

PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all build node deps test lint format demo bench clean distclean

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

build: dist/.built

dist/.built: node_modules/.installed tsconfig.json $(shell find cli daemon tui backends bench test -name '*.ts' -o -name '*.tsx' 2>/dev/null)
	tsc -p tsconfig.json
	@touch $@

test: build
	npm test

lint: deps
	eslint .
	prettier --check .

format: deps
	prettier --write .

demo: build
	bin/netmon demo

bench: build
	bin/netmon bench

clean:
	rm -rf dist

distclean: clean
	rm -rf node_modules .node
