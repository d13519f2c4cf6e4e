"""Run untrusted code in a child process with limits.

Every child gets, in `preexec_fn` (so before the first line of Python runs in it):

- resource limits: address space (memory bombs raise MemoryError), CPU seconds, file size (a print loop
  into a capture file is stopped), no core dumps, and a process count once it runs as an unprivileged user;
- its own session, so the wall-clock timeout kills the whole process group (kernels, forks);
- when the grader runs as root (Gradescope does): a new network namespace with only a loopback interface
  (Jupyter kernels talk over loopback; nothing outside is reachable), a private mount namespace in which
  the reference tree is covered by an empty read-only tmpfs (the solutions and hidden tests cannot be
  read), and, unless the caller keeps root for a first phase, the user `nobody`.

Without root none of the namespace or user steps are possible: the child then gets an environment whose
proxies point nowhere, and the pytest plugin's socket guard refuses connections outside loopback.
`capabilities()` says which protections this machine gives.

The child's output is read with a byte cap (the head is kept, the rest drained and counted), so megabytes
of prints cannot fill the grader's memory.
"""

import ctypes
import fcntl
import os
import pwd
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import cache

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_REC = 0x4000
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_PRIVATE = 0x40000
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
UNPRIVILEGED_USER = "nobody"
# Addresses no proxy listens on: a library honouring the proxy variables fails at once instead of reaching out.
DEAD_PROXY = "http://127.0.0.1:9"


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 4096
    cpu_seconds: int = 3600
    file_mb: int = 256
    nproc: int = 512


@dataclass
class Result:
    returncode: int
    output: str
    elapsed: float
    timed_out: bool = False
    truncated_bytes: int = 0
    notes: list = field(default_factory=list)

    def describe_exit(self):
        if self.timed_out:
            return f"killed after the wall-clock limit ({self.elapsed:.0f} s)"
        if self.returncode < 0:
            sig = signal.Signals(-self.returncode).name
            hint = {"SIGKILL": " (memory or time limit?)", "SIGXCPU": " (CPU-time limit)", "SIGXFSZ": " (file-size limit: too much output?)"}
            return f"killed by {sig}{hint.get(sig, '')}"
        return f"exit code {self.returncode}"


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _loopback_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sh", fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sh22x", b"lo", 0))[:18])[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP))


