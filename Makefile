# walrs: the two commands the README promises (`make demo`, `make test`) and their parts.
# Every target installs what it needs first, so both work on a fresh Debian 12 machine as root.

SHELL := /bin/bash
# PostgreSQL versions tested by `make test`; `make demo` uses the first.
PG_VERSIONS ?= 15 16 17 18
export PG_VERSIONS
export PATH := $(HOME)/.cargo/bin:$(PATH)
# build.rs gives the extension's cdylib pgrx's linker flag; cargo-pgrx would otherwise set it as a
# rustflag for every crate, and the walrs command would build every shared crate a second time.
export CARGO_PGRX_DISABLE_GC_SECTIONS_WORKAROUND := 1
DEMO_VERSION := $(firstword $(PG_VERSIONS))

.PHONY: demo test deps install test-servers test-core test-storage test-pgrx test-e2e bench bench-smoke clean

## make demo: the whole loop (archive, backup, list, point-in-time restore, verify, retention)
## on a throwaway cluster and a local file:// repository
demo:
	PG_VERSIONS=$(DEMO_VERSION) WALRS_NO_TEST_SERVERS=1 scripts/install-deps.sh
	scripts/install-walrs.sh $(DEMO_VERSION)
	PG_VERSION=$(DEMO_VERSION) scripts/demo.sh

## make test: every tier, on every supported PostgreSQL version, after running every install step
## into fresh prefixes (scripts/test.sh says which stay and which are made new)
test:
	scripts/test.sh

deps:
	scripts/install-deps.sh

install: deps
	scripts/install-walrs.sh $(DEMO_VERSION)

# moto (S3) and Azurite (Azure Blob), which the storage tests start on 127.0.0.1
test-servers:
	scripts/install-test-servers.sh

## core and CLI tests, the storage conformance suite on file://, memory://, S3 and Azure included
test-core: test-servers
	cargo test --locked -p walrs-core -p walrs-cli

## the storage tests alone (conformance on every backend, timeouts, credentials)
test-storage: test-servers
	cargo test --locked -p walrs-core --test storage_conformance --test storage_timeouts

test-pgrx: deps
	@for v in $(PG_VERSIONS); do s=$$(date +%s); scripts/pgrx-test.sh $$v || exit 1; \
	  echo "pgrx tests on PostgreSQL $$v: $$(( $$(date +%s) - s )) s"; done

test-e2e: deps
	@for v in $(PG_VERSIONS); do s=$$(date +%s); scripts/e2e.sh $$v || exit 1; \
	  echo "end-to-end scenarios on PostgreSQL $$v: $$(( $$(date +%s) - s )) s"; done

## make bench: walrs against pgBackRest, pg_basebackup, basic_archive, cp and the hardware
## (bench/bench.sh lists the BENCH_* variables). Not part of `make test`. Never installs into
## the system PostgreSQL: it runs a private copy under /opt/walrs-bench.
bench: deps
	bench/install.sh
	bench/bench.sh

## make bench-smoke: the same harness on tiny sizes, one round, results in /var/tmp
bench-smoke: deps
	bench/install.sh
	BENCH_SCALE=$${BENCH_SCALE:-2} BENCH_RANDOM_MB=$${BENCH_RANDOM_MB:-8} BENCH_ROUNDS=1 BENCH_TPS_SECONDS=5 \
	BENCH_WAL_SEGMENTS=8 BENCH_FETCH_SEGMENTS=4 BENCH_DIR=/var/tmp/walrs-bench-smoke \
	BENCH_RESULTS=/var/tmp/walrs-bench-smoke/results BENCH_PORT=43220 bench/bench.sh

clean:
	cargo clean
	rm -rf /tmp/walrs-e2e /tmp/walrs-pgrx-* /tmp/walrs-demo
