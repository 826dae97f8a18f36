# walrs: the two commands the README promises (`make demo`, `make test`) and their parts.
# Every target installs what it needs first, so both work on a fresh Debian 12 machine as root.

SHELL := /bin/bash
PG_VERSION ?= 15
export PG_VERSION
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: demo test deps install test-core test-pgrx test-e2e clean

## make demo: a throwaway cluster archiving to a local file:// repository
demo: install
	scripts/demo.sh

## make test: every test tier
test: deps
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory test-core test-pgrx test-e2e; \
	echo "make test: all tiers passed in $$(( $$(date +%s) - start )) s"

deps:
	scripts/install-deps.sh

install: deps
	scripts/install-walrs.sh

test-core:
	cargo test --locked -p walrs-core -p walrs-cli

test-pgrx: deps
	scripts/pgrx-test.sh

test-e2e: install
	cargo test --locked --release -p walrs-pg-test -- --test-threads=1

clean:
	cargo clean
	rm -rf /tmp/walrs-e2e /tmp/walrs-pgrx-* /tmp/walrs-demo
