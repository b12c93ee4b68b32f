"""H.draw_graph / H.count_nodes: the right regions for each sample model, valid Mermaid, SVG and PNG, speed."""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
import warnings

import pytest
import torch

import helpers as H
from helpers.tools.graph import mermaid, picture as graph_picture

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NODE_LINE = re.compile(r'^(\w+)(\(\[|\[\[|\[/|\{\{|\(|\[|>)"(.*)"(\]\)|\]\]|/\]|\}\}|\)|\])(:::\w+)?$')
EDGE_LINE = re.compile(r"^(\w+) (-->|-\.->|~~~) (\w+)$")
SVG = "{http://www.w3.org/2000/svg}"


def check_svg(picture):
    """Parse the SVG: well-formed, one box per drawn node, every node's label written in it."""
    root = ET.fromstring(picture.svg())
    assert root.tag == SVG + "svg" and float(root.get("width")) > 0 and float(root.get("height")) > 0
    written = ["\n".join(span.text or "" for span in text.iter(SVG + "tspan")) for text in root.iter(SVG + "text")]
    boxes = [r for r in root.iter(SVG + "rect") if r.get("rx") is not None]
    return root, written, boxes


def check_mermaid(text):
    """Parse the flowchart the way it is written: unique ids, balanced subgraph/end, quoted safe labels,
    every edge between defined nodes. Returns (node labels by id, subgraph labels, edges)."""
    lines = text.splitlines()
    if lines[0] == "---":
        close = lines.index("---", 1)
        assert all(re.fullmatch(r'title: "[^"\\<>&]*"', ln) for ln in lines[1:close]), lines[1:close]
        lines = lines[close + 1:]
    assert lines[0] == "flowchart TD"
    nodes, subgraphs, edges, depth = {}, {}, [], 0
    for raw in lines[1:]:
        line = raw.strip()
        if line.startswith(("classDef ", "style ")) or line == "direction TB":
            continue
        if line.startswith("subgraph "):
            match = re.fullmatch(r'subgraph (\w+)\["([^"]*)"\]', line)
            assert match, line
            assert match.group(1) not in nodes and match.group(1) not in subgraphs, f"duplicate id in {line}"
            subgraphs[match.group(1)] = match.group(2)
            depth += 1
        elif line == "end":
            depth -= 1
            assert depth >= 0, "an 'end' without its subgraph"
        elif EDGE_LINE.match(line):
            edges.append(EDGE_LINE.match(line).group(1, 2, 3))
        else:
            match = NODE_LINE.match(line)
            assert match, f"not a Mermaid node line: {line!r}"
            node_id, label = match.group(1), match.group(3)
            assert node_id not in nodes and node_id not in subgraphs, f"duplicate id {node_id}"
            assert '"' not in label and not re.search(r"[<>]", label.replace("<br>", "")), label
            nodes[node_id] = label
    assert depth == 0, "a subgraph is not closed with 'end'"
    for source, _arrow, target in edges:
        assert source in nodes and target in nodes, f"edge {source} -> {target} to an undefined node"
    return nodes, subgraphs, edges


def scripted(name):
    return torch.jit.script(H.sample_model(name))


