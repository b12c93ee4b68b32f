"""The parity checker finds where an export diverges, says so in its table, and refuses bad input clearly."""
import copy
import math
import warnings
import threading
import typing

import pytest
import torch

import helpers as H
from outside_models import NamedTupleOut, TrainingFlag


@pytest.fixture(scope="module")
def branch():
    model, x = H.sample_model("branch"), torch.tensor([1.0, 2.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TracerWarning is the notebook's business, not this test's
        traced = torch.jit.trace(model, x)
    return model, traced, x


def test_traced_branch_diverges_first_on_the_negated_input(branch):
    model, traced, x = branch
    report = H.parity(model, traced, example=x)
    assert not report.all_close and not report
    assert report.first_divergence == "negated"
    assert report.divergences == ["negated"]
    assert report["negated"].max_diff == pytest.approx(9.0)  # eager [1, 2, 3] vs traced [-2, -4, -6]
    assert report["example"].exact and report["zeros"].exact
    text = str(report)
    assert "first at 'negated'" in text and "✘" in text
    page = report._repr_html_()
    assert "<table>" in page and "#cf222e" in page and "#1a7f37" in page


def test_scripted_branch_agrees_on_every_variant(branch):
    model, _, x = branch
    report = H.parity(model, torch.jit.script(model), example=x)
    assert report.all_close and report and report.first_divergence is None
    assert [r.label for r in report.rows] == ["example", "negated", "x0.1", "x10", "zeros", "batch 1", "batch 5"]
    assert report.assert_close() is report
    assert "agrees with eager on all 7 inputs" in str(report)


def test_assert_close_raises_with_the_table(branch):
    model, traced, x = branch
    with pytest.raises(AssertionError, match="first at 'negated'") as info:
        H.parity(model, traced, example=x).assert_close()
    assert "largest |diff|" in str(info.value)


def test_an_exported_model_that_raises_is_a_divergent_row_not_a_crash():
    model = H.sample_model("loop")
    example = H.example_input("loop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, example)
    report = H.parity(model, traced, example=example)
    assert report.first_divergence == "batch 1"  # the trace unrolled 3 steps; x[1] does not exist
    row = report["batch 1"]
    assert row.error.startswith("RuntimeError: select(): index 1 out of range")
    assert "\n" not in row.error and row.diff_text.startswith("error: ")
    assert not report["batch 5"].close and report["negated"].exact


def test_the_summary_says_fails_on_and_shows_the_error_when_the_copy_raises():
    def refuses_big_batches(x):
        if x.shape[0] > 2:
            raise RuntimeError("input too large")
        return x * 2

    def double(x):
        return x * 2

    small, big = torch.ones(2, 3), torch.ones(5, 3)
    only_fails = H.parity(double, refuses_big_batches, inputs={"small": small, "big": big}, label="runtime")
    assert only_fails.summary.startswith("✘ runtime fails on 1 of 2 inputs, first at 'big' "
                                         "(RuntimeError: input too large)")
    assert "diverges" not in only_fails.summary and not only_fails.all_close

    def off_and_refusing(x):
        return refuses_big_batches(x) + 1

    both = H.parity(double, off_and_refusing, inputs={"small": small, "big": big}, label="runtime")
    assert both.summary.startswith("✘ runtime fails on 1 of 2 inputs, first at 'big' (RuntimeError: input too large), "
                                   "and diverges from eager on 1 more (")
    assert H.parity(double, lambda x: x * 3, inputs=[small]).summary.startswith(
        "✘ converted diverges from eager on 1 of 1 input, first at 'input 0'")

def test_several_inputs_and_tuple_outputs():
    model, example = H.sample_model("rnn_cell"), H.example_input("rnn_cell")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, example)
    report = H.parity(model, traced, example=example)
    assert report["example"].shapes == "(3, 4) & (3, 4)"
    assert report.first_divergence == "negated"  # negating x flips the gate's condition
    assert H.parity(model, torch.jit.script(model), example=example).all_close


def test_label_names_the_checked_model_in_the_verdict_the_table_and_the_error(branch):
    model, traced, x = branch
    report = H.parity(model, traced, example=x, label="traced")
    assert report.summary.startswith("✘ traced diverges from eager on 1 of 7 inputs, first at 'negated'")
    assert str(report).startswith("✘ traced diverges") and "✘ traced diverges" in report._repr_html_()
    with pytest.raises(AssertionError, match="^traced diverges from eager first at 'negated'"):
        report.assert_close()
    scripted = H.parity(model, torch.jit.script(model), example=x, label="scripted")
    assert scripted.summary.startswith("✔ scripted agrees with eager on all 7 inputs")
    twice = H.parity(model, lambda t: (model(t), model(t)), inputs=[x], label="exported")
    assert twice.rows[0].note == "the output nests differently: eager tensor, exported tuple(tensor, tensor)"


def test_the_same_numbers_nested_otherwise_are_a_divergence():
    x = torch.randn(3)
    for eager, copy, words in [
        (lambda t: [t], lambda t: ({}, [t]), "eager list(tensor), converted tuple(dict(), list(tensor))"),
        (lambda t: t, lambda t: [[t]], "eager tensor, converted list(list(tensor))"),
        (lambda t: {"a": t, "b": t * 2}, lambda t: ((t, t * 2),), "eager dict(2 keys), converted tuple(tuple("),
    ]:
        report = H.parity(eager, copy, inputs=[x])
        assert not report.all_close and words in report.rows[0].note, report.rows[0].note
    # what stays allowed: a tuple for a list, a dict as the sequence of its values (ONNX), keys in another order
    assert H.parity(lambda t: [t, t], lambda t: (t, t), inputs=[x]).all_close
    assert H.parity(lambda t: {"a": t, "b": -t}, lambda t: [t, -t], inputs=[x]).all_close
    assert H.parity(lambda t: {"a": t, "b": -t}, lambda t: {"b": -t, "a": t}, inputs=[x]).all_close


def test_integer_outputs_get_no_tolerance():
    x = torch.randn(4, 5)
    report = H.parity(lambda t: t.argmax(-1) + 200000, lambda t: t.argmax(-1) + 200001, inputs=[x])
    assert not report.all_close
    assert H.parity(lambda t: t.argmax(-1), lambda t: t.argmax(-1).int(), inputs=[x]).all_close  # int32 vs int64: equal
    assert H.parity(lambda t: t > 0, lambda t: t > 0, inputs=[x]).all_close


def test_without_a_label_the_word_is_neutral(tmp_path, branch):
    model, traced, x = branch
    assert H.parity(model, traced, example=x).summary.startswith("✘ converted diverges from eager")
    path = tmp_path / "branch.pt"
    torch.jit.script(model).save(str(path))
    assert H.parity(model, path, inputs=[x, -x]).summary.startswith("✔ loaded agrees with eager on all 2 inputs (")
    assert H.parity(model, str(path), inputs=[x, -x], label="scripted").summary.startswith("✔ scripted agrees")
    # one input, one path: agreeing there leaves the other side untested, and the headline says so
    assert H.parity(model, path, inputs=[x]).summary.startswith(
        "⚠ loaded agrees with eager on its 1 input (rtol=1e-05, atol=1e-06), but only on the path it took")


def test_labelled_inputs_tolerances_and_a_saved_file(tmp_path, branch):
    model, _, x = branch
    scripted = torch.jit.script(model)
    path = tmp_path / "branch.pt"
    scripted.save(str(path))
    report = H.parity(model, path, inputs={"up": x, "down": -x})
    assert [r.label for r in report.rows] == ["up", "down"] and report.all_close
    nudged = H.parity(model, lambda t: model(t) + 1e-4, inputs=[x])
    assert not nudged.all_close and nudged.rows[0].label == "input 0"
    assert H.parity(model, lambda t: model(t) + 1e-4, inputs=[x], atol=1e-3).all_close


def test_output_structure_and_shape_mismatches_are_divergences(branch):
    model, _, x = branch
    report = H.parity(model, lambda t: (model(t), model(t)), inputs=[x])
    assert not report.all_close and "nests differently: eager tensor, converted tuple(tensor, tensor)" in report.rows[0].note
    report = H.parity(model, lambda t: model(t)[:2], inputs=[x])
    assert report.rows[0].diff_text == "shape (3,) (eager) vs (2,) (converted)" and math.isinf(report.max_diff)


def test_vary_inputs_skips_what_the_eager_model_rejects_and_says_why():
    model = H.sample_model("dropout_bn").train()  # batch norm in training mode cannot take one row
    variants = H.vary_inputs(H.example_input("dropout_bn"), model=model)
    assert "batch 1" not in variants and "batch 6" in variants
    assert "Expected more than 1 value per channel" in variants.skipped["batch 1"]
    report = H.parity(model, model, example=H.example_input("dropout_bn"))
    assert "batch 1" not in [r.label for r in report.rows]
    assert "skipped batch 1: the eager model itself rejects it" in str(report)
    assert "skipped" in report._repr_html_()
    model.eval()  # in eval mode one row is fine, so nothing is skipped
    assert H.parity(model, model, example=H.example_input("dropout_bn")).skipped == {}


def test_vary_inputs_shapes_and_values():
    x = torch.arange(6.0).reshape(2, 3)
    variants = H.vary_inputs(x)
    assert torch.equal(variants["negated"][0], -x) and torch.equal(variants["x10"][0], x * 10)
    assert variants["batch 1"][0].shape == (1, 3) and variants["batch 4"][0].shape == (4, 3)
    assert torch.equal(variants["batch 4"][0][2:], x)  # new rows repeat the example's rows
    ints = H.vary_inputs(torch.tensor([1, 2]))
    assert "negated" not in ints and "sign and scale" in ints.skipped
    assert "batch" in H.vary_inputs(torch.tensor(1.0)).skipped


def test_compare_prints_one_line(capsys):
    a = torch.tensor([1.0, 2.0])
    assert H.compare("logits", a, a + 1e-7)
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and "exact: False" in line and "close: True" in line
    assert not H.compare("logits", a, a * 2)
    assert "largest |diff|: 2" in capsys.readouterr().out
    with pytest.raises(TypeError, match="label first"):
        H.compare(a, a, a)


@pytest.mark.parametrize("call, error, fragment", [
    (lambda m, t, x: H.parity(3, t, example=x), TypeError, "expects the eager model"),
    (lambda m, t, x: H.parity(H.BranchModel, t, example=x), TypeError, "pass an instance, e.g. BranchModel()"),
    (lambda m, t, x: H.parity(m, "missing.pt", example=x), FileNotFoundError, "no file at"),
    (lambda m, t, x: H.parity(m, t, inputs=[]), ValueError, "empty list of inputs"),
    (lambda m, t, x: H.parity(m, t), ValueError, "pass example=x"),
    (lambda m, t, x: H.parity(m, t, inputs=x), TypeError, "for one example use example=x"),
    (lambda m, t, x: H.parity(m, t, inputs=[[1, 2]]), TypeError, "tensor or a tuple of tensors"),
    (lambda m, t, x: H.parity(m, t, inputs=[x], example=x), ValueError, "not both"),
    (lambda m, t, x: H.parity(m, t, inputs=[x], rtol=-1), ValueError, "rtol must be"),
    (lambda m, t, x: H.parity(m, t, inputs=[x], label=1), TypeError, "e.g. label='traced'"),
    (lambda m, t, x: H.parity(m, t, inputs=[x], label=" "), ValueError, "e.g. label='traced'"),
])
def test_bad_input_gets_a_one_line_error(branch, call, error, fragment):
    model, traced, x = branch
    with pytest.raises(error, match=fragment.replace("(", r"\(").replace(")", r"\)")) as info:
        call(model, traced, x)
    assert "\n" not in str(info.value)


def test_an_input_the_eager_model_rejects_is_named_with_the_reason():
    model = H.sample_model("dropout_bn")  # Linear(8, 8) first: a length-3 vector does not fit
    with pytest.raises(ValueError, match=r"eager model itself fails on input 'input 0' with shape \(3,\) "
                                         r"\(RuntimeError: mat1 and mat2 shapes cannot be multiplied") as info:
        H.parity(model, model, inputs=[torch.ones(3)])
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="fails on the example"):
        H.parity(model, model, example=torch.ones(3))
    with pytest.raises(ValueError, match="fails on the example"):
        H.vary_inputs(torch.ones(3), model=model)


# ---------------------------------------------------------------- models the course did not write

class TwoInputs(torch.nn.Module):
    """Token ids (int64) and a mask (bool): neither may be negated or scaled."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)

    def forward(self, ids, mask):
        return self.embed(ids) * mask.unsqueeze(-1)


class ListOfImages(torch.nn.Module):
    def forward(self, images):
        return torch.stack([image.mean() for image in images])


class DictOut(torch.nn.Module):
    def forward(self, x):
        return {"scores": x.softmax(-1), "logits": x * 2}


class RareBranch(torch.nn.Module):
    def forward(self, x):
        if x.abs().max() > 1e6:
            return -x
        return x * 2


class Wrapper(torch.nn.Module):
    """The data-dependent branch sits in a submodule's forward, not in the top-level one."""

    def __init__(self):
        super().__init__()
        self.inner = RareBranch()
        self.linear = torch.nn.Linear(3, 3)

    def forward(self, x):
        return self.inner(self.linear(x))


def test_int_and_bool_inputs_are_varied_validly_and_nothing_is_dropped_silently():
    ids, mask = torch.tensor([[1, 2, 3], [4, 5, 9]]), torch.tensor([[True, False, True], [True, True, False]])
    variants = H.vary_inputs((ids, mask))
    assert {"ints permuted", "ints shifted", "bools flipped", "batch 1", "batch 4"} <= set(variants)
    permuted, shifted = variants["ints permuted"][0], variants["ints shifted"][0]
    assert sorted(permuted.flatten().tolist()) == sorted(ids.flatten().tolist()) and not torch.equal(permuted, ids)
    assert shifted.min() >= 1 and shifted.max() <= 9 and not torch.equal(shifted, ids)  # within the example's range
    assert torch.equal(variants["bools flipped"][1], ~mask) and torch.equal(variants["bools flipped"][0], ids)
    assert "negated" not in variants and "no floating-point tensor" in variants.skipped["sign and scale"]
    model = TwoInputs()
    report = H.parity(model, torch.jit.trace(model, (ids, mask)), example=(ids, mask), label="traced")
    assert report.all_close and len(report.rows) == 6 and "skipped sign and scale" in str(report)
    assert "never decreases" in variants.skipped["ints, max lowered"]  # rows sorted like offsets: said, not dropped
    single = H.vary_inputs((torch.tensor([[3, 3]]), torch.tensor([[True, True]])))
    assert "ints permuted" in single.skipped and "ints shifted, max lowered" in single.skipped  # said, not dropped


def test_a_list_argument_is_one_structured_argument():
    images = [torch.rand(3, 8, 8), torch.rand(3, 6, 10)]
    model = ListOfImages()
    report = H.parity(model, model, example=(images,))
    assert report.all_close and "1 item" in [r.label for r in report.rows] and "3 items" in [r.label for r in report.rows]
    assert report["example"].shapes == "[(3, 8, 8), (3, 6, 10)]"
    assert [r.label for r in H.parity(model, model, example=images).rows] == [r.label for r in report.rows]
    broken = H.parity(model, lambda imgs: torch.stack([i.sum() for i in imgs]), inputs=[(images,)])
    assert broken.status == "diverges" and broken.first_diverging_input[0] is images


def test_dict_outputs_are_compared_by_key_not_order():
    model, x = DictOut(), torch.randn(2, 3)
    reordered = H.parity(model, lambda t: {"logits": t * 2, "scores": t.softmax(-1)}, example=x)
    assert reordered.all_close
    as_sequence = H.parity(model, lambda t: [t.softmax(-1), t * 2], example=x)  # ONNX returns a list in insertion order
    assert as_sequence.all_close
    missing = H.parity(model, lambda t: {"scores": t.softmax(-1)}, inputs=[x])
    assert missing.status == "diverges" and "keys differ (missing ['logits'])" in missing.rows[0].note
    wrong = H.parity(model, lambda t: {"logits": t * 3, "scores": t.softmax(-1)}, inputs=[x])
    assert not wrong.all_close


def test_namedtuple_none_and_int_outputs():
    from collections import namedtuple
    Out = namedtuple("Out", "value count extra")
    model = lambda t: Out(t * 2, int(t.numel()), None)  # noqa: E731
    assert H.parity(model, lambda t: (t * 2, t.numel(), None), inputs=[torch.ones(3)]).all_close
    report = H.parity(model, lambda t: (t * 2, t.numel() + 1, None), inputs=[torch.ones(3)])
    assert not report.all_close and "3 vs 4" in report.rows[0].note
    assert not H.parity(model, lambda t: (t * 2, t.numel(), t), inputs=[torch.ones(3)]).all_close


def test_a_branch_no_input_reached_is_named():
    model = RareBranch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, torch.ones(3))
    report = H.parity(model, traced, example=torch.ones(3), label="traced")
    assert report.all_close and report.status == "ok" and report.proves_little and report.same_path
    assert [text for _, _, text in report.uncovered] == ["return -x"]
    assert any("no input ran `return -x`" in w and "not tested on that path" in w for w in report.warnings)
    assert "⚠" in str(report) and "return -x" in report._repr_html_()
    both = H.parity(model, traced, inputs=[torch.ones(3), torch.full((3,), 2e6)], label="traced")
    assert both.uncovered == [] and both.divergences == ["input 1"]


