# Two commands: `make run` serves the platform with its worker; `make test` passes every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
APT_PACKAGES := chromium ffmpeg fonts-wqy-microhei

.PHONY: run test setup system-packages demo db clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# Debian packages the platform and its tests use (installed only when missing and apt can).
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "Please install:$$missing (sudo apt-get install$$missing)"; fi; \
	fi

db: setup
	$(BIN)/lms db upgrade

demo: db
	$(BIN)/lms demo

run: system-packages demo
	$(BIN)/lms run

test: setup system-packages
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@if [ -n "$$LMS_TEST_DATABASE_URL" ]; then \
	  echo "== the same tests on $$LMS_TEST_DATABASE_URL =="; \
	  LMS_TEST_BACKEND=url $(BIN)/python -m pytest $(PYTEST_ARGS); \
	fi

bench: setup
	$(BIN)/python bench/http_load.py

clean:
	rm -rf $(VENV) *.egg-info
