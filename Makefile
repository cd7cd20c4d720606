# Rapport — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test test-rust test-e2e fmt lint bench build

## Start the server on 127.0.0.1:8080 with SQLite under ./data (creates it on first run).
run:
	$(CARGO) run --release --bin rapport -- serve

## The whole suite: Rust unit and integration tests (SQLite, and PostgreSQL when
## RAPPORT_TEST_DATABASE_URL is set), then the browser tests when e2e/ has its packages.
test: test-rust test-e2e

test-rust:
	$(CARGO) test --workspace --all-targets

test-e2e:
	@if [ -d e2e/node_modules ]; then \
		$(CARGO) build --bin rapport && cd e2e && node --test; \
	else \
		echo "e2e: skipped (run 'npm ci' in e2e/ to enable the browser tests)"; \
	fi

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
