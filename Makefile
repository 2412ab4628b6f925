# The two commands of the README. Everything else is a step of one of them.
.PHONY: example test test-fast test-lowest setup setup-test setup-lowest lint typecheck pytest bench mutate

# The fast tier: no browser, container, nginx, soak or fault matrix (the `slow` marker).
FAST = not (browser or container or nginx or slow)

# Both example workspaces: the Backstage app layout, then a monorepo written the way Backstage
# writes its e2e tests (examples/monorepo/README.md).
example: setup
	TESTS_WORKSPACE=examples/workspace .venv/bin/verification-runner run
	$(MONOREPO_ENV) .venv/bin/verification-runner run

MONOREPO_ENV = TESTS_WORKSPACE=examples/monorepo CENTRAL_TESTS_DIR=packages/app/e2e-tests \
	PLUGIN_TESTS_GLOB='plugins/*/e2e-tests,plugins/*/tests/acceptance'

test: setup-test lint typecheck pytest test-lowest

# The edit-test loop: under a minute.
test-fast: setup-test
	.venv/bin/python -m pytest -m "$(FAST)"

# The fast tier with every runtime dependency at the floor pyproject.toml declares.
test-lowest: setup-lowest
	.venv-lowest/bin/python -m pytest -m "$(FAST)" -p no:cacheprovider

setup:
	bash scripts/setup.sh run

setup-test:
	bash scripts/setup.sh test

setup-lowest:
	bash scripts/setup-lowest.sh

lint:
	.venv/bin/ruff check runner tests bench
	.venv/bin/ruff format --check runner tests bench
	.venv/bin/lint-imports --no-cache

typecheck:
	.venv/bin/mypy --strict runner tests

pytest:
	.venv/bin/python -m pytest

bench: setup
	bash scripts/setup-nginx.sh && bash scripts/setup-git-server.sh  # bench/fetching.py serves Git
	bash scripts/setup-package-managers.sh && bash scripts/setup-registry.sh  # bench/install.py
	.venv/bin/python -m bench

# Mutation testing of the modules where a surviving mutant is a false green or a leak
# (scripts/mutate.py; README "Mutation testing"). Hours on a loaded 2-core machine: not part of
# `make test` or CI. One module: make mutate MODULES=verdict
mutate: setup-test
	.venv/bin/pip install --quiet 'cosmic-ray>=8.7'
	.venv/bin/python scripts/mutate.py $(MODULES)
