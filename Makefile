# The two commands of the README: `make demo` and `make test`. `make bench` measures.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint chromium node clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# Browser tests drive Debian's chromium; Playwright cannot download its own browser here.
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The widgets' pure rules are unit-tested under Node's own test runner (tests/js/).
node:
	@command -v node >/dev/null || { \
	  echo "installing Debian's nodejs for the widget rule tests"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs; }

# -- served widgets (issue #10's weight budget) --
# terser (Debian's package) minifies the loader and the widget chunks and renames their local names
# (no parentheses around function arguments: a V8 parsing hint worth nothing to chunks this small, ~110 B gzip).
# Its output is committed, so `make demo` needs no Node; server/assets.py serves a build only if it
# was made from the source as it is now (the hash in its first line), else the source minified by
# rjsmin, and tests/integration/test_config_and_assets.py fails until `make widgets` is run again.
.PHONY: widgets
widgets: node
	@command -v terser >/dev/null || { \
	  echo "installing Debian's terser to build the widgets"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq terser; }
	@mkdir -p widgets/dist embed/dist
	@set -e; for src in embed/embed.js widgets/*.js; do \
	  out=$$(dirname $$src)/dist/$$(basename $$src); \
	  case $$src in widgets/*) mod=--module;; *) mod=;; esac; \
	  { echo "// built by make widgets from $$src $$(sha256sum $$src | cut -c1-16)"; \
	    NODE_PATH=/usr/share/nodejs terser $$src $$mod --ecma 2020 --compress passes=2 --mangle --format wrap_func_args=false; } > $$out.tmp; \
	  mv $$out.tmp $$out; echo "$$out: $$(gzip -9 < $$out | wc -c) B gzipped"; \
	done

demo: $(VENV)/.installed
	$(BIN)/beckon demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

test: $(VENV)/.installed-test chromium node lint
	$(BIN)/pytest -q

# -- bench (#10): measures weight, host-page cost, ingest, alert/chat latency, idle connections;
# writes bench/results.md. Never fails on a missed budget: it prints it.
bench: $(VENV)/.installed-test chromium node
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache
