"""Attacks on the isolation between workers, graded for real (issue 19): each must earn nothing, in every mode.

- A store shared by the workers of one submission: a TODO's worker writes down the inputs it was called
  with; a later worker, where that TODO is a reference stub, asks the reference for the answers and writes
  them down; a re-check of the student's own code (a TODO calling another its reference does not call is
  checked again with the student's code for it) answers from the store. The store is everywhere a worker
  could write: $HOME, /tmp, /var/tmp, /dev/shm, /run/lock and a SysV shared memory segment.
"""

import pytest
from coursekit.sandbox import isolation as sandbox
from coursekit.sandbox import workeruids
from grading_support import (
    A2,
    bases,
    check_results,
    code_todos,
    grade_in_mode,
    leaves_nothing,
    points,
    submission,
)
from test_sandbox import ROOT, needs_namespaces

# Appended to a module of the submission: every target TODO of the module becomes `replay`, which answers
# from the store when it can and otherwise writes its inputs down and fills the store with the reference's
# answers for the inputs the other targets recorded (through their stubs, where they are stubs).
STORE = r'''

import copy as _copy
import ctypes as _ctypes
import hashlib as _hashlib
import os as _os
import pickle as _pickle

_TARGETS = {targets!r}
_FILES = [_os.path.join(_os.environ.get("HOME", "/nonexistent"), ".ck-store")] + [
    _top + "/.ck-store" for _top in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")]
_SHM_KEY, _SHM_SIZE = 0x6B63, 4 << 20
_libc = _ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = _ctypes.c_void_p
_busy = []


def _segment():
    ident = _libc.shmget(_SHM_KEY, _SHM_SIZE, 0o1666)
    if ident < 0:
        return None
    address = _libc.shmat(ident, None, 0)
    return None if address in (None, 2**64 - 1) else address


def _load():
    store = {{"inputs": {{}}, "answers": {{}}}}
    blobs = []
    for path in _FILES:
        try:
            with open(path, "rb") as fh:
                blobs.append(fh.read())
        except OSError:
            pass
    address = _segment()
    if address:
        size = int.from_bytes(_ctypes.string_at(address, 8), "little")
        if 0 < size < _SHM_SIZE - 8:
            blobs.append(_ctypes.string_at(address + 8, size))
    for blob in blobs:
        try:
            found = _pickle.loads(blob)
        except Exception:
            continue
        for part in ("inputs", "answers"):
            for name, entries in found.get(part, {{}}).items():
                store[part].setdefault(name, {{}}).update(entries)
    return store


def _save(store):
    blob = _pickle.dumps(store)
    for path in _FILES:
        try:
            with open(path, "wb") as fh:
                fh.write(blob)
        except OSError:
            pass
    address = _segment()
    if address and len(blob) < _SHM_SIZE - 8:
        _ctypes.memmove(address + 8, blob, len(blob))
        _ctypes.memmove(address, len(blob).to_bytes(8, "little"), 8)


def _steal(name, args, kwargs):
    store = _load()
    key = _hashlib.sha256(_pickle.dumps((args, sorted(kwargs.items())))).hexdigest()
    if key in store["answers"].get(name, {{}}):
        return store["answers"][name][key]
    if _busy:
        return None
    _busy.append(name)
    try:
        store["inputs"].setdefault(name, {{}})[key] = (_copy.deepcopy(args), _copy.deepcopy(kwargs))
        for other in _TARGETS:
            if other == name:
                continue
            function = globals()[other]
            try:
                function()  # every target calls every other one: a cycle, checked again with the student's code
            except Exception:
                pass
            for known, (a, kw) in list(store["inputs"].get(other, {{}}).items()):
                if known not in store["answers"].get(other, {{}}):
                    try:
                        store["answers"].setdefault(other, {{}})[known] = function(*_copy.deepcopy(a), **_copy.deepcopy(kw))
                    except Exception:
                        pass
        _save(store)
    finally:
        _busy.pop()
    return None


def _replay(name):
    def replay(*args, **kwargs):
        return _steal(name, args, kwargs)
    replay.__name__ = name
    return replay


for _name in _TARGETS:
    globals()[_name] = _replay(_name)
'''

# Uids of this module's graders alone: other graders on the machine never look like leftovers of these.
UIDS = range(52400, 52400 + sandbox.SLOTS)
# The TODOs of the attack: checks of theirs that call them once, on inputs of the grader's (no chain of calls
# that depends on an earlier answer), and their modules' other TODOs are left out (the fewer workers, the
# faster the test).
TARGETS = {"cs231n/layers.py": ["affine_backward", "svm_loss", "softmax_loss"],
           "cs231n/optim.py": ["sgd_momentum", "rmsprop", "adam"]}


def store_attack(dest):
    """An assignment-2 submission that implements no TODO: the TARGETS replay answers from the store."""
    sub = submission(dest, A2, solved=set())
    for path, names in TARGETS.items():
        with open(sub / path, "a") as fh:
            fh.write(STORE.format(targets=names))
    return sub


def code_scores(results):
    return {todo: test["score"] for todo, test in check_results(results).items() if "ipynb" not in todo}


@pytest.mark.timeout(1200)
@pytest.mark.skipif(not ROOT, reason="the namespaces and uid modes need root")
@pytest.mark.parametrize("isolation", [pytest.param("namespaces", marks=needs_namespaces), "uid"])
def test_a_store_shared_between_workers_earns_nothing(tmp_path, isolation):
    bases()
    with leaves_nothing(UIDS):
        attacked = grade_in_mode(store_attack(tmp_path / "attack"), A2, isolation, worker_uid_base=UIDS[0])
    # The attack reached its re-check: a TODO calling another its reference does not call is checked again.
    assert "which the course's" in attacked["output"] and "was checked with your own" in attacked["output"]
    assert code_scores(attacked) == {t.id: 0.0 for t in code_todos(A2)}
    with leaves_nothing(UIDS):
        honest = grade_in_mode(submission(tmp_path / "honest", A2), A2, isolation, worker_uid_base=UIDS[0])
    assert code_scores(honest) == {t.id: points(A2, [t.id]) for t in code_todos(A2)}
    assert [pid for uid in UIDS for pid in workeruids.processes_of(uid)] == []
