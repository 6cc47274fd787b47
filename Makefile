# sfn-semaphore: every entry point a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
PY    := .venv/bin/python
PORT  ?= 4566

.PHONY: help setup sandbox demo test lint docs bundle check-bundle bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## .venv with pinned deps, node_modules/ (asl-validator), Terraform 1.0.3 and the aws provider 3.39.0 under .tools/ (offline, idempotent)
	@bash scripts/setup.sh

sandbox: setup ## run the local AWS in the foreground on PORT (default 4566) until interrupted
	$(PY) -m localaws --port $(PORT)

test: setup lint ## every gate, then every test: unit, functional and end to end
	$(PY) -m pytest -n 2 --dist loadgroup

lint: setup ## static gates: terraform fmt/validate, ruff, mypy --strict lambdas/, README tables, Lambda bundles
	@bash scripts/lint.sh

bundle: setup ## rebuild the reproducible Lambda zips under lambdas/dist/ (commit them)
	$(PY) scripts/bundle.py

check-bundle: setup ## fail if a checked-in Lambda zip differs from its sources byte for byte
	$(PY) scripts/bundle.py --check

docs: setup ## regenerate the README Inputs/Outputs/Resources tables from the .tf files
	$(PY) scripts/tfdocs.py

demo: setup ## apply examples/basic to a local AWS and watch 20 executions contend for 3 slots, live
	$(PY) scripts/demo.py

bench: setup ## benchmark queue mode, poll mode and the AWS-sample baseline into bench/results/ (BENCH_ARGS=...)
	$(PY) bench/run.py $(BENCH_ARGS)
