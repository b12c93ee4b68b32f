"""Regenerate data/digits.npz from the 8x8 handwritten digits that scikit-learn bundles.

The notebooks read only the .npz, so neither scikit-learn nor the network is needed to run
the workbook. To rebuild it (scikit-learn is deliberately not in requirements.txt):

    python -m pip install scikit-learn && python data/make_digits.py

Source: UCI "Optical Recognition of Handwritten Digits" (E. Alpaydin, C. Kaynak), CC BY 4.0,
1,797 images of 8x8 pixels with values 0..16, as shipped in sklearn.datasets.load_digits.
"""
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

OUT = Path(__file__).resolve().parent / "digits.npz"


def main():
    digits = load_digits()
    images = digits.images.astype(np.uint8)  # values are 0..16, so uint8 is exact
    labels = digits.target.astype(np.uint8)
    np.savez_compressed(OUT, images=images, labels=labels)
    print(f"wrote {OUT.name}: {images.shape[0]} images {images.shape[1:]} , labels 0..{labels.max()}")


if __name__ == "__main__":
    main()
