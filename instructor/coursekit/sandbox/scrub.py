"""What a worker uid can leave on the machine for a later program, found and removed.

The rule (sandbox/isolation.py): every program the grader starts begins from a private, empty writable area that no
other program of any submission ever sees. Without namespaces (the uid mode) student code runs as a grading
uid on the machine's own file system, so:

- `places(uid)`: the directories the uid may write, found once per grader: a walk of every file system
  mounted writable (not /proc, /sys, nor /dev but /dev/shm and /dev/mqueue; not kernel interfaces nor
  network file systems, which a grading machine should not mount writable for its grading uids) as root
  lists the directories and regular files whose mode lets group or others write, and a helper running as
  the uid keeps those it can really write (its path, permissions and ACLs decide). The walk takes seconds
  (3 to 6 s for 420,000 entries on the 2-core machine of the tests). `clean(uid)` removes, after each program of the uid, every
  entry the uid owns in those directories (a folder it made with all it holds), its SysV IPC objects and its
  kernel keys.
- `problems(uid)`: what the uid could write and the grader could not remove, so the uid mode refuses to grade
  until it is fixed: a regular file the uid may write but does not own (a store that needs no file of its
  own, and emptying it would destroy someone's data), a directory the uid may write, not its own, without
  the sticky bit (the uid could rename others' entries and set extended attributes on it: names and
  attributes are a store), hard links to files of others allowed (fs.protected_hardlinks 0: a link's name
  is a store the uid does not own), a SysV IPC object of another user that the uid may write.

Kernel keys are per uid in every mode (the namespaces mode has no user namespace): each program empties its
uid's keyrings before it runs student code and joins a session keyring of its own (jail.py), and
`clear_keys` empties them when a grading slot is taken and given back. POSIX message queues are refused to
every program (RLIMIT_MSGQUEUE 0, jail.py). A directory that becomes writable by others after the walk is
not seen until the next grader starts.

The helpers here fork the grader (`as_uid`). Only where no other thread of the grader computes: a fork
during a threaded BLAS call in another thread (a hidden check's numpy) leaves that call waiting for ever
for the BLAS threads the fork took down. So they run before and after a submission's checks, and after
each program only in the uid mode, whose checks run one at a time in one thread (code_checks.py).
"""

import contextlib
import ctypes
import json
import os
import shutil
import stat
from functools import cache

# File systems that hold no files of a user (kernel interfaces), or that live on another machine.
SKIP_TYPES = {
    "proc", "sysfs", "cgroup", "cgroup2", "devpts", "devtmpfs", "securityfs", "debugfs", "tracefs", "bpf",
    "pstore", "configfs", "fusectl", "binfmt_misc", "autofs", "rpc_pipefs", "nsfs", "efivarfs", "selinuxfs",
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "9p", "afs", "lustre", "gpfs", "fuse.sshfs",
}
SKIP_TOPS = ("/proc", "/sys", "/dev")
DEV_PLACES = ("/dev/shm", "/dev/mqueue")
KEYCTL = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)
KEYCTL_GET_PERSISTENT, KEYCTL_CLEAR = 22, 7
KEY_SPEC_PROCESS_KEYRING, KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -2, -4, -5
IPC_RMID = 0
MAX_LISTED = 8

_libc = ctypes.CDLL(None, use_errno=True)


