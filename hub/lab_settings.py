"""Turns off JupyterLab's news and update checks in this environment (`make venv`, `make lab`, the hub, Binder).

A fresh JupyterLab asks every learner whether to fetch "official Jupyter news" and would reach
the internet for it; a classroom needs neither. Written into the environment's own folders
(sys.prefix), so `make lab`, every hub learner and a repo2docker image all read them:
  - share/jupyter/lab/settings/overrides.json: fetchNews "false", checkForUpdates false (no question asked);
  - etc/jupyter/jupyter_server_config.json (merged into, other settings kept): the server offers no
    news feed and never checks for updates (page config "news": {"disabled": true}). Not a file in
    jupyter_server_config.d/: the server reads those folders for its extensions' switches only.
"""
import json
import os
import sys
import tempfile
from pathlib import Path

OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}
SERVER_CONFIG = {"LabApp": {"news_url": None,
                            "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate"}}


def _write_json(path: Path, data: dict) -> None:
    """Merge ``data`` into the JSON at ``path`` (keeping other settings) and replace it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    current = {}
    if path.exists():
        try:
            current = json.loads(path.read_text() or "{}")
        except ValueError:
            current = {}
    for key, value in data.items():
        current[key] = {**current.get(key, {}), **value} if isinstance(value, dict) else value
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as out:
        json.dump(current, out, indent=2)
        out.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def install(prefix: Path = Path(sys.prefix)) -> list:
    targets = [prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json",
               prefix / "etc" / "jupyter" / "jupyter_server_config.json"]
    _write_json(targets[0], OVERRIDES)
    _write_json(targets[1], SERVER_CONFIG)
    return targets


if __name__ == "__main__":
    for target in install(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(sys.prefix)):
        print(f"JupyterLab news and update checks off: {target}")
