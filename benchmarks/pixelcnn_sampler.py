"""The PixelCNN's pixel-by-pixel sampler against an earlier revision's, side by side in one process.

Both samplers draw a 64-digit grid from the same uniform numbers with the same shipped weights, in
alternation; the script checks they draw the same pixels and prints the best time of each and their
ratio, per shipped PixelCNN (a table, and JSON).

    python benchmarks/pixelcnn_sampler.py                     # against d9fcdb7^, the sampler before issue 43
    python benchmarks/pixelcnn_sampler.py --against HEAD~3 --threads 2 --seeds 6
"""

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `import benchmarks` and `import genai` work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import REPO, machine_info, write_json  # noqa: E402
from genai.checkpoints import load_model  # noqa: E402

MODELS = ("autoregressive-conditional", "autoregressive")


def earlier_pixelcnn(revision):
    """The PixelCNN class of genai/models/autoregressive.py at `revision` (read with git show)."""
    source = subprocess.run(["git", "show", f"{revision}:genai/models/autoregressive.py"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp(prefix="genai-pixelcnn-")) / "autoregressive_then.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("genai.models.autoregressive_then", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PixelCNN


def compare(name, then_class, seeds):
    model, _ = load_model(REPO / "checkpoints" / name)
    now = model.network
    then = then_class(model.config).eval()
    then.load_state_dict(now.state_dict())
    labels = torch.arange(64) % 10 if model.conditional else None
    times = {"then": [], "now": []}
    for seed in range(seeds):
        uniform = torch.special.ndtr(torch.randn(64, 28, 28, generator=torch.Generator().manual_seed(seed)))
        drawn = {}
        for which, network in (("then", then), ("now", now)):
            started = time.perf_counter()
            drawn[which] = network.sample(uniform, labels)
            times[which].append(time.perf_counter() - started)
        if not torch.equal(drawn["then"], drawn["now"]):
            raise SystemExit(f"{name}, seed {seed}: the samplers drew different pixels")
    then_s, now_s = min(times["then"]), min(times["now"])
    return {"model": name, "then_ms": round(1000 * then_s, 1), "now_ms": round(1000 * now_s, 1),
            "ratio": round(then_s / now_s, 2), "seeds": seeds, "same_pixels": True}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", default="d9fcdb7^", help="the earlier revision (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the app on 2 cores)")
    parser.add_argument("--seeds", type=int, default=4, help="grids per sampler and model (default 4)")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "pixelcnn-sampler.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    then_class = earlier_pixelcnn(args.against)
    rows = [compare(name, then_class, args.seeds) for name in MODELS]
    print(f"64-digit grid, best of {args.seeds}, {args.threads} thread(s); {args.against} against this tree\n")
    print("| model | then ms | now ms | speed-up | same pixels |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['model']} | {row['then_ms']:,} | {row['now_ms']:,} | {row['ratio']}x | yes |")
    write_json({"benchmark": "pixelcnn_sampler", "against": args.against, "threads": args.threads,
                "machine": machine_info("cpu"), "results": rows}, Path(args.json))
    return rows


if __name__ == "__main__":
    main()
