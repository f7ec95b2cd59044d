"""Speed where users wait: ONNX export, backends, benchmarks, fast prediction.

- `onnx_export`: `export_onnx` (dynamic batch, metadata) and its parity check;
- `photos`: real photo crops (scikit-learn's sample images) for parity checks and benchmarks;
- `gemm`: the machine's measured fp32 matrix-multiply rate (the GEMM-bound limit);
- `fold_bn`: batch norm folded into the convolution before it (the `fused` backend);
- `backends`: eager NCHW, channels-last, fused, torch.compile, ONNX Runtime, bf16/fp16 on CUDA;
- `bench`: timing (warm-up, repeats, medians) of each backend, the `cnnzoo bench` table;
- `onnx_cache`: ONNX graphs exported once per network and weights, kept on disk for `predict`;
- `fast_predict`: decoding in worker processes and the fastest correct backend for `predict`.
"""

# the inference backends' names, here (no torch import) for the command line's choices
INFERENCE_BACKENDS = ("eager", "channels_last", "fused", "compile", "onnxruntime")
