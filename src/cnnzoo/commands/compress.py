"""`cnnzoo compress RUN --prune 0.67 --bits 6`: Deep Compression's pruning and weight sharing
(SqueezeNet §4, seed 002's table), with the seed's columns and the accuracy before and after."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._argtypes import at_least, fraction, output_file, positive_float
from ._common import add_model_source_arguments


def _data(loaded, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The data the run was trained on (or --data), split as in the run."""
    from ..data import load_data
    data_cfg = loaded.meta.data_config(data=args.data, data_dir=args.data_dir)
    return load_data(data_cfg, size=loaded.pipeline.out_size[0])


def _test_accuracy(loaded, data) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Top-1 of the loaded model on the test split."""
    from ..data.loaders import BatchSource
    from ..train.evaluate import evaluate
    source = BatchSource(data.test, batch_size=256, device=next(loaded.model.parameters()).device, shuffle=False)
    metrics = evaluate(loaded.model, source, loaded.pipeline, loaded.classes)
    return metrics.top1, metrics.count


def _retrainer(loaded, data, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The retraining step of Deep Compression (§2) as `compress_` calls it, or None (--retrain 0)."""
    if not args.retrain:
        return None
    from ..train.prune_retrain import retrain_masked
    data_cfg = loaded.meta.data_config(data=args.data)
    from ..train.defaults import pick_augment
    augment = data_cfg.augment if data_cfg.augment != "auto" else pick_augment(data)[0]
    return lambda masks: retrain_masked(loaded.model, masks, data.train, loaded.pipeline, epochs=args.retrain,
                                        lr=args.retrain_lr, augment=augment,
                                        device=next(loaded.model.parameters()).device, seed=data_cfg.seed)


def run(args: argparse.Namespace) -> int:
    from ..compression import compress_, compressible, load_compressed, measure, save_compressed
    from ..train.device import pick_device
    from ..train.inference import open_model
    loaded = open_model(args.source, device=pick_device(args.device), pretrained=args.pretrained)
    model, data = loaded.model, _data(loaded, args)
    before_acc, count = _test_accuracy(loaded, data)
    dense_bytes = sum(t.numel() * 4 for t in model.state_dict().values() if t.is_floating_point())
    stats = compress_(model, prune=args.prune, bits=args.bits, retrain=_retrainer(loaded, data, args))
    out = Path(args.output) if args.output else (
        loaded.path.parent.parent if loaded.path.parent.name == "checkpoints" else loaded.path.parent) / "compressed.cnz"
    size = save_compressed(out, model.state_dict(), compressible(model), {**loaded.meta.to_dict(), "compressed": {
        "prune": args.prune, "bits": args.bits, "retrain": args.retrain}})
    state, _ = load_compressed(out)  # the accuracy after is that of the file, decoded
    model.load_state_dict({k: v.to(t.dtype) for (k, v), t in zip(state.items(), model.state_dict().values(),
                                                                   strict=True)})
    file_stats = [measure(s.name, model.state_dict()[s.name]) for s in stats]
    after_acc, _ = _test_accuracy(loaded, data)
    total = (sum(s.params for s in file_stats), sum(s.nonzero for s in file_stats))
    summary = {"layers": [{"layer": s.name, "params": s.params, "nonzero": s.nonzero, "density": s.density,
                           "bits": s.bits} for s in file_stats],
               "params_before": total[0], "params_after": total[1], "sparsity": 1 - total[1] / total[0],
               "bits": max(s.bits for s in file_stats), "size_mb": size / 1e6, "dense_mb": dense_bytes / 1e6,
               "accuracy_before": before_acc, "accuracy_after": after_acc, "test_images": count, "file": str(out)}
    if args.json:
        print(json.dumps(summary))
        return 0
    width = max(len(s.name) for s in file_stats)
    print(f"{'layer':<{width}}  {'#params before':>14}  {'#params after':>13}  {'non-zero':>8}  {'bits':>4}")
    for s in file_stats:
        print(f"{s.name:<{width}}  {s.params:>14,}  {s.nonzero:>13,}  {s.density:>8.1%}  {s.bits:>4}")
    print(f"{'total':<{width}}  {total[0]:>14,}  {total[1]:>13,}  {total[1] / total[0]:>8.1%}")
    print(f"sparsity {summary['sparsity']:.1%}, {summary['bits']}-bit shared weights; size {size / 1e6:.3f} MB "
          f"(fp32: {dense_bytes / 1e6:.3f} MB, {dense_bytes / size:.1f}x smaller)\n"
          f"test top-1 ({count} images): before {before_acc:.4f}, after {after_acc:.4f}\nwritten: {out}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compress", help="prune and weight-share a trained model (Deep Compression)",
                       description="Magnitude pruning and k-means weight sharing of every conv / fc weight (Han et "
                                   "al. 2015, as SqueezeNet §4), written as a compressed file; prints the seed's "
                                   "columns (params before/after, non-zero share, bits, size in MB) and the test "
                                   "accuracy before and after.")
    add_model_source_arguments(p, what="the trained run or checkpoint to compress")
    p.add_argument("--prune", type=fraction, default=0.67, help="fraction of each layer's weights set to 0 (0.67)")
    p.add_argument("--bits", type=at_least(1, 16), default=6, help="bits per shared weight: 2^bits values per layer (6)")
    p.add_argument("--retrain", type=at_least(0, 10_000), default=0, metavar="EPOCHS",
                   help="retrain the pruned network this many epochs before sharing (Deep Compression §2; 0: none)")
    p.add_argument("--retrain-lr", type=positive_float, default=0.01, help="learning rate of the retraining (SGD, momentum 0.9)")
    p.add_argument("--output", metavar="FILE.cnz", type=output_file(), help="where to write (default: RUN/compressed.cnz)")
    p.add_argument("--data", help="data set to measure accuracy on (default: the one it was trained on)")
    p.add_argument("--data-dir", help="where torchvision data sets are")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.set_defaults(func=run)
