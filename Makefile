# The README's two commands: `make book` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(wildcard notebooks/*.ipynb)

.PHONY: book test unit sweep check-site pdf venv clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

## Execute every notebook (budget: CNNBOOK_BUDGET, default quick on CPU) and build _build/html.
# Chapters show the stored reference runs that match their settings, so the default build trains
# nothing long. Executed notebooks are cached (jupyter-cache) and a prose-only edit rebuilds in
# seconds; the cache keys on cell code only, so it is emptied (with Sphinx's own doctrees, which
# would keep the old outputs of unchanged pages) whenever the budget, the data folder, the
# cnnbook package (its code and reference runs) or the requirements change.
# The inline backend is forced: a server's MPLBACKEND=Agg would otherwise give pages without figures.
# Progress bars are for people watching a kernel; on the static pages they would be widget clutter.
CACHE := _build/.jupyter_cache
# Each chapter's steps (cnnbook.book.chapter.build_log), shown in the terminal as the build runs.
STEPS := _build/steps.log
JUPYTER_BOOK := $(VENV)/bin/jupyter-book
# A run a chapter trains during the build is kept beside the build (cnnbook.runs.yours), not in the
# user's own runs folder, and goes with the cache.
BOOK_RUNS := _build/your-runs
BOOK_ENV := TQDM_DISABLE=1 CNNBOOK_BUILD_LOG="$(CURDIR)/$(STEPS)" CNNBOOK_RUNS="$(CURDIR)/$(BOOK_RUNS)" \
	MPLBACKEND=module://matplotlib_inline.backend_inline
book: $(STAMP)
	@key="$$($(PY) -c 'from cnnbook.runs.budgets import default_budget_name; print(default_budget_name())') \
	$${CNNBOOK_DATA:-} $$(cat requirements.txt pyproject.toml $$(find cnnbook -type f -not -name '*.pyc' | sort) | sha256sum)"; \
	if [ "$$(cat $(CACHE)/KEY 2>/dev/null)" != "$$key" ]; then \
		echo "book: budget, data, package or requirements changed: executing every notebook afresh"; \
		rm -rf $(CACHE) $(BOOK_RUNS) _build/.doctrees _build/html; mkdir -p $(CACHE); echo "$$key" > $(CACHE)/KEY; fi
	@mkdir -p _build; : > $(STEPS); tail -f $(STEPS) & tailer=$$!; \
	$(BOOK_ENV) $(JUPYTER_BOOK) build .; status=$$?; kill $$tailer; exit $$status

## Unit tests, then every notebook with nbmake at the smoke budget (CNNBOOK_BUDGET overrides).
# Two pytest processes: the notebooks' kernels start clean of anything the unit tests left behind.
# The notebooks run as `make book` runs them: without progress-bar widgets, which nobody watches here,
# and with an empty runs folder of their own, so every chapter takes its live training path.
test: $(STAMP)
	CNNBOOK_BUDGET=$${CNNBOOK_BUDGET:-smoke} $(PY) -m pytest tests -p no:cacheprovider --durations=5
	runs="$$(mktemp -d)"; CNNBOOK_RUNS="$$runs" CNNBOOK_BUDGET=$${CNNBOOK_BUDGET:-smoke} TQDM_DISABLE=1 \
		$(PY) -m pytest $(NOTEBOOKS) --nbmake --nbmake-timeout=600 -p no:cacheprovider --durations=4; \
		status=$$?; rm -rf "$$runs"; exit $$status

## Chapter 1 over plain and residual depths 20-56 with papermill (budget: CNNBOOK_BUDGET, default smoke).
SWEEP_MODELS ?= plain20 plain32 plain44 plain56 resnet20 resnet32 resnet44 resnet56
sweep: $(STAMP)
	$(PY) -m cnnbook sweep notebooks/01_resnet.ipynb -p MODEL $(SWEEP_MODELS) \
		--budget $${CNNBOOK_BUDGET:-smoke} --out runs/sweep-$${CNNBOOK_BUDGET:-smoke}

## Open every page of the built site in headless Chromium; screenshots of the chapters in _build/screenshots.
check-site: $(STAMP)
	$(PY) .ci/check_site.py _build/html --screenshots _build/screenshots

## The book as one PDF, _build/cnnbook.pdf: make book, then its single-page build printed by headless Chromium.
# The single page reuses the notebooks make book executed (same cache, same environment), so it executes nothing;
# print_pdf.py checks that every chapter's title, raster figures and SVG diagrams made it into the PDF.
pdf: book
	$(BOOK_ENV) $(JUPYTER_BOOK) build . --builder singlehtml
	$(PY) .ci/print_pdf.py _build/singlehtml _build/cnnbook.pdf

unit: $(STAMP)
	$(PY) -m pytest tests -p no:cacheprovider

clean:
	rm -rf _build
