# The two commands of the README:
#   make demo   one full cycle on a scratch sample log dated for today; digests land in demo/outbox
#   make test   lint, type check and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The demo's day: this computer's date, which is also what the workbook's colours (TODAY())
# follow, so its words and colours agree. `make demo DEMO_DAY=2026-11-24` shows another day.
ifndef DEMO_DAY
DEMO_DAY := $(shell date +%F)
endif

.PHONY: demo test lint bench reliability clean

$(BIN)/sheets-sync: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/sheets-sync
	rm -rf demo && mkdir -p demo
	$(BIN)/python scripts/make_sample_workbook.py --today $(DEMO_DAY) demo/clinic_log.xlsx
	$(BIN)/sheets-sync once --config config/sheets_sync.toml --today $(DEMO_DAY)
	@echo
	@echo "Synced workbook: demo/clinic_log.xlsx    Digests: demo/outbox/"
	@ls demo/outbox

lint: $(BIN)/sheets-sync
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: $(BIN)/sheets-sync
	$(BIN)/python bench/xlsx_sync.py

reliability: $(BIN)/sheets-sync
	$(BIN)/python scripts/reliability_figures.py

clean:
	rm -rf $(VENV) demo bench/out
