"""H.show_code / H.compare_code: highlighted listings, and the lines that tracing drops, marked."""
import html
import re
import warnings

import pytest
import torch

import helpers as H
from helpers.tools.code_view import highlight_lines


def plain(fragment):
    """The text a reader sees in a piece of the HTML."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


@pytest.fixture(scope="module")
def branch():
    model = H.sample_model("branch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the warning 03 teaches about
        traced = torch.jit.trace(model, H.example_input("branch"))
    return traced, torch.jit.script(model)


def test_compare_code_marks_the_if_that_tracing_dropped(branch):
    traced, scripted = branch
    comparison = H.compare_code(traced, scripted)
    assert not comparison.identical
    script_lines = comparison.lines_of("script")
    assert any(re.match(r"\s*if bool\(torch\.gt\(torch\.sum\(x\), 0\)\):", line) for line in script_lines)
    assert any(line.strip() == "else:" for line in script_lines)
    assert not any("if" in line for line in comparison.lines_of("trace"))
    assert any("CONSTANTS.c0" in line for line in comparison.lines_of("trace"))  # the baked-in 2
    scripted_lines = scripted.code.splitlines()
    for label, number, text in comparison.differing_lines:  # numbers point at the real lines
        source = scripted_lines if label == "script" else traced.code.splitlines()
        assert source[number - 1] == text
    assert "def forward(self," not in [text for _, _, text in comparison.differing_lines]  # shared lines stay unmarked


def test_compare_code_html_is_side_by_side_and_text_is_a_unified_diff(branch):
    traced, scripted = branch
    comparison = H.compare_code(traced, scripted, labels=("traced", "scripted"))
    bundle = comparison._repr_mimebundle_()
    page = bundle["text/html"]
    assert "<table" in page and ">traced</th>" in page and ">scripted</th>" in page
    assert page.count("#e6ffec") == 2 * len(comparison.lines_of("scripted"))  # number + code cell per added line
    assert page.count("#ffebe9") == 2 * len(comparison.lines_of("traced"))
    assert "if bool(torch.gt(torch.sum(x), 0)):" in plain(page)
    text = bundle["text/plain"]
    assert text.startswith("--- traced\n+++ scripted")
    assert "+  if bool(torch.gt(torch.sum(x), 0)):" in text and "-  return torch.mul(x, CONSTANTS.c0)" in text
    assert comparison.summary == "lines that differ (coloured): 1 in traced, 5 in scripted"


def test_compare_code_of_identical_code(branch):
    _traced, scripted = branch
    comparison = H.compare_code(scripted, torch.jit.script(H.sample_model("branch")), labels=("one", "two"))
    assert comparison.identical and comparison.differing_lines == []
    assert "identical code" in repr(comparison) and "#e6ffec" not in comparison._repr_html_()


def test_show_code_highlights_and_keeps_the_text(branch):
    _traced, scripted = branch
    listing = H.show_code(scripted)
    bundle = listing._repr_mimebundle_()
    assert bundle["text/plain"].endswith(scripted.code) and listing.code == scripted.code
    page = bundle["text/html"]
    assert re.search(r'<span style="[^"]*font-weight:bold;">if</span>', page)  # keywords are coloured
    text_only = re.sub(r"<[^>]+>", "", page)
    assert "&gt;" in text_only and ">" not in text_only  # the code's "->" is escaped, not read as HTML
    assert scripted.code.strip() in plain(page)
    assert "BranchModel · TorchScript · .code" in page


def test_highlight_lines_gives_one_html_line_per_code_line(branch):
    code = branch[1].code + '  """a docstring\n  over two lines"""\n'
    lines = highlight_lines(code)
    assert [plain(line) for line in lines] == code.splitlines()


def test_show_code_of_traced_models_functions_and_submodules(branch):
    traced, _scripted = branch
    assert "CONSTANTS.c0" in H.show_code(traced).code and "traced" in H.show_code(traced).title

    @torch.jit.script
    def double(x):
        return x * 2

    assert "def double" in H.show_code(double).code
    cnn = torch.jit.script(H.load_digits_cnn())
    listing = H.show_code(cnn, submodules=True)
    headings = [heading for heading, _ in listing.sections]
    assert "# features.0, features.3 (Conv2d)" in headings  # two layers, one code: listed once
    assert "# classifier (Linear)" in headings
    assert "torch.linear(input, weight, bias)" in listing.code
    assert len(H.show_code(cnn).sections) == 1


@pytest.mark.parametrize("bad, fragment", [
    (None, "got None"),
    ("def forward(self): ...", "not its .code"),
    (H.sample_model("branch"), "plain nn.Module (BranchModel)"),
    (H.BranchModel, "create an instance"),
    (len, "Python function len"),
    (3.0, "got float"),
])
def test_bad_inputs_raise_one_line_type_errors(branch, bad, fragment):
    calls = [lambda: H.show_code(bad), lambda: H.compare_code(bad, branch[1]), lambda: H.compare_code(branch[0], bad)]
    for call in calls:
        with pytest.raises(TypeError, match=re.escape(fragment)) as caught:
            call()
        message = str(caught.value)
        assert "\n" not in message and "torch.jit.script(model)" in message


def test_bad_options_raise_one_line_type_errors(branch):
    traced, scripted = branch
    for labels in [("only one",), ("same", "same"), "ab", ("trace", 2)]:
        with pytest.raises(TypeError, match="two different names"):
            H.compare_code(traced, scripted, labels=labels)
    with pytest.raises(TypeError, match="True or False"):
        H.show_code(scripted, submodules="yes")
    with pytest.raises(ValueError, match="one of the labels"):
        H.compare_code(traced, scripted).lines_of("eager")


class NoneDefault(torch.nn.Module):
    def forward(self, x, bias: torch.Tensor = None):  # scripts, but the default is an undefined tensor
        return x + bias


def test_containers_without_forward_and_torch_errors():
    container = torch.jit.script(torch.nn.ModuleList([torch.nn.ReLU()]))
    with pytest.raises(TypeError, match="no forward method"):
        H.show_code(container)
    with pytest.raises(TypeError, match="no forward method"):
        H.draw_graph(container)
    broken = torch.jit.script(NoneDefault())
    assert "cannot be written out" in H.show_code(broken).code  # torch's .code raises: the listing says why
    assert H.draw_graph(broken).kinds["aten::add"] == 1  # the graph itself is fine to draw


def test_show_source_highlights_text_and_refuses_anything_else():
    listing = H.show_source("class Model(nn.Module):\n    def forward(self, x):\n        return x\n", "broken")
    assert listing.title == "broken" and listing.code.startswith("class Model") and "<pre" in listing._repr_html_()
    with pytest.raises(TypeError, match="show_source takes the source as text"):
        H.show_source(None)


def test_show_code_of_a_function_whose_tensor_defaults_to_none_shows_its_graph():
    # .code raises "strides() called on an undefined Tensor" here (04 and 06 show it); show_code says why
    def add_shift(x, shift=None):
        if shift is None:
            return x
        return x + shift

    scripted = torch.jit.script(add_shift)
    with pytest.raises(RuntimeError, match="undefined Tensor"):
        scripted.code
    listing = H.show_code(scripted)
    assert "cannot be written out" in listing.code and "Optional[Tensor]" in listing.code
    assert "aten::add" in listing.code and "prim::If" not in listing.code
