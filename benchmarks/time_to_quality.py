"""Time to quality: how long a freshly started model trains before most of its digits are recognizable.

What a class sees on a free 2-vCPU Space: press Train on a new GAN or VAE (the app's
default settings), and wait. Every ~2 seconds of training we stop the clock, draw 500
images from a fixed seed, and ask the project's MNIST classifier (genai.metrics) what
share it recognizes with confidence >= 0.9 (and how many different digits it sees,
because a GAN that collapses onto one easy digit can score a high share while drawing
only "1"s). The time reported is training time only
(evaluations are excluded), read at the first evaluation that reaches the target, so
the true moment lies between the previous evaluation and that one; both are recorded.

Each run is capped; a model that does not get there says "not reached in X s".
"""

import time

import torch

from genai.classifier import default_classifier
from genai.metrics import class_histogram, classifier_probabilities, confident_share, generate_images
from genai.train import TrainSettings, train

from .common import synchronize
from .training_speed import ModelSpec

QUALITY_MODELS = (ModelSpec("gan", "mlp"), ModelSpec("vae", "mlp"))
TARGET_SHARE = 0.8
MILESTONES = (0.25, 0.5)  # also reported: when the share first reached these, on the way to the target
DIGIT_MIN_SHARE = 0.02  # a digit counts as "drawn" when at least this share of the samples look like it


def judge(model, classifier, samples, seed):
    """(recognizable share, samples per digit 0-9) of `samples` seeded samples, by genai.metrics."""
    probs = classifier_probabilities(generate_images(model, samples, seed), classifier)
    return confident_share(probs), class_histogram(probs).tolist()


def digits_drawn(class_counts):
    """How many of the 10 digits make up at least DIGIT_MIN_SHARE of the samples (10 = no mode collapse)."""
    total = sum(class_counts)
    return sum(count >= DIGIT_MIN_SHARE * total for count in class_counts)


def first_reached(evaluations, share):
    """Training seconds at the first evaluation with at least this share, or None."""
    return next((e["seconds"] for e in evaluations if e["share"] >= share), None)


def time_to_quality(spec, dataset, device, target=TARGET_SHARE, max_seconds=300.0, eval_every_seconds=2.0,
                    samples=500, sample_seed=0, threads=2, classifier=None, progress=print):
    """Train a fresh model with the app's defaults until `target` of its samples are recognizable, or the cap.

    classifier: the judge (default: the shipped one, genai.classifier.default_classifier, on `device`).
    """
    classifier = default_classifier(device) if classifier is None else classifier
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = spec.build(device, seed=0)
        settings = TrainSettings(seed=0, max_seconds=10 * max_seconds)  # the clock below decides when to stop
        training_seconds = last_eval_at = previous_eval_at = 0.0
        evaluations, reached, best, share, last = [], False, 0.0, 0.0, None
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
                at_cap = training_seconds >= max_seconds  # the last chance: always evaluate then
                if training_seconds - last_eval_at < eval_every_seconds and not at_cap:
                    continue
                share, counts = judge(model, classifier, samples, sample_seed)
                best = max(best, share)
                evaluations.append({"seconds": round(training_seconds, 2), "step": last.step, "share": round(share, 4),
                                    "digits_drawn": digits_drawn(counts), "class_counts": counts})
                previous_eval_at, last_eval_at = last_eval_at, training_seconds
                if progress:
                    progress(f"  {spec.name}: {training_seconds:6.1f} s, step {last.step:5d}: "
                             f"{share:.1%} recognizable, {digits_drawn(counts)} digits drawn")
                if share >= target:
                    reached = True
                    break
        finally:
            events.close()
        return {
            "model": spec.name,
            "target_share": target,
            "reached": reached,
            "seconds": round(training_seconds, 2) if reached else None,
            "previous_eval_seconds": round(previous_eval_at, 2) if reached else None,
            "steps": last.step if last else 0,
            "epochs": round(last.epoch, 2) if last else 0.0,
            "milestones": {f"{m:g}": first_reached(evaluations, m) for m in (*MILESTONES, target)},
            "final_share": round(share, 4),
            "final_digits_drawn": evaluations[-1]["digits_drawn"] if evaluations else None,
            "best_share": round(best, 4),
            "cap_seconds": max_seconds,
            "training_seconds": round(training_seconds, 2),
            "wall_seconds": round(time.perf_counter() - wall_start, 2),
            "threads": threads,
            "batch_size": settings.batch_size,
            "lr": settings.lr or model.default_lr,
            "latent_dim": model.latent_dim,
            "samples": samples,
            "sample_seed": sample_seed,
            "eval_every_seconds": eval_every_seconds,
            "evaluations": evaluations,
        }
    finally:
        torch.set_num_threads(threads_before)


def run_time_to_quality(dataset, device, models=QUALITY_MODELS, progress=print, **options):
    results = []
    for spec in models:
        if progress:
            progress(f"time to quality: {spec.name}")
        results.append(time_to_quality(spec, dataset, device, progress=progress, **options))
    return results
