"""How sandbox programs are started: the jail launcher's command, and the read-only folders every program needs
(the system's libraries, the worker interpreter's prefixes). isolation.py's backends build the JailSpec."""

import json
import os
import subprocess
import sys
import sysconfig
from functools import cache
from pathlib import Path


def launcher():
    """argv and environment of the launcher (jail.py), run by the grader's own interpreter in isolated mode."""
    package_parent = str(Path(__file__).resolve().parents[2])
    code = "import sys; sys.path.insert(0, sys.argv[1]); import coursekit.sandbox.jail; coursekit.sandbox.jail.main()"
    return [sys.executable, "-I", "-c", code, package_parent], {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def run_jail(spec, timeout=60):
    """Run the launcher on a JailSpec to completion (probes); return (returncode, stderr)."""
    argv, env = launcher()
    proc = subprocess.run(argv, input=spec.to_json().encode(), capture_output=True, timeout=timeout, env=env)
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
