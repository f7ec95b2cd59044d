"""`cnnzoo export onnx RUN|CHECKPOINT|MODEL -o model.onnx`: a model for other runtimes."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._argtypes import at_least, output_file
from ._common import add_model_source_arguments


def run(args: argparse.Namespace) -> int:
    import torch

    from ..speed.onnx_export import export_onnx, onnx_metadata, tolerance
    from ..speed.photos import preprocessed_batch
    from ..train.inference import open_model
    loaded = open_model(args.source, device=torch.device("cpu"), pretrained=args.pretrained)
    batch = preprocessed_batch(loaded.pipeline, args.parity_batch)
    c, h, w = batch.shape[1:]
    result = export_onnx(loaded.model, args.output, batch=batch,
                         metadata=onnx_metadata(loaded.meta, input_size=(c, h, w)))
    n = len(loaded.classes)
    print(f"wrote {result.path} ({result.bytes / 2**20:.1f} MiB, ONNX opset {result.opset}, "
          f"{result.exporter} exporter)")
    print(f"  input  'input'  float32 (batch, {c}, {h}, {w}), normalised: (uint8 / 255 - mean) / std")
    print(f"  output 'logits' float32 (batch, {n})")
    print(f"  metadata: cnnzoo.model = {loaded.meta.get('model')}, cnnzoo.classes ({n} names), "
          f"cnnzoo.preprocessing (mean, std, input size, crop)")
    print(f"parity with PyTorch on {result.parity_batch} real photo crops: max abs logit difference "
          f"{result.max_abs_diff:.2e} (logits up to {result.max_abs_logit:.3g}; limit "
          f"{tolerance(result.max_abs_logit):.0e}): ok")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a model (ONNX)", description="Write a model in a format other "
                       "runtimes read.")
    formats = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    o = formats.add_parser("onnx", help="ONNX with a dynamic batch axis", description="ONNX file with a dynamic "
                           "batch axis, class names and preprocessing in its metadata, checked against PyTorch "
                           "with ONNX Runtime on a batch of real photo crops (max abs logit difference <= 1e-4). "
                           "Export runs on the CPU in fp32.")
    add_model_source_arguments(o, what="the model to export", device=False)  # export runs on the CPU
    o.add_argument("-o", "--output", type=output_file(".onnx"), required=True, metavar="FILE.onnx")
    o.add_argument("--parity-batch", type=at_least(3, 256), default=8, metavar="N",
                   help="images in the parity check (at least 3; 2 are traced)")
    o.set_defaults(func=run)
