"""Tests of the helpers every notebook needs: seeding, deprecations, work folders, expect_failure."""
import os
import subprocess
import sys
import warnings

import pytest
import torch

import helpers as H


def test_seed_everything_makes_runs_repeat():
    H.seed_everything(3)
    a = torch.randn(4)
    H.seed_everything(3)
    assert torch.equal(a, torch.randn(4))


def test_seed_everything_rejects_non_int():
    with pytest.raises(TypeError, match="expects an int seed"):
        H.seed_everything("0")


class _Branch(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


def _record(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        fn()
    return caught


def test_deprecation_warning_is_what_torch_emits():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.jit.script(_Branch())
    assert any(H.is_deprecation_warning(w.message) and w.category is FutureWarning for w in caught)


def test_hiding_deprecations_keeps_tracer_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        H.hide_deprecation_warnings()  # added on top of "always": it must win for deprecations only
        torch.jit.trace(_Branch(), torch.ones(2))
        warnings.warn("an unrelated FutureWarning", FutureWarning)
    messages = [str(w.message) for w in caught]
    assert not any(H.is_deprecation_warning(m) for m in messages)
    assert any(issubclass(w.category, torch.jit.TracerWarning) for w in caught)
    assert "an unrelated FutureWarning" in messages


def test_show_deprecation_warnings_undoes_hiding():
    with warnings.catch_warnings(record=True) as caught:
        H.hide_deprecation_warnings()
        H.show_deprecation_warnings()
        torch.jit.script(_Branch())
    assert any(H.is_deprecation_warning(w.message) for w in caught)


def test_work_dir_is_per_kernel_and_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("TS_WORKBOOK_WORK", str(tmp_path))
    folder = H.work_dir("00_test")
    assert folder.is_dir() and folder.name == f"00_test-{os.getpid()}"
    assert folder.parent.parent == tmp_path
    assert H.work_path("m.pt", "00_test") == folder / "m.pt"


def test_default_work_folder_is_git_ignored():
    repo = H.REPO_ROOT
    if not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    probe = "work/someone/00_x-1/model.pt"
    result = subprocess.run(["git", "check-ignore", "-q", probe], cwd=repo)
    assert result.returncode == 0, "work/ must be git-ignored so notebooks never write tracked files"


def test_work_dir_removes_folders_of_dead_kernels_only(tmp_path, monkeypatch):
    monkeypatch.setenv("TS_WORKBOOK_WORK", str(tmp_path))
    user_dir = H.work_dir("00_gc").parent
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (user_dir / f"00_gc-{dead}").mkdir()
    (user_dir / f"00_gc-{os.getppid()}").mkdir()  # a live process: must survive
    H.course.workdir._current.clear()
    H.work_dir("00_gc")
    assert not (user_dir / f"00_gc-{dead}").exists()
    assert (user_dir / f"00_gc-{os.getppid()}").exists()


def test_two_processes_get_separate_folders(tmp_path):
    code = "import helpers as H; print(H.work_dir('00_two'))"
    env = {**os.environ, "TS_WORKBOOK_WORK": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    folders = {p.communicate()[0].strip() for p in procs}
    assert len(folders) == 2


@pytest.mark.parametrize("bad", ["../x", "a/b", "", 3])
def test_work_dir_rejects_bad_names(bad):
    with pytest.raises(ValueError, match="short name"):
        H.work_dir(bad)


def test_work_path_rejects_escaping_names():
    with pytest.raises(ValueError, match="plain file name"):
        H.work_path("../../README.md")


def test_expect_failure_catches_and_prints_one_line(capsys):
    with H.expect_failure(RuntimeError, "example_kwarg_inputs") as caught:
        torch.jit.trace(_Branch())
    out = capsys.readouterr().out
    assert out.startswith("✔ failed as expected → RuntimeError:") and out.count("\n") == 1
    assert "example_kwarg_inputs" in caught.message


def test_expect_failure_fails_when_nothing_raises():
    with pytest.raises(AssertionError, match="ran without error"):
        with H.expect_failure(ValueError, "x"):
            pass


def test_expect_failure_fails_on_wrong_type_or_message():
    with pytest.raises(AssertionError, match="got KeyError"):
        with H.expect_failure(ValueError):
            raise KeyError("k")
    with pytest.raises(AssertionError, match="mentioning 'needle'"):
        with H.expect_failure(ValueError, "needle"):
            raise ValueError("haystack")


def test_expect_failure_function_form_and_traceback(capsys):
    caught = H.expect_failure(ZeroDivisionError, "division", lambda: 1 / 0, quiet=True)
    assert capsys.readouterr().out == ""
    caught.show_traceback()
    assert "Traceback" in capsys.readouterr().out


def test_expect_failure_bad_arguments():
    with pytest.raises(TypeError, match="exception class"):
        H.expect_failure("RuntimeError")
    with pytest.raises(TypeError, match="function to call"):
        H.expect_failure(RuntimeError, None, 42)


def test_short_message_keeps_first_line_and_cuts():
    assert H.short_message(ValueError("first\nsecond")) == "first"
    assert len(H.short_message(ValueError("x" * 500))) == 160
    generic = ValueError("Arguments for call are not valid.\nExpected a value of type 'Tensor'\nmore")
    assert H.short_message(generic) == "Expected a value of type 'Tensor'"
    assert H.short_message(generic, fragment="MORE") == "more"


def test_require_module_messages():
    assert H.require_module(torch.nn.ReLU()) is not None
    with pytest.raises(TypeError, match="add parentheses"):
        H.require_module(torch.nn.ReLU, "draw_graph")
    with pytest.raises(TypeError, match="got str"):
        H.require_module("model")
    with pytest.raises(TypeError, match="torch.Tensor"):
        H.require_tensor([1, 2])


def test_start_seeds_and_returns_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TS_WORKBOOK_WORK", str(tmp_path))
    folder = H.start("00_start", seed=1)
    a = torch.randn(2)
    H.start("00_start", seed=1)
    assert torch.equal(a, torch.randn(2)) and folder.is_dir()
    assert "deprecation notices hidden" in capsys.readouterr().out


def test_helpers_exports_are_unique_and_located():
    assert len(H.__all__) == len(set(H.__all__))
    assert H.where("expect_failure") == "helpers/course/failures.py"


def test_load_solution_by_name_and_bad_name():
    assert hasattr(H.load_solution("00_start_here"), "other_branch_input")
    with pytest.raises(FileNotFoundError, match="choose one of 00_start_here"):
        H.load_solution("99_nothing")


def test_model_instance_builds_classes_and_refuses_the_rest():
    assert isinstance(H.model_instance(torch.nn.ReLU), torch.nn.ReLU)
    with pytest.raises(TypeError, match="needs no arguments"):
        H.model_instance(torch.nn.Linear, "check_x")
    with pytest.raises(TypeError, match="class or an instance"):
        H.model_instance(3)


def test_expect_failure_line_is_not_doubled(capsys):
    with H.expect_failure(RuntimeError, "boom"):
        raise RuntimeError("RuntimeError: boom happened:")
    assert capsys.readouterr().out == "✔ failed as expected → RuntimeError: boom happened\n"
