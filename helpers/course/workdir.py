"""Per-user, per-kernel work folders for every file a notebook writes (introduced in 00_start_here).

Files go to ``<repo>/work/<user>/<notebook>-<pid>/``: ``work/`` is git-ignored, so nothing
tracked is ever overwritten; the user level keeps classmates on a shared server apart; the
process id keeps two kernels running the same notebook apart. Folders left by kernels that
have exited are removed the next time a kernel starts. Set ``TS_WORKBOOK_WORK`` to put the
work folders somewhere else (for example on a read-only checkout).
"""
import getpass
import os
import re
import shutil
from pathlib import Path

__all__ = ["REPO_ROOT", "work_dir", "work_path"]

REPO_ROOT = Path(__file__).resolve().parents[2]
_current = {}


def _user() -> str:
    try:
        name = getpass.getuser()
    except Exception:  # no login name in some containers: fall back to the numeric id
        name = f"uid{os.getuid()}" if hasattr(os, "getuid") else "user"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "user"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but belongs to someone else, or we cannot tell: keep it
    return True


def _base() -> Path:
    root = os.environ.get("TS_WORKBOOK_WORK")
    return Path(root) if root else REPO_ROOT / "work"


def work_dir(notebook: str = "scratch") -> Path:
    """This kernel's own folder for notebook ``notebook``; created on first use, stale siblings removed."""
    if not isinstance(notebook, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", notebook):
        raise ValueError(f"work_dir needs a short name like '05_save_and_load', got {notebook!r}")
    key = (notebook, os.getpid())
    if key in _current and _current[key].is_dir():
        return _current[key]
    user_dir = _base() / _user()
    user_dir.mkdir(parents=True, exist_ok=True)
    for old in user_dir.glob(f"{notebook}-*"):
        match = re.fullmatch(re.escape(notebook) + r"-(\d+)", old.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            shutil.rmtree(old, ignore_errors=True)
    folder = user_dir / f"{notebook}-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    _current[key] = folder
    return folder


def work_path(filename: str, notebook: str = "scratch") -> Path:
    """A path for ``filename`` inside this kernel's work folder (the file itself is not created)."""
    if not isinstance(filename, str) or not filename or Path(filename).is_absolute() or ".." in Path(filename).parts:
        raise ValueError(f"work_path takes a plain file name like 'model.pt', got {filename!r}")
    return work_dir(notebook) / filename
