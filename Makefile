# SIGAP: the two commands of the README's quick start, and the checks.
#   make demo   run the whole service locally (Ctrl-C stops it; DEMO_SECONDS=N stops after N s)
#   make test   run all the tests (starts its own Kafka broker on a free port)
#   make test-fast  the tests without the broker, PostgreSQL, external tools or `slow` marks (under a minute)
#   make check  lint, type-check, audit and test: everything CI runs
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
KAFKA := deploy/kafka/local-kafka.sh

.PHONY: install kafka system-packages demo test test-fast lint typecheck audit check kafka-start kafka-stop clean bench-quix-venv

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(INSTALLED)

kafka:
	bash $(KAFKA) fetch

system-packages:
	bash deploy/system-packages.sh

demo: install kafka system-packages
	$(BIN)/sigap demo

test: install kafka system-packages
	$(BIN)/python -m pytest

# The fast subset: no Kafka broker, no PostgreSQL, no Prometheus/Chromium, no test marked `slow`,
# and the quick Hypothesis profile `dev` (tests/properties.py) even under CI=true
# (HYPOTHESIS_PROFILE=ci make test-fast runs the thorough counts). `make test` runs everything.
HYPOTHESIS_PROFILE ?= dev
test-fast: install
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) $(BIN)/python -m pytest -q \
		-m "not broker and not external and not kafka and not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# Known vulnerabilities in the pinned dependencies (pip-audit; skipped with a message when no
# vulnerability service is reachable, see .ci/audit).
audit: install
	bash .ci/audit

check: lint typecheck audit test

kafka-start: kafka
	bash $(KAFKA) start

kafka-stop:
	bash $(KAFKA) stop

# The benchmark's Quix Streams peer (bench/quix_app.py) in its own virtualenv: quixstreams pins
# pydantic below the project's pin. bench/run.py skips the peer (with a note) without it.
QUIX_VENV := .venv-quix
$(QUIX_VENV)/.installed: bench/quix-constraints.txt
	$(PYTHON) -m venv $(QUIX_VENV)
	$(QUIX_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(QUIX_VENV)/bin/python -m pip install --quiet -r bench/quix-constraints.txt
	touch $@

bench-quix-venv: $(QUIX_VENV)/.installed

# Also the demo's state: its broker (stopped first), worker state, simulator mark, logs,
# Prometheus and Alertmanager data (all under .local/) and its score database sigap.db.
clean:
	-bash $(KAFKA) stop
	rm -rf $(VENV) $(QUIX_VENV) .local .mypy_cache .ruff_cache .pytest_cache sigap.db