class DualRoute(torch.nn.Module):
    """A branch only the scripting compiler runs, one only eager runs, and one no input reaches."""
    def forward(self, x):
        if torch.jit.is_scripting():
            return x * 3
        if not torch.jit.is_tracing():
            y = x * 3
        else:
            y = x + 0
        if x.sum() > 1e6:
            return -y
        return y


def test_lines_only_a_compiler_runs_are_not_called_untested():
    model = DualRoute()
    scripted = torch.jit.script(model)
    report = H.parity(model, scripted, inputs={"a": torch.ones(3), "b": -torch.ones(3)}, label="scripted")
    assert report.all_close
    # `return x * 3` and `y = x + 0` cannot run in eager, whatever the input: only `return -y` is untested
    assert [text for _, _, text in report.uncovered] == ["return -y"], report.uncovered
    assert report.names == ("eager", "scripted")
    against_script = H.parity(scripted, model, inputs=[torch.ones(3)], label="eager copy")
    assert against_script.summary.startswith("✔ eager copy agrees with the TorchScript model on its 1 input")


def test_coverage_reaches_into_submodules_and_says_when_it_cannot_be_recorded():
    model = Wrapper()
    report = H.parity(model, model, example=torch.randn(2, 3))
    assert [(where, text) for where, _, text in report.uncovered] == [("RareBranch.forward", "return -x")]
    scripted = torch.jit.script(RareBranch())
    note = H.parity(scripted, scripted, example=torch.ones(3)).coverage_note
    assert "scripted or traced model runs no Python" in note
    plain = torch.nn.Sequential(torch.nn.Linear(3, 3))  # nothing of its own: nothing to report
    assert H.parity(plain, plain, example=torch.ones(2, 3)).warnings == []
    # a TorchScript reference with no if and no loop in its code has one path: no note that lines went unrecorded
    one_path = torch.jit.script(plain)
    report = H.parity(one_path, plain, example=torch.ones(2, 3))
    assert report.coverage_note == "" and report.summary.startswith("✔") and "read the notes" not in report.summary


class _Attends(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = torch.nn.MultiheadAttention(8, 2)

    def forward(self, x):
        return self.attention(x, x, x)[0]


def test_a_torchscript_reference_whose_only_branches_are_torchs_own_gets_no_note(tmp_path):
    # MultiheadAttention's scripted code holds many ifs, all in torch's files: the eager side leaves those out too
    model = _Attends().eval()
    scripted = torch.jit.script(model)
    assert scripted.inlined_graph.findAllNodes("prim::If", True)
    x = torch.randn(3, 1, 8)
    assert H.parity(scripted, model, example=x).coverage_note == ""
    scripted.save(str(tmp_path / "attends.pt"))  # a saved file keeps where each line came from
    assert H.parity(torch.jit.load(str(tmp_path / "attends.pt")), model, example=x).coverage_note == ""
    # an if of the model's own beside them still gets the note
    torch.jit.script(RareBranch()).save(str(tmp_path / "rare.pt"))
    assert "runs no Python" in H.parity(torch.jit.load(str(tmp_path / "rare.pt")), RareBranch(),
                                        example=torch.ones(3)).coverage_note


def test_training_mode_is_named_as_the_cause():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5)).train()
    torch.manual_seed(0)
    report = H.parity(model, model, example=torch.ones(8, 4), label="traced")
    assert not report.all_close and report.self_divergent and report.training_mode == ["Dropout '1'"]
    assert any("training mode" in w and "model.eval()" in w and "not the traced copy's fault" in w
               for w in report.warnings)
    batchnorm = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4)).train()
    frozen = torch.jit.trace(batchnorm.eval(), torch.randn(8, 4))
    report = H.parity(batchnorm.train(), frozen, inputs=[torch.randn(8, 4)], label="traced")
    assert not report.all_close and not report.self_divergent
    assert any("in training mode (BatchNorm1d '1')" in w for w in report.warnings)


def test_status_and_first_diverging_input_for_tools_that_build_on_the_report(branch):
    model, traced, x = branch
    report = H.parity(model, traced, example=x)
    assert report.status == "diverges" and torch.equal(report.first_diverging_input[0], -x)
    assert H.parity(model, torch.jit.script(model), example=x).status == "ok"

    def broken(t):
        raise RuntimeError("Unknown builtin op: vision::nms")

    failing = H.parity(model, broken, example=x)
    assert failing.status == "fails" and failing.first_divergence == "example"


def test_a_model_that_fails_on_the_input_gets_one_line_without_its_repr():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None).eval()
    with pytest.raises((ValueError, TypeError)) as info:
        H.parity(model, model, inputs=[torch.rand(3, 64, 64)])  # one image, not a list of images
    assert "\n" not in str(info.value) and "FasterRCNN(" not in str(info.value)
    with pytest.raises(TypeError) as info:
        H.parity(model, 3, inputs=[[torch.rand(3, 64, 64)]])
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_empty_detections_prove_little():
    torchvision = pytest.importorskip("torchvision")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared machine runs a detection model faster on one thread
    try:
        torch.manual_seed(0)
        model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
            weights=None, weights_backbone=None).eval()
        images = [torch.rand(3, 160, 200)]
        report = H.parity(model, model, inputs={"one image": (images,)})
    finally:
        torch.set_num_threads(threads)
    if not report.rows[0].empty:
        pytest.skip("these random weights happened to detect something")
    assert report.all_close and report.empty and report.proves_little
    assert any("every output was empty" in w for w in report.warnings)


