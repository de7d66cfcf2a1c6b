"""Time to quality: how readable a freshly started model's digits are after N seconds of training.

What a class sees on a free 2-vCPU Space: press Start on a new GAN or VAE with the app's
default recipe (genai/recipes.py, the Train tab's and the CLI's defaults), and wait. Every
few seconds of training we stop the clock, draw `samples` images from a fixed seed, and ask
the project's MNIST classifier (trained on the train split) what share it recognizes with
confidence >= 0.9, and how evenly the digits are drawn (a GAN that collapses onto one easy
digit can score a high share while drawing only "1"s). Times are training time only
(evaluations are excluded).

Each default recipe runs beside a plain reference run of the same family in the same process
(the seeds' MLP GAN: Adam 2e-4, batch 64, no weight averaging; a plain MLP VAE), so the
comparison holds on a noisy machine. The goals of the classroom promise: a GAN >= 80%
recognizable at 60 s, a VAE >= 75% at 20 s (2 threads), each with every digit making up at
least 6% of the samples.
"""

import time
from dataclasses import dataclass, field

import torch

from genai.classifier import default_classifier
from genai.metrics import class_histogram, classifier_probabilities, confident_share, generate_images
from genai.models import create_model
from genai.recipes import model_options, recipe
from genai.settings import SETTINGS
from genai.train import TrainSettings, train

from .common import synchronize

REFERENCE = {  # plain recipes, as the seeds and most tutorials train
    "gan": {"arch": "mlp", "conditional": False, "latent_dim": 100, "batch_size": 64, "lr": 2e-4},
    "vae": {"arch": "mlp", "conditional": False, "latent_dim": 20, "batch_size": 64, "lr": 1e-3, "beta": 1.0},
}
GOALS = {"gan": (60.0, 0.80), "vae": (20.0, 0.75)}  # (seconds, recognizable share) on 2 CPU threads


@dataclass(frozen=True)
class QualityRun:
    """One model to train from scratch: its family, recipe and the goal it should meet."""

    name: str
    family: str
    options: dict = field(hash=False)  # a recipe (genai/recipes.py)
    target: tuple | None = None  # (seconds, share) instead of the family's classroom goal

    @property
    def goal(self):
        return self.target or GOALS[self.family]

    def build(self, device, seed=0):
        return create_model(self.family, self.options["arch"], seed=seed, **model_options(self.options)).to(device)


def default_runs():
    """The default recipe of each family beside its plain reference."""
    return (
        QualityRun("GAN default recipe", "gan", recipe("gan")),
        QualityRun("GAN reference (seeds' MLP GAN)", "gan", REFERENCE["gan"]),
        QualityRun("VAE default recipe", "vae", recipe("vae")),
        QualityRun("VAE reference (plain MLP VAE)", "vae", REFERENCE["vae"]),
    )


def judge(model, classifier, samples, seed):
    """(recognizable share, samples per digit 0-9) of `samples` seeded samples, by genai.metrics."""
    probs = classifier_probabilities(generate_images(model, samples, seed), classifier)
    return confident_share(probs), class_histogram(probs).tolist()


def digits_drawn(class_counts, min_share=0.06):
    """How many of the 10 digits make up at least min_share of the samples (10 = every digit drawn)."""
    total = sum(class_counts)
    return sum(count >= min_share * total for count in class_counts)


def evaluation_at(evaluations, seconds):
    """The first evaluation at or after `seconds` of training, or None."""
    return next((e for e in evaluations if e["seconds"] >= seconds), None)


def meets(evaluation, share):
    """At least `share` recognizable AND every digit drawn (>= 6%): a collapsed GAN can be 'recognizable'."""
    return evaluation["share"] >= share and evaluation["digits_drawn"] == 10


