"""`python -I -m coursekit.sandbox.jail`: start one sandboxed program (a worker, or nbval) as sandbox/isolation.py asks.

The grader runs this small launcher as root (or as itself without root) and writes a JailSpec (JSON) to
its stdin. By the spec's mode (one class each below, looked up in MODES):

- "namespaces": the launcher enters new mount, PID, network, IPC and UTS namespaces and forks; the child is
  PID 1 of the new PID namespace, so when it ends the kernel kills everything it started. The child
  builds a new root on a tmpfs that holds only an allowlist (the system's /usr and libraries, the
  interpreter's prefix, the run's read-only folders, a private /tmp, a minimal /dev, a read-only /proc
  of its own namespace; no /sys, no /dev/shm), chroots into it, sets resource limits, becomes the
  unprivileged uid (dropping every capability) and execs the program. Only loopback networking exists.
  The launcher waits for the child and exits with its status; the child dies with the launcher
  (parent-death signal), so killing the launcher ends the whole sandbox.
- "uid": no namespaces (a container without CAP_SYS_ADMIN): resource limits, the dedicated uid, no new
  privileges, then exec. sandbox/isolation.py kills every process of that uid after each run.
- "none": resource limits only (no root: nothing more is possible).
In every mode the program starts with no kernel key of an earlier program (_own_keyring) and may create no
POSIX message queue (RLIMIT_MSGQUEUE 0: a queue outlives its creator and the uid mode could not find it to
remove it); sandbox/isolation.py's rules say why.
In every mode the grader starts the launcher in a session of its own, so killing its process group
reaches what it started (in the namespaces mode the PID namespace does more).

The spec's fields (JailSpec) are the whole agreement between sandbox/isolation.py and this launcher: an unknown or missing
key, or a value of the wrong type, is refused (SpecError) rather than ignored, so a spec written with a typo
cannot silently drop a limit or a mount.

This module imports only the standard library: it runs before anything of the submission exists.
"""

import ctypes
import dataclasses
import fcntl
import json
import os
import resource
import select
import signal
import socket
import struct
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
DEVICES = ("null", "zero", "full", "random", "urandom")
KEYCTL = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)
KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_CLEAR, KEYCTL_GET_PERSISTENT = 1, 7, 22
KEY_SPEC_PROCESS_KEYRING, KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -2, -4, -5

_libc = ctypes.CDLL(None, use_errno=True)