def _isolate(no_network, mounts, hide_paths, writable):
    libc = _libc()
    flags = (CLONE_NEWNET if no_network else 0) | (CLONE_NEWNS if mounts else 0)
    if flags:
        _check(libc.unshare(flags), "unshare")
    if no_network:
        _loopback_up()
    if mounts:
        _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
        for path in hide_paths:
            _check(
                libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", MS_RDONLY, b"size=4k,mode=0555"),
                f"mount tmpfs over {path}",
            )
        # Only the run's own folders stay writable: the rest of the root file system is read-only and
        # /dev/shm is a fresh private tmpfs, so nothing can be written outside them.
        for path in writable:
            _check(libc.mount(os.fsencode(path), os.fsencode(path), None, MS_BIND | MS_REC, None), f"bind {path}")
        _check(libc.mount(b"none", b"/", None, MS_REMOUNT | MS_BIND | MS_RDONLY, None), "remount / read-only")
        if os.path.isdir("/dev/shm"):
            _check(libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", 0, b"size=256m"), "mount tmpfs over /dev/shm")


def _drop_capabilities():
    """Stay uid 0 but keep no capability after exec: no unmounting the hidden paths, no DAC override."""
    libc = _libc()
    cap = 0
    while libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def nobody_ids():
    """(uid, gid) of the user `nobody` when the grader is root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def unprivileged_ids():
    """(uid, gid) the children should run as, or None when they cannot switch user here."""
    return nobody_ids() if capabilities()["unprivileged_user"] else None


def drop_privileges(ids):
    uid, gid = ids
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def _preexec(limits, no_network, mounts, hide_paths, writable, drop_ids):
    def fn():
        mem = limits.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        fsize = limits.file_mb * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if no_network or mounts:
            _isolate(no_network, mounts, hide_paths, writable)
        if drop_ids:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.nproc, limits.nproc))
            drop_privileges(drop_ids)
        elif os.geteuid() == 0 and mounts:
            _drop_capabilities()

    return fn


def _probe(flag):
    def fn():
        _check(_libc().unshare(flag), "unshare")
        if flag == CLONE_NEWNET:
            _loopback_up()

    return fn


def _interpreter_usable_by(ids):
    """Whether the unprivileged user can run this Python with its test packages (not so under /root/.pyenv)."""
    try:
        subprocess.run(
            [sys.executable, "-c", "import pytest"],
            preexec_fn=lambda: drop_privileges(ids),
            cwd="/",
            check=True,
            capture_output=True,
            timeout=60,
        )
        return True
    except (OSError, subprocess.SubprocessError):
        return False


@cache
def capabilities():
    """Which protections work here: {'network_namespace', 'mount_namespace', 'unprivileged_user'} -> bool."""
    ids = nobody_ids()
    caps = {
        "network_namespace": False,
        "mount_namespace": False,
        "unprivileged_user": ids is not None and _interpreter_usable_by(ids),
    }
    if os.geteuid() == 0:
        for key, flag in (("network_namespace", CLONE_NEWNET), ("mount_namespace", CLONE_NEWNS)):
            try:
                subprocess.run(["true"], preexec_fn=_probe(flag), check=True, timeout=30)
                caps[key] = True
            except (OSError, subprocess.SubprocessError):
                caps[key] = False
    return caps


def describe_capabilities():
    caps = capabilities()
    parts = [
        "network: " + ("own network namespace (loopback only)" if caps["network_namespace"] else "proxy variables + socket guard"),
        "files: " + ("reference tree hidden by a mount namespace" if caps["mount_namespace"] else "reference tree not hidden (not root)"),
        "user: " + (UNPRIVILEGED_USER if caps["unprivileged_user"] else f"uid {os.geteuid()} ({_why_no_user()})"),
    ]
    return "; ".join(parts)


def _why_no_user():
    if nobody_ids() is None:
        return "not root or no user nobody"
    return f"user {UNPRIVILEGED_USER} cannot run {sys.executable}"


def child_env(base, home):
    """A small environment: no credentials or plugin variables of the grader's, proxies pointing nowhere."""
    env = {k: v for k, v in base.items() if k in ("PATH", "LANG", "LC_ALL", "TZ", "CS231N_DATASET", "SYSTEMROOT")}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env[key] = DEAD_PROXY
    env.update(
        {
            "no_proxy": "localhost,127.0.0.1",
            "HOME": str(home),
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": str(home / "mpl"),
            "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
            "JUPYTER_DATA_DIR": str(home / "jupyter-data"),
            "IPYTHONDIR": str(home / "ipython"),
            "TMPDIR": str(home / "tmp"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        }
    )
    return env


def run(argv, *, cwd, env, timeout, limits=Limits(), output_cap=400_000, hide_paths=(), writable=(), drop_user=True):
    """Run `argv` in the sandbox; return a Result.

    `hide_paths` are covered by an empty tmpfs, everything but `writable` is read-only (both need root);
    `drop_user=False` keeps uid 0 for a first phase (the pytest plugin drops it after collection)."""
    caps = capabilities()
    no_network = caps["network_namespace"]
    mounts = caps["mount_namespace"]
    hide = tuple(str(p) for p in hide_paths if os.path.isdir(p)) if mounts else ()
    drop_ids = unprivileged_ids() if drop_user else None
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_preexec(limits, no_network, mounts, hide, tuple(str(p) for p in writable), drop_ids),
    )
    head = bytearray()
    dropped = 0
    timed_out = False
    deadline = start + timeout
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([fd], [], [], min(remaining, 1.0))
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            room = output_cap - len(head)
            head += chunk[: max(room, 0)]
            dropped += max(len(chunk) - max(room, 0), 0)
    finally:
        # Kill the whole group: forks and kernels the child left behind must not outlive the run.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.stdout.close()
        returncode = proc.wait()
    output = head.decode("utf-8", errors="replace")
    if dropped:
        output += f"\n[... {dropped} more bytes of output dropped ...]\n"
    return Result(returncode, output, time.monotonic() - start, timed_out, dropped)
