# botportal: `make run` serves it on http://127.0.0.1:8000, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev lint bench screenshots

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
install-dev: $(VENV)/.installed-dev

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setupdemo
	@echo "botportal on http://$(HOST):$(PORT)/ (admin: /admin/, API docs: /api/docs/). Ctrl-C stops it."
	@bash -c 'trap "trap - INT TERM EXIT; kill 0" INT TERM EXIT; \
		$(VENV)/bin/celery -A botportal worker --beat --loglevel=INFO --concurrency=2 & \
		$(PY) manage.py runserver $(HOST):$(PORT) --noreload & \
		wait'

test: install-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .

# Refresh docs/screenshots/ (the admin dashboard and a transcript) with Debian's chromium.
screenshots: install-dev
	BOTPORTAL_SCREENSHOTS_DIR=docs/screenshots $(PY) -m pytest tests/e2e/test_screenshots.py -q
