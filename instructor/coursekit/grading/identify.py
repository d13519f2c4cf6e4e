"""Which assignment a submission is for, told by the notebooks it holds and its name."""

import zipfile
from pathlib import Path


def assignments_of(cfg, submission):
    """The assignments a submission may be for, by the notebooks it holds and its name (a1_..., a2_...).

    A folder can hold more than one assignment's notebooks (last term's work left beside this term's); then its
    name decides if it names one of them, and otherwise all stay candidates: grading it as either would be a
    guess."""
    submission = Path(submission)
    names = set()
    if submission.is_dir():
        names = {p.name for p in submission.rglob("*.ipynb")}
    elif submission.is_file():
        try:
            with zipfile.ZipFile(submission) as zf:
                names = {Path(n).name for n in zf.namelist() if n.endswith(".ipynb")}
        except zipfile.BadZipFile:
            names = set()
    by_notebooks = [a for a, notebooks in cfg.assignments.items() if names & set(notebooks)]
    stem = submission.name.lower()
    by_name = [a for a in cfg.assignments
               if stem.startswith((f"a{''.join(ch for ch in a if ch.isdigit())}_",
                                   f"a{''.join(ch for ch in a if ch.isdigit())}-", a))]
    if by_notebooks:
        named = [a for a in by_notebooks if a in by_name]
        return named if len(by_notebooks) > 1 and len(named) == 1 else by_notebooks
    if by_name:
        return by_name
    return list(cfg.assignments) if len(cfg.assignments) == 1 else []


def detect_assignment(cfg, submission):
    """The one assignment `submission` is for; ValueError naming the fix when it cannot be told."""
    found = assignments_of(cfg, submission)
    if len(found) == 1:
        return found[0]
    if found:
        raise ValueError(f"{Path(submission).name} holds the notebooks of {' and '.join(found)}: pass --assignment")
    raise ValueError(f"cannot tell which assignment {Path(submission).name} is for; pass --assignment")
