"""`coursekit submission-limit`: Gradescope's run_autograder asks it, before grading, whether this submission is
over the course's limit (grading.toml [submissions]: `limit` graded submissions per `window_hours`).

The hidden checks answer right or wrong on every submission, so unlimited submissions make them an oracle. A
student's submissions are read from Gradescope's /autograder/submission_metadata.json: `created_at` (this one)
and `previous_submissions` (submission_time, score, results). Rules:

- the window is the `window_hours` before this submission's own `created_at`, never the clock (a regrade on
  Gradescope runs again later and must decide the same); submissions at or after `created_at` do not count;
- only graded submissions count: one refused for the limit does not, so a refusal never pushes the next
  allowed submission further away;
- a refused submission is not graded and keeps the previous grade: its results.json is the latest previous
  submission's results with a message on top (which limit, and when the next submission will be graded), so
  Gradescope's active submission carries the same score, never a 0.

Exit status: 0 grade it (within the limit, no limit set, or no metadata: a local run); 3 refused (results.json
written). Metadata that cannot be read is graded (exit 0) with a warning: a broken file must not block grading.
"""

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

from ..fsutil import atomic_write_text
from ..grading.results import Results
from ..reference import Reference

REFUSED = 3


def _time(text):
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def _refused(previous):
    return Results.from_gradescope(previous.get("results") or {}).refused


def decide(metadata, limit, window_hours):
    """(refused results.json dict, or None to grade) for a submission described by `metadata`."""
    if limit <= 0:
        return None
    now = _time(metadata["created_at"])
    window = timedelta(hours=window_hours)
    earlier = sorted((p for p in metadata.get("previous_submissions") or [] if _time(p["submission_time"]) < now),
                     key=lambda p: _time(p["submission_time"]))
    counted = [p for p in earlier if _time(p["submission_time"]) > now - window and not _refused(p)]
    if len(counted) < limit:
        return None
    latest = earlier[-1]
    # Without its results.json, a submission keeps the score Gradescope recorded for it.
    kept = Results.from_gradescope(latest.get("results") or {"tests": [], "score": latest.get("score", 0.0)})
    kept.kept_score = float(kept.score or 0.0)
    again = _time(counted[-limit]["submission_time"]) + window
    kept.refusal = (f"Submission limit: {limit} graded submission(s) per {window_hours:g} hours. This submission was "
                    f"not graded; your previous score ({kept.kept_score:g}) stands. Your next submission is graded if "
                    f"made after {again.isoformat(timespec='minutes')}.")
    return kept.to_gradescope()


def main(*, metadata, results, root=None, config=None):
    cfg = Reference(root, config).config
    path = Path(metadata)
    if cfg.submissions.limit <= 0 or not path.is_file():
        return 0
    try:
        refused = decide(json.loads(path.read_text(encoding="utf-8")), cfg.submissions.limit, cfg.submissions.window_hours)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"coursekit submission-limit: warning: {path} unreadable ({exc}); grading without the limit", file=sys.stderr)
        return 0
    if refused is None:
        return 0
    atomic_write_text(Path(results), json.dumps(refused, indent=2) + "\n")
    print(f"coursekit submission-limit: over the limit; previous results kept -> {results}")
    return REFUSED
