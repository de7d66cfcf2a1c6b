"""Sampling latency: how long the app's two sampling actions take, call after call.

- grid:        64 images for a seed, laid out as one picture: sample(model, seed, 64) -> grid() -> PIL
- interpolate: a 16-frame walk between two seeds, as a strip picture and an animated GIF:
               interpolate(model, a, b, 16) -> strip() and gif_bytes()

The models have fresh random weights: the time a forward pass takes does not depend on
what the weights have learned, so no checkpoint is needed. Each call uses a new seed,
after a few warm-up calls; p50 is the typical wait, p95 the slow end.
"""

import time

from genai.sampling import gif_bytes, grid, interpolate, sample, strip

from .common import summarize_ms, synchronize
from .training_speed import ModelSpec

# The families' default sampling, at the sizes shipped in checkpoints/: a conditional diffusion model
# draws in 20 Euler steps with guidance (40 passes of its 16-channel UNet), the unconditional one in
# 20 passes of its 24-channel UNet, an autoregressive one in 784 pixel steps.
LATENCY_MODELS = (ModelSpec("gan", "mlp"), ModelSpec("vae", "mlp"), ModelSpec("diffusion", "unet", conditional=True),
                  ModelSpec("diffusion", "unet", channels=24), ModelSpec("autoregressive", "pixelcnn"),
                  ModelSpec("autoregressive", "lstm"))
GRID_IMAGES = 64
INTERPOLATION_STEPS = 16


def grid_call(model, seed):
    """Timed parts of one grid: {part: seconds}."""
    start = time.perf_counter()
    images = sample(model, seed, GRID_IMAGES)  # ends with .cpu(), which waits for the device
    sampled = time.perf_counter()
    grid(images)
    done = time.perf_counter()
    return {"total": done - start, "sample": sampled - start, "picture": done - sampled}


def interpolation_call(model, seed):
    """Timed parts of one interpolation: {part: seconds}."""
    start = time.perf_counter()
    frames = interpolate(model, seed, seed + 1, INTERPOLATION_STEPS)
    decoded = time.perf_counter()
    strip(frames)
    stripped = time.perf_counter()
    gif_bytes(frames)
    done = time.perf_counter()
    return {"total": done - start, "frames": decoded - start, "strip": stripped - decoded, "gif": done - stripped}


ACTIONS = {"grid": grid_call, "interpolate": interpolation_call}


def measure_action(model, action, device, calls=100, warmup=5, max_seconds=60):
    """p50/p95 of `calls` calls of one action (fewer, but at least 5, if they take over max_seconds),
    plus the p50 of each of its parts."""
    call = ACTIONS[action]
    for seed in range(warmup):
        call(model, seed)
    parts = []
    started = time.perf_counter()
    for i in range(calls):
        if i >= 5 and time.perf_counter() - started > max_seconds:
            break
        synchronize(device)
        parts.append(call(model, 1000 + 2 * i))
    summary = summarize_ms([p["total"] for p in parts])
    summary["parts_p50_ms"] = {
        name: summarize_ms([p[name] for p in parts])["p50_ms"] for name in parts[0] if name != "total"
    }
    return summary


def run_sampling_latency(device, models=LATENCY_MODELS, calls=100, warmup=5, progress=print):
    """Latency of each action for each model; returns a list of result dicts."""
    results = []
    for spec in models:
        model = spec.build(device, seed=0).eval()
        for action in ACTIONS:
            if progress:
                progress(f"sampling latency: {spec.name} {action}")
            summary = measure_action(model, action, device, calls=calls, warmup=warmup)
            results.append({"model": spec.name, "action": action, "weights": getattr(spec, "weights", "random (untrained)"), **summary})
    return results
