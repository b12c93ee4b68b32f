// aoti_main.cpp: a starting point for a C++ service that runs an AOTInductor package (notebook 10_shipping).
// The twin of main.cpp for a model compiled ahead of time; copy it, replace the parts marked "your service".
//
//   aoti_main PACKAGE.pt2 D0 [D1 ...] < request.raw > response.raw
//
// PACKAGE.pt2 comes from torch._inductor.aoti_compile_and_package (not from torch.export.save).
// The request is one input's raw little-endian float32 values (shape D0 x D1 x ...) on standard
// input; the response is the first output's raw float32 values on standard output, and one line
// "shape=AxB" on standard error says how to read them. Build: see cpp/README.md (link with -ltorch).

#include <ATen/Parallel.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/script.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: aoti_main PACKAGE.pt2 D0 [D1 ...] < request.raw > response.raw" << std::endl;
        return 2;
    }
    try {
        // 1. Threads, before any work (see main.cpp).
        at::set_num_threads(1);

        // 2. Check the inputs' dtypes and shapes against what was exported: by default the compiled
        //    code trusts them, and a wrong shape gives a wrong answer instead of an error.
        setenv("AOTI_RUNTIME_CHECK_INPUTS", "1", /*overwrite=*/0);

        // 3. Load once. The loader unpacks the package into $TMPDIR/aotinductor_*, opens the compiled
        //    model from there and removes the folder when the loader is destroyed.
        torch::inductor::AOTIModelPackageLoader loader(argv[1]);

        std::vector<int64_t> shape;
        for (int i = 2; i < argc; ++i) shape.push_back(std::stoll(argv[i]));

        // 4. No autograd (see main.cpp for NoGradGuard versus InferenceMode).
        c10::InferenceMode inference;

        // 5. Warm up. There is no profiling executor here: the code was optimised when the package was
        //    compiled. The first calls are still slower (memory is allocated, caches are cold).
        for (int i = 0; i < 3; ++i) loader.run({torch::zeros(shape)});

        // 6. Your service: one request from standard input, wrapped without a copy (see main.cpp).
        std::vector<char> body(std::istreambuf_iterator<char>(std::cin), {});
        const auto expected = torch::zeros(shape).numel() * static_cast<int64_t>(sizeof(float));
        if (static_cast<int64_t>(body.size()) != expected) {
            std::cerr << "aoti_main: error: the request holds " << body.size() << " bytes, shape needs " << expected
                      << std::endl;
            return 4;
        }
        const torch::Tensor input = torch::from_blob(body.data(), shape, torch::kFloat32);

        // 7. Run. An AOTI model takes a flat vector of tensors and returns one; nesting (tuples,
        //    dicts) was flattened at export, in the order the outputs were returned.
        const std::vector<torch::Tensor> outputs = loader.run({input});
        const torch::Tensor output = outputs.at(0).to(torch::kFloat32).contiguous();

        // 8. Your service: send the answer back.
        std::cout.write(reinterpret_cast<const char*>(output.data_ptr<float>()),
                        static_cast<std::streamsize>(output.numel() * sizeof(float)));
        std::cerr << "shape=";
        for (int64_t d = 0; d < output.dim(); ++d) std::cerr << (d ? "x" : "") << output.size(d);
        std::cerr << std::endl;
        return 0;
    } catch (const std::exception& error) {
        // One line, the cause: a c10::Error's first line without the C++ backtrace.
        const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
        const std::string text = c10_error ? c10_error->what_without_backtrace() : error.what();
        std::cerr << "aoti_main: error: " << text.substr(0, text.find('\n')) << std::endl;
        return 1;
    }
}
