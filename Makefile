# botportal: `make run` serves it on http://127.0.0.1:8000, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# Debian's Chromium drives the browser tests (tests/e2e); Playwright never downloads a browser.
BOTPORTAL_CHROMIUM ?= /usr/bin/chromium
# root runs apt-get itself; anyone else through sudo, when that needs no password.
APT_GET ?= $(if $(filter 0,$(shell id -u)),apt-get,sudo -n apt-get)

.PHONY: run test test-js install install-dev chromium lint bench screenshots

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev chromium
	@# The official clients of tests/compat, pinned in its package-lock.json: ChatBotKit's SDK, Microsoft's
	@# Direct Line client and Web Chat (their tests fail under CI=true without them).
	@if command -v npm >/dev/null 2>&1; then \
		[ tests/compat/node_modules/.package-lock.json -nt tests/compat/package-lock.json ] \
			|| npm ci --prefix tests/compat --no-audit --no-fund || exit 1; \
	else echo "npm not found: the ChatBotKit and Direct Line client tests will be skipped"; fi

chromium:
	@command -v "$(BOTPORTAL_CHROMIUM)" >/dev/null 2>&1 || { \
		if $(APT_GET) --version >/dev/null 2>&1; then \
			echo "Chromium not found at $(BOTPORTAL_CHROMIUM): installing Debian's chromium for the browser tests"; \
			$(APT_GET) update -qq && $(APT_GET) install -y -qq chromium \
				|| { echo "apt-get could not install chromium (see above)" >&2; exit 1; }; \
		fi; \
		command -v "$(BOTPORTAL_CHROMIUM)" >/dev/null 2>&1 || echo "Chromium not found at $(BOTPORTAL_CHROMIUM)" \
			"and not installed (apt-get needs root or password-less sudo): install it yourself" \
			"(Debian/Ubuntu: sudo apt-get install chromium) or set BOTPORTAL_CHROMIUM to its path;" \
			"the browser tests in tests/e2e fail without it." >&2; \
	}

# A development server: DEBUG on (and a secret generated once under var/) unless the environment
# says otherwise; botportal's own default is off.
run: export DEBUG ?= true
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setupdemo
	@echo "botportal on http://$(HOST):$(PORT)/ (admin: /admin/, API docs: /api/docs/). Ctrl-C stops it."
	@bash -c 'pids=(); \
		stop() { trap - INT TERM EXIT; kill -TERM "$${pids[@]}" 2>/dev/null; \
			for _ in $$(seq 20); do pgrep -P $$$$ >/dev/null || exit 0; sleep 0.5; done; \
			kill -KILL "$${pids[@]}" 2>/dev/null; exit 0; }; \
		trap stop INT TERM EXIT; \
		$(VENV)/bin/celery -A botportal worker --loglevel=INFO --concurrency=2 & pids+=($$!); \
		$(VENV)/bin/celery -A botportal beat --loglevel=INFO & pids+=($$!); \
		$(VENV)/bin/gunicorn botportal.asgi:application --bind $(HOST):$(PORT) --access-logfile - & pids+=($$!); \
		wait -n; stop'

# The whole suite; it includes the widget modules' Node unit tests (sessions_app/tests/widget/test_chat_modules.py).
test: install-dev
	$(PY) -m pytest $(PYTEST_ARGS)

# Only the widget modules' unit tests, with Node's own test runner (Node 20+, no npm packages).
test-js:
	node --test sessions_app/tests/widget/js/*.test.js

lint: install-dev
	$(VENV)/bin/ruff check .
	@# The import contracts of pyproject.toml ([tool.importlinter]): the layering DESIGN.md promises.
	$(VENV)/bin/lint-imports

# Refresh docs/screenshots/ (the admin dashboard, a transcript, the widget, Web Chat) with Debian's chromium.
screenshots: install-dev
	BOTPORTAL_SCREENSHOTS_DIR=docs/screenshots $(PY) -m pytest tests/e2e/test_screenshots.py tests/compat/test_webchat.py -q

# Load benchmarks on PostgreSQL (127.0.0.1:5432) under gunicorn with uvicorn's worker, not part of `make test`:
# each route against the ceiling with wrk (BENCH_ARGS="--server wsgi,asgi" compares the two servers), then
# 300 visitors streaming answers from a fake language model at once (STREAMS_ARGS, see bench/streams.py),
# over JSONL, then over Direct Line's WebSocket (the Redis channel layer when REDIS_URL is set).
bench: install-dev
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) bench/load.py $(BENCH_ARGS)
	$(PY) bench/streams.py $(STREAMS_ARGS)
	$(PY) bench/streams.py --protocol directline $(STREAMS_ARGS)
