"""Writing output files so that a reader never sees half of one."""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile

FILE_MODE = 0o644  # mkstemp creates 0600; outputs are meant to be shared


def write_atomic(path: pathlib.Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, FILE_MODE)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


class OutputDirError(ValueError):
    """An output directory that cannot be written, or that holds files this run would delete."""


def check_output_dir(path: pathlib.Path, own_names: frozenset[str], overwrite: bool = False) -> None:
    """Refuse ``path`` before anything runs: it must be a directory (or not exist yet) in a
    writable parent, and hold nothing but a previous run's files (``own_names``) unless
    ``overwrite``. A run replaces the whole directory (:func:`replace_directory`)."""
    path = pathlib.Path(path)
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"--out {path} is a file, not a directory")
    parent = path.resolve().parent
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not _can_create_in(existing):
        raise OutputDirError(f"--out {path}: cannot create files in {existing}")
    if path.is_dir():
        foreign = sorted(p.name for p in path.iterdir() if p.name not in own_names)
        if foreign and not overwrite:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise OutputDirError(
                f"--out {path} holds files that are not a run's outputs ({shown}); the run replaces the whole "
                "directory: choose another --out, or pass --overwrite to delete them"
            )


def _can_create_in(directory: pathlib.Path) -> bool:
    """True when a directory can really be created in ``directory`` (root passes every
    permission check, not a read-only or virtual file system)."""
    try:
        os.rmdir(tempfile.mkdtemp(dir=directory, prefix=".sim-write-check-"))
    except OSError:
        return False
    return True


def staging_dir(path: pathlib.Path) -> pathlib.Path:
    """A new, empty directory beside ``path`` to write a run's outputs into before they replace it."""
    path = pathlib.Path(path)
    path.resolve().parent.mkdir(parents=True, exist_ok=True)
    return pathlib.Path(tempfile.mkdtemp(dir=path.resolve().parent, prefix=f".{path.name}.partial-"))


_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(a: pathlib.Path, b: pathlib.Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot exchange
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def replace_directory(staged: pathlib.Path, path: pathlib.Path) -> None:
    """Put the directory ``staged`` at ``path`` as a whole: at every instant ``path`` is either the
    old directory or the new one (an atomic exchange; on file systems without one, the old
    directory is moved aside first). The old directory is deleted afterwards."""
    import shutil

    path = pathlib.Path(path)
    os.chmod(staged, 0o755)
    if not path.exists():
        os.rename(staged, path)
        return
    if _exchange(staged, path):
        shutil.rmtree(staged, ignore_errors=True)  # the old outputs, now at the staging path
        return
    aside = pathlib.Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old-"))
    os.rename(path, aside / path.name)
    os.rename(staged, path)
    shutil.rmtree(aside, ignore_errors=True)
