# The workbook's commands. Quick start: `make lab` (learn) and `make test` (check everything).
#
# Variables you may set on the command line, without editing any file:
#   PYTHON=python3.11      the interpreter that creates .venv
#   TORCH_INDEX=https://download.pytorch.org/whl/cpu
#                          take torch/torchvision from PyTorch's CPU-only wheel index
#                          (same versions, ~1 GB instead of ~6 GB; needs internet)
#   PORT=8888              JupyterLab's port for `make lab`
#   PIP_FLAGS="--no-index --find-links wheels"
#                          install from wheels prepared in advance with `pip download` (offline classrooms)
#   NOTEBOOKS="00 07"      `make bench` on these notebooks only (numbers or names; default: all)
#   REPEAT=3               `make bench` runs the whole plan three times and reports each notebook's median
#   HUB_IP=0.0.0.0 HUB_PORT=8000 ...
#                          `make hub` settings, listed at the top of hub/jupyterhub_config.py
#   LOAD_LEARNERS=8 LOAD_NOTEBOOKS=00,01,02 LOAD_STAGGER=4 LOAD_KERNELS_OPEN=2 LOAD_TIMEOUT=1800
#                          `make test-hub`: how many simulated learners, which notebooks they run, seconds between
#                          logins, kernels each keeps open, seconds before the test gives up
#   IP=0.0.0.0             the address `make lab` listens on (default 127.0.0.1: this machine only)
#   CHROMIUM=/path/to/it   the browser `make test-browser` drives (default: the one on PATH)

PYTHON ?= python3
TORCH_INDEX ?=
PORT ?= 8888
# the address JupyterLab listens on: 127.0.0.1 keeps it to this machine; in a container, `make lab IP=0.0.0.0` and publish PORT
IP ?= 127.0.0.1
PIP_FLAGS ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS ?=

# Every command imports the helpers of THIS checkout (and so do the kernels it starts), whatever
# PYTHONPATH the shell had and whichever checkout the venv was first linked to.
export PYTHONPATH := $(CURDIR)

.PHONY: venv constraints lab test test-unit test-notebooks clean-notebooks cpp aoti html test-browser test-robust bench hub test-hub clean

# Then the helpers' bytecode, so that no kernel compiles them again: kernels cannot write it where the checkout is
# read-only (a classroom hub) or PYTHONDONTWRITEBYTECODE is set. compileall rewrites only what a source change made stale.
venv: $(STAMP)
	@PYTHONDONTWRITEBYTECODE= $(BIN)/python -m compileall -q helpers hub > /dev/null

# Reinstall only when requirements.txt, requirements-shipping.txt or constraints.txt changes: a second `make test` installs nothing.
$(STAMP): requirements.txt requirements-shipping.txt constraints.txt
	@if [ -x $(BIN)/python ] && ! $(BIN)/python -m pip --version > /dev/null 2>&1; then \
	    echo "make venv: $(VENV) has no pip (it was made without Python's venv module, python3-venv on Debian): making it again"; \
	    rm -rf $(VENV); fi
	@test -x $(BIN)/python || command -v $(PYTHON) > /dev/null \
	    || { echo "make venv: no $(PYTHON) on this machine: install Python 3.11 to 3.13, or pass one, e.g. make venv PYTHON=python3.12"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' \
	    || { echo "make venv: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); the workbook needs 3.11 to 3.13 (torch 2.14's TorchScript is not supported on 3.14+, and the pinned numpy needs 3.11): pass one, e.g. make venv PYTHON=python3.12"; exit 1; }
	@test -x $(BIN)/python || scripts/need_system.sh python3-venv "making .venv with $(PYTHON) (pip comes from its ensurepip)" \
	    $(PYTHON) -c 'import ensurepip'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
ifneq ($(TORCH_INDEX),)
	$(BIN)/python -m pip install $(PIP_FLAGS) -c constraints.txt --index-url $(TORCH_INDEX) \
	    "$$(grep '^torch==' requirements.txt | cut -d' ' -f1)" \
	    "$$(grep '^torchvision==' requirements.txt | cut -d' ' -f1)"
endif
	$(BIN)/python -m pip install $(PIP_FLAGS) -c constraints.txt -r requirements.txt
	@if $(BIN)/python -c 'import platform as p, sys; sys.exit(not ((p.system(), p.machine()) in {("Linux", "x86_64"), ("Linux", "aarch64"), ("Darwin", "arm64")}))'; then \
	    $(BIN)/python -m pip install $(PIP_FLAGS) -c constraints.txt -r requirements-shipping.txt; \
	else echo "make venv: executorch publishes wheels for Linux (x86-64, aarch64) and Apple-silicon macOS only: not installed here, so 10's ExecuTorch sections cannot run (WSL2 runs them on Windows)"; fi
	$(BIN)/python scripts/link_helpers.py
	$(BIN)/python hub/lab_settings.py
	@touch $(STAMP)

# After a change to a pin: write constraints.txt again from what .venv now holds (every indirect dependency too).
constraints: venv
	@{ sed -n '1,/^# ---$$/p' constraints.txt; $(BIN)/python -m pip freeze; } > constraints.txt.part && mv constraints.txt.part constraints.txt
	@echo "constraints.txt: $$(grep -c '==' constraints.txt) packages"

