# SIGAP: the two commands of the README's quick start, and the checks.
#   make demo   run the whole service locally (Ctrl-C stops it; DEMO_SECONDS=N stops after N s)
#   make test   run all the tests (starts its own Kafka broker on a free port)
#   make check  lint, type-check, audit and test: everything CI runs
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
KAFKA := deploy/kafka/local-kafka.sh

.PHONY: install kafka system-packages demo test lint typecheck audit check kafka-start kafka-stop clean

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

clean:
	rm -rf $(VENV) .local .mypy_cache .ruff_cache .pytest_cache
