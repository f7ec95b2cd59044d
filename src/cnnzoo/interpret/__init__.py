"""Looking inside trained networks (seed 003 "Интерпретация моделей"): kernels, the patches that
excite a channel, class visualisation, Grad-CAM, and per-layer responses and gradients.

    heat = grad_cam(model, x)                          # (N, H, W) in [0, 1]
    f = layer_filters(model)                           # first layer's kernels (out, in, kh, kw)
    top = top_patches(model, batches, "layer2", k=9)   # per channel: images, positions, boxes
    viz = class_visualization(model, 3, input_size=(3, 32, 32), mean=..., std=...)
    rows = layer_statistics(model, x, y)               # per layer: response mean/std, ||dL/dW||

Every function works on any `nn.Module` classifier; the zoo's `feature_info` gives the default
layers. Layers are named by module path or by `feature_info` index (`layers.resolve_layer`).
"""

from .classviz import ClassViz, ClassVizConfig, class_visualization
from .filters import Filters, layer_filters
from .gradcam import CamResult, explain_cam, grad_cam, mass_in_box, peak
from .layers import LayerError, resolve_layer
from .patches import TopPatches, crop, top_patches
from .stats import LayerStat, layer_statistics

__all__ = ["CamResult", "ClassViz", "ClassVizConfig", "Filters", "LayerError", "LayerStat", "TopPatches",
           "class_visualization", "crop", "explain_cam", "grad_cam", "layer_filters", "layer_statistics",
           "mass_in_box", "peak", "resolve_layer", "top_patches"]