def test_outputs_that_are_all_nan_prove_nothing_and_say_so():
    model = torch.nn.Linear(3, 2).eval()
    nan = torch.full((2, 3), float("nan"))
    report = H.parity(model, model, inputs={"nan": nan, "ones": torch.ones(2, 3)})
    assert report.all_close and not report.proves_little and "(all NaN)" in str(report)
    assert [w for w in report.warnings if "NaN on 'nan'" in w and "proves nothing" in w], report.warnings
    only_nan = H.parity(model, model, inputs=[nan])
    assert only_nan.proves_little and "⚠ read the notes below" in only_nan.summary
    assert only_nan.summary.startswith("⚠") and "every output was NaN: it agreed on NaN only" in only_nan.summary
    assert not H.parity(model, model, inputs=[torch.ones(2, 3)]).warnings  # numbers: no note


def test_the_verdict_line_says_when_variants_were_not_built_or_notes_follow():
    model = TwoInputs()
    ids, mask = torch.tensor([[3, 3]]), torch.tensor([[True, True]])
    report = H.parity(model, model, example=(ids, mask))
    assert report.all_close and "3 variants not built, see below" in report.summary
    rare = H.parity(RareBranch(), RareBranch(), example=torch.ones(3))
    assert rare.summary.endswith("⚠ read the notes below")


def test_a_dict_argument_is_one_structured_argument():
    class Features(torch.nn.Module):
        def forward(self, batch):
            return batch["image"].mean(dim=1) + batch["ids"].float()

    batch = {"image": torch.rand(2, 3), "ids": torch.tensor([1, 4])}
    variants = H.vary_inputs(batch)
    assert torch.equal(variants["negated"][0]["image"], -batch["image"])
    assert torch.equal(variants["negated"][0]["ids"], batch["ids"])  # ints are never negated
    assert variants["batch 4"][0]["ids"].shape == (4,) and "ints shifted" in variants
    model = Features()
    report = H.parity(model, model, example=batch)
    assert report.all_close and report["example"].shapes == "{'image': (2, 3), 'ids': (2,)}"


class Counter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1  # a Python side effect: state, not output
        return x * 2


def test_a_python_side_effect_a_function_may_keep_is_not_judged():
    model = Counter()
    report = H.parity(model, lambda t: t * 2, inputs=[torch.ones(3), torch.zeros(2)], label="traced")
    assert report.all_close and report.state_changes == ["self.calls: 0 → 2"]
    # a function could keep state in a closure; its outputs do not show this counter, so no verdict on it either way
    assert report.summary.startswith("⚠") and any("cannot tell whether the copy keeps it" in w for w in report.warnings)
    plain = H.parity(lambda t: t * 2, lambda t: t * 2, inputs=[torch.ones(3)])
    assert plain.state_changes == [] and not any("Python attributes" in w for w in plain.warnings)


def test_a_scripted_model_left_in_training_mode_is_named():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5)).train()
    scripted = torch.jit.script(model)
    from helpers.tools.parity import training_layers
    assert training_layers(scripted) == ["Dropout '1'"] and training_layers(scripted.eval()) == []
    torch.manual_seed(0)
    report = H.parity(scripted.train(), scripted.train(), example=torch.ones(8, 4), label="loaded")
    assert not report.all_close and report.self_divergent
    assert any("training mode" in w and "model.eval()" in w for w in report.warnings)


def test_outputs_nested_otherwise_are_called_so_even_when_a_dict_meets_an_empty_one():
    # a detection model's scripted copy: (losses, detections) where eager gave detections
    report = H.parity(lambda x: [{"a": x}] * 2, lambda x: ({}, [{"a": x}] * 2), inputs=[torch.ones(2)])
    assert report.rows[0].diff_text.startswith("the output nests differently")
    missing = H.parity(lambda x: {"a": x, "b": x}, lambda x: {"a": x}, inputs=[torch.ones(2)])
    assert missing.rows[0].diff_text == "out: keys differ (missing ['b'])"


def test_a_dict_that_comes_back_as_a_tuple_is_noted():
    class DictOut(torch.nn.Module):
        def forward(self, x):
            return {"logits": x * 2, "probs": x.softmax(-1)}

    class TupleOut(torch.nn.Module):  # what an ExecuTorch program gives back for DictOut
        def forward(self, x):
            return x * 2, x.softmax(-1)

    x = torch.randn(2, 4)
    report = H.parity(DictOut(), TupleOut(), inputs=[x])
    assert report.all_close and any("code that reads the output by key or field name" in w for w in report.warnings)
    assert not H.parity(DictOut(), DictOut(), inputs=[x]).warnings


def test_a_scripted_detector_is_compared_on_its_detections_and_its_lazy_cache_is_no_side_effect():
    torchvision = pytest.importorskip("torchvision")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
            weights=None, weights_backbone=None, num_classes=5).eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scripted = torch.jit.script(model)
        image = torch.rand(3, 240, 320)
        report = H.parity(model, scripted, inputs={"first": ([image],), "again": ([image],)}, label="scripted")
    finally:
        torch.set_num_threads(threads)
    assert report.all_close and report.detections_only, report
    assert any("(losses, detections)" in w for w in report.warnings)
    assert report.state_settled and any("first call and left it alone" in w for w in report.warnings)
    assert not any("<a LevelMapper>" in w and "unset" in w for w in report.warnings)


class _StatefulLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(8, 16, batch_first=True)

    def forward(self, x, state: tuple):
        return self.lstm(x, state)


def test_a_traced_reference_that_would_crash_on_a_variant_is_skipped_not_run(tmp_path):
    # A trace keeps no shape checks: the batch-4 variant (x resized, the state not) takes a process down inside
    # torch. parity tries the variants in a forked child first, so this process survives and says why.
    example = (torch.randn(2, 5, 8), (torch.zeros(1, 2, 16), torch.zeros(1, 2, 16)))
    traced = torch.jit.trace(_StatefulLSTM(), example)
    from helpers.tools.parity import crashing_inputs
    found = crashing_inputs(traced, [("fine", example), ("batch 4", (torch.randn(4, 5, 8), example[1]))], time_limit=10)
    # what corrupted memory does next varies from run to run: an abort, or a hang the time limit stops
    assert list(found) == ["batch 4"] and found["batch 4"].startswith(("it takes the process down", "never returned"))
    report = H.parity(traced, traced, example=example)
    assert "batch 4" in report.skipped and "cannot run it" in report.skipped["batch 4"]



def test_a_namedtuple_that_comes_back_as_a_plain_tuple_is_named():
    model, x = NamedTupleOut(), torch.randn(2, 4)
    traced = H.parity(model, torch.jit.trace(model, x), example=x)
    assert traced.all_close and "where eager returns NamedTuple Pair" in str(traced)
    assert "NamedTuple" not in str(H.parity(model, torch.jit.script(model), example=x))  # script keeps the class


def test_nan_on_one_side_only_is_named():
    class NaNRow(torch.nn.Module):  # as a transformer's fast path does for a fully masked row
        def forward(self, x):
            return torch.where(x > 0, x, torch.full_like(x, float("nan")))

    class Numbers(torch.nn.Module):
        def forward(self, x):
            return torch.where(x > 0, x, torch.zeros_like(x))

    report = H.parity(NaNRow(), Numbers(), inputs=[torch.tensor([1.0, -1.0, -2.0])], label="traced")
    assert not report.all_close and "eager gives NaN at 2 places where traced gives numbers" in str(report)


class _CountingLinear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 2)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.lin(x)


def test_parity_checks_eager_state_on_the_copy():
    x = torch.randn(3, 4)
    traced = _CountingLinear()
    lost = H.parity(traced, torch.jit.trace(traced, x), example=x, label="traced")
    assert lost.all_close and lost.state_lost == ["self.calls: the copy has no such attribute"]
    assert any("does not keep it" in note for note in lost.warnings)
    scripted = _CountingLinear()
    kept = H.parity(scripted, torch.jit.script(scripted), example=x, label="scripted")
    assert kept.all_close and kept.state_lost == [] and kept.state_changes
    assert any("changed the same way" in note for note in kept.warnings)


