# Two commands set up a fresh machine: `make demo` (the main job) and `make test`.
# Both create the virtual environment on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test docs speed-check wheel-check oldest-deps test-slow bench bench-quick docs-figures lint clean

$(BIN)/aekit-installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
	touch $@

# The main job: train a VAE on the embedded 8x8 digits and write a run folder.
demo: $(BIN)/aekit-installed
	$(BIN)/aekit train --out runs/demo
	$(BIN)/aekit report runs/demo
	@echo "Run folder: runs/demo (model/, metrics.json, *.png, report.html)"
	@echo "Explore it in the browser: $(BIN)/aekit explore runs/demo --open"

test: $(BIN)/aekit-installed
	$(BIN)/python -m pytest

# The documentation site (user guide, API reference, CLI pages, executed tutorials) -> site/
docs: $(BIN)/aekit-installed
	$(BIN)/mkdocs build

# The built wheel in a fresh environment that already holds torch: pip must leave it as it was.
wheel-check:
	.ci/wheel-check

# CI's guard against speed regressions: aekit's time per step against a plain PyTorch loop of the
# same model, in one process (a ratio, so it holds on any CPU; ~15 s).
speed-check: $(BIN)/aekit-installed
	cd benchmarks && ../$(BIN)/python speed_check.py

# The oldest release of each dependency (pyproject's lower bounds) with the core tests.
oldest-deps:
	.ci/oldest-deps


$(BIN)/aekit-bench-installed: $(BIN)/aekit-installed
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test,bench]"
	touch $@

BENCHMARKS = precision speed profile_step profile_fit digits_likelihood vae_sigma representation tabular \
             oneclass density nab time_to_loss ddp out_of_core dataset_workers table_stream \
             conv_speed training_budget explore_latency false_alarms

# Full runs (minutes; keep the machine otherwise idle), then docs/benchmarks.md from their JSON.
# Slow tests: every benchmark's --quick mode, with the peers (pythae, PyOD) installed.
test-slow: $(BIN)/aekit-bench-installed
	$(BIN)/python -m pytest -m slow

bench: $(BIN)/aekit-bench-installed
	cd benchmarks && for b in $(BENCHMARKS); do ../$(BIN)/python $$b.py || exit 1; done
	$(BIN)/python benchmarks/report.py

# Every benchmark on a small slice: a smoke test, not reported.
bench-quick: $(BIN)/aekit-bench-installed
	cd benchmarks && for b in $(BENCHMARKS); do ../$(BIN)/python $$b.py --quick || exit 1; done

# The figures of docs/tasks.md, made by running each verb (a few minutes).
docs-figures: $(BIN)/aekit-installed
	AEKIT=$(BIN)/aekit bash docs/make_figures.sh

lint: $(BIN)/aekit-installed
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) runs build src/*.egg-info
