"""Stage 1 of a grade (grade.py): the submission unpacked and laid out in a sealed sandbox Run.

`Prepare(grader).open(submission)` is a context manager that yields a `Submission`:

- the zip is unpacked, or the folder copied, into a folder of the grader's (no absolute paths, `..`, symlinks
  or oversized archives: fsutil), and the folder in it that holds the package or the notebooks is found (a zip
  may nest it);
- the Run (sandbox/isolation.py) takes its uids (a lane per worker that may run at once, as the isolation backend
  allows), and the backend first makes sure they cannot read what decides a score (config, hidden checks,
  reference, secret);
- the Run's sub/ gets the graded package: the student's .py files over the release's stubbed package (a missing
  file is graded as its stub), with the `given` infrastructure files always the course's; the student's own
  helpers stay. fallback/ gets the release package, runtime/ the worker's code; then the Run is sealed.

On leaving, the Run is closed and the unpacked folder removed.
"""

import contextlib
import dataclasses
import shutil
import tempfile
from pathlib import Path

from ..fsutil import copy_tree_no_symlinks, safe_extract
from ..reference import is_junk
from ..sandbox import isolation as sandbox
from . import secret, session


@dataclasses.dataclass
class Submission:
    """A submission ready to be checked: `root` the unpacked folder that holds its package or notebooks, `run`
    the sealed sandbox Run whose sub/ is the package to grade, `notes` what the student should know of it."""

    root: Path
    run: sandbox.Run
    notes: list[str]


class Prepare:
    """Unpacks and lays out the submissions of a Grader; build one per grade."""

    def __init__(self, grader):
        self.ref = grader.ref
        self.cfg = grader.cfg
        self.iso = grader.iso
        self.jobs = grader.jobs
        self.limits = grader.limits
        self.package = grader.package
        self.base = grader.base
        self.code_todos = grader.code_todos
        self.notebooks = grader.notebooks
        self.notebook_names = grader.notebook_names

    @contextlib.contextmanager
    def open(self, submission):
        """The Submission of `submission` (zip or folder); raises on an unusable one."""
        with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
            unpacked = Path(tmp) / "unpacked"
            unpacked.mkdir()
            submission = Path(submission)
            if submission.is_dir():
                copy_tree_no_symlinks(submission, unpacked)
            elif submission.is_file():
                safe_extract(submission, unpacked)
            else:
                raise FileNotFoundError(f"submission {submission} does not exist")
            sub_root = self._locate(unpacked)
            # A lane (a uid) per worker that may run at once, as the backend allows: see sandbox.Run's lanes.
            with self.iso.slots(self.iso.lanes(self.jobs)) as uids:
                uid = uids[0]
                leaks = self.iso.readable(uids, self._private_paths())
                if leaks:
                    raise sandbox.IsolationError(
                        f"uid {uid} can read {', '.join(leaks)}: make the reference tree readable by root only "
                        f"(chmod -R go-rwx) before grading in the {self.iso.name} mode"
                    )
                run = sandbox.Run(self.iso, uid, sandbox.ProgramLimits(memory_mb=self.limits.memory_mb), lane_uids=uids[1:])
                try:
                    notes = self._assemble(sub_root, run)
                    if self.notebooks:
                        (run.dir / "nb").mkdir()
                    run.seal()
                    yield Submission(sub_root, run, notes)
                finally:
                    run.close()

    def _private_paths(self):
        """What a worker uid must not read: the config, the hidden checks, the reference, the grader's secret."""
        return [self.ref.root / self.cfg.path.relative_to(self.ref.root), self.ref.root / self.cfg.hidden_tests,
                self.ref.package_dir, secret.secret_path()]

    def _locate(self, unpacked):
        """The folder of the submission that holds the package or the notebooks (a zip may nest it)."""
        candidates = [unpacked] + sorted(
            (p for p in unpacked.rglob("*") if p.is_dir() and len(p.relative_to(unpacked).parts) <= 3),
            key=lambda p: len(p.parts),
        )
        for cand in candidates:
            if (cand / self.package).is_dir() or any((cand / nb).is_file() for nb in self.notebook_names):
                return cand
        raise FileNotFoundError(
            f"the submission holds neither a {self.package}/ folder nor any of {', '.join(self.notebook_names)}; "
            "make it with ./collectSubmission.sh"
        )

    def _assemble(self, sub_root, run):
        """Fill the run's sub/ (graded package), fallback/ (release package) and runtime/ folders; the notes."""
        notes = []
        shutil.copytree(self.base / self.package, run.dir / "fallback" / self.package)
        shutil.copytree(self.base / self.package, run.dir / "sub" / self.package)
        session.install_runtime(run.dir / "runtime")
        given = set(self.cfg.given)
        student_pkg = sub_root / self.package
        taken, ignored = [], []
        if student_pkg.is_dir():
            for path in sorted(student_pkg.rglob("*.py")):
                rel = path.relative_to(sub_root)
                if is_junk(rel) or "datasets" in rel.parts:
                    continue
                if rel.as_posix() in given:
                    ignored.append(rel.as_posix())
                    continue
                target = run.dir / "sub" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                taken.append(rel.as_posix())
        todo_files = sorted({t.path for t in self.code_todos})
        for rel in todo_files:
            if rel not in taken:
                notes.append(f"{rel} is not in the submission: its TODOs are graded as the unimplemented stubs")
        if ignored:
            notes.append(f"given files always come from the course, not the submission: {', '.join(ignored)}")
        return notes
