"""The 05 exercise checkers accept the worked solutions and explain wrong answers."""
import json

import torch

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
        "short.pt": ({"labels.json": json.dumps(["a", "b"])}, "list of 10 non-empty strings"),
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
