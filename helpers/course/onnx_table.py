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
    from it as before. The first list itself is built without re-parsing (``_torchlib_ops``). Returns whether the
    list is now kept (False if this torch has no such hook).
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
            kept.append(_torchlib_ops(importlib.import_module(module_name)))
        return list(kept[0])

    get_torchlib_ops._keeps_table = True
    # The lazy module looks up attributes it does not hold in onnxscript; one it holds is found first.
    apis.get_torchlib_ops = get_torchlib_ops
    return True


def _torchlib_ops(module) -> list:
    """onnxscript's ``get_torchlib_ops()``, the same list, without parsing about 500 functions' sources.

    onnxscript reads each function's domain from ``function.function_ir``, which parses the function's source
    and translates its signature (0.3-0.5 s for 557 functions on a 2-core machine) to read one string that is
    the function's opset's domain. This reads ``function.opset.domain`` instead; the tests compare the two
    lists, item by item, with the pinned onnxscript. With an onnxscript that lacks any piece, it calls
    onnxscript's own function.
    """
    defined_in = importlib.import_module(module.get_torchlib_ops.__module__)  # torch_2_11 re-exports torch_2_5's
    meta = getattr(defined_in, "_OnnxFunctionMeta", None)
    registration = getattr(defined_in, "registration", None)
    if meta is None or registration is None:
        return module.get_torchlib_ops()
    importlib.import_module("onnxscript.function_libs.torch_lib.ops")  # registers the functions, as onnxscript does
    metas = []
    for qualified_name, functions in registration.default_registry.items():
        if qualified_name.startswith("internal::"):  # onnxscript's own helpers, left out as onnxscript does
            continue
        for is_complex, group in ((False, functions.overloads), (True, functions.complex)):
            for function in group:
                opset = getattr(function, "opset", None)
                if opset is None:
                    return module.get_torchlib_ops()
                metas.append(meta(qualified_name=qualified_name, function=function, domain=opset.domain,
                                  name=function.name, is_complex=is_complex))
    return metas
