"""The 05 exercise checkers accept the worked solutions and explain wrong answers."""
import functools
import json
import pickle
import sys

import pytest
import torch
import torch as t
from torch import load
from torch.serialization import load as serialization_load

import helpers as H


def load_solution():
    return H.load_solution("05_save_and_load")


def test_labelled_export_solution_passes(tmp_path, capsys):
    path = load_solution().export_with_labels(tmp_path / "labelled.pt")
    assert H.check_labelled_export(path)
    assert capsys.readouterr().out.startswith("✔")


def test_labelled_export_wrong_answers(tmp_path, capsys):
    assert not H.check_labelled_export(None)
    assert "Save your model first" in capsys.readouterr().out
    assert not H.check_labelled_export(tmp_path / "missing.pt")
    assert "no file" in capsys.readouterr().out

    weights = tmp_path / "weights.pt"
    torch.save(H.load_digits_cnn().state_dict(), weights)
    assert not H.check_labelled_export(weights)
    assert "torch.save" in capsys.readouterr().out

    scripted = torch.jit.script(H.load_digits_cnn())
    cases = {
        "nolabels.pt": ({}, "no extra file 'labels.json'"),
        "notjson.pt": ({"labels.json": "zero, one"}, "not valid JSON"),
        "short.pt": ({"labels.json": json.dumps(["a", "b"])},
                     "list of 10 non-empty strings, one name per digit 0-9; it holds a list of 2"),
        "dupes.pt": ({"labels.json": json.dumps(["x"] * 10)}, "share a name"),
    }
    for name, (extra, hint) in cases.items():
        torch.jit.save(scripted, str(tmp_path / name), _extra_files=extra)
        assert not H.check_labelled_export(tmp_path / name)
        assert hint in capsys.readouterr().out, name

    untrained = tmp_path / "untrained.pt"
    torch.manual_seed(1)
    torch.jit.save(torch.jit.script(H.DigitsCNN()), str(untrained),
                   _extra_files={"labels.json": json.dumps([str(i) for i in range(10)])})
    assert not H.check_labelled_export(untrained)
    assert "not give the trained CNN's answers" in capsys.readouterr().out


def test_safe_loader_solution_passes(capsys):
    assert H.check_safe_weights_loader(load_solution().load_weights)
    assert capsys.readouterr().out.startswith("✔")


def test_a_loader_that_widens_the_process_wide_allowlist_is_refused_and_the_list_restored(capsys):
    import pathlib

    def widening(path):  # refuses every payload still, but every later torch.load in the kernel would trust these
        torch.serialization.add_safe_globals([pathlib.Path.touch, pathlib.PosixPath])
        model = H.DigitsCNN()
        model.load_state_dict(torch.load(path, weights_only=True))
        return model

    before = set(torch.serialization.get_safe_globals())
    assert not H.check_safe_weights_loader(widening)
    out = capsys.readouterr().out
    assert out.startswith("✘ Every file was handled right") and "for the whole process" in out and "safe_globals([...])" in out
    assert set(torch.serialization.get_safe_globals()) == before  # the checker took its additions back


def test_safe_loader_wrong_answers(capsys):
    def trusting(path):  # the mistake the exercise is about
        model = H.DigitsCNN()
        model.load_state_dict(torch.load(path, weights_only=False))
        return model

    assert not H.check_safe_weights_loader(trusting)
    assert "ran its code" in capsys.readouterr().out

    def returns_dict(path):
        return torch.load(path, weights_only=True)

    assert not H.check_safe_weights_loader(returns_dict)
    out = capsys.readouterr().out
    assert "returned the state_dict itself" in out and "return the model" in out

    def stub(path):  # the cell as the notebook hands it out
        return None

    assert not H.check_safe_weights_loader(stub)
    out = capsys.readouterr().out
    assert "returned None" in out and "H.DigitsCNN" in out
    assert "load_state_dict" not in out  # a hint, not the solution

    assert not H.check_safe_weights_loader(lambda path: [1, 2])
    assert "returned a list" in capsys.readouterr().out
    assert not H.check_safe_weights_loader(lambda path: 3)
    assert "returned an int" in capsys.readouterr().out

    def forgets_weights(path):
        torch.load(path, weights_only=True)
        return H.DigitsCNN()

    assert not H.check_safe_weights_loader(forgets_weights)
    assert "load_state_dict" in capsys.readouterr().out

    assert not H.check_safe_weights_loader("load_weights")
    assert "Pass the function itself" in capsys.readouterr().out
    assert not H.check_safe_weights_loader(None)
    assert "Define your function first" in capsys.readouterr().out


