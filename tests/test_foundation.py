"""Tests of the helpers every notebook needs: seeding, deprecations, work folders, expect_failure."""
import os
import subprocess
import sys
import time
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


def test_work_dir_is_per_user_and_notebook(tmp_path, monkeypatch):
    monkeypatch.setenv("TS_WORKBOOK_WORK", str(tmp_path))
    folder = H.work_dir("00_test")
    assert folder.is_dir() and folder.name == "00_test"
    assert folder.parent.parent == tmp_path
    assert H.work_path("m.pt", "00_test") == folder / "m.pt"
    assert H.work_dir("00_test") == folder  # the same kernel asks again: the same folder
    assert (folder / ".kernel.lock").read_text().strip() == str(os.getpid())


def test_work_dir_setting_may_name_the_home_folder_as_a_spawner_passes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for written in ("~/ts-work", "$HOME/ts-work"):  # passed as written, unexpanded, by a hub's spawner
        monkeypatch.setenv("TS_WORKBOOK_WORK", written)
        assert H.work_dir("00_home_test").parent.parent == tmp_path / "ts-work", written


def test_default_work_folder_is_git_ignored():
    repo = H.REPO_ROOT
    if not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    probe = "work/someone/00_x/model.pt"
    result = subprocess.run(["git", "check-ignore", "-q", probe], cwd=repo)
    assert result.returncode == 0, "work/ must be git-ignored so notebooks never write tracked files"


# A "kernel": a fresh Python process that starts the way every notebook does, then follows orders.
KERNEL = """
import sys, helpers as H
WORK = H.start("00_keep")
print(WORK, flush=True)
for line in sys.stdin:  # orders: "write NAME TEXT", "read NAME", "quit"
    order = line.split(maxsplit=2)
    if order[0] == "write":
        (WORK / order[1]).write_text(order[2])
        print("written", flush=True)
    elif order[0] == "read":
        print((WORK / order[1]).read_text() if (WORK / order[1]).exists() else "MISSING", flush=True)
    else:
        break
"""


