# The README's two commands: `make book` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(wildcard notebooks/*.ipynb)

.PHONY: book test unit notebooks venv clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

## Execute every notebook (budget: CNNBOOK_BUDGET, default quick on CPU) and build _build/html.
book: $(STAMP)
	$(VENV)/bin/jupyter-book build .

## Unit tests, then every notebook with nbmake at the smoke budget (CNNBOOK_BUDGET overrides).
test: $(STAMP)
	CNNBOOK_BUDGET=$${CNNBOOK_BUDGET:-smoke} $(PY) -m pytest tests $(NOTEBOOKS) --nbmake --nbmake-timeout=600 -p no:cacheprovider

unit: $(STAMP)
	$(PY) -m pytest tests -p no:cacheprovider

clean:
	rm -rf _build
