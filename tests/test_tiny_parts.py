"""A part of a model's output within the tolerance of zero, beside larger parts, gets no plain ✔ from any helper:
a copy returning zeros (or the wrong tiny numbers) there would pass too."""
import torch

import helpers as H
from outside_models import Lookup, TinyUnrolled


def test_diagnose_marks_a_route_that_agreed_on_a_tiny_part_with_a_caveat():
    report = H.diagnose(TinyUnrolled().eval(), torch.randn(3, 4), routes=["trace"], progress=False)
    trace = report.results["trace"]
    assert trace.mark == "⚠" and "out[1] of eager's output lay within atol" in trace.detail()


def test_the_benchmark_says_a_tiny_part_was_hardly_compared():
    report = H.benchmark_model(TinyUnrolled().eval(), torch.randn(3, 4), variants=["eager", "trace"], rounds=3,
                               seconds=0.05, progress=False)
    assert "answers hardly compared in out[1]" in report["trace"].note, report["trace"].note


def test_the_round_trip_gives_a_caveat_not_a_tick_for_a_tiny_part():
    checks = H.export_roundtrip_checks(TinyUnrolled().eval(), [torch.randn(3, 4), torch.randn(5, 4)],
                                       methods=["trace"])
    assert checks["trace"].ok and checks["trace"].summary.startswith("⚠")
    assert "out[1] of eager's outputs lay within atol=1e-06 of zero on every input" in checks["trace"].summary


def test_will_it_script_says_a_tiny_part_is_hardly_checked():
    attempt = H.attempt_script("def forward(self, x):\n    return x, x.sum() * 1e-9 * (1 if torch.jit.is_scripting() else 2)\n",
                               inputs=[torch.randn(3, 4)])
    assert attempt.verdict == "scripts" and "out[1] of eager's output lay within 1e-6 of zero" in attempt.note


def test_integer_inputs_of_one_value_are_flagged_by_every_helper():
    tokens = torch.full((2, 5), 7)
    checks = H.export_roundtrip_checks(Lookup(), [tokens, tokens[:1]], methods=["script"])
    assert checks["script"].summary.startswith("⚠") and "one and the same value" in checks["script"].summary
    report = H.benchmark_model(Lookup().eval(), tokens, variants=["eager", "script"], rounds=3, seconds=0.05,
                               progress=False)
    assert "one integer value only" in report["script"].note
    attempt = H.attempt_script("def forward(self, tokens):\n    return tokens * 2\n", inputs=[torch.full((3,), 4)])
    assert "one and the same value" in attempt.note


def test_diagnose_marks_a_route_checked_on_one_integer_value_with_a_caveat():
    report = H.diagnose(Lookup(), torch.full((2, 5), 7), routes=["script"], progress=False)
    script = report.results["script"]
    assert script.status == "ok" and script.mark == "⚠" and "one and the same value" in script.detail()
