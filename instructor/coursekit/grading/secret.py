"""The grader's secret and the per-grading salt the hidden checks draw their inputs from.

Hidden checks draw their random inputs from `Tester.rng(n)`, a generator seeded from a salt, the check's name
and n. Fixed seeds would let a submission that smuggled its inputs out once (in an exception message, say)
recognise them at the next grading. The rule: a check's inputs are unpredictable to a submission, yet the
same for the same submission, so a regrade of unchanged code reproduces its score. The salt is therefore an
HMAC of the graded code under a secret that no submission can read:

- the secret is the environment variable COURSEKIT_SECRET, else the file `secret_path()` (created on first
  use with 32 random bytes, mode 0600, in a folder of mode 0700; refused when anyone but its owner may read
  it). Graders that must agree (grade-batch jobs, a Gradescope image, a regrade) share it: set the variable or
  create the file once, before grading (`grader_secret()` does).
- the salt covers every .py file of the package as graded (the submission's files over the release's), by
  relative path and content: any change of the code changes every input.
"""

import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_BYTES = 32


def secret_path():
    """Where the grader's secret lives: COURSEKIT_SECRET_FILE, else /var/lib/coursekit (root) or the user's
    state folder (a grader that is not root, which isolates nothing anyway)."""
    override = os.environ.get("COURSEKIT_SECRET_FILE")
    if override:
        return Path(override)
    if os.geteuid() == 0:
        return Path("/var/lib/coursekit/grader-secret")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "coursekit" / "grader-secret"


def grader_secret():
    """The secret bytes: COURSEKIT_SECRET, else the file at secret_path(), created on first use."""
    given = os.environ.get("COURSEKIT_SECRET")
    if given:
        return given.encode("utf-8")
    path = secret_path()
    if not path.exists():
        _create(path)
    info = path.stat()
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise PermissionError(
            f"the grader's secret {path} must belong to uid {os.geteuid()} and be readable by it alone "
            f"(it is uid {info.st_uid}, mode {info.st_mode & 0o777:o}); run `chmod 600 {path}` (and chown it), "
            "or set COURSEKIT_SECRET"
        )
    data = path.read_bytes()
    if len(data) < 16:
        raise ValueError(f"the grader's secret {path} holds {len(data)} bytes, too few; delete it to make a new one")
    return data


def _create(path):
    """Write a fresh secret at `path` atomically; a grader that created it first wins (its secret stays)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(SECRET_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)


def submission_salt(package_root, secret=None):
    """HMAC-SHA256 under the grader's secret of every .py file below `package_root` (path and content)."""
    root = Path(package_root)
    mac = hmac.new(grader_secret() if secret is None else secret, digestmod=hashlib.sha256)
    for path in sorted(p for p in root.rglob("*.py") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(root).as_posix().encode("utf-8")
        data = path.read_bytes()
        mac.update(len(rel).to_bytes(8, "little") + rel + len(data).to_bytes(8, "little") + data)
    return mac.digest()
