# One command each for the README's jobs. Every target creates .venv/ first when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export SEQ2SEQ_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: help venv demo test check lint generate grade lock clean

help:
	@echo "make demo      train the solution on the embedded corpus: test BLEU, translations, heatmap, loss curves"
	@echo "make test      run the whole test suite (what CI runs)"
	@echo "make check     the fast tier: every unit test and one grading (developers, before make test)"
	@echo "make lint      ruff over everything but the generated trees (configured in pyproject.toml; CI runs it)"
	@echo "make generate  rebuild assignments/ and solutions/ from source/"
	@echo "make grade SUBMISSION=dir [OUT=results.json]   grade one submission folder"

venv: $(STAMP)

# Pinned: torch==2.13.0 explicitly (an unpinned torch pulls a multi-GB CUDA build), the rest via the lock file.
$(STAMP): requirements.txt requirements.lock source/attention_seq2seq/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c requirements.lock
	touch $(STAMP)

demo: $(STAMP)
	cd solutions/attention_seq2seq && ../../$(PY) -m seq2seq demo

# Two worker processes, a test file each at a time (pytest-xdist; module fixtures stay shared within a file).
test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

check: $(STAMP)
	$(PY) -m pytest -m "not slow or smoke" -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

generate: $(STAMP)
	$(PY) tools/generate.py

OUT ?= results.json
grade: $(STAMP)
	@test -n "$(SUBMISSION)" || (echo "usage: make grade SUBMISSION=path/to/attention_seq2seq [OUT=results.json]"; exit 2)
	$(PY) -m autograder grade $(SUBMISSION) --out $(OUT)

lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf .cache .pytest_cache
