"""Offline tests of get_datasets.sh: a fake curl serves a small CIFAR-10 tarball built here."""

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "get_datasets.sh"
BATCHES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]

# Copies the fixture named by $FAKE_CURL_SOURCE to the -o argument; any URL containing "missing" fails
# like curl -f on a 404.
FAKE_CURL = """#!/bin/sh
out=""
url=""
while [ $# -gt 0 ]; do
    case "$1" in
        -o) out="$2"; shift ;;
        --retry|--retry-delay|--connect-timeout) shift ;;
        -*) ;;
        *) url="$1" ;;
    esac
    shift
done
case "$url" in *missing*) echo "curl: (22) 404" >&2; exit 22 ;; esac
cp "$FAKE_CURL_SOURCE" "$out"
"""


@pytest.fixture(scope="module")
def fake_bin(tmp_path_factory):
    """A PATH folder with every system command but wget, plus a fake curl."""
    bin_dir = tmp_path_factory.mktemp("bin")
    for entry in os.scandir("/usr/bin"):
        if entry.name not in ("curl", "wget"):
            (bin_dir / entry.name).symlink_to(entry.path)
    curl = bin_dir / "curl"
    curl.write_text(FAKE_CURL)
    curl.chmod(0o755)
    return bin_dir


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    """A tar.gz laid out like cifar-10-python.tar.gz, with tiny stand-in batch files; returns (path, md5)."""
    path = tmp_path_factory.mktemp("fixture") / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in BATCHES + ["batches.meta", "readme.html"]:
            payload = f"fake {name}".encode()
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path, hashlib.md5(path.read_bytes()).hexdigest()


def run_script(args, fake_bin, data_dir, tarball, **env):
    """Run get_datasets.sh offline with the fake curl; returns the CompletedProcess."""
    full_env = {
        "PATH": str(fake_bin),
        "HOME": str(data_dir.parent),
        "CS231N_DATA_DIR": str(data_dir),
        "FAKE_CURL_SOURCE": str(tarball[0]),
        "CIFAR10_URL": "https://example.invalid/cifar-10-python.tar.gz",
        "CIFAR10_MD5": tarball[1],
    }
    full_env.update(env)
    return subprocess.run(["bash", str(SCRIPT), *args], env=full_env, capture_output=True, text=True,
                          timeout=60, cwd=data_dir.parent)


def leftovers(data_dir):
    """Return the names in data_dir other than the extracted dataset folder."""
    return sorted(p.name for p in data_dir.iterdir() if p.name != "cifar-10-batches-py")


def test_script_is_executable():
    assert os.access(SCRIPT, os.X_OK)


def test_cifar10_download_extracts_then_skips(fake_bin, tarball, tmp_path):
    data_dir = tmp_path / "data"
    first = run_script([], fake_bin, data_dir, tarball)
    assert first.returncode == 0, first.stderr
    dest = data_dir / "cifar-10-batches-py"
    assert sorted(p.name for p in dest.iterdir()) == sorted(BATCHES + ["batches.meta", "readme.html"])
    assert (dest / "test_batch").read_text() == "fake test_batch"
    assert leftovers(data_dir) == []
    assert "ready" in first.stdout

    second = run_script(["cifar10"], fake_bin, data_dir, tarball)
    assert second.returncode == 0, second.stderr
    assert "skipping" in second.stdout
    assert "Downloading" not in second.stdout


def test_cifar10_incomplete_folder_is_replaced(fake_bin, tarball, tmp_path):
    data_dir = tmp_path / "data"
    dest = data_dir / "cifar-10-batches-py"
    dest.mkdir(parents=True)
    (dest / "data_batch_1").write_text("partial")
    result = run_script(["cifar10"], fake_bin, data_dir, tarball)
    assert result.returncode == 0, result.stderr
    assert (dest / "data_batch_1").read_text() == "fake data_batch_1"
    assert (dest / "data_batch_5").is_file()


def test_cifar10_bad_checksum_fails_and_cleans_up(fake_bin, tarball, tmp_path):
    data_dir = tmp_path / "data"
    result = run_script([], fake_bin, data_dir, tarball, CIFAR10_MD5="0" * 32)
    assert result.returncode != 0
    assert "checksum mismatch" in result.stderr
    assert not (data_dir / "cifar-10-batches-py").exists()
    assert leftovers(data_dir) == []


def test_cifar10_failed_download_fails_and_cleans_up(fake_bin, tarball, tmp_path):
    data_dir = tmp_path / "data"
    result = run_script([], fake_bin, data_dir, tarball, CIFAR10_URL="https://example.invalid/missing.tar.gz")
    assert result.returncode != 0
    assert "download of https://example.invalid/missing.tar.gz failed" in result.stderr
    # The offline way out, with commands that exist in a kit.
    assert "run ./get_datasets.sh fashion_mnist" in result.stderr
    assert "sudo apt-get install dataset-fashion-mnist" in result.stderr
    assert "CS231N_DATASET=fashion_mnist jupyter lab" in result.stderr
    assert leftovers(data_dir) == []
    assert not (data_dir / "cifar-10-batches-py").exists()


def test_mnist_failed_download_suggests_fashion_mnist(fake_bin, tarball, tmp_path):
    result = run_script(["mnist"], fake_bin, tmp_path / "data", tarball, MNIST_URL="https://example.invalid/missing")
    assert result.returncode != 0
    assert "download of https://example.invalid/missing/train-images-idx3-ubyte.gz failed; without internet access, " \
           "use Fashion-MNIST instead: run ./get_datasets.sh fashion_mnist" in result.stderr


def test_no_downloader_says_so(tmp_path, tarball):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "basename", "mkdir", "mktemp", "rm", "cat"):
        (bin_dir / tool).symlink_to(f"/usr/bin/{tool}")
    data_dir = tmp_path / "data"
    result = run_script([], bin_dir, data_dir, tarball)
    assert result.returncode != 0
    assert "neither curl nor wget" in result.stderr
    assert leftovers(data_dir) == []


@pytest.mark.parametrize("args", [["bogus"], ["cifar10", "mnist"]])
def test_bad_arguments_print_usage_and_exit_2(fake_bin, tarball, tmp_path, args):
    result = run_script(args, fake_bin, tmp_path / "data", tarball)
    assert result.returncode == 2
    assert "Usage:" in result.stderr
    assert not (tmp_path / "data").exists()


def test_help(fake_bin, tarball, tmp_path):
    result = run_script(["--help"], fake_bin, tmp_path / "data", tarball)
    assert result.returncode == 0
    for name in ("cifar10", "fashion_mnist", "mnist", "all", "CIFAR10_URL", "CIFAR10_MD5"):
        assert name in result.stdout


def test_mnist_bad_checksum_fails_and_cleans_up(fake_bin, tarball, tmp_path):
    data_dir = tmp_path / "data"
    result = run_script(["mnist"], fake_bin, data_dir, tarball, MNIST_URL="https://example.invalid/mnist")
    assert result.returncode != 0
    assert "checksum mismatch for train-images-idx3-ubyte.gz" in result.stderr
    assert not (data_dir / "mnist").exists()
    assert leftovers(data_dir) == []
