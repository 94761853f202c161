"""Resampling fixtures: pictures resized and centre-cropped by Pillow as the methods' official code
does (StyleID's load_img: torchvision's CenterCrop, then LANCZOS; prompt-to-prompt's load_512: a
crop offset rounded down, then Image.resize's default BICUBIC; Visual Style Prompting's real
image: BICUBIC; image processors such as DPT's: BILINEAR or BICUBIC), for the C++ unit test of
vsp::io::resize and crop_to_fill, which must give the same bytes.

Pillow's Resample.c runs the horizontal pass, then the vertical one, each into an 8-bit image; a
resize that changes one axis is that pass alone, so two one-axis resizes give Pillow's two-pass
result. The expected pictures are made that way because Pillow 13 sometimes runs the vertical pass
first (when the height shrinks and the width grows: a few pixels move by one level); the official
code ran on earlier Pillows, and both orders agree on its square crops resized to squares, which
the fixture checks too.

    .venv/bin/python tests/python/fixtures_resample.py OUTDIR

writes OUTDIR/resample/: source_WxH.png pictures and cases.json,
  [{"source", "filter": "bilinear"|"bicubic"|"lanczos", "crop": null|"down"|"half_to_even", "width", "height",
    "expected"}]
"""
import json
import os
import sys

import numpy as np
from PIL import Image

FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
           "lanczos": Image.Resampling.LANCZOS}


def picture(width, height, seed):
    """Edges, gradients and noise: what exposes a kernel's taps, rounding and clipping."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x * y) % 256], axis=-1)
    pixels[height // 3:height // 2, width // 4:width // 2] = (255, 0, 255)  # hard edges clip the lobes
    pixels = pixels + rng.integers(-40, 41, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def centre_crop(image, width, height, rounding):
    """The largest centred window of width:height's aspect ratio (a square: the official crops)."""
    w, h = image.size
    crop_w, crop_h = (h * width // height, h) if w * height > h * width else (w, w * height // width)
    if rounding == "down":
        left, top = (w - crop_w) // 2, (h - crop_h) // 2
    else:  # torchvision.transforms.functional.center_crop
        left, top = int(round((w - crop_w) / 2.0)), int(round((h - crop_h) / 2.0))
    return image.crop((left, top, left + crop_w, top + crop_h))


def main(out):
    folder = os.path.join(out, "resample")
    os.makedirs(folder, exist_ok=True)
    sources = {size: picture(*size, seed) for seed, size in enumerate([(37, 23), (23, 40), (64, 64), (5, 3)])}
    for (w, h), image in sources.items():
        image.save(os.path.join(folder, f"source_{w}x{h}.png"))
    cases = []
    plain = [((37, 23), (16, 9)), ((37, 23), (80, 50)), ((37, 23), (50, 10)), ((37, 23), (37, 61)),
             ((37, 23), (1, 1)), ((64, 64), (24, 24)), ((64, 64), (7, 200)), ((5, 3), (64, 48)), ((23, 40), (23, 40))]
    for name in FILTERS:
        for (sw, sh), (w, h) in plain:
            cases.append({"source": f"source_{sw}x{sh}.png", "filter": name, "crop": None, "width": w, "height": h})
        # Spare pixels 14, 17 (8.5: 8 either way), 19 (9.5: 9 down, 10 to even), 24 and 0.
        for (sw, sh), (w, h) in [((37, 23), (16, 16)), ((23, 40), (16, 16)), ((23, 40), (30, 30)),
                                 ((37, 23), (18, 23)), ((64, 64), (40, 25)), ((23, 40), (23, 40))]:
            for rounding in ("down", "half_to_even"):
                cases.append({"source": f"source_{sw}x{sh}.png", "filter": name, "crop": rounding, "width": w,
                              "height": h})
    for i, case in enumerate(cases):
        image = sources[tuple(int(v) for v in case["source"][7:-4].split("x"))]
        if case["crop"]:
            image = centre_crop(image, case["width"], case["height"], case["crop"])
        case["expected"] = f"expected_{i:02d}.png"
        size, f = (case["width"], case["height"]), FILTERS[case["filter"]]
        expected = image.resize((size[0], image.height), f).resize(size, f)
        if size[0] == size[1] and image.width == image.height:
            assert expected.tobytes() == image.resize(size, f).tobytes(), case
        expected.save(os.path.join(folder, case["expected"]))
    with open(os.path.join(folder, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print(f"[fixtures_resample] {len(cases)} cases -> {folder}")


if __name__ == "__main__":
    main(sys.argv[1])
