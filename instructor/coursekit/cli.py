"""The `coursekit` command: a subcommand per module, each with a keyword-only main()."""

import argparse
import sys

from .config import ConfigError
from .markers import MarkerError
from .sandbox import isolation as sandbox


def _common(parser):
    parser.add_argument("--root", help="reference tree (default: found from the current folder or $COURSEKIT_ROOT)")
    parser.add_argument("--config", help="grading config (default: ROOT/instructor/grading.toml)")


def _isolation(parser):
    parser.add_argument("--isolation", choices=["auto", *sandbox.BACKENDS], default="auto",
                        help="how student code is isolated (default: the strongest this machine allows)")
    parser.add_argument("--require-isolation", action="store_true",
                        help="refuse to grade when student code would run unisolated")
    parser.add_argument("--worker-python", help="interpreter of the workers (uid mode; default: this one)")
    parser.add_argument("--worker-uid-base", type=int, default=sandbox.DEFAULT_UID_BASE,
                        help=f"first of the {sandbox.SLOTS} uids student code runs as, one per concurrent grader "
                        f"(default: {sandbox.DEFAULT_UID_BASE})")


def build_parser():
    parser = argparse.ArgumentParser(prog="coursekit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="write the student kits (folders and zips)")
    _common(p)
    p.add_argument("--out", default="build/release", help="output folder (default: build/release)")
    p.add_argument("--assignment", action="append", dest="assignments", help="only this assignment (repeatable)")

    p = sub.add_parser("validate", help="reference passes every check, release fails every check")
    _common(p)
    p.add_argument("--assignment", action="append", dest="assignments", help="only this assignment (repeatable)")
    p.add_argument("--solve", action="append", default=[], metavar="TODO_ID",
                   help="also check that the release with only this TODO solved scores its points (repeatable)")
    p.add_argument("--no-public", dest="public", action="store_false",
                   help="skip running the kit's public tests on the release and the reference")

    p = sub.add_parser("grade", help="grade one submission and write a Gradescope results.json")
    _common(p)
    p.add_argument("submission", help="a submission zip or folder")
    p.add_argument("--results", default="results.json", help="where to write results.json")
    p.add_argument("--assignment", help="assignment name (default: detected from the notebooks or the name)")
    _isolation(p)
    p.add_argument("--notebooks", action="store_true",
                   help="also re-execute the notebooks with nbval in the sandbox (reported, no points)")
    p.add_argument("--jobs", type=int, default=2, help="TODO workers run at once (default: 2)")
    p.add_argument("--base", help=argparse.SUPPRESS)
    p.add_argument("--test-timeout", type=float, help="seconds per call into the submission (default: from the config)")
    p.add_argument("--todos", action="append", metavar="TODO_ID",
                   help="regrade only this TODO (repeatable); the others come from --previous")
    p.add_argument("--previous", help="the results.json a --todos regrade completes")

    p = sub.add_parser("grade-batch", help="grade every submission in a folder (resumable); CSV of scores and a report")
    _common(p)
    p.add_argument("folder", help="folder of submission zips (or folders)")
    p.add_argument("--out", default="build/grades", help="results.json per submission, CSV and report (default: build/grades)")
    p.add_argument("--csv", help="scores CSV (default: OUT/scores.csv)")
    p.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default: 2)")
    p.add_argument("--assignment", help="assignment name (default: detected per submission)")
    _isolation(p)
    p.add_argument("--notebooks", action="store_true", help="also re-execute the notebooks (no points)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds before a submission's grader is killed (default: 3600)")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="regrade this submission (file or folder name without .zip) whole, and no other (repeatable)")

    p = sub.add_parser("submission-limit", help="exit 3 and write the previous results when this Gradescope submission "
                       "is over grading.toml's [submissions] limit (run_autograder asks it before grading)")
    _common(p)
    p.add_argument("--metadata", default="/autograder/submission_metadata.json", help="Gradescope's submission metadata")
    p.add_argument("--results", default="/autograder/results/results.json", help="where a refusal writes results.json")

    p = sub.add_parser("report", help="rebuild the scores CSV and the HTML report of a grade-batch folder")
    p.add_argument("out", metavar="DIR", help="the --out folder of grade-batch")
    p.add_argument("--csv", help="scores CSV (default: DIR/scores.csv)")

    p = sub.add_parser("export", help="an LMS gradebook CSV from grade-batch folders: a row per student id, a column "
                       "per assignment")
    p.add_argument("folders", nargs="+", metavar="DIR", help="--out folders of grade-batch (one per assignment)")
    p.add_argument("--out", default="gradebook.csv", help="the CSV to write (default: gradebook.csv)")
    p.add_argument("--format", choices=["plain", "canvas"], default="plain",
                   help="plain: student_id + one column per assignment; canvas: Canvas's import layout")
    p.add_argument("--todos", action="store_true", help="also one column per TODO")
    p.add_argument("--id-pattern", help="regular expression whose group 'id' is the student id in a submission name "
                   r"(default: the name without its a1_/assignment1_ prefix)")

    p = sub.add_parser("gradescope", help="write ASSIGNMENT_autograder.zip for Gradescope (holds the solutions)")
    _common(p)
    p.add_argument("assignment", help="assignment name, e.g. assignment2")
    p.add_argument("--out", default="build/autograder", help="output folder (default: build/autograder)")
    p.add_argument("--notebooks", action="store_true", help="also re-execute the notebooks at grading time (slow)")

    p = sub.add_parser("run-notebooks", help="execute the reference notebooks headless; summary table")
    _common(p)
    p.add_argument("--out", default="build/notebooks", help="executed copies and HTML (default: build/notebooks)")
    p.add_argument("--only", action="append", help="only the notebook with this name (repeatable)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default: 1800)")

    p = sub.add_parser("cifar-format", help="write a small offline stand-in for CIFAR-10 (from Fashion-MNIST) "
                       "in the CIFAR-10 pickle layout")
    p.add_argument("--out", required=True, help="folder to write data_batch_1..5, test_batch, batches.meta into")
    p.add_argument("--train", type=int, default=5000, help="training images, a multiple of 5 (default: 5000)")
    p.add_argument("--test", type=int, default=1000, help="test images (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the offsets, colours and noise (default: 0)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    common = {"root": getattr(args, "root", None), "config": getattr(args, "config", None)}
    try:
        if args.command == "release":
            from .authoring import release

            return release.main(**common, out=args.out, assignments=args.assignments)
        if args.command == "validate":
            from .course import validate

            return validate.main(**common, assignments=args.assignments, solve=args.solve, public=args.public)
        if args.command == "grade":
            from .grading import grade
            from .grading.options import GradeOptions

            return grade.main(GradeOptions.from_args(args))
        if args.command == "grade-batch":
            from .course import grade_batch

            return grade_batch.main(**common, folder=args.folder, out=args.out, csv_path=args.csv, jobs=args.jobs,
                                    assignment=args.assignment, notebooks=args.notebooks, timeout=args.timeout,
                                    isolation=args.isolation, require_isolation=args.require_isolation,
                                    worker_python=args.worker_python, worker_uid_base=args.worker_uid_base,
                                    only=args.only)
        if args.command == "submission-limit":
            from .course import submission_limit

            return submission_limit.main(**common, metadata=args.metadata, results=args.results)
        if args.command == "report":
            from .course import report

            return report.main(out=args.out, csv_path=args.csv)
        if args.command == "export":
            from .course import export

            return export.main(folders=args.folders, out=args.out, fmt=args.format, todos=args.todos,
                               id_pattern=args.id_pattern)
        if args.command == "gradescope":
            from .course import gradescope

            return gradescope.main(**common, assignment=args.assignment, out=args.out, notebooks=args.notebooks)
        if args.command == "cifar-format":
            from .notebooks import cifar_format

            return cifar_format.main(out=args.out, num_train=args.train, num_test=args.test, seed=args.seed)
        from .notebooks import run_notebooks

        return run_notebooks.main(**common, out=args.out, only=args.only, timeout=args.timeout)
    except (MarkerError, ConfigError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"coursekit {args.command}: error: {exc}", file=sys.stderr)
        return 2
