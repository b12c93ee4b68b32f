// aoti_run: run an AOTInductor package (.pt2) from C++, with no Python anywhere (notebook 10_shipping).
//
//   aoti_run PACKAGE.pt2 INPUTS.pt OUTPUT.pt [REPEATS [THREADS]] [--load-library LIB.so]...
//
// PACKAGE.pt2 is what torch._inductor.aoti_compile_and_package writes: the model compiled ahead of
// time into a shared library, plus its weights. (torch.export.save also writes a .pt2, but that one
// holds a graph to be compiled, not compiled code: this loader refuses it with "Failed to find a
// generated cpp file or so file for model 'model' in the zip archive".)
//
// An AOTI model takes and returns a flat list of tensors. INPUTS.pt is what Python's
// torch.save((x, y, ...), path) writes; its tensors, taken in order (lists, tuples and dict values
// flattened), are the inputs. OUTPUT.pt receives the output tensors as one tuple (torch::pickle_save).
// It prints "ok shape=... load_ms=... run_ms=... first_ms=... runs=N threads=T work_ms=..." and then
// "out_spec <text>": the package's description of how Python nests the flat outputs (a pytree spec).
// Errors: one line starting with "aoti_run: error:", exit codes as load_ts's (cpp/README.md).
// It turns on the compiled model's input checks (AOTI_RUNTIME_CHECK_INPUTS=1, see below).
// --load-library LIB.so (repeatable) opens an operator library before the package is loaded, as in
// load_ts: compiled code that calls a custom operator reaches it through the dispatcher, by name.
//
// The first call is slower than the next ones (memory is allocated, caches are cold), but there is no
// profiling executor: the code was compiled and optimised before the package was written.

#include "value_io.h"

#include <ATen/Parallel.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace value_io;

double ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void flatten(const c10::IValue& value, std::vector<at::Tensor>& tensors) {
    if (value.isTensor()) {
        tensors.push_back(value.toTensor());
    } else if (value.isTuple() || value.isList()) {
        for (const auto& item : value.isTuple() ? value.toTupleRef().elements().vec() : value.toListRef().vec())
            flatten(item, tensors);
    } else if (value.isGenericDict()) {
        for (const auto& item : value.toGenericDict()) flatten(item.value(), tensors);
    } else {
        throw Failure{kBadInput, "an AOTI model takes tensors only, but the inputs hold a " + value.tagKind()};
    }
}

int run(int argc, char** argv) {
    const auto main_start = std::chrono::steady_clock::now();
    const auto line = read_command_line(
        argc, argv, "usage: aoti_run PACKAGE.pt2 INPUTS.pt OUTPUT.pt [REPEATS [THREADS]] [--load-library LIB.so]...");
    const std::string &package_path = line.model_path, &input_path = line.input_path, &output_path = line.output_path;
    const int repeats = line.repeats;
    if (line.threads > 0) at::set_num_threads(line.threads);
    // Before the package: its loader looks up every operator the compiled code calls, and stops at one
    // nobody registered ("Could not find schema for workbook::clip_relu").
    load_libraries(line.libraries);

    if (!std::ifstream(package_path)) throw Failure{kBadModel, "no readable file at " + package_path};
    // By default the compiled model trusts its inputs: given a batch of 2 and a batch of 3 where the
    // export said both are the same "batch", it returned zeros without a word. This variable makes it
    // check every input's dtype, shape and strides first ("expected size 3==2, stride 3==3 at dim=0").
    // A service that has validated its requests itself may leave it unset and save those checks.
    setenv("AOTI_RUNTIME_CHECK_INPUTS", "1", /*overwrite=*/0);
    auto start = std::chrono::steady_clock::now();
    // The loader unpacks the package into a temporary folder, dlopens the compiled model from it and
    // removes the folder when it is destroyed (here: at the end of run()).
    std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader;
    try {
        loader = std::make_unique<torch::inductor::AOTIModelPackageLoader>(package_path);
    } catch (const std::exception& error) {
        throw Failure{kBadModel, "cannot load " + package_path + " as an AOTInductor package: " + cause(error)};
    }
    const double load_ms = ms_since(start);

    std::vector<at::Tensor> inputs;
    for (const auto& value : read_inputs(input_path)) flatten(value, inputs);
    torch::InferenceMode no_autograd;
    std::vector<double> times;
    std::vector<at::Tensor> outputs;
    for (int i = 0; i < repeats; ++i) {
        start = std::chrono::steady_clock::now();
        try {
            outputs = loader->run(inputs);
        } catch (const std::exception& error) {
            throw Failure{kRunFailed, "the model failed on the input: " + cause(error)};
        }
        times.push_back(ms_since(start));
    }
    std::vector<c10::IValue> items(outputs.begin(), outputs.end());
    const auto result = c10::ivalue::Tuple::create(std::move(items));
    write_output(output_path, result);

    const auto spec = loader->get_call_spec();  // [inputs spec, outputs spec]
    const double first_ms = times.front();
    std::sort(times.begin(), times.end());
    std::cout << "ok shape=" << describe(result) << " load_ms=" << load_ms << " run_ms=" << times[times.size() / 2]
              << " first_ms=" << first_ms << " runs=" << repeats << " threads=" << at::get_num_threads()
              << " work_ms=" << ms_since(main_start) << "\n"
              << "out_spec " << (spec.size() == 2 ? spec[1] : std::string()) << std::endl;
    return kOk;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const Failure& f) {
        std::cerr << "aoti_run: error: " << f.message << std::endl;
        return f.code;
    } catch (const std::exception& error) {
        std::cerr << "aoti_run: error: " << cause(error) << std::endl;
        return 1;
    }
}
