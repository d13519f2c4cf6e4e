"""Where student code runs: three isolation modes (backends: Namespaces, UidIsolation, NoIsolation), chosen by
what the grading machine allows.

- namespaces (root with CAP_SYS_ADMIN, e.g. a VM or an instructor's machine as root): new PID, mount,
  network, IPC and UTS namespaces; the program sees an allowlist of read-only folders (the system's
  libraries, the interpreter and its packages, the run's own folders) plus a private /tmp; nothing it
  starts outlives it; only loopback networking. See jail.py.
- uid (root in a container without CAP_SYS_ADMIN, as Gradescope runs Docker): a dedicated unprivileged
  uid per grading slot that can run the interpreter (the autograder's setup arranges it); the reference,
  hidden checks and results stay root-only (checked before grading); after each program every process of
  that uid is killed and what it left on the machine removed (scrub.py).
- none (no root, an instructor's laptop): the same user; honest submissions grade the same, but nothing
  stops a hostile one. The grader says so in its output; `--require-isolation` refuses instead.

Rules that hold in every mode (issue 19):

- No state outlives a program. Every program (a worker, the nbval run of the notebooks) starts from a private,
  empty writable area that no other program of any submission ever sees: in the namespaces mode a tmpfs
  /tmp of its own (HOME=/tmp/home) and a private IPC namespace; in the uid and none modes a fresh HOME and
  TMPDIR folder of its own (0700, owned by its lane's uid), removed when it stops. In the uid mode, when a
  program stops, every process of its uid is killed and every entry the uid owns in every directory it may
  write on the machine is removed, with its SysV IPC objects; the directories are found once per grader by
  walking the machine's writable local file systems and asking the uid (scrub.py). A place the uid could
  write that the grader could not clean (a file of another user writable by the uid, a world-writable
  folder without the sticky bit, ...) makes the uid mode refuse to grade, naming it and the fix: the grader
  cannot empty a file that is not its own without destroying someone's data, so it refuses instead of
  guessing. Kernel keys (per uid in every mode): each program empties its uid's keyrings before it runs
  student code and has a session keyring of its own; POSIX message queues are refused (RLIMIT_MSGQUEUE 0).
- Lanes. Programs running at once never share a uid: each runs in a lane (a uid and a cgroup) that is
  handed to the next program only after it was stopped and cleaned. A lane's cgroup bounds the memory and
  the processes of everything started in it, and its CPU share (cpu.weight / cpu.shares, equal for every
  lane on the machine): however many processes a submission runs, in however many sessions, it gets no
  more CPU than one lane's share while another lane wants CPU. Time limits stay wall-clock (a deadline
  per request): a wall-clock deadline also ends a worker that sleeps or waits, and with the CPU share a
  worker's wall time is bounded by its CPU time times the lanes that compete. Where no cpu cgroup can be
  made (a container without writable cgroups) nothing bounds a lane's CPU share: Gradescope grades one
  submission per container, so no classmate competes; `grade-batch` warns there when --jobs is above 1.
- Nothing the grader reads or writes for a submission is readable by a worker uid: the grader writes with
  umask 077 (grade.main, grade_batch.main; fsutil's atomic writes follow the umask), and in the uid mode
  the batch refuses a submissions folder, output folder or submission the worker uid can read.

Each mode is one backend class: everything that depends on the mode (its probe, its description, how many
lanes a run gets and how many workers run at once, the checks before grading, where a run's folders appear,
the program's home, the launcher's spec, sealing, stopping and cleaning after a program) is a method of it;
Run, grade.py and grade_batch.py ask the backend and never test its name. `detect()` tries BACKENDS in
strength order (or checks the one asked for); `Run` holds one run's folders and spawns programs in it through
the launcher (jail.py), to which it hands a typed JailSpec. workeruids.py holds the uid primitives the
backends share (slots, killing a uid's processes, what a uid can read).
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from . import scrub
from .cgroups import Cgroups
from .jail import JailSpec
from .launch import interpreter_paths, launcher, run_jail, system_paths
from .workeruids import DEFAULT_UID_BASE, SLOTS, IsolationError, free_slot, kill_uid, readable_by


@dataclass(frozen=True)
class ProgramLimits:
    memory_mb: int = 4096
    cpu_seconds: int = 3600
    file_mb: int = 64
    nproc: int = 128
    tmp_mb: int = 128


# -- the backends: one class per isolation mode ------------------------------------------------------


class Isolation:
    """One way to keep student code apart from the grader (a backend). What differs between the modes is
    a method or an attribute here; Run and the grader ask the backend and never test its name.

    Adding a backend: a subclass with its `name` (the --isolation value, and the launcher's mode in
    jail.MODES, which gets a class there too when the program starts differently), `problem` (why it cannot
    run here), `describe`, and what differs from the defaults below; then its place in BACKENDS."""

    name = ""
    needs_root = True  # --isolation NAME is refused without root
    isolates = True  # student code cannot act as the grader's user (--require-isolation accepts it)
    cgroups = True  # each lane gets a cgroup: one memory, process and CPU budget (cgroups.py)

    def __init__(self, python=sys.executable, uid_base=DEFAULT_UID_BASE):
        self.python = python
        self.uid_base = uid_base

    @classmethod
    def problem(cls, python, uid_base):
        """'' when this backend can run workers of `python` on this machine, else why not and what to do."""
        raise NotImplementedError

    def describe(self):
        """The line results.json's `output` and `validate` show: the isolation that ran and what it guarantees."""
        raise NotImplementedError

    def lanes(self, jobs):
        """How many lanes (a uid and a cgroup each, see Run) a run that may run `jobs` workers at once gets."""
        return 1

    def concurrency(self, jobs):
        """How many workers of one run may run at once when `jobs` are asked."""
        return jobs

    @contextlib.contextmanager
    def slots(self, count):
        """`count` uids no other grading process on this machine uses now (workeruids.free_slot), refused by
        check_slots if unsafe, left with nothing of an earlier program before and after the block."""
        with contextlib.ExitStack() as stack:
            uids = [stack.enter_context(free_slot(self.uid_base)) for _ in range(count)]
            self.check_slots(uids)
            try:
                for uid in uids:
                    self.leave_nothing(uid)
                yield uids
            finally:
                for uid in uids:
                    self.leave_nothing(uid)

    @contextlib.contextmanager
    def slot(self):
        """One uid of slots()."""
        with self.slots(1) as uids:
            yield uids[0]

    def check_slots(self, uids):
        """Raise IsolationError when a program run as one of `uids` could keep data past its end."""

    def readable(self, uids, paths):
        """The paths of `paths` (an iterable, walked only if needed) a program run as one of `uids` could list or
        open, in order. None here: the backend shows programs an allowlist of the machine's files, or runs them
        as the grader's user anyway."""
        return []

    def leave_nothing(self, uid):
        """End every process of `uid` and remove what it left for a later program (see the module's rules)."""

    def after_program(self, uid):
        """What Run does after each program of lane `uid` ends, before the lane is given to the next one."""

    def path(self, run, name):
        """Where folder `name` of `run` appears to its programs."""
        return str(run.dir / name)

    def new_home(self, run, uid):
        """(HOME seen by the program, folder of the run to remove when it ends) for a new program of lane
        `uid`: a new folder of the run, 0700, owned by the lane's uid."""
        home = tempfile.mkdtemp(dir=run.dir / "homes")
        if uid is not None:
            os.chown(home, uid, run.uid)
        return home, home

    def jail_fields(self, run, home, ro_extra, rw_extra):
        """The fields of the JailSpec that only this backend sets, for a program of `run` whose home is `home`."""
        return {}

    def seal(self, run):
        """Make the run's folders readable by its uid only (and root)."""
        if run.uid is None:
            return
        gid = run.uid
        for path, _dirs, files in os.walk(run.dir):
            os.chown(path, 0, gid)
            os.chmod(path, 0o750)
            for name in files:
                p = os.path.join(path, name)
                os.chown(p, 0, gid, follow_symlinks=False)
                os.chmod(p, 0o640 if not os.access(p, os.X_OK) else 0o750)

    def stop(self, proc):
        """End the launcher `proc` and everything it started (it runs in a session of its own)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


class Namespaces(Isolation):
    """Root with CAP_SYS_ADMIN: new namespaces and an allowlist root per program (jail.py)."""

    name = "namespaces"

    @classmethod
    def problem(cls, python, uid_base):
        problem = _namespaces_problem()
        if not problem and python != sys.executable:
            return "the namespaces mode runs the grader's own interpreter; drop --worker-python"
        return problem

    def describe(self):
        return ("isolation: namespaces (own PID, mount, network namespaces; read-only allowlist file system; "
                f"unprivileged uid {self.uid_base}+; nothing outlives a run)")

    def lanes(self, jobs):
        return jobs

    def leave_nothing(self, uid):
        # Processes end with their PID namespace, files with their tmpfs, IPC objects with their namespace;
        # kernel keys are per uid across namespaces.
        scrub.clear_keys(uid)

    # after_program does nothing (no fork in the grader while checks of other lanes compute, scrub.py): the
    # program's processes, files and IPC objects went with its namespaces, its keys are cleared by the next
    # program of the lane before it runs (jail.py).

    def path(self, run, name):
        return f"/run/{name}"

    def new_home(self, run, uid):
        return "/tmp/home", None  # on the sandbox's own tmpfs (jail.py makes it)

    def jail_fields(self, run, home, ro_extra, rw_extra):
        ro, links = system_paths()
        return {
            "root": str(run.dir / "root"),
            "ro": ro + list(interpreter_paths(self.python)) + [str(p) for p in ro_extra],
            "ro_at": {str(run.dir / n): f"/run/{n}" for n in ("runtime", "sub", "fallback")},
            "rw_at": {str(p): str(p) for p in rw_extra},
            "symlinks": links,
            "tmp_dirs": [home],
        }

    def stop(self, proc):
        if proc.poll() is None:
            # The launcher kills the sandbox's init and reaps it (jail.py); killed itself at once, it would
            # leave the init a zombie of the grading uid for the machine's init to collect (or never, in a
            # container whose init does not reap).
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        if proc.poll() is None:
            super().stop(proc)


class UidIsolation(Isolation):
    """Root without namespaces (Gradescope's Docker): a dedicated uid, killed and cleaned after each program."""

    name = "uid"

    @classmethod
    def problem(cls, python, uid_base):
        problem = _uid_can_run(python, uid_base)
        if problem:
            return (f"the worker uid {uid_base} cannot run {python} ({problem}); the autograder's setup must install "
                    "Python and its packages where every user can read them (e.g. /usr/bin/python3 with pip packages "
                    "installed system-wide) or pass --worker-python; student code is never run as root")
        return ""

    def describe(self):
        return (f"isolation: uid (no namespaces here; dedicated unprivileged uid {self.uid_base}+; reference, hidden "
                "checks and results readable by root only; after each program every process of the uid killed and "
                "everything it left removed; the network is not isolated)")

    def concurrency(self, jobs):
        # Every process of the run's uid is killed between workers, and the cleaning forks the grader, which
        # is safe only while no other thread computes (scrub.py): one worker at a time.
        return 1

    def check_slots(self, uids):
        for uid in uids:
            found = scrub.problems(uid, range(self.uid_base, self.uid_base + SLOTS))
            if found:
                raise IsolationError(scrub.describe(uid, found))

    def readable(self, uids, paths):
        paths, found = list(paths), []
        for uid in uids:
            found += [p for p in readable_by(uid, paths) if p not in found]
        return found

    def leave_nothing(self, uid):
        kill_uid(uid)
        scrub.clean(uid)

    def after_program(self, uid):
        self.leave_nothing(uid)


class NoIsolation(Isolation):
    """Not root: the grader's own user; honest submissions grade the same, nothing stops a hostile one."""

    name = "none"
    needs_root = False
    isolates = False
    cgroups = False

    @classmethod
    def problem(cls, python, uid_base):
        return ""

    def describe(self):
        return ("isolation: none (not root: student code runs as the grader's user; fine for honest submissions, "
                "but untrusted submissions need the namespaces or uid mode: grade as root)")

    @contextlib.contextmanager
    def slots(self, count):
        yield [None]

    def seal(self, run):
        pass  # the grader's own user runs the programs: nothing to keep from them


# Strongest first: the order in which detect("auto") tries them.
BACKENDS = {backend.name: backend for backend in (Namespaces, UidIsolation, NoIsolation)}


def _probe_namespaces():
    with free_slot(DEFAULT_UID_BASE) as uid, tempfile.TemporaryDirectory(prefix="coursekit-probe-") as tmp:
        os.chmod(tmp, 0o755)
        root = Path(tmp) / "root"
        root.mkdir()
        ro, links = system_paths()
        spec = JailSpec(
            mode=Namespaces.name, root=str(root), ro=ro + list(interpreter_paths()), symlinks=links,
            uid=uid, gid=uid, tmp_mb=1, memory_mb=1024, cpu_seconds=30, file_mb=1, nproc=64, cwd="/tmp",
            env={"PATH": "/usr/bin:/bin"},
            argv=[sys.executable, "-I", "-c", "import os, sys; sys.exit(0 if os.getpid() == 1 and os.getuid() != 0 else 3)"],
        )
        try:
            code, err = run_jail(spec)
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
    with free_slot(uid_base) as uid:
        spec = JailSpec(mode=UidIsolation.name, uid=uid, gid=uid, memory_mb=2048, cpu_seconds=60, file_mb=1, nproc=64, cwd="/",
                        env={"PATH": "/usr/bin:/bin"}, argv=[python, "-I", "-c", "import numpy"])
        try:
            code, err = run_jail(spec)
        except (OSError, subprocess.SubprocessError) as exc:
            return str(exc)
        kill_uid(uid)
    return "" if code == 0 else (err.strip().splitlines() or [f"exit {code}"])[-1]


def detect(requested="auto", *, require=False, python=None, uid_base=DEFAULT_UID_BASE):
    """The backend to grade with: `requested` (a name of BACKENDS, raising why it is not available here) or, for
    "auto", the strongest that works. As root, auto tries only backends that isolate and raises why the last of
    them cannot run: student code never runs as root's or the grader's user unless `--isolation none` asks."""
    if requested != "auto" and requested not in BACKENDS:
        raise IsolationError(f"unknown isolation {requested!r}; use auto, {', '.join(BACKENDS)}")
    python = python or sys.executable
    root = os.geteuid() == 0
    if requested != "auto":
        candidates = [BACKENDS[requested]]
        if candidates[0].needs_root and not root:
            raise IsolationError(f"--isolation {requested} needs root; run the grader as root (or use --isolation none)")
    else:
        candidates = [b for b in BACKENDS.values() if (b.isolates if root else not b.needs_root)]
    for backend in candidates:
        problem = backend.problem(python, uid_base)
        if not problem:
            break
    else:
        raise IsolationError(problem)
    if require and not backend.isolates:
        raise IsolationError(
            "--require-isolation: student code would run unisolated as "
            + ("this user (not root)" if not root else f"root, because --isolation {requested} was asked")
            + "; grade as root so the " + " or ".join(b.name for b in BACKENDS.values() if b.isolates)
            + " mode can be used"
        )
    return backend(python, uid_base)


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
    package as graded), `fallback/` (the release's package), `homes/` (in the uid and none modes, the fresh
    home of each program, removed when it stops), `root/` (the mount point of the new root in the
    namespaces mode).
    """

    def __init__(self, iso, uid, limits=ProgramLimits(), lane_uids=()):
        self.iso = iso
        self.uid = uid
        self.limits = limits
        self.dir = Path(tempfile.mkdtemp(prefix="coursekit-run-"))
        for name in ("runtime", "sub", "fallback", "root", "homes"):
            (self.dir / name).mkdir()
        self.procs = []
        # Programs running at the same time (the workers of two TODOs) each get a lane: a uid of their own,
        # in the run's group, and a cgroup of their own, so that a fork bomb holding every process its uid
        # and cgroup may have cannot keep another TODO's worker from starting, nor busy loops take more
        # than the lane's CPU share. A lane passes to the next program only once its program was stopped
        # and what it left removed (see the module's rules).
        # `lane_uids`: the uids of the lanes after the first, as many as the backend's lanes() asked for.
        uids = [uid, *lane_uids]
        self._lanes = {u: None for u in uids}
        self._lanes_free = threading.Condition()
        self.cgroups = {u: Cgroups(limits.memory_mb, limits.nproc, enabled=iso.cgroups) for u in uids}

    def _take_lane(self):
        """The uid of a free lane (its program stopped and cleaned, or ended by itself: cleaned now), waiting
        while every lane runs a program. Called with self._lanes_free held."""
        while True:
            for uid, proc in self._lanes.items():
                if proc is None:
                    return uid
                if proc.poll() is not None:
                    self._clean_after(proc)
                    return uid
            self._lanes_free.wait()

    def seal(self):
        """Make the run's folders readable by its uid only (and root), as its backend can."""
        self.iso.seal(self)

    def env(self, extra=None):
        """The programs' environment; spawn() adds HOME, TMPDIR and MPLCONFIGDIR: the program's own home."""
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg",
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
        return self.iso.path(self, name)

    def spawn(self, argv, *, pass_fds=(), env=None, cwd=None, ro_extra=(), rw_extra=(), timeout_cpu=None,
              stdout_to_stderr=False):
        """Start `argv` sandboxed; return the Popen of the launcher (kill it, or call stop(), to end everything).

        The program's stderr (and its stdout with `stdout_to_stderr`) is read by a thread that keeps its
        last bytes: `proc.stderr_tail.text()`."""
        lim = self.limits
        # The lock is held until the program runs, so that two programs started at once never share a lane.
        with self._lanes_free:
            uid = self._take_lane()
            # A fresh, empty home for the program (HOME seen by it, and the run's folder to remove after it).
            home, own_home = self.iso.new_home(self, uid)
            spec = JailSpec(
                mode=self.iso.name,
                uid=uid if uid is not None else os.getuid(),
                gid=self.uid if self.uid is not None else os.getgid(),
                memory_mb=lim.memory_mb, cpu_seconds=timeout_cpu or lim.cpu_seconds, file_mb=lim.file_mb,
                nproc=lim.nproc, tmp_mb=lim.tmp_mb,
                argv=list(argv), keep_fds=list(pass_fds),
                env={**(env or self.env()), "HOME": home, "TMPDIR": home, "MPLCONFIGDIR": home + "/.mpl"},
                stdout="stderr" if stdout_to_stderr else "null",
                cgroups=self.cgroups[uid].procs_files(),
                cwd=cwd or home,
                **self.iso.jail_fields(self, home, ro_extra, rw_extra),
            )
            argv_launcher, launcher_env = launcher()
            proc = subprocess.Popen(
                argv_launcher, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                pass_fds=pass_fds, env=launcher_env, start_new_session=True,
            )
            proc.lane, proc.home, proc.cleaned = uid, own_home, False
            self._lanes[uid] = proc
        proc.stdin.write(spec.to_json().encode())
        proc.stdin.close()
        proc.stderr_tail = _drain(proc.stderr)
        self.procs.append(proc)
        return proc

    def stop(self, proc):
        """End a spawned program and everything it started, and remove what it left (its lane is then free)."""
        if proc.cleaned:
            return
        self.iso.stop(proc)
        proc.wait()
        with self._lanes_free:
            self._clean_after(proc)

    def _clean_after(self, proc):
        """Kill what the ended program `proc` left running, remove what it left, free its lane (once).
        Called with self._lanes_free held."""
        if proc.cleaned:
            return
        if proc.lane is not None:
            self.iso.after_program(proc.lane)
        if proc.home is not None:
            shutil.rmtree(proc.home, ignore_errors=True)
        proc.cleaned = True
        if self._lanes.get(proc.lane) is proc:
            self._lanes[proc.lane] = None
        self._lanes_free.notify_all()

    def close(self):
        for proc in self.procs:
            self.stop(proc)
        for cgroups in self.cgroups.values():
            cgroups.remove()
        shutil.rmtree(self.dir, ignore_errors=True)