# JupyterLab's news pop-up and update checks off, for `make lab` and the hub (see hub/lab_settings.py).
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
$(LAB_SETTINGS): hub/lab_settings.py | $(STAMP)
	$(BIN)/python hub/lab_settings.py

# JupyterLab refuses to run as root unless told; containers often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

lab: venv $(LAB_SETTINGS)
	$(BIN)/jupyter lab --ip=$(IP) --port=$(PORT) --ServerApp.root_dir="$(CURDIR)" $(ALLOW_ROOT) \
	    notebooks/00_start_here.ipynb

test: venv cpp aoti
	$(BIN)/python -m pytest -p no:cacheprovider tests notebooks --ignore=tests/browser --ignore=tests/robustness --nbval-lax --nbval-current-env

test-unit: venv
	$(BIN)/python -m pytest -p no:cacheprovider tests --ignore=tests/browser --ignore=tests/robustness

test-notebooks: venv
	$(BIN)/python -m pytest -p no:cacheprovider notebooks --nbval-lax --nbval-current-env

# Every notebook in a real JupyterLab driven by headless Chromium (Debian's `chromium` package);
# screenshots land in build/browser/screenshots/.
test-browser: venv
	@test -n "$$CHROMIUM" || scripts/need_system.sh chromium "make test-browser (headless Chromium; or set CHROMIUM=/path/to/it)" \
	    test -x /usr/bin/chromium
	$(BIN)/python -m pytest -p no:cacheprovider tests/browser -v

# Classroom robustness: each notebook twice in one kernel; two users at once, one offline;
# all of it while two busy processes load both cores (tests/robustness/conftest.py).
test-robust: venv
	$(BIN)/python -m pytest -p no:cacheprovider tests/robustness -v

# The course benchmark: each notebook's time, CPU-seconds and memory as ratios to a floor kernel
# (import helpers; H.start) timed between the notebooks in the same run. Reports; never fails on time.
# Writes build/bench/course_bench.json and a plot; docs/INSTRUCTORS.md's table is printed from it
# (scripts/course_bench.py --show ... --markdown) and scripts/hub_sizing.py sizes the hub from it.
bench: venv cpp aoti
	$(BIN)/python scripts/course_bench.py $(if $(REPEAT),--repeat $(REPEAT)) $(NOTEBOOKS)

# The classroom JupyterHub on http://127.0.0.1:8000 (docs/INSTRUCTORS.md); Ctrl-C stops it and every
# learner's server. configurable-http-proxy comes from npm into .venv/hub-proxy (pinned below).
# 5.3.0: the version the course's hub and its load test run with (tests/hub), pinned so that a new release cannot change them.
CHP_VERSION := 5.3.0
CHP_STAMP := $(VENV)/hub-proxy/.installed-$(CHP_VERSION)
$(CHP_STAMP): | $(STAMP)
	@scripts/need_system.sh npm "make hub (its proxy, configurable-http-proxy, is a Node.js program from npm)" command -v npm
	npm install --prefix $(VENV)/hub-proxy --no-audit --no-fund --loglevel=error configurable-http-proxy@$(CHP_VERSION)
	@touch $(CHP_STAMP)

hub: venv cpp aoti $(LAB_SETTINGS) $(CHP_STAMP)
	$(BIN)/jupyterhub -f hub/jupyterhub_config.py

# Classroom load test: LOAD_LEARNERS simulated learners run notebooks on a real hub at once; writes
# build/hub/load_report.json and a plot, then prints the sizing table (scripts/hub_sizing.py).
test-hub: venv cpp aoti $(LAB_SETTINGS) $(CHP_STAMP)
	TS_HUB_TESTS=1 $(BIN)/python -m pytest -p no:cacheprovider tests/hub -v; status=$$?; \
	if [ -f build/hub/load_report.json ]; then \
	    $(BIN)/python tests/hub/loadtest.py --table && $(BIN)/python scripts/hub_sizing.py; fi; \
	exit $$status

# Build the C++ programs of notebooks 05 and 10 and the operator library once (cached in cpp/build/ until a source changes).
cpp: venv
	@scripts/need_system.sh g++ "make cpp (the C++ programs of 05 and 10, C++20: GCC 10 or later)" command -v g++
	$(BIN)/python -c "import helpers as H; H.build_all_cpp()"

# Build ahead what 10_shipping loads: AOTInductor packages (build/aoti/, 10-40 s each the first time on 2 cores),
# ExecuTorch .pte files and the error of the lowering 10 shows failing (build/executorch/) and the start-up time
# of each route (build/shipping_startup.json). Cached and keyed on sources and torch's (and executorch's) version:
# a second run only checks the keys.
aoti: venv
	$(BIN)/python scripts/ship_ahead.py

# The executed course as static HTML in build/html/, readable without running anything.
html: venv
	$(BIN)/python scripts/render_html.py

clean-notebooks: venv
	$(BIN)/python scripts/clean_notebooks.py notebooks solutions

# The only command that deletes learners' files: nothing else, no kernel and no helper, removes them.
clean:
	@echo "deleting work/  (every learner's work folders: the files the notebooks saved, kept across restarts)"
	@echo "deleting build/ (benchmark reports, HTML renders, browser screenshots, the AOTInductor and ExecuTorch caches: make aoti rebuilds them, in minutes; and the trial hub's state, passwords and learner homes in build/hub/)"
	@echo "keeping  cpp/build/ (the compiled C++ runner) and .venv/"
	rm -rf work build
