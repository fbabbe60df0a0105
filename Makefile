# Rapport: `make dev` runs the whole stack locally; `make test` runs every test against it.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
MOTO_VERSION := 5.2.5
CFN_LINT_VERSION := 1.58.0
SAM_TRANSLATOR_VERSION := 1.115.0
PORT ?= 3000

.PHONY: dev test bench lint fmt emulator browser clean package

## The emulator (moto server) and the SAM translator (to expand the template as `sam deploy` does),
## pinned, in their own virtualenv.
$(VENV)/.moto-$(MOTO_VERSION)-sam-$(SAM_TRANSLATOR_VERSION):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)' \
	  'aws-sam-translator==$(SAM_TRANSLATOR_VERSION)'
	touch $@

emulator: $(VENV)/.moto-$(MOTO_VERSION)-sam-$(SAM_TRANSLATOR_VERSION)

## Headless Chromium and its driver for the widget's browser test (Debian's packages).
browser:
	@command -v chromedriver >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

## Start the emulator and the local stack on 127.0.0.1:$(PORT). RESET=1 starts empty, SEED=0 skips demo data.
dev: emulator
	mkdir -p target && $(VENV)/bin/python infra/local/expand_template.py infra/template.yaml target/sam-functions.json
	RAPPORT_SAM_FUNCTIONS=$(CURDIR)/target/sam-functions.json cargo run --quiet -p rapport-local --bin rapport-local

## Unit, property, integration and browser tests; the emulator is started on a free port and stopped after.
test: emulator browser
	RAPPORT_BROWSER_TESTS=required infra/local/with-emulator.sh infra/local/run-tests.sh

## Timings of the main operations through the local stack (never asserted in tests): target/bench.json.
## Cold starts: each function's release binary and a hello-world lambda_runtime one, built here in one run.
## The feed figure runs in `bench-feed` (tests/bin), a release binary built with them: the example is a debug build.
bench: emulator
	cargo build --release --bins -p rapport-jobs -p rapport-intake -p rapport-pipeline -p rapport-reports \
	  -p rapport-crm -p rapport-nurture -p rapport-events -p rapport-tests
	RAPPORT_RELEASE_DIR="$${CARGO_TARGET_DIR:-$(CURDIR)/target}/release" \
	  infra/local/with-emulator.sh cargo run --quiet -p rapport-tests --example bench

## cfn-lint on the SAM template, in its own virtualenv; checkov on it too, pinned, in another (it pins its own
## boto3), offline: no download from its vendor's platform, no check for a newer release. Every checkov check
## passes or is skipped in the template itself, on the resource, with its reason (never on the command line).
## Then cargo-deny (pinned, installed when missing) on
## Cargo.lock: advisories, licences, bans and sources, as deny.toml says. The advisories are the RustSec
## snapshot vendored in infra/advisory-db, laid out afresh as the git checkout cargo-deny opens (the
## folder name is cargo-deny's for deny.toml's db-url); it runs offline, after `cargo fetch`.
CARGO_DENY_VERSION := 0.20.2
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
ADVISORY_DB := target/advisory-dbs/advisory-db-3157b0e258782691

lint:
	test -x .venv-cfn/bin/cfn-lint || (python3 -m venv .venv-cfn && .venv-cfn/bin/pip install --quiet --disable-pip-version-check 'cfn-lint==$(CFN_LINT_VERSION)')
	.venv-cfn/bin/cfn-lint infra/template.yaml
	test -e $(CHECKOV_VENV)/.checkov-$(CHECKOV_VERSION) || (rm -rf $(CHECKOV_VENV) && python3 -m venv $(CHECKOV_VENV) && \
	  $(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)' && \
	  touch $(CHECKOV_VENV)/.checkov-$(CHECKOV_VERSION))
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(CHECKOV_VENV)/bin/checkov --framework cloudformation --file infra/template.yaml \
	  --skip-download --quiet --compact
	[ "$$(cargo deny --version 2>/dev/null)" = 'cargo-deny $(CARGO_DENY_VERSION)' ] || cargo install --locked 'cargo-deny@$(CARGO_DENY_VERSION)'
	infra/advisory-db/refresh.sh --check
	rm -rf $(ADVISORY_DB) && mkdir -p $(ADVISORY_DB) && cp -R infra/advisory-db/crates $(ADVISORY_DB)/
	git -C $(ADVISORY_DB) init -q && git -C $(ADVISORY_DB) add -A
	GIT_COMMITTER_DATE="$$(sed -n 's/^date //p' infra/advisory-db/SNAPSHOT)" git -C $(ADVISORY_DB) -c user.name=rapport \
	  -c user.email=lint@localhost -c commit.gpgsign=false commit -q --no-verify -m "advisory-db snapshot"
	@echo "advisories: RustSec advisory-db of $$(sed -n 's/^date //p' infra/advisory-db/SNAPSHOT) (infra/advisory-db)"
	cargo fetch --locked --quiet
	cargo deny --locked --offline check --hide-inclusion-graph
	cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
	cargo clippy --workspace --all-targets --locked --quiet -- -D warnings

## Deployment zips, as SAM deploys them: every function built for Lambda's arm64 (Graviton) with cargo-lambda,
## cross-linked by Zig, both pinned from PyPI in their own virtualenv. Each zip holds one `bootstrap`.
PACKAGE_VENV := .venv-package
CARGO_LAMBDA_VERSION := 1.9.2
ZIGLANG_VERSION := 0.14.1
LAMBDA_TARGET := aarch64-unknown-linux-gnu
LAMBDA_FUNCTIONS := crm events intake jobs nurture pipeline reports

$(PACKAGE_VENV)/.cargo-lambda-$(CARGO_LAMBDA_VERSION)-zig-$(ZIGLANG_VERSION):
	python3 -m venv $(PACKAGE_VENV)
	$(PACKAGE_VENV)/bin/pip install --quiet --disable-pip-version-check 'cargo-lambda==$(CARGO_LAMBDA_VERSION)' \
	  'ziglang==$(ZIGLANG_VERSION)'
	touch $@

package: $(PACKAGE_VENV)/.cargo-lambda-$(CARGO_LAMBDA_VERSION)-zig-$(ZIGLANG_VERSION)
	rustup target list --installed | grep -qx '$(LAMBDA_TARGET)' || rustup target add $(LAMBDA_TARGET)
	rm -f $(foreach f,$(LAMBDA_FUNCTIONS),target/lambda/$(f)/bootstrap.zip)
	export PATH="$(CURDIR)/$(PACKAGE_VENV)/bin:$$PATH"; \
	  time cargo lambda build --release --arm64 --output-format zip $(addprefix --bin ,$(LAMBDA_FUNCTIONS))
	@printf '%-10s %-38s %8s %13s  %s\n' function zip 'zip MB' 'bootstrap MB' 'goal: zip <= 5 MB'
	@for f in $(LAMBDA_FUNCTIONS); do \
	  zip=target/lambda/$$f/bootstrap.zip; \
	  python3 -c 'import os, sys, zipfile; z = zipfile.ZipFile(sys.argv[2]); assert z.namelist() == ["bootstrap"], z.namelist(); mb = os.path.getsize(sys.argv[2]) / 1e6; print("%-10s %-38s %8.2f %13.2f  %s" % (sys.argv[1], sys.argv[2], mb, z.getinfo("bootstrap").file_size / 1e6, "met" if mb <= 5 else "missed"))' $$f $$zip; \
	done

fmt:
	cargo fmt --all

clean:
	rm -rf .local target
