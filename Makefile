# Two commands on a fresh machine with Python >= 3.11 and make:
#   make demo   -- install into .venv and run the main job on the bundled real sample
#   make test   -- install into .venv and run the whole suite (ruff, mypy --strict, import contracts, pytest)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit coverage bench clean chromium screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/perphedge demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

chromium:
	sh scripts/ensure_chromium.sh

unit: $(STAMP) chromium
	$(BIN)/pytest -n auto -q

test: lint typecheck unit

# the page's screenshots for the README (docs/screenshots), taken by the browser tests
screenshots: $(STAMP) chromium
	PERPHEDGE_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q -p no:randomly tests/web/test_web_browser.py tests/web/test_web_live_browser.py

coverage: $(STAMP)
	$(BIN)/coverage run --source=perphedge -m pytest -q -p no:xdist
	$(BIN)/coverage report --skip-covered --sort=cover

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/backtest_bench.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
