"""`coursekit release`: cut the student kits (one per assignment, folder and zip) from the reference tree.

Each kit holds the assignment's notebooks, the whole package with every region stubbed, the public tests,
the kit files (setup.py, requirements.txt, ...) and a generated README. The build stops on a malformed
marker (file:line), on a solution line found anywhere in the kit (the leak scan), and when the stubbed
package does not import. A kit folder and its zip are replaced only once the new one is complete.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import notebooks
from .fsutil import atomic_write_text, write_zip
from .markers import find_regions, is_significant, normalize, outside_lines, qualnames, stub_text
from .reference import Reference, is_junk

MANIFEST = ".kit-manifest.json"
ASSET_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".md", ".txt", ".cfg"}


class ReleaseError(RuntimeError):
    """The kit cannot be released; the message lists every problem with file:line."""


def short_name(assignment):
    """`assignment1` -> `a1`: the prefix of the submission zip."""
    digits = "".join(ch for ch in assignment if ch.isdigit())
    return f"a{digits}" if digits else assignment


def student_readme(assignment, notebook_names, package):
    short = short_name(assignment)
    listed = "\n".join(f"- `{name}`" for name in notebook_names)
    return f"""# {assignment}

Notebooks of this assignment:

{listed}

## Set-up

Python 3.10 or newer. In this folder:

```bash
python3 -m venv .venv && . .venv/bin/activate
pip install -r requirements.txt && pip install -e .   # also builds the Cython extension of {package}
./get_datasets.sh                                      # downloads the data sets into {package}/datasets
jupyter notebook
```

Without internet access, use the Fashion-MNIST copy installed on the machine instead of downloading:
start Jupyter with `CS231N_DATASET=fashion_mnist jupyter notebook`.

## Working

Write your code between the lines `# *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****` and
`# *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****` in the `{package}` package and in the
notebooks; do not edit those marker lines. Check yourself with the public tests: `python3 -m pytest tests -q`.
The grader also runs hidden tests, so passing the public tests is necessary but not sufficient.

## Submitting

Run every notebook from top to bottom (Kernel > Restart & Run All) and save it, then run

```bash
./collectSubmission.sh
```

It checks that every notebook was run without errors, warns about TODOs still stubbed with `pass`, and
writes `{short}_submission.zip` (notebooks and code only) plus a PDF (or HTML) of the notebooks. Upload
`{short}_submission.zip` to Gradescope.
"""


def _copy_text_or_bytes(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)


def build_kit(ref, assignment, dest):
    """Write the stubbed kit of `assignment` into the empty folder `dest`; return the shipped file list."""
    cfg = ref.config
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shipped = []
    for rel in ref.package_files() + ref.public_test_files():
        src = ref.root / rel
        if rel.endswith(".py"):
            text = src.read_text(encoding="utf-8")
            regions = find_regions(text, rel)
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(stub_text(text, regions) if regions else text, encoding="utf-8")
        else:
            _copy_text_or_bytes(src, dest / rel)
        shipped.append(rel)
    missing = [f for f in cfg.kit_files if not (ref.root / f).is_file()]
    if missing:
        raise ReleaseError(
            f"kit files {missing} are missing from {ref.root}; add them or remove them from [course] kit_files"
        )
    for rel in cfg.kit_files:
        _copy_text_or_bytes(ref.root / rel, dest / rel)
        shipped.append(rel)
    names = []
    for rel in ref.notebooks(assignment):
        nb = notebooks.strip_for_release(notebooks.read(ref.root / rel), rel)
        name = Path(rel).name
        notebooks.write(nb, dest / name)
        names.append(name)
        shipped.append(name)
    folder = ref.root / assignment
    for asset in sorted(folder.rglob("*")):
        rel_asset = asset.relative_to(folder)
        if asset.is_file() and asset.suffix in ASSET_SUFFIXES and not is_junk(rel_asset):
            _copy_text_or_bytes(asset, dest / rel_asset)
            shipped.append(rel_asset.as_posix())
    atomic_write_text(dest / "README.md", student_readme(assignment, names, cfg.package))
    # collectSubmission.sh reads it, so the script needs no per-course edits.
    manifest = {"assignment": short_name(assignment), "notebooks": names}
    atomic_write_text(dest / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return shipped


def write_solved(ref, assignment, dest, solved=None):
    """Write the graded files of `assignment` into `dest` as a submission: the reference's code where the TODO
    is in `solved` (None: all of them), the stub elsewhere. Used to validate the grader end to end."""
    dest = Path(dest)
    pieces = ref.pieces()
    for rel in sorted({p.file for p in pieces if p.file.endswith(".py")}):
        text = (ref.root / rel).read_text(encoding="utf-8")
        regions = find_regions(text, rel)
        names = qualnames(text, regions, rel)
        stub = [r for r, q in zip(regions, names) if solved is not None and f"{rel}::{q}" not in solved]
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(stub_text(text, stub), encoding="utf-8")
    for rel in ref.notebooks(assignment):
        nb = notebooks.read(ref.root / rel)
        keep = {k.split("::", 1)[1] for k in (solved or ()) if k.startswith(rel + "::")}
        if solved is None:
            keep = {notebooks.cell_key(c, i) for i, c in enumerate(nb.cells)}
        notebooks.write(notebooks.strip_for_release(nb, rel, keep=keep), dest / Path(rel).name)
    return dest


def _text_lines(path):
    """(line number, text) pairs a person could read in the file; notebooks by cell source and output."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        for index, cell in enumerate(nb.get("cells", [])):
            chunks = [cell.get("source", "")]
            for output in cell.get("outputs", []):
                chunks.append(output.get("text", ""))
                chunks.extend(v for v in output.get("data", {}).values() if isinstance(v, str | list))
            for chunk in chunks:
                text = "".join(chunk) if isinstance(chunk, list) else chunk
                for i, line in enumerate(text.splitlines()):
                    yield f"cell {index} line {i + 1}", line
        return
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = path.read_bytes().decode("latin-1")
    for i, line in enumerate(text.splitlines()):
        yield str(i + 1), line


