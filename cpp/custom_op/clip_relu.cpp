// A C++ custom operator: workbook::clip_relu(Tensor x, float limit) -> Tensor (notebook 10_shipping).
//
// It computes min(max(x, 0), limit), a ReLU capped at `limit` (ReLU6 when limit is 6), as a plain loop
// over the values: the place where your own C++ (a vendor library, a hand-written kernel) would go.
//
// Built as a shared library (make cpp; cpp/README.md has the command line). Python loads it with
// torch.ops.load_library(path) and calls torch.ops.workbook.clip_relu(x, 6.0); a scripted model that
// calls it is saved with the operator's NAME only, so every process that loads that model must load
// this library first (C++: load_ts --load-library libworkbook_ops.so).
//
// Three registrations:
//   TORCH_LIBRARY             declares the operator's schema in the namespace "workbook";
//   TORCH_LIBRARY_IMPL CPU    the kernel that computes on CPU tensors;
//   TORCH_LIBRARY_IMPL Meta   the kernel that only computes the output's shape and dtype, with no data.
//                             torch.export traces with such "fake" tensors, so it needs this kernel (or a
//                             Python torch.library.register_fake) to put the operator in its graph as one node.
// There is no Autograd kernel: the operator is for inference; gradients through it are not defined.

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

namespace {

at::Tensor clip_relu_cpu(const at::Tensor& x, double limit) {
    TORCH_CHECK(limit >= 0, "clip_relu: limit must be at least 0, got ", limit);
    const auto input = x.contiguous();  // one flat run of values, whatever the strides of x
    auto output = at::empty(input.sizes(), input.options());
    AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "clip_relu", [&] {
        const auto* in = input.data_ptr<scalar_t>();
        auto* out = output.data_ptr<scalar_t>();
        const auto high = static_cast<scalar_t>(limit);
        for (int64_t i = 0; i < input.numel(); ++i) {
            const scalar_t value = in[i];
            out[i] = value < 0 ? scalar_t(0) : (value > high ? high : value);  // NaN stays NaN, as in clamp
        }
    });
    return output;
}

at::Tensor clip_relu_meta(const at::Tensor& x, double limit) {
    TORCH_CHECK(limit >= 0, "clip_relu: limit must be at least 0, got ", limit);
    return at::empty(x.sizes(), x.options());  // on the Meta device: a shape and a dtype, no memory
}

}  // namespace

TORCH_LIBRARY(workbook, m) {
    m.def("clip_relu(Tensor x, float limit) -> Tensor");
}

TORCH_LIBRARY_IMPL(workbook, CPU, m) {
    m.impl("clip_relu", clip_relu_cpu);
}

TORCH_LIBRARY_IMPL(workbook, Meta, m) {
    m.impl("clip_relu", clip_relu_meta);
}
