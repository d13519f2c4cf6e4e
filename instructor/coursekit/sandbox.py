"""Where student code runs: three isolation modes, chosen by what the grading machine allows.

- namespaces (root with CAP_SYS_ADMIN, e.g. a VM or an instructor's machine as root): new PID, mount,
  network, IPC and UTS namespaces; the program sees an allowlist of read-only folders (the system's
  libraries, the interpreter and its packages, the run's own folders) plus a private /tmp; nothing it
  starts outlives it; only loopback networking. See jail.py.
- uid (root in a container without CAP_SYS_ADMIN, as Gradescope runs Docker): a dedicated unprivileged
  uid per grading slot that can run the interpreter (the autograder's setup arranges it); the reference,
  hidden checks and results stay root-only (checked before grading); every process of that uid is
  killed and its files in the shared temporary folders removed after each run.
- none (no root, an instructor's laptop): the same user; honest submissions grade the same, but nothing
  stops a hostile one. The grader says so in its output; `--require-isolation` refuses instead.

`detect()` picks the strongest mode that works here (or checks the one asked for), `Run` holds one run's
folders and spawns programs in it through `python -I -m coursekit.jail`.
"""

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

MODES = ("namespaces", "uid", "none")
DEFAULT_UID_BASE = 47000
SLOTS = 16
SLOT_DIR = "/run/coursekit-slots"
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock")


class IsolationError(RuntimeError):
    """The isolation asked for is not available here; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 4096
    cpu_seconds: int = 3600
    file_mb: int = 64
    nproc: int = 128
    tmp_mb: int = 128


@dataclass
class Isolation:
    mode: str
    python: str = sys.executable
    uid_base: int = DEFAULT_UID_BASE
    notes: list = field(default_factory=list)

    def describe(self):
        if self.mode == "namespaces":
            return ("isolation: namespaces (own PID, mount, network namespaces; read-only allowlist file system; "
                    f"unprivileged uid {self.uid_base}+; nothing outlives a run)")
        if self.mode == "uid":
            return (f"isolation: uid (no namespaces here; dedicated unprivileged uid {self.uid_base}+; reference, hidden "
                    "checks and results readable by root only; every process of the uid killed after each run; "
                    "the network is not isolated)")
        return ("isolation: none (not root: student code runs as the grader's user; fine for honest submissions, "
                "but untrusted submissions need the namespaces or uid mode: grade as root)")


def _launcher():
    """argv and environment of the launcher (jail.py), run by the grader's own interpreter in isolated mode."""
    package_parent = str(Path(__file__).resolve().parent.parent)
    code = "import sys; sys.path.insert(0, sys.argv[1]); import coursekit.jail; coursekit.jail.main()"
    return [sys.executable, "-I", "-c", code, package_parent], {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def _run_jail(spec, timeout=60):
    """Run the launcher to completion (probes); return (returncode, stderr)."""
    argv, env = _launcher()
    proc = subprocess.run(argv, input=json.dumps(spec).encode(), capture_output=True, timeout=timeout, env=env)
    return proc.returncode, proc.stderr.decode(errors="replace")


@cache
def interpreter_paths(python=sys.executable):
    """Folders the worker interpreter needs, read-only: its prefixes and the real folder of its binary."""
    code = ("import json, sys, sysconfig; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix, "
            "sys.base_exec_prefix, sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']]))")
    if python == sys.executable:
        paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                 sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    else:
        paths = json.loads(subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, check=True).stdout)
    paths.append(str(Path(os.path.realpath(python)).parent))
    out = []
    for p in sorted({os.path.realpath(p) for p in paths}):
        if not any(p.startswith(q + os.sep) for q in out):
            out.append(p)
    return tuple(out)


def system_paths():
    """(read-only folders, symlinks) of the system every program needs."""
    ro, links = [], {}
    for p in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        if os.path.islink(p):
            links[p] = os.readlink(p)
        elif os.path.isdir(p):
            ro.append(p)
    for p in ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf", "/etc/ssl/certs/ca-certificates.crt"):
        if os.path.isfile(p):
            ro.append(p)
    return ro, links


def _probe_namespaces():
    with _free_slot(DEFAULT_UID_BASE) as uid, tempfile.TemporaryDirectory(prefix="coursekit-probe-") as tmp:
        os.chmod(tmp, 0o755)
        root = Path(tmp) / "root"
        root.mkdir()
        ro, links = system_paths()
        spec = {
            "mode": "namespaces", "root": str(root), "ro": ro + list(interpreter_paths()), "symlinks": links,
            "uid": uid, "gid": uid, "tmp_mb": 1, "memory_mb": 1024, "cpu_seconds": 30,
            "file_mb": 1, "nproc": 64, "cwd": "/tmp", "env": {"PATH": "/usr/bin:/bin"},
            "argv": [sys.executable, "-I", "-c", "import os, sys; sys.exit(0 if os.getpid() == 1 and os.getuid() != 0 else 3)"],
        }
        try:
            code, err = _run_jail(spec)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"the namespace probe failed to run ({exc})"
        return "" if code == 0 else f"namespaces are not available here ({err.strip().splitlines()[-1:] or code})"


