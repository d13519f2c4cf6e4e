"""pytest plugin run inside the grading child (copied next to it: it imports nothing but pytest and the stdlib).

- `--ck-report FILE`: one JSON line per test phase and per failed collection, flushed at once, so the
  grader keeps every result reported before the child died.
- `--ck-fork SECONDS`: each test runs in a forked process with an alarm of SECONDS; the parent waits at
  most a little longer, then kills it. `os._exit`, segfaults, memory errors and infinite loops in a
  submission fail that one test only.
- `--ck-hidden-dir DIR --ck-drop UID:GID --ck-syspath KIT`: the hidden tests are collected while the
  child is still root and before any submission code can run (hidden tests import the submission inside
  their test functions only); then DIR is deleted, the process becomes UID:GID, chdirs to KIT and puts KIT
  first on sys.path. From then on nothing on disk holds the hidden tests, and the reference tree is
  hidden from the child by the sandbox's mount namespace.
- `--ck-no-network`: a socket guard refusing connections outside loopback (the fallback when no network
  namespace is available).
- nbval cells: the cell id and every `RESULT <name>: <value>` line the cell printed go with its report.
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import sys
import time

import pytest
from _pytest.reports import TestReport
from _pytest.runner import runtestprotocol

RESULT_RE = re.compile(r"^RESULT (.+?):\s*([-+0-9.eE]+)\s*$", re.MULTILINE)
MAX_TEXT = 6000
MAX_SECTION = 2000


class TestTimeout(Exception):
    """A test ran longer than the per-test limit."""


def pytest_addoption(parser):
    group = parser.getgroup("coursekit")
    group.addoption("--ck-report", default=None)
    group.addoption("--ck-fork", type=float, default=None)
    group.addoption("--ck-hidden-dir", default=None)
    group.addoption("--ck-drop", default=None)
    group.addoption("--ck-syspath", default=None)
    group.addoption("--ck-no-network", action="store_true", default=False)


def _clip(text, limit=MAX_TEXT):
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f"\n[... {len(text) - limit} characters cut ...]\n" + text[-limit // 2 :]


class Reporter:
    def __init__(self, path):
        self.fh = open(path, "a", encoding="utf-8")

    def write(self, **record):
        self.fh.write(json.dumps(record) + "\n")
        self.fh.flush()


def _guard_sockets():
    allowed = {"127.0.0.1", "::1", "localhost"}
    original = socket.socket.connect

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in allowed:
            raise OSError(f"network access is disabled while grading (tried {address[0]})")
        return original(self, address)

    socket.socket.connect = connect


_reporter = None


def pytest_configure(config):
    global _reporter
    path = config.getoption("--ck-report")
    _reporter = Reporter(path) if path else None
    if config.getoption("--ck-no-network"):
        _guard_sockets()


def pytest_collectreport(report):
    if report.failed and _reporter is not None:
        _reporter.write(nodeid=report.nodeid, when="collect", outcome="failed", longrepr=_clip(str(report.longrepr)))


def pytest_runtest_logreport(report):
    if _reporter is None:
        return
    if report.when == "call" or report.failed:
        _reporter.write(
            nodeid=report.nodeid,
            when=report.when,
            outcome=report.outcome,
            longrepr=_clip(str(report.longrepr)) if report.failed else "",
            duration=round(report.duration, 3),
            props=dict(report.user_properties),
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cell = getattr(item, "cell", None)
    if cell is not None and call.when == "call":
        report.user_properties.append(("cell_id", cell.get("id") or ""))
        texts = [o.get("text", "") for o in (getattr(item, "test_outputs", None) or []) if isinstance(o, dict)]
        for name, value in RESULT_RE.findall("".join(t if isinstance(t, str) else "".join(t) for t in texts)):
            report.user_properties.append((f"RESULT {name}", float(value)))


def pytest_collection_finish(session):
    config = session.config
    hidden = config.getoption("--ck-hidden-dir")
    if hidden:
        # Empty the folder rather than remove it: its parent may be read-only inside the sandbox.
        for entry in os.listdir(hidden):
            path = os.path.join(hidden, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        if os.listdir(hidden):
            pytest.exit(f"could not remove the hidden tests from {hidden}; refusing to run submission code", 3)
    drop = config.getoption("--ck-drop")
    if drop:
        uid, gid = (int(x) for x in drop.split(":"))
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    kit = config.getoption("--ck-syspath")
    if kit:
        os.chdir(kit)
        sys.path.insert(0, kit)


def _alarm(seconds):
    def handler(signum, frame):
        raise TestTimeout(f"the test ran longer than {seconds:g} s (an infinite loop?) and was stopped")

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _serialise(reports):
    out = []
    for rep in reports:
        longrepr = _clip(str(rep.longrepr)) if rep.failed else None
        if rep.skipped and isinstance(rep.longrepr, tuple):
            longrepr = rep.longrepr
        out.append(
            {
                "when": rep.when,
                "outcome": rep.outcome,
                "longrepr": longrepr,
                "duration": rep.duration,
                "sections": [(k, _clip(v, MAX_SECTION)) for k, v in rep.sections],
                "user_properties": list(rep.user_properties),
            }
        )
    return json.dumps(out).encode("utf-8")


def _failed_report(item, message):
    return TestReport(item.nodeid, item.location, {}, "failed", message, "call", duration=0.0)


def _run_forked(item, seconds):
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            os.close(read_fd)
            _alarm(seconds)
            data = _serialise(runtestprotocol(item, log=False, nextitem=None))
            signal.setitimer(signal.ITIMER_REAL, 0)
            with os.fdopen(write_fd, "wb") as fh:
                fh.write(data)
        except BaseException:
            status = 70
        finally:
            os._exit(status)
    os.close(write_fd)
    chunks = []
    size = 0
    deadline = time.monotonic() + seconds + 15
    killed = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            os.kill(pid, signal.SIGKILL)
            killed = True
            break
        ready, _, _ = select.select([read_fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(read_fd, 1 << 16)
        if not chunk:
            break
        size += len(chunk)
        if size <= 4 * 2**20:
            chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    if killed:
        return [_failed_report(item, f"the test ran longer than {seconds:g} s and its process was killed")]
    try:
        records = json.loads(b"".join(chunks).decode("utf-8"))
    except ValueError:
        records = None
    if not records:
        if os.WIFSIGNALED(status):
            how = f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
        else:
            how = f"exited with code {os.WEXITSTATUS(status)}"
        return [
            _failed_report(
                item,
                f"the test process {how} before reporting: the code under test ended the process "
                "(os._exit, sys.exit, a crash, or a memory or output limit)",
            )
        ]
    return [
        TestReport(
            item.nodeid,
            item.location,
            {},
            r["outcome"],
            tuple(r["longrepr"]) if isinstance(r["longrepr"], list) else r["longrepr"],
            r["when"],
            sections=[tuple(s) for s in r["sections"]],
            duration=r["duration"],
            user_properties=[tuple(p) for p in r["user_properties"]],
        )
        for r in records
    ]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    seconds = item.config.getoption("--ck-fork")
    if not seconds:
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for report in _run_forked(item, seconds):
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
