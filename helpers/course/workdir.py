"""Per-user, per-notebook work folders kept across restarts, and atomic file writes (introduced in 00_start_here).

Files go to ``<repo>/work/<user>/<notebook>/``: ``work/`` is git-ignored, so nothing tracked is
ever overwritten; the user level keeps classmates on a shared server apart. The folder outlives
the kernel: restart it and the files you exported are still there. A kernel holds its folder
with a lock file (``.kernel.lock``, holding its process id); a second kernel of the same notebook
running at the same time gets ``<notebook>-2/`` (then ``-3/``...), and a lock left by a kernel that
has exited is taken over. Nothing here ever deletes a file: only ``make clean`` does. Set
``TS_WORKBOOK_WORK`` to put the work folders somewhere else (for example beside a read-only checkout). It moves
the work folders only: the build caches (``build/aoti``, ``build/executorch``) stay in the checkout, so make them
there ahead with ``make aoti``, or pass ``cache_dir=`` to ``H.aoti_package`` and ``H.lower_to_pte``.

``atomic_path(path)`` gives a temporary name in the same folder and renames it into place only
when the block succeeds, so a failed save never leaves a half-written file or spoils a good one.
"""
import contextlib
import getpass
import os
import re
import tempfile
from pathlib import Path

__all__ = ["REPO_ROOT", "work_dir", "work_path", "atomic_path", "atomic_write", "atomic_write_bytes",
           "atomic_write_text"]

REPO_ROOT = Path(__file__).resolve().parents[2]
_UMASK = os.umask(0o022)  # read the process's umask (the only portable way is to set it) ...
os.umask(_UMASK)          # ... and put it straight back
LOCK_NAME = ".kernel.lock"
_current = {}  # (base, notebook) -> (folder, open lock file or None)


# ---------------------------------------------------------------- atomic writes

@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step, on failure it goes.

        with atomic_path(WORK / "model.pt") as tmp:
            torch.jit.save(scripted, tmp)

    Readers see the old file or the whole new one, never a part. The temporary name keeps the
    suffix (``.model.pt.<random>.tmp.pt``) because some savers look at it.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"atomic_path takes a file path (str or pathlib.Path), got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder: give the path of the file to write inside it")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:  # mkstemp makes it private (0600): give it the mode the file has, or a plain new file would get
        os.chmod(temporary, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_UMASK)
    except OSError:
        pass
    try:
        yield temporary
        if not temporary.exists():
            raise FileNotFoundError(f"nothing was written to the temporary file for {path.name}")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path, data) -> Path:
    """Write ``data`` (bytes) to ``path`` through a temporary file and an atomic rename; return the path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"atomic_write_bytes writes bytes, got {type(data).__name__}: use atomic_write_text for str")
    with atomic_path(path) as temporary:
        temporary.write_bytes(bytes(data))
    return Path(path)


def repo_relative(path) -> str:
    """``path`` as the learner finds it: relative to the repository when it lies inside, else as it is."""
    try:
        return str(Path(path).relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def atomic_write_text(path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename; return the path."""
    if not isinstance(text, str):
        raise TypeError(f"atomic_write_text writes a str, got {type(text).__name__}: use atomic_write_bytes for bytes")
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding=encoding)
    return Path(path)


def atomic_write(path, data) -> Path:
    """``atomic_write_text`` for a str, ``atomic_write_bytes`` for bytes."""
    return atomic_write_text(path, data) if isinstance(data, str) else atomic_write_bytes(path, data)


# ---------------------------------------------------------------- work folders

def _user() -> str:
    try:
        name = getpass.getuser()
    except Exception:  # no login name in some containers: fall back to the numeric id
        name = f"uid{os.getuid()}" if hasattr(os, "getuid") else "user"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "user"


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but belongs to someone else, or we cannot tell: treat it as a holder
    return True


def _base() -> Path:
    # a hub's spawner passes the value as written: "~/ts-work" or "$HOME/ts-work" means the learner's own home
    root = os.environ.get("TS_WORKBOOK_WORK")
    return Path(os.path.expanduser(os.path.expandvars(root))) if root else REPO_ROOT / "work"


def _holder(lock: Path):
    """The process id written in ``lock``, or None when the file is missing, empty or unreadable."""
    try:
        text = lock.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _try_lock(folder: Path):
    """Take ``folder``'s lock for this process: (True, open handle or None) or (False, None) if a live kernel holds it.

    Where the OS has ``flock`` the kernel keeps the file locked while it lives; elsewhere the
    process id in the file decides, and a lock whose process has exited is taken over.
    """
    lock = folder / LOCK_NAME
    try:
        import fcntl
    except ImportError:  # Windows: no flock; create the lock file exclusively, take over dead holders' files
        fcntl = None
    if fcntl is None:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = _holder(lock)
            if pid not in (None, os.getpid()) and _alive(pid):
                return False, None
            atomic_write_text(lock, f"{os.getpid()}\n")
            return True, None
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n")
        return True, None
    # A raw descriptor, not a file object: it stays open for the kernel's life, and a file object
    # would print a ResourceWarning at every interpreter exit.
    handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # another live process holds it
        os.close(handle)
        return False, None
    # The flock is the truth: the OS drops it when its holder exits, however it exits. The pid in the
    # file is for people; trusting it here would mistake a reused pid (common in containers) for a holder.
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
    return True, handle  # kept open (and locked) for as long as this process lives


def work_dir(notebook: str = "scratch") -> Path:
    """This kernel's folder for notebook ``notebook``: ``work/<user>/<notebook>/``, kept across restarts.

    Created on first use. A second kernel of the same notebook running at the same time gets
    ``<notebook>-2/``; a kernel started after the first has exited gets the first folder back, with
    its files. Nothing is ever deleted here.
    """
    if not isinstance(notebook, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", notebook) or notebook in (".", ".."):
        raise ValueError(f"work_dir needs a short name like '05_save_and_load', got {notebook!r}")
    base = _base()
    key = (str(base.resolve()), notebook)
    if key in _current:
        folder, handle = _current[key]
        if folder.is_dir() and (folder / LOCK_NAME).exists():
            return folder
        if handle is not None:  # the folder was removed under us (make clean): take a fresh one
            os.close(handle)
        del _current[key]
    user_dir = base / _user()
    if not user_dir.is_dir():
        user_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # classmates on a shared server cannot read it
    number = 1
    while True:
        folder = user_dir / (notebook if number == 1 else f"{notebook}-{number}")
        folder.mkdir(exist_ok=True)
        taken, handle = _try_lock(folder)
        if taken:
            _current[key] = (folder, handle)
            return folder
        number += 1


def work_path(filename: str, notebook: str = "scratch") -> Path:
    """A path for ``filename`` inside this kernel's work folder (the file itself is not created)."""
    if not isinstance(filename, str) or not filename or Path(filename).is_absolute() or ".." in Path(filename).parts:
        raise ValueError(f"work_path takes a plain file name like 'model.pt', got {filename!r}")
    return work_dir(notebook) / filename