def time_to_quality(run, dataset, device, max_seconds=None, eval_every_seconds=5.0, samples=500, sample_seed=0,
                    threads=2, classifier=None, progress=print):
    """Train run's model from scratch for max_seconds (default: twice its goal time), judging it as it goes.

    classifier: the judge (default: the shipped one, genai.classifier.default_classifier, on `device`).
    """
    classifier = default_classifier(device) if classifier is None else classifier
    goal_seconds, goal_share = run.goal
    max_seconds = max_seconds or 2 * goal_seconds
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = run.build(device, seed=0)
        # No budget of its own: the training clock below (evaluations excluded) decides when to stop.
        settings = TrainSettings(seed=0, batch_size=run.options["batch_size"], lr=run.options["lr"],
                                 max_seconds=SETTINGS["seconds"].high, preview_images=0)  # (the longest allowed)
        training_seconds, next_eval, last = 0.0, min(eval_every_seconds, goal_seconds), None
        evaluations = []
        events = train(model, dataset, settings)
        wall_start = time.perf_counter()
        try:
            while training_seconds < max_seconds:
                start = time.perf_counter()
                last = next(events)  # a TrainEvent every log_every steps; the steps happen inside next()
                synchronize(device)
                training_seconds += time.perf_counter() - start
                if last.done:  # training ended by itself (e.g. it diverged)
                    break
                if training_seconds < next_eval and training_seconds < max_seconds:
                    continue
                share, counts = judge(model, classifier, samples, sample_seed)
                evaluations.append({"seconds": round(training_seconds, 2), "step": last.step, "share": round(share, 4),
                                    "digits_drawn": digits_drawn(counts), "class_counts": counts})
                # The goal time is always one of the evaluation points.
                next_eval = next_eval + eval_every_seconds
                if next_eval > goal_seconds > training_seconds:
                    next_eval = goal_seconds
                if progress:
                    progress(f"  {run.name}: {training_seconds:6.1f} s, step {last.step:5d}: "
                             f"{share:.1%} recognizable, {digits_drawn(counts)} digits at >= 6%")
        finally:
            events.close()
        at_goal = evaluation_at(evaluations, goal_seconds)
        reached = next((e["seconds"] for e in evaluations if meets(e, goal_share)), None)
        return {
            "model": run.name,
            "family": run.family,
            "recipe": dict(run.options),
            "goal_seconds": goal_seconds,
            "goal_share": goal_share,
            "share_at_goal": at_goal and at_goal["share"],
            "digits_drawn_at_goal": at_goal and at_goal["digits_drawn"],
            "goal_met": at_goal is not None and meets(at_goal, goal_share),
            "seconds_to_goal_share": reached,
            "final_share": evaluations[-1]["share"] if evaluations else None,
            "final_digits_drawn": evaluations[-1]["digits_drawn"] if evaluations else None,
            "steps": last.step if last else 0,
            "epochs": round(last.epoch, 2) if last else 0.0,
            "training_seconds": round(training_seconds, 2),
            "wall_seconds": round(time.perf_counter() - wall_start, 2),
            "threads": threads,
            "samples": samples,
            "sample_seed": sample_seed,
            "evaluations": evaluations,
        }
    finally:
        torch.set_num_threads(threads_before)


def run_time_to_quality(dataset, device, runs=None, progress=print, **options):
    results = []
    for run in runs or default_runs():
        if progress:
            progress(f"time to quality: {run.name}")
        results.append(time_to_quality(run, dataset, device, progress=progress, **options))
    return results


def plot(results, path, width=720, height=420):
    """Recognizable share against training seconds, one line per run, as a PNG (drawn with Pillow)."""
    from PIL import Image, ImageDraw

    colors = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]
    left, right, top, bottom = 60, 230, 20, 50
    max_seconds = max([e["seconds"] for r in results for e in r["evaluations"]] + [r["goal_seconds"] for r in results])
    picture = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(picture)
    x = lambda s: left + (width - left - right) * s / max_seconds  # noqa: E731
    y = lambda share: height - bottom - (height - top - bottom) * share  # noqa: E731
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        draw.line([left - 4, y(tick), width - right, y(tick)], fill=(225, 225, 225))
        draw.text((8, y(tick) - 6), f"{tick:.0%}", fill="black")
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    step = 10 if max_seconds <= 150 else 30
    for second in range(0, int(max_seconds) + 1, step):
        draw.line([x(second), height - bottom, x(second), height - bottom + 4], fill="black")
        draw.text((x(second) - 6, height - bottom + 8), str(second), fill="black")
    draw.text((left + 120, height - 18), "training seconds (evaluations excluded), 2 CPU threads", fill="black")
    draw.text((left + 6, top + 4), "share of samples recognized (p >= 0.9)", fill="black")
    for index, result in enumerate(results):
        color = colors[index % len(colors)]
        points = [(x(e["seconds"]), y(e["share"])) for e in result["evaluations"]]
        if len(points) > 1:
            draw.line(points, fill=color, width=2)
        for px, py in points:
            draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill=color)
        goal_seconds, goal_share = result["goal_seconds"], result["goal_share"]
        draw.rectangle([x(goal_seconds) - 3, y(goal_share) - 3, x(goal_seconds) + 3, y(goal_share) + 3], outline=color)
        draw.line([width - right + 10, top + 10 + 18 * index, width - right + 30, top + 10 + 18 * index], fill=color,
                  width=3)
        draw.text((width - right + 36, top + 4 + 18 * index), result["model"][:30], fill="black")
    draw.text((width - right + 10, top + 12 + 18 * len(results)), "squares: the goals", fill="black")
    picture.save(path)
    return path
