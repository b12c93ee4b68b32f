"""The 10 exercise checkers accept the worked solutions and reject the mistakes learners really make."""
import re
import warnings

import numpy as np
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
    out = capsys.readouterr().out
    assert "✔" in out and "eager and scripted" in out


def test_running_sum_scripted_solution_passes(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert H.check_running_sum_migrates(torch.jit.script(solution().RunningSum()))
    out = capsys.readouterr().out  # no eager model was checked: the praise says only what ran
    assert "✔" in out and "eager" not in out


class BuiltinSum(torch.nn.Module):  # right in eager (Python adds up the rows); scripted, torch.sum of everything
    def forward(self, x):
        return sum(x)


class Float64Sum(torch.nn.Module):
    def forward(self, x):
        return x.sum(0, dtype=torch.float64)


class LoopLeftInPython(torch.nn.Module):  # scripts, but a .pt cannot hold the ignored Python
    @torch.jit.ignore
    def loop(self, x: torch.Tensor) -> torch.Tensor:
        return reference_loop(x)

    def forward(self, x):
        return self.loop(x)


class InPlaceSum(torch.nn.Module):  # the right numbers, but the caller's tensor changes
    def forward(self, x):
        total = x[0]
        total += x[1:].sum(0)
        return total


class LoopHiddenFromScript(torch.nn.Module):  # the .pt migrates, but the class still loops in eager
    def forward(self, x):
        if torch.jit.is_scripting():
            return x.sum(0)
        return reference_loop(x)


class BranchOnRows(torch.nn.Module):  # right sums, but a branch on the row count: the program keeps one side
    def forward(self, x):
        if x.size(0) == 1:
            return x[0]
        return x.sum(0)


class StackedRows(torch.nn.Module):  # a list of the rows: its length is fixed when converted
    def forward(self, x):
        return torch.stack(x.unbind(0)).sum(0)


class FixedEight(torch.nn.Module):  # a loop over a fixed count
    def forward(self, x):
        total = torch.zeros_like(x[0])
        for i in range(8):
            total = total + x[i]
        return total


class FirstTwelveRows(torch.nn.Module):  # stops at the largest size the notebook names
    def forward(self, x):
        return x[:12].sum(0)


class FirstEightRows(torch.nn.Module):  # a bound taken from the sizes the notebook shows
    def forward(self, x):
        return x[:8].sum(0)


class ThreeColumns(torch.nn.Module):  # right only for rows of 3 values
    def forward(self, x):
        return torch.zeros(3) + x.sum(0)


class OnesTimes(torch.nn.Module):  # a matrix product: right only for 2-D inputs
    def forward(self, x):
        return torch.ones(x.size(0)) @ x


class FlattenedRows(torch.nn.Module):  # rows flattened: the sum loses the rows' own shape
    def forward(self, x):
        return x.reshape(x.size(0), -1).sum(0)


class SkipsNaN(torch.nn.Module):  # a "safer" sum: differs from the loop wherever a row holds NaN
    def forward(self, x):
        return torch.nansum(x, 0)


def reference_loop(x):
    total = torch.zeros_like(x[0])
    for i in range(x.size(0)):
        total = total + x[i]
    return total


class NumpySum(torch.nn.Module):
    def forward(self, x):
        return torch.from_numpy(np.sum(x.numpy(), axis=0))


class AxisSum(torch.nn.Module):  # NumPy's keyword: eager takes it, TorchScript does not
    def forward(self, x):
        return x.sum(axis=0)


class KeptDimension(torch.nn.Module):
    def forward(self, x):
        return x.sum(0, keepdim=True)


@pytest.mark.parametrize("model, feedback", [
    (LoopAsGiven(), "prim::Loop"),
    (KeptDimension(), "keepdim=True keeps dimension 0 as a size of 1"),
    (NumpySum(), "TorchScript cannot compile NumPy calls"),
    (AxisSum(), "TorchScript takes `dim=`, not NumPy's `axis=`"),
    (BuiltinSum(), "TorchScript reads Python's sum(x) as torch.sum(x)"),
    (Float64Sum(), "keep the input's dtype"),
    (LoopLeftInPython(), "cannot be saved"),
    (InPlaceSum(), "changed its input in place"),
    (SumsEverything(), "over dimension 0"),
    (SumsColumns(), "over dimension 0"),
    (ConstantTripCount(), "fails on the 1 row input"),
    (LoopHiddenFromScript(), "a loop over the rows is still there"),
    (BranchOnRows(), "Does forward branch on the number of rows"),
    (FirstEightRows(), "the sum of the first 8 rows only on the 12 rows input"),
    (FirstTwelveRows(), "the sum of the first 12 rows only on the "),  # the largest size the text names: one more is drawn
    (StackedRows(), "a list made from the rows (x.unbind(0)"),
    (FixedEight(), "a loop over a fixed number of rows, such as range(8)"),
    (ThreeColumns(), "on the 6 rows of 4 values input"),
    (OnesTimes(), "on the 4 rows of 2 × 5 values input"),
    (FlattenedRows(), "on the 4 rows of 2 × 5 values input"),
    (SkipsNaN(), "gives numbers where the running sum is NaN, on the 3 rows, one NaN input"),
])
def test_running_sum_wrong_answers_rejected(model, feedback, capsys):
    assert H.check_running_sum_migrates(model) is False
    out = capsys.readouterr().out
    assert "✘" in out and feedback in out and "✔" not in out
    # the course's inputs are as they were: a later answer is checked against the true running sums
    assert torch.equal(H.RUNNING_SUM_INPUTS["5 rows"], torch.arange(15, dtype=torch.float32).reshape(5, 3) - 7)


def test_the_sum_named_is_the_true_one_after_an_in_place_answer(capsys):
    H.check_running_sum_migrates(InPlaceSum())
    assert "tensor([-3., 6., 15.])" not in capsys.readouterr().out


@pytest.mark.parametrize("odd", [None, LoopAsGiven, torch.tensor(True), torch.tensor(float("nan")), "model.pt"])
def test_running_sum_odd_input_does_not_crash(odd, capsys):
    assert H.check_running_sum_migrates(odd) is False
    assert "✘" in capsys.readouterr().out


def test_tempered_onnx_solution_passes(tmp_path, capsys):
    path = solution().export_tempered_onnx(tmp_path / "tempered.onnx")
    assert H.check_tempered_onnx(path)
    assert "✔" in capsys.readouterr().out


def test_the_shared_batch_name_is_not_checked_by_onnxruntime(tmp_path):
    # what 10's exercise 2 says: one name for both batches is a statement in the file, which onnxruntime does not
    # enforce: 5 images with 1 temperature still run (the temperature broadcasts)
    import onnxruntime
    path = solution().export_tempered_onnx(tmp_path / "tempered.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images, temperature = H.tempered_inputs(5)
    (scores,) = session.run(None, {"images": images.numpy(), "temperature": temperature[:1].numpy()})
    assert scores.shape == (5, 10)


def _legacy_export(path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(torch.jit.script(H.TemperedDigits()), H.tempered_inputs(4), str(path), dynamo=False, **options)
    return path


def test_tempered_onnx_from_the_plain_model_passes_with_a_note_that_it_was_traced(tmp_path, capsys):
    names = {"input_names": ["images", "temperature"],
             "dynamic_axes": {"images": {0: "batch"}, "temperature": {0: "batch"}}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(H.TemperedDigits(), H.tempered_inputs(4), str(tmp_path / "plain.onnx"), dynamo=False, **names)
    assert H.check_tempered_onnx(tmp_path / "plain.onnx")  # the same computation: right, with a note
    out = capsys.readouterr().out
    assert "✔" in out and "came from the plain model, which the legacy exporter traces" in out
    assert H.check_tempered_onnx(_legacy_export(tmp_path / "scripted.onnx", **names))  # the cell's way
    out = capsys.readouterr().out
    assert "plain model" not in out and "a scripted copy and a torch.jit.trace copy give the same ONNX operations here" in out
    with warnings.catch_warnings():  # a traced copy: the same file as the scripted one, so the same note
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(H.TemperedDigits(), H.tempered_inputs(4))
        torch.onnx.export(traced, H.tempered_inputs(4), str(tmp_path / "traced.onnx"), dynamo=False, **names)
    import onnx
    nodes = [[n.op_type for n in onnx.load(tmp_path / name).graph.node] for name in ("traced.onnx", "scripted.onnx")]
    assert nodes[0] == nodes[1] and "Conv" in nodes[0]  # the note's claim: the same operations
    assert H.check_tempered_onnx(tmp_path / "traced.onnx")
    assert "a scripted copy and a torch.jit.trace copy give the same ONNX operations here" in capsys.readouterr().out


def test_tempered_onnx_from_the_default_exporter_is_named(tmp_path, capsys):
    batch = torch.export.Dim("batch")
    path = tmp_path / "dynamo.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(H.TemperedDigits(), H.tempered_inputs(4), path, dynamo=True, verbose=False,
                          dynamic_shapes=({0: batch}, {0: batch}))
    assert H.check_tempered_onnx(path) is False
    out = capsys.readouterr().out
    assert "made by the default exporter" in out and "dynamo=False" in out and "✔" not in out


def test_tempered_onnx_with_initializers_listed_as_inputs_is_right(tmp_path, capsys):
    names = {"input_names": ["images", "temperature"],
             "dynamic_axes": {"images": {0: "batch"}, "temperature": {0: "batch"}}}
    assert H.check_tempered_onnx(_legacy_export(tmp_path / "listed.onnx", keep_initializers_as_inputs=True, **names))
    assert capsys.readouterr().out.startswith("✔")
    assert not H.check_tempered_onnx(_legacy_export(tmp_path / "bare.onnx", export_params=False, **names))
    assert "and no weights" in capsys.readouterr().out


def test_tempered_onnx_temperature_of_another_shape_is_not_called_a_swap(tmp_path, capsys):
    images, temperature = H.tempered_inputs(4)
    path = tmp_path / "column.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(torch.jit.script(H.TemperedDigits()), (images, temperature.unsqueeze(1)), str(path),
                          dynamo=False, input_names=["images", "temperature"],
                          dynamic_axes={"images": {0: "batch"}, "temperature": {0: "batch"}})
    assert not H.check_tempered_onnx(path)
    out = capsys.readouterr().out
    assert "temperature was exported with 2 dimension(s)" in out and "swap" not in out, out


def test_tempered_onnx_image_sizes_declared_dynamic_are_refused(tmp_path, capsys):
    path = _legacy_export(tmp_path / "hw.onnx", input_names=["images", "temperature"],
                          dynamic_axes={"images": {0: "batch", 2: "h", 3: "w"}, "temperature": {0: "batch"}})
    assert not H.check_tempered_onnx(path)
    out = capsys.readouterr().out
    assert "images dimension 2 ('h')" in out and "declared dynamic" in out and "✔" not in out, out


@pytest.mark.parametrize("options, feedback", [
    ({"input_names": ["images", "temperature"]}, "images (batch fixed at 4)"),                     # no dynamic_axes
    ({"input_names": ["images", "temperature"], "dynamic_axes": {"images": {0: "batch"}}},
     "temperature (batch fixed at 4)"),                                                            # one input only
    ({"dynamic_axes": {"images": {0: "batch"}, "temperature": {0: "batch"}}}, "set them with input_names"),  # names unset
    ({"input_names": ["temperature", "images"], "dynamic_axes": {"images": {0: "b"}, "temperature": {0: "b"}}},
     "The input named temperature has 4 dimension(s)"),                                              # names swapped
    ({"input_names": ["images", "temperature"], "dynamic_axes": {"images": {0: "n"}, "temperature": {0: "m"}}},
     "under two names"),                                                                # nothing ties the batches
    ({"input_names": ["images", "temperature"], "dynamic_axes": {"images": [0], "temperature": [0]}},
     "the list form, [0], gives each input a generated name"),
    ({"input_names": ["images", "temperature"],                      # the channels named as the batch: a false claim
      "dynamic_axes": {"images": {0: "batch", 1: "batch"}, "temperature": {0: "batch"}}},
     "images dimension 1 carries the batch's name too ('batch')"),
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


def test_tempered_onnx_in_float64_is_named_as_such(tmp_path, capsys):
    path = tmp_path / "f64.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(torch.jit.script(H.TemperedDigits().double()),
                          tuple(t.double() for t in H.tempered_inputs(4)), str(path), dynamo=False,
                          input_names=["images", "temperature"],
                          dynamic_axes={"images": {0: "batch"}, "temperature": {0: "batch"}})
    assert H.check_tempered_onnx(path) is False
    out = capsys.readouterr().out
    assert "takes DOUBLE inputs" in out and "float32" in out and "cannot read" not in out, out


def test_tempered_onnx_given_a_folder_or_a_file_that_is_not_onnx(tmp_path, capsys):
    assert H.check_tempered_onnx(tmp_path) is False
    assert "is a folder" in capsys.readouterr().out
    junk = tmp_path / "notes.onnx"
    junk.write_text("not a model")
    assert H.check_tempered_onnx(junk) is False
    out = capsys.readouterr().out
    assert out.startswith("✘ onnx cannot read notes.onnx") and out.count("\n") == 1, out


def test_a_traced_copy_is_named_and_its_error_is_not_repeated(capsys):
    traced = torch.jit.trace(LoopAsGiven(), torch.randn(5, 3))
    assert not H.check_running_sum_migrates(traced)
    out = capsys.readouterr().out
    assert out.startswith("✘ This is a traced copy") and "Pass the Python model itself" in out, out
    from helpers.exercises.ex10_shipping import _fixed_count_cause
    try:
        traced(torch.randn(1, 3))
    except Exception as error:
        said = _fixed_count_cause(error)
    assert not re.search(r"(\w+Error): \1:", said) and "a loop over a fixed number of rows" in said, said


def test_a_traced_copy_without_a_loop_is_not_said_to_have_one(capsys):
    traced = torch.jit.trace(solution().RunningSum(), torch.randn(5, 3))  # x.sum(0): right on every input
    assert not H.check_running_sum_migrates(traced)
    out = capsys.readouterr().out
    assert "traced copy" in out and "loop" not in out and "has none" in out, out


def test_an_exported_module_is_named_as_such(capsys):
    module = torch.export.export(solution().RunningSum(), (torch.randn(5, 3),)).module()
    assert not H.check_running_sum_migrates(module)
    assert "an exported program's module" in capsys.readouterr().out


class RunningSumBySlicingTheShape(torch.nn.Module):
    def forward(self, x):
        return x.reshape(x.shape[0], -1).sum(0).reshape(x.shape[1:])


def test_a_sum_the_converter_cannot_take_is_named_with_its_cause(capsys):
    assert not H.check_running_sum_migrates(RunningSumBySlicingTheShape())
    out = capsys.readouterr().out
    assert out.startswith("✘") and "aten::slice" in out and "x.sum(0)" in out and "unknown line" not in out, out


def test_a_constant_count_loop_that_fails_to_convert_is_not_said_to_depend_on_the_input(capsys):
    from migrate_models import MaskedConstantLoop
    assert not H.check_running_sum_migrates(MaskedConstantLoop())
    out = capsys.readouterr().out
    assert out.startswith("✘ The .pt still does not convert") and "not for its count" in out, out
    assert "trip count still depends on the input" not in out and "depends on the input (e.g." not in out


def test_an_import_inside_forward_is_named_in_a_whole_sentence(capsys):
    class ImportsInForward(torch.nn.Module):
        def forward(self, x):
            import numpy
            return torch.from_numpy(numpy.asarray(x.numpy()).sum(0))

    assert not H.check_running_sum_migrates(ImportsInForward())
    out = capsys.readouterr().out
    assert "import statements aren't supported." in out and "no import inside forward" in out, out


def test_a_fixed_range_that_breaks_at_the_rows_is_told_its_stop_depends_on_the_input(capsys):
    from migrate_models import BreakOnRows
    assert not H.check_running_sum_migrates(BreakOnRows())
    out = capsys.readouterr().out
    assert out.startswith("✘ The .pt still does not convert") and "a `break` or a condition that reads" in out, out
    assert "not for its count" not in out


class _HalfSum(torch.nn.Module):
    def forward(self, x):
        return x.half().sum(0).float()


class _AbsSum(torch.nn.Module):
    def forward(self, x):
        return x.abs().sum(0)


@pytest.mark.parametrize("model, says", [(_HalfSum(), "narrower type (half, bfloat16)"),
                                         (_AbsSum(), "absolute values")])
def test_a_running_sum_in_half_or_of_absolute_values_is_named(model, says, capsys):
    assert not H.check_running_sum_migrates(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and says in out and "over dimension 0" not in out, out
