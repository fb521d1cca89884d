# motlib: the two commands of the README.
#   make demo  - create .venv, install motlib, run the main job on the embedded SynthMOT data
#   make test  - export/clean must leave no diff, then the notebooks' tests and pytest tests/
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.motlib-installed

.PHONY: demo test install export clean-nbs check-sync nbtest pytest docs

$(STAMP): settings.ini setup.py
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=23" setuptools wheel
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/motlib-demo

# nbdev_export and nbdev_clean must leave motlib/ and nbs/ exactly as committed.
check-sync: $(STAMP)
	@snap() { find motlib nbs -type f -not -path '*/.ipynb_checkpoints/*' -not -path '*/__pycache__/*' | sort | xargs sha1sum; }; \
	snap > /tmp/motlib-before.sha; \
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean; \
	snap > /tmp/motlib-after.sha; \
	if ! diff /tmp/motlib-before.sha /tmp/motlib-after.sha; then \
	  echo "nbdev_export/nbdev_clean changed the files above: run them and commit the result"; exit 1; fi; \
	echo "notebooks and library in sync"

nbtest: $(STAMP)
	MPLBACKEND=Agg $(BIN)/nbdev_test --n_workers 2 --timing

pytest: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -q tests

test: check-sync nbtest pytest

# the course as a static site in _docs/ (nbconvert, offline), then checked in headless Chromium when it is installed:
# every page loads with no console error, every figure loads, every link resolves; screenshots in reports/docs/
docs: $(STAMP)
	$(BIN)/python docs/build_docs.py --out _docs
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then \
	  $(BIN)/python docs/check_docs.py --site _docs --shots reports/docs; \
	else echo "chromium not found (apt-get install chromium): the browser check is skipped"; fi