def traced(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # branch's trace warns, as 03 shows
        return torch.jit.trace(H.sample_model(name), H.example_input(name))


@pytest.fixture(scope="module")
def resnet():
    model = H.sample_model("resnet18")
    return {"script": torch.jit.script(model), "trace": torch.jit.trace(model, H.example_input("resnet18"))}


def test_branch_scripted_has_an_if_region_and_traced_has_none():
    script_picture, trace_picture = H.draw_graph(scripted("branch")), H.draw_graph(traced("branch"))
    assert script_picture.regions == ["prim::If"]
    assert script_picture.blocks == ["if true", "if false"]
    nodes, subgraphs, _ = check_mermaid(script_picture.mermaid)
    assert sorted(subgraphs.values()) == ["if false", "if true"]
    assert {"mul", "neg", "if"} <= set(nodes.values())
    assert trace_picture.regions == [] and "prim::If" not in trace_picture.kinds
    _, trace_subgraphs, _ = check_mermaid(trace_picture.mermaid)
    assert not trace_subgraphs
    assert trace_picture.kinds["aten::mul"] == 1 and "aten::neg" not in trace_picture.kinds


def test_if_blocks_hold_their_own_operations():
    text = H.draw_graph(scripted("branch")).mermaid
    true_block = text.split('subgraph')[1].split("end")[0]
    false_block = text.split('subgraph')[2].split("end")[0]
    assert '"if true"' in true_block and '["mul"]' in true_block and "neg" not in true_block
    assert '"if false"' in false_block and '["neg"]' in false_block and "mul" not in false_block


def test_loop_scripted_has_a_loop_region_and_traced_is_unrolled():
    script_picture, trace_picture = H.draw_graph(scripted("loop")), H.draw_graph(traced("loop"))
    assert script_picture.regions == ["prim::Loop"]
    _, subgraphs, _ = check_mermaid(script_picture.mermaid)
    assert list(subgraphs.values()) == ["loop body"]
    rows = H.example_input("loop")[0].shape[0]
    assert trace_picture.regions == [] and trace_picture.kinds["aten::add"] == rows  # one add per row traced
    assert script_picture.kinds["aten::add"] == 1


def test_rnn_cell_if_region_and_its_pass_through_branch():
    picture = H.draw_graph(scripted("rnn_cell"))
    assert picture.regions == ["prim::If"]
    nodes, _, _ = check_mermaid(picture.mermaid)
    assert "passes value on" in nodes.values()  # the else branch returns new_h unchanged
    assert picture.kinds["prim::CallMethod"] == 1  # self.linear, folded into one box
    assert H.draw_graph(traced("rnn_cell")).regions == []


@pytest.mark.parametrize("how", ["script", "trace"])
def test_dropout_bn_and_digits_cnn_show_one_box_per_submodule_call(how):
    build = scripted if how == "script" else traced
    dropout_bn, cnn = H.draw_graph(build("dropout_bn")), H.draw_graph(build("digits_cnn"))
    assert dropout_bn.regions == [] and dropout_bn.kinds["prim::CallMethod"] == 3
    labels = set(check_mermaid(dropout_bn.mermaid)[0].values())
    assert {"linear.forward()<br>Linear", "norm.forward()<br>BatchNorm1d", "drop.forward()<br>Dropout"} <= labels
    assert cnn.regions == [] and cnn.kinds["prim::CallMethod"] == 2 and cnn.kinds["aten::flatten"] == 1


def test_collapse_calls_false_opens_the_calls_as_regions():
    model = scripted("dropout_bn")
    folded, opened = H.draw_graph(model), H.draw_graph(model, collapse_calls=False)
    assert "prim::CallMethod" in opened.regions and opened.node_count > folded.node_count
    assert opened.kinds["aten::linear"] == 1
    assert "linear.forward()" in check_mermaid(opened.mermaid)[1].values()


def test_inlined_graph_replaces_calls_by_their_operations():
    picture = H.draw_graph(scripted("rnn_cell"), inlined=True)
    assert "prim::CallMethod" not in picture.kinds and picture.kinds["aten::linear"] == 1
    assert picture.title.endswith("inlined_graph")


def test_hide_constants_drops_constant_nodes_and_their_edges():
    model = scripted("branch")
    hidden, shown = H.draw_graph(model), H.draw_graph(model, hide_constants=False)
    constants = sum(1 for n in model.graph.nodes() if n.kind() == "prim::Constant")
    assert shown.node_count == hidden.node_count + constants
    assert shown.kinds["prim::Constant"] == constants and "prim::Constant" not in hidden.kinds
    assert hidden.hidden["prim::Constant"] == constants
    shown_nodes, _, shown_edges = check_mermaid(shown.mermaid)
    hidden_nodes, _, hidden_edges = check_mermaid(hidden.mermaid)
    assert "2" in shown_nodes.values() and "2" not in hidden_nodes.values()  # the constant of x * 2
    assert len(shown_edges) > len(hidden_edges)


def test_hide_getattr_false_shows_self_and_attribute_reads():
    picture = H.draw_graph(scripted("rnn_cell"), hide_getattr=False)
    labels = check_mermaid(picture.mermaid)[0].values()
    assert picture.kinds["prim::GetAttr"] == 1 and "self.linear" in labels and "self: RNNCellModel" in labels


def test_count_nodes_counts_what_torch_stores():
    model = scripted("branch")
    assert H.count_nodes(model) == 9  # 3 constants, sum, gt, Bool, If, and mul / neg in the blocks
    everything = H.draw_graph(model, hide_constants=False, hide_getattr=False)
    assert H.count_nodes(model) == everything.node_count == sum(everything.kinds.values())
    cell = scripted("dropout_bn")
    assert H.count_nodes(cell, inlined=True) > H.count_nodes(cell)
    assert H.count_nodes(model.graph) == H.count_nodes(model)


def test_nested_regions_are_listed_outer_first():
    @torch.jit.script
    def countdown(x, n: int):
        for _ in range(n):
            if bool(x.sum() > 0):
                x = x - 1
        return x

    picture = H.draw_graph(countdown)
    assert picture.regions == ["prim::Loop", "prim::If"]
    assert picture.blocks == ["loop body", "if true", "if false"]
    text = picture.mermaid
    loop_start = text.index('"loop body"')
    assert loop_start < text.index('"if true"') < text.index("end", text.index('"if false"')) < text.rindex("end")


@pytest.mark.parametrize("how", ["script", "trace"])
def test_resnet18_renders_mermaid_and_svg_within_the_node_cap(resnet, how):
    picture = H.draw_graph(resnet[how])
    bundle = picture._repr_mimebundle_()
    # the cost of a picture grows with its nodes: the cap bounds it, and the SVG is drawn once
    assert picture.node_count <= graph_picture.DEFAULT_MAX_NODES and picture.svg() is picture.svg()
    assert bundle["image/svg+xml"] is picture.svg()
    _root, written, _boxes = check_svg(picture)
    assert "conv1.forward()\nConv2d" in written
    check_mermaid(bundle["text/vnd.mermaid"])
    assert picture.kinds["prim::CallMethod"] == 10  # conv1, bn1, relu, maxpool, layer1-4, avgpool, fc
    # scripted resnet's forward only calls self._forward_impl: the picture opens that helper method
    assert picture.regions == (["prim::CallMethod"] if how == "script" else [])


def test_big_graphs_are_capped_with_a_message(resnet):
    picture = H.draw_graph(resnet["script"], inlined=True, max_nodes=40)
    assert picture.png() is picture.png()  # drawn once, then reused
    assert picture.node_count == 40 and picture.not_drawn > 0
    total = picture.node_count + picture.not_drawn
    assert f"max_nodes={total}" in picture.message
    nodes, _, _ = check_mermaid(picture.mermaid)
    assert f"… {picture.not_drawn} more nodes not drawn" in nodes.values()
    _root, written, boxes = check_svg(picture)
    assert f"… {picture.not_drawn} more nodes not drawn" in written and picture.message in written
    assert len(boxes) == len(nodes)  # one box per Mermaid node: inputs, operations, the note and the output
    default = H.draw_graph(resnet["script"], inlined=True)
    default._repr_mimebundle_()
    assert default.node_count == graph_picture.DEFAULT_MAX_NODES and default.not_drawn > 0


def test_exported_program_and_fx_graph_module():
    program = torch.export.export(H.sample_model("deep_mlp"), H.example_input("deep_mlp"))
    picture = H.draw_graph(program)
    assert picture.kinds["aten::linear"] == 8 and picture.kinds["aten::relu"] == 8 and picture.node_count == 16
    assert picture.hidden["placeholder (parameter)"] == 16  # the weights are lifted to graph inputs
    assert H.draw_graph(program, hide_getattr=False).node_count == 32
    assert H.count_nodes(program) == 16
    check_mermaid(picture.mermaid)
    assert picture.png().startswith(PNG_SIGNATURE)
    module = torch.fx.symbolic_trace(H.sample_model("dropout_bn"))
    fx_picture = H.draw_graph(module)
    assert fx_picture.kinds["call_module:Linear"] == 1 and fx_picture.node_count == 3
    check_mermaid(fx_picture.mermaid)


def test_torch_cond_in_an_exported_program_is_a_region():
    class CondBranch(torch.nn.Module):
        def forward(self, x):
            return torch.cond(x.sum() > 0, lambda x: x * 2, lambda x: -x, (x,))

    picture = H.draw_graph(torch.export.export(CondBranch(), (torch.ones(3),)))
    assert picture.regions == ["torch.cond"] and picture.blocks == ["true branch", "false branch"]
    assert picture.kinds["aten::mul"] == 1 and picture.kinds["aten::neg"] == 1
    check_mermaid(picture.mermaid)


def test_png_svg_save_and_display_bundle(tmp_path):
    picture = H.draw_graph(scripted("branch"), title="BranchModel, scripted")
    saved = picture.save(tmp_path / "branch.png")
    assert saved.read_bytes().startswith(PNG_SIGNATURE) and saved.stat().st_size > 1000
    assert picture.save(tmp_path / "branch.mmd").read_text() == picture.mermaid
    assert picture.save(tmp_path / "branch.svg").read_text() == picture.svg()
    bundle = picture._repr_mimebundle_()
    # JupyterLab prefers text/vnd.mermaid over image/svg+xml; text/html would outrank both, so it is absent
    assert set(bundle) == {"text/vnd.mermaid", "image/svg+xml", "text/plain"}
    assert bundle["text/plain"] == picture.mermaid and 'title: "BranchModel, scripted"' in picture.mermaid
    assert "image/svg+xml" not in picture._repr_mimebundle_(include={"text/vnd.mermaid", "text/plain"})
    assert "BranchModel, scripted" in repr(picture) and "prim::If" in repr(picture)
    with pytest.raises(TypeError, match="file path"):
        picture.save(3)


def test_a_diagram_too_big_for_mermaid_falls_back_to_the_svg(monkeypatch):
    monkeypatch.setattr(graph_picture, "MERMAID_LIMITS", (200, 5))
    picture = H.draw_graph(scripted("branch"))
    assert not picture.mermaid_fits
    bundle = picture._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/plain"} and "Too big for Mermaid" in bundle["text/plain"]


def test_labels_are_escaped_for_mermaid():
    escaped = mermaid.mermaid_escape('say "hi" <b>#1</b> & `x`\nnext')
    assert '"' not in escaped and "<b>" not in escaped and "`" not in escaped
    assert escaped.endswith("<br>next") and "#quot;" in escaped and "#lt;" in escaped and "#35;1" in escaped

    @torch.jit.script
    def strict(x, n: int):
        if n < 0:
            raise ValueError('n "must" be <0> #1 & more')
        return x * n

    picture = H.draw_graph(strict, hide_constants=False, title='a "quoted" <title> & more')
    nodes, _, _ = check_mermaid(picture.mermaid)
    assert any("#quot;" in label for label in nodes.values())


@pytest.mark.parametrize("bad, fragment", [
    (None, "got None"),
    ("model", "got a string"),
    ("model.pt", "got a path: load the file first, e.g. "),
    ("model.pt2", "(torch.export.load(path))"),
    ("phone.pte", "got the path of an ExecuTorch program, which holds no graph it can draw: draw the ExportedProgram"),
    ("model.onnx", "H.onnx_op_types(path)"),
    (H.sample_model("branch"), "torch.jit.script(model)"),
    (H.BranchModel, "create an instance"),
    (len, "torch.jit.script(len)"),
    (lambda x: x, "write it with def"),
    (3, "got int"),
])
def test_bad_inputs_raise_one_line_type_errors(bad, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if isinstance(bad, str) and "." in bad:  # a file that is there: a missing one is named as missing (below)
        Path(bad).write_bytes(b"")
    for function in (H.draw_graph, H.count_nodes):
        with pytest.raises(TypeError, match=re.escape(fragment)) as caught:
            function(bad)
        assert "\n" not in str(caught.value)


def test_a_missing_file_and_onnx_objects_are_named(tmp_path):
    for name in ("model.pt", "model.pt2", "phone.pte", "model.onnx"):  # "load the file first" sent the learner on
        with pytest.raises(TypeError, match=r"^draw_graph got the path '.*" + re.escape(name) + r"', where there is "
                                            r"no file: check the name and folder$"):
            H.draw_graph(tmp_path / name)
    onnx, ort = pytest.importorskip("onnx"), pytest.importorskip("onnxruntime")
    path = tmp_path / "lin.onnx"
    torch.onnx.export(torch.nn.Linear(3, 2).eval(), (torch.ones(1, 3),), str(path), dynamo=False)
    for loaded, words in ((ort.InferenceSession(str(path)), "an onnxruntime session on an .onnx file"),
                          (onnx.load(str(path)), "an ONNX model (onnx.load)")):
        with pytest.raises(TypeError, match=rf"^draw_graph got {re.escape(words)}, which has no TorchScript graph: "
                                            r"H\.onnx_op_types"):
            H.draw_graph(loaded)


def test_bad_options_raise_one_line_type_errors():
    model = scripted("branch")
    with pytest.raises(TypeError, match="inlined_graph"):
        H.draw_graph(model.graph, inlined=True)
    with pytest.raises(TypeError, match="max_nodes"):
        H.draw_graph(model, max_nodes="3")
    with pytest.raises(ValueError, match="max_nodes"):  # the right type, a value out of range
        H.draw_graph(model, max_nodes=0)
    with pytest.raises(TypeError, match="title"):
        H.draw_graph(model, title=3)


@pytest.fixture(scope="module")
def detection_model_scripted():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None)
    return torch.jit.script(model.eval())


def test_a_detection_model_is_capped_at_the_default_budget_and_its_rest_is_counted_not_walked(
        detection_model_scripted):
    # its inlined graph holds thousands of nodes: the default picture draws the first
    # DEFAULT_MAX_NODES and says how many more there are (counted without being laid out)
    picture = H.draw_graph(detection_model_scripted, inlined=True)
    assert H.count_nodes(detection_model_scripted, inlined=True) > 3000
    assert picture.node_count == graph_picture.DEFAULT_MAX_NODES and picture.not_drawn > 3000
    total = picture.node_count + picture.not_drawn
    assert f"pass max_nodes={total} to draw them all" in picture.message
    nodes, _, _ = check_mermaid(picture.mermaid)
    assert len(nodes) < 2 * graph_picture.DEFAULT_MAX_NODES  # notes, joins, inputs: not thousands
    assert picture.mermaid_fits and picture.png().startswith(PNG_SIGNATURE)


def test_calls_opened_past_the_budget_are_counted_too(detection_model_scripted):
    small = H.draw_graph(detection_model_scripted, collapse_calls=False, max_nodes=30)
    full = H.draw_graph(detection_model_scripted, collapse_calls=False, max_nodes=100_000)
    assert small.node_count == 30 and full.not_drawn == 0
    assert small.node_count + small.not_drawn == full.node_count
    nodes, _, _ = check_mermaid(small.mermaid)
    assert f"… {small.not_drawn} more nodes not drawn" in nodes.values()


def test_a_small_budget_draws_a_small_picture_of_any_torchvision_model():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.mobilenet_v3_small(weights=None).eval()
    traced_model = torch.jit.trace(model, torch.rand(1, 3, 64, 64))
    full = H.draw_graph(traced_model, inlined=True, max_nodes=10_000)
    small = H.draw_graph(traced_model, inlined=True, max_nodes=25)
    assert small.node_count == 25 and small.node_count + small.not_drawn == full.node_count
    assert small.hidden == full.hidden  # the rest is counted the way a full walk counts it


def test_svg_draws_every_node_region_and_title_with_text_made_safe():
    picture = H.draw_graph(scripted("branch"), title="if a < b & c > d")
    root, written, boxes = check_svg(picture)
    nodes, subgraphs, _edges = check_mermaid(picture.mermaid)
    assert len(boxes) == len(nodes) and "if a < b & c > d" in written  # escaped in the file, intact when read
    assert "&" not in picture.svg().replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    for label in picture.blocks:
        assert label in written


def test_showing_a_graph_does_not_import_matplotlib(tmp_path):
    # a picture is shown in every notebook that draws one; matplotlib's import would cost more than the drawing
    code = ("import sys, torch, helpers as H\n"
            "@torch.jit.script\n"
            "def f(x):\n"
            "    return x * 2 if bool(x.sum() > 0) else -x\n"
            "H.draw_graph(f)._repr_mimebundle_()\n"
            "print('matplotlib' in sys.modules)")
    script = tmp_path / "show.py"  # a file: torch.jit.script reads the function's source
    script.write_text(code)
    root = str(Path(H.__file__).resolve().parent.parent)  # these helpers, whatever the venv links
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": root})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_an_onnx_program_is_refused_with_the_way_to_its_torch_export_graph():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_program = torch.onnx.export(torch.nn.Linear(2, 2), (torch.randn(1, 2),), dynamo=True, verbose=False)
    with pytest.raises(TypeError) as info:
        H.draw_graph(onnx_program)
    assert "got an ONNXProgram" in str(info.value) and "function" not in str(info.value)
    assert H.draw_graph(onnx_program.exported_program).kinds  # the way it names works
