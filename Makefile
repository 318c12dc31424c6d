# The two commands a user needs are `make run` and `make test`; both install what is missing first.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV = $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
RUN = $(UV) run --locked --no-sync

.PHONY: run test setup setup-services lint format typecheck unit bench proto clean

run: setup                 ## the main job on its embedded default (no Redis, no broker)
	$(RUN) fanet demo

test: setup-services lint typecheck unit   ## everything CI runs

setup:
	@scripts/bootstrap.sh python

setup-services:
	@scripts/bootstrap.sh services

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: setup
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

typecheck: setup
	$(RUN) mypy
	$(RUN) mypy tests bench scripts

unit: setup-services
	$(RUN) pytest $(PYTEST_ARGS)

bench: setup-services               ## benchmarks (figures as ratios to a baseline measured in the same run)
	$(RUN) python bench/run_all.py $(BENCH_ARGS)

proto: setup               ## regenerate the client API modules (Python, and the map's JS table) from proto/fanet.proto
	$(RUN) python scripts/gen_proto.py
	$(RUN) python -m fanet.server.web.schema server/web/static/fanet-schema.js

clean:
	rm -rf build dist .venv .mypy_cache .ruff_cache .pytest_cache .hypothesis
