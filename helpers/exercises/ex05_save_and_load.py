"""Exercise checkers for 05_save_and_load: a self-describing export, and a loader that refuses code.

Each checker prints one line starting with ✔ or ✘ that says what is right or what to change,
and returns True or False.
"""
import json
import re
import pathlib
import tempfile
import zipfile
from pathlib import Path

import torch

from ..course.failures import as_sentence, short_message
from ..course.guards import with_article
from ..routes.archive import ArchiveEntryError, TorchScriptFileError, load_torchscript, read_extra_files
from ..digits import DigitsCNN, load_digits, load_digits_cnn
from ._common import shortened

__all__ = ["check_labelled_export", "check_safe_weights_loader", "UntrustedPayload"]


def _fail(message: str) -> bool:
    print(f"✘ {message}")
    return False


def check_labelled_export(path, labels_file: str = "labels.json") -> bool:
    """05, exercise 1: ``path`` holds the trained digits CNN as TorchScript, with its ten class names inside.

    The names travel in an extra file ``labels.json`` holding a JSON list of 10 strings.
    """
    if path is None:
        return _fail("Save your model first, then pass the path: check_labelled_export(WORK / 'labelled_digits.pt').")
    if not isinstance(path, (str, pathlib.PurePath)):
        what = f"the class {path.__name__}" if isinstance(path, type) else f"a {type(path).__name__}"
        return _fail(f"Pass the path you saved the model to (a str or pathlib.Path, e.g. labelled_path), not {what}.")
    try:
        model = load_torchscript(path)
    except FileNotFoundError:
        return _fail(f"There is no file at {path}: did the torch.jit.save cell run, with this same path?")
    except (TorchScriptFileError, TypeError, IsADirectoryError) as error:
        here = " Here: torch.jit.save(torch.jit.script(cnn), path, _extra_files=...)." if "torch.save" in str(error) else ""
        return _fail(f"{as_sentence(str(error))}{here}")
    try:
        text = read_extra_files(path, labels_file)[labels_file]
    except ArchiveEntryError:
        present = _extra_names(path)
        found = f" (its extra files: {', '.join(map(repr, present))})" if present else " (it has no extra files at all)"
        return _fail(f"The file has no extra file {labels_file!r}{found}: pass _extra_files={{'{labels_file}': "
                     "json.dumps(labels)} to torch.jit.save, with that exact name.")
    try:
        labels = json.loads(text)
    except json.JSONDecodeError:
        looks_like_repr = text.lstrip().startswith(("[", "{", "(")) and "'" in text
        why = " That is Python's str() of a list (single quotes), not JSON." if looks_like_repr else ""
        return _fail(f"{labels_file} is not valid JSON (it starts {text[:30]!r}).{why} Write it with json.dumps(labels).")
    if not isinstance(labels, list) or len(labels) != 10 or not all(isinstance(x, str) and x.strip() for x in labels):
        return _fail(as_sentence(f"{labels_file} should hold a list of 10 non-empty strings, one name per digit 0-9; "
                     f"it holds {type(labels).__name__} {shortened(str(labels))}"))
    if len(set(labels)) != 10:
        return _fail("Two digits share a name: give each of the 10 digits its own label.")
    x, _ = load_digits("test")
    with torch.inference_mode():
        try:
            ours = model(x)
        except RuntimeError as error:
            cause = short_message(error, 140)
            hint = (" The test digits are float32: export the trained CNN as it is, without .double() or .half()."
                    if re.search(r"double|half|bfloat16|dtype", cause, re.I) else "")
            return _fail(f"The saved model fails on the {len(x)} test digits (each 1x8x8): {as_sentence(cause)}{hint}")
        expected = load_digits_cnn()(x)
    if not isinstance(ours, torch.Tensor) or ours.shape != expected.shape:
        return _fail(f"The saved model should return scores of shape {tuple(expected.shape)} for the test digits, "
                     f"it returns {getattr(ours, 'shape', type(ours).__name__)}: export H.load_digits_cnn() itself.")
    if not torch.equal(ours.argmax(1), expected.argmax(1)):
        return _fail("The saved model does not give the trained CNN's answers: export H.load_digits_cnn() (trained, "
                     "eval mode), not a fresh DigitsCNN().")
    first = labels[int(ours[0].argmax())]
    print(f"✔ The file carries the model and its labels: the first test digit reads as {first!r}, "
          "with no Python class and no separate label file needed.")
    return True


