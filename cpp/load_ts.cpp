// load_ts: run a TorchScript file from C++, with no Python anywhere (notebook 05_save_and_load).
//
//   load_ts MODEL.pt INPUT.f32 OUTPUT.f32 [REPEATS [THREADS]]
//
// Loads MODEL.pt with torch::jit::load, reads one float32 tensor from INPUT.f32, calls the
// model's forward REPEATS times (default 1) on THREADS threads (default: LibTorch's own choice),
// writes the output tensor to OUTPUT.f32 and prints one line:
// "ok shape=297x10 load_ms=... run_ms=... runs=N threads=T work_ms=..." (run_ms is the median of
// the runs; work_ms is everything main() did, so the rest of the process's time is start-up).
// Any problem prints one line starting with "load_ts: error:" to stderr and exits non-zero.
//
// Tensor files are deliberately plain, so Python can write them without extra packages:
// a text header line "f32 <ndim> <d0> <d1> ...\n", then the values as little-endian float32.

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

// The raw values are copied byte for byte, which is only correct on a little-endian machine.
static_assert(std::endian::native == std::endian::little, "load_ts reads little-endian float32 files");

namespace {

enum Exit { kOk = 0, kUsage = 2, kBadModel = 3, kBadInput = 4, kRunFailed = 5, kBadOutput = 6 };

struct Failure {
    int code;
    std::string message;
};

// c10::Error messages carry a C++ backtrace and several lines; one line is what a reader needs.
std::string first_line(const std::string& text) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
    }
    return "(no message)";
}

std::string last_line(const std::string& text) {
    std::istringstream lines(text);
    std::string line, last = "(no message)";
    while (std::getline(lines, line)) {
        if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
    }
    return last;
}

torch::Tensor read_tensor(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Failure{kBadInput, "cannot open input tensor file " + path};
    std::string header;
    if (!std::getline(in, header)) throw Failure{kBadInput, path + " is empty"};
    std::istringstream fields(header);
    std::string dtype;
    int64_t ndim = -1;
    fields >> dtype >> ndim;
    if (dtype != "f32" || ndim < 0 || ndim > 8)
        throw Failure{kBadInput, path + " does not start with a header like 'f32 2 3 4'"};
    std::vector<int64_t> shape(ndim);
    int64_t count = 1;
    for (auto& size : shape) {
        if (!(fields >> size) || size < 0) throw Failure{kBadInput, path + " has a malformed shape in its header"};
        count *= size;
    }
    auto tensor = torch::empty(shape, torch::kFloat32);
    const auto bytes = static_cast<std::streamsize>(count * sizeof(float));
    in.read(reinterpret_cast<char*>(tensor.data_ptr<float>()), bytes);
    if (in.gcount() != bytes) throw Failure{kBadInput, path + " is shorter than its header says (truncated?)"};
    return tensor;
}

void write_tensor(const std::string& path, torch::Tensor tensor) {
    tensor = tensor.to(torch::kFloat32).contiguous();
    std::ofstream out(path, std::ios::binary);
    if (!out) throw Failure{kBadOutput, "cannot write output tensor file " + path};
    out << "f32 " << tensor.dim();
    for (auto size : tensor.sizes()) out << ' ' << size;
    out << '\n';
    out.write(reinterpret_cast<const char*>(tensor.data_ptr<float>()),
              static_cast<std::streamsize>(tensor.numel() * sizeof(float)));
    if (!out) throw Failure{kBadOutput, "could not write all of " + path};
}

double ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

int whole_number(const char* text) {
    try {
        return std::stoi(text);
    } catch (const std::exception&) {
        return 0;
    }
}

int run(int argc, char** argv) {
    const auto main_start = std::chrono::steady_clock::now();
    if (argc < 4 || argc > 6)
        throw Failure{kUsage, "usage: load_ts MODEL.pt INPUT.f32 OUTPUT.f32 [REPEATS [THREADS]]"};
    const std::string model_path = argv[1], input_path = argv[2], output_path = argv[3];
    const int repeats = argc >= 5 ? whole_number(argv[4]) : 1;
    if (repeats < 1) throw Failure{kUsage, "REPEATS must be a whole number of at least 1"};
    if (argc == 6) {
        const int threads = whole_number(argv[5]);
        if (threads < 1) throw Failure{kUsage, "THREADS must be a whole number of at least 1"};
        // Set before any work, so a comparison with Python can use the same thread count as Python.
        at::set_num_threads(threads);
    }

    if (!std::ifstream(model_path)) throw Failure{kBadModel, "no readable file at " + model_path};
    auto start = std::chrono::steady_clock::now();
    torch::jit::Module model;
    try {
        model = torch::jit::load(model_path, torch::kCPU);
    } catch (const c10::Error& e) {
        throw Failure{kBadModel, model_path + " is not a TorchScript file this LibTorch can load: " +
                                     first_line(e.what_without_backtrace())};
    }
    model.eval();
    const double load_ms = ms_since(start);

    const auto input = read_tensor(input_path);
    torch::InferenceMode no_autograd;  // inference only: no gradient bookkeeping, as in Python's inference_mode
    std::vector<double> times;
    c10::IValue result;
    for (int i = 0; i < repeats; ++i) {
        start = std::chrono::steady_clock::now();
        try {
            result = model.forward({input});
        } catch (const std::exception& e) {
            // The interpreter's message starts with a TorchScript traceback; the cause is its last line.
            throw Failure{kRunFailed, "the model failed on the input: " + last_line(e.what())};
        }
        times.push_back(ms_since(start));
    }
    if (!result.isTensor())
        throw Failure{kRunFailed, "the model returned a " + result.tagKind() + ", but load_ts writes one tensor"};
    const auto output = result.toTensor();
    write_tensor(output_path, output);

    std::sort(times.begin(), times.end());
    std::ostringstream shape;
    for (int64_t d = 0; d < output.dim(); ++d) shape << (d ? "x" : "") << output.size(d);
    std::cout << "ok shape=" << shape.str() << " load_ms=" << load_ms << " run_ms=" << times[times.size() / 2]
              << " runs=" << repeats << " threads=" << at::get_num_threads()
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
    } catch (const std::exception& e) {
        std::cerr << "load_ts: error: " << first_line(e.what()) << std::endl;
        return 1;
    }
}