class _Tiny(torch.nn.Module):
    """Outputs far below parity's default atol, as a randomly initialised deep classifier can give."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return x * self.scale


@pytest.mark.parametrize("scale, says", [(1e-9, "at most"), (0.0, "all exactly 0")])
def test_outputs_within_atol_of_zero_get_no_tick(scale, says):
    x = torch.randn(3, 4)
    zeros = H.parity(_Tiny(scale), lambda t: torch.zeros_like(t), example=x, label="zeros")
    assert zeros.all_close and zeros.tiny and zeros.proves_little
    assert zeros.summary.startswith("⚠ zeros agrees") and "✔" not in zeros.summary
    assert any(says in w and "zeros" in w for w in zeros.warnings), zeros.warnings
    # with an atol below the outputs' size, the same wrong copy is caught
    if scale:
        assert not H.parity(_Tiny(scale), lambda t: torch.zeros_like(t), example=x, atol=1e-12)


def test_ordinary_outputs_and_int_outputs_are_not_called_tiny():
    x = torch.randn(3, 4)
    assert not H.parity(_Tiny(1.0), _Tiny(1.0), example=x).tiny
    counts = H.parity(lambda t: (t > 0).sum(1), lambda t: (t > 0).sum(1), inputs=[torch.zeros(2, 3)])
    assert not counts.tiny and counts.summary.startswith("✔")


class _GrowToUnit(torch.nn.Module):
    def forward(self, x):  # never ends on zeros
        while x.norm() < 1:
            x = x * 2
        return x


def test_a_variant_on_which_eager_never_finishes_is_skipped_not_hung():
    x = torch.tensor([0.01, 0.02])
    report = H.parity(_GrowToUnit(), torch.jit.script(_GrowToUnit()), example=x, label="scripted")
    assert report.all_close and "zeros" in report.skipped and "did not finish" in report.skipped["zeros"]
    assert "zeros" in H.vary_inputs(x, model=_GrowToUnit()).skipped



def test_the_lost_state_note_says_match_only_when_the_outputs_match():
    x = torch.ones(2)
    from models_with_state import CountsCalls
    traced = torch.jit.trace(CountsCalls(), x, check_trace=False)
    report = H.parity(CountsCalls(), traced, inputs=[x, x, x], label="traced")
    assert not report.all_close
    note = next(w for w in report.warnings if "does not keep it" in w)
    assert "outputs above match" not in note and "differ as well" in note


def test_compare_says_when_close_says_little(capsys):
    H.compare("tiny", torch.tensor([1e-9]), torch.tensor([3e-9]))
    assert "close says little" in capsys.readouterr().out


def test_an_outer_time_limit_reached_inside_parity_is_not_taken_for_a_variants():
    from helpers.course.guards import TimeLimitReached, time_limit
    x = torch.tensor([0.01, 0.02])
    with pytest.raises(TimeLimitReached):
        with time_limit(1.0):  # the caller's limit: parity's own variant limit stands aside, and this one must reach out
            H.parity(_GrowToUnit(), torch.jit.script(_GrowToUnit()), example=x)


def test_float_outputs_within_atol_beside_an_int_output_still_get_no_tick():
    class TinyWithArgmax(torch.nn.Module):
        def forward(self, x):
            return x * 1e-9, x.argmax(-1)

    model, x = TinyWithArgmax(), torch.randn(4, 6)
    report = H.parity(model, lambda t: (torch.zeros_like(t), t.argmax(-1)), example=x, label="zeros")
    assert report.tiny and report.summary.startswith("⚠")


def test_a_tuple_given_as_inputs_is_explained_as_several_inputs():
    class TwoIn(torch.nn.Module):
        def forward(self, x, y):
            return x + y

    x, y = torch.ones(2), torch.ones(2)
    with pytest.raises(ValueError, match=r"a tuple of 2 is 2 inputs: for one input of several arguments pass "
                                         r"inputs=\[\(x, y\)\]"):
        H.parity(TwoIn(), TwoIn(), inputs=(x, y))
    assert H.parity(TwoIn(), TwoIn(), inputs=[(x, y)])


def test_integer_variants_keep_offsets_sorted_and_take_full_range_bytes():
    ids, offsets = torch.tensor([4, 1, 2, 0, 3, 1]), torch.tensor([0, 3, 5])
    variants = H.vary_inputs((ids, offsets))
    lowered = variants["ints, max lowered"]
    assert torch.equal(lowered[1], offsets) and int(lowered[0].max()) < 4  # offsets stay non-decreasing
    image = torch.arange(256, dtype=torch.uint8).reshape(16, 16)  # 0..255: max - min + 1 wraps to 0 in uint8
    shifted = H.vary_inputs(image)["ints shifted"][0]
    assert shifted.dtype == torch.uint8 and int(shifted[0, 0]) == 1 and int(shifted[-1, -1]) == 0


class LargeBesideSmall(torch.nn.Module):
    """Two outputs of very different sizes: sums in the thousands, and probabilities whose shift depends on the data."""
    def forward(self, x):
        small = torch.sigmoid(x[:, 0])
        if small.max() > 0.6:  # traced: the example's side is kept
            small = small + 0.05
        return x.sum(1) * 1000, small


def test_scale_atol_scales_each_output_by_its_own_size_not_by_the_largest():
    x = torch.tensor([[2.0, 1.0, 0.5], [1.5, -0.3, 0.2]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(LargeBesideSmall(), x)
    report = H.parity(LargeBesideSmall(), traced, example=x, scale_atol=True)
    assert not report.all_close and report.first_divergence == "negated", report.summary
    assert "× each output's largest |value| (at least 1)" in report.summary
    # the large output's float32 rounding is still within the scaled tolerance
    big = torch.full((2, 3), 3e4)
    assert H.parity(lambda t: t * 1.0000001, lambda t: t * 1.0, inputs=[big], rtol=0, atol=1e-5, scale_atol=True).all_close
    assert not H.parity(lambda t: t * 1.0000001, lambda t: t * 1.0, inputs=[big], rtol=0, atol=1e-5).all_close


def test_a_copy_returning_another_dtype_gets_a_warning_in_the_summary():
    report = H.parity(lambda x: x.argmax(1), lambda x: x.argmax(1).int(), inputs=[torch.randn(3, 4)])
    assert report.all_close and "⚠" in report.summary, report.summary
    assert any("another dtype (dtype torch.int64 vs torch.int32" in w for w in report.warnings), report.warnings
    plain = H.parity(lambda x: x * 2, lambda x: x * 2, inputs=[torch.randn(3)])
    assert not any("dtype" in w for w in plain.warnings)


def test_a_copy_that_loses_state_or_agrees_on_nothing_gets_no_tick():
    x = torch.randn(3, 4)
    counting = _CountingLinear()
    lost = H.parity(counting, torch.jit.trace(__import__("copy").deepcopy(counting), x), example=x, label="traced")
    assert lost.all_close and lost.loses_state and lost.summary.startswith("⚠ traced gives eager's outputs")
    assert counting.calls == 0  # parity ran a copy of the learner's model: its counter is where it was
    kept = H.parity(counting, torch.jit.script(counting), example=x, label="scripted")
    assert not kept.loses_state and kept.summary.startswith("✔")
    empty = H.parity(lambda t: t[:0], lambda t: t[:0] * 2, inputs=[x])
    assert empty.empty and empty.summary.startswith("⚠") and "emptiness only" in empty.summary


def test_a_tuple_meant_as_one_list_argument_gets_the_hint():
    class SumList(torch.nn.Module):
        def forward(self, xs: typing.List[torch.Tensor]):
            return torch.stack(xs).sum(0)

    xs = [torch.randn(2, 3), torch.randn(2, 3)]
    with pytest.raises(ValueError, match=r"these 2 tensors were 2 arguments: if forward takes them as one list, "
                                         r"pass a list \[x, y\]"):
        H.parity(SumList(), torch.jit.script(SumList()), example=tuple(xs))
    assert H.parity(SumList(), torch.jit.script(SumList()), example=xs).all_close


class OneLineBranch(torch.nn.Module):  # both sides of the branch on one line: a line count cannot tell them apart
    def forward(self, x):
        return x * 2 if x.sum() > 50 else x - 1


def test_a_side_of_a_one_line_conditional_that_no_input_ran_is_named():
    small = torch.full((3, 4), 0.1)  # x10 sums to 12: no variant reaches the `if` side
    report = H.parity(OneLineBranch(), torch.jit.trace(OneLineBranch(), small), example=small)
    assert report.all_close
    assert report.summary.startswith("⚠") and "but only on the paths they took" in report.summary, report.summary
    assert any("no input ran `x * 2`" in w and "the `if` side of `x * 2 if x.sum() > 50 else x - 1`" in w
               for w in report.warnings), report.warnings
    both = H.parity(OneLineBranch(), torch.jit.script(OneLineBranch()), inputs=[small, small + 10])
    assert both.all_close and not any("no input ran" in w for w in both.warnings), both.warnings
    assert not both.same_path  # the two inputs took the two sides of one line


def test_the_explorer_tells_the_two_sides_of_one_line_apart():
    ex = H.DivergenceExplorer(OneLineBranch(), "trace", example=torch.ones(3, 4))
    assert ex.state.path == "eager Python takes the same path as the example"
    state = ex.set(scale=10.0)
    assert not state.agree
    assert state.path == ("eager Python takes another path than the example: in `x * 2 if x.sum() > 50 else x - 1` it "
                          "runs the `if` side, `x * 2`, which the example skipped")


class HiddenState:  # a runner that keeps the model's state where parity cannot read it, as AOTInductor's does
    def __init__(self, model):
        self._inner = copy.deepcopy(model)

    def __call__(self, x):
        return self._inner(x)


class Forgetful:  # a runner that starts from the saved state at every call
    def __init__(self, model):
        self._saved = copy.deepcopy(model)

    def __call__(self, x):
        return copy.deepcopy(self._saved)(x)


def test_a_runner_whose_outputs_follow_the_state_keeps_it():
    from models_with_state import RunningTotal
    x = torch.linspace(-1, 2, 12).reshape(3, 4)
    report = H.parity(RunningTotal(), HiddenState(RunningTotal()), example=x)
    assert report.all_close and report.summary.startswith("✔") and not report.loses_state, report.summary
    assert any("cannot be read, but its outputs followed eager's on every call" in w for w in report.warnings)
    forgetful = H.parity(RunningTotal(), Forgetful(RunningTotal()), example=x)
    assert not forgetful.all_close  # the state shows in the outputs, so losing it is a divergence


def test_a_runner_whose_outputs_do_not_show_the_state_gets_no_tick():
    from models_with_state import CountsInBuffer
    report = H.parity(CountsInBuffer(), HiddenState(CountsInBuffer()), example=torch.ones(2, 4))
    assert report.all_close and report.summary.startswith("⚠") and "cannot be read" in report.summary
    assert any("cannot tell whether the copy keeps it" in w for w in report.warnings)


def test_parity_leaves_the_callers_scripted_models_as_they_were():
    from models_with_state import CountsCalls
    eager, scripted = torch.jit.script(CountsCalls()), torch.jit.script(CountsCalls())
    H.parity(eager, scripted, example=torch.ones(2))
    assert eager.calls == 0 and scripted.calls == 0


def test_a_deep_copy_of_an_exported_module_drops_its_input_structure_check():
    # why parity runs program.module() as it is instead of a copy: the copy takes a list of another length
    class Joined(torch.nn.Module):
        def forward(self, xs: typing.List[torch.Tensor]):
            return torch.cat(xs)

    module = torch.export.export(Joined(), ([torch.ones(3, 4), torch.ones(5, 4)],)).module()
    three = [torch.ones(3, 4), torch.ones(5, 4), torch.ones(2, 4)]
    with pytest.raises(Exception, match="input tree spec"):
        module(three)
    assert copy.deepcopy(module)(three).shape == (8, 4)  # the third item is silently left out


def test_a_scripted_reference_with_state_is_probed_on_a_copy():
    from models_with_state import CountsInBuffer, RunningTotal
    reference = torch.jit.script(RunningTotal())
    report = H.parity(reference, copy.deepcopy(reference), example=torch.ones(3, 4))
    assert report.all_close, report  # the probe of the variants ran on a copy: both start from the same total
    assert torch.equal(reference.total, torch.zeros(4))


def test_an_exported_modules_buffers_are_put_back_after_the_check():
    from models_with_state import RunningTotal
    x = torch.ones(2, 4)
    program = torch.export.export(RunningTotal(), (x,))
    module = program.module()
    H.parity(RunningTotal(), module, inputs=[x, x, x])
    assert torch.equal(module.total, torch.zeros(4)) and torch.equal(program.state_dict["total"], torch.zeros(4))


def test_state_is_not_blamed_when_the_copy_refused_inputs():
    from models_with_state import RunningTotal
    two, one = torch.ones(2, 4), torch.ones(1, 4)
    module = torch.export.export(RunningTotal(), (two,)).module()  # a static batch of 2: batch 1 is refused
    report = H.parity(RunningTotal(), module, inputs=[two, one, two])
    assert not report.all_close and not report.loses_state
    assert any("refused some inputs, so it ran fewer calls than eager" in w for w in report.warnings), report.warnings
    assert not any("does not keep it" in w for w in report.warnings)


class DecoratedForward(torch.nn.Module):  # a decorator wraps forward: the coverage watches the function inside
    @torch.no_grad()
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return -x


class LoopedConditional(torch.nn.Module):  # the same sides on every input, taken a different number of times
    def forward(self, x):
        h = torch.zeros(())
        for i in range(x.shape[0]):
            h = h * 2 + x[i] if x[i] > 0 else h - x[i]
        return h


def test_a_decorated_forward_and_a_side_taken_more_often_are_seen():
    x = torch.ones(3)
    report = H.parity(DecoratedForward(), torch.jit.trace(DecoratedForward(), x), inputs=[x, 2 * x])
    assert any("no input ran `return -x`" in w for w in report.warnings), report.warnings
    ex = H.DivergenceExplorer(LoopedConditional(), "trace", example=torch.tensor([1.0, -1.0, 1.0]))
    state = ex.set(scale=-1.0)
    assert not state.agree and "runs the `else` side, `h - x[i]`, 2 times here, 1 on the example" in state.path


def test_a_conditional_over_several_lines_is_named_on_one():
    class Spread(torch.nn.Module):
        def forward(self, x):
            y = (x * 2
                 if x.sum() > 50
                 else x - 1)
            return y

    x = torch.full((3, 4), 0.1)
    warnings_ = H.parity(Spread(), torch.jit.trace(Spread(), x), example=x).warnings
    named = [w for w in warnings_ if "no input ran" in w]
    assert len(named) == 1 and "the `if` side of `x * 2 if x.sum() > 50 else x - 1`" in named[0], warnings_


class WithOptions(torch.nn.Module):
    def forward(self, x, scale: int = 2, *, shift: float = 0.0):
        return x * scale + shift


class WithScale(torch.nn.Module):
    def forward(self, x, scale: int = 2):
        return x * scale


def test_options_no_input_passed_are_named_and_passed_ones_are_not():
    traced = torch.jit.trace(WithOptions(), (torch.ones(3),))
    report = H.parity(WithOptions(), traced, example=torch.ones(3), label="traced")
    assert report.all_close  # the defaults are what the trace fixed, so nothing differs ...
    assert report.defaults_kept == ["scale=2", "shift=0.0 (keyword-only)"]  # ... and the report says what was not tried
    assert any(w.startswith("every input left forward's `scale=2`, `shift=0.0 (keyword-only)` at their defaults")
               and "a keyword-only one through a wrapper module" in w for w in report.warnings)
    assert H.parity(WithOptions(), traced, inputs=[(torch.ones(3), 2)]).defaults_kept == ["shift=0.0 (keyword-only)"]
    # the trace refuses the option it fixed, which the note warns of; a scripted copy keeps it as an argument
    assert not H.parity(WithOptions(), traced, inputs=[(torch.ones(3), 3)], label="traced").all_close
    exported = torch.export.export(WithScale(), (torch.ones(3),)).module()  # an export fixes it too
    assert not H.parity(WithScale(), exported, inputs=[(torch.ones(3), 3)], label="exported").all_close
    scripted = torch.jit.script(WithScale())
    passed = H.parity(WithScale(), scripted, inputs=[(torch.ones(3), 3)], label="scripted")
    assert passed.all_close and passed.defaults_kept == [] and not passed.warnings
    assert H.parity(scripted, scripted, example=torch.ones(3)).defaults_kept == []  # a TorchScript reference: its own


class ShortCircuit(torch.nn.Module):  # `and` decides on its first operand for small inputs: the second never runs
    def forward(self, x):
        big = x.sum() > 50 and x.max() > 10
        return x * 2 if big else x - 1


class OneLineIfStatement(torch.nn.Module):  # the test and the body on one line: a line count cannot tell them apart
    def forward(self, x):
        y = x + 1
        if x.sum() > 50: y = y * 3; y = y - 2
        return y


def test_an_operand_and_skipped_and_a_one_line_if_body_are_named():
    small = torch.full((3, 4), 0.1)
    for model, expected in ((ShortCircuit(), "no input ran `x.max() > 10` (ShortCircuit.forward, the operand of "
                                             "`x.sum() > 50 and x.max() > 10`"),
                            (OneLineIfStatement(), "no input ran `y = y * 3; y = y - 2` (OneLineIfStatement.forward, "
                                                   "the body of `if x.sum() > 50: y = y * 3; y = y - 2`")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(model, small)
        report = H.parity(model, traced, example=small, label="traced")
        assert report.all_close and any(expected in w for w in report.warnings), report.warnings
        both = H.parity(model, model, inputs={"small": small, "big": torch.full((3, 4), 20.0)})
        assert not both.uncovered and not both.same_path  # each part ran on one input: nothing left to name


def test_the_explorer_sees_a_one_line_if_body_run():
    ex = H.DivergenceExplorer(OneLineIfStatement(), "trace", example=torch.full((3, 4), 0.1))
    state = ex.set(scale=200.0)
    assert not state.agree
    assert state.path == ("eager Python takes another path than the example: in `if x.sum() > 50: y = y * 3; y = y - 2` "
                          "it runs the body, `y = y * 3; y = y - 2`, which the example skipped")


class HoldsALock(torch.nn.Module):  # a deep copy fails on the lock, so parity must run this model itself
    def __init__(self):
        super().__init__()
        self.lock, self.calls = threading.Lock(), 0

    def forward(self, x):
        with self.lock:
            self.calls += 1
        return x + 1


def test_a_model_that_cannot_be_copied_is_run_itself_and_the_report_says_so():
    model = HoldsALock()
    report = H.parity(model, lambda x: x + 1, inputs=[torch.ones(2), torch.zeros(2)], label="wrapped")
    assert model.calls == 2  # it really ran the caller's model ...
    assert report.uncopied.startswith("TypeError: cannot pickle '_thread.lock' object")
    assert any(w.startswith("eager could not be copied (TypeError: cannot pickle '_thread.lock' object), so parity ran "
                            "your model itself") for w in report.warnings)  # ... and says so
    assert H.parity(torch.nn.ReLU(), torch.nn.ReLU(), example=torch.ones(2)).uncopied == ""


def _no_wraps(function):  # a decorator that forgets functools.wraps: forward is a closure's function
    def wrapper(self, *args, **kwargs):
        return function(self, *args, **kwargs)
    return wrapper


class DecoratedWithoutWraps(torch.nn.Module):
    @_no_wraps
    def forward(self, x):
        big = x.sum() > 100 and x.max() > 10
        return x * 3 if big else x


def test_a_forward_behind_a_decorator_without_wraps_is_still_watched():
    small = torch.full((3, 4), 0.1)
    report = H.parity(DecoratedWithoutWraps(), DecoratedWithoutWraps(), inputs={"small": small})
    assert [text for _, _, text in report.uncovered] == ["x.max() > 10", "x * 3"]
    state = H.DivergenceExplorer(DecoratedWithoutWraps(), "trace", example=small).set(scale=200.0)
    assert not state.agree and state.path.startswith("eager Python takes another path than the example")


class OperandOnItsOwnLine(torch.nn.Module):
    def forward(self, x):
        big = (x.sum() > 0
               and x.max() > 100)
        return x * 3 if big else x


def test_an_operand_on_a_line_of_its_own_is_named_once():
    report = H.parity(OperandOnItsOwnLine(), OperandOnItsOwnLine(), inputs={"negative": torch.full((2,), -20.0)})
    assert [text for _, _, text in report.uncovered] == ["x.max() > 100", "x * 3"]


class ReturnsEarlyOnOneLine(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 50: return x * 3
        return x + 1


def test_the_explorer_names_the_one_line_body_that_ran_beside_the_line_it_skipped():
    state = H.DivergenceExplorer(ReturnsEarlyOnOneLine(), "trace", example=torch.full((3, 4), 0.1)).set(scale=200.0)
    assert not state.agree
    assert state.path == ("eager Python takes another path than the example: it skips `return x + 1` and runs the body, "
                          "`return x * 3`, of `if x.sum() > 50: return x * 3`")


def _registered(function):  # keeps forward in a dict: no closure cell holds it directly
    table = {"f": function}

    def wrapper(self, *args, **kwargs):
        return table["f"](self, *args, **kwargs)
    return wrapper


LOGGED = []


def _log(message, level=0):
    if level > 5:
        print("LOG", message)
    LOGGED.append(message)


def _logged_with(logger):  # a decorator closing over a helper with a branch of its own
    def decorate(function):
        def wrapper(self, *args, **kwargs):
            logger("forward")
            return function(self, *args, **kwargs)
        return wrapper
    return decorate


def _by_default(function):  # the wrapper takes forward through a default argument
    def wrapper(self, *args, _fn=function, **kwargs):
        return _fn(self, *args, **kwargs)
    return wrapper


class RegisteredForward(torch.nn.Module):
    @_registered
    def forward(self, x):
        if x.sum() > 100: return x * 3
        return x + 1


class LoggedForward(torch.nn.Module):
    @_logged_with(_log)
    def forward(self, x):
        return x * 2 + 1


class DefaultArgForward(torch.nn.Module):
    @_by_default
    def forward(self, x):
        if x.sum() > 100: return x * 3
        return x + 1


class LibraryDecorated(torch.nn.Module):
    @torch.compiler.disable
    def forward(self, x):
        if x.sum() > 100: return x * 3
        return x + 1


def test_the_body_behind_any_decorator_is_watched_and_only_the_body():
    small, big = torch.full((3, 4), 0.1), torch.full((3, 4), 20.0)
    for model in (RegisteredForward(), DefaultArgForward(), LibraryDecorated()):
        report = H.parity(model, model, inputs={"small": small})
        assert [text for _, _, text in report.uncovered] == ["return x * 3"], (type(model), report.uncovered)
        assert report.defaults_kept == []  # `_fn=forward` is the wrapper's plumbing, not an option
        assert not H.parity(model, model, inputs={"small": small, "big": big}).same_path
    # the logger the decorator calls, and its branch, are not the model's paths
    assert H.parity(LoggedForward(), LoggedForward(), example=small).uncovered == []


def test_the_explorer_names_the_one_line_body_the_example_ran_and_this_input_skipped():
    state = H.DivergenceExplorer(ReturnsEarlyOnOneLine(), "trace", example=torch.full((3, 4), 20.0)).set(scale=0.001)
    assert not state.agree
    assert state.path == ("eager Python takes another path than the example: it runs `return x + 1` and skips the body, "
                          "`return x * 3`, of `if x.sum() > 50: return x * 3`, which the example ran")


class HoldsOddClassAttributes(torch.nn.Module):  # none of these is a decorator: the search passes them by quickly
    op = torch.ops.aten.add
    shared = torch.nn.Linear(4, 4)
    table = {i: str(i) for i in range(10000)}

    def forward(self, x):
        if x.sum() > 100: return x * 3
        return self.op(x, 1)


def test_class_attributes_that_are_no_decorators_do_not_stop_the_coverage():
    report = H.parity(HoldsOddClassAttributes(), HoldsOddClassAttributes(), inputs={"small": torch.ones(2)})
    assert [text for _, _, text in report.uncovered] == ["return x * 3"]


class _BigAndTiny(torch.nn.Module):
    def forward(self, x):
        return x * 3, x * 1e-9


def test_one_part_within_atol_beside_a_larger_part_gets_no_tick():
    x = torch.randn(3, 4)
    zeros_there = H.parity(_BigAndTiny(), lambda t: (t * 3, torch.zeros_like(t)), example=x, label="zeros")
    assert zeros_there.all_close and not zeros_there.tiny and zeros_there.tiny_parts == ["out[1]"]
    assert zeros_there.summary.startswith("⚠ zeros agrees") and "out[1] only as numbers within atol" in zeros_there.summary
    assert any(w.startswith("out[1] of eager's output lay within atol=1e-06 of zero") for w in zeros_there.warnings)
    assert zeros_there.proves_little
    # a part that is small on one input only is no cause for a note; dict parts are named by their key
    mixed = H.parity(lambda t: {"a": t, "b": t * t.sum()}, lambda t: {"a": t, "b": t * t.sum()},
                     inputs=[torch.zeros(2), torch.ones(2)])
    assert mixed.tiny_parts == [] and mixed.summary.startswith("✔")
    keyed = H.parity(lambda t: {"a": t, "b": t * 1e-9}, lambda t: {"a": t, "b": t * 0}, inputs=[torch.ones(2)])
    assert keyed.tiny_parts == ["out['b']"] and keyed.summary.startswith("⚠")


def test_a_detectors_training_only_targets_is_no_option_left_unchecked_in_eval_mode():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None)
    from helpers.tools.parity import defaults_left
    assert defaults_left(model.eval(), [([torch.rand(3, 64, 64)],)]) == []
    assert defaults_left(model.train(), [([torch.rand(3, 64, 64)],)]) == ["targets=None"]  # in training it is used


def test_integer_inputs_of_one_value_only_are_said_to_check_that_value_only():
    from outside_models import Lookup
    model = Lookup()
    zeros = H.parity(model, model, example=torch.zeros(2, 4, dtype=torch.long))
    assert zeros.all_close and any("every integer tensor held one and the same value" in w for w in zeros.warnings)
    varied = H.parity(model, model, inputs=[torch.zeros(2, 4, dtype=torch.long), torch.arange(8).reshape(2, 4)])
    assert not any("one and the same value" in w for w in varied.warnings)


class _Detections(torch.nn.Module):
    """Boxes and scores sorted by score, as a detector gives them; ``flip`` lists tied boxes the other way round."""
    def __init__(self, flip=False):
        super().__init__()
        self.flip = flip

    def forward(self, x):
        boxes = torch.stack([x, x + 1, x + 2, x + 3], dim=1)
        scores = torch.full((x.shape[0],), 0.5)  # every score ties, as with random weights
        labels = torch.arange(x.shape[0])
        order = torch.arange(x.shape[0] - 1, -1, -1) if self.flip else torch.arange(x.shape[0])
        return {"boxes": boxes[order], "scores": scores[order], "labels": labels[order]}


def test_tied_rows_listed_in_another_order_are_named_not_left_as_a_bare_difference():
    report = H.parity(_Detections(), _Detections(flip=True), [(torch.tensor([1.0, 5.0, 9.0]),)])
    assert not report  # another order is another answer to a caller that takes the first box
    note = report.rows[0].note
    assert "'boxes'" in note and "the same rows in another order" in note
    assert "'labels'" in note and "the same values in another order" in note  # integers: values, one per row
    assert "'scores'" not in note  # equal ties stay equal: nothing to say


def test_different_values_get_no_reorder_note():
    class Plus(torch.nn.Module):
        def forward(self, x):
            return x + 1
    report = H.parity(torch.nn.Identity(), Plus(), [(torch.tensor([1.0, 2.0, 3.0]),)])
    assert not report and "another order" not in report.rows[0].note
    shuffled = H.parity(torch.nn.Identity(), _Shuffle(), [(torch.tensor([[1.0, 2.0], [3.0, 4.0]]),)])
    assert "the same values in another order" in shuffled.rows[0].note  # numbers moved across rows


class _Shuffle(torch.nn.Module):
    def forward(self, x):
        return x.flatten().flip(0).reshape(x.shape[1], x.shape[0]).t()


class _SparseTimesDense(torch.nn.Module):
    def forward(self, adjacency, x):
        return torch.sparse.mm(adjacency, x)


class _Dequantize(torch.nn.Module):
    def forward(self, q):
        return q.dequantize() * 2


def _sparse_example():
    indices = torch.tensor([[0, 1, 2], [1, 0, 2]])
    return torch.sparse_coo_tensor(indices, torch.ones(3), (3, 3)).coalesce(), torch.randn(3, 4)


def test_sparse_and_quantized_inputs_are_checked_on_the_example_with_a_note_not_a_crash():
    quantized = torch.quantize_per_tensor(torch.randn(3, 4), 0.1, 0, torch.qint8)
    for model, example, kind in ((_SparseTimesDense(), _sparse_example(), "sparse"),
                                 (_Dequantize(), (quantized,), "quantized")):
        variants = H.vary_inputs(example, model=model)
        assert list(variants) == ["example"] and f"holds a {kind} tensor" in variants.skipped["variants"]
        report = H.parity(model, torch.jit.script(model), inputs=[example])
        assert report.all_close and not report.one_integer  # a qint8 tensor is no integer input to count


class _OneStepUp(torch.nn.Module):
    def forward(self, x):
        return torch.nextafter(x, torch.full_like(x, float("inf")))  # one rounding step of x's own dtype


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_outputs_a_rounding_step_apart_are_close_and_say_why(dtype):
    x = (torch.randn(4, 8) * 3).to(dtype)
    report = H.parity(torch.nn.Identity(), _OneStepUp(), inputs=[(x,)])
    assert report.all_close and f"close within {dtype}'s precision" in report.rows[0].note
    far = H.parity(torch.nn.Identity(), _Shifted(), inputs=[(x,)])
    assert not far.all_close  # a real difference is still one
    # a float32 output a float16 step apart is a difference: the wider tolerance is for half-precision outputs only
    assert not H.parity(torch.nn.Identity(), _HalfStepUp(), inputs=[(x.float(),)]).all_close


class _HalfStepUp(torch.nn.Module):
    def forward(self, x):
        return x * (1 + 2 ** -10)


class _Shifted(torch.nn.Module):
    def forward(self, x):
        return x + 0.25


class _Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True)

    def forward(self, x, pad):
        return self.layer(x, src_key_padding_mask=pad)


class _WithGrad(torch.nn.Module):
    """The encoder run with gradients on: its ordinary path, as a copy of it would compute."""
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, pad):
        with torch.enable_grad():
            return self.model(x, pad).detach()


def test_eager_nan_from_its_no_grad_fast_path_is_not_the_copys_divergence():
    model = _Encoder().eval()
    x, pad = torch.randn(2, 5, 16), torch.ones(2, 5, dtype=torch.bool)  # every key masked
    with torch.no_grad():
        assert torch.isnan(model(x, pad)).any()  # the fast path's answer (a future torch that fixes it fails here)
    report = H.parity(model, _WithGrad(model), inputs=[(x, pad)])
    assert report.all_close and "under torch.no_grad, where a fast path of its own runs" in report.rows[0].note
    assert not H.parity(model, _Zeros(), inputs=[(x, pad)]).all_close  # numbers that are not eager's: still ✘


class _Zeros(torch.nn.Module):
    def forward(self, x, pad):
        return torch.zeros_like(x)


class _Encoders(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        layer = torch.nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, 2)

    def forward(self, x, pad):
        return self.encoder(x, src_key_padding_mask=pad)


def test_eager_zeros_at_padded_positions_from_its_fast_path_are_not_the_copys_divergence():
    model = _Encoders().eval()
    x, pad = torch.randn(3, 5, 16), torch.zeros(3, 5, dtype=torch.bool)
    pad[0, 3:] = pad[2, 1:] = True
    with torch.no_grad():
        fast = model(x, pad)
    ordinary = model(x, pad).detach()
    assert (fast[pad] == 0).all() and not torch.allclose(fast, ordinary)  # zeros where it pads, only under no_grad
    assert torch.allclose(fast[~pad], ordinary[~pad], atol=1e-5)
    report = H.parity(model, _WithGrad(model), inputs=[(x, pad)])
    assert report.all_close and "nn.TransformerEncoder's fast path runs" in report.rows[0].note, report


class _GradSwitch(torch.nn.Module):  # a model of one's own that answers otherwise under no_grad: not excused
    def forward(self, x):
        return x * 2 if torch.is_grad_enabled() else x * 3


def test_a_model_of_ones_own_that_branches_on_grad_mode_still_diverges():
    model = _GradSwitch()
    report = H.parity(model, _WithGrad(_GradSwitchOneArg(model)), inputs=[(torch.ones(2),)])
    assert not report.all_close


class _GradSwitchOneArg(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, pad=None):
        return self.model(x)


def test_an_exported_program_gets_one_line_that_names_module_not_a_row_per_input():
    model = torch.nn.Linear(3, 2)
    program = torch.export.export(model, (torch.randn(2, 3),))
    with pytest.raises(TypeError, match=r"an ExportedProgram is not called directly: pass program.module\(\)"):
        H.parity(model, program, example=torch.randn(2, 3))
    assert H.parity(model, program.module(), inputs=[torch.randn(2, 3)]).all_close  # its fixed batch of 2


class ScaledByDefault(torch.nn.Module):
    def forward(self, x, scale: float = 2.0):
        return x * scale


def test_a_default_no_input_passed_is_said_fixed_only_for_a_copy_that_fixed_it():
    x = torch.randn(2, 3)
    scripted = H.parity(ScaledByDefault(), torch.jit.script(ScaledByDefault()), inputs=[x])
    traced = H.parity(ScaledByDefault(), torch.jit.trace(ScaledByDefault(), x), inputs=[x])
    said = {name: next(n for n in report.warnings if "at its default" in n) for name, report in
            (("scripted", scripted), ("traced", traced))}
    assert "`scale=2.0`" in said["scripted"] and "fixes it into its graph" not in said["scripted"], said
    assert "a trace or an export fixes it into its graph" in said["traced"], said


def test_a_nesting_that_differs_inside_a_dict_is_named_where_it_differs():
    def eager(x):
        return {"parts": [x, x + 1, x + 2], "total": x * 3}

    def copy_(x):  # a number fixed at 2 where eager made 3 parts
        return {"parts": [x, x + 1], "total": x * 3}

    report = H.parity(eager, copy_, inputs=[torch.ones(2)])
    note = report.rows[0].note
    assert "out['parts'] is list(tensor, tensor, tensor) in eager, list(tensor, tensor) in converted" in note, note


class _FlipsEachCall(torch.nn.Module):
    """Differs from itself, as a model in training mode does: its rows come in another order at every call."""
    def __init__(self):
        super().__init__()
        self.drop = torch.nn.Dropout(0.5)  # in training mode: why parity asks whether eager agrees with itself
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        rows = torch.arange(6.0).reshape(3, 2) + 0 * x.sum()
        return rows if self.calls % 2 else rows.flip(0)


def test_a_model_that_differs_from_itself_gets_no_guess_about_ties_sorted_otherwise():
    report = H.parity(_FlipsEachCall(), lambda x: torch.arange(6.0).reshape(3, 2).flip(0), inputs=[torch.ones(2)])
    assert report.self_divergent and "gives two different answers to the same input" in " ".join(report.warnings)
    assert all("in another order" not in row.note for row in report.rows), [row.note for row in report.rows]


class _DivideByItself(torch.nn.Module):
    """x / x.abs().min(): ±inf wherever the smallest |value| is 0, numbers elsewhere."""

    def forward(self, x):
        return x / x.abs().min()


class _NegateInfinities(torch.nn.Module):
    def forward(self, x):
        y = x / x.abs().min()
        return torch.where(torch.isinf(y), -y, y)


def test_the_same_infinity_on_both_sides_is_no_difference_and_is_said():
    x = torch.tensor([[0.0, 1.0, -2.0]])
    report = H.parity(_DivideByItself(), _DivideByItself(), inputs={"with a zero": x, "no zero": x + 4})
    # inf - inf is NaN: a row of equal infinities once read "largest |diff| inf" beside ✔
    assert report.all_close and report.rows[0].exact and report.rows[0].max_diff == 0
    assert report.rows[0].diff_text == "0"
    assert [w for w in report.warnings if "holds ±inf (2 places on 'with a zero')" in w], report.warnings
    assert not [w for w in report.warnings if "'no zero'" in w]  # finite outputs: nothing said of them
    flipped = H.parity(_DivideByItself(), _NegateInfinities(), inputs={"with a zero": x})
    assert not flipped.all_close and flipped.rows[0].max_diff == float("inf")  # +inf vs -inf differs
    assert not [w for w in flipped.warnings if "±inf" in w]  # a diverging row gets no "agree" note


class _TopTwo(torch.nn.Module):
    def forward(self, x):
        return torch.topk(x, 2)


class _TopTwoReversed(torch.nn.Module):
    """topk's values, with the indices of equal values taken from the other end of the row."""

    def forward(self, x):
        values, indices = torch.topk(x.flip(-1), 2)
        return values, x.shape[-1] - 1 - indices


