# Archon: every command sets up what it needs on first use (venv, pinned CDK CLI, a supported Node).
SHELL := /bin/bash
# Independent set-up steps (the venvs, Node and the CDK CLI, the layer) run side by side.
MAKEFLAGS += --jobs=4
.DEFAULT_GOAL := help
PYTHON ?= python3
# The interpreter that installs uv and that the venvs are made from: the one behind $(PYTHON),
# also where a venv's python comes first on PATH (a venv's python has no pip, and a venv is not
# made from a venv).
BOOTSTRAP_PYTHON := $(shell $(PYTHON) -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')
VENV := .venv
STAGE ?=
LAMBDA_PYTHON := 3.14
# Packages the Lambda Python runtime already provides (boto3 and its dependencies): never shipped,
# so the layer cannot shadow the runtime's SDK.
RUNTIME_PROVIDED := boto3|botocore|jmespath|python-dateutil|s3transfer|six|urllib3
# uv installs the pinned Python packages (every venv and the layer), several times faster than pip;
# pip only installs uv itself, from tools/requirements-uv.txt with its hashes checked.
UV := .tools/uv/bin/uv

export PATH := $(CURDIR)/.tools/node/bin:$(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export CDK_DISABLE_VERSION_CHECK := 1
# Every Python process make starts keeps the bytecode of what it imports, under build/ rather than
# beside the sources, also where PYTHONDONTWRITEBYTECODE is set: without it each process compiles
# all it imports again (aws_cdk's service modules alone take seconds), the suite's many processes
# included. make clean removes it with build/.
export PYTHONPYCACHEPREFIX := $(CURDIR)/build/pycache
unexport PYTHONDONTWRITEBYTECODE
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION :=

STAGE_CONTEXT := $(if $(STAGE),-c stage=$(STAGE),)

.PHONY: gcp-package mutation test-fast e2e help setup synth test bench snapshot layer lock clean run token outbox diff tf-provider-tests chaos fuzz migrate-email-keys

help:
	@echo "make run [STAGE=dev PORT=3000 HOST= BACKEND=memory|server]  serve a stage locally (no AWS account, no Docker)"
	@echo "make run CLOUD=gcp [STAGE=dev PORT=3000]         the stage's service as on GCP, over the Firestore and Pub/Sub emulators"
	@echo "make token [PORT=3000 SCOPES='users/read']      print an access token of the local run (default scopes: users/read users/create)"
	@echo "make outbox [PORT=3000]                          list the welcome emails the local run has sent"
	@echo "make test                                        run the whole test suite (sets up what it needs)"
	@echo "make test-fast                                   the domain, adapter and construct tests: no CLI synth, runner or emulator process"
	@echo "make mutation [FULL=1 | BASE=<git ref>]          mutation testing of the domain and adapters; writes docs/reliability.md"
	@echo "make e2e URL=<api url>                           the API suite against a stage (ARCHON_TOKEN_URL, ARCHON_CLIENT_ID, ARCHON_CLIENT_SECRET)"
	@echo "make setup                                       install the pinned tools: .venv, the CDK CLI, Node, the layer, checkov"
	@echo "make synth [STAGE=dev|staging|prod]              synthesise every (stage, region), or one stage, into cdk.out"
	@echo "make diff [BASE=origin/main STAGE= FORMAT=text|md]  offline synth review of BASE against the working tree"
	@echo "make snapshot                                    accept changed template snapshots after review"
	@echo "make lock                                        re-pin Python dependencies after editing a requirements*.in file"
	@echo "make layer                                       build the functions' dependency layer (build/layer)"
	@echo "make bench                                       the benchmarks; writes docs/benchmarks.md"
	@echo "make chaos [USERS=1000 CLOUD=gcp]                the ledger under injected faults (CLOUD=gcp: on GCP's emulators); writes docs/reliability.md"
	@echo "make fuzz [EXAMPLES=3500]                        schemathesis from docs/openapi.json against the local runner; writes docs/reliability.md"
	@echo "make tf-provider-tests                           the sidecar checks that need provider binaries (needs the Terraform registry)"
	@echo "make gcp-package                                 the GCP functions' source archive for terraform apply (build/gcp/functions.zip)"
	@echo "make migrate-email-keys STAGE= [APPLY=1]         re-key a deployed stage's email guards (dry run without APPLY; AWS credentials)"
	@echo "make clean                                       remove cdk.out, build/ and test caches"

# A venv at $(1) with the pinned lock $(2) installed; the stamp ($@) marks it done.
define venv_from_lock
	$(UV) venv --quiet --allow-existing --python $(BOOTSTRAP_PYTHON) $(1)
	VIRTUAL_ENV=$(1) $(UV) pip install --quiet --require-hashes -r $(2)
	touch $@
endef

# The locked dependencies, then this project itself (pyproject.toml), editable: its packages are
# importable by name, lambda_src's as Lambda sees them, built by the hash-checked setuptools.
$(VENV)/.stamp: requirements-dev.txt requirements.txt lambda_src/requirements.txt pyproject.toml $(UV)
	$(UV) venv --quiet --allow-existing --python $(BOOTSTRAP_PYTHON) $(VENV)
	VIRTUAL_ENV=$(VENV) $(UV) pip install --quiet --require-hashes -r requirements-dev.txt
	VIRTUAL_ENV=$(VENV) $(UV) pip install --quiet --no-deps --no-build-isolation --editable .
	touch $@

$(UV): tools/requirements-uv.txt
	$(BOOTSTRAP_PYTHON) -m pip install --quiet --disable-pip-version-check --require-hashes --target .tools/uv -r tools/requirements-uv.txt
	touch $@

# npx puts node_modules/.bin first on PATH, so the supported Node linked there runs the CDK CLI
# (and the jsii runtime it starts) however it is called: make, or npx cdk as the README says.
node_modules/.stamp: package.json package-lock.json .tools/node/bin/node
	npm ci --no-audit --no-fund --loglevel=error
	ln -sf $(CURDIR)/.tools/node/bin/node node_modules/.bin/node
	touch $@

.tools/node/bin/node:
	bash scripts/ensure-node.sh

# The functions' dependencies as a Lambda layer: pinned, arm64 wheels for the Lambda runtime's
# Python, installed without Docker; with that Python at hand (python3.14 on PATH, or
# LAMBDA_PYTHON_BIN=), their bytecode too (cdk_app/bytecode.py, as for the functions' code).
LAMBDA_PYTHON_BIN ?=
build/layer.stamp: lambda_src/requirements.txt cdk_app/bytecode.py $(UV)
	rm -rf build/layer && mkdir -p build/layer
	awk '/^[A-Za-z0-9_.-]+==/ { keep = ($$0 !~ /^($(RUNTIME_PROVIDED))==/) } keep' lambda_src/requirements.txt > build/layer-requirements.txt
	$(UV) pip install --quiet --no-deps --no-compile --no-build --require-hashes \
	  --python-platform aarch64-manylinux2014 --python-version $(LAMBDA_PYTHON) \
	  --target build/layer/python -r build/layer-requirements.txt
	rm -rf build/layer/python/bin
	find build/layer -name __pycache__ -prune -exec rm -rf {} +
	LAMBDA_PYTHON_BIN="$(LAMBDA_PYTHON_BIN)" $(PYTHON) -m cdk_app.bytecode build/layer/python $(LAMBDA_PYTHON)
	touch $@

layer: build/layer.stamp

# checkov in a venv of its own: it ships an `hcl2` module that clashes with python-hcl2.
.tools/checkov/.stamp: tools/requirements-checkov.txt $(UV)
	$(call venv_from_lock,.tools/checkov,tools/requirements-checkov.txt)

# mutmut, in a venv of its own (tools/requirements-mutation.in says why).
.tools/mutation/.stamp: tools/requirements-mutation.txt $(UV)
	$(call venv_from_lock,.tools/mutation,tools/requirements-mutation.txt)

# Mutation testing of the domain and the adapters: the files changed since their last run here
# (FULL=1: every file; BASE=<git ref>: the files changed since it), the report in docs/reliability.md.
FULL ?=
BASE ?=
mutation: $(VENV)/.stamp .tools/mutation/.stamp
	$(VENV)/bin/python -m tools.mutation $(if $(FULL),--full,) $(if $(BASE),--base $(BASE),) --report docs/reliability.md

# The tiers that need no CLI synth, no runner and no emulator process: the domain against
# stand-ins of its ports, the AWS adapters on moto in process, each construct on a bare Stack
# (bench/test_fast.py times it). Its files spread over the cores, as make test's do.
test-fast: $(VENV)/.stamp
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider --numprocesses=$(TEST_WORKERS) --dist loadfile $(FAST_TESTS)

# The third-party client generator of the contract test, in a venv of its own (its own ruff and typer).
.tools/openapi-client/.stamp: tools/requirements-openapi-client.txt $(UV)
	$(call venv_from_lock,.tools/openapi-client,tools/requirements-openapi-client.txt)

# Stock moto 5.2.5 in a venv of its own for bench/yardstick.py: the runner pins 5.1.22.
.tools/yardstick/.stamp: bench/requirements-yardstick.txt $(UV)
	$(call venv_from_lock,.tools/yardstick,bench/requirements-yardstick.txt)

setup: $(VENV)/.stamp node_modules/.stamp .tools/node/bin/node build/layer.stamp .tools/checkov/.stamp .tools/openapi-client/.stamp

# Offline synth review (no AWS credentials): FORMAT=md|text, DIFF_FLAGS e.g. --fail-on-destructive.
BASE ?= origin/main
FORMAT ?= text
diff: $(VENV)/.stamp node_modules/.stamp .tools/node/bin/node build/layer.stamp
	$(VENV)/bin/python -m synth_review --base $(BASE) --format $(FORMAT) $(if $(STAGE),--stage $(STAGE),) $(DIFF_FLAGS)

# `cdk synth` with context $(1) into a fresh folder build/synth.$(2) first: cdk.out is replaced only
# by a synth that succeeded (a bad STAGE or config leaves the previous one in place).
define synth_into_cdk_out
	rm -rf build/synth.$(2)
	npx cdk synth --quiet $(1) --output build/synth.$(2)
	rm -rf cdk.out && mv build/synth.$(2) cdk.out
endef

synth: $(VENV)/.stamp node_modules/.stamp .tools/node/bin/node build/layer.stamp
	$(call synth_into_cdk_out,$(STAGE_CONTEXT),next)
	@echo "synthesised into cdk.out: $$(find cdk.out -name '*.template.json' | wc -l) templates"

# The test files run side by side, one worker per core (TEST_WORKERS=0: all in this process).
TEST_WORKERS ?= auto
# Coverage of every package that ships (.coveragerc; the runner's subprocesses included), each
# with a gate of its own.
COVERAGE_GATES := lambda_src=90 local_runner=85 synth_review=85 migrations=80 cloud_assembly=90
SOURCE_DIRS := app.py cdk_app lambda_src local_runner synth_review migrations cloud_assembly tools scripts bench tests
FAST_TESTS := tests/domain tests/adapters tests/constructs tests/tools
test: setup
	rm -f .coverage .coverage.*
	mkdir -p build && touch build/.test-started
	chromium=$$(bash scripts/ensure-chromium.sh) && CHROMIUM=$$chromium $(VENV)/bin/python -m pytest --numprocesses=$(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --cov --cov-report=
	@written=$$(find $(SOURCE_DIRS) -name '*.pyc' -newer build/.test-started 2>/dev/null | head -3); \
	  if [ -n "$$written" ]; then echo "bytecode written beside the sources during the run (a process without PYTHONPYCACHEPREFIX): $$written" >&2; exit 1; fi
	@for gate in $(COVERAGE_GATES); do package=$${gate%=*}; floor=$${gate#*=}; \
	  total=$$($(VENV)/bin/coverage report --include="$$package/*" --format=total); \
	  echo "coverage of $$package: $$total% (at least $$floor%)"; [ "$$total" -ge "$$floor" ] || exit 1; done

# A stage's cloud assembly (cdk.out/.dev.stamp for dev), re-synthesised when the code, config or
# layer changed, or when anything else wrote cdk.out since (a synth of another stage rewrites its
# manifest).
LOCAL_SOURCES := app.py cdk.json $(shell find cdk_app lambda_src config -type f -not -path '*/__pycache__/*' 2>/dev/null)
cdk.out/.%.stamp: $(LOCAL_SOURCES) $(wildcard cdk.out/manifest.json) $(VENV)/.stamp build/layer.stamp node_modules/.stamp .tools/node/bin/node
	$(call synth_into_cdk_out,-c stage=$*,$*)
	touch $@

PORT ?= 3000
HOST ?= 127.0.0.1
BACKEND ?= memory
ALLOW_NON_LOOPBACK ?=
# The dev stage unless STAGE names another: its own template, config and limits, over moto.
RUN_STAGE := $(or $(STAGE),dev)
# CLOUD=gcp: the stage's service as it runs on GCP, over the Firestore and Pub/Sub emulators (no synth).
CLOUD ?= aws
run: $(VENV)/.stamp $(if $(filter gcp,$(CLOUD)),,cdk.out/.$(RUN_STAGE).stamp)
	@$(VENV)/bin/python -m local_runner serve --cloud $(CLOUD) --stage $(RUN_STAGE) --host $(HOST) --port $(PORT) --backend $(BACKEND) $(if $(ALLOW_NON_LOOPBACK),--allow-non-loopback,)

# The API suite (tests/api) against any stage: black-box, HTTP only, a token by client credentials.
URL ?=
E2E_VARIABLES := ARCHON_TOKEN_URL ARCHON_CLIENT_ID ARCHON_CLIENT_SECRET
e2e: $(VENV)/.stamp
	@if [ -z "$(URL)" ]; then echo "usage: make e2e URL=<the stage's ApiUrl output>, with $(E2E_VARIABLES) set (README: Testing a deployed stage)" >&2; exit 2; fi
	@missing=""; for v in $(E2E_VARIABLES); do [ -n "$$(printenv $$v)" ] || missing="$$missing $$v"; done; \
	  if [ -n "$$missing" ]; then echo "make e2e: set$$missing (README: Testing a deployed stage; scripts/e2e-credentials.sh prints them)" >&2; exit 2; fi
	ARCHON_API_URL="$(URL)" $(VENV)/bin/python -m pytest -q -p no:cacheprovider --confcutdir=tests/api tests/api

SCOPES ?=
token: $(VENV)/.stamp
	@$(VENV)/bin/python -m local_runner token --url http://127.0.0.1:$(PORT) --scopes "$(SCOPES)"

outbox: $(VENV)/.stamp
	@$(VENV)/bin/python -m local_runner outbox --url http://127.0.0.1:$(PORT)

# Writes docs/benchmarks.md: handlers (cold, warm vs the original design), runner throughput (against
# the prototype reference, scaled by its emulator yardstick measured again) and
# instructions per request, processor drain, synth and test time, then the cost model (which
# reads the handlers' figures). valgrind does not run everywhere (not on Apple silicon): without
# it the instruction counts are skipped, saying so.
bench: setup cdk.out/.dev.stamp .tools/yardstick/.stamp
	$(VENV)/bin/python -m bench.handler_timings
	$(VENV)/bin/python bench/gcp_cold_start.py
	$(VENV)/bin/python bench/gcp_cold_start.py
	$(VENV)/bin/python bench/runner.py
	$(VENV)/bin/python bench/runner_start.py
	@if command -v valgrind >/dev/null; then $(VENV)/bin/python bench/instructions.py; \
	 else echo "bench/instructions.py skipped: valgrind is not installed (Debian: apt-get install valgrind)"; fi
	$(VENV)/bin/python bench/drain.py
	$(VENV)/bin/python bench/synth.py
	$(VENV)/bin/python bench/test_fast.py
	$(VENV)/bin/python bench/cost.py
	$(VENV)/bin/python bench/cost_gcp.py
	$(VENV)/bin/python bench/cost_gcp.py
	$(VENV)/bin/python bench/first_run.py

# The ledger: 1,000 users under 10% injected faults, every one accounted for (loopback only).
USERS ?= 1000
chaos: $(VENV)/.stamp $(if $(filter gcp,$(CLOUD)),,cdk.out/.dev.stamp)
	$(VENV)/bin/python -m tools.ledger --cloud $(CLOUD) --users $(USERS) --report docs/reliability.md

# schemathesis from docs/openapi.json against the local runner: at least 10,000 requests (loopback only).
EXAMPLES ?= 3500
fuzz: $(VENV)/.stamp cdk.out/.dev.stamp
	$(VENV)/bin/python -m tools.fuzz --max-examples $(EXAMPLES) --report docs/reliability.md

# terraform validate on the sidecar's root and resource modules, and its mocked root tests: these
# need the provider binaries, so they run where registry.terraform.io (or a mirror) answers.
tf-provider-tests:
	bash scripts/terraform-provider-tests.sh

# The GCP functions' source archive (build/gcp/functions.zip) that terraform/modules/gcp-service uploads.
gcp-package: $(VENV)/.stamp
	$(VENV)/bin/python -m scripts.gcp_package

# One-off for stages deployed before the identity key (docs/operations.md): a dry run unless APPLY=1.
migrate-email-keys: $(VENV)/.stamp
	@test -n "$(STAGE)" || { echo "error: give the stage: make migrate-email-keys STAGE=dev|staging|prod [APPLY=1]" >&2; exit 1; }
	$(VENV)/bin/python -m migrations.email_keys --stage $(STAGE) $(if $(APPLY),--apply,)

snapshot: setup
	$(VENV)/bin/python -m pytest tests/infra -k snapshot --snapshot-update

# Every lock carries each pin's hashes (of every file the index has for it): installs check them
# (--require-hashes), so a job with deploy credentials runs only what the locks name.
LOCK := $(UV) pip compile -q --no-header --generate-hashes --python $(BOOTSTRAP_PYTHON)
lock: $(UV)  ## re-pin every Python dependency after editing a requirements*.in file
	$(LOCK) -o requirements-dev.txt requirements-dev.in
	$(LOCK) -c requirements-dev.txt -o requirements.txt requirements.in
	$(LOCK) -c requirements-dev.txt -o lambda_src/requirements.txt lambda_src/requirements.in
	$(LOCK) -c requirements-dev.txt -o lambda_src/requirements-gcp.txt lambda_src/requirements-gcp.in
	$(LOCK) -o tools/requirements-checkov.txt tools/requirements-checkov.in
	$(LOCK) -o tools/requirements-openapi-client.txt tools/requirements-openapi-client.in
	$(LOCK) -o bench/requirements-yardstick.txt bench/requirements-yardstick.in
	$(LOCK) -o tools/requirements-uv.txt tools/requirements-uv.in
	$(LOCK) -o tools/requirements-mutation.txt tools/requirements-mutation.in

clean:
	rm -rf cdk.out build .pytest_cache .coverage .coverage.* htmlcov
