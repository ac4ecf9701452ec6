# The two entry points: `make demo` and `make test`. Everything the suite needs is
# installed from here (Debian packages via apt when missing and we are root).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
DEMO_OUT ?= demo-out

.PHONY: demo test lint typecheck unit sysdeps bench clean revision

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,demo]'
	rm -f $(VENV)/.installed-*
	touch $@

# mosquitto for the broker tests, and its mosquitto_pub for the attacker of
# tests/test_attacks*.py; fonts for receipt PNGs and screens; Xvfb and the GL/mtdev
# libraries Kivy needs for the screen tests; faketime (libfaketime) for the tests that move
# a unit's clock (tests/test_old_receipts.py). Only installs when missing.
sysdeps:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || missing="$$missing mosquitto"; \
	command -v mosquitto_pub >/dev/null 2>&1 || missing="$$missing mosquitto-clients"; \
	test -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf || missing="$$missing fonts-dejavu-core"; \
	command -v Xvfb >/dev/null 2>&1 || missing="$$missing xvfb"; \
	command -v faketime >/dev/null 2>&1 || missing="$$missing faketime"; \
	for lib in libGL.so.1:libgl1 libmtdev.so.1:libmtdev1; do \
	  ldconfig -p | grep -q "$${lib%%:*}" || missing="$$missing $${lib#*:}"; done; \
	test -d /usr/lib/x86_64-linux-gnu/dri -o -d /usr/lib/aarch64-linux-gnu/dri || missing="$$missing libgl1-mesa-dri"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	  else echo "missing Debian packages:$$missing (run as root or: sudo apt-get install$$missing)"; exit 1; fi; \
	fi

demo: $(STAMP) sysdeps
	$(BIN)/appliance demo --headless --out $(DEMO_OUT)

lint: $(STAMP)
	$(BIN)/ruff check protocol appliance collector demo tests bench
	$(BIN)/ruff format --check protocol appliance collector demo tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) sysdeps lint typecheck
	$(BIN)/python -m pytest -q

# A new Alembic revision of the collector's schema: autogenerate's draft from the models
# against a scratch SQLite database at the head. Read it; it must be explicit DDL.
revision: $(STAMP)
	@test -n "$(MSG)" || { echo 'usage: make revision MSG="what changes"'; exit 2; }
	rm -f $(VENV)/revision.db
	$(BIN)/alembic -x db=sqlite:///$(VENV)/revision.db upgrade head
	$(BIN)/alembic -x db=sqlite:///$(VENV)/revision.db revision --autogenerate -m "$(MSG)"
	rm -f $(VENV)/revision.db

bench: $(STAMP) sysdeps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
