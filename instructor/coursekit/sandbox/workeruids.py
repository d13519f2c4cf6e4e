"""The grading uids of this machine: a slot (a uid) no other grader holds, the processes of a uid, and what a uid
can read. sandbox/isolation.py's backends run student code as these uids and say what must hold of them.

A slot is held by a lock per slot under /run for as long as a grader uses it, so two graders on one machine
(grade-batch's jobs, a test run beside a grade) never run programs as the same uid, nor kill each other's.
"""

import contextlib
import fcntl
import os
import signal
import time

from . import scrub

DEFAULT_UID_BASE = 47000
SLOTS = 16
SLOT_DIR = "/run/coursekit-slots"


class IsolationError(RuntimeError):
    """The isolation asked for is not available here; the message says why and what to do."""


@contextlib.contextmanager
def free_slot(uid_base):
    """The uid of a grading slot no other grader on this machine holds now, held (a lock per slot under /run)
    until the block ends. Probes take one too: a probe run as a busy slot's uid, or killing its processes,
    would hit the workers of a grade in progress."""
    os.makedirs(SLOT_DIR, mode=0o700, exist_ok=True)
    for slot in range(SLOTS):
        fh = open(os.path.join(SLOT_DIR, f"slot-{slot}.lock"), "w")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            continue
        try:
            yield uid_base + slot
        finally:
            fh.close()
        return
    raise IsolationError(f"all {SLOTS} grading slots are busy; run fewer graders at once")


def processes_of(uid):
    """Live processes of `uid` (zombies, already dead and waiting for a parent to reap them, do not count)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid != uid:
                    continue
                with open(f"/proc/{entry}/stat") as fh:
                    state = fh.read().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if state not in ("Z", "X"):
                pids.append(int(entry))
    return pids


def kill_uid(uid):
    """Kill every process of `uid`: a helper that becomes `uid` sends SIGKILL to everything it may signal."""
    for _ in range(50):
        if not processes_of(uid):
            return
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.02)
    raise IsolationError(f"processes of uid {uid} survive SIGKILL: {processes_of(uid)[:5]}")


def readable_by(uid, paths):
    """The paths of `paths` that `uid` can open or list (a helper process tries as that uid)."""
    return scrub.as_uid(uid, _readable, [str(p) for p in paths])


def _readable(paths):
    found = []
    for p in paths:
        try:
            if os.path.isdir(p):
                os.listdir(p)
            else:
                with open(p, "rb") as fh:
                    fh.read(1)
            found.append(p)
        except OSError:
            pass
    return found
