"""The path recorder counts the lines a model's Python forward runs, per input."""
import pytest
from xml.etree import ElementTree
import torch

import helpers as H


def test_branch_takes_one_return_per_sign():
    model = H.sample_model("branch")
    positive = H.record_path(model, torch.tensor([1.0, 2.0]))
    negative = H.record_path(model, torch.tensor([-1.0, -2.0]))
    assert positive.ran("return x * 2") and not positive.ran("return -x")
    assert negative.ran("return -x") and not negative.ran("return x * 2")
    assert positive.steps == ["if x.sum() > 0:", "return x * 2"]
    assert torch.equal(positive.output, torch.tensor([2.0, 4.0]))


def test_loop_body_runs_once_per_row():
    model = H.sample_model("loop")
    for rows in (1, 5, 9):
        record = H.record_path(model, torch.ones(rows, 3))
        assert record.count("h = h + x[i]") == rows
        assert record.count("for i in range") == rows + 1  # one more test finds the end


def test_what_a_learner_sees():
    record = H.record_path(H.sample_model("branch"), torch.tensor([-3.0]))
    text = str(record)
    assert text.startswith("BranchModel.forward: 2 line runs")
    assert "1×      return -x" in text and "·          return x * 2" in text
    assert "<table>" in record._repr_html_() and "return -x" in record._repr_html_()


def test_scripted_model_runs_no_python_lines():
    scripted = torch.jit.script(H.sample_model("branch"))
    record = H.record_path(scripted, torch.tensor([1.0]), source=H.BranchModel.forward)
    assert record.total == 0
    assert torch.equal(record.output, torch.tensor([2.0]))


def test_tracer_is_handed_back():
    before = lambda *a: None  # noqa: E731 - a stand-in debugger
    import sys
    previous = sys.gettrace()
    sys.settrace(before)
    try:
        H.record_path(H.sample_model("branch"), torch.tensor([1.0]))
        assert sys.gettrace() is before
    finally:
        sys.settrace(previous)


def test_plain_functions_work():
    def clip(x):
        if x.max() > 1:
            return x / x.max()
        return x
    assert H.record_path(clip, torch.tensor([4.0, 2.0])).ran("return x / x.max()")


def test_helpful_errors():
    model = H.sample_model("branch")
    with pytest.raises(TypeError, match="add parentheses"):
        H.record_path(H.BranchModel, torch.ones(1))
    with pytest.raises(TypeError, match="needs the input"):
        H.record_path(model)
    with pytest.raises(TypeError, match="source=MyModel.forward"):
        H.record_path(torch.jit.script(model), torch.ones(1))
    with pytest.raises(TypeError, match="nn.Module or a Python function"):
        H.record_path(42, torch.ones(1))
    record = H.record_path(model, torch.ones(1))
    with pytest.raises(ValueError, match=r"no line of BranchModel.forward contains 'x \* 3'"):
        record.count("x * 3")
    with pytest.raises(ValueError, match="give a longer piece"):
        record.count("return")


def test_path_map_splits_the_plane_along_the_sum():
    result = H.path_map(H.sample_model("branch"), "return x * 2", torch.linspace(-2, 2, 5))
    a = result.values.view(1, -1)
    b = result.values.view(-1, 1)
    assert torch.equal(result.taken, (a + b) > 0)
    assert 0 < result.fraction < 1
    picture = result.plot(line=((-2, 2), (2, -2)))
    svg = ElementTree.fromstring(picture.svg)  # well-formed SVG, with every text escaped
    texts = " ".join("".join(t.itertext()) for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "'return x * 2'" in texts and "ran it" in texts and "did not" in texts
    cells = [r for r in svg.iter("{http://www.w3.org/2000/svg}rect") if r.get("fill") in ("#8fc9a8", "#f2c18d")]
    assert len(cells) == 25 + 2  # one per input, and the two legend keys
    assert sum(r.get("fill") == "#8fc9a8" for r in cells) == int(result.taken.sum()) + 1
    assert any(p.get("stroke-dasharray") for p in svg.iter("{http://www.w3.org/2000/svg}polyline"))  # the line
    with pytest.raises(TypeError, match="two points"):
        result.plot(line=(1, 2))
    with pytest.raises(TypeError, match="1-D tensor"):
        H.path_map(H.sample_model("branch"), "return x * 2", [1, 2])


class SetsItsOwnTracer(torch.nn.Module):
    """A forward that starts a debugger's tracer (as breakpoint() does): the line recorder is replaced mid-call."""

    def forward(self, x):
        import sys

        def debugger(frame, event, arg):
            return None

        sys.settrace(debugger)
        if x.sum() > 0:
            return x * 2
        return -x


def test_a_recorder_replaced_mid_call_says_so_rather_than_miss_lines():
    import sys
    before = sys.gettrace()
    with pytest.raises(RuntimeError, match="another tracer .* replaced the course's line recorder"):
        H.record_path(SetsItsOwnTracer(), torch.ones(2))
    assert sys.gettrace() is before  # handed back all the same
    traced = torch.jit.trace(SetsItsOwnTracer(), torch.ones(2))
    sys.settrace(before)
    report = H.parity(SetsItsOwnTracer(), traced, example=torch.ones(2))
    sys.settrace(before)
    assert "replaced the course's line recorder" in report.coverage_note and report.uncovered == []


class _OneLineIf(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0: x = x * 2  # noqa: E701 - the one-line form is what this test is about
        return x


class _Delegates(torch.nn.Module):
    def forward(self, x):
        return self._impl(x)

    def _impl(self, x):
        for _ in range(3):
            x = x + 1
        return x


def test_a_line_holding_a_condition_and_its_body_is_not_counted_as_the_body():
    record = H.record_path(_OneLineIf(), -torch.ones(3))
    with pytest.raises(ValueError, match="holds a condition and what it chooses on one line"):
        record.ran("x = x * 2")  # the line ran (its test did), the body did not
    assert record.ran("return x")
    # the views mark that line as "test ran, side unknown", not as a body that ran
    page = record._repr_html_()
    assert "#fbe7c6" in page and "amber" in page and page.count("#fbe7c6") == 1
    assert "1×?" in str(record) and "a line count cannot tell" in str(record)
    plain = H.record_path(H.sample_model("branch"), torch.tensor([1.0]))
    assert "#fbe7c6" not in plain._repr_html_() and "?" not in str(plain)


def test_a_forward_that_hands_its_work_on_says_which_method_to_record():
    with pytest.raises(ValueError, match=r"forward hands its work to self\._impl: .*source=type\(model\)\._impl"):
        H.record_path(_Delegates(), torch.ones(2)).count("x = x + 1")
    assert H.record_path(_Delegates(), torch.ones(2), source=_Delegates._impl).count("x = x + 1") == 3
