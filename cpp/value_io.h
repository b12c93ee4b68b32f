// value_io.h: what load_ts.cpp and aoti_run.cpp share: the command line, operator libraries, reading inputs,
// writing outputs, one-line errors.
//
// The input file is what Python's torch.save writes for a tuple of the forward arguments, e.g.
// torch.save((x, lengths, [a, b]), "inputs.pt"); torch::pickle_load reads that format (a zip holding a
// pickle and the raw bytes of each tensor), so tensors of every dtype, lists, tuples, dicts, ints,
// floats, bools and strings arrive as they were saved. The output file is written by
// torch::pickle_save, which Python's torch.load reads back.
// The older plain format is still accepted: a text line "f32 <ndim> <d0> <d1> ...", then little-endian float32.
#pragma once

#include <torch/script.h>
#include <torch/serialize.h>

#include <dlfcn.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

// The raw values are copied byte for byte, which is only correct on a little-endian machine.
static_assert(std::endian::native == std::endian::little, "the tensor files are little-endian");

namespace value_io {

enum Exit { kOk = 0, kUsage = 2, kBadModel = 3, kBadInput = 4, kRunFailed = 5, kBadOutput = 6, kBadLibrary = 7 };

struct Failure {
    int code;
    std::string message;
};

inline bool blank(const std::string& line) { return line.find_first_not_of(" \t\r") == std::string::npos; }

inline std::string first_line(const std::string& text) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line))
        if (!blank(line)) return line;
    return "(no message)";
}

inline std::string last_line(const std::string& text) {
    std::istringstream lines(text);
    std::string line, last = "(no message)";
    while (std::getline(lines, line))
        if (!blank(line)) last = line;
    return last;
}

// The cause of an exception, on one line. A c10::Error's what() appends a C++ backtrace ("frame #8:
// <unknown function> + 0x5641"); what_without_backtrace() drops it, and its first line is the cause
// ("forward() is missing value for argument 'y'. ..."). An error raised inside a TorchScript function
// is different: it starts with the TorchScript traceback, and the cause ("RuntimeError: ...") is its last line.
inline std::string cause(const std::exception& error) {
    const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
    const std::string text = c10_error ? c10_error->what_without_backtrace() : error.what();
    if (text.find("Traceback of TorchScript") != std::string::npos) return last_line(text);
    return first_line(text);
}

inline std::vector<char> read_bytes(const std::string& path, int code) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Failure{code, "cannot open " + path};
    return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The older format: one float32 tensor after a text header.
inline torch::Tensor read_f32(const std::vector<char>& data, const std::string& path) {
    const auto newline = std::find(data.begin(), data.end(), '\n');
    if (newline == data.end()) throw Failure{kBadInput, path + " has no header line like 'f32 2 3 4'"};
    std::istringstream fields(std::string(data.begin(), newline));
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
    const auto bytes = count * static_cast<int64_t>(sizeof(float));
    if (data.end() - (newline + 1) != bytes)
        throw Failure{kBadInput, path + " does not hold as many values as its header says (truncated?)"};
    auto tensor = torch::empty(shape, torch::kFloat32);
    std::copy(newline + 1, data.end(), reinterpret_cast<char*>(tensor.data_ptr<float>()));
    return tensor;
}

// The positional arguments of forward: the elements of the saved tuple (any other saved value is one argument).
inline std::vector<c10::IValue> read_inputs(const std::string& path) {
    const auto data = read_bytes(path, kBadInput);
    if (data.size() >= 4 && std::string(data.begin(), data.begin() + 4) == "f32 ") return {read_f32(data, path)};
    c10::IValue value;
    try {
        value = torch::pickle_load(data);
    } catch (const std::exception& error) {
        throw Failure{kBadInput, path + " is not an input file written by torch.save: " + cause(error)};
    }
    if (value.isTuple()) return value.toTupleRef().elements().vec();
    return {value};
}

