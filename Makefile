# The two commands of the README: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# What the demo needs and no more (the core and SQLAlchemy for its SQLite file): a first run stays short.
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test lint types contracts pytest docs bench screenshots clean

$(STAMP): pyproject.toml compat/pymess/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The django-pymess compatibility distribution, installed next to smscore as a project would (tests/compat).
	$(BIN)/python -m pip install --quiet -e compat/pymess
	touch $(STAMP)

$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[sqlalchemy]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m smscore.demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples scripts docs compat
	$(BIN)/ruff format --check src tests benchmarks examples scripts docs compat

types: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest

# The documentation site, into site/; references generated from the code; any warning (a broken link) fails.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test: lint types contracts pytest docs

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Pictures for the docs, drawn by the machine's headless Chromium (apt-get install tmux chromium), into
# docs/screenshots/: the command line in tmux, and the Django admin.
screenshots: $(STAMP)
	$(BIN)/python -c "import playwright" 2>/dev/null || $(BIN)/python -m pip install --quiet playwright
	$(BIN)/python scripts/cli_screenshots.py
	$(BIN)/python scripts/admin_screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
