# One command each: `make run` serves the gateway, `make test` checks everything, `make check` is the fast
# loop to run after every change, `make bench` measures.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUM := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Two installs: `make run` needs only the gateway's runtime dependencies; tests, linters and the
# official SDKs the tests drive come with the `dev` extra (`make install`, `make test`).
STAMP := $(VENV)/.installed-$(SUM)
RUN_STAMP := $(VENV)/.runtime-$(SUM)
# The C files an install builds (beside their source, in an editable install; buildtools' NATIVE lists each, and a
# test holds that list to the files): a change to one installs again.
NATIVE := $(shell find src -name '*.c')

.PHONY: install run check test test-release lint typecheck unit suite compiled bench bench-plain docs dist ui clean

define new_venv
	@$(PYTHON) -c 'import sys; sys.exit("babelgate needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
endef

$(STAMP): pyproject.toml $(NATIVE)
	$(new_venv)
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* $(VENV)/.runtime-*
	touch $@ $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml $(NATIVE)
	$(new_venv)
	$(PY) -m pip install --quiet -e .
	rm -f $(VENV)/.runtime-*
	touch $@

install: $(STAMP)

run: $(RUN_STAMP)
	$(VENV)/bin/babelgate serve $(if $(CONFIG),--config $(CONFIG)) $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench buildtools setup.py
	$(VENV)/bin/ruff format --check src tests bench buildtools setup.py

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The unit-level tests (tests/unit, the fakes' own, the example config), none of the slow loop (the
# `slow` marker: tests/conftest.py's SLOW). Not tests/integration: each of its ~1,300 tests starts and
# stops a gateway (~0.2 s apiece), minutes where this loop has one.
unit: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests/unit tests/fakes tests/test_examples.py

# The suite's workers: one a core (pytest-xdist), each running whole files, so that a module's gateway and fakes
# start once. `make test PARALLEL=` runs it in one process.
PARALLEL ?= -n auto --dist loadfile

# Every test but the release loop. With COVERAGE=1 (CI: .ci/run exports it) the line coverage of src/babelgate is
# measured over it ([tool.coverage] in pyproject.toml) and printed before pytest's closing line: the files not fully
# covered, then the TOTAL line. Off by default: on Python 3.11 coverage.py traces every line, which makes the suite
# about a third slower, and the loop before each commit needs the verdict, not the figure.
COVERAGE ?=
suite: $(STAMP)
	$(PY) -m pytest $(if $(COVERAGE),--cov --cov-report=term) -m "not release" $(PARALLEL)

# The release loop (the `release` marker: tests/conftest.py's RELEASE): the real coding agents, the long soaks
# and the wheels' builds. CI runs it after `make test` (.ci/run).
test-release: $(STAMP)
	$(PY) -m pytest -q -m release

# The request paths' tests again, on the compiled build (buildtools/babelgate_build.py: the modules the Docker image
# and `make bench` compile, through the same mypyc, their C split one file a module so that it compiles on every core
# and a change recompiles only what it touched): what compiled code does differently from Python shows only there.
# Kept in build/compiled/ for the tree it was built from; skipped, with a line that says so, without a C compiler.
# A C compiler, which the compiled build (mypyc) needs: `compiled` and `bench` skip or fall back without one.
HAVE_CC := $(shell command -v cc || command -v gcc)
COMPILED_TESTS := tests/unit $(addprefix tests/integration/test_,$(addsuffix .py,chat errors routing \
	routing_retry_after stream_failures upstream_faults virtual_keys rate_limits cost_and_budgets ledger \
	observability hot_path_budget response_cache anthropic_messages mcp_connector tenancy alerts hooks_and_mount \
	anthropic anthropic_clouds azure bedrock gemini gemini_frontend mistral responses responses_providers vertex \
	mcp_tools guardrails realtime realtime_translated))
compiled: $(STAMP)
ifneq ($(HAVE_CC),)
	$(PY) bench/compiled.py --test -q $(PARALLEL) $(COMPILED_TESTS)
else
	@echo "compiled: no C compiler on this machine: the compiled build's tests are skipped"
endif

# The fast loop, for every change (about a minute): lint, format, types and the unit-level tests.
check: lint typecheck unit

test: lint typecheck suite compiled

# The gateway as it ships (the Docker image, `BABELGATE_COMPILE=1` wheels): its request path compiled, built first
# (bench/compiled.py, ~12 minutes on two cores the first time); plain Python, with a line that says so, on a machine without a C compiler.
# `make bench-plain` measures the editable install as it is.
bench: $(STAMP)
ifneq ($(HAVE_CC),)
	$(PY) bench/compiled.py --bench $(ARGS)
else
	@echo "bench: no C compiler on this machine: the plain Python build is measured"
	$(PY) bench/run.py $(ARGS)
endif

bench-plain: $(STAMP)
	$(PY) bench/run.py $(ARGS)

# The sdist, and the wheel built from it, into dist/ (tests/integration/test_packaging.py installs
# that wheel into a fresh venv and serves from it). With BABELGATE_COMPILE=1 the wheel's request path is compiled,
# in build's isolated environment with mypy and the runtime dependencies downloaded into it (gcc; minutes:
# tests/integration/test_compiled_packaging.py builds it so).
dist: $(STAMP)
	$(PY) -m build --outdir dist

docs: $(STAMP)
	$(PY) -m babelgate.providers.matrix --write docs/providers.md

# The dashboard's bundle, from ui/ into src/babelgate/frontends/ui/assets/ (committed: the wheel ships it,
# so `pip install` needs no Node.js; tests/ui/test_bundle.py fails when it drifts from its source).
ui:
	cd ui && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) dist .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
