"""Check an assignment and pack it for Gradescope: `python -m cs231n.collect [--partial] [a1|a2]`.

collectSubmission.sh in the kit runs it. It writes a1_submission.zip / a2_submission.zip (notebooks, code and
the trained model files the graded cells save) and a PDF of the notebooks (HTML when a tool the PDF export
needs is missing, saying which). A notebook cell that was never run or ended in an error stops it, naming
the cell; with --partial these are warnings and the zip is written anyway (hand in unfinished work). TODOs
still holding only `pass` and missing model files are warnings either way.

It works in the folder that holds this package (the kit), whatever the current directory, and imports the
standard library only until the PDF export, so it runs in any environment that can run the notebooks.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from . import regions
from .regions import find_regions, owners

# Used only outside a kit (the reference tree): a kit's .kit-manifest.json says what belongs to it.
NOTEBOOKS = {
    "a1": ["two_layer_net.ipynb"],
    "a2": ["FullyConnectedNets.ipynb", "BatchNormalization.ipynb", "Dropout.ipynb", "ConvolutionalNetworks.ipynb"],
}
MANIFEST = Path(".kit-manifest.json")
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", "datasets", "build", ".venv", ".pytest_cache"}
CODE_SUFFIXES = {".py", ".pyx"}
# This collector and the grammar it reads come with every kit and are the course's, not the student's work:
# the zip leaves them out (the grader takes any package file a submission lacks from the course's kit).
COURSE_TOOLS = {Path(__file__).resolve(), Path(regions.__file__).resolve()}
GRADED = "# GRADED:"
# nbconvert's PDF export turns markdown into LaTeX with pandoc and compiles it with xelatex.
PDF_TOOLS = ("xelatex", "pandoc")
USAGE = "usage: ./collectSubmission.sh [--partial] [a1|a2]"


def fail(message):
    print(f"collectSubmission: ERROR: {message}", file=sys.stderr)
    sys.exit(1)


def warn(message):
    print(f"collectSubmission: WARNING: {message}")


def read_manifest():
    """{short name: kit description}: from the kit's manifest, else the course's defaults."""
    if MANIFEST.exists():
        manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
        return {manifest["assignment"]: manifest}
    return {short: {"assignment": short, "package": "cs231n", "notebooks": names, "todo_files": None, "todos": None,
                    "models": []}
            for short, names in NOTEBOOKS.items()}


def parse_args(argv, kits):
    partial = "--partial" in argv
    rest = [a for a in argv if a != "--partial"]
    if any(a.startswith("-") for a in rest) or len(rest) > 1:
        fail(USAGE)
    if rest:
        name = rest[0].lower().replace("assignment", "a")
        if name not in kits:
            fail(f"unknown assignment {rest[0]!r}; use one of {', '.join(kits)}")
        return kits[name], partial
    present = [kit for kit in kits.values() if any(Path(f).exists() for f in kit["notebooks"])]
    if len(present) != 1:
        fail("cannot tell the assignment from the notebooks here; pass it: ./collectSubmission.sh a1 (or a2)")
    return present[0], partial


def source(cell):
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def graded_tags(text):
    return [line.split(GRADED, 1)[1].strip() for line in text.splitlines() if line.strip().startswith(GRADED)]


def cell_names(nb):
    """{index: how a student finds the code cell}: its `In [n]` number or first line, and its section."""
    names, heading = {}, None
    for index, cell in enumerate(nb.get("cells", [])):
        text = source(cell)
        if cell.get("cell_type") == "markdown":
            titles = [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]
            heading = titles[-1] if titles else heading
        elif cell.get("cell_type") == "code":
            count = cell.get("execution_count")
            tags = graded_tags(text)
            if tags:
                name = f"the cell marked `{GRADED} {tags[0]}`" + (f" (In [{count}])" if count is not None else "")
            elif count is not None:
                name = f"cell In [{count}]"
            else:
                first = next((line.strip() for line in text.splitlines() if line.strip()), "")
                name = f"the code cell starting `{first[:60]}`"
            names[index] = name + (f' in section "{heading}"' if heading else " at the top")
    return names


def check_notebook(path, partial):
    """Stop (or with --partial warn) at a code cell that was never run or ended in an error."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"{path} is not a readable notebook ({exc}); open it in Jupyter and save it again")
    report = warn if partial else fail
    names = cell_names(nb)
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code" or not source(cell).strip():
            continue
        if cell.get("execution_count") is None:
            report(f"{path}: {names[index]} was never run; run the whole notebook (Restart Kernel and Run All Cells) and save")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                report(f"{path}: {names[index]} ended with {output.get('ename', 'an error')}; fix it, re-run and save")
    return nb


