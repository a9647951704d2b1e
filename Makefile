# smsdesk — the two commands are `make run` and `make test`; both install what they need into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# pytest workers: 2 cores on CI; override with `make test PYTEST_WORKERS=0`.
PYTEST_WORKERS ?= 2

.PHONY: install run test test-fast lint format synth deploy bench lock clean web browser
# The web app (web/): npm ci when the lockfile changes, vite build when a source changes (stamps).
WEB_SRC := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json web/package.json
WEB_DEPS := web/node_modules/.installed
WEB_BUILD := web/dist/index.html
CHROMIUM ?= /usr/bin/chromium

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP) ## create .venv and install runtime + dev dependencies

$(WEB_DEPS): web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $(WEB_DEPS)

$(WEB_BUILD): $(WEB_DEPS) $(WEB_SRC)
	cd web && npm run --silent build
	@touch $(WEB_BUILD)

web: $(WEB_BUILD) ## build the web app into web/dist (only when its sources changed)

browser: ## Debian's Chromium for the browser tests (tests/browser), when missing and apt-get can install it
	@test -x $(CHROMIUM) || ! command -v apt-get >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: install web ## the local stack (moto + the same handlers) on 127.0.0.1:$${PORT:-8787}, until Ctrl-C
	$(VENV)/bin/smsdesk local

test: install lint web browser ## the whole test suite (what .ci/run calls; browser tests need Chromium)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile -q

test-fast: install ## unit tests only
	$(PY) -m pytest -q tests/unit

lint: install ## ruff (lint + format check)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

synth: install web ## CloudFormation template into cdk.out/ (no Docker, no AWS credentials); CONTEXT="-c stage=prod ..."
	$(PY) -m infra.app $(CONTEXT)

deploy: install web ## synth with $(CONTEXT), then deploy that stack with your AWS credentials (needs Node.js)
	$(PY) -m infra.app $(CONTEXT)
	npx --yes aws-cdk@2 deploy --app cdk.out --all $(DEPLOY_ARGS)

bench: install web ## benchmarks: cold start from the built layer, AWS calls per operation, cost per message, text-engine throughput
	$(PY) bench/run.py

lock: install ## re-resolve pyproject.toml's runtime dependencies into layers/lambda-requirements.txt (the layer's wheels)
	$(PY) -m infra.layer_build lock

clean:
	rm -rf cdk.out build .pytest_cache .ruff_cache .hypothesis web/dist
