"""`coursekit gradescope ASSIGNMENT --out DIR`: the Gradescope autograder of an assignment, as one zip.

DIR/ASSIGNMENT_autograder.zip holds, at its root (Gradescope unpacks it into /autograder/source):

- setup.sh: run once, as root, when Gradescope builds the image (system packages, a virtual environment
  with the course requirements and the grader, data sets, the kit every grade starts from with the Cython
  extension built, permissions, and a check that the grader's worker uid can run the interpreter but not
  read the reference);
- run_autograder: run as root for each submission: `coursekit grade` of /autograder/submission into
  /autograder/results/results.json, in the grader's "uid" isolation (Gradescope's Docker has no
  CAP_SYS_ADMIN, so no namespaces), refusing to grade without isolation;
- reference/: the reference tree as the grader reads it (package with solutions, public tests, notebooks,
  kit files, grading.toml, hidden tests): the zip is for the instructor's upload only;
- coursekit/: the grader package that built the zip (so the grader that ran the local checks is the one
  that grades), installed by setup.sh;
- README.md for the instructor and autograder.json (what the zip was built from).

Beside the zip, ASSIGNMENT_reference_submission.zip (the reference code, and the models the reference
notebooks saved when they were run) and ASSIGNMENT_release_submission.zip are the two submissions to try
the autograder with on Gradescope (100 % and 0 %). Build products, data sets and trained models never
enter the autograder zip: files are taken by an allowlist, then checked. The templates live in
instructor/gradescope/; both scripts honour $AUTOGRADER_ROOT (default /autograder), which is how the local
simulation test runs them in a temporary folder.
"""

import dataclasses
import json
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..authoring.release import ASSET_SUFFIXES, write_solved
from ..fsutil import write_zip
from ..grading.options import GradeOptions
from ..reference import CONFIG_REL, Reference, is_junk
from ..sandbox import isolation as sandbox

PACKAGE_DIR = Path(__file__).resolve().parents[1]
TEMPLATES = PACKAGE_DIR.parent / "gradescope"
SCRIPTS = ("setup.sh", "run_autograder")
# The first uid the grader's "uid" isolation runs student code as (one per grading slot; no account needed).
WORKER_UID = sandbox.DEFAULT_UID_BASE
# Nothing in a reference tree is this large but a data set or a model, which the container fetches itself.
MAX_FILE_BYTES = 5 * 2**20
NOT_SOURCE_SUFFIXES = {".npz", ".npy", ".pkl", ".gz", ".tar", ".zip"}
DATASET_TEXT_SUFFIXES = {".sh", ".py", ".md", ".txt", ""}
# Parts of instructor/ the container does not use (the grader package is bundled on its own).
NOT_IN_CONTAINER = ("tests", "tools", "gradescope", "coursekit", "pyproject.toml")


class AutograderError(ValueError):
    """The autograder zip cannot be built; the message names the file and the fix."""


def render(template, values):
    """`template` with every @@KEY@@ replaced by values[KEY]; an unknown or missing key is an error."""
    text = template
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    if "@@" in text:
        left = sorted({part.split("@@", 1)[0] for part in text.split("@@")[1::2]})
        raise AutograderError(f"template placeholders without a value: {left}")
    return text


def reference_files(ref):
    """Files of the reference tree the container needs, relative to its root: an allowlist."""
    cfg = ref.config
    files = set(ref.package_files()) | set(ref.public_test_files()) | set(cfg.kit_files)
    for assignment in cfg.assignments:
        files.update(ref.notebooks(assignment))
        folder = ref.root / assignment
        files.update(
            p.relative_to(ref.root).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and p.suffix in ASSET_SUFFIXES and not is_junk(p.relative_to(folder))
        )
    instructor = ref.root / "instructor"
    hidden = ref.root / cfg.hidden_tests
    candidates = [p for p in instructor.rglob("*") if p.relative_to(instructor).parts[0] not in NOT_IN_CONTAINER]
    candidates += list(hidden.rglob("*")) if hidden.is_dir() else []
    files.update(p.relative_to(ref.root).as_posix() for p in candidates
                 if p.is_file() and not is_junk(p.relative_to(ref.root)))
    files.discard(CONFIG_REL)  # written from the config actually in use, which may live elsewhere
    return sorted(files)


def check_no_build_products(root, files):
    """Raise AutograderError naming every file that is a build product, data or too large to be source."""
    bad = []
    for rel in files:
        path = Path(root) / rel
        rel_path = Path(rel)
        if is_junk(rel_path) or rel_path.suffix in NOT_SOURCE_SUFFIXES:
            bad.append(f"{rel} (build product, model or archive)")
        elif "datasets" in rel_path.parts[:-1] and rel_path.suffix not in DATASET_TEXT_SUFFIXES:
            bad.append(f"{rel} (data set)")
        elif path.stat().st_size > MAX_FILE_BYTES:
            bad.append(f"{rel} ({path.stat().st_size / 2**20:.0f} MB: data sets and models are fetched by setup.sh)")
    if bad:
        raise AutograderError("refusing to put these files into the autograder zip:\n  " + "\n  ".join(bad))


