"""Fresh interpreters for switches read at import, and graph nodes traced back to their source lines."""
import pytest
import torch
from typing import Dict
from torch import nn

import helpers as H
from helpers.tools.debugging import _parse_range


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x):
        h = self.linear(x)
        if h.sum() > 0:
            h = torch.relu(h)
        return h * 2


# ---------------------------------------------------------------- run_fresh_python

def test_fresh_python_gets_the_environment_and_the_typed_input():
    run = H.run_fresh_python("import os\nprint(os.environ['MY_SWITCH'], input())", env={"MY_SWITCH": "on"},
                             stdin="typed\n")
    assert run.ok and run.lines() == ["on typed"] and run.error == "" and str(run) == "on typed"


def test_pytorch_jit_0_makes_script_return_the_module_itself():
    code = """
        import torch
        class Doubler(torch.nn.Module):
            def forward(self, x):
                return x * 2
        model = Doubler()
        print(torch.jit.script(model) is model)
    """  # indented on purpose: run_fresh_python dedents
    assert H.run_fresh_python(code, env={"PYTORCH_JIT": "0"}).lines() == ["True"]
    assert H.run_fresh_python(code).lines() == ["False"]  # classes in the code can be scripted: it runs from a file


def test_a_failing_child_reports_its_error_in_one_line():
    run = H.run_fresh_python("print('before')\nraise RuntimeError(\n'the reason')")
    assert not run.ok and run.returncode == 1 and run.error == "RuntimeError: the reason"
    assert str(run).startswith("before\n✘ the fresh Python exited with code 1: RuntimeError: the reason")
    assert H.run_fresh_python("import sys; sys.exit(3)").error == "exit code 3"


def test_a_torchscript_compile_error_reads_as_one_whole_sentence():
    stderr = """Traceback (most recent call last):
  File "/tmp/fresh-python-x/fresh.py", line 9, in <module>
RuntimeError: 
Python builtin <built-in function breakpoint> is currently not supported in Torchscript:
  File "/tmp/fresh-python-x/fresh.py", line 6
    def forward(self, x):
        breakpoint()
        ~~~~~~~~~~ <--- HERE
"""
    run = H.FreshRun(1, "", stderr)
    assert run.error == ("RuntimeError: Python builtin <built-in function breakpoint> is currently not supported "
                         "in Torchscript (line 6 of the code)")
    assert str(run).endswith("(line 6 of the code)")


def test_fresh_python_input_checks_and_timeout():
    with pytest.raises(TypeError, match="code to run as a string"):
        H.run_fresh_python(["print(1)"])
    with pytest.raises(TypeError, match="dict of strings"):
        H.run_fresh_python("print(1)", env={"PYTORCH_JIT": 0})
    with pytest.raises(TypeError, match="typed input"):
        H.run_fresh_python("print(1)", stdin=b"c\n")
    with pytest.raises(TimeoutError, match="did not finish within"):
        H.run_fresh_python("import time\ntime.sleep(10)", timeout=0.5)


def test_print_in_scripted_code_reaches_python_stdout(capsys):
    @torch.jit.script
    def noisy(x):
        print("scripted print", x.sum())
        return x

    noisy(torch.ones(2))
    assert capsys.readouterr().out.startswith("scripted print 2\n[ CPUFloatType{} ]")


# ---------------------------------------------------------------- node_sources

def test_node_sources_lists_kind_line_and_marked_piece():
    scripted = torch.jit.script(Gate())
    sources = H.node_sources(scripted)
    kinds = [s.kind for s in sources]
    assert kinds == ["prim::CallMethod", "aten::sum", "aten::gt", "aten::Bool", "prim::If", "aten::relu", "aten::mul"]
    summed = sources.for_kind("aten::sum")[0]
    assert summed.marked == "h.sum" and summed.code == "if h.sum() > 0:" and summed.file == __file__
    assert sources.for_kind("aten::mul")[0].line == summed.line + 2
    first = str(sources).splitlines()[0]
    assert first.startswith("prim::CallMethod") and "test_debugging.py:" in first and first.endswith("← h = self.linear(x)")


def test_code_from_a_notebook_cell_shows_as_cell_and_line():
    from helpers.course.failures import code_place as _place
    assert _place("/tmp/ipykernel_19622/286445649.py", 8) == "line 8 of a cell"
    assert _place("/tmp/work/snippet_99bd9b70a67bce8a.py", 8) == "line 8 of your code"  # the editor's code
    assert _place("/work/main/.venv/lib/python3.11/site-packages/torch/nn/modules/linear.py", 134) == "linear.py:134"
    one = H.NodeSources([H.NodeSource("aten::sum", "/tmp/ipykernel_7/123.py", 3, "if h.sum() > 0:", "h.sum")])
    assert str(one) == "aten::sum  line 3 of a cell  h.sum  ← if h.sum() > 0:"
    assert str(one.for_kind("aten::sum")) == str(one) and isinstance(one.for_kind("aten::mul"), H.NodeSources)


def test_node_sources_options():
    scripted = torch.jit.script(Gate())
    assert "aten::relu" not in [s.kind for s in H.node_sources(scripted, nested=False)]
    linear = H.node_sources(scripted, inlined=True).for_kind("aten::linear")[0]
    assert linear.file.endswith("linear.py") and linear.marked == "F.linear"
    assert [s.kind for s in H.node_sources(scripted.graph)] == [s.kind for s in H.node_sources(scripted)]


def double_then_add(x):
    y = x * 2
    return y + 1


def test_node_sources_on_a_traced_function_gives_the_calling_lines():
    traced = torch.jit.trace(double_then_add, torch.ones(2))
    sources = H.node_sources(traced)
    assert [(s.kind, s.code, s.marked) for s in sources] == [("aten::mul", "y = x * 2", ""),
                                                             ("aten::add", "return y + 1", "")]
    assert sources[1].line == sources[0].line + 1 and sources[0].file == __file__


def test_node_sources_without_any_range():
    assert str(H.NodeSources()) == "(no node carries a source range)"
    assert _parse_range("") is None and _parse_range("no range here") is None


def test_node_sources_explains_wrong_inputs():
    with pytest.raises(TypeError, match="script or trace the model first"):
        H.node_sources(Gate())
    with pytest.raises(TypeError, match="scripted or traced model"):
        H.node_sources("graph")
    with pytest.raises(TypeError, match="cannot inline a bare graph"):
        H.node_sources(torch.jit.script(Gate()).graph, inlined=True)


def test_path_map_on_a_model_of_two_inputs_says_so_in_one_line():
    class TwoInputs(torch.nn.Module):
        def forward(self, x, y):
            return x + y
    with pytest.raises(ValueError) as info:
        H.path_map(TwoInputs(), "x + y")
    assert "one tensor of two numbers" in str(info.value) and "\n" not in str(info.value)


class EndsInBrackets(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(2, 2)
        self.b = torch.nn.Linear(2, 2)

    def forward(self, x, d: Dict[str, torch.Tensor]):
        h = self.a(x) + self.b(x)
        return h * d["scale"]


def test_a_marked_piece_that_ends_in_a_bracket_is_whole():
    # torch's underline stops one character short of a closing bracket: the marked piece closes it
    sources = H.node_sources(torch.jit.script(EndsInBrackets()))
    assert [s.marked for s in sources.for_kind("aten::add")] == ["self.a(x) + self.b(x)"]
    assert [s.marked for s in sources.for_kind("aten::__getitem__")] == ['d["scale"]']
    assert [s.marked for s in sources.for_kind("aten::mul")] == ['h * d["scale"]']
