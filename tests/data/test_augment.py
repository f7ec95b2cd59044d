"""Batched on-device preprocessing and augmentation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnnzoo.data.augment import AUGMENTS, BatchPipeline, affine_grid, convert_channels


def test_affine_grid_equals_torchs() -> None:
    theta = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(0))
    for size in ((32, 32), (7, 11)):
        expected = F.affine_grid(theta, [5, 1, *size], align_corners=False)
        torch.testing.assert_close(affine_grid(theta, size), expected, atol=1e-6, rtol=0)


def pipeline(augment: str, hflip_valid: bool = True, **kw: object) -> BatchPipeline:
    return BatchPipeline(out_size=(8, 8), in_chans=1, mean=(0.0,), std=(1.0,), augment=AUGMENTS[augment],
                         hflip_valid=hflip_valid, **kw)


def test_crop_flip_moves_whole_pixels_and_flips_only_when_valid() -> None:
    x = torch.arange(64, dtype=torch.uint8).view(1, 1, 8, 8).repeat(64, 1, 1, 1) + 1
    g = torch.Generator().manual_seed(0)
    out = pipeline("crop-flip").train(x, g) * 255
    inside = out[out > 0]
    assert torch.allclose(inside, inside.round(), atol=1e-3)  # integer shifts: no interpolation
    flipped = pipeline("crop-flip", hflip_valid=False).train(x, torch.Generator().manual_seed(0)) * 255
    # without flips every row keeps increasing from left to right
    rows = flipped[..., 1:] - flipped[..., :-1]
    assert (rows[(flipped[..., 1:] > 0) & (flipped[..., :-1] > 0)] > 0).all()
    assert not torch.equal(out, flipped)


def test_eval_resizes_and_normalises_and_converts_channels() -> None:
    p = BatchPipeline(out_size=(16, 16), in_chans=3, mean=(0.5,), std=(0.25,), augment=None, hflip_valid=False)
    x = torch.full((2, 1, 8, 8), 255, dtype=torch.uint8)
    y = p.eval(x)
    assert y.shape == (2, 3, 16, 16) and torch.allclose(y, torch.full_like(y, 2.0))
    rgb = torch.tensor([255.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert convert_channels(rgb, 1).item() == pytest.approx(0.299 * 255)


def test_tta_views_include_a_flip_only_when_valid() -> None:
    x = torch.randint(0, 255, (3, 1, 8, 8), dtype=torch.uint8)
    assert len(pipeline("none").tta_views(x)) == 6
    assert len(pipeline("none", hflip_valid=False).tta_views(x)) == 5
    torch.testing.assert_close(pipeline("none").tta_views(x)[0], pipeline("none").eval(x))
