"""The 10 exercise checkers accept the worked solutions and reject the mistakes learners really make."""
import warnings

import pytest
import torch

import helpers as H


@pytest.fixture(autouse=True, scope="module")
def fresh_script_cache_afterwards():
    """The legacy ONNX exporter, given a scripted model, inlines the compiled graph that torch.jit.script
    shares between every scripted copy of the same class in this process: later tests that script
    DigitsCNN would see its inlined graph. Forget the compiled classes after this module."""
    yield
    torch.jit._recursive.concrete_type_store = torch.jit._recursive.ConcreteTypeStore()


def solution():
    return H.load_solution("10_shipping")


class LoopAsGiven(torch.nn.Module):  # the exercise as given: prim::Loop over x.size(0)
    def forward(self, x):
        total = torch.zeros_like(x[0])
        for i in range(x.size(0)):
            total = total + x[i]
        return total


class SumsEverything(torch.nn.Module):
    def forward(self, x):
        return x.sum()


class SumsColumns(torch.nn.Module):
    def forward(self, x):
        return x.sum(1)


class ConstantTripCount(torch.nn.Module):  # converts, but only right for exactly 5 rows
    def forward(self, x):
        total = torch.zeros_like(x[0])
        for i in range(5):
            total = total + x[i]
        return total


def test_running_sum_solution_passes(capsys):
    assert H.check_running_sum_migrates(solution().RunningSum())
    assert "✔" in capsys.readouterr().out


def test_running_sum_scripted_solution_passes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert H.check_running_sum_migrates(torch.jit.script(solution().RunningSum()))


@pytest.mark.parametrize("model, feedback", [
    (LoopAsGiven(), "prim::Loop"),
    (SumsEverything(), "over dimension 0"),
    (SumsColumns(), "over dimension 0"),
    (ConstantTripCount(), "fails on the 1 row input"),
])
def test_running_sum_wrong_answers_rejected(model, feedback, capsys):
    assert H.check_running_sum_migrates(model) is False
    out = capsys.readouterr().out
    assert "✘" in out and feedback in out and "✔" not in out


@pytest.mark.parametrize("odd", [None, LoopAsGiven, torch.tensor(True), torch.tensor(float("nan")), "model.pt"])
def test_running_sum_odd_input_does_not_crash(odd, capsys):
    assert H.check_running_sum_migrates(odd) is False
    assert "✘" in capsys.readouterr().out


def test_tempered_onnx_solution_passes(tmp_path, capsys):
    path = solution().export_tempered_onnx(tmp_path / "tempered.onnx")
    assert H.check_tempered_onnx(path)
    assert "✔" in capsys.readouterr().out


def _legacy_export(path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(torch.jit.script(H.TemperedDigits()), H.tempered_inputs(4), str(path), dynamo=False, **options)
    return path


@pytest.mark.parametrize("options, feedback", [
    ({"input_names": ["images", "temperature"]}, "images (batch fixed at 4)"),                     # no dynamic_axes
    ({"input_names": ["images", "temperature"], "dynamic_axes": {"images": {0: "batch"}}},
     "temperature (batch fixed at 4)"),                                                            # one input only
    ({"dynamic_axes": {"images": {0: "batch"}, "temperature": {0: "batch"}}}, "set them with input_names"),  # names unset
])
def test_tempered_onnx_wrong_exports_rejected(tmp_path, options, feedback, capsys):
    path = _legacy_export(tmp_path / "wrong.onnx", **options)
    assert H.check_tempered_onnx(path) is False
    out = capsys.readouterr().out
    assert feedback in out and "✔" not in out


def test_tempered_onnx_other_model_rejected(tmp_path, capsys):
    path = tmp_path / "cnn_only.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(torch.jit.script(H.load_digits_cnn()), (H.tempered_inputs(4)[0],), str(path), dynamo=False,
                          input_names=["images"], dynamic_axes={"images": {0: "batch"}})
    assert H.check_tempered_onnx(path) is False
    assert "takes two" in capsys.readouterr().out


@pytest.mark.parametrize("odd", [None, 3, "no_such_file.onnx", torch.tensor(True)])
def test_tempered_onnx_odd_input_does_not_crash(odd, capsys):
    assert H.check_tempered_onnx(odd) is False
    assert "✘" in capsys.readouterr().out
