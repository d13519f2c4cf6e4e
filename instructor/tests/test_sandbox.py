"""The sandbox: what a program started in each isolation mode can see, do and leave behind."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from coursekit import sandbox

ROOT = os.geteuid() == 0
needs_namespaces = pytest.mark.skipif(
    not ROOT or sandbox._namespaces_problem() != "", reason="the namespaces mode needs root with CAP_SYS_ADMIN"
)

PROBE = r'''
import json, os, socket, sys
report = {"pid": os.getpid(), "uid": os.getuid(), "euid": os.geteuid(), "root": sorted(os.listdir("/"))}
def can(fn):
    try:
        fn()
        return True
    except OSError:
        return False
report["sees_secret"] = os.path.exists(sys.argv[1])
report["write_usr"] = can(lambda: open("/usr/coursekit-probe", "w"))
report["write_tmp"] = can(lambda: open("/tmp/probe", "w").write("x"))
report["write_proc"] = can(lambda: open("/proc/self/oom_score_adj", "w").write("500"))
report["sys"] = os.path.exists("/sys/kernel")
report["dev"] = sorted(os.listdir("/dev"))
report["dev_shm"] = os.path.exists("/dev/shm")
def connect(address):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(address)
report["network"] = can(lambda: connect(("1.1.1.1", 53)))
def abstract():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("\0" + sys.argv[2])
report["host_unix_socket"] = can(abstract)
report["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print(json.dumps(report), file=sys.stderr)
'''


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "solutions.py"
    path.write_text("SOLVED = True\n")
    path.chmod(0o644)
    return path


def _spawn(iso, uid, program, args=(), **kwargs):
    run = sandbox.Run(iso, uid, sandbox.Limits(memory_mb=1024))
    (run.dir / "runtime" / "probe.py").write_text(program)
    run.seal()
    proc = run.spawn([sys.executable, "-I", f"{run.path('runtime')}/probe.py", *args], **kwargs)
    return run, proc


@needs_namespaces
def test_namespaces_mode_shows_an_allowlist_and_nothing_else(secret):
    iso = sandbox.detect("namespaces")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0coursekit-test-host-socket")
    listener.listen(1)
    with sandbox.uid_slot(iso) as uid:
        run, proc = _spawn(iso, uid, PROBE, [str(secret), "coursekit-test-host-socket"])
        try:
            assert proc.wait(timeout=60) == 0, proc.stderr_tail.text()
            report = json.loads(proc.stderr_tail.text().strip().splitlines()[-1])
        finally:
            run.close()
    listener.close()
    assert report["pid"] == 1 and report["uid"] == uid == report["euid"] and uid != 0
    assert not report["sees_secret"]
    assert "work" not in report["root"] and set(report["root"]) <= {
        "bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "root", "run", "sbin", "tmp", "usr"}
    assert not report["write_usr"] and report["write_tmp"] and not report["write_proc"]
    assert not report["sys"] and not report["dev_shm"]
    assert set(report["dev"]) == {"null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout", "stderr"}
    assert not report["network"] and not report["host_unix_socket"]
    assert report["processes"] == [1]


DAEMON = r'''
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            time.sleep(0.1)
    os._exit(0)
time.sleep(0.5)
print("started", file=sys.stderr)
'''


@needs_namespaces
def test_nothing_outlives_a_run_in_the_namespaces_mode():
    iso = sandbox.detect("namespaces")
    with sandbox.uid_slot(iso) as uid:
        run, proc = _spawn(iso, uid, DAEMON + "time.sleep(60)\n")
        time.sleep(1.5)
        assert len(sandbox._processes_of(uid)) >= 2, "the daemon should be running while the program runs"
        run.close()
        deadline = time.monotonic() + 10
        while sandbox._processes_of(uid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sandbox._processes_of(uid) == []


@pytest.mark.skipif(not ROOT, reason="switching users needs root")
def test_detect_refuses_what_it_cannot_give():
    with pytest.raises(sandbox.IsolationError, match="require-isolation"):
        sandbox.detect("none", require=True)
    with pytest.raises(sandbox.IsolationError, match="unknown isolation"):
        sandbox.detect("chroot")
    assert sandbox.detect("none").mode == "none"
    assert "untrusted submissions need" in sandbox.detect("none").describe()


UID_MODE = r'''
import json, os, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from coursekit import sandbox
iso = sandbox.detect("uid", python=sys.argv[2])
report = {"mode": iso.mode}
with sandbox.uid_slot(iso) as uid:
    report["uid"] = uid
    report["private_readable"] = sandbox.readable_by(uid, [sys.argv[3]])
    run = sandbox.Run(iso, uid, sandbox.Limits(memory_mb=1024))
    (run.dir / "runtime" / "daemon.py").write_text(sys.argv[4])
    run.seal()
    proc = run.spawn([sys.argv[2], "-I", str(run.dir / "runtime" / "daemon.py")])
    time.sleep(2)
    report["during"] = len(sandbox._processes_of(uid))
    report["stderr"] = proc.stderr_tail.text(0.1)
    report["tmp_file"] = os.path.exists("/tmp/coursekit-uid-probe")
    run.close()
    report["after"] = len(sandbox._processes_of(uid))
    report["tmp_file_after"] = os.path.exists("/tmp/coursekit-uid-probe")
print(json.dumps(report))
'''


def in_readable_python_world(script_args, timeout=300):
    """Run `python script_args...` as root in a private mount namespace in which the interpreter's
    folder is readable by every user, as on an autograder whose setup installed Python system-wide.

    Here the interpreter lives under /root (mode 0700, and its RPATH points there, so a copy elsewhere
    would load another libpython): the namespace puts an empty, world-readable /root over the real one
    and moves the interpreter's folder into it. Nothing outside this test's namespace changes."""
    prefix = Path(sys.base_prefix)
    if not prefix.is_relative_to("/root"):
        return subprocess.run([sys.executable, *script_args], capture_output=True, text=True, timeout=timeout)
    top = Path("/root") / prefix.relative_to("/root").parts[0]
    stash = Path(tempfile.mkdtemp(prefix="coursekit-stash-"))
    script = (f"mount --bind {top} {stash} && mount -t tmpfs -o mode=0755,size=1m tmpfs /root && "
              f"mkdir {top} && mount --move {stash} {top} && exec {sys.executable} \"$@\"")
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                               *script_args], capture_output=True, text=True, timeout=timeout)
    finally:
        stash.rmdir()


@pytest.mark.skipif(not ROOT or not shutil.which("unshare"), reason="the uid mode needs root")
def test_uid_mode_kills_every_process_and_removes_leftovers(tmp_path, secret):
    secret.chmod(0o600)
    daemon = DAEMON.replace('print("started"', 'open("/tmp/coursekit-uid-probe", "w").write("x"); print("started"')
    daemon += "time.sleep(60)\n"
    (tmp_path / "daemon.py").write_text(daemon)
    (tmp_path / "check.py").write_text(UID_MODE)
    proc = in_readable_python_world([str(tmp_path / "check.py"), str(Path(sandbox.__file__).parents[1]),
                                     sys.executable, str(secret), daemon])
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["mode"] == "uid" and report["uid"] >= sandbox.DEFAULT_UID_BASE
    assert report["private_readable"] == []
    assert report["during"] >= 2 and report["tmp_file"]
    assert report["after"] == 0 and not report["tmp_file_after"]


FORK_AND_ALLOCATE = r'''
import os, sys, time
children = []
for _ in range(6):
    pid = os.fork()
    if pid == 0:
        block = bytearray(300 * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(30)
        os._exit(0)
    children.append(pid)
time.sleep(4)
alive = 0
for pid in children:
    done, status = os.waitpid(pid, os.WNOHANG)
    alive += done == 0
print(f"alive {alive}", file=sys.stderr)
'''


@needs_namespaces
def test_a_program_and_its_children_share_one_memory_budget():
    """Six children of 300 MB each do not fit a 1 GB lane: the kernel kills some, the machine is untouched."""
    iso = sandbox.detect("namespaces")
    with sandbox.uid_slot(iso) as uid:
        run = sandbox.Run(iso, uid, sandbox.Limits(memory_mb=1024))
        if not run.cgroups[uid].active:
            run.close()
            pytest.skip("this machine gives no writable memory cgroup")
        (run.dir / "runtime" / "bomb.py").write_text(FORK_AND_ALLOCATE)
        run.seal()
        proc = run.spawn([sys.executable, "-I", f"{run.path('runtime')}/bomb.py"])
        try:
            proc.wait(timeout=60)
            tail = proc.stderr_tail.text()
        finally:
            run.close()
    alive = int(tail.split("alive ")[-1].split()[0])
    assert alive < 6, tail
