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

PYTHON ?= python3
TORCH_INDEX ?=
PORT ?= 8888
PIP_FLAGS ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv lab test test-unit test-notebooks clean-notebooks cpp aoti html test-browser test-robust clean

venv: $(STAMP)

# Reinstall only when requirements.txt changes: a second `make test` installs nothing.
$(STAMP): requirements.txt requirements-shipping.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
ifneq ($(TORCH_INDEX),)
	$(BIN)/python -m pip install $(PIP_FLAGS) --index-url $(TORCH_INDEX) \
	    "$$(grep '^torch==' requirements.txt | cut -d' ' -f1)" \
	    "$$(grep '^torchvision==' requirements.txt | cut -d' ' -f1)"
endif
	$(BIN)/python -m pip install $(PIP_FLAGS) -r requirements.txt
	$(BIN)/python -m pip install $(PIP_FLAGS) -r requirements-shipping.txt
	$(BIN)/python scripts/link_helpers.py
	@touch $(STAMP)

# JupyterLab refuses to run as root unless told; containers often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

lab: venv
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) --ServerApp.root_dir="$(CURDIR)" $(ALLOW_ROOT) \
	    notebooks/00_start_here.ipynb

test: venv
	$(BIN)/python -m pytest -p no:cacheprovider tests notebooks --ignore=tests/browser --ignore=tests/robustness --nbval-lax --nbval-current-env

test-unit: venv
	$(BIN)/python -m pytest -p no:cacheprovider tests --ignore=tests/browser --ignore=tests/robustness

test-notebooks: venv
	$(BIN)/python -m pytest -p no:cacheprovider notebooks --nbval-lax --nbval-current-env

# Every notebook in a real JupyterLab driven by headless Chromium (Debian's `chromium` package);
# screenshots land in build/browser/screenshots/.
test-browser: venv
	$(BIN)/python -m pytest -p no:cacheprovider tests/browser -v

# Classroom robustness: each notebook twice in one kernel; two users at once, one offline.
test-robust: venv
	$(BIN)/python -m pytest -p no:cacheprovider tests/robustness -v

# Build the C++ programs of notebooks 05 and 10 and the operator library once (cached in cpp/build/ until a source changes).
cpp: venv
	$(BIN)/python -c "import helpers as H; H.build_all_cpp()"

# Build ahead what 10_shipping loads: AOTInductor packages (build/aoti/, ~30-60 s each the first time),
# ExecuTorch .pte files (build/executorch/) and the start-up time of each route (build/shipping_startup.json).
# Cached and keyed on sources and torch's version: a second run only checks the keys.
aoti: venv
	$(BIN)/python scripts/ship_ahead.py

# The executed course as static HTML in build/html/, readable without running anything.
html: venv
	$(BIN)/python scripts/render_html.py

clean-notebooks: venv
	$(BIN)/python scripts/clean_notebooks.py notebooks solutions

clean:
	rm -rf work build
