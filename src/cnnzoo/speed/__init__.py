"""Speed where users wait: ONNX export, backends, benchmarks, fast prediction.

- `onnx_export`: `export_onnx` (dynamic batch, metadata) and its parity check;
- `photos`: real photo crops (scikit-learn's sample images) for parity checks and benchmarks;
- `gemm`: the machine's measured fp32 matrix-multiply rate (the GEMM-bound limit);
- `backends`: eager NCHW, channels-last, torch.compile, ONNX Runtime, bf16/fp16 on CUDA;
- `bench`: timing (warm-up, repeats, medians) of each backend, the `cnnzoo bench` table;
- `fast_predict`: decoding in worker processes and the fastest correct backend for `predict`.
"""
