# `make check` is the one gate: format, lint, types, tests.
.PHONY: run test check fmt lint types install

install:
	sh -c '. scripts/bootstrap.sh && "$$UV" sync --frozen'

run:
	sh scripts/start.sh

test:
	sh scripts/test.sh

fmt: install
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

lint: install
	.venv/bin/ruff format --check .
	.venv/bin/ruff check .

types: install
	.venv/bin/mypy

check: lint types test
