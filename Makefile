# Rapport — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test test-deps test-rust test-e2e test-api test-pgbackrest test-failover fmt lint bench build fuzz

## Start the server on 127.0.0.1:8080 with SQLite under ./data (creates it on first run).
run:
	$(CARGO) run --release --bin rapport -- serve

## The whole suite: installs test tools a fresh machine lacks, then Rust unit and integration
## tests (SQLite, and PostgreSQL when RAPPORT_TEST_DATABASE_URL is set) and the browser tests
## (headless Chromium).
test: test-deps test-rust test-e2e test-api test-pgbackrest test-failover

test-deps:
	bash scripts/test-deps.sh

test-rust:
	$(CARGO) test --workspace --all-targets

test-e2e:
	$(CARGO) build --bin rapport
	cd e2e && node --test

## The API contract: schemathesis against a running server and /api/openapi.json.
test-api:
	$(CARGO) build --bin rapport
	bash scripts/api-contract/run.sh

## PostgreSQL's production backup path drilled with pgBackRest on a scratch cluster (full,
## differential, incremental, WAL archive, point-in-time restore); with the PostgreSQL runs.
test-pgbackrest:
	$(CARGO) build --bin rapport
	@if [ -n "$$RAPPORT_TEST_DATABASE_URL" ]; then bash scripts/pgbackrest-drill.sh; \
	else echo "RAPPORT_TEST_DATABASE_URL not set: pgBackRest drill skipped"; fi

## PostgreSQL failover under write load: a synchronous standby promoted after the primary is
## killed; both servers follow it, 0 acknowledged writes lost; the read replica; with the
## PostgreSQL runs.
test-failover:
	$(CARGO) build --bin rapport
	@if [ -n "$$RAPPORT_TEST_DATABASE_URL" ]; then bash scripts/failover-drill.sh; \
	else echo "RAPPORT_TEST_DATABASE_URL not set: failover drill skipped"; fi

build:
	$(CARGO) build --release --bin rapport

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench:
	$(CARGO) build --release --bin rapport
	bash bench/run.sh

## Fuzz the import file reader and the vCard reader, FUZZ_SECONDS (300) each. Needs
## `cargo install cargo-fuzz`; nightly features through RUSTC_BOOTSTRAP=1 on the stable toolchain.
fuzz:
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run import_file -- -max_total_time=$${FUZZ_SECONDS:-300}
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run vcard -- -max_total_time=$${FUZZ_SECONDS:-300}
