# Two commands for a newcomer (README): `make demo` and `make test`.
# Both set up what they need first: system packages (Debian, when root), the venv, the package.

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
APT_PKGS := docker-registry busybox-static wrk

.PHONY: demo test cluster-test cluster-deps setup system-deps lint typecheck unit fixtures bench clean

demo: setup
	$(BIN)/python demo.py host-pull

test: setup lint typecheck
	$(BIN)/pytest -n 2 -q

# The cluster track on this machine's own Kubernetes (the `local` provider, issue #15; root):
# the Debian packages and Docker engine it needs, the cluster's own check (`-m local_cluster`:
# up, a restricted pod resolves and reaches the API, down leaves nothing), then cluster-up
# (binaries built from the Go modules when missing: ~10-15 min once per version), the `-m kind`
# tests on it, and cluster-down however they ended (Ctrl-C included). The exit status is the
# tests', else cluster-down's (it fails when anything is left on the host).
# One pytest process by default: the 2-core node has 2000m of CPU to allocate and each env asks
# 250m per router (x2) and per worker, so two envs at once leave pods Pending (Insufficient cpu).
# CLUSTER_TEST_ARGS adds pytest flags (`-n 2` on a bigger node: xdist workers adopt the cluster).
CLUSTER_PKGS := containerd containernetworking-plugins ipset
CLUSTER_TEST_ARGS ?=
# NetworkPolicies enforced by kube-router's firewall (built from its Go module on first use).
export GTC_LOCAL_NETPOL ?= kube-router

cluster-deps:
	bash .ci/docker-setup.sh
	@missing=""; for p in $(CLUSTER_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

cluster-test: setup cluster-deps
	$(BIN)/python -m harness.kube.local.build
	GTC_REQUIRE_KIND=1 $(BIN)/pytest -m local_cluster -q -p no:xdist
	@status=0; trap 'status=130' INT TERM; \
	$(BIN)/python demo.py cluster-up --provider local && \
	GTC_REQUIRE_DOCKER=1 GTC_REQUIRE_KIND=1 $(BIN)/pytest -m kind --provider local -q $(CLUSTER_TEST_ARGS) || status=$$?; \
	$(BIN)/python demo.py cluster-down --provider local || [ $$status -ne 0 ] || status=1; \
	exit $$status

setup: system-deps $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# Debian packages the host track uses (the OCI registry binary, busybox, wrk). Installed only
# when missing and when we may (root); otherwise the tests that need them say what is missing.
system-deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing" >&2; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "note: missing Debian packages:$$missing (sudo apt-get install$$missing)" >&2; fi; \
	fi

# Shape rules (tools/lint_shape.py): functions at CC <= 15, modules <= 400 lines unless their
# docstring gives a `Size:` reason; over greentic/, harness/, scenarios/, demo.py and tools/.
SHAPE_PATHS ?= greentic harness scenarios demo.py tools

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python tools/lint_shape.py $(SHAPE_PATHS)

typecheck: $(STAMP)
	$(BIN)/mypy greentic

fixtures: $(STAMP)
	$(BIN)/python fixtures/bundles/build.py

# `make bench` runs the benches behind docs/performance.md (pull, cold boot, CLI start-up,
# throughput; a few minutes) and regenerates it with its chart; BENCH_ARGS=--quick for a short
# run. Every other bench script prints its own figures: `.venv/bin/python bench/<name>.py`.
bench: $(STAMP)
	$(BIN)/python bench/report.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) artifacts .pytest_cache .mypy_cache .ruff_cache *.egg-info