def _unescape(field):
    """A path of /proc/self/mountinfo: spaces, tabs, newlines and backslashes are written as octal escapes."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _under(path, tops):
    return any(path == top or path.startswith(top.rstrip("/") + "/") for top in tops)


def walk_roots():
    """The mount points to walk: writable local file systems, not kernel interfaces; /dev only for /dev/shm
    and /dev/mqueue, walked even when they are plain folders of /dev."""
    roots = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            point, options = _unescape(fields[4]), fields[5].split(",")
            fstype = fields[fields.index("-") + 1]
            if "ro" in options or fstype in SKIP_TYPES:
                continue
            if _under(point, SKIP_TOPS) and not _under(point, DEV_PLACES):
                continue
            roots.append(point)
    roots += [p for p in DEV_PLACES if os.path.isdir(p)]
    return sorted(set(roots))


@cache
def _candidates():
    """(directories, regular files) of the walked file systems that group or others may write: the places a
    grading uid might write, before asking it. Once per process: the walk takes seconds."""
    dirs, files, seen = [], [], set()
    for root in walk_roots():
        try:
            stack = [(root, os.lstat(root))]
        except OSError:
            continue
        if not stat.S_ISDIR(stack[0][1].st_mode):  # a file mounted on its own (a container's /etc/hosts)
            if stat.S_ISREG(stack[0][1].st_mode) and stack[0][1].st_mode & 0o022:
                files.append(root)
            continue
        device = stack[0][1].st_dev
        while stack:
            path, st = stack.pop()
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            if st.st_mode & 0o022:
                dirs.append(path)
            try:
                with os.scandir(path) as entries:
                    for entry in entries:
                        try:
                            est = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        if stat.S_ISDIR(est.st_mode):
                            if est.st_dev == device:
                                stack.append((entry.path, est))
                        elif stat.S_ISREG(est.st_mode) and est.st_mode & 0o022:
                            files.append(entry.path)
            except OSError:
                continue
    return dirs, files


def as_uid(uid, function, *args):
    """Run `function(*args)` in a child process that has become `uid` (no groups); its JSON-able result.
    The child only makes system calls, so forking a grader that runs threads is safe."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            data = json.dumps(function(*args)).encode()
            with os.fdopen(write_fd, "wb") as fh:
                fh.write(data)
        except BaseException as exc:  # noqa: BLE001 - say why in the grader's log; the parent raises
            os.write(2, f"coursekit: helper as uid {uid}: {exc!r}\n".encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    if not data:
        raise RuntimeError(f"a helper running as uid {uid} failed ({getattr(function, '__name__', function)})")
    return json.loads(data)


def _writable(dirs, files):
    return ([d for d in dirs if os.access(d, os.W_OK | os.X_OK)], [f for f in files if os.access(f, os.W_OK)])


@cache
def _places(uid):
    dirs, files = _candidates()
    return as_uid(uid, _writable, dirs, files)


def places(uid):
    """The directories `uid` may create entries in (see the module's docstring)."""
    return _places(uid)[0]


def _ipc_objects():
    """[(kind, id, owner uid, creator uid, mode)] of the machine's SysV IPC objects (this IPC namespace)."""
    found = []
    for kind in ("shm", "sem", "msg"):
        with contextlib.suppress(OSError), open(f"/proc/sysvipc/{kind}") as fh:
            header, *lines = fh.read().splitlines()
            names = header.split()
            column = {name: names.index(name) for name in ("perms", "uid", "cuid")}
            ident = 1  # shmid, semid or msqid
            for line in lines:
                f = line.split()
                found.append((kind, int(f[ident]), int(f[column["uid"]]), int(f[column["cuid"]]),
                              int(f[column["perms"]], 8)))
    return found


def problems(uid, grading_uids=()):
    """Why `uid` could keep data where the grader cannot remove it ([] when it cannot); `grading_uids` are
    the grading slots' uids, whose leftovers the grader removes itself."""
    own = {uid, *grading_uids}
    dirs, files = _places(uid)
    found = []
    for path in files:
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            if st.st_uid not in own:
                found.append(f"{path} (a file of uid {st.st_uid} that uid {uid} may write: chmod go-w it)")
    for path in dirs:
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            if st.st_uid not in own and not st.st_mode & stat.S_ISVTX:
                found.append(f"{path} (a folder uid {uid} may write, without the sticky bit: chmod +t or go-w it)")
    with contextlib.suppress(OSError), open("/proc/sys/fs/protected_hardlinks") as fh:
        if fh.read().strip() != "1":
            found.append("fs.protected_hardlinks is not 1 (any user may hard-link others' files: "
                         "sysctl fs.protected_hardlinks=1 on the host)")
    for kind, ident, owner, creator, mode in _ipc_objects():
        if owner not in own and creator not in own and mode & 0o002:
            found.append(f"SysV {kind} {ident} of uid {owner}, writable by every user (ipcrm, or make it 0600)")
    return found


def describe(uid, found):
    listed = "; ".join(found[:MAX_LISTED]) + (f"; and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else "")
    return (f"the uid mode cannot clean up after its worker uid {uid} here: {listed}. Fix these before grading "
            "in the uid mode (or grade as root with namespaces)")


def remove_files(uid):
    """Remove every entry `uid` owns in the places it may write (a folder of its own with all it holds)."""
    for top in places(uid):
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
            except FileNotFoundError:
                continue


def remove_ipc(uid):
    """Remove the SysV IPC objects `uid` owns or created (the owner can hand an object to another uid)."""
    for kind, ident, owner, creator, _ in _ipc_objects():
        if uid in (owner, creator):
            if kind == "shm":
                _libc.shmctl(ident, IPC_RMID, None)
            elif kind == "sem":
                _libc.semctl(ident, 0, IPC_RMID)
            else:
                _libc.msgctl(ident, IPC_RMID, None)


def _clear_own_keys():
    persistent = _libc.syscall(KEYCTL, KEYCTL_GET_PERSISTENT, -1, KEY_SPEC_PROCESS_KEYRING)
    for keyring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING, *([persistent] if persistent > 0 else [])):
        _libc.syscall(KEYCTL, KEYCTL_CLEAR, keyring)
    return True


def clear_keys(uid):
    """Empty the keyrings the kernel keeps for `uid` beyond its processes (user, user-session, persistent)."""
    if KEYCTL is not None:
        as_uid(uid, _clear_own_keys)


def clean(uid):
    """Remove what `uid` left on the machine: files in its places, SysV IPC objects, kernel keys. Its
    processes must be dead (workeruids.kill_uid) or they could write again."""
    remove_files(uid)
    remove_ipc(uid)
    clear_keys(uid)
