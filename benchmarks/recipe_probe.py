"""Compare candidate checkpoints while choosing a recipe, without looking at the test split.

    python benchmarks/recipe_probe.py /tmp/runs/a /tmp/runs/b checkpoints/gan-mlp

Each checkpoint draws 2,000 samples (seed 0), scored as `eval` scores them: the recognizable share
(the metrics classifier at least 90% sure), the share of each digit, and classifier-FID, here
against the first 10,000 TRAINING images (the test split stays for the figures that are reported).
"balanced FID" takes 200 samples of each digit, as the classifier reads them, from 6,000 samples:
when it is far below the plain FID, what keeps the model from the real digits is how often it
draws each digit (coverage), not how well it draws them. Prints a table and writes JSON
(benchmarks/results/recipe-probe-<date>.json); each row keeps the checkpoint's training command.

A diffusion model can also be probed at other sampling settings, to tell a sampler that holds it
back from a network that does (every combination is a row; models without the setting keep theirs):

    python benchmarks/recipe_probe.py checkpoints/diffusion --sampling-steps 10 20 40

or at other temperatures (the Sample tab's slider: the seed's noise scaled, z ~ N(0, T^2 I)), to see
what a cooler sampler buys in recognizable digits and costs in variety (FID, the rarest digit):

    python benchmarks/recipe_probe.py checkpoints/autoregressive --temperature 1 0.9 0.8
"""

import argparse
import itertools
import sys
from datetime import date
from pathlib import Path

import numpy as np
import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, find_data_dir, machine_info, write_json  # noqa: E402
from benchmarks.run import markdown_table  # noqa: E402
from genai import metrics  # noqa: E402
from genai.checkpoints import load_model  # noqa: E402
from genai.data import load_dataset  # noqa: E402
from genai.sampling import sampling_options  # noqa: E402

SAMPLES, PER_DIGIT, REFERENCE_IMAGES = 2000, 200, 10_000


def probe(path, reference, samples=SAMPLES, per_digit=PER_DIGIT, temperature=1.0, **sampling):
    """One checkpoint's row: its first `samples` samples as `eval` scores them, and the balanced FID
    of `per_digit` samples of each digit taken from 3 x `samples` (fewer where a digit is that rare).

    reference: the real images' classifier features (metrics.classifier_features), computed once for
    every row.

    sampling: sampling settings to use instead of the checkpoint's own (e.g. sampling_steps=40);
    those the model does not have are ignored. The row keeps the settings it was drawn with, and the
    temperature of the seed's noise."""
    model, metadata = load_model(path)
    for name, value in sampling_options(model, **sampling).items():
        setattr(model.config, name, value)
    images = np.asarray(metrics.generate_images(model, 3 * samples, 0, temperature=temperature))
    probs = metrics.classifier_probabilities(images)
    features = metrics.classifier_features(images)
    first = probs[:samples]
    shares = metrics.class_histogram(first) / samples
    digits = probs.argmax(axis=1)
    balanced = np.concatenate([np.flatnonzero(digits == d)[:per_digit] for d in range(10)])
    return {
        "checkpoint": str(path),
        "model": model.describe(),
        "command": metadata.get("training", {}).get("command"),
        "steps": metadata.get("training", {}).get("steps"),  # fewer than the command's --max-steps if stopped early
        "ended": metadata.get("training", {}).get("ended"),
        "sampling": drawn_with(model),
        "temperature": temperature,
        "recognizable_share": metrics.confident_share(first),
        "digit_shares": [round(float(s), 4) for s in shares],
        "fid_vs_train": metrics.frechet_distance(features[:samples], reference),
        "balanced_fid_vs_train": metrics.frechet_distance(features[balanced], reference),
        "balanced_samples": int(len(balanced)),
    }


def drawn_with(model):
    """The sampling settings that shape the model's samples (a guidance scale only where there is guidance)."""
    return {name: getattr(model.config, name) for name in model.sampling_options}


def describe_sampling(settings):
    """{"sampling_steps": 20, "guidance_scale": 1.5} -> "20 steps, guidance 1.5"; {} -> "-"."""
    words = {"sampling_steps": "{} steps", "guidance_scale": "guidance {:g}"}
    return ", ".join(words.get(name, name + " {}").format(value) for name, value in settings.items()) or "-"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data-dir")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=SAMPLES, help="samples scored per row (as eval's --n)")
    parser.add_argument("--sampling-steps", type=int, nargs="+", default=[None],
                        help="diffusion: probe at each of these numbers of steps (default: the checkpoint's)")
    parser.add_argument("--guidance-scale", type=float, nargs="+", default=[None],
                        help="conditional diffusion: probe at each of these guidance scales (default: the checkpoint's)")
    parser.add_argument("--temperature", type=float, nargs="+", default=[1.0],
                        help="probe at each of these temperatures of the seed's noise (default: 1, as sampled)")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / f"recipe-probe-{date.today()}.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    reference = metrics.classifier_features(
        load_dataset("mnist", find_data_dir(args.data_dir), "train", limit=REFERENCE_IMAGES).images)
    rows = []
    for path in args.checkpoints:
        model = load_model(path)[0]
        variants = []  # the settings that apply to this model, each once (a GAN has none: one row)
        for steps, scale in itertools.product(args.sampling_steps, args.guidance_scale):
            chosen = sampling_options(model, sampling_steps=steps, guidance_scale=scale)
            if chosen not in variants:
                variants.append(chosen)
        for chosen, temperature in itertools.product(variants, args.temperature):
            rows.append(probe(path, reference, args.samples, temperature=temperature, **chosen))
            print(f"{path} {describe_sampling(rows[-1]['sampling'])}, temperature {temperature:g}: done",
                  file=sys.stderr, flush=True)
    print(markdown_table(
        ["checkpoint", "sampling", "temperature", "recognizable", "rarest digit", "FID vs train",
         "balanced FID vs train"],
        [[Path(r["checkpoint"]).name, describe_sampling(r["sampling"]), f"{r['temperature']:g}",
          f"{r['recognizable_share']:.1%}",
          f"{min(r['digit_shares']):.1%}", f"{r['fid_vs_train']:.1f}", f"{r['balanced_fid_vs_train']:.1f}"]
         for r in rows]))
    results = {"machine": machine_info("cpu"), "samples": args.samples, "seed": 0,
               "reference": f"the first {REFERENCE_IMAGES:,} MNIST training images", "rows": rows}
    print(f"JSON: {write_json(results, args.json)}")


if __name__ == "__main__":
    main()