inline bool ends_with(const std::string& text, const std::string& tail) {
    return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

inline void write_output(const std::string& path, const c10::IValue& value) {
    std::ofstream out(path, std::ios::binary);
    if (!out) throw Failure{kBadOutput, "cannot write the output file " + path};
    if (ends_with(path, ".f32")) {  // the older format holds one tensor, as float32
        if (!value.isTensor())
            throw Failure{kBadOutput, "the model returned a " + value.tagKind() + "; a .f32 file holds one tensor"};
        const auto tensor = value.toTensor().to(torch::kFloat32).contiguous();
        out << "f32 " << tensor.dim();
        for (auto size : tensor.sizes()) out << ' ' << size;
        out << '\n';
        out.write(reinterpret_cast<const char*>(tensor.data_ptr<float>()),
                  static_cast<std::streamsize>(tensor.numel() * sizeof(float)));
    } else {
        const auto bytes = torch::pickle_save(value);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    if (!out) throw Failure{kBadOutput, "could not write all of " + path};
}

// A one-word picture of a value, for the "ok" line: 297x10, (297x10,297), {logits:2x10}, [3,4], scalar.
inline std::string describe(const c10::IValue& value) {
    std::ostringstream text;
    if (value.isTensor()) {
        const auto& tensor = value.toTensor();
        if (tensor.dim() == 0) return "scalar";
        for (int64_t d = 0; d < tensor.dim(); ++d) text << (d ? "x" : "") << tensor.size(d);
    } else if (value.isTuple() || value.isList()) {
        const auto items = value.isTuple() ? value.toTupleRef().elements().vec() : value.toListRef().vec();
        text << (value.isTuple() ? '(' : '[');
        for (size_t i = 0; i < items.size(); ++i) text << (i ? "," : "") << describe(items[i]);
        text << (value.isTuple() ? ')' : ']');
    } else if (value.isGenericDict()) {
        text << '{';
        bool first = true;
        for (const auto& item : value.toGenericDict()) {
            auto key = item.key().isString() ? item.key().toStringRef() : item.key().tagKind();
            std::replace(key.begin(), key.end(), ' ', '_');
            text << (first ? "" : ",") << key << ':' << describe(item.value());
            first = false;
        }
        text << '}';
    } else {
        return value.tagKind();
    }
    return text.str();
}

inline int whole_number(const char* text) {
    try {
        size_t used = 0;
        const int value = std::stoi(text, &used);
        return text[used] == '\0' ? value : 0;
    } catch (const std::exception&) {
        return 0;
    }
}

// FILE INPUTS OUTPUT [REPEATS [THREADS]] [--load-library LIB.so]...: the positional arguments, the libraries,
// and REPEATS and THREADS read (1, and 0 for "leave torch's default"). `usage` is the program's usage line.
struct CommandLine {
    std::string model_path, input_path, output_path;
    int repeats = 1, threads = 0;
    std::vector<std::string> libraries;
};

inline CommandLine read_command_line(int argc, char** argv, const std::string& usage) {
    std::vector<std::string> positional;
    CommandLine line;
    for (int i = 1; i < argc; ++i) {
        const std::string argument = argv[i];
        if (argument == "--load-library") {
            if (i + 1 == argc) throw Failure{kUsage, "--load-library needs the path of a shared library after it"};
            line.libraries.push_back(argv[++i]);
        } else {
            positional.push_back(argument);
        }
    }
    if (positional.size() < 3 || positional.size() > 5) throw Failure{kUsage, usage};
    line.model_path = positional[0], line.input_path = positional[1], line.output_path = positional[2];
    if (positional.size() >= 4) line.repeats = whole_number(positional[3].c_str());
    if (line.repeats < 1) throw Failure{kUsage, "REPEATS must be a whole number of at least 1"};
    if (positional.size() == 5) {
        line.threads = whole_number(positional[4].c_str());
        if (line.threads < 1) throw Failure{kUsage, "THREADS must be a whole number of at least 1"};
    }
    return line;
}

// RTLD_NOW: fail here, with the loader's message, if a symbol is missing. A library's static initialisers
// (TORCH_LIBRARY) run during dlopen and register its operators with the dispatcher, before any model is loaded.
inline void load_libraries(const std::vector<std::string>& libraries) {
    for (const auto& library : libraries) {
        if (!dlopen(library.c_str(), RTLD_NOW | RTLD_GLOBAL))
            throw Failure{kBadLibrary, "cannot load the operator library " + library + ": " + dlerror()};
    }
}

}  // namespace value_io
