# `make` sets everything up, builds the student release and executes every notebook headless.
# `make test` sets everything up and runs lint, nbval on the notebooks, unit tests, then the instructor tests
# and kit-check at once, then grade-check.
PYTHON ?= python3
FASHION_DIR := /usr/share/datasets/fashion-mnist
export PIP_ROOT_USER_ACTION := ignore
export PIP_DISABLE_PIP_VERSION_CHECK := 1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NOTEBOOKS := assignment1/two_layer_net.ipynb \
	assignment2/FullyConnectedNets.ipynb assignment2/BatchNormalization.ipynb \
	assignment2/Dropout.ipynb assignment2/ConvolutionalNetworks.ipynb

.PHONY: all setup build test lint unit instructor-tests kit-check instructor-and-kit-checks grade-check nbval bench bench-accuracy release validate notebooks clean

all: setup release notebooks

setup: .setup-done

# Re-run the install only when what it installs from changes. The editable install compiles the
# Cython extension in place; `make build` recompiles it after an edit of the .pyx.
.setup-done: requirements.txt pyproject.toml setup.py cs231n/im2col_cython.pyx instructor/pyproject.toml
	@if [ ! -d $(FASHION_DIR) ]; then \
	  if command -v apt-get >/dev/null; then \
	    $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; \
	  else echo "apt-get not found: run ./get_datasets.sh fashion_mnist to download Fashion-MNIST"; fi; \
	fi
	$(PYTHON) -m pip install -q -r requirements.txt
	$(PYTHON) -m pip install -q --no-build-isolation -e . -e ./instructor
	touch $@

build: setup
	$(PYTHON) setup.py -q build_ext --inplace

# nbval runs first: the reference notebooks save the models (<tag>.npz) grade-check measures, and they are
# what `make` leaves behind, so every test after it meets the same tree whether or not `make` ran before.
# No test reads those models unless it names them (coursekit.authoring.release.write_solved(models=...)).
test: setup lint nbval unit instructor-and-kit-checks grade-check

# The instructor tests and the kits in fresh venvs at once: the venvs mostly wait on PyPI downloads and
# installs while the instructor tests compute. Each one's output is printed whole when it ends.
instructor-and-kit-checks: setup
	$(MAKE) --no-print-directory -j2 --output-sync=target instructor-tests kit-check

lint:
	$(PYTHON) -m ruff check .

unit:
	$(PYTHON) -m pytest tests -q

instructor-tests:
	$(PYTHON) -m pytest instructor/tests -q -k "not fresh_venv"

# The kits as students meet them, each from its zip in fresh virtual environments (PyPI downloads): the
# README's set-up up to a running JupyterLab, both kits in one environment, the setuptools floor, no C
# compiler. 1.8 minutes on an idle 2-core machine whose pip cache `make setup` filled (6.6 when busy).
kit-check: setup
	$(PYTHON) -m pytest instructor/tests/test_kits.py -q -k fresh_venv

# Two notebooks at a time (pytest-xdist; --dist loadscope keeps each notebook's cells in order in one kernel),
# each with one BLAS thread, so the two do not fight over the two cores.
nbval:
	CS231N_STRICT_CHECKS=1 CS231N_DATASET=$${CS231N_DATASET:-fashion_mnist} OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
	  $(PYTHON) -m pytest -q -p no:randomly -n 2 --dist loadscope --nbval-lax \
	  --nbval-sanitize-with assignment_sanitize.cfg $(NOTEBOOKS)

bench: setup
	$(PYTHON) -m benchmarks.bench

# One-epoch ThreeLayerConvNet accuracy over seeds, constant vs linear learning rate (about 8 minutes).
bench-accuracy: setup
	$(PYTHON) -m benchmarks.bench_accuracy

release: setup
	coursekit release --out build/release

validate: setup
	coursekit validate

# Through the sandboxed grader: the reference scores 100 % (its notebook TODOs by the models the reference
# notebooks saved: run `make nbval` or `make notebooks` first), the untouched release 0 %, a release with
# one TODO solved exactly that TODO's points, and the kits' public tests fail exactly on their TODOs.
grade-check: setup
	coursekit validate --solve cs231n/optim.py::adam --solve cs231n/classifiers/neural_net.py::TwoLayerNet.loss \
	  --solve cs231n/layers.py::batchnorm_backward --solve assignment2/FullyConnectedNets.ipynb::fc_best_model

notebooks: setup
	coursekit run-notebooks --out build/notebooks

clean:
	rm -rf build dist *.egg-info .setup-done cs231n/*.so cs231n/im2col_cython.c
