# Two commands for a fresh machine: `make run` serves the app, `make test` runs every test
# (`make dev` serves it with the reloader and debugger instead).
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app webapp

.PHONY: run dev test setup

# each translation catalogue compiled beside its .po (webapp/translations/ru/...); never committed
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard webapp/translations/*/LC_MESSAGES/messages.po))

setup: $(VENV)/.installed static/vendor/.copied static/icons/.drawn $(CATALOGUES) \
	build/static/manifest.json

$(PY):
	python3 -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# front-end packages come from the npm registry; static/vendor is build output, never committed
static/vendor/.copied: node_modules/.package-lock.json
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp node_modules/@picocss/pico/css/pico.min.css static/vendor/pico.min.css
	touch $@

# the app icons are drawn by our own script (the artwork is code), like vendor never committed
static/icons/.drawn: scripts/make_icons.py $(VENV)/.installed
	$(PY) scripts/make_icons.py static/icons
	touch $@

# a fuzzy or untranslated entry is left out of the .mo (English shows): tests/test_translations.py fails on it
%/LC_MESSAGES/messages.mo: %/LC_MESSAGES/messages.po $(VENV)/.installed
	$(VENV)/bin/pybabel compile --statistics -i $< -o $@

# static files as they are served: each also under a name carrying its content's hash (cached
# for ever), with .br and .gz copies (webapp/views/delivery.py); build output, never committed
build/static/manifest.json: $(shell find static -type f) static/vendor/.copied static/icons/.drawn \
		scripts/build_static.py webapp/views/delivery.py $(VENV)/.installed
	$(PY) scripts/build_static.py static build/static

# the production server (gunicorn, deploy/gunicorn.conf.py) on http://127.0.0.1:5000, no debugger
run: setup
	$(FLASK) db upgrade
	$(FLASK) demo --if-empty
	$(VENV)/bin/gunicorn --config deploy/gunicorn.conf.py

# for development only: Flask's reloader and its in-browser debugger, on loopback
dev: setup
	$(FLASK) db upgrade
	$(FLASK) demo --if-empty
	$(FLASK) run --debug --host 127.0.0.1 --port 5000

test: setup
	$(PY) -m pytest
