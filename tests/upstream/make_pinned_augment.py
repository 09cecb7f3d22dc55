"""Pin torchvision's image transforms for ``tests/test_data_augment_upstream.py``.

Writes ``tests/upstream/torchvision_augment.npz``: small input images, the
outputs of torchvision's functional tensor ops on them with fixed parameters,
and statistics of ``RandomResizedCrop.get_params`` over many draws. The
pixel-wise ops (colour, grayscale, solarize, blur) run on the images' 16x16
centres, the resized crops on the whole 32x32 images. torch is
not a test dependency: the tests read the ``.npz`` only.

Run (from the repository root, with torch + torchvision installed)::

    python tests/upstream/make_pinned_augment.py path/to/sklearn/datasets/images

Ran with torch 2.14.1, torchvision 0.29.1 (git 1f1a920d685d), Pillow 13.0.0,
NumPy 2.4.6 (the versions are also stored in the file under ``versions``).
Upstream code exercised (torchvision 0.29.1, the installed package):

* ``torchvision/transforms/transforms.py`` L929-970
  ``RandomResizedCrop.get_params`` (10 tries of uniform area and log-uniform
  aspect ratio, then the centre-crop fallback); L1237-1290 ``ColorJitter``
  (``torch.randperm(4)`` order per call, then the functional ops).
* ``torchvision/transforms/_functional_tensor.py`` L148 ``rgb_to_grayscale``,
  L171 ``adjust_brightness``, L182 ``adjust_contrast``, L199 ``adjust_hue``
  (L264 ``_rgb2hsv``, L303 ``_hsv2rgb``), L224 ``adjust_saturation``, L258
  ``_blend`` (the clamps), L441 ``resize`` (``interpolate(..., antialias=True)``),
  L727-765 ``gaussian_blur`` (reflect padding), L793 ``solarize``.

The input images are crops of scikit-learn's bundled sample photographs
(``china.jpg``, ``flower.jpg``) reduced with PIL's box filter, plus one noise
image; they are stored in the file, so the tests do not decode JPEGs.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
from torchvision.transforms import ColorJitter, InterpolationMode, RandomResizedCrop
from torchvision.transforms import functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torchvision_augment.npz")
DRAWS = 20_000
# (height, width, scale, ratio) of the crop-sampling statistics.
CROP_CONFIGS = {
    "cifar": (32, 32, (0.08, 1.0), (3 / 4, 4 / 3)),
    "cifar_0.2": (32, 32, (0.2, 1.0), (3 / 4, 4 / 3)),
    "digits": (8, 8, (0.5, 1.0), (3 / 4, 4 / 3)),
    "wide": (20, 24, (0.08, 1.0), (3 / 4, 4 / 3)),
    "imagenet": (256, 256, (0.08, 1.0), (3 / 4, 4 / 3)),
    "fallback": (16, 16, (0.9, 1.0), (0.5, 2.0)),
}
QUANTILES = np.linspace(0.01, 0.99, 99)
# (top, left, height, width, out_height, out_width) on the 32x32 inputs.
BOXES = [(0, 0, 32, 32, 32, 32), (3, 5, 17, 11, 20, 16), (2, 1, 29, 30, 16, 16),
         (10, 4, 7, 9, 8, 12), (0, 0, 32, 32, 8, 8), (5, 0, 27, 20, 12, 10)]


def _images(folder):
    """Four 32x32 RGB uint8 images: two photo crops of each sample, one noise."""
    out = []
    for name, boxes in (("china.jpg", [(100, 80, 228, 208), (300, 200, 364, 264)]),
                        ("flower.jpg", [(150, 100, 310, 260)])):
        photo = Image.open(os.path.join(folder, name)).convert("RGB")
        for box in boxes:
            out.append(np.asarray(photo.resize((32, 32), Image.BOX, box=box)))
    out.append(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    return np.stack(out)


def _tensor(images):
    """(N, H, W, C) uint8 -> (N, C, H, W) float32 in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0


def _numpy(tensor):
    return tensor.permute(0, 2, 3, 1).numpy().astype(np.float32)


def _per_image(fn, x, params):
    return np.stack([_numpy(fn(x[k:k + 1], p))[0] for k, p in enumerate(params)])


def crop_statistics(height, width, scale, ratio):
    """Draw ``get_params`` DRAWS times; count fallbacks through ``torch.randint``
    (called twice per accepted try, never by the fallback)."""
    calls = [0]
    randint = torch.randint

    def counting(*args, **kwargs):
        calls[0] += 1
        return randint(*args, **kwargs)

    image = torch.zeros(3, height, width)
    torch.randint = counting
    try:
        params = np.array([RandomResizedCrop.get_params(image, list(scale), list(ratio))
                           for _ in range(DRAWS)])
    finally:
        torch.randint = randint
    top, left, h, w = params.T
    area = h * w / (height * width)
    log_aspect = np.log(w / h)
    stats = {
        "fallback_rate": 1.0 - calls[0] / 2 / DRAWS,
        "area_mean": area.mean(), "area_std": area.std(),
        "log_aspect_mean": log_aspect.mean(), "log_aspect_std": log_aspect.std(),
        "area_quantiles": np.quantile(area, QUANTILES),
        "log_aspect_quantiles": np.quantile(log_aspect, QUANTILES),
        "top_fraction_mean": np.mean(np.where(h < height, top / np.maximum(height - h, 1), 0.5)),
    }
    if height * width <= 32 * 32:  # the joint (h, w) histogram of small images
        stats["hw_counts"] = np.zeros((height + 1, width + 1), np.int32)
        np.add.at(stats["hw_counts"], (h, w), 1)
    return stats