def public_lines(ref):
    """Normalised lines of code the kit gives away anyway: everything outside the regions."""
    public = set()
    files = ref.package_files() + ref.public_test_files() + list(ref.config.kit_files)
    for rel in files:
        path = ref.root / rel
        if path.suffix == ".ipynb" or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        regions = find_regions(text, rel) if rel.endswith(".py") else []
        public.update(normalize(line) for line in outside_lines(text, regions))
    for rel in ref.all_notebooks():
        for cell in notebooks.read(ref.root / rel).cells:
            regions = find_regions(cell.source, rel) if cell.cell_type == "code" else []
            public.update(normalize(line) for line in outside_lines(cell.source, regions))
    return public


def leak_scan(ref, kit_dir, pieces, public):
    """Every place in the kit where a significant solution line appears, as 'file:line: ...' strings."""
    secret = {}
    for piece in pieces:
        for offset, line in enumerate(piece.body):
            norm = normalize(line)
            if is_significant(norm) and norm not in public:
                secret.setdefault(norm, f"{piece.file}:{piece.line + 1 + offset} ({piece.todo_id})")
    findings = []
    for path in sorted(p for p in Path(kit_dir).rglob("*") if p.is_file()):
        for where, line in _text_lines(path):
            origin = secret.get(normalize(line))
            if origin:
                rel = path.relative_to(kit_dir).as_posix()
                findings.append(f"{rel}:{where}: solution line {line.strip()!r} from {origin}")
    return findings


def check_imports(kit_dir, package):
    """Import every module of the kit's package from the kit itself, in a fresh interpreter."""
    modules = sorted(
        ".".join(p.relative_to(kit_dir).with_suffix("").parts).removesuffix(".__init__")
        for p in (Path(kit_dir) / package).rglob("*.py")
        if p.name != "__main__.py"
    )
    code = (
        "import importlib, pathlib, sys\n"
        f"kit = pathlib.Path({str(kit_dir)!r}).resolve()\n"
        "sys.path.insert(0, str(kit))\n"
        f"for name in {modules!r}:\n"
        "    mod = importlib.import_module(name)\n"
        "    if kit not in pathlib.Path(mod.__file__).resolve().parents:\n"
        "        sys.exit(f'{name} was imported from {mod.__file__}, not from the kit')\n"
    )
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tempfile.gettempdir(), env=env, capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise ReleaseError(f"the stubbed package in {kit_dir} does not import:\n{tail}")


def release_assignment(ref, assignment, out_dir, pieces=None, public=None):
    """Build, scan and check one kit in a temporary folder, then move it and its zip into `out_dir`."""
    pieces = ref.pieces() if pieces is None else pieces
    public = public_lines(ref) if public is None else public
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=f".{assignment}."))
    try:
        kit = staging / assignment
        build_kit(ref, assignment, kit)
        findings = leak_scan(ref, kit, pieces, public)
        if findings:
            raise ReleaseError(f"{len(findings)} solution line(s) leak into the {assignment} kit:\n" + "\n".join(findings))
        check_imports(kit, ref.config.package)
        write_zip(staging / f"{assignment}.zip", kit, arc_prefix=f"{assignment}/")
        final = out_dir / assignment
        if final.exists():
            shutil.rmtree(final)
        os.replace(kit, final)
        os.replace(staging / f"{assignment}.zip", out_dir / f"{assignment}.zip")
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(*, root=None, config=None, out="build/release", assignments=None):
    ref = Reference(root, config)
    pieces = ref.pieces()
    ref.check_config_covers(pieces)
    names = assignments or list(ref.config.assignments)
    for name in names:
        if name not in ref.config.assignments:
            raise ValueError(f"unknown assignment {name!r}; known: {', '.join(ref.config.assignments)}")
    out = Path(out) if Path(out).is_absolute() else Path.cwd() / out
    public = public_lines(ref)
    for name in names:
        kit = release_assignment(ref, name, out, pieces, public)
        files = sum(1 for p in kit.rglob("*") if p.is_file())
        todos = len(ref.config.todos_for(name))
        print(f"{name}: {files} files, {todos} TODOs graded, leak scan clean, stubbed package imports -> {kit}")
        print(f"{name}: zip -> {out / (name + '.zip')}")
    return 0
