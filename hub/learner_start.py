"""Starts one learner's server on the classroom hub, as that learner (the hub's spawner runs it).

Before the server starts: files it creates are private (umask 077); the course notebooks are copied
into ``~/notebooks`` when missing (a learner's own copy is never overwritten, so autosave never
writes into a shared file); work folders go to ``~/work``. Then it becomes ``jupyterhub-singleuser``.
"""
import os
import shutil
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


def main() -> None:
    os.umask(0o077)
    home = Path(os.environ.get("HOME") or Path.home())
    copy_missing_notebooks(REPO / "notebooks", home / "notebooks")
    work = home / "work"
    work.mkdir(exist_ok=True)
    os.environ["TS_WORKBOOK_WORK"] = str(work)
    os.chdir(home)
    # by module, not by script: the interpreter may be the hub's stand-in (see workshop.learner_python)
    os.execv(sys.executable, [sys.executable, "-m", "jupyterhub.singleuser", *sys.argv[1:], log_format()])


def log_format() -> str:
    """Jupyter's own log format, with the learner's name: every server writes into the hub's one log."""
    user = os.environ.get("JUPYTERHUB_USER", "?").replace("%", "%%")
    return ("--Application.log_format=%(color)s[%(levelname)1.1s %(asctime)s.%(msecs).03d "
            f"{user} %(name)s]%(end_color)s %(message)s")


if __name__ == "__main__":
    main()
