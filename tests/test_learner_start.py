"""What the classroom hub runs before each learner's server (hub/learner_start.py), without a hub."""
import importlib.util
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