def test_indices_that_differ_only_where_their_values_tie_are_explained():
    ties, distinct = torch.zeros(2, 5), torch.arange(10.0).reshape(2, 5)
    report = H.parity(_TopTwo(), _TopTwoReversed(), inputs={"zeros": ties, "distinct": distinct})
    zeros, numbers = report.rows
    assert zeros.diverges and "ties with another value in its row" in zeros.note, zeros.note  # still a divergence
    assert not numbers.diverges  # no ties: the same indices
    # indices that differ where nothing ties get no such excuse
    other = H.parity(_TopTwo(), _TopTwo(), inputs={"zeros": ties})
    assert other.all_close


def test_tied_indices_note_needs_the_values_to_tie():
    class Wrong(torch.nn.Module):
        def forward(self, x):
            values, indices = torch.topk(x, 2)
            return values, (indices + 1) % x.shape[-1]
    x = torch.arange(10.0).reshape(2, 5)
    row = H.parity(_TopTwo(), Wrong(), inputs={"distinct": x}).rows[0]
    assert row.diverges and "ties" not in row.note


class _LoopsWhileNegative(torch.nn.Module):
    def forward(self, x):
        while x.sum() < 0:
            x = x * 1.0
        return x


def test_an_input_of_your_own_that_eager_never_finishes_is_an_error_not_a_hang():
    import time
    started = time.perf_counter()
    with pytest.raises(ValueError, match=r"did not finish on input 'input 1' within 5 s.*never ends") as caught:
        H.parity(_LoopsWhileNegative(), _LoopsWhileNegative(), inputs=[torch.ones(3), -torch.ones(3)])
    assert "\n" not in str(caught.value)
    assert time.perf_counter() - started < 120  # stopped at its limit (5 s here), not left to run forever


