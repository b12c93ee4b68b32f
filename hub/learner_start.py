"""Starts one learner's server on the classroom hub, as that learner (the hub's spawner runs it).

Before the server starts: files it creates are private (umask 077); the course notebooks are copied
into ``~/notebooks`` when missing (a learner's own copy is never overwritten, so autosave never
writes into a shared file), and ``~/solutions`` links to the worked solutions; work folders go to ``~/work``. Then it becomes ``jupyterhub-singleuser``,
with kernels that talk to the server over Unix sockets in a private folder rather than TCP ports.
"""
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def copy_missing_notebooks(source: Path, target: Path) -> list:
    """Copy each ``*.ipynb`` of ``source`` that ``target`` lacks; returns the names copied."""
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for notebook in sorted(source.glob("*.ipynb")):
        dest = target / notebook.name
        if os.path.lexists(dest):
            continue
        fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{notebook.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out, open(notebook, "rb") as src:
                shutil.copyfileobj(src, out)
            try:
                os.link(tmp, dest)  # appears complete, and fails rather than replace a file made meanwhile
                copied.append(notebook.name)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    return copied


def link_solutions(source: Path, target: Path) -> bool:
    """``target`` as a link to the course's worked solutions (read-only for learners), unless something is there
    already: the notebooks send a stuck learner to ``solutions/``, which sits beside ``~/notebooks`` this way."""
    if os.path.lexists(target):
        return False
    try:
        os.symlink(source, target, target_is_directory=True)
    except FileExistsError:  # made meanwhile by another start of the same server
        return False
    return True


def main() -> None:
    os.umask(0o077)
    home = Path(os.environ.get("HOME") or Path.home())
    copy_missing_notebooks(REPO / "notebooks", home / "notebooks")
    link_solutions(REPO / "solutions", home / "solutions")
    work = home / "work"
    work.mkdir(exist_ok=True)
    os.environ["TS_WORKBOOK_WORK"] = str(work)
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime_dir(home, os.getuid()))
    os.chdir(home)
    # by module, not by script: the interpreter may be the hub's stand-in (see workshop.learner_python)
    os.execv(sys.executable, [sys.executable, "-m", "jupyterhub.singleuser", *sys.argv[1:], log_format(),
                              KERNEL_SOCKETS])


# Every server on one machine picks its kernels' TCP ports on its own (bind a free port, release it,
# hand it to the kernel), so when a class opens notebooks together two servers can pick the same port
# and a kernel dies at start with "Address already in use". Unix sockets are files in the learner's
# private runtime folder: they cannot collide, and another account cannot connect to them.
KERNEL_SOCKETS = "--KernelManager.transport=ipc"
SOCKET_PATH_MAX = 107  # bytes in a Unix socket's path on Linux (sun_path holds 108 with the final NUL)
LONGEST_SOCKET = "/kernel-00000000-0000-0000-0000-000000000000-ipc-99"  # what jupyter_client names them


def runtime_dir(home: Path, uid: int) -> Path:
    """Jupyter's runtime folder in ``home``, or a private one in /tmp when sockets there would be too long."""
    usual = home / ".local" / "share" / "jupyter" / "runtime"
    if len(os.fsencode(str(usual) + LONGEST_SOCKET)) <= SOCKET_PATH_MAX:
        return usual
    return private_dir(Path(tempfile.gettempdir()) / f"jupyter-runtime-{uid}", uid)


def private_dir(path: Path, uid: int) -> Path:
    """``path`` as a folder only ``uid`` can enter; a fresh private folder if ``path`` is anyone else's."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = path.lstat()
    if stat.S_ISDIR(info.st_mode) and info.st_uid == uid and not info.st_mode & 0o077:
        return path
    # someone else made it, or it is a link: never put a learner's kernel sockets there
    return Path(tempfile.mkdtemp(prefix=f"{path.name}-", dir=path.parent))


def log_format() -> str:
    """Jupyter's own log format, with the learner's name: every server writes into the hub's one log."""
    user = os.environ.get("JUPYTERHUB_USER", "?").replace("%", "%%")
    return ("--Application.log_format=%(color)s[%(levelname)1.1s %(asctime)s.%(msecs).03d "
            f"{user} %(name)s]%(end_color)s %(message)s")


if __name__ == "__main__":
    main()
