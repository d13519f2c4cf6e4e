"""The README.md of a student kit: what is needed, how to set up, start, work offline, test and submit.

Every command it names exists in the kit (no Makefile there); instructor/tests/test_kits.py follows it in
a fresh virtual environment up to a running `jupyter lab`.
"""

from ..markers import END, START

# Filled in by student_readme; every command it names exists in the kit.
TEMPLATE = """# {assignment}

This folder is your kit for {assignment}: its notebooks, the `{package}` package with the TODOs you write,
and the public tests of those TODOs.

Notebooks, in order:

{listed}

Your code goes into the notebooks' TODO cells and these files:

{todo_list}

## What you need

- {version} with `venv` and `pip` (`python3 --version`; on Debian/Ubuntu also
  `sudo apt-get install python3-venv`).
{compiler}
- Internet access for the first `pip install` (PyPI) and for CIFAR-10; see *Offline* below for working
  without it.

## Set up (once)

```bash
python3 -m venv .venv
. .venv/bin/activate               # Windows: .venv\\Scripts\\activate
pip install -r requirements.txt    # numpy, matplotlib, JupyterLab, ipywidgets, pytest, ...
pip install -e .                   # this folder's {package} package (distribution {package}-{assignment})
./get_datasets.sh                  # CIFAR-10 (163 MB) into {package}/datasets/
```

The package is installed in editable mode under its own name, `{package}-{assignment}`, so the kit of
another assignment installs beside it in the same environment; a notebook always imports the `{package}`
folder next to it.

## Start

```bash
. .venv/bin/activate
jupyter lab                        # opens JupyterLab in your browser
```

Open `{first}` and run its cells from the top. `jupyter notebook` works too; as root (in a container, say)
Jupyter also wants `--allow-root`.

## Offline, or without CIFAR-10

The notebooks read their data through `{package}.data_utils.get_data()`, which picks the dataset named by
the `CS231N_DATASET` environment variable (default `cifar10`). Fashion-MNIST needs no download when it is
installed on the machine:

- Debian/Ubuntu: `sudo apt-get install dataset-fashion-mnist` (files in `/usr/share/datasets/fashion-mnist`);
- or `./get_datasets.sh fashion_mnist`, which installs that package when it can and otherwise downloads the
  four files into `{package}/datasets/fashion-mnist`.

Then start Jupyter with `CS231N_DATASET=fashion_mnist jupyter lab`. Results differ from CIFAR-10's (the
images are 1x28x28 clothes); the checks and the grader accept either.

Without access to PyPI, `pip install -e .` cannot fetch its build tools into a fresh build environment; use
`pip install --no-build-isolation -e .`, which builds with the ones `requirements.txt` installed.

## Work

Write your code between the lines

    {START_MARKER}
    {END_MARKER}

in the files above and in the notebooks; do not edit or delete these marker lines. Every check cell of a
notebook ends in one line: `✓`, or `✗ — fix <function>` naming what to work on.

## Test

```bash
python -m pytest tests -q
```

runs the public tests of this assignment's TODOs. In a fresh kit they fail until you implement the TODO
they test. The grader also runs hidden tests, so passing the public tests is necessary, not sufficient.

## Submit

Run every notebook from top to bottom (Kernel > Restart Kernel and Run All Cells) and save it. Then:

```bash
./collectSubmission.sh             # checks the notebooks, then writes {short}_submission.zip
./collectSubmission.sh --partial   # hand in unfinished work: unrun cells become warnings
```

It stops when a notebook was not run or ended in an error (with `--partial` these are warnings), warns
about TODOs still holding only `pass`, and writes `{short}_submission.zip` (notebooks, `{package}/` code and
trained model files) plus `{short}_submission.pdf` of the notebooks (`{short}_submission.html` when LaTeX or
pandoc is missing; it says which). Upload the zip (and the PDF, if your course asks for it) to Gradescope.
{model_note}"""


def _compiler_section(package, has_extension):
    if not has_extension:
        return "- No C compiler: this assignment is Python and numpy only."
    return f"""- A C compiler, for the fast convolution layers (`{package}/im2col_cython.pyx`, compiled by
  `pip install -e .`): on Debian/Ubuntu `sudo apt-get install build-essential python3-dev`, on macOS
  `xcode-select --install`, on Windows the "Desktop development with C++" workload of Visual Studio Build
  Tools. **Without one** the install still succeeds, the extension is skipped, and `{package}.fast_layers`
  warns once when imported and uses its numpy fallback: the same results, but slower convolutions (the
  ConvolutionalNetworks notebook takes several times longer). After installing a compiler, run
  `pip install -e .` again. To see which one you have:
  `python -c "from {package} import fast_layers; print(fast_layers.get_backend())"` prints `cython` or `numpy`."""


def student_readme(*, assignment, short, package, notebooks, todo_files, has_extension, models, python=None):
    """The README text; `python` is the oldest supported version (e.g. "3.10"), None if not declared."""
    listed = "\n".join(f"- `{name}`" for name in notebooks)
    todo_list = "\n".join(f"- `{rel}`" for rel in todo_files) or "- (none: this assignment's TODOs are in the notebooks)"
    first = notebooks[0] if notebooks else "the first notebook"
    version = f"Python {python} or newer" if python else "Python 3"
    model_note = ""
    if models:
        shown = "\n".join(f"- `{m}`" for m in models)
        model_note = ("\nThe graded cells save the models they train next to the notebooks, and the zip includes\n"
                      f"them; the grader measures each model itself, so run those cells to the end:\n\n{shown}\n")
    return TEMPLATE.format(assignment=assignment, short=short, package=package, listed=listed, todo_list=todo_list,
                           first=first, version=version, compiler=_compiler_section(package, has_extension),
                           model_note=model_note, START_MARKER=START, END_MARKER=END)