def grader_package():
    """(package folder, pyproject.toml) of the running coursekit, bundled so setup.sh installs this grader."""
    pyproject = PACKAGE_DIR.parent / "pyproject.toml"
    if not pyproject.is_file() or not TEMPLATES.is_dir():
        raise AutograderError(
            f"coursekit runs from {PACKAGE_DIR}, without its pyproject.toml or instructor/gradescope/ templates; "
            "run it from the reference tree (make setup installs it editable from instructor/)"
        )
    return PACKAGE_DIR, pyproject


def _git_commit(root):
    try:
        proc = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                              capture_output=True, text=True, timeout=30, check=True)
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if proc.stdout.strip() else "")


def build(ref, assignment, out, *, notebooks=False):
    """Write OUT/ASSIGNMENT_autograder.zip and the two sample submissions.

    Returns (autograder zip, models the reference notebooks have not saved yet: the reference sample lacks them)."""
    cfg = ref.config
    if assignment not in cfg.assignments:
        raise ValueError(f"unknown assignment {assignment!r}; known: {', '.join(cfg.assignments)}")
    package, pyproject = grader_package()
    files = reference_files(ref)
    check_no_build_products(ref.root, files)
    # run_autograder supplies the submission, --results, --root and --base itself; the manifest names them.
    grade = GradeOptions(submission="SUBMISSION", results="RESULTS", assignment=assignment, notebooks=notebooks,
                         isolation="uid", require_isolation=True)
    values = {
        "ASSIGNMENT": assignment,
        "PACKAGE": cfg.package,
        "WORKER_UID": str(WORKER_UID),
        "POINTS": f"{sum(t.points for t in cfg.todos_for(assignment)):g}",
        "GRADE_ARGS": shlex.join(grade.flags()),
        "NOTEBOOKS": "re-executes the notebooks (nbval, informational, no points)" if notebooks
        else "does not re-execute the notebooks (rebuild with --notebooks to add it)",
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="coursekit-autograder-") as tmp:
        stage = Path(tmp) / "zip"
        for rel in files:
            (stage / "reference" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ref.root / rel, stage / "reference" / rel)
        (stage / "reference" / CONFIG_REL).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cfg.path, stage / "reference" / CONFIG_REL)
        shutil.copytree(package, stage / "coursekit" / package.name,
                        ignore=lambda d, names: [n for n in names if is_junk(Path(n))])
        shutil.copyfile(pyproject, stage / "coursekit" / "pyproject.toml")
        for name in (*SCRIPTS, "README.md"):
            (stage / name).write_text(render((TEMPLATES / name).read_text(encoding="utf-8"), values), encoding="utf-8")
        for name in SCRIPTS:
            (stage / name).chmod(0o755)
        manifest = {"assignment": assignment, "reference_commit": _git_commit(ref.root),
                    "grade_command": ["coursekit", *dataclasses.replace(grade, root="REFERENCE", base="BASE_KIT").argv()],
                    "worker_uid": WORKER_UID, "notebooks": notebooks}
        (stage / "autograder.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        target = out / f"{assignment}_autograder.zip"
        write_zip(target, stage)
        for label, solved in (("reference", None), ("release", set())):
            sample = Path(tmp) / label
            write_solved(ref, assignment, sample, solved=solved, models=ref.root / assignment)
            write_zip(out / f"{assignment}_{label}_submission.zip", sample)
    return target, missing_models(ref, assignment)


def missing_models(ref, assignment):
    """The trained models (<tag>.npz beside each notebook, saved when the reference notebooks run) that the
    reference tree lacks: a reference submission scores nothing on those notebook TODOs."""
    models = [Path(t.path).parent / t.model for t in ref.config.todos_for(assignment) if t.is_notebook]
    return [m.as_posix() for m in models if not (ref.root / m).is_file()]


def main(*, assignment, out="build/autograder", notebooks=False, root=None, config=None):
    ref = Reference(root, config)
    target, missing = build(ref, assignment, out, notebooks=notebooks)
    print(f"{assignment}: autograder -> {target} (upload it as the assignment's autograder; it holds the solutions)")
    print(f"{assignment}: try it with {target.parent / (assignment + '_reference_submission.zip')} (100 %) and "
          f"{target.parent / (assignment + '_release_submission.zip')} (0 %)")
    if missing:
        print(f"{assignment}: warning: the reference submission lacks the trained models {', '.join(missing)}, so its "
              "notebook TODOs will fail: run the reference notebooks first (make notebooks), then build again")
    return 0