def stub_regions(text):
    """The regions of a student's `text` that still hold only `pass`."""
    lines = text.splitlines()
    return [region for region in find_regions(text) if region.is_stub(lines)]


def unfinished_todos(kit, notebooks):
    """Warnings for this assignment's TODOs that still hold only `pass`."""
    package = Path(kit["package"])
    files = [Path(f) for f in kit["todo_files"]] if kit["todo_files"] is not None else code_files(package)
    todos = set(kit["todos"]) if kit.get("todos") is not None else None
    found = []
    for path in files:
        if not path.is_file():
            found.append(f"{path} is missing; it holds TODOs of this assignment: put it back")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        stubs = stub_regions(text)
        try:
            functions = owners(text, stubs, str(path))
        except SyntaxError:
            functions = [None] * len(stubs)  # a file in the middle of an edit: the line alone says where
        for region, function in zip(stubs, functions):
            # A file may hold TODOs of several assignments: only this one's count.
            if todos is None or f"{path.as_posix()}::{function}" in todos:
                where = f" in {function}" if function else ""
                found.append(f"{path}:{region.start + 1}: the TODO{where} still holds only `pass`")
    for path, nb in notebooks.items():
        names = cell_names(nb)
        for index, cell in enumerate(nb.get("cells", [])):
            if cell.get("cell_type") != "code" or not stub_regions(source(cell)):
                continue
            key = next(iter(graded_tags(source(cell))), cell.get("id"))
            if todos is None or f"{path.name}::{key}" in todos:
                found.append(f"{path}: the TODO in {names[index]} still holds only `pass`")
    return found


def model_files(kit, notebooks):
    """The model files to pack, and a warning for each one the graded cells have not saved yet."""
    present, missing = [], []
    for name in kit.get("models", []):
        if Path(name).is_file():
            present.append(Path(name))
            continue
        # The graded cell that saves it: the one naming the file, else the one tagged with its stem.
        holder = tag = None
        for path, nb in notebooks.items():
            for cell in nb.get("cells", []):
                tags = graded_tags(source(cell))
                if tags and (name in source(cell) or tags[0] == Path(name).stem):
                    holder, tag = path, tags[0]
        cell = f"the cell marked `{GRADED} {tag}` in {holder}" if holder else "the graded cell that saves it"
        missing.append(f"{name} is missing: run {cell} to the end and save")
    return present, missing


def code_files(package):
    return [path for path in sorted(package.rglob("*"))
            if path.is_file() and path.suffix in CODE_SUFFIXES and not SKIP_DIRS & set(path.parts)
            and path.resolve() not in COURSE_TOOLS]


