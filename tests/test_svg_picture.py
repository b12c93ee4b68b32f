"""The pictures written as SVG text: the mental model (00), path maps (01), benchmark plots (07, 08)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import helpers as H
from helpers.tools.svg_picture import LogScale, seconds_label


def test_showing_the_course_pictures_does_not_import_matplotlib(tmp_path):
    # each of these is shown in a notebook; matplotlib's import would cost more than the drawing
    code = ("import sys, torch, helpers as H\n"
            "H.mental_model_picture()._repr_svg_()\n"
            "H.path_map(H.sample_model('branch'), 'return x * 2', torch.linspace(-1, 1, 3)).plot()._repr_svg_()\n"
            "model = torch.nn.Linear(3, 2).eval()\n"
            "report = H.benchmark_model(model, torch.ones(1, 3), label='lin', variants=['eager', 'trace'],\n"
            "                           seconds=0.05, rounds=3, progress=False)\n"
            "H.plot_benchmark(report)._repr_svg_()\n"
            "print('matplotlib' in sys.modules)")
    root = str(Path(H.__file__).resolve().parent.parent)  # these helpers, whatever the venv links
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": root})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_save_writes_svg_and_refuses_other_formats_in_one_line(tmp_path):
    picture = H.mental_model_picture()
    assert picture.save(tmp_path / "m.svg").read_text().startswith("<svg ")
    assert [p.name for p in tmp_path.iterdir()] == ["m.svg"]  # no temporary file left beside it
    for wrong in (tmp_path / "m.png", 3, None):
        with pytest.raises(ValueError, match="give a path ending in .svg") as caught:
            picture.save(wrong)
        assert "\n" not in str(caught.value)
    assert repr(picture).startswith("<SvgPicture 'The mental model")


def test_log_scale_and_seconds_labels():
    scale = LogScale(0.1, 10, 0, 200)
    assert (scale(0.1), scale(1), scale(10)) == pytest.approx((0, 100, 200))
    assert [seconds_label(v) for v in (2, 1, 0.1, 1e-3, 1e-5, 1e-9)] == ["2 s", "1 s", "100 ms", "1 ms", "10 µs", "1 ns"]
