"""Files of the feeds folder: atomic replacement (temporary name, fsync, rename) and the sweep
of temporary files that killed writers left behind. Knows nothing of feeds."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from contextlib import suppress
from pathlib import Path

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Files


def write_atomic(path: Path, data: bytes) -> bool:
    """Put ``data`` at ``path`` unless it is already there; True when the file changed.

    Written to a temporary file in the same folder, flushed and synced, then renamed over the
    old one: readers see the old file or the new one, never a part. Raises OSError, leaving the
    old file in place and no temporary file behind. The temporary file's name is hidden, ends
    in ``.tmp`` and carries the writer's process id: one left by a writer that was killed
    before it could rename or remove it is never served, and :func:`sweep_temporary` removes
    it."""
    with suppress(OSError):
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    fd, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX
    )
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.chmod(0o644)  # mkstemp makes it private; feeds are public
        tmp.replace(path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise
    return True


TEMP_SUFFIX = ".tmp"
STALE_TEMP_SECONDS = 3600.0  # a temporary file this old is a dead writer's, whatever its pid
_TEMP_NAME = re.compile(r"^\..+?(?:\.(?P<pid>\d+))?\.[A-Za-z0-9_]+\.tmp$")


def sweep_temporary(folder: Path, *, now: float | None = None) -> list[Path]:
    """Remove the temporary files that writers killed mid-write (``kill -9``, a power cut) left
    in ``folder`` and its subfolders; returns what was removed.

    A file is removed when the process named in it is gone, or when it is older than
    ``STALE_TEMP_SECONDS`` (an older name without a pid, or a pid reused since); the files of
    this process and of other live writers are left alone."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in folder.rglob(f".*{TEMP_SUFFIX}"):
        match = _TEMP_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        pid = int(match["pid"]) if match["pid"] else None
        try:
            old = now - path.stat().st_mtime > STALE_TEMP_SECONDS
        except FileNotFoundError:
            continue  # its writer renamed or removed it meanwhile
        if pid == os.getpid() or (not old and (pid is None or _alive(pid))):
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as e:
            log.warning("cannot remove the temporary file %s: %s", path, e.strerror or e)
            continue
        removed.append(path)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted writer", len(removed))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but belongs to someone else
        return True
    return True


def sync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (where the platform allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
