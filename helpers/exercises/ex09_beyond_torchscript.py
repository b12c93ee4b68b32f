"""Exercise checkers for 09_beyond_torchscript: make a model exportable; export a two-input model for every batch size."""
import torch

from ..digits import load_digits, load_digits_cnn
from ..routes.export_bridge import quiet_export
from ..course.failures import short_message
from ..course.guards import require_module

__all__ = ["LIMITER_INPUTS", "reference_limiter", "check_limiter_exports",
           "TemperedDigits", "tempered_inputs", "check_tempered_digits_program"]

# Both regimes of the limiter: inputs whose largest |value| is above 1 (scaled down) and at most 1 (unchanged).
LIMITER_INPUTS = {
    "large, mixed signs": torch.tensor([[3.0, -4.0, 1.0]]),
    "small": torch.tensor([[0.2, -0.5, 0.1]]),
    "large negative": torch.tensor([[-10.0, 2.0, -0.5]]),
    "exactly 1": torch.tensor([[1.0, -1.0, 0.5]]),
}


def reference_limiter(x: torch.Tensor) -> torch.Tensor:
    """What the limiter must compute: scale x into [-1, 1] if its largest |value| is above 1, else leave it."""
    peak = x.abs().max()
    return x / peak if peak > 1 else x


def _close(a, b) -> bool:
    """``a`` is a tensor of ``b``'s dtype, shape and values (a bool answer is a wrong answer, not a crash)."""
    return (isinstance(a, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
            and bool(torch.allclose(a, b, rtol=1e-5, atol=1e-6)))


def check_limiter_exports(model) -> bool:
    """09: ``model`` computes ``reference_limiter`` and torch.export captures it for inputs in both regimes."""
    try:
        require_module(model, "check_limiter_exports")
    except TypeError as error:  # a wrong kind of argument: one line saying what to pass, not a traceback
        print(f"✘ {error}")
        return False
    with torch.no_grad():
        for label, x in LIMITER_INPUTS.items():
            try:
                got = model(x)
            except Exception as error:
                print(f"✘ Your model fails in eager mode on the {label} input {x.tolist()}: "
                      f"{type(error).__name__}: {short_message(error, 120)}")
                return False
            if not _close(got, reference_limiter(x)):
                print(f"✘ In eager mode your model gives {got} for the {label} input {x.tolist()}, "
                      f"but the limiter must give {reference_limiter(x)}. Keep what it computes; change only how.")
                return False
    example = LIMITER_INPUTS["large, mixed signs"]
    try:
        with quiet_export():
            program = torch.export.export(model, (example,))
    except Exception as error:
        if type(error).__name__ == "GuardOnDataDependentSymNode":
            print("✘ Not yet: torch.export still stops at an `if` on a tensor's value (GuardOnDataDependentSymNode). "
                  "Replace it with torch.cond(condition, true_fn, false_fn, (x,)).")
        elif "aliasing" in str(error):
            print("✘ Almost: a torch.cond branch returns its input itself, which torch.cond refuses (aliasing). "
                  "Return a new tensor instead, e.g. x.clone().")
        else:
            print(f"✘ torch.export fails: {type(error).__name__}: {short_message(error, 160)}")
        return False
    exported = program.module()
    with torch.no_grad():
        for label, x in LIMITER_INPUTS.items():
            try:
                got = exported(x)
            except Exception as error:
                print(f"✘ It exports, but the exported program fails on the {label} input {x.tolist()}: "
                      f"{type(error).__name__}: {short_message(error, 120)}")
                return False
            if not _close(got, reference_limiter(x)):
                print(f"✘ It exports, but the exported program gets the {label} input {x.tolist()} wrong "
                      f"({got} instead of {reference_limiter(x)}): it seems to have kept only one branch.")
                return False
    uses_cond = any(getattr(node.target, "__name__", "") == "cond" for node in program.graph.nodes)
    how = ("the graph holds a torch.cond, so both branches travel with the program and only one runs"
           if uses_cond else "without torch.cond (computing both sides and selecting, e.g. torch.where, also works "
           "here, at the price of always running both)")
    print(f"✔ Exported, and the program is right on all {len(LIMITER_INPUTS)} inputs, both regimes: {how}.")
    return True


class TemperedDigits(torch.nn.Module):
    """09, exercise 2: the trained digits CNN with two inputs, images and one softmax temperature per image."""

    def __init__(self):
        super().__init__()
        self.cnn = load_digits_cnn()
        self.eval()

    def forward(self, images, temperature):
        # temperature[i] divides the scores of image i: both arguments share the batch dimension
        return torch.softmax(self.cnn(images) / temperature.unsqueeze(1), dim=1)


def tempered_inputs(size: int) -> tuple:
    """The first ``size`` test digits and a temperature for each, from 0.5 to 2 (the exercise's inputs)."""
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"tempered_inputs takes a batch size of 1 or more, got {size!r}")
    images, _ = load_digits("test")
    if size > len(images):
        raise ValueError(f"tempered_inputs: there are only {len(images)} test digits, asked for {size}")
    return images[:size], torch.linspace(0.5, 2.0, size)


_SHARE_HINT = ("mark dimension 0 of both arguments as dynamic with one and the same Dim (the two sizes must "
               "always be equal), and export with an example batch of 2 or more")


def check_tempered_digits_program(program) -> bool:
    """09: ``program`` is an ExportedProgram of ``TemperedDigits`` that runs any batch size from 1 to 297."""
    if isinstance(program, torch.nn.Module):
        print("✘ Pass the ExportedProgram that torch.export.export returns, not the model itself.")
        return False
    if not isinstance(program, torch.export.ExportedProgram):
        what = f"the class {program.__name__}" if isinstance(program, type) else f"a {type(program).__name__}"
        print(f"✘ Pass the ExportedProgram that torch.export.export returns; you gave {what}.")
        return False
    eager = TemperedDigits()
    exported = program.module()
    largest = len(load_digits("test")[0])
    sizes = (1, 2, 7, largest)
    with torch.no_grad():
        for size in sizes:
            images, temperature = tempered_inputs(size)
            try:
                got = exported(images, temperature)
            except Exception as error:
                message = short_message(error, 120)
                hint = (_SHARE_HINT if "Guard failed" in message
                        else "export H.TemperedDigits() itself, with its two arguments (images, temperature)")
                print(f"✘ A batch of {size} fails: {type(error).__name__}: {message} → {hint}.")
                return False
            if not _close(got, eager(images, temperature)):
                print(f"✘ A batch of {size} runs but gives other probabilities than the eager model: "
                      "export H.TemperedDigits() itself, with its trained weights.")
                return False
    print(f"✔ One program, two inputs, every batch size: {', '.join(map(str, sizes[:-1]))} and {largest} "
          "all match the eager model.")
    return True
