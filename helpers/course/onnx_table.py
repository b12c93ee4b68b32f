"""Used by H.start in every notebook (09 exports to ONNX): the exporter reuses its table of torchlib functions."""
import importlib

import torch.onnx._internal._lazy_import as _lazy  # 0.02 s: onnx and onnxscript stay unimported until an export

__all__ = ["keep_onnx_function_table"]


def keep_onnx_function_table() -> bool:
    """Let ``torch.onnx.export(..., dynamo=True)`` build onnxscript's list of torchlib functions once per process.

    With torch 2.14 and onnxscript 0.7, every export rebuilds its registry of ATen-to-ONNX translations, and
    onnxscript's part of it (``get_torchlib_ops``) re-reads and re-parses the source of about 500 torchlib
    functions each time: 0.3 to 0.9 s per export on this course's machines, for the same list every time. The
    list changes only if new torchlib functions are registered in onnxscript's own registry, which nothing in
    the course does (``custom_translation_table``, the public way to add translations, does not touch it).
    The first list is kept and a copy of it is handed to every later export; torch then builds its registry
    from it as before. Returns whether the list is now kept (False if this torch has no such hook).
    """
    apis = getattr(_lazy, "onnxscript_apis", None)
    module_name = getattr(apis, "_name", None)
    if module_name is None:
        return False
    current = vars(apis).get("get_torchlib_ops")
    if getattr(current, "_keeps_table", False):
        return True
    kept = []

    def get_torchlib_ops():
        if not kept:
            kept.append(importlib.import_module(module_name).get_torchlib_ops())
        return list(kept[0])

    get_torchlib_ops._keeps_table = True
    # The lazy module looks up attributes it does not hold in onnxscript; one it holds is found first.
    apis.get_torchlib_ops = get_torchlib_ops
    return True