def main(folder):
    torch.manual_seed(0)
    u8 = _images(folder)
    x = _tensor(u8)
    out = {"images": u8}

    # --- resized crop (tensor path, antialias=True as RandomResizedCrop's default)
    out["boxes"] = np.array(BOXES, np.int32)
    # the pixel-wise ops below run on the 16x16 centres
    small = x[:, :, 8:24, 8:24]
    for mode in ("bilinear", "bicubic"):
        crops = []
        for top, left, h, w, oh, ow in BOXES:
            res = F.resized_crop(x, top, left, h, w, [oh, ow], InterpolationMode(mode),
                                 antialias=True)
            crops.append(_numpy(res))
        for k, crop in enumerate(crops):
            out[f"resized_crop_{mode}_{k}"] = crop

    # --- colour ops, one factor per image
    factors = {"brightness": [0.6, 1.0, 1.4, 1.8], "contrast": [0.2, 0.6, 1.5, 1.8],
               "saturation": [0.0, 0.5, 1.6, 1.8], "hue": [-0.5, -0.1, 0.25, 0.5]}
    ops = {"brightness": F.adjust_brightness, "contrast": F.adjust_contrast,
           "saturation": F.adjust_saturation, "hue": F.adjust_hue}
    for name, values in factors.items():
        out[f"factor_{name}"] = np.array(values, np.float32)
        out[f"adjust_{name}"] = _per_image(ops[name], small, values)
    # ColorJitter.forward with fixed parameters and orders (its loop, L1280-1288).
    orders = np.array([[3, 2, 1, 0], [0, 1, 2, 3], [2, 0, 3, 1], [1, 3, 0, 2]], np.int32)
    jitter = np.array([[1.7, 0.3, 1.9, 0.2], [0.5, 1.8, 0.1, -0.3],
                       [1.3, 1.6, 1.7, 0.45], [0.2, 1.9, 1.4, -0.15]], np.float32)
    jittered = []
    for k in range(len(u8)):
        img = small[k:k + 1]
        for op in orders[k]:
            img = ops[list(ops)[op]](img, float(jitter[k, op]))
        jittered.append(_numpy(img)[0])
    out["jitter_orders"], out["jitter_factors"] = orders, jitter
    out["jitter_output"] = np.stack(jittered)
    # the ColorJitter object draws a uniform random order: record it over draws.
    jitter_op = ColorJitter(0.4, 0.4, 0.2, 0.1)
    perms = [tuple(jitter_op.get_params(jitter_op.brightness, jitter_op.contrast,
                                        jitter_op.saturation, jitter_op.hue)[0].tolist())
             for _ in range(2400)]
    out["jitter_distinct_orders"] = np.array(len(set(perms)))

    # --- grayscale, solarize, blur
    out["grayscale"] = _numpy(F.rgb_to_grayscale(small, num_output_channels=1))
    for threshold in (0.5, 128 / 255):
        out[f"solarize_{threshold:.4f}"] = _numpy(F.solarize(small, threshold))
    blur = [(3, 0.5), (5, 1.5), (9, 2.0), (11, 0.8)]
    out["blur_params"] = np.array(blur, np.float32)
    out["gaussian_blur"] = _per_image(lambda im, p: F.gaussian_blur(im, [p[0]] * 2, [p[1]] * 2),
                                      small, blur)

    # --- RandomResizedCrop.get_params statistics
    torch.manual_seed(1)
    for key, (height, width, scale, ratio) in CROP_CONFIGS.items():
        for stat, value in crop_statistics(height, width, scale, ratio).items():
            out[f"crop_{key}_{stat}"] = np.asarray(value)
    out["crop_configs"] = np.array(json.dumps(CROP_CONFIGS))
    out["draws"] = np.array(DRAWS)
    out["versions"] = np.array(json.dumps({
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "torchvision_git": torchvision.version.git_version, "pillow": PIL.__version__,
        "numpy": np.__version__, "python": sys.version.split()[0]}))
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({os.path.getsize(OUT) / 1024:.0f} KiB)")
    for key in CROP_CONFIGS:
        print(key, "fallback", float(out[f"crop_{key}_fallback_rate"]),
              "area mean", round(float(out[f"crop_{key}_area_mean"]), 4))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_pinned_augment.py SKLEARN_DATASETS_IMAGES_DIR "
                 "(e.g. .venv/lib/python3.X/site-packages/sklearn/datasets/images)")
    main(sys.argv[1])