def test_the_first_input_has_a_limit_too(monkeypatch):
    # nothing to measure against yet: the first input's limit is a fixed one (60 s and more for big models),
    # shortened here so the test is quick
    import helpers.tools.parity as parity_module
    monkeypatch.setattr(parity_module, "first_call_seconds", lambda model: 2.0)
    with pytest.raises(ValueError, match=r"did not finish on input 'input 0' within 2 s \(the first input's limit"):
        H.parity(_LoopsWhileNegative(), _LoopsWhileNegative(), inputs=[-torch.ones(3)])
    with pytest.raises(ValueError, match=r"did not finish on the example within 2 s"):
        H.parity(_LoopsWhileNegative(), _LoopsWhileNegative(), example=-torch.ones(3))
    assert H.course.guards.first_call_seconds(torch.nn.Linear(1000, 1000)) == pytest.approx(70.01)


def test_a_long_list_of_training_layers_is_cut_to_three_and_a_count():
    layers = [m for _ in range(5) for m in (torch.nn.Linear(4, 4), torch.nn.Dropout(0.2))]
    model, x = torch.nn.Sequential(*layers), torch.randn(6, 4)
    report = H.parity(model, model, inputs=[x])
    assert len(report.training_mode) == 5
    note = next(n for n in report.warnings if "training mode" in n)
    assert "Dropout '1', Dropout '3', Dropout '5' and 2 more" in note and "Dropout '9'" not in note, note


