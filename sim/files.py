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
