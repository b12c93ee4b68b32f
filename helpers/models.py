"""Sample models that every notebook exports (introduced in 01_dynamic_models).

Each one is small, deterministic once seeded, and shows one thing: a data-dependent branch, a
loop whose length comes from the input, an RNN-like cell, dropout plus batch norm, a deep
straight-line MLP, torchvision's resnet18 (rebuilt here, layer for layer, without importing torchvision) and
torchvision's mobilenet_v3_small, with random weights (nothing downloaded).
``sample_model(name)`` returns a fresh instance and ``example_input(name)`` an input for it.
"""
import torch
from torch import nn

from .digits import load_digits_cnn

__all__ = ["BranchModel", "LoopModel", "RNNCellModel", "DropoutBNModel", "DeepMLP",
           "ResNet", "SAMPLE_MODELS", "sample_model", "example_input", "torchvision_model"]


class BranchModel(nn.Module):
    """Doubles a positive-sum input, negates any other: its output depends on a data-dependent if."""

    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return -x


class LoopModel(nn.Module):
    """Adds up a running sum over the first dimension: the loop runs once per row of the input."""

    def forward(self, x):
        h = torch.zeros_like(x[0])
        for i in range(x.size(0)):
            h = h + x[i]
        return h


class RNNCellModel(nn.Module):
    """One step of a tiny RNN with a gate that only fires when the hidden state sums positive."""

    def __init__(self, size: int = 4):
        super().__init__()
        self.linear = nn.Linear(size, size)

    def forward(self, x, h):
        new_h = torch.tanh(self.linear(x) + h)
        if new_h.sum() > 0:
            new_h = new_h * 0.5
        return new_h, new_h


class DropoutBNModel(nn.Module):
    """Linear, batch norm, dropout: behaves differently in train() and eval() mode."""

    def __init__(self, size: int = 8):
        super().__init__()
        self.linear = nn.Linear(size, size)
        self.norm = nn.BatchNorm1d(size)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.norm(self.linear(x)))


class DeepMLP(nn.Module):
    """Eight Linear(32, 32)+ReLU layers: so cheap per layer that Python overhead dominates."""

    def __init__(self, width: int = 32, depth: int = 8):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(width, width), nn.ReLU()]
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, added to the block's input: torchvision's ResNet block."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None  # a 1x1 convolution when the block changes the size, so the sum fits
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(planes))
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.conv1(x)  # one call per line, as torchvision writes it: the same TorchScript graph, node for node
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """torchvision's resnet18, layer for layer, built without importing torchvision.

    ``import torchvision`` imports ``torch._dynamo`` (for ``torchvision.ops``), about a second of every learner's
    kernel in the notebooks that only need this network (03, 07). The layers, their order, names and settings and
    the weight initialisation are torchvision's, so the same seed gives the same weights and the same outputs
    (``tests/test_foundation.py`` checks both against ``torchvision.models.resnet18``).
    """

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, stride=1)
        self.layer2 = self._make_layer(128, stride=2)
        self.layer3 = self._make_layer(256, stride=2)
        self.layer4 = self._make_layer(512, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)
        for module in self.modules():  # torchvision's initialisation, in the same order: the same random numbers
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)

    def _make_layer(self, planes: int, stride: int) -> nn.Sequential:
        first = BasicBlock(self.inplanes, planes, stride)
        self.inplanes = planes
        return nn.Sequential(first, BasicBlock(planes, planes))

    def _forward_impl(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        x = self.fc(x)
        return x

    def forward(self, x):
        return self._forward_impl(x)


def torchvision_model(name: str) -> nn.Module:
    """resnet18 or mobilenet_v3_small from torchvision with random weights, in eval mode."""
    import torchvision  # imported here: it costs a second and only some notebooks need it
    builders = {"resnet18": torchvision.models.resnet18,
                "mobilenet_v3_small": torchvision.models.mobilenet_v3_small}
    if name not in builders:
        raise ValueError(f"torchvision_model takes one of {sorted(builders)}, got {name!r}")
    return builders[name](weights=None).eval()  # weights=None: nothing is downloaded


# name -> (builder, example-input builder). Inputs are fixed tensors, so results are deterministic.
SAMPLE_MODELS = {
    "branch": (BranchModel, lambda: (torch.tensor([1.0, 2.0, 3.0]),)),
    "loop": (LoopModel, lambda: (torch.arange(12.0).reshape(3, 4),)),
    "rnn_cell": (RNNCellModel, lambda: (torch.linspace(-1, 1, 12).reshape(3, 4), torch.zeros(3, 4))),
    "dropout_bn": (lambda: DropoutBNModel().eval(), lambda: (torch.linspace(-2, 2, 32).reshape(4, 8),)),
    "deep_mlp": (DeepMLP, lambda: (torch.linspace(-1, 1, 32).reshape(1, 32),)),
    "digits_cnn": (load_digits_cnn, lambda: (torch.linspace(0, 1, 64).reshape(1, 1, 8, 8),)),
    "resnet18": (lambda: ResNet().eval(), lambda: (torch.linspace(-1, 1, 3 * 64 * 64).reshape(1, 3, 64, 64),)),
    "mobilenet_v3_small": (lambda: torchvision_model("mobilenet_v3_small"),
                           lambda: (torch.linspace(-1, 1, 3 * 64 * 64).reshape(1, 3, 64, 64),)),
}


def _check_name(name):
    if name not in SAMPLE_MODELS:
        raise ValueError(f"unknown sample model {name!r}: choose one of {', '.join(SAMPLE_MODELS)}")


def sample_model(name: str, seed: int = 0) -> nn.Module:
    """A fresh instance of the sample model ``name``, its random weights fixed by ``seed``.

    The models whose layers behave differently in training (``dropout_bn``, ``digits_cnn`` and the torchvision
    ones) come in eval mode; the others in nn.Module's default, training mode. Call ``.eval()`` before freezing.
    """
    _check_name(name)
    torch.manual_seed(seed)  # the same weights on every run, so printed numbers never change
    return SAMPLE_MODELS[name][0]()


def example_input(name: str):
    """A tuple of example input tensors for the sample model ``name``."""
    _check_name(name)
    return SAMPLE_MODELS[name][1]()
