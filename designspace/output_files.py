"""Writing output files safely: checked before the work that produces them, written atomically.

Every command that writes a file asks check_writable first (so that a long run never ends in a
failed write) and writes through atomic_write (so that an interrupted or failed write never
leaves a half-written file, and an error names the output asked for, not a temporary file).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path) -> Path:
    """The output path, or ValueError at once when it cannot be written (its folder neither exists
    nor can be created, is not writable, or the path is a folder): commands call it before their
    work, so that a long run never ends in a failed write."""
    path = Path(path)
    reason = _unwritable(path)
    if reason:
        raise ValueError(reason)
    return path


def _unwritable(path: Path) -> str | None:
    """Why `path` cannot be written, None when it can: a probe file (never named, or removed at
    once) in its folder, or in the nearest existing folder above where the rest is to be created."""
    if path.is_dir():
        return f"{path} is a folder; give a file name"
    existing = next(folder for folder in path.parents if folder.exists())
    if not existing.is_dir():
        return f"cannot write {path}: {existing} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        return f"cannot write {path}: cannot create files in {existing} ({e.strerror or e})"
    return None


def atomic_write(path: Path, write) -> Path:
    """Call write(tmp_path) on a temporary file beside `path`, then rename it into place. An
    OSError names `path` (the output asked for), never the temporary file."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException as e:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            detail = e.strerror or str(e).replace(str(tmp), str(path))
            raise OSError(_unwritable(path) or f"cannot write {path}: {detail}") from None
        raise
    return path
