"""The torch.export / ONNX helpers of 09: quiet exporters, onnxruntime runner, archives, fact table, side by side."""
import warnings

import pytest
import torch

import helpers as H


class Gate(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return -x


BOTH_SIGNS = [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([-1.0, -2.0, 0.5])]


# ---------------------------------------------------------------- quiet_export

def test_quiet_export_hides_printing_but_reshows_warnings(capsys):
    with pytest.warns(UserWarning, match="teaches"):
        with H.quiet_export() as quiet:
            print("progress line")
            warnings.warn("a warning that teaches", UserWarning)
    seen = capsys.readouterr()
    assert "progress line" not in seen.out + seen.err
    assert "progress line" in quiet.hidden
    assert len(quiet.warnings) == 1 and "1 warnings re-shown" in repr(quiet)


def test_quiet_export_lets_the_error_through_and_keeps_torchs_dump(capsys):
    from torch.fx.experimental.symbolic_shapes import GuardOnDataDependentSymNode
    with pytest.raises(GuardOnDataDependentSymNode, match="data-dependent"):
        with H.quiet_export() as quiet:
            torch.export.export(Gate(), (BOTH_SIGNS[0],))
    seen = capsys.readouterr()
    assert "def forward" not in seen.err  # the partial graph torch prints went into .hidden
    assert "def forward" in quiet.hidden
    quiet.show_hidden()
    assert "def forward" in capsys.readouterr().out


# ---------------------------------------------------------------- ONNX

@pytest.fixture(scope="module")
def legacy_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "gate.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter's notice, shown once in 09
        torch.onnx.export(torch.jit.script(Gate()), (BOTH_SIGNS[0],), path, dynamo=False)
    return path


def test_onnx_op_types_finds_the_if_and_what_is_inside_it(legacy_onnx):
    top = H.onnx_op_types(legacy_onnx)
    assert top["If"] == 1 and "Neg" not in top
    nested = H.onnx_op_types(legacy_onnx, nested=True)
    assert nested["Neg"] == 1 and nested["Mul"] == 1


def test_onnx_runner_takes_and_returns_tensors(legacy_onnx):
    runner = H.onnx_runner(legacy_onnx)
    assert len(runner.input_names) == 1 and len(runner.output_names) == 1
    report = H.parity(Gate(), runner, inputs=BOTH_SIGNS)
    assert report.all_close
    assert isinstance(runner(BOTH_SIGNS[1]), torch.Tensor)
    assert "gate.onnx" in repr(runner)


def test_onnx_runner_errors_say_what_to_do(legacy_onnx, tmp_path):
    runner = H.onnx_runner(legacy_onnx)
    with pytest.raises(TypeError, match="takes 1 input"):
        runner(BOTH_SIGNS[0], BOTH_SIGNS[1])
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        runner([1.0, 2.0, 3.0])
    with pytest.raises(FileNotFoundError, match="torch.onnx.export"):
        H.onnx_runner(tmp_path / "missing.onnx")
    with pytest.raises(TypeError, match="path of an .onnx file"):
        H.onnx_op_types(Gate())


def test_onnx_runner_takes_a_list_argument_as_the_file_has_it(tmp_path):
    class ListIn(torch.nn.Module):
        def forward(self, xs):
            return xs[0] * 2 + xs[1]
    xs = [torch.randn(3, 4), torch.randn(3, 4)]
    path = tmp_path / "list_in.onnx"
    with H.quiet_export():
        torch.onnx.export(ListIn(), (xs,), path, dynamo=True, verbose=False)
    runner = H.onnx_runner(path)
    assert len(runner.input_names) == 2  # the list became two ONNX inputs
    assert H.parity(ListIn(), runner, inputs=[(xs,)]).all_close


def test_onnx_runner_refuses_a_number_argument_the_file_fixed(tmp_path):
    # torch.onnx.export fixes an int argument at the example's value: dropping it from the call, the runner
    # answered for top_k=3 when asked for 5, with no error
    class TopK(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.out = torch.nn.Linear(8, 20)

        def forward(self, x, top_k: int):
            return torch.topk(self.out(x), top_k, dim=-1).values

    model, x = TopK().eval(), torch.randn(3, 8)
    path = tmp_path / "topk.onnx"
    with H.quiet_export():
        torch.onnx.export(model, (x, 3), path, dynamo=True, verbose=False)
    runner = H.onnx_runner(path)
    torch.testing.assert_close(runner(x), model(x, 3), rtol=1e-4, atol=1e-5)  # its tensor inputs only
    for value in (5, 3, "three"):
        with pytest.raises(TypeError, match=rf"^topk.onnx: {value!r} is no input of the file: .* with its tensor inputs only \(x\)"):
            runner(x, value)


# ---------------------------------------------------------------- archives

def test_archive_names_tells_code_from_data(tmp_path):
    pt, pt2 = tmp_path / "gate.pt", tmp_path / "mlp.pt2"
    torch.jit.script(Gate()).save(str(pt))
    torch.export.save(torch.export.export(torch.nn.Linear(2, 2), (torch.ones(1, 2),)), pt2)
    assert any(n.endswith(".py") for n in H.archive_names(pt))
    names = H.archive_names(pt2)
    assert not any(n.endswith(".py") for n in names) and any(n.endswith("models/model.json") for n in names)


def test_archive_names_errors(tmp_path):
    not_zip = tmp_path / "model.onnx"
    not_zip.write_bytes(b"protobuf, not zip")
    with pytest.raises(ValueError, match="not a zip archive"):
        H.archive_names(not_zip)
    with pytest.raises(FileNotFoundError, match="save the model there first"):
        H.archive_names(tmp_path / "nothing.pt")
    with pytest.raises(TypeError, match="path of a saved model"):
        H.archive_names(42)


# ---------------------------------------------------------------- fact table

def test_fact_table_renders_booleans_and_notes():
    table = H.fact_table({"A": {"works": True, "why": (False, "refused")}, "B": {"works": False, "extra": "text"}})
    assert table.columns == ["works", "why", "extra"]
    assert table.cell("A", "works") == "✔ yes" and table.cell("A", "why") == "✘ refused"
    assert table.cell("B", "why") == "" and table.cell("B", "extra") == "text"
    markdown = table.markdown()
    assert markdown.splitlines()[0] == "| | works | why | extra |"
    assert "| **B** | ✘ no |  | text |" in markdown
    html = table._repr_html_()
    assert "#1a7f37" in html and "#cf222e" in html and "<th style='text-align:left'>A</th>" in html
    with pytest.raises(KeyError, match="the rows are"):
        table.cell("C", "works")


def test_fact_table_rejects_malformed_input():
    with pytest.raises(TypeError, match="non-empty dict"):
        H.fact_table({})
    with pytest.raises(TypeError, match="row 'A' must be a dict"):
        H.fact_table({"A": [True]})


# ---------------------------------------------------------------- side by side

def test_side_by_side_shows_pictures_as_images():
    left = H.draw_graph(torch.jit.script(Gate()), title="left")
    shown = H.side_by_side(left, H.fact_table({"row": {"c": True}}), captions=["graph", "table"])
    html = shown._repr_html_()
    assert html.count("<img src='data:image/svg+xml;base64,") == 1 and "✔ yes" in html and ">graph</div>" in html
    assert "GraphPicture" in repr(shown)


def test_side_by_side_errors():
    with pytest.raises(TypeError, match="two or more"):
        H.side_by_side(1)
    with pytest.raises(ValueError, match="one caption per item"):
        H.side_by_side(1, 2, captions="ab")


def test_runners_given_the_wrong_kind_of_file_or_no_path_say_so(tmp_path):
    pt = tmp_path / "model.pt"
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(pt))
    with pytest.raises(ValueError, match="is a zip archive .* not an ONNX file"):
        H.onnx_runner(pt)
    with pytest.raises(TypeError, match="load_aoti takes the path of a .pt2 package"):
        H.load_aoti(None)
    if H.executorch_available():
        with pytest.raises(ValueError, match="not an ExecuTorch .pte"):
            H.pte_runner(pt)
        with pytest.raises(TypeError, match="pte_runner takes the path of a .pte file"):
            H.pte_runner(torch.nn.Linear(2, 2))


def test_show_code_of_an_exported_program_says_where_its_code_is():
    program = torch.export.export(torch.nn.Linear(2, 2), (torch.randn(1, 2),))
    with pytest.raises(TypeError, match=r"print\(program.graph_module.code\)"):
        H.show_code(program)


def test_a_numpy_array_inside_an_input_is_named():
    import numpy as np
    with pytest.raises(TypeError, match="a tuple holding a numpy ndarray .torch.from_numpy"):
        H.export_roundtrip_check(torch.nn.Linear(2, 2), [(np.zeros(2),)])


class TwoByName(torch.nn.Module):
    def forward(self, d):
        return d["a"] * 2 + d["b"]


def test_onnx_runner_feeds_a_dict_by_key_whatever_order_the_caller_wrote(tmp_path):
    example = ({"a": torch.ones(2, 3), "b": torch.arange(6.0).reshape(2, 3)},)
    path = tmp_path / "by_name.onnx"
    with H.quiet_export():
        program = torch.export.export(TwoByName(), example)  # a program: onnx.export would take the dict as kwargs
        torch.onnx.export(program, f=path, dynamo=True, verbose=False)
    runner = H.onnx_runner(path)
    swapped = {"b": torch.full((2, 3), 10.0), "a": torch.full((2, 3), 1.0)}
    assert torch.equal(runner(swapped), TwoByName()(swapped))  # 12 everywhere, not 2 * 10 + 1
    report = H.parity(TwoByName(), runner, inputs=[(swapped,), example])
    assert report.all_close, report


def test_onnx_runner_refuses_a_dict_whose_keys_the_input_names_do_not_carry(tmp_path):
    # the legacy exporter names inputs by position: a dict in another key order would give wrong numbers silently
    example = ({"a": torch.ones(2, 3), "b": torch.arange(6.0).reshape(2, 3)}, {})
    path = tmp_path / "legacy_dict.onnx"
    with H.quiet_export():
        torch.onnx.export(TwoByName(), example, path, dynamo=False)
    runner = H.onnx_runner(path)
    swapped = {"b": example[0]["b"], "a": example[0]["a"]}
    with pytest.raises(ValueError, match="do not carry the dict's keys.*separate arguments"):
        runner(swapped)
    assert torch.equal(runner(example[0]["a"], example[0]["b"]), TwoByName()(example[0]))  # by position: right


class TwoLinear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.a(x)


def test_onnx_runner_says_what_is_wrong_with_an_input_in_one_line(tmp_path):
    path = tmp_path / "linear.onnx"
    with H.quiet_export():
        torch.onnx.export(TwoLinear(), (torch.randn(3, 4),), path, dynamo=False)
    runner = H.onnx_runner(path)
    for bad, words in ((torch.randn(3, 4).double(), "is torch.float64, and the file takes torch.float32"),
                       (torch.randn(3, 6), "has size 6 in dimension 1, and the file holds that size fixed at 4"),
                       (torch.randn(4), "has 1 dimension(s) (4,), and the file takes 2")):
        with pytest.raises(ValueError) as caught:
            runner(bad)
        assert words in str(caught.value) and "\n" not in str(caught.value), caught.value
    with pytest.raises(TypeError, match=r"takes 1 input\(s\) .*got 3 tensors in 1 argument"):
        runner([torch.randn(3, 4)] * 3)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf at all" * 10)
    with pytest.raises(ValueError, match="onnxruntime cannot load junk.onnx") as caught:
        H.onnx_runner(junk)
    assert "\n" not in str(caught.value)


class LookUp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.table = torch.nn.Embedding(5, 2)

    def forward(self, ids):
        return self.table(ids)


def test_onnx_runner_turns_a_failure_inside_onnxruntime_into_one_line(tmp_path, capfd):
    path = tmp_path / "lookup.onnx"
    with H.quiet_export():
        torch.onnx.export(LookUp(), (torch.tensor([0, 1]),), path, dynamo=False, dynamic_axes={"ids": {0: "n"}},
                          input_names=["ids"])
    runner = H.onnx_runner(path)
    with pytest.raises(RuntimeError, match="lookup.onnx: onnxruntime failed") as caught:
        runner(torch.tensor([0, 9]))  # 9 is outside the table
    assert "\n" not in str(caught.value) and "[ONNXRuntimeError]" not in str(caught.value)
    assert "onnxruntime" not in capfd.readouterr().err.lower()  # no red log line besides the exception


class TwoDicts(torch.nn.Module):
    def forward(self, d1, d2):
        return d1["a"] * 2 - d1["b"] + 10 * d2["a"] - 100 * d2["b"] + d2["attention_mask"] - 7 * d2["mask"]


def test_onnx_runner_matches_each_dict_among_its_own_inputs_longer_keys_first(tmp_path):
    # two dicts with the same keys, and a key that ends with another ("attention_mask", "mask"): each tensor must
    # reach its own input, whatever the key order the caller wrote
    d1 = {"a": torch.randn(2, 3), "b": torch.randn(2, 3)}
    d2 = {"b": torch.randn(2, 3), "a": torch.randn(2, 3), "mask": torch.randn(2, 3), "attention_mask": torch.randn(2, 3)}
    path = tmp_path / "two_dicts.onnx"
    with H.quiet_export():
        torch.onnx.export(torch.export.export(TwoDicts(), (d1, d2)), f=path, dynamo=True, verbose=False)
    runner = H.onnx_runner(path)
    reordered = ({"b": d1["b"], "a": d1["a"]}, {k: d2[k] for k in ("attention_mask", "a", "mask", "b")})
    assert torch.allclose(runner(*reordered), TwoDicts()(d1, d2), atol=1e-5)


# ---------------------------------------------------------------- save_program

class SizeFlag(torch.nn.Module):
    """Returns a bool computed from sizes beside a tensor: with a dynamic batch it is a symbolic bool."""
    def forward(self, x):
        return x * 2, x.shape[0] > 2


def _size_flag_program():
    return torch.export.export(SizeFlag(), (torch.randn(4, 3),),
                               dynamic_shapes={"x": {0: torch.export.Dim("batch")}})


def test_torch_cannot_save_a_symbolic_bool_output_and_says_only_todo(tmp_path):
    # the failure save_program words; a torch that saves it (or words it) fails here, and save_program can go
    with pytest.raises(AssertionError, match="^TODO$"):
        torch.export.save(_size_flag_program(), tmp_path / "flag.pt2")


def test_save_program_names_the_symbolic_bool_and_the_way_out(tmp_path):
    with pytest.raises(ValueError, match=r"cannot store a bool computed from sizes .*return it as a tensor"):
        H.save_program(_size_flag_program(), tmp_path / "flag.pt2")


def test_save_program_saves_what_torch_saves(tmp_path):
    class SizeCount(torch.nn.Module):  # a symbolic int output saves
        def forward(self, x):
            return x * 2, x.shape[0]
    program = torch.export.export(SizeCount(), (torch.randn(4, 3),),
                                  dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    H.save_program(program, tmp_path / "count.pt2")
    loaded = torch.export.load(tmp_path / "count.pt2").module()
    out, count = loaded(torch.ones(5, 3))
    assert count == 5 and torch.equal(out, torch.full((5, 3), 2.0))


def test_diagnose_words_the_symbolic_bool_save_failure():
    report = H.diagnose(SizeFlag(), torch.randn(4, 3), routes=["export"], progress=False)
    text = str(report)
    assert "cannot store a bool computed from sizes" in text and "✘ export" in text


def test_onnx_runner_names_a_dtype_an_operator_does_not_take(tmp_path):
    model, x = torch.nn.Conv2d(3, 4, 3).to(torch.bfloat16).eval(), torch.randn(1, 3, 8, 8, dtype=torch.bfloat16)
    path = tmp_path / "bf16.onnx"
    with H.quiet_export():
        torch.onnx.export(model, (x,), path, dynamo=True, verbose=False)
    with pytest.raises(ValueError, match=r"^onnx_runner: onnxruntime cannot load bf16\.onnx: its Conv gets a "
                                         r"tensor\(bfloat16\), .*: export the model in float32"):
        H.onnx_runner(path)


def test_onnx_runner_feeds_a_number_the_file_takes_as_an_input_and_names_a_missing_kernel(tmp_path):
    class Repeat(torch.nn.Module):
        def forward(self, x, n: int):
            return x * n

    x = torch.randn(2, 3)
    path = tmp_path / "repeat.onnx"
    with H.quiet_export():  # a dynamic int: the file takes n as an input
        torch.onnx.export(Repeat(), (x, 3), path, dynamo=True, verbose=False,
                          dynamic_shapes=({}, torch.export.Dim.DYNAMIC))
    runner = H.onnx_runner(path)
    assert runner.input_names == ["x", "n"]
    torch.testing.assert_close(runner(x, 5), x * 5)
    assert H.parity(Repeat(), runner, inputs=[(x, 3), (x, 7)]).all_close
    # a valid file with no CPU kernel for its dtype: named, with the float32 way out
    lin = tmp_path / "bf16_linear.onnx"
    with H.quiet_export():
        torch.onnx.export(torch.nn.Linear(4, 3).to(torch.bfloat16).eval(), (torch.randn(2, 4, dtype=torch.bfloat16),),
                          lin, dynamo=True, verbose=False)
    with pytest.raises(ValueError, match=r"its CPU has no kernel for Gemm \(its version \d+\) .* export it in float32"):
        H.onnx_runner(lin)
