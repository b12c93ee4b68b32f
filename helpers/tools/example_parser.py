"""Inputs written on a command line, e.g. ``"randn(1,3,64,64)"``, read with a whitelist, never eval (introduced in 11_your_model).

``parse_example("(randn(2,4), arange(2))")`` returns a tuple of tensors. Allowed: the torch
factories ``randn rand zeros ones arange randint full`` with literal arguments and an optional
``dtype=int64`` (or ``"int64"``), Python numbers (``nan`` and ``inf`` too, e.g. ``full((2, 4), nan)``), tuples,
lists and dicts of these.
"""
import ast

import torch

__all__ = ["parse_example"]

_FACTORIES = {"randn": torch.randn, "rand": torch.rand, "zeros": torch.zeros, "ones": torch.ones,
              "arange": torch.arange, "randint": torch.randint, "full": torch.full}
_DTYPES = {"float32": torch.float32, "float": torch.float32, "float64": torch.float64, "double": torch.float64,
           "float16": torch.float16, "bfloat16": torch.bfloat16, "int64": torch.int64, "long": torch.int64,
           "int32": torch.int32, "int": torch.int32, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool}


class ExampleSyntaxError(ValueError):
    """The example text uses something outside the whitelist."""


def _dtype(node):
    name = None
    if isinstance(node, ast.Name):
        name = node.id
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "torch":
        name = node.attr
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        name = node.value
    if name not in _DTYPES:
        raise ExampleSyntaxError(f"unknown dtype {ast.unparse(node)!r}: use one of {', '.join(sorted(_DTYPES))}")
    return _DTYPES[name]


_NUMBERS = {"nan": float("nan"), "inf": float("inf")}  # the floats Python writes without a literal


def _value(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NUMBERS:
        return _NUMBERS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _value(node.operand)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value
    if isinstance(node, ast.Tuple):
        return tuple(_value(e) for e in node.elts)
    if isinstance(node, ast.List):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        keys = [k.value if isinstance(k, ast.Constant) and isinstance(k.value, str) else None for k in node.keys]
        if None in keys:
            raise ExampleSyntaxError("dict keys must be strings, e.g. {'image': randn(1,3,8,8)}")
        return {k: _value(v) for k, v in zip(keys, node.values)}
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "torch" \
            else func.id if isinstance(func, ast.Name) else None
        if name not in _FACTORIES:
            raise ExampleSyntaxError(f"{ast.unparse(func)}() is not allowed: use one of {', '.join(_FACTORIES)}")
        args = [_value(a) for a in node.args]
        kwargs = {}
        for kw in node.keywords:
            if kw.arg != "dtype":
                raise ExampleSyntaxError(f"only dtype= is allowed as a keyword, got {kw.arg}=")
            kwargs["dtype"] = _dtype(kw.value)
        try:
            return _FACTORIES[name](*args, **kwargs)
        except (TypeError, RuntimeError, ValueError) as error:
            raise ExampleSyntaxError(f"{ast.unparse(node)}: {str(error).splitlines()[0]}") from None
    raise ExampleSyntaxError(f"{ast.unparse(node)!r} is not allowed: write tensors as randn(1,3,64,64), "
                             "numbers (nan and inf too), and tuples/lists/dicts of them")


def parse_example(text: str):
    """The input described by ``text``; a top-level tuple means one input per model argument."""
    if not isinstance(text, str) or not text.strip():
        raise ExampleSyntaxError('the example is empty: write e.g. "randn(1,3,64,64)"')
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ExampleSyntaxError(f"cannot read {text!r}: {error.msg}") from None
    torch.manual_seed(0)  # the same example on every run
    return _value(tree.body)