def test_untrusted_payload_really_runs_code_when_trusted(tmp_path):
    """The checker's bait must be real: weights_only=False runs it, weights_only=True refuses it."""
    marker = tmp_path / "ran.txt"
    torch.save({"note": H.UntrustedPayload(marker)}, tmp_path / "bait.pt")
    try:
        torch.load(tmp_path / "bait.pt", weights_only=True)
    except Exception as error:
        assert "Weights only load failed" in str(error)
    else:
        raise AssertionError("weights_only=True loaded a pickled object")
    assert not marker.exists()
    torch.load(tmp_path / "bait.pt", weights_only=False)
    assert marker.exists()


def test_labelled_export_names_the_real_mistake(tmp_path, capsys):
    scripted = torch.jit.script(H.load_digits_cnn())
    names = [str(i) for i in range(10)]
    mistakes = {
        # the extra file under another name: the message lists what the file does hold
        "wrong_name.pt": ({"labels": json.dumps(names)}, "its extra files: 'labels'"),
        # str() of a list instead of json.dumps: single quotes
        "repr.pt": ({"labels.json": str(names)}, "Python's str() of a list"),
        # a dict from digit to name instead of a list
        "dict.pt": ({"labels.json": json.dumps({i: n for i, n in enumerate(names)})}, "it holds a dict"),
        # numbers instead of names
        "numbers.pt": ({"labels.json": json.dumps(list(range(10)))}, "list of 10 non-empty strings"),
    }
    for name, (extra, hint) in mistakes.items():
        torch.jit.save(scripted, str(tmp_path / name), _extra_files=extra)
        assert not H.check_labelled_export(tmp_path / name)
        out = capsys.readouterr().out
        assert out.startswith("✘") and hint in out, (name, out)

    torch.save(H.load_digits_cnn(), tmp_path / "pickled.pt")  # torch.save of the module, not torch.jit.save
    assert not H.check_labelled_export(tmp_path / "pickled.pt")
    assert "torch.save" in capsys.readouterr().out


def test_labelled_export_never_crashes_on_odd_input(tmp_path, capsys):
    for odd in (True, 3, torch.tensor(float("nan")), torch.tensor(True), H.DigitsCNN, tmp_path, ""):
        assert H.check_labelled_export(odd) is False
        out = capsys.readouterr().out
        assert out.startswith("✘") and len(out.strip().splitlines()) == 1


