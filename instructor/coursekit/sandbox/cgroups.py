"""Control groups: one memory, process and CPU budget for everything a lane of a run starts (sandbox/isolation.py)."""

import contextlib
import os
import time
from pathlib import Path


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
    """Best effort: a fresh memory, pids and cpu cgroup (v2, or v1 hierarchies) for one lane of a run.

    RLIMIT_AS and RLIMIT_NPROC bound each process; only a cgroup bounds the sum, so a fork bomb whose
    children each allocate cannot take the machine's memory, and busy processes by the hundred get one
    lane's CPU share between them (every lane has the same weight). Where cgroups are not writable
    (containers usually), the rlimits alone apply and `active` is False."""

    def __init__(self, memory_mb, pids, enabled=True):
        self.dirs = []
        self.cpu = False
        if not enabled or os.geteuid() != 0:
            return
        own = _own_cgroups()
        name = f"coursekit-{os.getpid()}-{id(self):x}"
        v2 = Path("/sys/fs/cgroup")
        if "" in own and (v2 / "cgroup.controllers").is_file():
            parent = v2 / own[""].lstrip("/")
            enabled = (parent / "cgroup.subtree_control").read_text().split() if (parent / "cgroup.subtree_control").exists() else []
            if {"memory", "pids"} <= set(enabled):
                settings = {"memory.max": memory_mb * 2**20, "pids.max": pids, "memory.swap.max": 0}
                self.cpu = "cpu" in enabled
                self._make(parent / name, {**settings, **({"cpu.weight": 100} if self.cpu else {})})
                return
        for controller, settings in (("memory", {"memory.limit_in_bytes": memory_mb * 2**20}), ("pids", {"pids.max": pids}),
                                     ("cpu", {"cpu.shares": 1024})):
            if controller in own and (v2 / controller).is_dir():
                made = self._make(v2 / controller / own[controller].lstrip("/") / name, settings)
                self.cpu = self.cpu or (made and controller == "cpu")

    def _make(self, path, settings):
        try:
            path.mkdir()
        except OSError:
            return False
        self.dirs.append(path)
        for key, value in settings.items():
            with contextlib.suppress(OSError):
                (path / key).write_text(str(value))
        return True

    @property
    def active(self):
        return bool(self.dirs)

    def procs_files(self):
        return [str(d / "cgroup.procs") for d in self.dirs]

    def remove(self):
        remove_dirs(self.dirs, tries=50, pause=0.05)
        self.dirs = []


def cpu_share_bounded():
    """Whether a lane's CPU share can be bounded here (a cpu cgroup can be made)."""
    probe = Cgroups(64, 64)
    try:
        return probe.cpu
    finally:
        probe.remove()


def remove_dirs(dirs, *, tries, pause):
    """Remove cgroup folders; one stays busy (EBUSY) until its last process is gone, so each is retried
    `tries` times, `pause` seconds apart."""
    for path in dirs:
        for _ in range(tries):
            try:
                path.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(pause)
