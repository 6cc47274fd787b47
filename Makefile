# sfn-semaphore: every entry point a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
PY    := .venv/bin/python
PORT  ?= 4566

.PHONY: help setup sandbox demo test lint

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## .venv with pinned deps, Terraform 1.0.3 and the aws provider 3.39.0 under .tools/ (offline, idempotent)
	@bash scripts/setup.sh

sandbox: setup ## run the local AWS in the foreground on PORT (default 4566) until interrupted
	$(PY) -m localaws --port $(PORT)

test: setup ## every test: unit, functional and end to end
	$(PY) -m pytest -n 2 --dist loadgroup
