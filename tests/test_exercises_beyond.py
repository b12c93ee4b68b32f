"""The 09 exercise checkers accept the worked solutions and explain wrong answers."""

import pytest
import torch
from torch.export import Dim

import helpers as H


def load_solution():
    return H.load_solution("09_beyond_torchscript")


class PlainLimiter(torch.nn.Module):  # the exercise as given
    def forward(self, x):
        peak = x.abs().max()
        if peak > 1:
            return x / peak
        return x


class AliasingLimiter(torch.nn.Module):
    def forward(self, x):
        peak = x.abs().max()
        return torch.cond(peak > 1, lambda x, p: x / p, lambda x, p: x, (x, peak))


class AlwaysScales(torch.nn.Module):
    def forward(self, x):
        return x / x.abs().max()


class ScalesOnlyWhenExported(torch.nn.Module):
    """Right in eager mode, but the exported program keeps only one branch."""

    def forward(self, x):
        if torch.compiler.is_exporting():
            return x / x.abs().max()
        return PlainLimiter()(x)


class WhereLimiter(torch.nn.Module):
    def forward(self, x):
        peak = x.abs().max()
        return torch.where(peak > 1, x / peak, x)


@pytest.fixture(scope="module")
def solution():
    return load_solution()


def test_limiter_solution_passes(solution, capsys):
    assert H.check_limiter_exports(solution.Limiter())
    out = capsys.readouterr().out
    assert out.startswith("✔") and "torch.cond" in out


@pytest.mark.parametrize("model, says", [
    (PlainLimiter(), "Replace it with torch.cond"),
    (AliasingLimiter(), "x.clone()"),
    (AlwaysScales(), "Keep what it computes"),
    (ScalesOnlyWhenExported(), "kept only one branch"),
])
def test_limiter_wrong_answers_get_feedback(model, says, capsys):
    assert not H.check_limiter_exports(model)
    out = capsys.readouterr().out
    assert out.startswith("✘") and says in out


def test_limiter_with_where_passes_and_says_what_it_costs(capsys):
    assert H.check_limiter_exports(WhereLimiter())
    assert "always running both" in capsys.readouterr().out


def test_limiter_check_needs_a_model():
    with pytest.raises(TypeError, match="add parentheses"):
        H.check_limiter_exports(PlainLimiter)


def test_reference_limiter_covers_both_regimes():
    big, small = H.LIMITER_INPUTS["large, mixed signs"], H.LIMITER_INPUTS["small"]
    assert H.reference_limiter(big).abs().max() == 1 and torch.equal(H.reference_limiter(small), small)


def test_dynamic_batch_solution_passes(solution, capsys):
    assert H.check_dynamic_batch_program(solution.export_digits_any_batch())
    assert capsys.readouterr().out.startswith("✔ One program, every batch size")


def test_dynamic_batch_wrong_answers_get_feedback(capsys):
    images, _ = H.load_digits("test")
    cnn = H.load_digits_cnn()
    assert not H.check_dynamic_batch_program(torch.export.export(cnn, (images[:4],)))
    out = capsys.readouterr().out
    assert "A batch of 1 fails" in out and "Guard failed" in out and "Dim('batch')" in out
    assert not H.check_dynamic_batch_program(cnn)
    assert "not the model itself" in capsys.readouterr().out
    assert not H.check_dynamic_batch_program("program.pt2")
    assert "you gave a str" in capsys.readouterr().out
    untrained = H.DigitsCNN().eval()
    other = torch.export.export(untrained, (images[:4],), dynamic_shapes={"x": {0: Dim("batch")}})
    assert not H.check_dynamic_batch_program(other)
    assert "other scores than the eager CNN" in capsys.readouterr().out
