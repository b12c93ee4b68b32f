"""What the classroom hub runs before each learner's server (hub/learner_start.py), without a hub."""
import importlib.util
import os
import stat
import logging
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("learner_start", REPO / "hub" / "learner_start.py")
learner_start = importlib.util.module_from_spec(spec)
spec.loader.exec_module(learner_start)


def formatted(option: str, message: str = "Jupyter Server is running") -> str:
    """A log line as Jupyter writes it with ``--Application.log_format=...`` (colour fields left empty)."""
    fmt = option.split("=", 1)[1]
    record = logging.LogRecord("ServerApp", logging.INFO, __file__, 1, message, None, None)
    record.color, record.end_color = "", ""
    return logging.Formatter(fmt).format(record)


def test_each_server_line_names_its_learner(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "learner05")
    line = formatted(learner_start.log_format())
    assert line.startswith("[I ") and " learner05 ServerApp] Jupyter Server is running" in line


def test_a_name_with_a_percent_sign_is_written_as_it_is(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "ann%(name)s")
    assert " ann%(name)s ServerApp] " in formatted(learner_start.log_format())


def test_copying_never_overwrites_a_learners_notebook(tmp_path):
    source, target = tmp_path / "course", tmp_path / "home" / "notebooks"
    source.mkdir()
    (source / "00.ipynb").write_text("course 00")
    (source / "01.ipynb").write_text("course 01")
    target.mkdir(parents=True)
    (target / "00.ipynb").write_text("my own answers")
    assert learner_start.copy_missing_notebooks(source, target) == ["01.ipynb"]
    assert (target / "00.ipynb").read_text() == "my own answers" and (target / "01.ipynb").read_text() == "course 01"
    assert sorted(p.name for p in target.iterdir()) == ["00.ipynb", "01.ipynb"]  # no temporary file left


def test_kernel_sockets_stay_in_the_usual_folder_when_its_path_is_short(tmp_path):
    home = Path("/home/learner05")
    assert learner_start.runtime_dir(home, 1000) == home / ".local/share/jupyter/runtime"


def test_a_home_too_deep_for_socket_paths_gets_a_private_short_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(learner_start.tempfile, "tempdir", str(tmp_path))
    deep = Path("/srv/classroom/homes/" + "x" * 40 + "/learner05")
    folder = learner_start.runtime_dir(deep, os.getuid())
    assert folder == tmp_path / f"jupyter-runtime-{os.getuid()}"
    assert folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert learner_start.runtime_dir(deep, os.getuid()) == folder  # the same folder on the next start


def test_a_runtime_folder_someone_else_can_enter_is_not_used(tmp_path):
    shared = tmp_path / "jupyter-runtime-1000"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    folder = learner_start.private_dir(shared, os.getuid())
    assert folder != shared and folder.parent == tmp_path and stat.S_IMODE(folder.stat().st_mode) == 0o700
    link = tmp_path / "link"
    link.symlink_to(folder)
    assert learner_start.private_dir(link, os.getuid()) not in (link, folder)


def test_the_solutions_appear_beside_the_notebooks_and_a_learners_own_folder_is_kept(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    assert learner_start.link_solutions(REPO / "solutions", home / "solutions")
    assert (home / "solutions" / "04_scripting.py").is_file()
    assert not learner_start.link_solutions(REPO / "solutions", home / "solutions")  # already there: left alone
    own = tmp_path / "other"
    (own / "solutions").mkdir(parents=True)
    (own / "solutions" / "mine.py").write_text("x = 1\n")
    assert not learner_start.link_solutions(REPO / "solutions", own / "solutions")
    assert (own / "solutions" / "mine.py").read_text() == "x = 1\n"
