"""`cnnzoo features RUN|CHECKPOINT|MODEL DATA -o feats.npz`: pre-logits vectors of a data set.

For every split of DATA (a built-in data set or an image folder), the model's `(N,
head_hidden_size)` pre-logits features (`forward_head(..., pre_logits=True)`, evaluation
preprocessing), the labels and the file names, in one .npz: `features_<split>`,
`labels_<split>`, `files_<split>`, and `classes`. For a linear classifier of your own, a t-SNE
plot, or nearest neighbours (seed 003: the network as a feature extractor).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._argtypes import at_least, output_file
from ._common import add_model_source_arguments


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ..data import load_data
    from ..data.loaders import BatchSource
    from ..train.device import pick_device
    from ..train.inference import open_model
    device = pick_device(args.device)
    loaded = open_model(args.source, device=device, pretrained=args.pretrained)
    # memory_budget=0: image folders stay file lists, so each vector keeps its file name
    data = load_data(args.data, size=round(loaded.pipeline.out_size[0] / loaded.pipeline.eval_crop),
                     data_dir=args.data_dir, download=False, memory_budget=0)
    model, out = loaded.model, {"classes": np.array(data.classes)}
    for name, split in (("train", data.train), ("val", data.val), ("test", data.test)):
        if split is None or len(split) == 0:
            continue
        feats = []
        with torch.no_grad():
            for images, _ in BatchSource(split, batch_size=args.batch_size, device=device, shuffle=False).batches():
                x = model.forward_features(loaded.pipeline.eval(images))
                feats.append(model.forward_head(x, pre_logits=True).float().cpu())
        items = getattr(split, "items", None)
        out[f"features_{name}"] = torch.cat(feats).numpy()
        out[f"labels_{name}"] = split.labels.numpy()
        out[f"files_{name}"] = np.array([str(p) for p, _ in items] if items is not None
                                        else [f"{name}/{i}" for i in range(len(split))])
        print(f"{name}: {len(split)} images -> features {tuple(out[f'features_{name}'].shape)}")
    from ..train.checkpoint import atomic_write
    atomic_write(Path(args.output), lambda f: np.savez_compressed(f, **out))  # an old file stays whole on failure
    print(f"wrote {args.output}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("features", help="pre-logits feature vectors of a data set (.npz)",
                       description=__doc__.split("\n\n")[1].replace("\n", " "))
    add_model_source_arguments(p, what="the feature extractor")
    p.add_argument("data", metavar="DATA", help="a data set name (digits, fashion-mnist, ...) or an image folder")
    p.add_argument("-o", "--output", type=output_file(".npz"), required=True, metavar="FEATS.npz")
    p.add_argument("--data-dir", default="data", help="where torchvision data sets are")
    p.add_argument("--batch-size", type=at_least(1, 100_000), default=128)
    p.set_defaults(func=run)
