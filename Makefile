# Rapport: `make dev` runs the whole stack locally; `make test` runs every test against it.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
MOTO_VERSION := 5.2.5
CFN_LINT_VERSION := 1.58.0
PORT ?= 3000

.PHONY: dev test bench lint fmt emulator browser clean

## The emulator (moto server), pinned, in its own virtualenv.
$(VENV)/.moto-$(MOTO_VERSION):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)'
	touch $@

emulator: $(VENV)/.moto-$(MOTO_VERSION)

## Headless Chromium and its driver for the widget's browser test (Debian's packages).
browser:
	@command -v chromedriver >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

## Start the emulator and the local stack on 127.0.0.1:$(PORT). RESET=1 starts empty, SEED=0 skips demo data.
dev: emulator
	cargo run --quiet -p rapport-local --bin rapport-local

## Unit, property, integration and browser tests; the emulator is started on a free port and stopped after.
test: emulator browser
	RAPPORT_BROWSER_TESTS=required infra/local/with-emulator.sh infra/local/run-tests.sh

## Timings of the main operations through the local stack (never asserted in tests): target/bench.json.
bench: emulator
	infra/local/with-emulator.sh cargo run --quiet -p rapport-tests --example bench

## cfn-lint on the SAM template, in its own virtualenv.
lint:
	test -x .venv-cfn/bin/cfn-lint || (python3 -m venv .venv-cfn && .venv-cfn/bin/pip install --quiet --disable-pip-version-check 'cfn-lint==$(CFN_LINT_VERSION)')
	.venv-cfn/bin/cfn-lint infra/template.yaml

fmt:
	cargo fmt --all

clean:
	rm -rf .local target