class _Kernel:
    def __init__(self, work):
        env = {**os.environ, "TS_WORKBOOK_WORK": str(work), "PYTHONPATH": str(H.REPO_ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-c", KERNEL], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.folder = self._line()  # H.start prints its banner line first, then the folder

    def _line(self):
        while True:
            line = self.proc.stdout.readline()
            assert line, "the kernel process exited early"
            if not line.startswith(("torch ", "another kernel")):
                return line.strip()

    def ask(self, order):
        self.proc.stdin.write(order + "\n")
        self.proc.stdin.flush()
        return self._line()

    def stop(self):
        self.proc.communicate("quit\n", timeout=120)


def test_a_file_written_in_the_work_folder_survives_a_kernel_restart(tmp_path):
    first = _Kernel(tmp_path)
    assert first.ask("write model.txt saved before the restart") == "written"
    first.stop()
    second = _Kernel(tmp_path)  # the restarted kernel
    try:
        assert second.folder == first.folder and second.folder.endswith("00_keep")
        assert second.ask("read model.txt") == "saved before the restart"
    finally:
        second.stop()


def test_two_live_kernels_of_one_notebook_get_two_folders(tmp_path):
    first, second = _Kernel(tmp_path), _Kernel(tmp_path)
    try:
        assert {first.folder.rsplit("/", 1)[1], second.folder.rsplit("/", 1)[1]} == {"00_keep", "00_keep-2"}
        first.ask("write a.txt first")
        assert second.ask("read a.txt") == "MISSING"
    finally:
        first.stop()
        second.stop()
    third = _Kernel(tmp_path)  # both exited: the next kernel takes the first folder back, files intact
    try:
        assert third.folder.endswith("00_keep") and third.ask("read a.txt") == "first"
    finally:
        third.stop()


def test_a_stale_lock_is_taken_over_and_nothing_is_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("TS_WORKBOOK_WORK", str(tmp_path))
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    user_dir = tmp_path / H.course.workdir._user()
    stale = user_dir / "00_stale"
    stale.mkdir(parents=True)
    (stale / ".kernel.lock").write_text(f"{dead}\n")
    (stale / "mine.pt").write_bytes(b"learner's file")
    old_style = user_dir / f"00_stale-{dead}"  # a folder from an older helper, named by pid
    old_style.mkdir()
    assert H.work_dir("00_stale") == stale
    assert (stale / ".kernel.lock").read_text().strip() == str(os.getpid())
    assert (stale / "mine.pt").read_bytes() == b"learner's file" and old_style.is_dir()


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "model.pt"
    target.write_bytes(b"good")
    with pytest.raises(RuntimeError, match="boom"):
        with H.atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".pt" and tmp != target
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"good" and sorted(tmp_path.iterdir()) == [target]
    with H.atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and sorted(tmp_path.iterdir()) == [target]
    H.atomic_write_text(tmp_path / "sub" / "a.txt", "text")
    H.atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "sub" / "a.txt").read_text() == "text" and (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    with pytest.raises(TypeError, match="use atomic_write_bytes"):
        H.atomic_write_text(tmp_path / "c.txt", b"bytes")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        H.atomic_write_bytes(tmp_path, b"x")


def test_atomic_writes_keep_the_usual_file_mode(tmp_path):
    fresh = H.atomic_write_text(tmp_path / "fresh.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask  # readable as a plain new file, not private
    shared = tmp_path / "shared.txt"
    shared.write_text("old")
    shared.chmod(0o640)
    H.atomic_write_text(shared, "new")
    assert shared.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode


def test_atomic_path_with_a_saver_that_writes_nothing_leaves_nothing(tmp_path):
    def saver_that_deletes(tmp):
        tmp.unlink()  # a saver that removes its output on error, or never writes it
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        with H.atomic_path(tmp_path / "x.pt") as tmp:
            saver_that_deletes(tmp)
    assert list(tmp_path.iterdir()) == []


def test_failed_torchscript_save_leaves_no_file(tmp_path):
    class WithIgnored(torch.nn.Module):
        @torch.jit.ignore
        def helper(self, x):
            return x

        def forward(self, x):
            return self.helper(x)

    scripted = torch.jit.script(WithIgnored())
    target = tmp_path / "ignored.pt"
    with pytest.raises(Exception, match="(?i)ignore|python"):
        with H.atomic_path(target) as tmp:
            torch.jit.save(scripted, str(tmp))
    assert list(tmp_path.iterdir()) == []


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


def test_short_message_skips_frames_follows_colons_and_ends_at_a_word():
    through_script = RuntimeError("The following operation failed in the TorchScript interpreter.\nTraceback ...\n"
                                  "RuntimeError: AttributeError: no attribute 'fns'\n\nAt:\n  /tmp/x.py(6): run\n")
    assert H.short_message(through_script) == "RuntimeError: AttributeError: no attribute 'fns'"
    assert H.short_message(ValueError("the reason is:\nthis one")) == "the reason is: this one"
    flatten = ValueError("Trying to flatten user inputs with exported input tree spec: \nTreeSpec(...)\n"
                         "but actually got inputs with tree spec of: \nTreeSpec(...).\nPlease check the inputs.")
    assert H.short_message(flatten) == "the inputs are not structured like the example's. Please check the inputs."
    cut = H.short_message(ValueError("word " * 60), limit=50)
    assert cut.endswith("word…") and len(cut) <= 50


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


def test_start_leaves_the_collector_on_with_the_imports_frozen(tmp_path, monkeypatch, capsys):
    import gc
    monkeypatch.setenv("TS_WORKBOOK_WORK", str(tmp_path))
    H.start("00_start")
    assert gc.isenabled() and gc.get_freeze_count() > 100_000  # torch's modules: no full collection walks them again


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


def test_a_message_put_into_a_sentence_ends_in_one_full_stop():
    from helpers.course.failures import as_sentence
    assert as_sentence("needs a tensor") == "needs a tensor."
    assert as_sentence("needs a tensor.") == "needs a tensor."
    assert as_sentence("a message cut at its limit…") == "a message cut at its limit…"
    assert as_sentence("is it? ") == "is it?"


def test_a_class_whose_scripting_failed_before_gets_the_reason_not_torchs_redefinition_error(tmp_path):
    import importlib.util
    source = tmp_path / "norms_model.py"
    source.write_text("import torch\n\nclass Norms(torch.nn.Module):\n    def forward(self, h):\n"
                      "        return h.norm(dim=1)  # a keyword TorchScript's norm overloads do not take\n")
    spec = importlib.util.spec_from_file_location("norms_model", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    errors = []
    for _ in range(2):
        try:
            torch.jit.script(module.Norms())
        except Exception as error:
            errors.append(error)
    assert len(errors) == 2 and "Can't redefine method" in str(errors[1])  # torch keeps the half-made class
    message = H.short_message(errors[1], limit=400)
    assert message.startswith("scripting Norms failed earlier in this kernel"), message
    assert len(message) < 160
    from helpers.routes.export_check import _export_hint
    hint = _export_hint("script", errors[1])
    assert "first error" in hint and "cannot compile" not in hint, hint  # not a claim about code nobody saw


def test_odd_inputs_to_the_path_tools_the_explorer_parity_and_the_pte_cache_get_one_line_that_says_what_to_pass():
    import numpy as np

    class ListOut(torch.nn.Module):
        def forward(self, x):
            return [x * 2, x + 1]

    linear = torch.nn.Linear(3, 2)
    with pytest.raises(TypeError, match=r"^path_map expects a model instance, got the class ListOut"):
        H.path_map(ListOut, "return")
    with pytest.raises(TypeError, match=r"^record_path: an input is a NumPy ndarray; pass tensors"):
        H.record_path(linear, np.ones((2, 3), dtype=np.float32))
    # the model's own error: one line naming the helper, the line of forward that raised, and torch's message
    class Widens(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 2)

        def forward(self, x):
            y = x * 2
            return self.fc(y)

    with pytest.raises(RuntimeError, match=r"^record_path: Widens.forward raised at line \d+ \(`return self.fc\(y\)`\): "
                                           r"RuntimeError: mat1 and mat2 shapes cannot be multiplied.*; fix that line") as raised:
        H.record_path(Widens(), torch.ones(4))
    assert "\n" not in str(raised.value)
    with pytest.raises(RuntimeError, match=r"^record_path: the call failed before the first line of Widens.forward ran "
                                           r"\(TypeError: .*\): pass the inputs it takes$"):
        H.record_path(Widens(), torch.ones(3), torch.ones(3))  # one input too many: no line ran
    with pytest.raises(ValueError, match=r"model must be one of .* \(got 'model.pt'\); .* pass the model object itself"):
        H.DivergenceExplorer("model.pt", "trace", example=torch.ones(2, 3))
    with pytest.raises(TypeError, match=r"^parity: example= must be a tensor"):
        H.parity(linear, linear, example=np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"^cached_pte: example is the model's input .* pass the name as name="):
        H.cached_pte(linear, "hello")
    with pytest.raises(TypeError, match=r"^lower_to_pte: example .* got an ndarray; convert it with torch\.from_numpy"):
        H.lower_to_pte(linear, np.ones((2, 3), dtype=np.float32))


def test_time_limit_stops_an_endless_loop_and_leaves_an_outer_limit_in_charge():
    import signal
    from helpers.course.guards import TimeLimitReached, time_limit

    with pytest.raises(TimeLimitReached):
        with time_limit(0.2):
            while True:
                pass
    with time_limit(30):          # the outer limit
        with time_limit(60):      # an inner one must neither cancel nor replace it
            pass
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_call_within_takes_its_stop_raised_again_from_a_cleanup_for_the_time_limit():
    # the stop can land in torch's own code, whose `finally` then raises an error of its own during it: that is
    # still the limit (a sizes note said neither "freed" nor "not found out" when the stop landed so)
    from helpers.course.guards import call_within

    def stopped_in_cleanup():
        try:
            while True:
                pass
        finally:
            raise RuntimeError("exit stack left in a bad state")

    assert call_within(0.1, stopped_in_cleanup) == (None, False)

    def fails_on_its_own():
        raise RuntimeError("a plain failure")

    with pytest.raises(RuntimeError, match="a plain failure"):  # any other error is the function's own
        call_within(5, fails_on_its_own)


def test_short_message_keeps_onnxruntimes_line_with_the_sizes():
    error = RuntimeError("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: tokens for the "
                         "following indices\n index: 0 Got: 3 Expected: 2\n Please fix either the inputs/outputs or the "
                         "model.")
    said = H.short_message(error, limit=300)
    assert said.endswith("for the following indices index: 0 Got: 3 Expected: 2"), said


def test_sample_models_come_in_the_mode_their_docstring_says():
    in_eval = {"dropout_bn", "digits_cnn", "resnet18", "mobilenet_v3_small"}
    from helpers.models import SAMPLE_MODELS
    for name in SAMPLE_MODELS:
        assert H.sample_model(name).training == (name not in in_eval), name


def test_the_course_resnet18_is_torchvisions_weight_for_weight_and_node_for_node():
    # 03 and 07 build resnet18 without importing torchvision (whose import brings torch._dynamo): it must stay
    # torchvision's network, so the same seed gives the same weights, the same outputs and the same graph
    import torchvision
    ours = H.sample_model("resnet18")
    torch.manual_seed(0)
    theirs = torchvision.models.resnet18(weights=None).eval()
    mine, reference = ours.state_dict(), theirs.state_dict()
    assert list(mine) == list(reference)
    assert all(torch.equal(mine[key], reference[key]) for key in mine)
    x = H.example_input("resnet18")[0]
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
    kinds = [[node.kind() for node in torch.jit.script(model).inlined_graph.nodes()] for model in (ours, theirs)]
    assert kinds[0] == kinds[1]
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__ for m in theirs.modules()]


def test_building_the_course_resnet18_imports_neither_torchvision_nor_dynamo():
    code = ("import sys, helpers as H; H.sample_model('resnet18'); "
            "print(sorted(m for m in ('torchvision', 'torch._dynamo') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=str(H.REPO_ROOT))
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "[]"


KEPT_ERROR_MODELS = '''
from dataclasses import dataclass
import torch
from torch import nn


@dataclass
class Out:
    logits: torch.Tensor


class ReturnsDataclass(nn.Module):
    def forward(self, x):
        return Out(x * 2)


class CallsAMissingMethod(nn.Module):
    def forward(self, x):
        return self.nowhere(x)
'''


@pytest.mark.parametrize("keeper", ["attempt", "expect_failure", "gallery script"])
def test_a_kept_scripting_error_does_not_leak_into_later_torchscript_errors(tmp_path, keeper):
    # torch appends the call chain of a failed compile whose frames are still alive to every later TorchScript
    # error ("... is being compiled since it was called from ..."): kept errors must not hold their frames
    code = f"""
import sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {str(tmp_path)!r})
import torch, helpers as H
from helpers.tools.gallery import _script
import kept_error_models as M
if {keeper!r} == "attempt":
    with H.attempt(show=False) as kept:
        torch.jit.script(M.ReturnsDataclass())
elif {keeper!r} == "expect_failure":
    kept = H.expect_failure(Exception, quiet=True)
    with kept:
        torch.jit.script(M.ReturnsDataclass())
else:
    kept = _script(M.ReturnsDataclass())
try:
    torch.jit.script(M.CallsAMissingMethod())
except Exception as error:
    print("stale" if "being compiled since it was called from" in str(error) else "clean")
"""
    (tmp_path / "kept_error_models.py").write_text(KEPT_ERROR_MODELS)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=str(H.REPO_ROOT))
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.strip() == "clean"


def test_expect_failure_still_shows_the_traceback_it_caught(capsys):
    with H.expect_failure(ZeroDivisionError, quiet=True) as caught:
        1 / 0
    assert caught.error.__traceback__ is None
    caught.show_traceback()
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_time_limit_without_sigalrm_stops_an_endless_loop_with_a_timer_thread(monkeypatch):
    """Windows has no SIGALRM: there a timer thread interrupts the main thread, read as the limit."""
    import signal
    from helpers.course import guards
    from helpers.course.guards import TimeLimitReached, time_limit

    monkeypatch.setattr(guards, "_ALARM", False)
    with pytest.raises(TimeLimitReached) as stopped:
        with time_limit(0.2) as token:
            while True:
                pass
    assert stopped.value.limit is token
    with time_limit(30):          # the outer limit
        with time_limit(0.1):     # an inner one leaves the outer in charge: nothing fires at 0.1 s
            time.sleep(0.3)
    with pytest.raises(KeyboardInterrupt):  # the learner's own interrupt stays one
        with time_limit(30):
            raise KeyboardInterrupt
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0 and guards._timer_depth == [0]


def test_typed_message_says_the_type_once_for_errors_from_inside_torchscript():
    from helpers.course.failures import typed_message

    @torch.jit.script
    def reshape(x):
        return x.view(297, 64)

    try:
        reshape(torch.zeros(3, 8))
    except Exception as error:
        inside = error
    assert typed_message(inside).startswith("RuntimeError: shape '[297, 64]' is invalid")
    assert "RuntimeError: RuntimeError" not in typed_message(inside)
    assert typed_message(ValueError("wrong size")) == "ValueError: wrong size"
    assert typed_message(RuntimeError("RuntimeError: said twice")) == "RuntimeError: said twice"


def test_the_courses_own_one_line_errors_are_shown_whole_by_expect_failure(capsys, tmp_path):
    import torch
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(1)}, path)
    with H.expect_failure(H.TorchScriptFileError, "written by torch.save"):
        H.load_torchscript(path)
    out = capsys.readouterr().out
    assert out.rstrip().endswith("which needs the model's class") and "…" not in out
