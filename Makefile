# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app rehab

.PHONY: run test lint serve bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[test,serve]'
	touch $@ $(VENV)/.installed

# axe-core for the accessibility checks in the browser tests (pinned in package-lock.json).
node_modules/axe-core/axe.min.js: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

instance/config.py:
	@mkdir -p instance
	@$(PYTHON) -c "import secrets; print('# Written by make run. Keep this file private; see the README for settings.'); print('SECRET_KEY = ' + repr(secrets.token_urlsafe(48)))" > $@
	@echo "Wrote instance/config.py with a new random SECRET_KEY."

# Compiled message catalogs (.mo) are build output: made from the .po files, never committed.
CATALOGS := $(patsubst %.po,%.mo,$(wildcard rehab/translations/*/LC_MESSAGES/messages.po))
%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel --quiet compile -i $< -o $@

## Install, migrate, seed the demo clinic when the database is empty, and serve on http://127.0.0.1:$(PORT)
run: $(VENV)/.installed instance/config.py $(CATALOGS)
	$(FLASK) migrate
	$(FLASK) seed-demo
	@echo "Serving on http://127.0.0.1:$(PORT)  (Ctrl+C to stop)"
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

## Install the test dependencies and run every test (browser tests need /usr/bin/chromium)
test: $(VENV)/.installed-test $(CATALOGS) node_modules/axe-core/axe.min.js
	$(BIN)/ruff check rehab tests bench
	$(BIN)/pytest -q
	@if [ -n "$$REHAB_TEST_POSTGRES_URL" ]; then \
		echo "Database tests again on PostgreSQL"; \
		REHAB_TEST_DATABASE_URL="$$REHAB_TEST_POSTGRES_URL" $(BIN)/pytest -q -m "db and not browser"; \
	fi

## Production-style serving: gunicorn, sensible workers, recycled workers, no query strings in the access log.
## Needs REHAB_SECRET_KEY (or instance/config.py) and refuses DEBUG.
serve: $(VENV)/.installed-test $(CATALOGS)
	$(FLASK) migrate
	$(BIN)/gunicorn -c python:rehab.gunicorn_conf "rehab:create_app()"

## Seed a clinic chain, serve it like `make serve`, measure every page; prints a table, writes bench/results.json
bench: $(VENV)/.installed-test $(CATALOGS)
	$(BIN)/python bench/run.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check rehab tests bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
