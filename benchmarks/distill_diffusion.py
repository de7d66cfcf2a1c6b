"""Few-step diffusion by distillation (issue 43 item 1): a student UNet that draws in k Euler steps
what the guided 20-step teacher draws in 20 (with its guide: about 30 network passes).

Method (reflow-style distillation, Liu et al. 2022; Luhman & Luhman 2021):
1. Pairs: seeded noise z (never seed 0's rows, which `eval` uses) and labels, walked by the teacher
   exactly as it samples (guide and guidance included); the walk's states at t = 1, (k-1)/k, ..., 0
   are kept (a file under /tmp, never committed).
2. The student starts as a copy of the teacher's sampling network, with no guide, guidance_scale 1
   and sampling_steps k: so it loads and samples as an ordinary diffusion checkpoint. It learns, with
   the teacher's guidance folded in,
   - each segment: v(x_j, t_j) = (x_j - x_{j+1}) / dt, from the teacher's state x_j to its next one;
   - the whole walk: its own k Euler steps from z land on the teacher's x_0.
   Both are mean squared errors in pixels, added. The data are the teacher's samples only; the
   teacher itself learned from the MNIST train split.

    python benchmarks/distill_diffusion.py --teacher checkpoints/diffusion-conditional --steps 2 \
        --pairs 2048 --pairs-file /tmp/distill/dc.pt --minutes 15 --out /tmp/distill/dc-fast

It writes an ordinary checkpoint (config.json + model.safetensors) whose config.json records the
teacher, the method and the command ("distilled").
"""

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genai.checkpoints import load_model, read_metadata, save_model  # noqa: E402
from genai.models.diffusion import FlowMatchingUNet  # noqa: E402

PAIR_SEED = 4343  # the pairs' noise: any seed but 0 (eval's)
KEEP = (20, 15, 10, 5, 0)  # teacher states kept, as i of t = i / 20: enough for k = 1, 2 and 4


@torch.no_grad()
def make_pairs(teacher, n, minutes, seed=PAIR_SEED, chunk=64):
    """Teacher walks from seeded noise: {"states": (n, len(KEEP), 1, 28, 28), "labels": (n,) or None}."""
    if teacher.config.sampling_steps != 20:
        raise SystemExit("The kept states assume a 20-step teacher.")
    generator = torch.Generator().manual_seed(seed)
    states, labels, start = [], [], time.perf_counter()
    while sum(len(s) for s in states) < n and time.perf_counter() - start < 60 * minutes:
        size = min(chunk, n)
        z = torch.randn(size, 784, generator=generator)
        y = torch.randint(0, 10, (size,), generator=generator) if teacher.conditional else None
        walk = list(teacher.walk(z, y))
        states.append(torch.stack([walk[20 - i] for i in KEEP], dim=1))
        if y is not None:
            labels.append(y)
        print(f"pairs: {sum(len(s) for s in states)} in {time.perf_counter() - start:.0f} s", flush=True)
    return {"states": torch.cat(states), "labels": torch.cat(labels) if labels else None, "seed": seed}


def student_from(teacher, steps):
    """The teacher's sampling network in a plain model: no guide, no guidance, `steps` steps."""
    config = dataclasses.replace(teacher.config, sampling_steps=steps, guidance_scale=1.0, guide_channels=0,
                                 guide_extra_layers=0, ema_decay=0.0)
    student = FlowMatchingUNet(config)
    student.unet.load_state_dict(teacher.sampling_unet.state_dict())
    return student


def losses(student, states, labels, steps):
    """Segment loss (teacher state to its next) plus the whole k-step walk's loss against the teacher's x_0."""
    index = [KEEP.index(20 - 20 * j // steps) for j in range(steps + 1)]  # states at t = 1, ..., 0
    n, dt = len(states), 1.0 / steps
    if steps == 1:  # one segment is the whole walk
        x = states[:, 0]
        whole = F.mse_loss(x - student.unet(x, torch.ones(n), labels), states[:, -1])
        return whole.new_zeros(()), whole
    j = torch.randint(0, steps, (n,))
    x_j = states[torch.arange(n), torch.tensor(index)[j]]
    x_next = states[torch.arange(n), torch.tensor(index)[j + 1]]
    t_j = 1 - j.float() * dt
    segment = F.mse_loss(student.unet(x_j, t_j, labels), (x_j - x_next) / dt)
    x = states[:, 0]
    for i in range(steps, 0, -1):
        x = x - student.unet(x, torch.full((n,), i / steps), labels) * dt
    whole = F.mse_loss(x, states[:, -1])
    return segment, whole


def train(student, pairs, minutes, batch_size, lr, max_steps, seed=0):
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(student.unet.parameters(), lr)
    states, labels = pairs["states"], pairs["labels"]
    steps, start, step = student.config.sampling_steps, time.perf_counter(), 0
    student.unet.train()
    while step < max_steps and time.perf_counter() - start < 60 * minutes:
        index = torch.randint(0, len(states), (batch_size,))
        segment, whole = losses(student, states[index], None if labels is None else labels[index], steps)
        optimizer.zero_grad(set_to_none=True)
        (segment + whole).backward()
        optimizer.step()
        step += 1
        if step % 25 == 0 or step == 1:
            print(f"step {step}: segment {segment.item():.4f} whole {whole.item():.4f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    student.unet.eval()
    return step, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", required=True, help="a guided 20-step diffusion checkpoint folder")
    parser.add_argument("--steps", type=int, default=2, choices=(1, 2, 4), help="the student's Euler steps")
    parser.add_argument("--pairs", type=int, default=2048, help="teacher walks to make (fewer if --pair-minutes ends first)")
    parser.add_argument("--pair-minutes", type=float, default=10)
    parser.add_argument("--pairs-file", required=True, help="where the pairs are kept (made once; under /tmp)")
    parser.add_argument("--minutes", type=float, default=15, help="training time limit")
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--init", help="continue from this student checkpoint (default: start from the teacher)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    teacher, _ = load_model(args.teacher)
    path = Path(args.pairs_file)
    if path.is_file():
        pairs = torch.load(path)
    else:
        pairs = make_pairs(teacher, args.pairs, args.pair_minutes)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(pairs, path)
    student = student_from(teacher, args.steps)
    if args.init:
        student.unet.load_state_dict(load_model(args.init)[0].sampling_unet.state_dict())
    steps, seconds = train(student, pairs, args.minutes, args.batch_size, args.lr, args.max_steps)
    teacher_metadata = read_metadata(args.teacher)
    distilled = {
        "teacher": str(args.teacher),
        "teacher_config": teacher_metadata["config"],
        "method": "reflow-style distillation: the student (initialized from the teacher's sampling network) learns "
                  "the guided teacher's 20-step walk from seeded noise, segment by segment and as a whole "
                  f"{args.steps}-step walk (pixel MSE); guidance and guide folded in",
        "pairs": len(pairs["states"]), "pair_seed": pairs["seed"],
        "steps": steps, "seconds": round(seconds, 1), "batch_size": args.batch_size, "lr": args.lr,
        "command": "python benchmarks/distill_diffusion.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
    }
    if args.init:
        distilled["continued_from"] = read_metadata(args.init).get("distilled")
    out = save_model(student, args.out, dataset=teacher_metadata.get("dataset"), steps=steps,
                     training=teacher_metadata.get("training"), extra={"distilled": distilled}, overwrite=True)
    print(f"Wrote {out}")


if __name__ == "__main__":
    main()
