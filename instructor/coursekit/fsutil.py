"""File helpers: atomic writes, safe unpacking of untrusted zips, reproducible zips.

Files written here get the mode open() would give them, 0666 less the umask: the grader runs with umask 077,
so nothing it writes (results, scores, logs) is readable by a worker uid (sandbox/isolation.py's rules)."""

import contextlib
import os
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath

# Untrusted archives: refuse the ones that would fill the disk when unpacked.
MAX_UNPACKED_BYTES = 512 * 2**20
MAX_MEMBERS = 20000


class UnsafeArchiveError(ValueError):
    """A submission archive that cannot be unpacked safely; the message names the member."""


def _umask():
    """This process's umask, read without setting it (os.umask sets it for every thread for a moment)."""
    with contextlib.suppress(OSError), open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def _zip_date():
    """Entries' date: $SOURCE_DATE_EPOCH when set (reproducible builds), else now. A fixed old date would
    show every file of an unpacked kit as years old."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    stamp = time.gmtime(int(epoch)) if epoch else time.localtime()
    return (max(stamp.tm_year, 1980), *stamp[1:6])


def write_zip(zip_path, src_dir, arc_prefix=""):
    """Zip every file under `src_dir` (sorted, one date for all) into `zip_path`, atomically."""
    zip_path = Path(zip_path)
    date = _zip_date()
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=zip_path.parent, prefix=f".{zip_path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(p for p in Path(src_dir).rglob("*") if p.is_file()):
                rel = file.relative_to(src_dir).as_posix()
                info = zipfile.ZipInfo(f"{arc_prefix}{rel}", date_time=date)
                mode = 0o755 if os.access(file, os.X_OK) else 0o644
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, file.read_bytes())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, zip_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_member_name(name):
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or (posix.parts and ":" in posix.parts[0]):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path; refusing to unpack")
    if ".." in posix.parts:
        raise UnsafeArchiveError(f"archive member {name!r} escapes the folder with '..'; refusing to unpack")
    return posix


def safe_extract(zip_path, dest):
    """Unpack an untrusted zip into `dest`: no absolute paths, no `..`, no symlinks, bounded size."""
    dest = Path(dest)
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise UnsafeArchiveError(f"{zip_path} is not a valid zip file ({exc})") from exc
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise UnsafeArchiveError(f"{zip_path} holds {len(members)} files (more than {MAX_MEMBERS})")
        total = 0
        for info in members:
            posix = _check_member_name(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeArchiveError(f"archive member {info.filename!r} is a symlink; refusing to unpack")
            total += info.file_size
            if total > MAX_UNPACKED_BYTES:
                raise UnsafeArchiveError(f"{zip_path} unpacks to more than {MAX_UNPACKED_BYTES} bytes")
            if info.is_dir() or not posix.parts:
                continue
            target = dest.joinpath(*posix.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)


def copy_tree_no_symlinks(src, dest):
    """Copy a submission folder; a symlink anywhere in it is refused (it could point at the grader's files)."""
    src = Path(src)
    for path in src.rglob("*"):
        if path.is_symlink():
            raise UnsafeArchiveError(f"{path} is a symlink; submissions may only hold regular files")
    shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
