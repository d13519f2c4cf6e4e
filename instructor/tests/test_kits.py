"""The real tree's kits as students meet them.

Cheap (`make test`): what each kit holds, that a fresh kit's public tests fail only on its own TODOs, that
the stubbed Solver names the method to implement.

In fresh virtual environments (tests named *fresh_venv*, `make kit-check`; they download from PyPI and take
minutes): each kit unzipped and set up by following only its README reaches a running `jupyter lab`; both
kits installed in one environment each import their own package; the declared setuptools floor is the real
one; without a C compiler the install works and the numpy fallback says what it costs.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest
import tomllib
from coursekit.authoring.leaks import public_lines
from coursekit.authoring.release import release_assignment, write_solved
from coursekit.reference import Reference

REPO = Path(__file__).resolve().parents[2]
NEVER_SHIPPED = ("benchmarks/", "instructor/", "Makefile", "CONTRIBUTING.md", "tests/test_bench", "cs231n/bench")


@pytest.fixture(scope="module")
def ref():
    return Reference(REPO)


@pytest.fixture(scope="module")
def release(ref, tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    pieces, public = ref.pieces(), public_lines(ref)
    for assignment in ref.config.assignments:
        release_assignment(ref, assignment, out, pieces, public)
    return out


def _files(kit):
    return {p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()}


def test_each_kit_holds_its_own_assignment_only(ref, release):
    cfg = ref.config
    for assignment in cfg.assignments:
        kit = release / assignment
        files = _files(kit)
        manifest = json.loads((kit / ".kit-manifest.json").read_text())
        todos = cfg.todos_for(assignment)
        own = {t.path for t in todos if not t.is_notebook}
        assert set(manifest["todo_files"]) == own and own <= files
        assert set(manifest["notebooks"]) == set(cfg.assignments[assignment])
        assert manifest["models"] == [t.model for t in todos if t.is_notebook] and all(
            m.endswith(".npz") for m in manifest["models"])
        tests = {f for f in files if f.startswith("tests/")}
        assert tests == {node.split("::")[0] for t in todos for node in t.public}
        others = {t.path for t in cfg.todos if t.assignment != assignment and not t.is_notebook} - own
        assert not others & files, f"{assignment} ships another assignment's TODO files: {others & files}"
        assert not [f for f in files if f.startswith(NEVER_SHIPPED)]
        assert not [f for f in files if f.endswith((".so", ".c", ".pyc", ".npz"))]
        project = tomllib.loads((kit / "pyproject.toml").read_text())
        assert project["project"]["name"] == f"cs231n-{assignment}"
    # Assignment 1 is numpy only: nothing to compile, so neither Cython nor a C compiler is needed.
    a1, a2 = _files(release / "assignment1"), _files(release / "assignment2")
    assert not [f for f in a1 if f.endswith(".pyx")] and "cs231n/fast_layers.py" not in a1
    assert "cython" not in (release / "assignment1/requirements.txt").read_text().lower()
    assert "cs231n/im2col_cython.pyx" in a2 and "cs231n/classifiers/neural_net.py" not in a2


def _with_extension(kit, dest):
    """A copy of the kit with the reference's compiled extension (if built) instead of compiling it again."""
    shutil.copytree(kit, dest)
    for so in (REPO / "cs231n").glob("im2col_cython*.so"):
        if (dest / "cs231n/im2col_cython.pyx").is_file():
            shutil.copy(so, dest / "cs231n")
    return dest


