"""The export routes: the TorchScript archive, the C++ runners, and the bridges to torch.export and ONNX."""