def test_labelled_export_praises_what_was_done(tmp_path, capsys):
    """A traced export of the softmax wrapper is a fine answer too: the ✔ says only what the check saw."""
    class WithSoftmax(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cnn = H.load_digits_cnn()

        def forward(self, x):
            return torch.softmax(self.cnn(x), dim=1)

    x, _ = H.load_digits("test")
    torch.jit.save(torch.jit.trace(WithSoftmax().eval(), x[:1]), str(tmp_path / "traced.pt"),
                   _extra_files={"labels.json": json.dumps([f"digit {i}" for i in range(10)])})
    assert H.check_labelled_export(tmp_path / "traced.pt")
    out = capsys.readouterr().out
    assert out.startswith("✔") and "digit " in out


def test_safe_loader_names_the_real_mistake(capsys):
    def swallows_the_refusal(path):  # catches the error and hands back an empty model
        model = H.DigitsCNN()
        try:
            model.load_state_dict(torch.load(path, weights_only=True))
        except Exception:
            return model
        return model

    assert not H.check_safe_weights_loader(swallows_the_refusal)
    out = capsys.readouterr().out
    assert "instead of raising" in out and "returned a model" in out

    def returns_none_when_refused(path):
        try:
            state = torch.load(path, weights_only=True)
        except Exception:
            return None
        model = H.DigitsCNN()
        model.load_state_dict(state)
        return model

    assert not H.check_safe_weights_loader(returns_none_when_refused)
    assert "returned None instead of raising" in capsys.readouterr().out

    def uses_jit_load(path):  # the TorchScript loader on a torch.save file
        return torch.jit.load(str(path))

    assert not H.check_safe_weights_loader(uses_jit_load)
    out = capsys.readouterr().out
    assert "torch.jit.load reads TorchScript files" in out

    def unpickles_by_hand(path):  # plain pickle: the file is a zip, and pickle would run code anyway
        import pickle
        with open(path, "rb") as f:
            return pickle.load(f)

    assert not H.check_safe_weights_loader(unpickles_by_hand)
    assert capsys.readouterr().out.startswith("✘")


def test_safe_loader_never_crashes_on_odd_input(capsys):
    for odd in (True, torch.tensor(True), torch.tensor(float("nan")), 3):
        assert H.check_safe_weights_loader(odd) is False
        assert "Pass the function itself" in capsys.readouterr().out
    assert H.check_safe_weights_loader(H.DigitsCNN) is False
    assert "not the class DigitsCNN" in capsys.readouterr().out
    assert H.check_safe_weights_loader(lambda path: H.DigitsCNN) is False  # returns the class, not a model
    assert "returned the class DigitsCNN itself" in capsys.readouterr().out


def test_safe_loader_needs_the_files_own_weights(capsys):
    def ignores_the_file(path):  # a shortcut: the course's trained model, whatever the file holds
        torch.load(path, weights_only=True)
        return H.load_digits_cnn()

    assert not H.check_safe_weights_loader(ignores_the_file)
    out = capsys.readouterr().out
    assert "not those of the weights in the file" in out and out.startswith("✘")
    assert not H.check_safe_weights_loader(3)
    assert "not an int" in capsys.readouterr().out


def test_labelled_export_names_a_pickled_model_and_a_dtype(tmp_path, capsys):
    whole = tmp_path / "whole.pt"
    torch.save(H.load_digits_cnn(), whole)  # a whole module: weights_only=True refuses it as well
    assert not H.check_labelled_export(whole)
    out = capsys.readouterr().out
    assert "whole pickled model" in out and "load it with torch.load" not in out

    doubled = tmp_path / "double.pt"
    torch.jit.save(torch.jit.script(H.load_digits_cnn().double()), str(doubled),
                   _extra_files={"labels.json": json.dumps([f"d{i}" for i in range(10)])})
    assert not H.check_labelled_export(doubled)
    out = capsys.readouterr().out
    assert "297 test digits" in out and "float32" in out and "interpreter" not in out

    blank = tmp_path / "blank.pt"
    torch.jit.save(torch.jit.script(H.load_digits_cnn()), str(blank),
                   _extra_files={"labels.json": json.dumps([" " * (i + 1) for i in range(10)])})
    assert not H.check_labelled_export(blank)
    assert "The name of digit 0 is ' ', blank" in capsys.readouterr().out
    one_empty = tmp_path / "one_empty.pt"  # a long list shortened in a message could hide it: named by its digit
    torch.jit.save(torch.jit.script(H.load_digits_cnn()), str(one_empty),
                   _extra_files={"labels.json": json.dumps([f"digit number {i}" for i in range(9)] + [""])})
    assert not H.check_labelled_export(one_empty)
    assert "The name of digit 9 is '', blank" in capsys.readouterr().out


# ---------------------------------------------------------------- a reviewer's cases

def test_labelled_export_names_the_true_digit_and_rejects_labels_out_of_order(tmp_path, capsys):
    x, truth = H.load_digits("test")
    path = load_solution().export_with_labels(tmp_path / "labelled.pt")
    assert H.check_labelled_export(path)
    assert f"the first test digit, a {int(truth[0])}, reads as " in capsys.readouterr().out

    scripted = torch.jit.script(H.load_digits_cnn())
    shifted = tmp_path / "shifted.pt"  # one off: digit 0 named "1", ..., digit 9 named "10"
    torch.jit.save(scripted, str(shifted), _extra_files={"labels.json": json.dumps([str(i) for i in range(1, 11)])})
    assert not H.check_labelled_export(shifted)
    out = capsys.readouterr().out
    assert out.startswith("✘") and "not in the digits' order" in out and "digit 0 '1'" in out, out
    assert f"the first test digit, a {int(truth[0])}, reads as '{int(truth[0]) + 1}'" in out

    latin1 = tmp_path / "latin1.pt"
    names = ["zéro"] + [f"d{i}" for i in range(1, 10)]
    torch.jit.save(scripted, str(latin1),
                   _extra_files={"labels.json": json.dumps(names, ensure_ascii=False).encode("latin-1")})
    assert not H.check_labelled_export(latin1)
    out = capsys.readouterr().out
    assert out.startswith("✘") and "not UTF-8" in out and "0xe9" in out, out

    utf8 = tmp_path / "utf8.pt"  # the same names written as a str: fine, and names that spell no digit are fine
    torch.jit.save(scripted, str(utf8), _extra_files={"labels.json": json.dumps(names, ensure_ascii=False)})
    assert H.check_labelled_export(utf8)
    assert capsys.readouterr().out.startswith("✔")


def test_safe_loader_names_a_fallback_to_unsafe_loading(capsys):
    def falls_back(path):  # "if the safe load fails, try the unsafe one"
        try:
            state = torch.load(path, weights_only=True)
        except Exception:
            state = torch.load(path, weights_only=False)["weights"]
        model = H.DigitsCNN()
        model.load_state_dict(state)
        return model

    original = torch.load
    assert not H.check_safe_weights_loader(falls_back)
    out = capsys.readouterr().out
    assert out.startswith("✘") and "Drop the fallback" in out and "weights_only=False" in out, out
    assert torch.load is original and torch.serialization.load is original  # the recording is undone


def test_safe_loader_is_not_fooled_by_looking_for_one_payload(capsys):
    def sniffs(path):  # looks for the first payload's names, then trusts the file
        raw = _pickle_bytes(path)
        if b"touch" in raw or b"posix" in raw:
            raise ValueError("suspicious")
        model = H.DigitsCNN()
        model.load_state_dict(torch.load(path, weights_only=False))
        return model

    assert not H.check_safe_weights_loader(sniffs)
    out = capsys.readouterr().out
    assert out.startswith("✘") and "a second one ran its code" in out and "weights_only=False" in out, out
    from helpers.exercises.ex05_save_and_load import _Tripwire
    assert "ran" not in _Tripwire.__dict__  # the checker leaves no trace
    assert H.check_safe_weights_loader(load_solution().load_weights)
    assert capsys.readouterr().out.startswith("✔")


def _pickle_bytes(path) -> bytes:
    """The pickle inside a torch.save file (its data.pkl), what a loader that looks for names would read."""
    import zipfile
    with zipfile.ZipFile(path) as archive:
        return b"".join(archive.read(n) for n in archive.namelist() if n.endswith("data.pkl"))


def test_other_payload_is_real_and_shares_no_name_with_the_first(tmp_path):
    """The second bait must be real too, and look nothing like the first."""
    from helpers.exercises.ex05_save_and_load import OtherPayload, _Tripwire
    torch.save({"note": OtherPayload("token-1")}, tmp_path / "bait.pt")
    raw = _pickle_bytes(tmp_path / "bait.pt")
    assert b"touch" not in raw and b"posix" not in raw and b"pathlib" not in raw
    try:
        torch.load(tmp_path / "bait.pt", weights_only=True)
    except Exception as error:
        assert "Weights only load failed" in str(error)
    else:
        raise AssertionError("weights_only=True loaded a pickled object")
    assert "ran" not in _Tripwire.__dict__
    try:
        torch.load(tmp_path / "bait.pt", weights_only=False)
        assert _Tripwire.__dict__.get("ran") == "token-1"
    finally:
        if "ran" in _Tripwire.__dict__:
            del _Tripwire.ran


# ---------------------------------------------------------------- torch.load under another name

# Names bound when this module was imported, as a learner's `from torch import load` cell binds them: before the checker
# runs, so the checker cannot swap them for anything of its own.
_unsafe_load = functools.partial(torch.load, weights_only=False)


def _falls_back_with(loader):
    def load_weights(path):
        try:
            state = loader(path, weights_only=True)
        except Exception:
            state = loader(path, weights_only=False)["weights"]
        model = H.DigitsCNN()
        model.load_state_dict(state)
        return model
    return load_weights


def _from_import_trusting(path):
    model = H.DigitsCNN()
    model.load_state_dict(load(path, weights_only=False))
    return model


def _alias_trusting(path):
    model = H.DigitsCNN()
    model.load_state_dict(t.load(path, weights_only=False))
    return model


def _partial_trusting(path):
    model = H.DigitsCNN()
    model.load_state_dict(_unsafe_load(path))
    return model


@pytest.mark.parametrize("loader", [load, t.load, serialization_load], ids=["from torch import load", "t.load",
                                                                             "torch.serialization.load"])
def test_safe_loader_names_a_fallback_under_any_name(capsys, loader):
    assert not H.check_safe_weights_loader(_falls_back_with(loader))
    out = capsys.readouterr().out
    assert out.startswith("✘") and "refused the file" in out and "Drop the fallback" in out, out
    assert "weights_only=False" in out and "use torch.load(path, weights_only=True)" not in out, out


@pytest.mark.parametrize("load_weights", [_from_import_trusting, _alias_trusting, _partial_trusting])
def test_safe_loader_names_an_unsafe_load_under_any_name(capsys, load_weights):
    assert not H.check_safe_weights_loader(load_weights)
    out = capsys.readouterr().out
    assert out.startswith("✘") and "loaded it with torch.load(..., weights_only=False)" in out, out


def test_safe_loader_names_a_fallback_through_pickle_module(capsys):
    def falls_back(path):  # no weights_only at all: a pickle_module turns it off
        try:
            state = torch.load(path, weights_only=True)
        except Exception:
            state = torch.load(path, pickle_module=pickle)["weights"]
        model = H.DigitsCNN()
        model.load_state_dict(state)
        return model

    assert not H.check_safe_weights_loader(falls_back)
    out = capsys.readouterr().out
    assert out.startswith("✘") and "Drop the fallback" in out and "pickle_module" in out, out
    assert "weights_only=False" not in out and "use torch.load(path, weights_only=True)" not in out, out


def test_safe_loader_hands_tracing_back():
    def tracer(frame, event, arg):
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        assert H.check_safe_weights_loader(_falls_back_with(load)) is False
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)


