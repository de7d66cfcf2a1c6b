"""What drawing several grids in one forward pass saves (genai/ui/batching.py does it for the web app).

For each shipped model: the time of --grids separate passes of --images digits each, and of one
pass of all of them, alternating, median over --repeats; the ratio one pass / separate passes
(below 1: batching saves time). Prints a Markdown table and writes JSON.

    python benchmarks/batching_gain.py                         # 1 CPU thread, as a request gets on a 2-core Space
    python benchmarks/batching_gain.py --threads 2 --models gan-conditional
"""

import argparse
import sys
import time
from datetime import date
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` and `import genai` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import REPO, machine_info, median, write_json  # noqa: E402
from genai.checkpoints import load_model  # noqa: E402
from genai.sampling import decode, label_tensor, latent_noise  # noqa: E402

MODELS = ("gan-conditional", "gan-mlp", "vae-conditional", "vae-conv", "diffusion-conditional")


def seconds_of(work):
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def measure(model, grids, images, repeats):
    """(median seconds of `grids` separate passes, median seconds of one pass of them all)."""
    noise = [latent_noise(seed, images, model.latent_dim) for seed in range(grids)]
    labels = [label_tensor(model, None, images) for _ in range(grids)]
    together_noise = torch.cat(noise)
    together_labels = None if labels[0] is None else torch.cat(labels)

    def separately():
        for z, y in zip(noise, labels):
            decode(model, z, y)

    def together():
        decode(model, together_noise, together_labels)

    separately(), together()  # warm-up
    apart, joint = [], []
    for _ in range(repeats):
        apart.append(seconds_of(separately))
        joint.append(seconds_of(together))
    return median(apart), median(joint)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="checkpoint folders under checkpoints/")
    parser.add_argument("--grids", type=int, default=4, help="grids asked for at the same moment (default 4)")
    parser.add_argument("--images", type=int, default=64, help="digits per grid (default 64)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--json", help="default: benchmarks/results/batching-<date>.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.models.split(","):
        model, _ = load_model(REPO / "checkpoints" / name)
        apart, joint = measure(model, args.grids, args.images, args.repeats)
        rows.append({"model": name, "separate_s": apart, "one_pass_s": joint, "ratio": joint / apart})
    print(f"{args.grids} grids of {args.images} digits, {args.threads} thread(s), median of {args.repeats}:\n")
    print("| model | separate passes | one pass | one pass / separate |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['model']} | {1000 * row['separate_s']:.1f} ms | {1000 * row['one_pass_s']:.1f} ms | {row['ratio']:.2f}x |")
    path = write_json({"machine": machine_info("cpu"), "options": vars(args), "results": rows},
                      args.json or REPO / "benchmarks" / "results" / f"batching-{date.today().isoformat()}.json")
    print(f"\nWrote {path}")


if __name__ == "__main__":
    main()
