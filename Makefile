# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app rehab

# Debian/Ubuntu packages, named only here: `make run` and `make test` check them before anything else (and
# install them when run as root), `.ci/run` installs them, the README lists them.
# Running: Python's venv, and WeasyPrint's Pango, HarfBuzz (with its subsetter, which embeds only the glyphs a
# sheet uses) and fontconfig, and the DejaVu fonts the sheets are set in.
RUN_PACKAGES := python3-venv libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fontconfig \
	fonts-dejavu-core
# Testing, on top: Chromium for the browser tests, pdftoppm to turn sheets into pictures, npm for axe-core.
TEST_PACKAGES := chromium poppler-utils npm
# CI only: the PostgreSQL server the database tests run against a second time.
CI_PACKAGES := postgresql

.PHONY: run test lint serve bench clean system-packages-run system-packages-test print-system-packages

system-packages-run:
	@PYTHON=$(PYTHON) scripts/system-packages $(RUN_PACKAGES)

system-packages-test:
	@PYTHON=$(PYTHON) scripts/system-packages $(RUN_PACKAGES) $(TEST_PACKAGES)

# For .ci/run: every package, one line.
print-system-packages:
	@echo $(RUN_PACKAGES) $(TEST_PACKAGES) $(CI_PACKAGES)

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-serve: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[serve]'
	touch $@ $(VENV)/.installed

# The test extra includes gunicorn (the load tests serve through it).
$(VENV)/.installed-test: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed $(VENV)/.installed-serve

# axe-core for the accessibility checks in the browser tests (pinned in package-lock.json).
node_modules/axe-core/axe.min.js: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

instance/config.py:
	@mkdir -p instance
	@umask 077; $(PYTHON) -c "import secrets; print('# Written by make run. Keep this file private; see the README for settings.'); print('SECRET_KEY = ' + repr(secrets.token_urlsafe(48)))" > $@
	@echo "Wrote instance/config.py with a new random SECRET_KEY."

# Compiled message catalogs (.mo) are build output: made from the .po files, never committed.
CATALOGS := $(patsubst %.po,%.mo,$(wildcard rehab/translations/*/LC_MESSAGES/messages.po))
%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel --quiet compile -i $< -o $@

## Install, migrate, seed the demo clinic when the database is empty, and serve on http://127.0.0.1:$(PORT) with
## a render worker beside the server (`flask render-worker`: it prints the sheets; both stop on Ctrl+C)
run: system-packages-run $(VENV)/.installed instance/config.py $(CATALOGS)
	$(FLASK) migrate
	$(FLASK) seed-demo
	@echo "Serving on http://127.0.0.1:$(PORT)  (Ctrl+C to stop); a render worker beside it prints the sheets"
	@$(FLASK) render-worker & worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
		$(FLASK) run --host 127.0.0.1 --port $(PORT)

## Install the test dependencies and run every test (browser tests need /usr/bin/chromium)
test: system-packages-test lint $(CATALOGS) node_modules/axe-core/axe.min.js
	$(BIN)/pytest -q
	@if [ -n "$$REHAB_TEST_POSTGRES_URL" ]; then \
		echo "Database tests again on PostgreSQL"; \
		REHAB_TEST_DATABASE_URL="$$REHAB_TEST_POSTGRES_URL" $(BIN)/pytest -q -m "db and not browser"; \
	fi

## Production-style serving: gunicorn, sensible workers, recycled workers, no query strings in the access log, and
## a render worker beside it (sheets never render in the page workers). Needs REHAB_SECRET_KEY (or
## instance/config.py) and refuses DEBUG.
serve: system-packages-run $(VENV)/.installed-serve $(CATALOGS)
	$(FLASK) migrate
	@$(FLASK) render-worker & worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
		$(BIN)/gunicorn -c python:rehab.gunicorn_conf "rehab:create_app()"

## Seed a clinic chain, serve it like `make serve`, measure every page; prints a table, writes bench/results.json
bench: system-packages-test $(VENV)/.installed-test $(CATALOGS)
	$(BIN)/python bench/run.py

## Style and security checks (ruff) and types (mypy, configured in pyproject.toml); `make test` runs them first
lint: $(VENV)/.installed-test
	$(BIN)/ruff check rehab tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