@cache
def _namespaces_problem():
    if os.geteuid() != 0:
        return "not root"
    return _probe_namespaces()


def _uid_can_run(python, uid_base):
    """'' when a grading uid can run `python` with numpy, else why not."""
    with _free_slot(uid_base) as uid:
        spec = {"mode": "uid", "uid": uid, "gid": uid, "memory_mb": 2048, "cpu_seconds": 60, "file_mb": 1, "nproc": 64,
                "cwd": "/", "env": {"PATH": "/usr/bin:/bin"},
                "argv": [python, "-I", "-c", "import numpy"]}
        try:
            code, err = _run_jail(spec)
        except (OSError, subprocess.SubprocessError) as exc:
            return str(exc)
        kill_uid(uid)
    return "" if code == 0 else (err.strip().splitlines() or [f"exit {code}"])[-1]


def detect(requested="auto", *, require=False, python=None, uid_base=DEFAULT_UID_BASE):
    """The isolation to grade with: the strongest available, or `requested` (raising if it is not available)."""
    if requested not in ("auto", *MODES):
        raise IsolationError(f"unknown isolation {requested!r}; use auto, {', '.join(MODES)}")
    python = python or sys.executable
    if requested == "none" or (requested == "auto" and os.geteuid() != 0):
        if require:
            raise IsolationError(
                "--require-isolation: student code would run unisolated as "
                + ("this user (not root)" if os.geteuid() != 0 else "root, because --isolation none was asked")
                + "; grade as root so the namespaces or uid mode can be used"
            )
        return Isolation("none", python, uid_base)
    if os.geteuid() != 0:
        raise IsolationError(f"--isolation {requested} needs root; run the grader as root (or use --isolation none)")
    if requested in ("auto", "namespaces"):
        problem = _namespaces_problem()
        if not problem and python == sys.executable:
            return Isolation("namespaces", python, uid_base)
        if requested == "namespaces":
            raise IsolationError(problem or "the namespaces mode runs the grader's own interpreter; drop --worker-python")
    problem = _uid_can_run(python, uid_base)
    if problem:
        raise IsolationError(
            f"the worker uid {uid_base} cannot run {python} ({problem}); the autograder's setup must install Python "
            "and its packages where every user can read them (e.g. /usr/bin/python3 with pip packages installed "
            "system-wide) or pass --worker-python; student code is never run as root"
        )
    return Isolation("uid", python, uid_base)


# -- the uid mode: slots, killing, cleaning --------------------------------------------------------


@contextlib.contextmanager
def _free_slot(uid_base):
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


@contextlib.contextmanager
def uid_slot(iso):
    """A uid no other grading process on this machine uses now (see _free_slot)."""
    with uid_slots(iso, 1) as uids:
        yield uids[0]


@contextlib.contextmanager
def uid_slots(iso, count):
    """`count` uids no other grading process on this machine uses now (see _free_slot); [None] in the none mode."""
    if iso.mode == "none":
        yield [None]
        return
    with contextlib.ExitStack() as stack:
        uids = [stack.enter_context(_free_slot(iso.uid_base)) for _ in range(count)]
        try:
            if iso.mode == "uid":
                for uid in uids:
                    kill_uid(uid)
                    clean_uid_files(uid)
            yield uids
        finally:
            if iso.mode == "uid":
                for uid in uids:
                    kill_uid(uid)
                    clean_uid_files(uid)


def _processes_of(uid):
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
        if not _processes_of(uid):
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
    raise IsolationError(f"processes of uid {uid} survive SIGKILL: {_processes_of(uid)[:5]}")


def clean_uid_files(uid):
    """Remove what `uid` left in the machine's shared temporary folders."""
    for top in SHARED_TMP:
        if not os.path.isdir(top):
            continue
        for dirpath, dirnames, filenames in os.walk(top, topdown=True):
            for name in list(dirnames):
                path = os.path.join(dirpath, name)
                try:
                    if os.lstat(path).st_uid == uid:
                        shutil.rmtree(path, ignore_errors=True)
                        dirnames.remove(name)
                except FileNotFoundError:
                    dirnames.remove(name)
            for name in filenames:
                path = os.path.join(dirpath, name)
                with contextlib.suppress(FileNotFoundError):
                    if os.lstat(path).st_uid == uid:
                        os.unlink(path)
    _remove_sysv_ipc(uid)