def test_safe_loader_names_a_refusal_caught_and_replaced_by_another_value(capsys):
    def returns_a_message(path):
        try:
            state = torch.load(path, weights_only=True)
        except Exception:
            return "refused: this file is not safe"
        model = H.DigitsCNN()
        model.load_state_dict(state)
        return model

    assert not H.check_safe_weights_loader(returns_a_message)
    out = capsys.readouterr().out
    assert "caught that and returned a str" in out and "loaded without an error" not in out, out


def test_safe_loader_survives_a_model_in_another_dtype(capsys):
    def doubles(path):
        model = H.DigitsCNN()
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.double()

    assert not H.check_safe_weights_loader(doubles)
    out = capsys.readouterr().out
    assert out.startswith("✘ The returned model fails on the 297 test digits") and "float32" in out, out

    def halves(path):
        return doubles(path).half()

    assert not H.check_safe_weights_loader(halves)
    out = capsys.readouterr().out
    assert out.startswith("✘ The returned model fails on the 297 test digits") and "float32" in out, out


def test_safe_loader_names_an_allowlist_that_lets_the_code_through(capsys):
    import pathlib
    from helpers.exercises.ex05_save_and_load import _Tripwire

    def allows_everything(path):
        with torch.serialization.safe_globals([pathlib.Path.touch, pathlib.PosixPath, setattr, _Tripwire]):
            state = torch.load(path, weights_only=True)
        state = state.get("weights", state)
        model = H.DigitsCNN()
        model.load_state_dict(state)
        return model

    assert not H.check_safe_weights_loader(allows_everything)
    out = capsys.readouterr().out
    assert "an allowlist" in out and "use torch.load(path, weights_only=True)" not in out, out