def _public_outcomes(kit):
    """{test id: passed} of the kit's public tests, run as the README says, from the kit folder."""
    report = kit / "report.xml"
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    subprocess.run([sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
                   cwd=kit, env=env, capture_output=True, text=True, timeout=900)
    text = report.read_text()
    report.unlink()
    cases = re.findall(r'<testcase classname="([^"]+)" name="([^"]+)"[^>]*?(/>|>.*?</testcase>)', text, re.S)
    return {f"{cls.replace('.', '/')}.py::{name}": "<failure" not in body and "<error" not in body
            for cls, name, body in cases}


@pytest.mark.parametrize("assignment", ["assignment1", "assignment2"])
def test_fresh_kit_public_tests_fail_only_on_its_own_todos(ref, release, tmp_path, assignment):
    kit = _with_extension(release / assignment, tmp_path / assignment)
    fresh = _public_outcomes(kit)
    failing = sorted(t for t, passed in fresh.items() if not passed)
    assert failing, "a fresh kit must fail the public tests of its stubbed TODOs"
    # Every listed public test of a TODO fails on the stub ...
    listed = {node for t in ref.config.todos_for(assignment) for node in t.public}
    for node in listed:
        assert any(t == node or t.startswith(node + "[") for t in failing), f"{node} passes on the stub"
    # ... and solving this assignment's TODOs, nothing else, makes every public test pass.
    write_solved(ref, assignment, kit)
    solved = _public_outcomes(kit)
    assert set(solved) == set(fresh) and all(solved.values()), [t for t, p in solved.items() if not p]


def test_stubbed_models_make_the_solver_name_the_method(ref, release, tmp_path):
    kit = tmp_path / "assignment2"
    shutil.copytree(release / "assignment2", kit)
    code = """
import numpy as np
from cs231n.checks import TodoError
from cs231n.classifiers.fc_net import FullyConnectedNet
from cs231n.solver import Solver
data = {"X_train": np.zeros((20, 6)), "y_train": np.zeros(20, int), "X_val": np.zeros((5, 6)), "y_val": np.zeros(5, int)}
try:
    Solver(FullyConnectedNet([4], input_dim=6, num_classes=3), data, verbose=False).train()
except TodoError as exc:
    print(exc)
"""
    env = {**os.environ, "MPLBACKEND": "Agg", "CS231N_NO_CYTHON": "1"}
    env.pop("PYTHONPATH", None)

    def run():
        proc = subprocess.run([sys.executable, "-c", code], cwd=kit, env=env, capture_output=True, text=True, timeout=120)
        return proc.stdout.strip()

    assert run() == ("FullyConnectedNet.params is empty: implement FullyConnectedNet.__init__ in "
                     "cs231n/classifiers/fc_net.py")
    write_solved(ref, "assignment2", kit, solved={"cs231n/classifiers/fc_net.py::FullyConnectedNet.__init__"})
    assert run() == ("FullyConnectedNet.loss returned grads without 'W1', 'b1', 'W2', 'b2' (one per key of params): "
                     "implement FullyConnectedNet.loss in cs231n/classifiers/fc_net.py")


# -- fresh virtual environments ---------------------------------------------------------------------------

def _unzip(zip_path, dest):
    """Unpack like `unzip`: file modes (the scripts' executable bit) included."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                path.chmod(mode)


def _shell_blocks(readme, heading):
    """The commands of the ```bash blocks in the README section `heading`, comments dropped."""
    section = readme.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command:
                commands.append(command)
    return commands


def _sh(commands, cwd, env=None, timeout=900):
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(commands)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return proc


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_ROOT_USER_ACTION="ignore", MPLBACKEND="Agg", **extra)
    return env


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("assignment", ["assignment1", "assignment2"])
def test_kit_from_its_zip_in_a_fresh_venv_reaches_a_running_jupyter_lab_following_its_readme(release, tmp_path, assignment):
    started = time.perf_counter()
    _unzip(release / f"{assignment}.zip", tmp_path)
    kit = tmp_path / assignment
    readme = (kit / "README.md").read_text()
    setup = _shell_blocks(readme, "Set up (once)")
    assert setup[:4] == ["python3 -m venv .venv", ". .venv/bin/activate", "pip install -r requirements.txt",
                         "pip install -e ."], setup
    assert setup[4] == "./get_datasets.sh"
    # CIFAR-10 cannot be downloaded here: the README's offline way instead (Debian's Fashion-MNIST).
    offline = "./get_datasets.sh fashion_mnist"
    assert f"`{offline}`" in readme and "CS231N_DATASET=fashion_mnist jupyter lab" in readme
    proc = _sh([*setup[:4], offline], kit, _clean_env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    installed = time.perf_counter()

    python = kit / ".venv/bin/python"
    check = ("import cs231n, pathlib; assert pathlib.Path(cs231n.__file__).parent == pathlib.Path('cs231n').resolve(), "
             "cs231n.__file__; from cs231n.data_utils import get_data; print(get_data('fashion_mnist', "
             "num_training=10, num_validation=5, num_test=5)['X_train'].shape)")
    proc = subprocess.run([python, "-c", check], cwd=kit, env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "(10, 1, 28, 28)" in proc.stdout, proc.stderr
    if assignment == "assignment2":
        proc = subprocess.run([python, "-W", "error::RuntimeWarning", "-c",
                               "from cs231n import fast_layers; print(fast_layers.get_backend())"],
                              cwd=kit, env=_clean_env(), capture_output=True, text=True, timeout=120)
        assert proc.stdout.strip() == "cython", proc.stderr

    start = _shell_blocks(readme, "Start")
    assert start == [". .venv/bin/activate", "jupyter lab"], start
    port, token = _free_port(), "kit-check"
    # Headless: no browser, a fixed port and token; as root Jupyter wants --allow-root (the README says so).
    flags = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.token={token}"
    if os.geteuid() == 0:
        assert "--allow-root" in readme
        flags += " --allow-root"
    server = subprocess.Popen(["bash", "-c", f"{start[0]} && CS231N_DATASET=fashion_mnist exec {start[1]} {flags}"],
                              cwd=kit, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                status, _ = _get(f"{base}/api/status?token={token}")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout.read().decode()[-3000:]
                time.sleep(0.5)
        status, page = _get(f"{base}/lab?token={token}")
        assert status == 200 and "JupyterLab" in page
        _, listing = _get(f"{base}/api/contents?token={token}")
        names = {item["name"] for item in json.loads(listing)["content"]}
        assert set(json.loads((kit / ".kit-manifest.json").read_text())["notebooks"]) <= names
        # A kernel starts (the notebooks' Python, from this venv) and can be shut down again.
        request = urllib.request.Request(f"{base}/api/kernels?token={token}", data=b"{}", method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            kernel = json.loads(response.read())
        request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 204
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
    print(f"\n{assignment}: README set-up {installed - started:.0f} s, until JupyterLab answered and stopped "
          f"{time.perf_counter() - started:.0f} s")


def _venv(path, *packages):
    venv.EnvBuilder(with_pip=True).create(path)
    if packages:
        _pip(path, "install", *packages)
    return path / "bin/python"


def _pip(env_dir, *args, check=True, **env):
    proc = subprocess.run([env_dir / "bin/python", "-m", "pip", "-q", *args], env=_clean_env(**env),
                          capture_output=True, text=True, timeout=900)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _import_from(python, kit, code):
    proc = subprocess.run([python, "-c", code], cwd=kit, env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


@pytest.mark.timeout(1200)
def test_both_kits_in_one_fresh_venv_each_import_their_own_package(release, tmp_path):
    started = time.perf_counter()
    kits = {}
    for assignment in ("assignment1", "assignment2"):
        _unzip(release / f"{assignment}.zip", tmp_path)
        kits[assignment] = tmp_path / assignment
    env_dir = tmp_path / "venv"
    python = _venv(env_dir, "setuptools==69.5.1")
    # The floor is real: setuptools 69 cannot read the kit's project.license ...
    proc = _pip(env_dir, "install", "--no-build-isolation", "--no-deps", "-e", str(kits["assignment1"]), check=False)
    assert proc.returncode != 0 and "project.license" in proc.stdout + proc.stderr
    # ... the kit's own build requirements (setuptools>=77, Cython, numpy) can.
    requires = tomllib.loads((kits["assignment2"] / "pyproject.toml").read_text())["build-system"]["requires"]
    assert "setuptools>=77" in requires and "setuptools>=77" in (kits["assignment1"] / "requirements.txt").read_text()
    _pip(env_dir, "install", *requires)
    for kit in kits.values():
        _pip(env_dir, "install", "--no-build-isolation", "-e", str(kit))

    listed = subprocess.run([python, "-m", "pip", "list", "--format=json"], env=_clean_env(), capture_output=True,
                            text=True, timeout=120).stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    assert {"cs231n-assignment1", "cs231n-assignment2"} <= names

    where = "import cs231n, pathlib; print(pathlib.Path(cs231n.__file__).parent)"
    assert _import_from(python, kits["assignment1"], where) == str(kits["assignment1"] / "cs231n")
    assert _import_from(python, kits["assignment2"], where) == str(kits["assignment2"] / "cs231n")
    ext = "import pathlib, cs231n.im2col_cython as m; print(pathlib.Path(m.__file__).parent)"
    assert _import_from(python, kits["assignment2"], ext) == str(kits["assignment2"] / "cs231n")
    # Assignment 1 has no extension, and never reaches into the other kit for one (nor for any module).
    missing = ("import importlib\nfor name in ('cs231n.im2col_cython', 'cs231n.fast_layers', 'cs231n.layers'):\n"
               "    try:\n        importlib.import_module(name)\n        print('imported', name)\n"
               "    except ImportError:\n        pass\n")
    assert _import_from(python, kits["assignment1"], missing) == ""
    assert _import_from(python, kits["assignment2"], missing.replace(
        "('cs231n.im2col_cython', 'cs231n.fast_layers', 'cs231n.layers')", "('cs231n.classifiers.neural_net',)")) == ""
    print(f"\nboth kits in one venv: {time.perf_counter() - started:.0f} s")


@pytest.mark.timeout(600)
def test_in_a_fresh_venv_without_a_c_compiler_the_kit_installs_and_says_what_it_costs(release, tmp_path):
    _unzip(release / "assignment2.zip", tmp_path)
    kit = tmp_path / "assignment2"
    requires = tomllib.loads((kit / "pyproject.toml").read_text())["build-system"]["requires"]
    env_dir = tmp_path / "venv"
    python = _venv(env_dir, *requires)
    # A compiler that is not there: the command exists but fails, like a missing cc.
    _pip(env_dir, "install", "--no-build-isolation", "-e", str(kit), CC="/bin/false", LDSHARED="/bin/false")
    assert not list((kit / "cs231n").glob("im2col_cython*.so"))
    proc = subprocess.run([python, "-c", "from cs231n import fast_layers; print(fast_layers.get_backend())"],
                          cwd=kit, env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "numpy", proc.stderr
    warning = " ".join(proc.stderr.split())
    assert "numpy fallback: same results, slower convolutions" in warning
    assert "run `pip install -e .`" in warning and (kit / "setup.py").is_file()