@dataclasses.dataclass
class JailSpec:
    """What the launcher starts and how: written by sandbox.Run (and the probes of sandbox's backends) as JSON
    on the launcher's stdin. The fields after `stdout` are the namespaces mode's new root."""

    mode: str
    uid: int
    gid: int
    argv: list
    env: dict
    cwd: str
    memory_mb: int
    cpu_seconds: int
    file_mb: int
    nproc: int
    tmp_mb: int = 128
    keep_fds: list = dataclasses.field(default_factory=list)
    cgroups: list = dataclasses.field(default_factory=list)  # cgroup.procs files the launcher joins first
    stdout: str = "null"  # or "stderr": where the program's stdout goes
    root: str = ""  # an empty folder to mount the new root on
    ro: list = dataclasses.field(default_factory=list)  # bound read-only at the same path
    ro_at: dict = dataclasses.field(default_factory=dict)  # {source: path inside}, read-only
    rw_at: dict = dataclasses.field(default_factory=dict)  # {source: path inside}, writable
    symlinks: dict = dataclasses.field(default_factory=dict)  # {path inside: target}
    tmp_dirs: list = dataclasses.field(default_factory=list)  # made on the private /tmp, owned by uid, 0700

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, f.type) or (f.type is int and isinstance(value, bool)):
                raise SpecError(f"jail spec: {f.name} must be {f.type.__name__}, not {type(value).__name__} {value!r}")
        if self.mode not in MODES:
            raise SpecError(f"jail spec: unknown mode {self.mode!r}; the launcher knows {', '.join(MODES)}")
        if self.stdout not in ("null", "stderr"):
            raise SpecError(f"jail spec: stdout must be 'null' or 'stderr', not {self.stdout!r}")
        if not self.argv:
            raise SpecError("jail spec: argv is empty; give the program to run")
        MODES[self.mode].check(self)

    def to_json(self):
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text):
        """The spec of a JSON object; SpecError naming the keys that are unknown or missing."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise SpecError(f"jail spec: a JSON object expected, not {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        unknown, missing = sorted(set(data) - known), sorted(required - set(data))
        if unknown or missing:
            raise SpecError("jail spec: " + "; ".join(
                [f"unknown keys {', '.join(unknown)} (JailSpec has {', '.join(sorted(known))})"] * bool(unknown)
                + [f"missing keys {', '.join(missing)}"] * bool(missing)))
        return cls(**data)


class SpecError(ValueError):
    """A spec the launcher cannot follow (a grader bug, never the submission's): the message names the field."""


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    _check(
        _libc.mount(
            os.fsencode(source) if source else None,
            os.fsencode(target),
            os.fsencode(fstype) if fstype else None,
            ctypes.c_ulong(flags),
            os.fsencode(data) if data else None,
        ),
        f"mount {source or fstype} on {target}",
    )


def _bind(source, target, writable=False):
    """Bind `source` (file or folder) on `target` inside the new root, read-only unless `writable`."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()
    _mount(source, target, None, MS_BIND)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID
    if not writable:
        flags |= MS_RDONLY
    if source.startswith("/dev/"):
        _mount(None, target, None, flags)
    else:
        _mount(None, target, None, flags | MS_NODEV)


def _loopback_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sh", fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sh22x", b"lo", 0))[:18])[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP))


def _build_root(spec):
    root = spec.root
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    # /tmp first: folders bound below it (an nbval work folder) must land on top of it, not under it.
    os.makedirs(root + "/tmp")
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec.tmp_mb}m,mode=1777")
    for link, target in spec.symlinks.items():
        os.makedirs(os.path.dirname(root + link), exist_ok=True)
        os.symlink(target, root + link)
    for source in spec.ro:
        if os.path.exists(source):
            _bind(source, root + source)
    for source, target in spec.ro_at.items():
        _bind(source, root + target)
    for source, target in spec.rw_at.items():
        _bind(source, root + target, writable=True)
    etc = root + "/etc"
    os.makedirs(etc, exist_ok=True)
    uid, gid = spec.uid, spec.gid
    with open(etc + "/passwd", "w") as fh:
        fh.write(f"root:x:0:0:root:/root:/usr/sbin/nologin\nworker:x:{uid}:{gid}:worker:/tmp/home:/usr/sbin/nologin\n")
    with open(etc + "/group", "w") as fh:
        fh.write(f"root:x:0:\nworker:x:{gid}:\n")
    with open(etc + "/hosts", "w") as fh:
        fh.write("127.0.0.1 localhost\n::1 localhost\n")
    dev = root + "/dev"
    os.makedirs(dev)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755")
    for name in DEVICES:
        _bind(f"/dev/{name}", f"{dev}/{name}", writable=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")
    _mount(None, dev, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC)
    os.makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)
    for folder in spec.tmp_dirs:
        os.makedirs(root + folder, exist_ok=True)
        os.chown(root + folder, uid, gid)
        os.chmod(root + folder, 0o700)
    _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _loopback_up()
    os.chroot(root)


def _limits(spec):
    mem = spec.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (spec.cpu_seconds, spec.cpu_seconds + 5))
    size = spec.file_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))
    if MODES[spec.mode].own_uid:
        resource.setrlimit(resource.RLIMIT_NPROC, (spec.nproc, spec.nproc))


def _launcher_gone(alive_fd):
    """True when the launcher has exited: its end of the `alive` pipe is closed, so ours reads EOF."""
    if alive_fd is None:
        return False
    ready, _, _ = select.select([alive_fd], [], [], 0)
    return bool(ready)


def _become(spec, alive_fd):
    uid, gid = spec.uid, spec.gid
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError(f"could not switch to uid {uid}")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    # Set after the uid change, which clears it; then make sure the launcher did not die in between.
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    if _launcher_gone(alive_fd):
        os._exit(70)


def _own_keyring(spec):
    """Kernel keys outlive processes, per uid (not per namespace): the program joins a new, empty session
    keyring and, as its grading uid, empties the uid's user, user-session and persistent keyrings before
    any student code runs, so it finds no key an earlier program of its uid added (not in the none mode:
    those are the keyrings of the user who grades). Where keyctl is refused (Docker's seccomp profile), no
    program can use keys at all, which does as well."""
    if KEYCTL is None:
        return
    _libc.syscall(KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None)
    if not MODES[spec.mode].own_uid:
        return
    persistent = _libc.syscall(KEYCTL, KEYCTL_GET_PERSISTENT, -1, KEY_SPEC_PROCESS_KEYRING)
    for keyring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING, *([persistent] if persistent > 0 else [])):
        _libc.syscall(KEYCTL, KEYCTL_CLEAR, keyring)


def _exec(spec):
    _own_keyring(spec)
    fd = os.open("/dev/null", os.O_RDWR)
    # stderr stays the launcher's, which the grader reads (capped) to explain a worker that died.
    os.dup2(fd, 0)
    os.dup2(2 if spec.stdout == "stderr" else fd, 1)
    keep = sorted(set(spec.keep_fds))
    os.closerange(3, keep[0] if keep else 65536)
    for low, high in zip(keep, keep[1:] + [65536]):
        os.closerange(low + 1, high)
    os.chdir(spec.cwd)
    os.execve(spec.argv[0], spec.argv, spec.env)


def _child(spec, alive_fd):
    try:
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
        if _launcher_gone(alive_fd):
            os._exit(70)
        _build_root(spec)
        _limits(spec)
        _become(spec, alive_fd)
        os.close(alive_fd)
        _exec(spec)
    except BaseException as exc:  # noqa: BLE001 - report why the sandbox could not start, then die
        os.write(2, f"coursekit.sandbox.jail: {exc}\n".encode())
        os._exit(71)


class _Mode:
    """How the launcher starts the program in one isolation mode (the spec's `mode`, looked up in MODES)."""

    # The program runs as a grading uid that no other program uses now, not as the grader's own user: its
    # processes can be counted (RLIMIT_NPROC is per uid) and its keyrings emptied.
    own_uid = True

    def check(self, spec):
        """Raise SpecError when `spec` lacks what this mode needs."""

    def start(self, spec):
        """Start the program as `spec` says (the launcher has joined its cgroups); return only by exiting."""
        raise NotImplementedError


class _Namespaces(_Mode):
    def check(self, spec):
        if not spec.root or not spec.ro:
            raise SpecError("jail spec: the namespaces mode needs root (a folder to mount the new root on) and ro "
                            "(the folders the program may read)")

    def start(self, spec):
        flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
        _check(_libc.unshare(flags), "unshare")
        alive_read, alive_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(alive_write)
            _child(spec, alive_read)
        os.close(alive_read)
        # sandbox.Run.stop sends SIGTERM: kill the sandbox's init (the kernel then kills everything in its PID
        # namespace) and reap it here, so no zombie of the grading uid is left for the machine's init to collect.
        signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
        for fd in spec.keep_fds:
            os.close(fd)
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except ChildProcessError:
                sys.exit(71)
        sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


class _Uid(_Mode):
    def start(self, spec):
        # The grader started this launcher in a session of its own, which the program keeps.
        _limits(spec)
        _become(spec, None)
        _exec(spec)


class _NoIsolation(_Mode):
    own_uid = False

    def start(self, spec):
        _limits(spec)
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
        _exec(spec)


MODES = {"namespaces": _Namespaces(), "uid": _Uid(), "none": _NoIsolation()}


def main():
    spec = JailSpec.from_json(sys.stdin.buffer.read().decode("utf-8"))
    # The grader runs with umask 077; the folders built here for the new root must be searchable by the uid.
    os.umask(0o022)
    # Join the run's cgroups first: everything started from here on shares their memory and process budget.
    for procs in spec.cgroups:
        with open(procs, "w") as fh:
            fh.write(str(os.getpid()))
    MODES[spec.mode].start(spec)


if __name__ == "__main__":
    main()
