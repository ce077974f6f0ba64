# sorakit — two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv and install sorakit (editable, with the emulator, test and lab extras) when needed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.sorakit-installed
PYTEST_ARGS ?=

.PHONY: demo test lab bench stress emulator clean help

help:
	@echo "make demo      run the three companion notebooks on the built-in emulator -> out/"
	@echo "make test      run the whole test suite"
	@echo "make lab       open JupyterLab on notebooks/"
	@echo "make emulator  serve the emulator on http://127.0.0.1:8000"
	@echo "make bench     run the benchmarks in bench/"
	@echo "make stress    crash / fault-storm / two-writer trials for ~10 min (STRESS_SECONDS=...)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "sorakit needs Python >= 3.10 (PYTHON=$(PYTHON))")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing sorakit into $(VENV) (log: $(VENV)/install.log) ..."
	@$(PY) -m pip install --upgrade pip > $(VENV)/install.log 2>&1 && \
	  $(PY) -m pip install -e ".[emulator,test,lab]" >> $(VENV)/install.log 2>&1 || \
	  { tail -30 $(VENV)/install.log; echo "install failed: see $(VENV)/install.log" >&2; exit 1; }
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m sorakit.cli demo

# pytest exits 5 when it collected no test: that is a broken suite, not a pass.
test: $(STAMP)
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# JupyterLab refuses to start as root (containers, CI images) unless told it may.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

emulator: $(STAMP)
	$(VENV)/bin/sorakit emulator --port 8000

bench: $(STAMP)
	$(PY) bench/ledger.py
	$(PY) bench/emulator.py
	$(PY) bench/batch.py
	$(PY) bench/cpu.py
	$(PY) bench/transport.py
	$(PY) bench/memory.py
	$(PY) bench/store.py
	$(PY) bench/display.py
	$(PY) bench/display_lab.py
	$(PY) bench/stream.py

# the reliability trials, repeated; prints the counts and fails unless every problem count is 0
STRESS_SECONDS ?= 600
stress: $(STAMP)
	$(PY) bench/stress.py --seconds $(STRESS_SECONDS)

clean:
	rm -rf out .pytest_cache tests/artifacts
