// load_ts: run a TorchScript file from C++, with no Python anywhere (notebook 05_save_and_load).
//
//   load_ts MODEL.pt INPUTS.pt OUTPUT.pt [REPEATS [THREADS]] [--load-library LIB.so]...
//
// Loads MODEL.pt with torch::jit::load, reads the forward arguments from INPUTS.pt (what Python's
// torch.save((x, y, ...), path) writes: tensors of any dtype, lists, tuples, dicts, numbers), calls
// forward REPEATS times (default 1) on THREADS threads (default: LibTorch's own choice), writes what
// forward returned (a tensor, a tuple, a list, a dict, nested) to OUTPUT.pt with torch::pickle_save
// (Python's torch.load reads it) and prints one line:
// "ok shape=297x10 load_ms=... run_ms=... first_ms=... runs=N threads=T work_ms=..."
// run_ms is the median of the runs and first_ms the first of them; work_ms is everything main() did,
// so the rest of the process's time is start-up (loading the libraries).
// Any problem prints one line starting with "load_ts: error:" to stderr (the cause, never a C++
// backtrace) and exits non-zero (see cpp/README.md for the codes).
//
// --load-library LIB.so (repeatable) opens an operator library before the model is loaded: its
// TORCH_LIBRARY block registers the operators (e.g. workbook::clip_relu) that the model calls.
//
// Why the first call is slow: TorchScript's profiling executor runs the first call(s) while recording
// the shapes and dtypes it sees, then builds an optimised graph for them; later calls reuse it. So a
// server warms up before it takes traffic, and run_ms is a median, not the first call.
//
// The older plain files still work: an INPUT "f32 <ndim> <d0> ...\n" + float32 values, and an OUTPUT
// whose name ends in .f32 receives one tensor in that format.

#include "value_io.h"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace value_io;

// torch.save stores a Python list or dict without an element type, so it comes back as List[Any]
// or Dict[Any, Any], which forward refuses ("Expected a value of type 'List[Tensor]' for argument
// 'parts' but instead found type 'List[Any]'"). Rebuild each input with the type forward declares.
c10::IValue with_type(const c10::IValue& value, const c10::TypePtr& expected) {
    if (const auto optional = expected->cast<c10::OptionalType>())
        return value.isNone() ? value : with_type(value, optional->getElementType());
    if (const auto list = expected->cast<c10::ListType>(); list && value.isList()) {
        c10::impl::GenericList typed(list->getElementType());
        for (const auto& item : value.toListRef()) typed.push_back(with_type(item, list->getElementType()));
        return typed;
    }
    if (const auto dict = expected->cast<c10::DictType>(); dict && value.isGenericDict()) {
        c10::impl::GenericDict typed(dict->getKeyType(), dict->getValueType());
        for (const auto& item : value.toGenericDict())
            typed.insert(with_type(item.key(), dict->getKeyType()), with_type(item.value(), dict->getValueType()));
        return typed;
    }
    if (const auto tuple = expected->cast<c10::TupleType>(); tuple && value.isTuple()) {
        const auto& items = value.toTupleRef().elements();
        if (items.size() != tuple->elements().size()) return value;  // forward's own check explains the mismatch
        std::vector<c10::IValue> typed;
        for (size_t i = 0; i < items.size(); ++i) typed.push_back(with_type(items[i], tuple->elements()[i]));
        return c10::ivalue::Tuple::create(std::move(typed));
    }
    return value;
}

double ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

int run(int argc, char** argv) {
    const auto main_start = std::chrono::steady_clock::now();
    const auto line = read_command_line(
        argc, argv, "usage: load_ts MODEL.pt INPUTS.pt OUTPUT.pt [REPEATS [THREADS]] [--load-library LIB.so]...");
    const std::string &model_path = line.model_path, &input_path = line.input_path, &output_path = line.output_path;
    const int repeats = line.repeats;
    // Set before any work, so a comparison with Python can use the same thread count as Python.
    if (line.threads > 0) at::set_num_threads(line.threads);
    load_libraries(line.libraries);

    if (!std::ifstream(model_path)) throw Failure{kBadModel, "no readable file at " + model_path};
    auto start = std::chrono::steady_clock::now();
    torch::jit::Module model;
    try {
        model = torch::jit::load(model_path, torch::kCPU);
    } catch (const std::exception& error) {
        throw Failure{kBadModel, model_path + " is not a TorchScript file this LibTorch can load: " + cause(error)};
    }
    model.eval();
    const double load_ms = ms_since(start);

    auto inputs = read_inputs(input_path);
    const auto& arguments = model.get_method("forward").function().getSchema().arguments();  // [0] is self
    for (size_t i = 0; i < inputs.size() && i + 1 < arguments.size(); ++i)
        inputs[i] = with_type(inputs[i], arguments[i + 1].type());
    torch::InferenceMode no_autograd;  // inference only: no gradient bookkeeping, as in Python's inference_mode
    std::vector<double> times;
    c10::IValue result;
    for (int i = 0; i < repeats; ++i) {
        start = std::chrono::steady_clock::now();
        try {
            result = model.forward(inputs);
        } catch (const std::exception& error) {
            throw Failure{kRunFailed, "the model failed on the input: " + cause(error)};
        }
        times.push_back(ms_since(start));
    }
    write_output(output_path, result);

    const double first_ms = times.front();
    std::sort(times.begin(), times.end());
    std::cout << "ok shape=" << describe(result) << " load_ms=" << load_ms << " run_ms=" << times[times.size() / 2]
              << " first_ms=" << first_ms << " runs=" << repeats << " threads=" << at::get_num_threads()
              << " work_ms=" << ms_since(main_start) << std::endl;
    return kOk;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const Failure& f) {
        std::cerr << "load_ts: error: " << f.message << std::endl;
        return f.code;
    } catch (const std::exception& error) {
        std::cerr << "load_ts: error: " << cause(error) << std::endl;
        return 1;
    }
}
