"""How hard is the Planet twin? Both default models on 800 twin chips, scored on 200 held out.

On 800 real chips (200 held out) a from-scratch CNN scored mean F2 0.78 and image statistics
+ LightGBM per label 0.84. A twin as hard as the real chips should land near both:

    python scripts/calibrate_planet.py                    # writes 1,000 chips to /tmp/planet-calibrate
    python scripts/calibrate_planet.py --models lgbm      # one model

Chips are drawn by competitions/planet/twin.py (train_v2.csv's label sampler and painter) into
a train-jpg folder only. Each model fits on the first 640 of the 800 training chips, stops
early and tunes its thresholds (kit.labels.tune_thresholds, weather as one choice) on the
other 160, and predicts the 200 held-out chips with competitions/planet/features.py's
default hyperparameters.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/planet-calibrate"))
    ap.add_argument("--train", type=int, default=800)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default="lgbm,cnn")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fresh", action="store_true", help="draw the chips again even if the folder has them")
    args = ap.parse_args()

    import torch

    from competitions.planet import features
    from competitions.planet.spec import LABELS, WEATHER
    from competitions.planet.twin import sample_labels, write_images
    from kit.image_stats import load_image_stats
    from kit.images import load_images
    from kit.labels import predict_labels, tune_thresholds
    from kit.metrics import mean_f2
    from kit.models import make_model
    from kit.synth import rng as stream

    torch.set_num_threads(args.threads)
    n = args.train + args.test
    folder = args.data_dir / "train-jpg"
    names = [f"train_{i}" for i in range(n)]
    y = sample_labels(n, stream(args.seed, "planet-labels", "calibrate")).astype(int)
    if args.fresh and args.data_dir.exists():
        shutil.rmtree(args.data_dir)
    if not all((folder / f"{m}.jpg").exists() for m in names):
        t0 = time.perf_counter()
        write_images([(folder, names, y.astype(bool))], args.seed)
        print(f"drew {n} chips in {time.perf_counter() - t0:.0f}s")
    paths = [folder / f"{m}.jpg" for m in names]
    fit = np.arange(int(args.train * 0.8))
    stop = np.arange(len(fit), args.train)
    test = np.arange(args.train, n)
    inputs = {"images": lambda: load_images(paths, features.IMAGE_SIZE),
              "table": lambda: load_image_stats(paths, size=features.STATS_SIZE, mode="CMYK").to_numpy()}
    true_tags = y[test].sum(1).mean()
    for name in args.models.split(","):
        from kit.models import MODELS

        X = inputs[MODELS[name].inputs]()
        params = dict(features.MODELS[name])
        if "n_jobs" in make_model(name, "multilabel").get_params():
            params["n_jobs"] = args.threads if name != "lgbm" else 1  # OpenMP threads crawl on a busy machine
        t0 = time.perf_counter()
        model = make_model(name, "multilabel", random_state=args.seed, **params)
        model.fit(X[fit], y[fit], eval_set=(X[stop], y[stop]))
        search = tune_thresholds(y[stop], model.predict_proba(X[stop]), labels=LABELS, exclusive=(WEATHER,))
        proba = model.predict_proba(X[test])
        pred = predict_labels(proba, search.thresholds, LABELS, (WEATHER,))
        pc = LABELS.index("partly_cloudy")
        print(f"{name}: mean F2 {mean_f2(y[test], pred):.4f} on {len(test)} held-out chips "
              f"(at 0.5: {mean_f2(y[test], predict_labels(proba, 0.5, LABELS, (WEATHER,))):.4f}; "
              f"{pred.sum(1).mean():.1f} tags per chip, {true_tags:.1f} true; partly_cloudy {pred[:, pc].sum()} "
              f"predicted, {y[test, pc].sum()} true; {time.perf_counter() - t0:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