def _extra_names(path) -> list:
    """The names of the extra files inside a TorchScript archive (its ``extra/`` entries)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sorted(name.split("/extra/", 1)[1] for name in archive.namelist() if "/extra/" in name)
    except (OSError, zipfile.BadZipFile):
        return []


class UntrustedPayload:
    """A stand-in for a malicious checkpoint: unpickling it creates the file ``marker`` (and nothing worse)."""

    def __init__(self, marker):
        self.marker = Path(marker)

    def __reduce__(self):
        # pickle stores "call this function with these arguments" and torch.load(weights_only=False) obeys
        return (pathlib.Path.touch, (self.marker,))


def _not_a_model(returned) -> str:
    """What to change when ``load_weights`` returned something other than a DigitsCNN: a hint, not the answer."""
    if returned is None:
        return ("Your function returned None: it should return the model, a H.DigitsCNN holding the weights "
                "saved in the file.")
    if isinstance(returned, dict):
        return ("Your function returned the state_dict itself, a dict of named tensors: a dict cannot read digits, "
                "so put those weights into a model and return the model.")
    if isinstance(returned, type):
        return (f"Your function returned the class {returned.__name__} itself: return a model built from it, "
                "holding the saved weights.")
    return f"Your function returned {with_article(type(returned).__name__)}: it should return the model, a H.DigitsCNN holding the saved weights."


def _weights_of_our_own():
    """The trained CNN with its weights nudged (seeded): a loader that ignores the file cannot give its answers."""
    model = load_digits_cnn()
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return model


def check_safe_weights_loader(load_weights) -> bool:
    """05, exercise 2: ``load_weights(path)`` returns a DigitsCNN with the saved weights, and refuses code.

    It is given a real state_dict file (the model must give the trained CNN's outputs) and a file whose
    unpickling would run code (it must raise, and the code must not have run).
    """
    if load_weights is None:
        return _fail("Define your function first, then pass it: check_safe_weights_loader(load_weights).")
    if isinstance(load_weights, type):
        return _fail(f"Pass your function load_weights, not the class {load_weights.__name__}: the function builds "
                     "the model and fills it.")
    if not callable(load_weights):
        return _fail(f"Pass the function itself (no parentheses), not {with_article(type(load_weights).__name__)}.")
    with tempfile.TemporaryDirectory(prefix="check05-") as folder:
        folder = Path(folder)
        good, bad, marker = folder / "weights.pt", folder / "untrusted.pt", folder / "code_ran.txt"
        trained = _weights_of_our_own()
        torch.save(trained.state_dict(), good)
        try:
            model = load_weights(good)
        except Exception as error:  # any failure is the learner's to see, as one line
            hint = (" torch.jit.load reads TorchScript files; a state_dict is written by torch.save and read by "
                    "torch.load." if "constants.pkl" in str(error) else "")
            return _fail(f"Loading a real state_dict failed: {type(error).__name__}: "
                         f"{as_sentence(short_message(error, 120))}{hint}")
        if not isinstance(model, DigitsCNN):
            return _fail(_not_a_model(model))
        x, _ = load_digits("test")
        with torch.inference_mode():
            answers = model.eval()(x)
            if not torch.equal(answers, trained(x)):
                if torch.equal(answers, load_digits_cnn()(x)):
                    return _fail("The returned model gives the course's trained CNN's answers, not those of the "
                                 "weights in the file (the checker saved weights of its own): build a DigitsCNN and "
                                 "load the file's state_dict into it.")
                return _fail("The returned model does not give the answers of the weights in the file: did you load "
                             "the state_dict into it with model.load_state_dict(state)?")
        torch.save({"weights": trained.state_dict(), "note": UntrustedPayload(marker)}, bad)
        returned = None
        try:
            returned = load_weights(bad)
        except Exception:
            refused = True
        else:
            refused = False
        if marker.exists():
            return _fail("Loading the untrusted file ran its code (it created a file): use "
                         "torch.load(path, weights_only=True), which refuses anything but tensors and plain data.")
        if not refused and (returned is None or isinstance(returned, DigitsCNN)):
            return _fail(f"For the file carrying code your function returned {'None' if returned is None else 'a model'} "
                         "instead of raising: torch.load(path, weights_only=True) raises on this file; if your code "
                         "catches that error, let it through, so the caller knows the file was refused.")
        if not refused:
            return _fail("The untrusted file loaded without an error: make sure nothing but tensors can come back, "
                         "with torch.load(path, weights_only=True).")
    print("✔ Real weights load into a DigitsCNN, and the file carrying code was refused before its code could run.")
    return True