def _remove_sysv_ipc(uid):
    for kind, flag in (("shm", "-m"), ("sem", "-s"), ("msg", "-q")):
        path = f"/proc/sysvipc/{kind}"
        if not os.path.exists(path) or not shutil.which("ipcrm"):
            continue
        with open(path) as fh:
            lines = fh.read().splitlines()[1:]
        for line in lines:
            fields = line.split()
            # Columns: key id perms ... uid is the 8th field for shm, 5th for sem and msg (after perms).
            ident = fields[1]
            owner = fields[7] if kind == "shm" else fields[4] if kind == "sem" else fields[7]
            if owner == str(uid):
                subprocess.run(["ipcrm", flag, ident], capture_output=True)


def readable_by(uid, paths):
    """The paths of `paths` that `uid` can open or list (a helper process tries as that uid)."""
    paths = [str(p) for p in paths]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
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
            os.write(write_fd, json.dumps(found).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return json.loads(data or b"[]")


# -- control groups: one memory and process budget for everything a run starts ---------------------


def _own_cgroups():
    """{controller or '' (v2): path of this process's cgroup} from /proc/self/cgroup."""
    out = {}
    with contextlib.suppress(OSError), open("/proc/self/cgroup") as fh:
        for line in fh:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                out[controller] = path
    return out


class Cgroups:
    """Best effort: a fresh memory and pids cgroup (v2, or v1 hierarchies) for one lane of a run.

    RLIMIT_AS and RLIMIT_NPROC bound each process; only a cgroup bounds the sum, so a fork bomb whose
    children each allocate cannot take the machine's memory. Where cgroups are not writable (containers
    usually), the rlimits alone apply and `active` is False."""

    def __init__(self, memory_mb, pids, enabled=True):
        self.dirs = []
        if not enabled or os.geteuid() != 0:
            return
        own = _own_cgroups()
        name = f"coursekit-{os.getpid()}-{id(self):x}"
        v2 = Path("/sys/fs/cgroup")
        if "" in own and (v2 / "cgroup.controllers").is_file():
            parent = v2 / own[""].lstrip("/")
            enabled = (parent / "cgroup.subtree_control").read_text().split() if (parent / "cgroup.subtree_control").exists() else []
            if {"memory", "pids"} <= set(enabled):
                self._make(parent / name, {"memory.max": memory_mb * 2**20, "pids.max": pids, "memory.swap.max": 0})
                return
        for controller, settings in (("memory", {"memory.limit_in_bytes": memory_mb * 2**20}), ("pids", {"pids.max": pids})):
            if controller in own and (v2 / controller).is_dir():
                self._make(v2 / controller / own[controller].lstrip("/") / name, settings)

    def _make(self, path, settings):
        try:
            path.mkdir()
        except OSError:
            return
        self.dirs.append(path)
        for key, value in settings.items():
            with contextlib.suppress(OSError):
                (path / key).write_text(str(value))

    @property
    def active(self):
        return bool(self.dirs)

    def procs_files(self):
        return [str(d / "cgroup.procs") for d in self.dirs]

    def remove(self):
        for path in self.dirs:
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
        self.dirs = []


# -- one run: its folders, and programs spawned in it -------------------------------------------------


class _Tail:
    """The last bytes a program wrote to stderr, read by a thread so the program never blocks on it."""

    def __init__(self, stream, keep=8192):
        self.data = bytearray()
        self.keep = keep
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        with stream:
            for chunk in iter(lambda: stream.read1(65536), b""):
                self.data += chunk
                del self.data[: max(0, len(self.data) - self.keep)]

    def text(self, wait=1.0):
        self.thread.join(wait)
        return self.data.decode("utf-8", errors="replace")


def _drain(stream):
    return _Tail(stream)


class Run:
    """The folders of one graded submission and the programs started in them.

    Folders (under a fresh temporary folder): `runtime/` (the worker's code), `sub/` (the submission's
    package as graded), `fallback/` (the release's package), `home/` (the program's writable home in the
    uid and none modes), `root/` (the mount point of the new root in the namespaces mode).
    """

    def __init__(self, iso, uid, limits=Limits(), lane_uids=()):
        self.iso = iso
        self.uid = uid
        self.limits = limits
        self.dir = Path(tempfile.mkdtemp(prefix="coursekit-run-"))
        for name in ("runtime", "sub", "fallback", "root", "home"):
            (self.dir / name).mkdir()
        self.procs = []
        # Programs running at the same time (the workers of two TODOs) each get a lane: a uid of their own,
        # in the run's group, and a cgroup of their own, so that a fork bomb holding every process its uid
        # and cgroup may have cannot keep another TODO's worker from starting.
        uids = [uid, *lane_uids] if iso.mode == "namespaces" else [uid]
        self._lanes = {u: None for u in uids}
        self._lane_lock = threading.Lock()
        self.cgroups = {u: Cgroups(limits.memory_mb, limits.nproc, enabled=iso.mode != "none") for u in uids}

    def _free_lane(self):
        """The uid of a lane whose program has ended (or never started); the run's uid when all are busy."""
        for uid, proc in self._lanes.items():
            if proc is None or proc.poll() is not None:
                return uid
        return self.uid

    def seal(self):
        """Make the run's folders readable by its uid only (and root), the home writable by it."""
        if self.iso.mode == "none" or self.uid is None:
            return
        gid = self.uid
        for path, _dirs, files in os.walk(self.dir):
            if Path(path) == self.dir / "home":
                continue
            os.chown(path, 0, gid)
            os.chmod(path, 0o750)
            for name in files:
                p = os.path.join(path, name)
                os.chown(p, 0, gid, follow_symlinks=False)
                os.chmod(p, 0o640 if not os.access(p, os.X_OK) else 0o750)
        home = self.dir / "home"
        for path, dirs, files in os.walk(home):
            for name in [*dirs, *files]:
                os.chown(os.path.join(path, name), self.uid, gid, follow_symlinks=False)
        os.chown(home, self.uid, gid)
        os.chmod(home, 0o700)

    def env(self, extra=None):
        home = "/tmp/home" if self.iso.mode == "namespaces" else str(self.dir / "home")
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": home,
            "TMPDIR": home,
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": home + "/.mpl",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        env.update(extra or {})
        return env

    def path(self, name):
        """Where folder `name` of the run appears to the spawned program."""
        if self.iso.mode == "namespaces":
            return f"/run/{name}"
        return str(self.dir / name)

    def spawn(self, argv, *, pass_fds=(), env=None, cwd=None, ro_extra=(), rw_extra=(), timeout_cpu=None,
              stdout_to_stderr=False):
        """Start `argv` sandboxed; return the Popen of the launcher (kill it to end everything).

        The program's stderr (and its stdout with `stdout_to_stderr`) is read by a thread that keeps its
        last bytes: `proc.stderr_tail.text()`."""
        lim = self.limits
        # The lock is held until the program runs, so that two programs started at once never share a lane.
        with self._lane_lock:
            uid = self._free_lane()
            spec = {
                "mode": self.iso.mode,
                "uid": uid if uid is not None else os.getuid(),
                "gid": self.uid if self.uid is not None else os.getgid(),
                "memory_mb": lim.memory_mb, "cpu_seconds": timeout_cpu or lim.cpu_seconds, "file_mb": lim.file_mb,
                "nproc": lim.nproc, "tmp_mb": lim.tmp_mb,
                "argv": list(argv), "env": env or self.env(), "keep_fds": list(pass_fds),
                "stdout": "stderr" if stdout_to_stderr else "null",
                "cgroups": self.cgroups[uid].procs_files(),
            }
            if self.iso.mode == "namespaces":
                ro, links = system_paths()
                spec.update(
                    root=str(self.dir / "root"),
                    ro=ro + list(interpreter_paths(self.iso.python)) + [str(p) for p in ro_extra],
                    ro_at={str(self.dir / n): f"/run/{n}" for n in ("runtime", "sub", "fallback")},
                    rw_at={str(p): str(p) for p in rw_extra},
                    symlinks=links,
                    tmp_dirs=["/tmp/home"],
                    cwd=cwd or "/tmp/home",
                )
            else:
                spec["cwd"] = cwd or str(self.dir / "home")
            launcher, launcher_env = _launcher()
            proc = subprocess.Popen(
                launcher, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                pass_fds=pass_fds, env=launcher_env, start_new_session=True,
            )
            self._lanes[uid] = proc
        proc.stdin.write(json.dumps(spec).encode())
        proc.stdin.close()
        proc.stderr_tail = _drain(proc.stderr)
        self.procs.append(proc)
        return proc

    def stop(self, proc):
        """End a spawned program and everything it started."""
        if self.iso.mode == "namespaces" and proc.poll() is None:
            # The launcher kills the sandbox's init and reaps it (jail.main); killed itself at once, it would
            # leave the init a zombie of the grading uid for the machine's init to collect (or never, in a
            # container whose init does not reap).
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        if proc.poll() is None or self.iso.mode != "namespaces":
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        proc.wait()
        if self.iso.mode == "uid" and self.uid is not None:
            kill_uid(self.uid)

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                self.stop(proc)
        if self.iso.mode == "uid" and self.uid is not None:
            kill_uid(self.uid)
            clean_uid_files(self.uid)
        for cgroups in self.cgroups.values():
            cgroups.remove()
        shutil.rmtree(self.dir, ignore_errors=True)

