"""Exercise checkers for 01_dynamic_models and 02_what_is_torchscript.

Each checker prints one line starting with ✔ or ✘ that says what to do next, and returns True or
False. The right answers are computed here from the models themselves, never typed in.
"""
import re

import torch

from ..tools.path_recorder import record_path
from ..course.deprecations import deprecations_hidden
from ..course.failures import short_message
from ..models import BranchModel, LoopModel
from ..course.guards import model_instance

__all__ = ["PATH_QUESTIONS", "check_path_answers", "check_halving_model", "check_type_fix", "check_count_kind"]


def _gist(error) -> str:
    """The line of an error that says what went wrong, as a sentence ending in a full stop."""
    line = re.sub(r"^\w+(Error|Exception): ", "", short_message(error)).rstrip(":. ")
    return line + "."


# ---------------------------------------------------------------- 01, exercise 1: read the path

# question -> (model class, input, line to watch, how the answer is phrased)
PATH_QUESTIONS = {
    "loop, input of shape (7, 2): runs of the loop body": (LoopModel, lambda: torch.ones(7, 2), "h = h + x[i]", "count"),
    "loop, input of shape (1, 10): runs of the loop body": (LoopModel, lambda: torch.ones(1, 10), "h = h + x[i]", "count"),
    "branch, tensor([2., -5.]): 'double' or 'negate'": (BranchModel, lambda: torch.tensor([2.0, -5.0]), "return x * 2", "branch"),
    "branch, tensor([0., 0.]): 'double' or 'negate'": (BranchModel, lambda: torch.tensor([0.0, 0.0]), "return x * 2", "branch"),
}


def _true_path_answer(question):
    model_class, make_input, fragment, kind = PATH_QUESTIONS[question]
    record = record_path(model_class(), make_input())
    if kind == "count":
        return record.count(fragment)
    return "double" if record.ran(fragment) else "negate"


def check_path_answers(answers) -> bool:
    """01: ``answers`` maps each question of ``PATH_QUESTIONS`` to a number of runs or 'double'/'negate'."""
    if not isinstance(answers, dict):
        print(f"✘ Give a dict from each question to your answer; you gave a {type(answers).__name__}.")
        return False
    missing = [q for q in PATH_QUESTIONS if answers.get(q) is None]
    if missing:
        print(f"✘ Answer every question first: {len(missing)} still empty, e.g. {missing[0]!r}.")
        return False
    for question in PATH_QUESTIONS:
        given, right = answers[question], _true_path_answer(question)
        if isinstance(right, int):
            number = given if isinstance(given, int) and not isinstance(given, bool) else None
            if number is None and isinstance(given, str) and given.strip().isdigit():
                number = int(given)
            if number != right:
                hint = ("count the rows: the loop is `for i in range(x.size(0))`"
                        if number is not None else "answer with a whole number")
                print(f"✘ Not yet: {question!r} — you said {given!r}; {hint}. "
                      "Check with H.record_path.")
                return False
        elif str(given).strip().lower() not in ("double", "negate"):
            print(f"✘ Not yet: {question!r} — you said {given!r}; answer with one of the two words "
                  "'double' or 'negate'.")
            return False
        elif str(given).strip().lower() != right:
            make_input = PATH_QUESTIONS[question][1]
            # The tie is the classic slip: a zero sum is not greater than zero.
            tie = " (is 0 greater than 0?)" if make_input().sum() == 0 else ""
            print(f"✘ Not yet: {question!r} — you said {given!r}. The branch is chosen by `x.sum() > 0`: "
                  f"work out the sum{tie} and compare it with 0, or check with H.record_path.")
            return False
    print("✔ All right: the number of loop runs follows the input's rows, and the branch follows its values.")
    return True


# ---------------------------------------------------------------- 01, exercise 2: a loop the data controls

def _halve_until_small(x):
    while x.abs().max() > 1:
        x = x / 2
    return x


_HALVING_INPUTS = [torch.tensor([0.5, -0.25]), torch.tensor([3.0, 1.0]), torch.tensor([-40.0, 2.0]),
                   torch.tensor([1.0, -1.0])]




