# Two entry points for a fresh machine with only Python, pip and make:
#   make demo   runs the whole system (scheduler, workers, launcher) on an embedded
#               redis-server for 30 s: sample files dropped into data/incoming
#               become runs, a failing one raises an alert, partitions flow on
#   make test   runs ruff, mypy and pytest against real redis-servers and processes
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo dev test lint typecheck pytest browser promtool screenshots bench soak compose-test clean

# The package's folders (shared/, scheduler/, workers/) are installed as one
# package, `lookout`, by an editable install in strict mode: a tree of links
# under build/ that mypy can read.  A module added or removed re-links it.
SOURCES := $(shell find shared scheduler workers -name '*.py' -o -name py.typed 2>/dev/null)

$(BIN)/lookout: pyproject.toml $(SOURCES)
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' --config-settings editable_mode=strict
	touch $@

DEMO_DIR ?= data/incoming

demo: $(BIN)/lookout
	mkdir -p $(DEMO_DIR)
	cp examples/sample/*.csv $(DEMO_DIR)/
	LOOKOUT_EXAMPLE_DIR=$(DEMO_DIR) $(BIN)/lookout dev -m examples.pipeline --for 30

lint: $(BIN)/lookout
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/lookout
	$(BIN)/mypy -p lookout -p tests -p examples -p bench

pytest: $(BIN)/lookout browser promtool
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder

# The web UI's browser test needs Debian's chromium and chromium-driver.
# Installed here only where apt-get runs as root; anywhere else (or if the
# install fails) this says so and the test skips itself: never an error.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium and chromium-driver for the web UI's browser test"; \
	  (timeout 900 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 \
	    apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "chromium could not be installed: the browser test will be skipped"; \
	else echo "no chromium and no root apt-get: the browser test will be skipped"; fi

# The alerting rules' tests need promtool and the Prometheus server, both from
# Debian's prometheus package (a test starts the server on loopback; the package
# starts none).  Installed like chromium above: only where apt-get runs as root;
# elsewhere the tests that need them skip themselves with that reason.
promtool:
	@if command -v promtool >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing prometheus (for promtool) for the alerting rules' tests"; \
	  (timeout 900 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 \
	    apt-get install -y -qq --no-install-recommends prometheus >/dev/null) \
	  || echo "prometheus could not be installed: the promtool tests will be skipped"; \
	else echo "no promtool and no root apt-get: the promtool tests will be skipped"; fi

test: lint typecheck pytest

# The README's pictures of the web UI, refreshed only by asking: the browser
# test writes its screenshots here as well as into its own tmp dir.
screenshots: $(BIN)/lookout browser
	LOOKOUT_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/pytest -q -p no:cacheprovider \
	  tests/test_status_page_browser.py

# The benchmark, kept out of make test (about 6 minutes on 2 cores); figures and
# targets in bench/RESULTS.md.  Options: make bench BENCH_ARGS="--duration 5 -w 2"
BENCH_ARGS ?=
bench: $(BIN)/lookout
	$(BIN)/python -m bench $(BENCH_ARGS)

# The chaos test's faults for longer (tests/chaos_harness.py): kill -9 of every kind of
# process, pauses, Redis restarts and poison for SOAK_MINUTES, then the figures
# (also written to bench/soak.json).  Kept out of make test; figures in the README.
SOAK_MINUTES ?= 15
SOAK_ARGS ?=
soak: $(BIN)/lookout
	$(BIN)/python -m bench.soak --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

# docker-compose.yml on a real Docker engine (README, "Deploy"): installs Debian's
# docker.io, docker-compose and debootstrap where apt-get runs as root, starts
# dockerd if none answers, builds the base images without a registry, runs the
# stack with 3 workers and 2 schedulers, kills the leader, tears it down.
# make test runs the same scenario when the engine is already installed.
compose-test: $(BIN)/lookout
	$(BIN)/python -m tests.compose_stack

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache *.egg-info
