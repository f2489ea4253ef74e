"""Choose the norm-relative λ grid of the study before any steered result exists: the
accuracy of SmolLM2-135M-Instruct on the ARC-Challenge Dev split (the study's validation set)
with *random* unit directions added at fractions of each layer's mean residual norm.

    HF_HUB_OFFLINE=1 .venv/bin/python studies/offline-transfer/pilot_relative.py

Rule (fixed before running): the grid is the fractions up to and including the first one at
which random directions on the 18 child layers that every pair steers (gemma-3-270m's greedy
map, the fewest) cost at least 5 points of Dev accuracy, so the largest λ of every pair visibly
hurts a random direction (if none did, the whole list). Only random directions and Dev are used:
nothing here sees a concept vector or the test split. Its output is kept beside it as
``pilot_relative.txt`` (the record of the choice).
"""

from __future__ import annotations

import argparse

FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/data/arc_challenge")
    p.add_argument("--layers", type=int, nargs="+", default=[18, 30])
    p.add_argument("--threshold", type=float, default=0.05)
    args = p.parse_args()

    import torch

    import lens_steer as ls
    from lens_steer.experiment.evaluate import random_directions

    model = ls.load_model("smollm2-135m-instruct", device="cpu")
    task = ls.get_task("arc_challenge", data_dir=args.data_dir)
    dev = task.splits(seed=0, n_val=None).val
    width = int(model.cfg.d_model)
    print(f"ARC-Challenge Dev: {len(dev)} questions; random unit directions, seed 0")
    chosen = None
    for n_layers in args.layers:
        unit = ls.SteeringVectors(
            directions=torch.ones(n_layers, width), layers=tuple(range(n_layers))
        )
        rand = random_directions(unit.normalized(), seed=0)
        scores = ls.score_choices_lams(model, task, dev, rand, [0.0, *FRACTIONS], relative=True)
        accs = [sum(s.correct) / len(dev) for s in scores]
        print(
            f"\nlayers 0..{n_layers - 1}:  fraction of ‖h‖ → Dev accuracy (baseline {accs[0]:.3f})"
        )
        for f, a in zip(FRACTIONS, accs[1:], strict=True):
            print(f"  {f:>5}  {a:.3f}  {100 * (a - accs[0]):+.1f} pp")
        hurt = [
            f for f, a in zip(FRACTIONS, accs[1:], strict=True) if accs[0] - a >= args.threshold
        ]
        if n_layers == args.layers[0]:  # the rule's setting; the others are for information
            chosen = [f for f in FRACTIONS if not hurt or f <= hurt[0]]
    rule = f"up to the first fraction costing ≥ {args.threshold:.0%} on {args.layers[0]} layers"
    print(f"\nrelative grid ({rule}; all of them if none does): {chosen}")


if __name__ == "__main__":
    main()
