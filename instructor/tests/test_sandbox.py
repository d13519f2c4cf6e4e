"""The sandbox: what a program started in each isolation mode can see, do and leave behind."""

import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import pytest
from coursekit.sandbox import isolation as sandbox
from coursekit.sandbox import jail, scrub, workeruids
from grading_support import in_readable_python_world

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
    run = sandbox.Run(iso, uid, sandbox.ProgramLimits(memory_mb=1024))
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
    with iso.slot() as uid:
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
    with iso.slot() as uid:
        run, proc = _spawn(iso, uid, DAEMON + "time.sleep(60)\n")
        time.sleep(1.5)
        assert len(workeruids.processes_of(uid)) >= 2, "the daemon should be running while the program runs"
        run.close()
        deadline = time.monotonic() + 10
        while workeruids.processes_of(uid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert workeruids.processes_of(uid) == []


@pytest.mark.skipif(not ROOT, reason="switching users needs root")
def test_detect_refuses_what_it_cannot_give():
    with pytest.raises(sandbox.IsolationError, match="require-isolation"):
        sandbox.detect("none", require=True)
    with pytest.raises(sandbox.IsolationError, match="unknown isolation"):
        sandbox.detect("chroot")
    assert sandbox.detect("none").name == "none"
    assert "untrusted submissions need" in sandbox.detect("none").describe()


def test_detect_tries_the_registered_backends_in_strength_order(monkeypatch):
    """A backend is one class in BACKENDS: auto takes the first that works, a name asks for that one."""

    class Broken(sandbox.NoIsolation):
        name, needs_root, isolates = "broken", False, True

        @classmethod
        def problem(cls, python, uid_base):
            return "broken here: fix it"

    class Works(Broken):
        name = "works"

        @classmethod
        def problem(cls, python, uid_base):
            return ""

    monkeypatch.setattr(sandbox, "BACKENDS", {b.name: b for b in (Broken, Works, sandbox.NoIsolation)})
    assert type(sandbox.detect("auto", require=True)) is Works
    assert type(sandbox.detect("none")) is sandbox.NoIsolation
    with pytest.raises(sandbox.IsolationError, match="broken here: fix it"):
        sandbox.detect("broken")
    with pytest.raises(sandbox.IsolationError, match="unknown isolation 'namespaces'; use auto, broken, works, none"):
        sandbox.detect("namespaces")


UID_MODE = r'''
import json, os, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from coursekit.sandbox import isolation as sandbox
from coursekit.sandbox import scrub
from coursekit.sandbox import workeruids
iso = sandbox.detect("uid", python=sys.argv[2])
report = {"mode": iso.name}
with iso.slot() as uid:
    report["uid"] = uid
    report["private_readable"] = workeruids.readable_by(uid, [sys.argv[3]])
    run = sandbox.Run(iso, uid, sandbox.ProgramLimits(memory_mb=1024))
    (run.dir / "runtime" / "daemon.py").write_text(sys.argv[4])
    run.seal()
    proc = run.spawn([sys.argv[2], "-I", str(run.dir / "runtime" / "daemon.py")])
    time.sleep(2)
    report["during"] = len(workeruids.processes_of(uid))
    report["stderr"] = proc.stderr_tail.text(0.1)
    report["tmp_file"] = os.path.exists("/tmp/coursekit-uid-probe")
    run.close()
    report["after"] = len(workeruids.processes_of(uid))
    report["tmp_file_after"] = os.path.exists("/tmp/coursekit-uid-probe")
print(json.dumps(report))
'''


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


STORES = r"""
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
KEYCTL, ADD_KEY = {"x86_64": (250, 248), "aarch64": (219, 217)}[os.uname().machine]
KEYCTL_SEARCH, O_CREAT, O_RDWR = 10, 0o100, 0o2
RINGS = {"user keyring": -4, "session keyring": -3, "user session keyring": -5}
IPC = 0x4B435354
mine = [os.environ["HOME"] + "/store", os.environ["TMPDIR"] + "/store"]
shared = [top + "/coursekit-store-probe" for top in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")]
files = mine + (shared if sys.argv[2] == "all" else [])


def write():
    done = []
    for path in files:
        try:
            with open(path, "w") as fh:
                fh.write("secret")
            done.append(path)
        except OSError:
            pass
    if sys.argv[2] != "all":
        return done
    shm = libc.shmget(IPC, 4096, 0o1666)
    if shm >= 0:
        ctypes.memmove(libc.shmat(shm, None, 0), b"secret", 6)
        done.append("shm")
    done += ["sem"] if libc.semget(IPC, 1, 0o1666) >= 0 else []
    done += ["msg"] if libc.msgget(IPC, 0o1666) >= 0 else []
    for name, ring in RINGS.items():
        if libc.syscall(ADD_KEY, b"user", name.encode(), b"secret", 6, ring) > 0:
            done.append(name)
    if hasattr(libc, "mq_open") and libc.mq_open(b"/coursekit-store-probe", O_CREAT | O_RDWR, 0o666, None) >= 0:
        done.append("mqueue")
    return done


def read():
    found = [path for path in files if os.path.exists(path)]
    if sys.argv[2] != "all":
        return found
    found += ["shm"] if libc.shmget(IPC, 0, 0) >= 0 else []
    found += ["sem"] if libc.semget(IPC, 0, 0) >= 0 else []
    found += ["msg"] if libc.msgget(IPC, 0) >= 0 else []
    found += [name for name, ring in RINGS.items() if libc.syscall(KEYCTL, KEYCTL_SEARCH, ring, b"user", name.encode(), 0) > 0]
    if hasattr(libc, "mq_open") and libc.mq_open(b"/coursekit-store-probe", O_RDWR, 0, None) >= 0:
        found.append("mqueue")
    return found


print(json.dumps(write() if sys.argv[1] == "write" else read()), file=sys.stderr)
"""


def write_then_read(run, python, which="all"):
    """(what one program of `run` could store, what the next program of the run then found). The writer
    ends by itself (its lane is cleaned when the reader takes it), the reader is stopped."""
    (run.dir / "runtime" / "stores.py").write_text(STORES)
    run.seal()
    out = []
    for step in ("write", "read"):
        proc = run.spawn([python, "-I", f"{run.path('runtime')}/stores.py", step, which])
        assert proc.wait(timeout=60) == 0, proc.stderr_tail.text()
        out.append(json.loads(proc.stderr_tail.text().strip().splitlines()[-1]))
    run.stop(proc)
    return out


@needs_namespaces
def test_a_program_finds_nothing_of_the_one_before_in_the_namespaces_mode():
    iso = sandbox.detect("namespaces")
    with iso.slot() as uid:
        run = sandbox.Run(iso, uid, sandbox.ProgramLimits(memory_mb=1024))
        try:
            written, found = write_then_read(run, sys.executable)
        finally:
            run.close()
    assert {"/tmp/home/store", "/tmp/coursekit-store-probe", "shm", "sem", "msg", "user keyring"} <= set(written)
    assert "mqueue" not in written
    assert found == []


UID_STORES = r"""
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[3]]
from coursekit.sandbox import isolation as sandbox
from coursekit.sandbox import scrub
from test_sandbox import write_then_read
iso = sandbox.detect("uid", python=sys.argv[2])
with iso.slot() as uid:
    run = sandbox.Run(iso, uid, sandbox.ProgramLimits(memory_mb=1024))
    try:
        print(json.dumps([uid, *write_then_read(run, sys.argv[2])]))
    finally:
        run.close()
"""


@pytest.mark.skipif(not ROOT or not shutil.which("unshare"), reason="the uid mode needs root")
def test_a_program_finds_nothing_of_the_one_before_in_the_uid_mode(tmp_path):
    (tmp_path / "stores.py").write_text(UID_STORES)
    proc = in_readable_python_world([str(tmp_path / "stores.py"), str(Path(sandbox.__file__).parents[1]), sys.executable,
                                     str(Path(__file__).parent)])
    assert proc.returncode == 0, proc.stderr
    uid, written, found = json.loads(proc.stdout.strip().splitlines()[-1])
    shared = {f"{top}/coursekit-store-probe" for top in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock") if os.path.isdir(top)}
    assert shared | {"shm", "sem", "msg", "user keyring"} <= set(written) and "mqueue" not in written
    assert found == []
    assert [p for p in shared if os.path.exists(p)] == []


def test_a_program_gets_a_fresh_home_in_the_none_mode():
    iso = sandbox.detect("none")
    with iso.slot() as uid:
        run = sandbox.Run(iso, uid, sandbox.ProgramLimits(memory_mb=1024))
        try:
            written, found = write_then_read(run, sys.executable, which="home")
            homes = list((run.dir / "homes").iterdir())
        finally:
            run.close()
    assert len(written) == 2 and found == [] and homes == []


def _leave_things(top):
    """Run as a grading uid: files in the machine's shared folders and in a world-writable folder deep in a
    tree, a folder of its own, a SysV shared memory segment handed to root (the owner may give it away)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    made = []
    for path in (f"{top}/deep/drop/note", "/tmp/coursekit-scrub-probe", "/dev/shm/coursekit-scrub-probe"):
        with open(path, "w") as fh:
            fh.write("x")
        made.append(path)
    os.makedirs("/var/tmp/coursekit-scrub-probe/inner")
    made.append("/var/tmp/coursekit-scrub-probe")
    ident = libc.shmget(0x4B435355, 4096, 0o1600)
    shmid_ds = (ctypes.c_uint32 * 64)()  # begins with ipc_perm: key, then the owner's uid
    libc.shmctl(ident, 2, ctypes.byref(shmid_ds))  # IPC_STAT
    shmid_ds[1] = 0
    if libc.shmctl(ident, 1, ctypes.byref(shmid_ds)) != 0:  # IPC_SET: the segment now belongs to root
        raise OSError(ctypes.get_errno(), "IPC_SET")
    return made


@pytest.mark.skipif(not ROOT, reason="switching users needs root")
def test_scrub_finds_where_a_uid_writes_removes_what_it_left_and_names_what_it_cannot():
    uid = sandbox.DEFAULT_UID_BASE + 990
    top = Path(tempfile.mkdtemp(prefix="coursekit-scrub-", dir="/tmp"))
    try:
        top.chmod(0o755)
        (top / "deep" / "drop").mkdir(parents=True)
        (top / "deep" / "drop").chmod(0o1777)
        (top / "open").mkdir()
        (top / "open").chmod(0o777)
        (top / "shared.txt").write_text("")
        (top / "shared.txt").chmod(0o666)
        (top / "closed").mkdir(mode=0o700)
        (top / "closed" / "hidden.txt").write_text("")
        (top / "closed" / "hidden.txt").chmod(0o666)  # out of the uid's reach: no problem
        scrub._candidates.cache_clear()
        scrub._places.cache_clear()
        scrub.clean(uid)  # what an interrupted run of this test left
        assert {"/tmp", str(top / "deep" / "drop"), str(top / "open")} <= set(scrub.places(uid))
        found = scrub.problems(uid)
        assert sorted(p.split(" (")[0] for p in found if str(top) in p) == [str(top / "open"), str(top / "shared.txt")]
        assert "chmod +t or go-w" in "".join(found) and "chmod go-w" in "".join(found)
        assert "cannot clean up after its worker uid" in scrub.describe(uid, found)

        made = scrub.as_uid(uid, _leave_things, str(top))
        assert all(os.path.exists(p) for p in made)
        assert [o for o in scrub._ipc_objects() if o[3] == uid]
        scrub.clean(uid)
        assert [p for p in made if os.path.exists(p)] == []
        assert [o for o in scrub._ipc_objects() if uid in (o[2], o[3])] == []
    finally:
        shutil.rmtree(top, ignore_errors=True)
        scrub._candidates.cache_clear()
        scrub._places.cache_clear()


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
    with iso.slot() as uid:
        run = sandbox.Run(iso, uid, sandbox.ProgramLimits(memory_mb=1024))
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


def test_the_jail_spec_refuses_what_it_does_not_know():
    """The launcher's spec is typed: a typo or a wrong type fails loudly instead of dropping a limit."""
    spec = jail.JailSpec(mode="uid", uid=47000, gid=47000, argv=["/bin/true"], env={}, cwd="/", memory_mb=64,
                         cpu_seconds=1, file_mb=1, nproc=4)
    assert jail.JailSpec.from_json(spec.to_json()) == spec
    fields = json.loads(spec.to_json())
    with pytest.raises(jail.SpecError, match="unknown keys memory_MB"):
        jail.JailSpec.from_json(json.dumps({**fields, "memory_MB": 64}))
    del fields["nproc"]
    with pytest.raises(jail.SpecError, match="missing keys nproc"):
        jail.JailSpec.from_json(json.dumps(fields))
    with pytest.raises(jail.SpecError, match="memory_mb must be int"):
        jail.JailSpec(**{**vars(spec), "memory_mb": "64"})
    with pytest.raises(jail.SpecError, match="unknown mode 'chroot'"):
        jail.JailSpec(**{**vars(spec), "mode": "chroot"})
    with pytest.raises(jail.SpecError, match="namespaces mode needs root"):
        jail.JailSpec(**{**vars(spec), "mode": "namespaces"})
