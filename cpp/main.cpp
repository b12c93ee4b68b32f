// main.cpp: a starting point for a C++ service that runs a TorchScript model (notebook 10_shipping).
// Copy it, keep the steps, replace the parts marked "your service".
//
//   main MODEL.pt D0 [D1 ...] < request.raw > response.raw
//
// The request is the input's values as raw little-endian float32 (shape D0 x D1 x ...) on standard
// input, standing in for the body of a network request; the response is the output's values as raw
// float32 on standard output, and one line "shape=AxB" on standard error says how to read them.
// Build: see cpp/README.md (the same command line as load_ts).

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <cstdint>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: main MODEL.pt D0 [D1 ...] < request.raw > response.raw" << std::endl;
        return 2;
    }
    try {
        // 1. Threads. Decide before the first tensor operation. A service that answers several
        //    requests at once usually gives each request one thread (set_num_threads(1)) and lets
        //    the requests run side by side; one request at a time can use all the cores instead.
        at::set_num_threads(1);

        // 2. Load once, at start-up, never per request. eval() switches dropout and batch norm to inference.
        torch::jit::Module model = torch::jit::load(argv[1], torch::kCPU);
        model.eval();

        std::vector<int64_t> shape;
        for (int i = 2; i < argc; ++i) shape.push_back(std::stoll(argv[i]));

        // 3. No autograd. NoGradGuard stops gradient recording (torch.no_grad() in Python);
        //    InferenceMode (torch.inference_mode()) also skips the version counters and view
        //    tracking that only training needs. InferenceMode alone would do; NoGradGuard is what
        //    older code uses, so you will meet both. Tensors made here cannot be used for training later.
        torch::NoGradGuard no_grad;
        c10::InferenceMode inference;

        // 4. Warm up before taking traffic. The first calls are slow: TorchScript's profiling executor
        //    runs them while recording the shapes and dtypes it sees, then builds an optimised graph
        //    (fusions, specialisations) that later calls reuse; memory pools and caches also fill up.
        //    Warm up with the shapes the service will really get, because a new shape can be profiled again.
        for (int i = 0; i < 3; ++i) model.forward({torch::zeros(shape)});

        // 5. Your service: here, one request read from standard input into a buffer.
        std::vector<char> body(std::istreambuf_iterator<char>(std::cin), {});
        const auto expected = torch::zeros(shape).numel() * static_cast<int64_t>(sizeof(float));
        if (static_cast<int64_t>(body.size()) != expected) {
            std::cerr << "main: error: the request holds " << body.size() << " bytes, shape needs " << expected << std::endl;
            return 4;
        }
        // from_blob wraps the buffer as a tensor without copying: no allocation per request, but the
        // buffer must outlive the tensor, and the tensor must not be written to if the buffer is
        // read-only. Call .clone() when the tensor has to outlive the buffer.
        const torch::Tensor input = torch::from_blob(body.data(), shape, torch::kFloat32);

        // 6. Run. forward takes a vector of IValues (one per argument) and returns an IValue.
        const torch::Tensor output = model.forward({input}).toTensor().to(torch::kFloat32).contiguous();

        // 7. Your service: send the answer back.
        std::cout.write(reinterpret_cast<const char*>(output.data_ptr<float>()),
                        static_cast<std::streamsize>(output.numel() * sizeof(float)));
        std::cerr << "shape=";
        for (int64_t d = 0; d < output.dim(); ++d) std::cerr << (d ? "x" : "") << output.size(d);
        std::cerr << std::endl;
        return 0;
    } catch (const std::exception& error) {
        // One line, the cause. A c10::Error's what() appends a C++ backtrace; what_without_backtrace()
        // leaves it out, and its first line is the cause. An error raised inside the model's TorchScript
        // code starts with a TorchScript traceback instead, and the cause is the last line.
        const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
        std::string text = c10_error ? c10_error->what_without_backtrace() : error.what();
        while (!text.empty() && text.back() == '\n') text.pop_back();
        const bool traceback = text.find("Traceback of TorchScript") != std::string::npos;
        text = traceback ? text.substr(text.rfind('\n') + 1) : text.substr(0, text.find('\n'));
        std::cerr << "main: error: " << text << std::endl;
        return 1;
    }
}