def write_zip(target, files):
    """Zip `files` with today's date and ordinary permissions; the zip replaces `target` only when complete."""
    now = time.localtime()[:6]
    fd, tmp = tempfile.mkstemp(dir=".", prefix=f".{target}.", suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                info = zipfile.ZipInfo(path.as_posix(), date_time=now)
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def merged_notebook(nbformat, paths):
    """One notebook of all `paths`, each under a heading with its name; cell ids kept, made unique."""
    merged = nbformat.v4.new_notebook()
    used = set()
    for path in paths:
        nb = nbformat.read(str(path), as_version=4)
        merged.metadata = merged.metadata or nb.metadata
        title = nbformat.v4.new_markdown_cell(f"# {path.name}")
        for cell in [title, *nb.cells]:
            cell_id = cell.get("id") or "cell"
            # Notebooks may share ids; a suffix keeps each unique and within nbformat's 64 characters.
            unique, n = cell_id, 1
            while unique in used:
                n += 1
                unique = f"{cell_id[:56]}-{n}"
            cell["id"] = unique
            used.add(unique)
            merged.cells.append(cell)
    return merged


def export(short, paths):
    """One PDF (or HTML) of all notebooks, for the written part of the grading."""
    try:
        import nbformat
    except ImportError:
        print("collectSubmission: nbformat/nbconvert not installed: no PDF or HTML written (pip install -r requirements.txt)")
        return
    missing = [tool for tool in PDF_TOOLS if shutil.which(tool) is None]
    to = "html" if missing else "pdf"
    why = ""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{short}_submission.ipynb"
        nbformat.write(merged_notebook(nbformat, paths), str(src))
        for fmt in (["pdf", "html"] if to == "pdf" else ["html"]):
            proc = subprocess.run(
                [sys.executable, "-m", "nbconvert", "--to", fmt, "--log-level", "ERROR", str(src), "--output-dir", tmp],
                capture_output=True, text=True,
            )
            produced = Path(tmp) / f"{short}_submission.{fmt}"
            if proc.returncode == 0 and produced.exists():
                break
            if fmt == "pdf":
                why = f"the PDF export failed ({' '.join(proc.stderr.split())[-300:]})"
        else:
            print(f"collectSubmission: could not convert the notebooks to HTML ({proc.stderr.strip()[-300:]}); "
                  "upload the zip anyway")
            return
        shutil.copyfile(produced, f".{short}_submission.{fmt}.tmp")
        os.replace(f".{short}_submission.{fmt}.tmp", f"{short}_submission.{fmt}")
    if fmt == "pdf":
        print(f"collectSubmission: wrote {short}_submission.pdf")
        return
    if missing:
        why = (f"the PDF export needs {' and '.join(PDF_TOOLS)}; {' and '.join(missing)} "
               f"{'is' if len(missing) == 1 else 'are'} not installed (Debian/Ubuntu: sudo apt-get install "
               "texlive-xetex texlive-fonts-recommended texlive-plain-generic pandoc)")
    print(f"collectSubmission: no PDF: {why}. Wrote {short}_submission.html instead; print it to PDF from "
          "your browser if your course asks for a PDF")


def main(argv):
    kit, partial = parse_args(argv, read_manifest())
    short = kit["assignment"]
    package = Path(kit["package"])
    paths = [Path(name) for name in kit["notebooks"]]
    for path in paths:
        if not path.is_file():
            fail(f"{path} is missing; it is part of {short}: put it back in {Path.cwd()}")
    if not package.is_dir():
        fail(f"the {package}/ folder is missing from {Path.cwd()}")
    notebooks = {path: check_notebook(path, partial) for path in paths}
    files = code_files(package)
    if not files:
        fail(f"no code found in {package}/")
    todos = unfinished_todos(kit, notebooks)
    models, missing_models = model_files(kit, notebooks)
    for message in todos + missing_models:
        warn(message)
    target = f"{short}_submission.zip"
    write_zip(target, paths + files + models)
    print(f"collectSubmission: wrote {target} ({len(paths)} notebooks, {len(files)} code files, {len(models)} model files)")
    export(short, paths)
    if todos or missing_models:
        print(f"collectSubmission: {len(todos)} unfinished TODO(s) and {len(missing_models)} missing model file(s): "
              "the zip holds your work as it is" + (" (--partial)" if partial else ""))
    print(f"collectSubmission: done. Upload {target} to Gradescope.")


if __name__ == "__main__":
    # The manifest's paths and the zip's are relative to the kit: the folder holding this package.
    os.chdir(Path(__file__).resolve().parents[1])
    main(sys.argv[1:])
