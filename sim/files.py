"""Writing output files so that a reader never sees half of one."""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import tempfile

FILE_MODE = 0o644  # mkstemp creates 0600; outputs are meant to be shared


def parquet_bytes(frame) -> bytes:
    """A pandas DataFrame as Parquet file bytes (no index), for :func:`write_atomic`."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


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
    """Refuse ``path`` before anything runs: it must be a directory (or not exist yet) that can be
    replaced as a whole (not a mount point, not the working directory or one of its parents), in
    a parent where files can be created, that no other run is writing, holding nothing but a
    previous run's files (regular files named in ``own_names``) unless ``overwrite``."""
    path = pathlib.Path(path)
    resolved = path.resolve()
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"--out {path} is a file, not a directory")
    if path.is_dir() and os.path.ismount(resolved):
        raise OutputDirError(f"--out {path} is a mount point, which cannot be replaced as a whole: name a directory inside it")
    if resolved == pathlib.Path.cwd().resolve() or resolved in pathlib.Path.cwd().resolve().parents:
        raise OutputDirError(f"--out {path} is the working directory or holds it: name a directory of its own")
    existing = resolved.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not _can_create_in(existing):
        raise OutputDirError(f"--out {path}: cannot create files in {existing}")
    if path.is_dir():
        foreign = sorted(p.name for p in path.iterdir() if p.name not in own_names or p.is_symlink() or not p.is_file())
        if foreign and not overwrite:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise OutputDirError(
                f"--out {path} holds files that are not a run's outputs ({shown}); the run replaces the whole "
                "directory: choose another --out, or pass --overwrite to delete them"
            )
    if existing == resolved.parent:
        with output_lock(path):  # only probes: a run holds the lock for its whole length
            pass


@contextlib.contextmanager
def output_lock(path: pathlib.Path):
    """Hold the lock that says a run is writing ``path`` (``.NAME.lock`` beside it), or raise
    :class:`OutputDirError` at once when another run holds it. The operating system releases it
    when the process ends, however it ends."""
    import fcntl

    path = pathlib.Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputDirError(f"--out {path} is being written by another run; wait for it or choose another --out") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _can_create_in(directory: pathlib.Path) -> bool:
    """True when a directory can really be created in ``directory`` (root passes every
    permission check, not a read-only or virtual file system)."""
    try:
        os.rmdir(tempfile.mkdtemp(dir=directory, prefix=".sim-write-check-"))
    except OSError:
        return False
    return True


def staging_dir(path: pathlib.Path) -> pathlib.Path:
    """A new, empty directory beside ``path`` to write a run's outputs into before they replace it.

    Call it holding :func:`output_lock`: any staging directory left beside ``path`` then belongs to
    a run that was killed (``kill -9``), and is removed."""
    import shutil

    path = pathlib.Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in [*path.parent.glob(f".{path.name}.partial-*"), *path.parent.glob(f".{path.name}.old-*")]:
        shutil.rmtree(stale, ignore_errors=True)
    return pathlib.Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.partial-"))


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

    path = pathlib.Path(path).resolve()
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