@pytest.mark.parametrize("make", [lambda: torch.nn.LSTM(8, 8, num_layers=3, dropout=0.5, batch_first=True),
                                  torch.nn.RReLU])
def test_randomness_of_other_layers_in_training_is_eagers_not_the_copys(make):
    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = make()  # each model its own layer: eval() on the copy must not reach the model's

        def forward(self, x):
            out = self.layer(x)
            return out[0] if isinstance(out, tuple) else out

    model, x = Head().train(), torch.randn(4, 5, 8)
    copy = Head().eval()
    copy.load_state_dict(model.state_dict())
    report = H.parity(model, copy, inputs=[x])
    assert report.self_divergent and not report.all_close, report
    note = next(n for n in report.warnings if "two different answers" in n)
    assert type(model.layer).__name__ in note, note  # named, not "a random layer is active"


class _NoiseInForward(torch.nn.Module):  # random in forward itself: no layer to name, in either mode
    def forward(self, x):
        return x + torch.randn_like(x)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_randomness_in_forward_itself_is_said_as_such_in_either_mode(mode):
    model = getattr(_NoiseInForward(), mode)()
    report = H.parity(model, torch.jit.script(model), inputs=[torch.randn(2, 4)])
    assert report.self_divergent and not report.all_close, report
    note = next(n for n in report.warnings if "two different answers" in n)
    assert "randomness in forward, or state kept outside the model" in note and "training mode" not in note and "eval()" not in note, note


def test_a_counter_in_training_mode_is_not_called_random():
    from models_with_state import CountsCalls  # training mode by default, no random layer: answers move with a count
    report = H.parity(CountsCalls(), lambda x: x + 100, inputs=[torch.zeros(3)])
    assert not report.self_divergent and not any("two different answers" in n for n in report.warnings), report



class _FunctionalDropout(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x):
        return torch.nn.functional.dropout(self.lin(x), 0.5, self.training)


def test_a_forward_that_reads_self_training_counts_as_a_layer_in_training_mode():
    from helpers.tools.parity import training_layers
    model, x = TrainingFlag(), torch.randn(2, 4)
    assert training_layers(model) == ["TrainingFlag, whose forward reads self.training"]
    assert training_layers(torch.nn.Sequential(_FunctionalDropout())) == [
        "_FunctionalDropout '0', whose forward reads self.training"]
    report = H.parity(model, torch.jit.trace(model, x), inputs=[x, -x])  # agrees, on the training-mode path
    assert report.all_close and report.summary.startswith("⚠") and "training mode" in report.summary
    assert training_layers(model.eval()) == [] and training_layers(torch.nn.Linear(2, 2)) == []  # train() alone: no


def test_a_copy_that_changes_its_input_in_place_where_eager_does_not_gets_no_tick():
    model, x = torch.nn.Linear(3, 2).eval(), torch.randn(4, 3)

    def zeroes_its_input(t):
        out = model(t.clone())
        t.zero_()
        return out

    report = H.parity(model, zeroes_its_input, inputs=[x])
    assert report.all_close and report.copy_changes_input and report.summary.startswith("⚠")
    assert "changes its input in place where eager does not" in report.summary
    assert not H.parity(model, model, inputs=[x]).copy_changes_input


class _KeepBest(torch.nn.Module):
    """Keeps the two best of four candidate boxes by score, as a detector does; ``other_end`` breaks ties the other way."""
    def __init__(self, scores, other_end=False):
        super().__init__()
        self.register_buffer("scores", scores)
        self.other_end = other_end

    def forward(self, x):
        boxes = torch.stack([x + i for i in range(4)])  # candidate i: four coordinates
        scores = self.scores.flip(0) if self.other_end else self.scores
        kept = torch.topk(scores, 2).indices
        if self.other_end:
            kept = 3 - kept
        return {"boxes": boxes[kept], "scores": self.scores[kept]}


def test_boxes_kept_differently_among_tied_scores_are_explained_and_still_diverge():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    tied = torch.full((4,), 0.5)
    row = H.parity(_KeepBest(tied), _KeepBest(tied, other_end=True), inputs={"x": x}).rows[0]
    assert row.diverges and "differs only in rows whose out['scores'] ties with another score" in row.note, row.note
    # distinct scores keep the same boxes either way: nothing differs, nothing to explain
    distinct = torch.tensor([0.1, 0.9, 0.3, 0.7])
    assert H.parity(_KeepBest(distinct), _KeepBest(distinct, other_end=True), inputs={"x": x}).all_close


def test_boxes_that_differ_beside_untied_scores_get_no_tie_note():
    class Shifted(_KeepBest):
        def forward(self, x):
            out = super().forward(x)
            return {"boxes": out["boxes"] + 1, "scores": out["scores"]}
    distinct = torch.tensor([0.1, 0.9, 0.3, 0.7])
    row = H.parity(_KeepBest(distinct), Shifted(distinct), inputs={"x": torch.ones(4)}).rows[0]
    assert row.diverges and "ties" not in row.note


class _CountsCallsScripted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.lin(x) * self.calls


def test_a_scripted_reference_that_keeps_state_is_not_called_random():
    # its attributes are not Python ones, but its graph writes one (prim::SetAttr): a moving count, not randomness
    eager = _CountsCallsScripted().eval()
    report = H.parity(torch.jit.script(eager), lambda x: eager.lin(x) * 1, example=torch.randn(3, 4))
    assert not report.all_close and not report.self_divergent
    assert not any("randomness" in note or "two different answers" in note for note in report.warnings), report.warnings


class _Thousand(torch.nn.Module):
    def forward(self, x):
        return x * 1000


class _ThousandNudged(torch.nn.Module):  # 1e-4 off everywhere: beside 0 that exceeds atol=1e-6, beside 1000 it is rounding
    def forward(self, x):
        return x * 1000 + 1e-4


class _ThousandOff(torch.nn.Module):
    def forward(self, x):
        return x * 1000 + 1


def test_a_difference_only_the_absolute_atol_calls_one_points_to_scale_atol():
    x = torch.tensor([0.0, 1.0])
    report = H.parity(_Thousand(), _ThousandNudged(), inputs=[x])
    assert not report.all_close
    assert any("scale_atol=True multiplies atol" in w and "and with it they agree" in w for w in report.warnings)
    assert H.parity(_Thousand(), _ThousandNudged(), inputs=[x], scale_atol=True).all_close  # what the note promises
    really_off = H.parity(_Thousand(), _ThousandOff(), inputs=[x])
    assert not really_off.all_close and not any("scale_atol" in w for w in really_off.warnings)


class AlwaysEntered(torch.nn.Module):  # an `if` with no `else`: the way past it runs no line of its own
    def forward(self, x):
        if x.dim() == 1:
            x = x.unsqueeze(0)
        if torch.jit.is_scripting():  # compiler-only: never a caveat
            x = x + 0
        return x * 2


def test_an_if_every_input_entered_is_named_with_its_condition_false_and_cleared_by_one_that_skips():
    model = AlwaysEntered()
    report = H.parity(model, torch.jit.script(model), inputs=[torch.ones(3), torch.ones(2)])
    assert [text for _where, _place, text in report.uncovered] == ["if x.dim() == 1:"], report.uncovered
    assert report.uncovered[0][0] == "AlwaysEntered.forward, with its condition false" and report.proves_little
    both = H.parity(model, torch.jit.script(model), inputs=[torch.ones(3), torch.ones(2, 3)])
    assert not both.uncovered, both.uncovered


class ManyIfs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.use_norm = True

    def forward(self, x, mask=None):
        if self.use_norm:  # a flag of the model: every input answers alike, no caveat
            x = x * 2
        if not self.training:
            x = x + 1
        if not torch.jit.is_scripting() and not torch.jit.is_tracing():  # a compiler decides: no caveat
            x = x * 1
        if torch.compiler.is_compiling() or torch.jit.is_scripting():  # compiler-only body: not a missed line
            x = x * 1
        if (x.dim() == 1  # a vector
                and x.shape[-1] > 0):  # not empty
            x = x * 1
        if x.dim() == 3:
            x = x + 0
        elif x.dim() == 1:
            x = x - 0
        for i in range(3):
            x = x + 1
            if x.dim() == 1:  # the loop's last statement: its break leaves nothing after it to show the other way
                break
        if x.dim() == 1:
            return x


