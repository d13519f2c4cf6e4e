#!/usr/bin/env bash
# Check an assignment and pack it for Gradescope: ./collectSubmission.sh [a1|a2|assignment1|assignment2]
# Writes a1_submission.zip / a2_submission.zip (notebooks and code only) and a PDF of the notebooks
# (HTML when no PDF converter is installed). Any failed check exits non-zero naming the file.
# The file is both a shell script and a Python program: the shell part below only hands over to python3.
"true" '''\'
set -eu
cd "$(dirname "$0")"
if ! command -v python3 >/dev/null 2>&1; then
  echo "collectSubmission: python3 not found; activate the environment you use for the notebooks" >&2
  exit 2
fi
exec python3 "$(basename "$0")" "$@"
'''

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

NOTEBOOKS = {
    "a1": ["two_layer_net.ipynb"],
    "a2": ["FullyConnectedNets.ipynb", "BatchNormalization.ipynb", "Dropout.ipynb", "ConvolutionalNetworks.ipynb"],
}
PACKAGE = "cs231n"
# Written by the release: the exact notebooks of this kit, when they differ from the course's defaults.
MANIFEST = Path(".kit-manifest.json")
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", "datasets", "build", ".venv", ".pytest_cache"}
CODE_SUFFIXES = {".py", ".pyx"}
START = "# *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
END = "# *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"


def fail(message):
    print(f"collectSubmission: ERROR: {message}", file=sys.stderr)
    sys.exit(1)


def choose_assignment(argv, notebooks):
    if len(argv) > 1:
        fail("usage: ./collectSubmission.sh [a1|a2]")
    if argv:
        name = argv[0].lower().replace("assignment", "a")
        if name not in notebooks:
            fail(f"unknown assignment {argv[0]!r}; use one of {', '.join(notebooks)}")
        return name
    present = [name for name, files in notebooks.items() if any(Path(f).exists() for f in files)]
    if len(present) != 1:
        fail("cannot tell the assignment from the notebooks here; pass it: ./collectSubmission.sh a1 (or a2)")
    return present[0]


def stub_regions(text):
    """Line numbers of regions whose body is still only `pass`."""
    stubs, start = [], None
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip() == START:
            start, body = i, []
        elif line.strip() == END and start is not None:
            if all(b.strip() in ("", "pass") or b.strip().startswith("#") for b in body):
                stubs.append(start)
            start = None
        elif start is not None:
            body.append(line)
    return stubs


def check_notebook(path):
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"{path} is not a readable notebook ({exc}); open it in Jupyter and save it again")
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code" or not "".join(cell.get("source", "")).strip():
            continue
        if cell.get("execution_count") is None:
            fail(f"{path}: code cell {index + 1} was never run; run the whole notebook (Restart & Run All) and save")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                fail(f"{path}: code cell {index + 1} ended with {output.get('ename', 'an error')}; fix it, re-run and save")
    return nb


def code_files():
    files = []
    for path in sorted(Path(PACKAGE).rglob("*")):
        if path.is_file() and path.suffix in CODE_SUFFIXES and not SKIP_DIRS & set(path.parts):
            files.append(path)
    return files


def write_zip(target, files):
    fd, tmp = tempfile.mkstemp(dir=".", prefix=f".{target}.", suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                zf.write(path, path.as_posix())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export(short, notebooks):
    """One PDF (or HTML) of all notebooks, for the written part of the grading."""
    try:
        import nbformat
    except ImportError:
        print("collectSubmission: nbformat/nbconvert not installed: no PDF or HTML written (pip install -r requirements.txt)")
        return
    merged = nbformat.v4.new_notebook()
    for path in notebooks:
        nb = nbformat.read(str(path), as_version=4)
        merged.cells.append(nbformat.v4.new_markdown_cell(f"# {path.name}"))
        merged.cells.extend(nb.cells)
        merged.metadata = merged.metadata or nb.metadata
    to = "pdf" if shutil.which("xelatex") else "html"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{short}_submission.ipynb"
        for cell in merged.cells:
            cell.pop("id", None)
        nbformat.write(merged, str(src))
        proc = subprocess.run(
            [sys.executable, "-m", "nbconvert", "--to", to, "--log-level", "ERROR", str(src), "--output-dir", tmp],
            capture_output=True,
            text=True,
        )
        produced = Path(tmp) / f"{short}_submission.{to}"
        if proc.returncode != 0 or not produced.exists():
            print(f"collectSubmission: could not convert the notebooks to {to.upper()} ({proc.stderr.strip()[-300:]}); "
                  "upload the zip anyway")
            return
        shutil.copyfile(produced, f".{short}_submission.{to}.tmp")
        os.replace(f".{short}_submission.{to}.tmp", f"{short}_submission.{to}")
    if to == "pdf":
        print(f"collectSubmission: wrote {short}_submission.pdf")
    else:
        print(f"collectSubmission: no PDF converter (xelatex) found: wrote {short}_submission.html instead; "
              "print it to PDF from your browser if Gradescope asks for a PDF")


def main(argv):
    notebooks = dict(NOTEBOOKS)
    if MANIFEST.exists():
        manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
        notebooks = {manifest["assignment"]: manifest["notebooks"]}
    short = choose_assignment(argv, notebooks)
    paths = [Path(name) for name in notebooks[short]]
    for path in paths:
        if not path.is_file():
            fail(f"{path} is missing; it is part of {short}: put it back in {Path.cwd()}")
    if not Path(PACKAGE).is_dir():
        fail(f"the {PACKAGE}/ folder is missing from {Path.cwd()}")
    for path in paths:
        check_notebook(path)
    files = code_files()
    if not files:
        fail(f"no code found in {PACKAGE}/")
    for path in files + paths:
        if path.suffix == ".ipynb":
            nb = json.loads(path.read_text(encoding="utf-8"))
            texts = ["".join(c.get("source", "")) for c in nb.get("cells", []) if c.get("cell_type") == "code"]
        else:
            texts = [path.read_text(encoding="utf-8", errors="replace")]
        for text in texts:
            for line in stub_regions(text):
                where = f"{path}:{line}" if path.suffix != ".ipynb" else f"{path} (a code cell)"
                print(f"collectSubmission: WARNING: {where}: TODO still holds only `pass`")
    target = f"{short}_submission.zip"
    write_zip(target, paths + files)
    print(f"collectSubmission: wrote {target} ({len(paths)} notebooks, {len(files)} code files)")
    export(short, paths)
    print(f"collectSubmission: done. Upload {target} to Gradescope.")


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent)
    main(sys.argv[1:])
