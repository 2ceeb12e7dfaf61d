"""The Planet CNN on a Planet twin: decode time, fit time, and mean F2 against the constant baseline.

Usage:
    python scripts/bench_cnn.py [--root DIR] [--size small] [--image-size 64] [--width 16]
                                [--epochs 10] [--batch-size 64] [--valid 0.1] [--threads N]
                                [--device cpu|cuda]

The twin is read from ROOT/planet-<size> (written with the kit's generator when missing; the
small twin has 2,000 training chips and 1,500 test chips with hidden tags). The last
`--valid` share of the training chips is held out: the best epoch and the per-label
thresholds are picked on it. Test tags come from `predict_tags` and are scored by
`kit.submission.score` (the checks and the metric `kit score` runs), public and private,
against the best constant tag set (`kit.baseline`). Decoding is timed twice: the first pass
decodes the JPEGs, the second reads the .npy cache.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from kit import baseline
from kit.images import load_images
from kit.metrics import mean_f2
from kit.labels import matrix_to_tags, tags_to_matrix
from kit.models.cnn import CNNClassifier
from kit.spec import get
from kit.submission import score
from kit.synth import generate

FOLDERS = {"train": "train-jpg", "test": "test-jpg", "file": "test-jpg-additional"}


def _paths(folder: Path, names: pl.Series) -> list[Path]:
    return [folder / FOLDERS[n.split("_")[0]] / f"{n}.jpg" for n in names]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path(os.environ.get("KIT_BENCH", "data/bench")),
                    help="where the twin lives (ROOT/planet-SIZE); default $KIT_BENCH or data/bench")
    ap.add_argument("--size", default="small", choices=["tiny", "small", "full"])
    ap.add_argument("--seed", type=int, default=0, help="the twin's seed")
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--blocks", type=int, nargs="+", default=[1, 1, 1, 1])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--valid", type=float, default=0.1, help="share of training chips held out for thresholds")
    ap.add_argument("--random-state", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (default: torch's). On a shared machine use 1: OpenMP threads "
                         "waiting for busy cores make every small kernel many times slower")
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    comp = get("planet")
    spec = comp.spec
    folder = args.root / f"planet-{args.size}"
    if not (folder / "solution" / "solution.csv").exists():
        t = time.perf_counter()
        generate(comp, folder, size=args.size, seed=args.seed)
        print(f"generated the {args.size} twin in {folder} in {time.perf_counter() - t:.0f} s")
    labels = spec.submission.labels
    train = pl.read_csv(folder / spec.train)
    ids = pl.read_csv(folder / spec.sample_submission)[spec.id_column]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}; "
          f"{train.height} training chips, {len(ids)} test chips at {args.image_size} px")

    train_paths, test_paths = _paths(folder, train["image_name"]), _paths(folder, ids)
    for what in ("decode (JPEG)", "decode (cache)"):
        if what == "decode (JPEG)":  # time a real decode: drop this size's caches first
            for p in (folder / ".kit-cache" / "images").glob(f"*x{args.image_size}px-*.npy"):
                p.unlink()
        t = time.perf_counter()
        X = load_images(train_paths, args.image_size)
        X_test = load_images(test_paths, args.image_size)
        dt = time.perf_counter() - t
        print(f"{what:<16} {len(X) + len(X_test):>6} images {dt:7.2f} s  {(len(X) + len(X_test)) / dt:8.0f} img/s")
    Y = tags_to_matrix(train["tags"], labels)
    cut = len(X) - int(round(len(X) * args.valid))

    model = CNNClassifier(image_size=args.image_size, width=args.width, blocks=tuple(args.blocks),
                          epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, labels=labels,
                          device=args.device, random_state=args.random_state)
    t = time.perf_counter()
    model.fit(X[:cut], Y[:cut], eval_set=(X[cut:], Y[cut:]) if cut < len(X) else None)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    proba = model.predict_proba(X_test)
    predict_s = time.perf_counter() - t
    tags = matrix_to_tags((proba >= model.thresholds_).astype(np.int64), labels)  # = model.predict_tags(X_test)
    s = model.threshold_search_
    print(f"fit              {cut:>6} images {fit_s:7.1f} s  {cut * args.epochs / fit_s:8.0f} img/s trained "
          f"({args.epochs} epochs, D4 augmentation; best epoch {model.best_epoch_ + 1})")
    print(f"predict (8x TTA) {len(X_test):>6} images {predict_s:7.1f} s  {len(X_test) / predict_s:8.0f} img/s")
    if s is not None:
        print(f"validation F2    tuned per label {s.score:.4f}, best global cut {s.global_threshold:.2f}: "
              f"{s.global_score:.4f}, all at 0.5: {s.score_at_half:.4f}")

    cnn = score(spec, pl.DataFrame({spec.id_column: ids, "tags": tags}), folder)
    const = baseline.submission(spec, folder)
    base = score(spec, const, folder)
    print(f"{'test mean F2':<16} {'public':>8} {'private':>8} {'overall':>8}")
    print(f"{'CNN':<16} {cnn.public:8.4f} {cnn.private:8.4f} {cnn.overall:8.4f}")
    print(f"{'constant':<16} {base.public:8.4f} {base.private:8.4f} {base.overall:8.4f}   "
          f"({const['tags'][0]})")
    # the same model's probabilities cut at one threshold, for scale
    sol = pl.read_csv(folder / "solution" / "solution.csv")
    truth = tags_to_matrix(pl.DataFrame({spec.id_column: ids})
                           .join(sol, on=spec.id_column, how="left", maintain_order="left")["tags"], labels)
    print("CNN, one cut for every label: " + ", ".join(f"{c}: {mean_f2(truth, proba >= c):.4f}" for c in (0.2, 0.5)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