def test_the_caveat_names_what_inputs_could_change_as_written_and_skips_flags_and_compiler_checks():
    from helpers.tools.path_recorder import LineCoverage
    model = ManyIfs().eval()
    coverage = LineCoverage(model)
    with coverage.watch("a vector"):
        model(torch.ones(3))
    named = [(where.split(", ", 1)[-1], text) for where, _place, text in coverage.uncovered()]
    assert named == [("with its condition false", "if x.dim() == 1 and x.shape[-1] > 0:"),
                     ("ManyIfs.forward", "x = x + 0"),
                     ("with its condition false", "elif x.dim() == 1:"),
                     ("with its condition false", "if x.dim() == 1:"),
                     ("with its condition false", "if x.dim() == 1:")], named
    with coverage.watch("a matrix"):  # takes every way past those ifs, and none of their bodies
        model(torch.ones(2, 3))
    assert [text for _w, _p, text in coverage.uncovered()] == ["x = x + 0"]


class PythonLoop(torch.nn.Module):
    def forward(self, x, scale: float = 1.0):
        if scale > 0.5:
            scale = 1.0
        total = 0.0
        for v in x.tolist() * 500:
            total = total + v * scale
        return x * 0 + total


def test_an_if_with_no_else_does_not_switch_on_instruction_tracing():
    from helpers.tools.path_recorder import LineCoverage
    coverage = LineCoverage(PythonLoop())
    assert not coverage.conditional_codes and coverage.skippable  # watched line by line, as any other function


class ReturnsShape(torch.nn.Module):
    def forward(self, x):
        return x * 2, x.shape


def test_a_scripted_size_that_comes_back_a_list_is_named_and_a_kept_tuple_is_not():
    model = ReturnsShape()
    report = H.parity(model, torch.jit.script(model), example=torch.randn(3, 4))
    assert report.all_close and report.retyped == "a list at out[1] where eager returns a torch.Size", report.retyped
    assert any("a list compared with == to a tuple" in w for w in report.warnings)
    traced = H.parity(model, torch.jit.trace(model, torch.randn(3, 4)), example=torch.randn(3, 4))
    assert traced.retyped == "a tensor at out[1][0] where eager returns the int 3", traced.retyped
    pair = torch.nn.Sequential(torch.nn.Linear(4, 4))
    assert not H.parity(pair, torch.jit.script(pair), example=torch.randn(3, 4)).retyped


class _TwoImages(torch.nn.Module):
    """A detector's answer for two images: the first image's scores tie, the second's do not."""

    def __init__(self, shift=0.0):
        super().__init__()
        self.shift = shift

    def forward(self, x):
        return [{"boxes": x[:3], "scores": torch.full((3,), 0.5)},
                {"boxes": x[3:] + self.shift, "scores": torch.tensor([0.9, 0.5, 0.1])}]


def test_another_images_tied_scores_do_not_explain_this_images_boxes():
    row = H.parity(_TwoImages(), _TwoImages(shift=7.0), inputs={"x": torch.randn(6, 4)}).rows[0]
    assert row.diverges and "ties with another score" not in row.note, row.note


def test_assert_close_refuses_an_agreement_that_proves_little_unless_told(branch):
    model, _, x = branch
    one_path = H.parity(model, torch.jit.script(model), inputs=[x])  # `return -x` never ran
    assert one_path and one_path.proves_little  # `assert report` checks agreement only
    with pytest.raises(AssertionError, match=r"^converted agrees with eager, but that proves little .*allow_caveats"):
        one_path.assert_close()
    assert one_path.assert_close(allow_caveats=True) is one_path
    tiny = H.parity(lambda t: t * 1e-9, lambda t: torch.zeros_like(t), inputs=[x])
    with pytest.raises(AssertionError, match="proves little"):
        tiny.assert_close()


class _Drops(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin, self.drop = torch.nn.Linear(4, 4), torch.nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.lin(x))


def test_a_copy_made_before_eval_is_named_as_the_cause():
    torch.manual_seed(0)
    model = _Drops()
    scripted = torch.jit.script(model)  # made while the model was still in training mode
    model.eval()
    report = H.parity(model, scripted, example=torch.randn(3, 4), label="scripted")
    assert not report.all_close
    assert any("the scripted copy has layers in training mode (Dropout 'drop') where eager has none" in w
               for w in report.warnings), report.warnings
    scripted.eval()
    assert not any("copy has layers in training mode" in w
                   for w in H.parity(model, scripted, example=torch.randn(3, 4)).warnings)


def _gate_outside_the_class(x):  # a plain function forward calls: its branch is a path of the model too
    if x.abs().max() > 1000:
        return x * 0
    return x


class CallsAPlainFunction(torch.nn.Module):
    def forward(self, x):
        return _gate_outside_the_class(x) + 1


def test_a_branch_in_a_plain_function_that_forward_calls_is_watched():
    example = torch.randn(2, 3)
    model = CallsAPlainFunction().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warning on the if: what parity must not depend on
        traced = torch.jit.trace(model, example)
    report = H.parity(model, traced, example=example)
    assert [text for _, _, text in report.uncovered] == ["return x * 0"]
    assert report.summary.startswith("⚠")
    state = H.DivergenceExplorer(model, "trace", example=example).set(scale=1e4)
    assert not state.agree and state.path.startswith("eager Python takes another path than the example")


class _BoolBeside(torch.nn.Module):
    def forward(self, x):
        return x, bool(x.sum() > 0)


class _BoolAsTensor(torch.nn.Module):
    def forward(self, x):
        return x, x.sum() > 0


def test_a_retyped_output_names_a_torchscript_reference_as_such():
    reference = torch.jit.script(_BoolBeside())
    report = H.parity(reference, _BoolAsTensor(), inputs={"x": torch.ones(2, 3)}, label="converted")
    assert report.retyped == "a tensor at out[1] where the TorchScript model returns the bool True"


import called_helpers  # noqa: E402  (a module of the learner's, with a module-level __getattr__)


class _CallsNoWraps(torch.nn.Module):
    def forward(self, x):
        return called_helpers.gate_no_wraps(x) + 1


class _CallsWraps(torch.nn.Module):
    def forward(self, x):
        return called_helpers.gate_wraps(x).sum(0)


class _CallsPartial(torch.nn.Module):
    def forward(self, x):
        return called_helpers.gate_partial(x) + 1


_CALLERS = {"no_wraps": _CallsNoWraps, "wraps": _CallsWraps, "partial": _CallsPartial}


@pytest.mark.parametrize("which, untaken", [("no_wraps", "return x * 2"), ("wraps", "return x * 2"),
                                            ("partial", "return x * k")])
def test_a_branch_behind_a_decorator_or_a_partial_is_watched(which, untaken):
    model, example = _CALLERS[which](), torch.ones(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, example)
    report = H.parity(model, traced, example=example)  # the lazy module's __getattr__ raises on any other name
    assert [text for _, _, text in report.uncovered] == [untaken] and report.summary.startswith("⚠")


class _HoldsGate(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = called_helpers.make_gate(1000)  # a closure kept on the model

    def forward(self, x):
        return self.gate(x) + 1


@pytest.mark.parametrize("make, untaken", [(_HoldsGate, "return x * 2"),
                                           (called_helpers.model_with_inner_helper, "return x / 2")])
def test_a_branch_in_a_helper_held_by_a_closure_or_an_attribute_is_watched(make, untaken):
    model, example = make(), torch.ones(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, example)
    report = H.parity(model, traced, example=example)
    assert [text for _, _, text in report.uncovered] == [untaken] and report.summary.startswith("⚠"), report


class _CountsCalls(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0
        self.linear = torch.nn.Linear(4, 3)

    def forward(self, x):
        self.calls += 1
        return self.linear(x)


def test_a_diverging_copy_that_keeps_the_counter_is_told_it_keeps_it():
    # the check whether eager agrees with itself must not count as calls of the learner's model
    model = _CountsCalls().eval()
    scripted = torch.jit.script(copy.deepcopy(model))
    with torch.no_grad():
        scripted.linear.bias.add_(0.5)  # the copy answers otherwise, and still counts its calls
    x = torch.randn(2, 4)
    report = H.parity(model, scripted, inputs=[x, x, x])
    assert not report.all_close and model.calls == 0  # parity ran copies of it
    assert "changed the same way" in str(report) and "does not keep" not in str(report), str(report)


def test_a_bool_argument_gets_its_other_value_and_a_number_beside_it_keeps_its_own_variant():
    x = torch.randn(2, 3)
    variants = H.vary_inputs((x, True, 3))
    assert variants["flags flipped"][1:] == (False, 3) and variants["numbers changed"][1:] == (True, 4)


class _OneLineIf(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.use_softmax = True

    def forward(self, x):
        y = x * 2
        if x.shape[0] < 1000: y = y.softmax(-1)  # noqa: E701 (the one-line form is the case)
        if self.use_softmax: y = y + 1  # noqa: E701 (a flag: every input answers it alike)
        return y


def test_a_one_line_if_whose_body_always_ran_is_named_as_the_multi_line_one_is():
    model = _OneLineIf()
    report = H.parity(model, torch.jit.trace(model, torch.randn(3, 4)), example=torch.randn(3, 4))
    assert [u[2] for u in report.uncovered] == ["if x.shape[0] < 1000:"], report.uncovered
    assert report.uncovered[0][0].endswith("with its condition false")


def test_the_quick_paths_for_large_outputs_find_what_the_full_comparison_finds():
    # Equal tensors skip the float64 comparison, and the scale and tiny checks skip their masked copies unless a
    # NaN or an infinity is there: the answers must be those of the long way round, odd values included.
    from helpers.tools.parity import _compare_leaf, _within_atol_of_zero, output_scale

    inf, nan = float("inf"), float("nan")
    odd = [torch.tensor([0.0, -0.0, inf, -inf, 3.5]), torch.tensor([1e-9, -2e-9]), torch.tensor([nan, 2.0, -inf]),
           torch.tensor([nan, nan]), torch.tensor([inf, -inf]), torch.tensor([1.5, -7.25], dtype=torch.float16),
           torch.tensor([1 + 2j, nan + 0j]), torch.tensor([complex(1e-9, 0), complex(inf, nan)]),
           torch.tensor([3, -4]), torch.tensor([True, False])]
    for t in odd:
        floats = t.is_floating_point()
        if floats:
            finite = t[torch.isfinite(t)]
            assert output_scale(t) == max(1.0, finite.abs().max().item() if finite.numel() else 1.0)
        if floats or t.is_complex():
            kept = t[~t.isnan()].abs()
            for atol in (1e-6, 1e-8, 10.0):
                expected = float(kept.max()) if kept.numel() else None
                assert _within_atol_of_zero(t, atol) == (expected if expected is not None and expected <= atol else None)
        assert _compare_leaf(t, t.clone(), 1e-5, 1e-6) == (True, True, 0.0, "")  # NaN where NaN counts as equal
    # equal but for -0.0 and 0.0: equal numbers, as the full comparison says
    assert _compare_leaf(torch.tensor([0.0]), torch.tensor([-0.0]), 1e-5, 1e-6) == (True, True, 0.0, "")
    # another dtype never takes the quick path: its note stays
    assert _compare_leaf(torch.ones(2), torch.ones(2, dtype=torch.float64), 1e-5, 1e-6) == \
        (False, True, 0.0, "dtype torch.float32 vs torch.float64")
