# The two commands of the README. Everything else is a step of one of them.
.PHONY: example test setup setup-test lint typecheck pytest bench

example: setup
	TESTS_WORKSPACE=examples/workspace .venv/bin/verification-runner run

test: setup-test lint typecheck pytest

setup:
	bash scripts/setup.sh run

setup-test:
	bash scripts/setup.sh test

lint:
	.venv/bin/ruff check runner tests bench
	.venv/bin/ruff format --check runner tests bench

typecheck:
	.venv/bin/mypy --strict runner

pytest:
	.venv/bin/python -m pytest

bench: setup
	bash scripts/setup-nginx.sh && bash scripts/setup-git-server.sh  # bench/fetching.py serves Git
	.venv/bin/python -m bench