def check_halving_model(model) -> bool:
    """01: ``model`` halves its input while any |value| > 1; the number of halvings depends on the data."""
    model = model_instance(model, "check_halving_model")
    runs = {}
    for x in _HALVING_INPUTS:
        try:
            got = model(x.clone())
        except Exception as error:  # the learner's code failing is feedback, not a crash
            print(f"✘ Your model failed on {x}: {type(error).__name__}: {_gist(error)}")
            return False
        want = _halve_until_small(x)
        if not isinstance(got, torch.Tensor) or got.shape != want.shape or not torch.allclose(got, want):
            print(f"✘ Not yet: for {x} you return {got}, expected {want}. "
                  "Halve while any |value| is above 1 (a `while` loop), and leave small inputs alone.")
            return False
        record = record_path(model, x.clone())
        runs[tuple(x.tolist())] = tuple(sorted(record.counts.items()))
    if len(set(runs.values())) < 2:
        print("✘ The outputs are right, but every input ran the same lines the same number of times: "
              "let the input decide how often the loop runs, with `while x.abs().max() > 1:`.")
        return False
    print("✔ Right: the loop ran a different number of times per input. Python decided each time, as it ran.")
    return True


# ---------------------------------------------------------------- 02, exercise 1: a type error

_FIRST_INPUTS = [torch.tensor([3.0, 4.0]), torch.tensor([-1.0]), torch.zeros(0)]


def _first_or_zero(x):
    if x.numel() == 0:
        return torch.zeros(())
    return x[0]


def check_type_fix(fn) -> bool:
    """02: ``fn`` returns x[0], or a zero tensor for an empty x, and compiles with torch.jit.script."""
    if not callable(fn) or isinstance(fn, type):
        print(f"✘ Pass your function itself, e.g. check_type_fix(first_or_zero); you gave a {type(fn).__name__}.")
        return False
    try:
        with deprecations_hidden():
            scripted = torch.jit.script(fn)
    except Exception as error:  # a compile error is the feedback this exercise is about
        print(f"✘ TorchScript still rejects it: {_gist(error)} Every return must give a Tensor: "
              "change the one that does not.")
        return False
    for x in _FIRST_INPUTS:
        want = _first_or_zero(x)
        try:
            got = scripted(x)
        except Exception as error:
            print(f"✘ It compiles, but fails on {x}: {type(error).__name__}: {_gist(error)}")
            return False
        if not isinstance(got, torch.Tensor) or got.numel() != 1 or got.item() != want.item():
            print(f"✘ It compiles, but for {x} it returns {got}; expected {want}. Keep x[0] for a non-empty input.")
            return False
    print("✔ Right: both returns are Tensors now, so the compiler accepts it, and the behaviour is unchanged.")
    return True


# ---------------------------------------------------------------- 02, exercise 2: walk the graph

def _reference_count(graph, kind):
    total = 0
    for node in graph.nodes():
        total += node.kind() == kind
        for block in node.blocks():
            total += _reference_count(block, kind)
    return total


def _count_cases():
    """(label, graph, kind) triples; nested blocks are what a flat walk misses."""
    with deprecations_hidden():
        branch = torch.jit.script(BranchModel()).graph
        loop = torch.jit.script(LoopModel()).graph
        nested = torch.jit.script(_nested).graph
    return [("BranchModel", branch, "aten::mul"), ("BranchModel", branch, "aten::sum"),
            ("LoopModel", loop, "aten::add"), ("LoopModel", loop, "prim::Loop"),
            ("a loop inside a branch", nested, "aten::mul"), ("BranchModel", branch, "aten::conv2d")]


def _nested(x: torch.Tensor) -> torch.Tensor:
    if bool(x.sum() > 0):
        for _ in range(3):
            x = x * 2
    else:
        x = x * -1
    return x


def check_count_kind(fn) -> bool:
    """02: ``fn(graph, kind)`` counts the nodes of ``kind``, including those nested in If/Loop blocks."""
    if not callable(fn):
        print(f"✘ Pass your function itself, e.g. check_count_kind(count_kind); you gave a {type(fn).__name__}.")
        return False
    for label, graph, kind in _count_cases():
        want = _reference_count(graph, kind)
        try:
            got = fn(graph, kind)
        except Exception as error:
            print(f"✘ count_kind(graph of {label}, {kind!r}) failed: {type(error).__name__}: {_gist(error)}")
            return False
        if got != want:
            hint = (" Nodes inside a prim::If or prim::Loop live in node.blocks(); each block has .nodes() "
                    "too, so walk them as well." if isinstance(got, int) and got < want else "")
            print(f"✘ Not yet: count_kind(graph of {label}, {kind!r}) gave {got!r}, expected {want}.{hint}")
            return False
    print("✔ Right: your walk reaches the nodes nested in prim::If and prim::Loop blocks.")
    return True
