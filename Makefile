# `make check` is the one gate: format, lint, types (Python and the player's JavaScript), tests.
.PHONY: run test check fmt lint types install js i18n

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

# The player's JavaScript: TypeScript checks every module (// @ts-check, JSDoc types) and
# emits nothing. The checker is installed from package-lock.json when that changed.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

js: node_modules/.package-lock.json
	node_modules/.bin/tsc -p jsconfig.json

# The message catalogues: up to date with the code, complete in every language, and no
# sentence on a page or in a browser module that bypasses them.
i18n: install
	.venv/bin/waa-ads i18n check

check: lint types js i18n test
