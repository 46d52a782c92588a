# The two commands of the README. Both install what they need first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test faults install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## make run: the whole product at http://127.0.0.1:5000 (SQLite, embedded Redis, simulator, demo login)
run: install
	$(BIN)/flask --app app up

## make test: the full test suite (SQLite by default; TEST_DATABASE_URL=postgresql://... for PostgreSQL)
## The end-to-end tests drive Debian's Chromium, and the webhook TLS tests issue certificates with
## openssl: installed here when missing and we are root; for anyone else they fail and say how.
test: install
	@if { [ ! -x /usr/bin/chromium ] || ! command -v openssl >/dev/null; } && [ "$$(id -u)" -eq 0 ]; then \
		echo "Installing Debian's chromium and openssl for the tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium openssl >/dev/null; \
	fi
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make faults: only the fault-injection suite (tests/faults), with its table of scenarios; `make test`
## runs it too. Needs redis-server; the PostgreSQL restart scenario starts its own cluster with the
## server binaries under /usr/lib/postgresql (as the postgres user when run as root).
faults: install
	$(BIN)/python -m pytest tests/faults $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
