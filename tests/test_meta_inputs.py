"""Every tool that runs a model refuses an input on the 'meta' device in one line (torch would blame .item())."""
import pytest
import torch

import helpers as H

META = torch.randn(2, 4, device="meta")


@pytest.mark.parametrize("who, call", [
    ("diagnose", lambda m, path: H.diagnose(m.to("meta"), META, progress=False)),
    ("parity", lambda m, path: H.parity(m, m, inputs=[META])),
    ("parity", lambda m, path: H.parity(m, m, example=(META, 3))),
    ("aoti_package", lambda m, path: H.aoti_package(m, META)),
    ("lower_to_pte", lambda m, path: H.lower_to_pte(m, (META,))),
    ("record_path", lambda m, path: H.record_path(m, META)),
    ("DivergenceExplorer", lambda m, path: H.DivergenceExplorer(m, "trace", example=META)),
    ("run_cpp", lambda m, path: H.run_cpp(path, [META])),
    ("export_roundtrip_checks", lambda m, path: H.export_roundtrip_checks(m, [META], methods=["export", "trace"])),
    ("benchmark_model", lambda m, path: H.benchmark_model(m.eval(), META, progress=False)),
])
def test_a_meta_input_is_refused_in_one_line_naming_the_tool(who, call, tmp_path):
    model = torch.nn.Linear(4, 3)
    path = tmp_path / "linear.pt"
    torch.jit.save(torch.jit.script(model), str(path))
    with pytest.raises(ValueError) as info:
        call(model, path)
    message = str(info.value)
    assert message.startswith(f"{who}: an input is a tensor on the 'meta' device") and "device='cpu'" in message
    assert "\n" not in message and ".item()" not in message
