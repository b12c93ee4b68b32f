"""The parity checker finds where an export diverges, says so in its table, and refuses bad input clearly."""
import math
import warnings

import pytest
import torch

import helpers as H


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
    assert twice.rows[0].note == "eager gives 1 outputs, exported 2"


def test_without_a_label_the_word_is_neutral(tmp_path, branch):
    model, traced, x = branch
    assert H.parity(model, traced, example=x).summary.startswith("✘ converted diverges from eager")
    path = tmp_path / "branch.pt"
    torch.jit.script(model).save(str(path))
    assert H.parity(model, path, inputs=[x]).summary.startswith("✔ loaded agrees with eager on its 1 input (")
    assert H.parity(model, str(path), inputs=[x], label="scripted").summary.startswith("✔ scripted agrees")


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
    assert not report.all_close and "eager gives 1 outputs, converted 2" in report.rows[0].note
    report = H.parity(model, lambda t: model(t)[:2], inputs=[x])
    assert report.rows[0].diff_text == "shape (3,) vs (2,)" and math.isinf(report.max_diff)


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