def test_safe_loader_meets_the_payload_before_the_tensors(capsys):
    import io
    import zipfile

    class StopsAtTensors(pickle.Unpickler):  # an unpickler of one's own, which cannot rebuild tensors
        def persistent_load(self, pid):
            return None

    def falls_back_by_hand(path):
        try:
            state = torch.load(path, weights_only=True)
        except Exception:
            with zipfile.ZipFile(path) as archive:
                name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
                state = StopsAtTensors(io.BytesIO(archive.read(name))).load()
        model = H.DigitsCNN()
        model.load_state_dict(state)
        return model

    assert not H.check_safe_weights_loader(falls_back_by_hand)
    out = capsys.readouterr().out
    assert "ran its code" in out and "read it another way" in out and "allowlist" not in out, out


@pytest.mark.parametrize("env", [None, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_WEIGHTS_ONLY_LOAD"])
@pytest.mark.parametrize("pickle_module", [None, pickle], ids=["no pickle_module", "pickle_module"])
@pytest.mark.parametrize("passed", [None, True, False], ids=["left out", "True", "False"])
def test_the_checkers_rule_for_an_unsafe_load_is_torchs_own(tmp_path, monkeypatch, env, pickle_module, passed):
    """The recorder computes whether a load runs with weights_only off: check it against what torch.load does."""
    from helpers.exercises.ex05_save_and_load import _runs_unsafe
    if env:
        monkeypatch.setenv(env, "1")
    marker = tmp_path / "ran.txt"
    torch.save({"note": H.UntrustedPayload(marker)}, tmp_path / "bait.pt")
    kwargs = {} if passed is None else {"weights_only": passed}
    if pickle_module is not None:
        kwargs["pickle_module"] = pickle_module
    try:
        torch.load(tmp_path / "bait.pt", **kwargs)
    except Exception:
        pass  # refused (weights_only on), or weights_only with a pickle_module: nothing ran either way
    assert _runs_unsafe(passed, pickle_module) == marker.exists()


def test_safe_loader_records_loads_under_a_tracer_that_reinstalls_itself(tmp_path):
    """coverage (as a debugger may) puts its own tracer back at every call: the recorder must not depend on tracing."""
    script = tmp_path / "check_under_coverage.py"
    script.write_text(f"""
import sys
sys.path[:0] = [{str(H.REPO_ROOT)!r}, {str(H.REPO_ROOT / "tests")!r}]
import torch, helpers as H
from test_exercises_save_load import _falls_back_with

H.check_safe_weights_loader(_falls_back_with(torch.load))
print("restored:", torch.load.__code__ is torch.serialization.load.__code__ and "_workbook_record" not in
      (torch.load.__kwdefaults__ or {{}}))
""")
    env = {**__import__("os").environ, "TS_WORKBOOK_WORK": str(tmp_path / "work")}
    done = __import__("subprocess").run([sys.executable, "-m", "coverage", "run", "--data-file", str(tmp_path / "cov"),
                                         str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused the file, then it loaded the file again with torch.load(..., weights_only=False)" in done.stdout
    assert "restored: True" in done.stdout


def test_torch_load_is_itself_again_after_a_check_that_was_interrupted():
    code, kwdefaults = torch.load.__code__, dict(torch.load.__kwdefaults__)

    swapped = []

    def interrupted(path):  # loads the real weights; on the file carrying code, the learner presses stop
        try:
            state = torch.load(path, weights_only=True)
        except Exception:
            swapped.append(torch.load.__code__ is not code)
            raise KeyboardInterrupt from None
        model = H.DigitsCNN()
        model.load_state_dict(state)
        return model

    with pytest.raises(KeyboardInterrupt):
        H.check_safe_weights_loader(interrupted)
    assert swapped == [True]  # the interruption came while the recording code stood in
    assert torch.load.__code__ is code and torch.load.__kwdefaults__ == kwdefaults


def test_a_model_passed_for_the_function_and_plain_pickle_are_named(tmp_path, capsys):
    import pickle as plain

    def with_pickle(path):
        with open(path, "rb") as f:
            return plain.load(f)
    assert not H.check_safe_weights_loader(H.DigitsCNN())  # what load_weights(path) returned, passed by mistake
    out = capsys.readouterr().out
    assert "not what it returned (a DigitsCNN)" in out and "conv2d" not in out, out
    assert not H.check_safe_weights_loader(with_pickle)
    assert "load it with torch.load" in capsys.readouterr().out


def test_a_loader_that_returns_what_load_state_dict_returns_is_told_so(capsys):
    def returns_the_report(path):
        return H.DigitsCNN().load_state_dict(torch.load(path, weights_only=True))

    assert not H.check_safe_weights_loader(returns_the_report)
    out = capsys.readouterr().out
    assert "what load_state_dict returns" in out and "then return the model" in out, out


def _exits_on_refusal(path):
    try:
        state = torch.load(path, weights_only=True)
    except Exception:
        sys.exit("refusing untrusted weights")
    model = H.DigitsCNN()
    model.load_state_dict(state)
    return model


def _exits_always(path):
    sys.exit("no")


def test_safe_loader_names_a_refusal_by_sys_exit(capsys):
    assert H.check_safe_weights_loader(_exits_on_refusal) is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and "sys.exit()" in out and "Raise an exception instead" in out
    assert H.check_safe_weights_loader(_exits_always) is False
    assert "Loading a real state_dict called sys.exit()" in capsys.readouterr().out


class _FixedBatchCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.cnn = H.load_digits_cnn()

    def forward(self, x):
        return self.cnn(x.reshape(297, 1, 8, 8))


def test_labelled_export_names_a_file_fixed_to_one_batch(tmp_path, capsys):
    path = tmp_path / "fixed.pt"
    torch.jit.save(torch.jit.script(_FixedBatchCNN().eval()), str(path),
                   _extra_files={"labels.json": json.dumps([f"digit {i}" for i in range(10)])})
    assert H.check_labelled_export(path) is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and "not a batch of one digit" in out and "✔" not in out


def _scan_then_unsafe(path):
    """A loader a learner might write: refuse any global from outside torch, then unpickle the file anyway."""
    import pickletools
    import zipfile
    with zipfile.ZipFile(path) as archive:
        raw = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    ops = list(pickletools.genops(raw))
    for i, (op, arg, _) in enumerate(ops):
        module = arg.split()[0] if op.name == "GLOBAL" else ops[i - 2][1] if op.name == "STACK_GLOBAL" else None
        if module is not None and str(module).split(".")[0] not in ("torch", "collections"):
            raise ValueError(f"untrusted global {module}")
    model = H.DigitsCNN()
    model.load_state_dict(torch.load(path, weights_only=False))
    return model


def _meta_loader(path):
    model = H.DigitsCNN()
    model.load_state_dict(torch.load(path, weights_only=True, map_location="meta"))
    return model


def _loads_into_the_class(path):
    H.DigitsCNN.load_state_dict(torch.load(path, weights_only=True))
    return H.DigitsCNN()


@pytest.mark.parametrize("loader, words", [
    (_scan_then_unsafe, "it called torch.save, a function of torch's own, which wrote a file"),
    (_meta_loader, "map_location='meta' gives tensors with no data"),
    (_loads_into_the_class, "load_state_dict was called on the class"),
])
def test_safe_loader_names_a_torch_allowlist_a_meta_load_and_the_class(loader, words, capsys):
    assert H.check_safe_weights_loader(loader) is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out, out


def test_labels_pickled_instead_of_json_are_named(tmp_path, capsys):
    path = tmp_path / "pickled_labels.pt"
    torch.jit.save(torch.jit.script(H.load_digits_cnn()), str(path),
                   _extra_files={"labels.json": pickle.dumps([f"digit {i}" for i in range(10)])})
    assert H.check_labelled_export(path) is False
    out = capsys.readouterr().out
    assert "holds pickled bytes (pickle.dumps), not text" in out and "latin-1" not in out


def test_the_torch_payload_is_real_and_only_torchs_own_names_carry_it(tmp_path):
    import pickletools
    import zipfile
    from helpers.exercises.ex05_save_and_load import TorchPayload
    marker = tmp_path / "written.pt"
    torch.save({"note": TorchPayload(marker)}, tmp_path / "bait.pt")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / "bait.pt", weights_only=True)
    assert not marker.exists()
    with zipfile.ZipFile(tmp_path / "bait.pt") as archive:
        raw = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    modules = [arg.split()[0] for op, arg, _ in pickletools.genops(raw) if op.name == "GLOBAL"]
    assert modules and all(m.startswith("torch") for m in modules), modules  # a scan for torch's names lets it by
    torch.load(tmp_path / "bait.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("extra, words", [
    ("", "is in the file but empty"),  # the read pattern ({"labels.json": ""}) copied into the save call
    (json.dumps(["a", "a ", "b", "c", "d", "e", "f", "g", "h", "i"]), "Digits 0 and 1 are named 'a' and 'a '"),
])
def test_labels_empty_or_named_alike_but_for_spaces_are_named(tmp_path, capsys, extra, words):
    path = tmp_path / "labelled.pt"
    torch.jit.save(torch.jit.script(H.load_digits_cnn()), str(path), _extra_files={"labels.json": extra})
    assert H.check_labelled_export(path) is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out, out


def test_labelled_export_names_it_cannot_read_are_left_to_the_learner(tmp_path, capsys):
    # Spanish names spell no digit the check reads: the ✔ praises the file, and leaves the names' order to confirm
    spanish = ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"]
    shuffled = spanish[1:] + spanish[:1]
    path = tmp_path / "spanish.pt"
    torch.jit.save(torch.jit.script(H.load_digits_cnn()), str(path),
                   _extra_files={"labels.json": json.dumps(shuffled)})
    assert H.check_labelled_export(path)
    out = capsys.readouterr().out
    assert "their order is yours to confirm" in out and "carries the model and its labels" not in out


def test_labelled_export_a_save_that_stopped_half_way_is_named(tmp_path, capsys):
    path = tmp_path / "half.pt"
    with pytest.raises(RuntimeError):
        torch.save(torch.jit.script(H.load_digits_cnn()), path)  # torch.save cannot pickle a ScriptModule
    assert not H.check_labelled_export(path)
    assert "the save that wrote it did not finish" in capsys.readouterr().out


def test_a_loader_that_skips_missing_weights_is_refused(capsys):
    def lenient(path):  # strict=False: a file that does not fit the model loads, with that layer left random
        model = H.DigitsCNN()
        model.load_state_dict(torch.load(path, weights_only=True), strict=False)
        return model

    assert not H.check_safe_weights_loader(lenient)
    out = capsys.readouterr().out
    assert out.startswith("✘ Every file carrying code was refused, but given a state_dict with one weight missing") and "strict=False" in out

    def lenient_assign(path):  # assign=True with the default strict: still refuses a missing key, so right
        model = H.DigitsCNN()
        model.load_state_dict(torch.load(path, weights_only=True, mmap=True), assign=True)
        return model

    assert H.check_safe_weights_loader(lenient_assign)
    assert capsys.readouterr().out.startswith("✔")
