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
3. Optional (--adv-weight > 0; off by default, so the commands above reproduce): an adversarial term,
   as in adversarial diffusion distillation (Sauer et al. 2023). A small conv discriminator (label
   as an extra input channel for a conditional teacher) learns real MNIST TRAIN-split digits against
   the student's own k-step outputs, non-saturating loss (optionally R1 on the real images); the
   student's loss becomes segment + whole + adv_weight * softplus(-D(student's x_0)). A fresh D is
   at chance for hundreds of steps against a student this close to the teacher, so --d-warmup gives
   it D-only steps first (against the starting student's outputs); its state can be kept between
   runs (--disc-file), so a run can go on where one ended. What it gave: docs/benchmarks.md, "Few-step
   diffusion by distillation".
4. Optional (--ema D; off by default): an exponential moving average of the student's weights,
   w_ema <- D * w_ema + (1 - D) * w after each step. With the adversarial term the weights jitter and
   the figures swing from run to run; their average usually draws steadier digits. It starts from the
   starting student (already a good one), so it needs no warm-up. With --save-every N the (averaged)
   student is also written every N steps to OUT-step-N (beside OUT: saving OUT replaces the whole
   folder), so the best can be picked by FID afterwards; OUT itself gets the last one.
5. Optional (--adv-fresh): the adversarial term judges the student's k-step outputs from new random
   noise and digits each step, rather than from the pairs' 2,048 starting points: D needs no
   teacher target, so the student can learn from unlimited draws there (one more k-pass walk a step).

    python benchmarks/distill_diffusion.py --teacher checkpoints/diffusion-conditional --steps 2 \
        --pairs 2048 --pairs-file /tmp/distill/dc.pt --minutes 15 --out /tmp/distill/dc-fast

It writes an ordinary checkpoint (config.json + model.safetensors) whose config.json records the
teacher, the method and the command ("distilled").
"""

import argparse
import copy
import dataclasses
import shlex
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import find_data_dir  # noqa: E402
from genai.checkpoints import load_model, read_metadata, save_model  # noqa: E402
from genai.data import load_dataset  # noqa: E402
from genai.models.diffusion import FlowMatchingUNet  # noqa: E402

PAIR_SEED = 4343  # the pairs' noise: any seed but 0 (eval's)
SEED_STRIDE = 1000  # a second pairs file's seed is PAIR_SEED + 1000, a third's + 2000, ...
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


def load_or_make_pairs(teacher, path, n, minutes, seed):
    """The pairs kept in `path`, made there first (from noise seed `seed`) if it does not exist yet."""
    if path.is_file():
        return torch.load(path)
    pairs = make_pairs(teacher, n, minutes, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(pairs, path)
    return pairs


def pool(sets):
    """Several sets of pairs as one (their seeds listed); one set is returned as it is."""
    if len(sets) == 1:
        return sets[0]
    labels = [s["labels"] for s in sets]
    return {"states": torch.cat([s["states"] for s in sets]), "seed": [s["seed"] for s in sets],
            "labels": None if labels[0] is None else torch.cat(labels)}


def student_from(teacher, steps):
    """The teacher's sampling network in a plain model: no guide, no guidance, `steps` steps."""
    config = dataclasses.replace(teacher.config, sampling_steps=steps, guidance_scale=1.0, guide_channels=0,
                                 guide_extra_layers=0, ema_decay=0.0)
    student = FlowMatchingUNet(config)
    student.unet.load_state_dict(teacher.sampling_unet.state_dict())
    return student


class Discriminator(torch.nn.Module):
    """A small conv discriminator for 28x28 images in [-1, 1]: 28 -> 14 -> 7 -> 4, then one logit.

    A conditional one gets the digit as an extra input channel (a learned 28x28 map, as genai's DCGAN D).
    No batch norm: real and fake batches go through it apart, and R1 is per image."""

    def __init__(self, channels=32, num_classes=None):
        super().__init__()
        c = channels
        self.label_map = torch.nn.Embedding(num_classes, 28 * 28) if num_classes else None
        act = lambda: torch.nn.LeakyReLU(0.2)  # noqa: E731
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(2 if num_classes else 1, c, 4, stride=2, padding=1), act(),  # 28 -> 14
            torch.nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), act(),  # 14 -> 7
            torch.nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1), act(),  # 7 -> 4
            torch.nn.Flatten(), torch.nn.Linear(4 * c * 16, 1))

    def forward(self, images, labels=None):
        if self.label_map is not None:
            images = torch.cat([images, self.label_map(labels).view(-1, 1, 28, 28)], dim=1)
        return self.net(images).squeeze(1)


class Adversary:
    """The adversarial term's discriminator, its optimizer and the real train-split digits it learns from."""

    def __init__(self, real, conditional, channels=32, lr=2e-4, r1_gamma=0.0, seed=0, beta1=0.0):
        self.images, self.labels = real.images, real.labels
        self.conditional, self.r1_gamma = conditional, r1_gamma
        self.generator = torch.Generator().manual_seed(seed + 1)
        self.d = Discriminator(channels, 10 if conditional else None)
        self.optimizer = torch.optim.Adam(self.d.parameters(), lr, betas=(beta1, 0.99))

    def generator_loss(self, fake, labels):
        """Non-saturating: softplus(-D(fake)); its gradient reaches the student only (D is not stepped here)."""
        return F.softplus(-self.d(fake, labels)).mean()

    def step(self, fake, labels):
        """One D step: real train digits (with their labels) against the student's detached outputs."""
        index = torch.randint(0, len(self.images), (len(fake),), generator=self.generator)
        real = (self.images[index].float() / 255 * 2 - 1).unsqueeze(1)
        real_labels = self.labels[index] if self.conditional else None
        real.requires_grad_(self.r1_gamma > 0)
        real_logits = self.d(real, real_labels)
        loss = F.softplus(-real_logits).mean() + F.softplus(self.d(fake.detach(), labels)).mean()
        if self.r1_gamma > 0:
            grad, = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            loss = loss + self.r1_gamma / 2 * grad.pow(2).flatten(1).sum(1).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item(), (real_logits > 0).float().mean().item()

    def state_dict(self):
        return {"d": self.d.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state):
        self.d.load_state_dict(state["d"])
        self.optimizer.load_state_dict(state["optimizer"])


def losses(student, states, labels, steps, keep_output=False):
    """Segment loss (teacher state to its next) plus the whole k-step walk's loss against the teacher's x_0
    (and, with keep_output, the student's own x_0, for the adversarial term)."""
    index = [KEEP.index(20 - 20 * j // steps) for j in range(steps + 1)]  # states at t = 1, ..., 0
    n, dt = len(states), 1.0 / steps
    if steps == 1:  # one segment is the whole walk
        x = states[:, 0]
        x = x - student.unet(x, torch.ones(n), labels)
        whole = F.mse_loss(x, states[:, -1])
        return (whole.new_zeros(()), whole, x) if keep_output else (whole.new_zeros(()), whole)
    j = torch.randint(0, steps, (n,))
    x_j = states[torch.arange(n), torch.tensor(index)[j]]
    x_next = states[torch.arange(n), torch.tensor(index)[j + 1]]
    t_j = 1 - j.float() * dt
    segment = F.mse_loss(student.unet(x_j, t_j, labels), (x_j - x_next) / dt)
    x = walk(student, states[:, 0], labels, steps)
    whole = F.mse_loss(x, states[:, -1])
    return (segment, whole, x) if keep_output else (segment, whole)


def walk(student, x, labels, steps):
    """The student's k Euler steps from noise x at t = 1 to its image at t = 0 (with gradients)."""
    for i in range(steps, 0, -1):
        x = x - student.unet(x, torch.full((len(x),), i / steps), labels) / steps
    return x


def warm_up(adversary, student, pairs, batch_size, d_steps):
    """D-only steps against the starting student's outputs, so that the adversarial term starts from a D
    that already tells them from real digits (a fresh D is at chance for hundreds of steps)."""
    states, labels, steps = pairs["states"], pairs["labels"], student.config.sampling_steps
    with torch.no_grad():  # the starting student's outputs for every pair, once
        outputs = torch.cat([losses(student, states[i:i + 256], None if labels is None else labels[i:i + 256],
                                    steps, keep_output=True)[2] for i in range(0, len(states), 256)])
    for i in range(d_steps):
        index = torch.randint(0, len(states), (batch_size,))
        d_loss, d_real = adversary.step(outputs[index], None if labels is None else labels[index])
        if (i + 1) % 100 == 0:
            print(f"D warm-up {i + 1}: D {d_loss:.3f} D(real)>0 {d_real:.2f}", flush=True)


def train(student, pairs, minutes, batch_size, lr, max_steps, seed=0, adversary=None, adv_weight=0.0,
          d_steps=1, d_warmup=0, ema=0.0, save_every=0, save=None, adv_fresh=False):
    """Trains student.unet; with ema > 0 it ends holding the moving average of its weights instead.
    save(step, unet), if given, is called every save_every steps with the (averaged) network."""
    torch.manual_seed(seed)
    if adversary is not None and d_warmup:
        warm_up(adversary, student, pairs, batch_size, d_warmup)
    optimizer = torch.optim.Adam(student.unet.parameters(), lr)
    average = copy.deepcopy(student.unet).requires_grad_(False) if ema else None
    fresh = torch.Generator().manual_seed(PAIR_SEED + 1)  # --adv-fresh's noise and digits
    states, labels = pairs["states"], pairs["labels"]
    steps, start, step = student.config.sampling_steps, time.perf_counter(), 0
    student.unet.train()
    while step < max_steps and time.perf_counter() - start < 60 * minutes:
        index = torch.randint(0, len(states), (batch_size,))
        y = None if labels is None else labels[index]
        if adversary is None:
            segment, whole = losses(student, states[index], y, steps)
            loss, note = segment + whole, ""
        else:
            segment, whole, x = losses(student, states[index], y, steps, keep_output=True)
            if adv_fresh:  # the adversarial branch on new noise and digits (D needs no teacher target)
                y = None if labels is None else torch.randint(0, 10, (batch_size,), generator=fresh)
                x = walk(student, torch.randn(x.shape, generator=fresh), y, steps)
            adv = adversary.generator_loss(x, y)
            loss = segment + whole + adv_weight * adv
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if average is not None:  # w_ema <- ema * w_ema + (1 - ema) * w
            torch._foreach_lerp_(list(average.parameters()), list(student.unet.parameters()), 1 - ema)
        if adversary is not None:
            for _ in range(d_steps):  # the same student outputs, fresh real digits
                d_loss, d_real = adversary.step(x, y)
            note = f" adv {adv.item():.3f} D {d_loss:.3f} D(real)>0 {d_real:.2f}"
        step += 1
        if step % 25 == 0 or step == 1:
            print(f"step {step}: segment {segment.item():.4f} whole {whole.item():.4f}{note} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
        if save is not None and save_every and step % save_every == 0:
            save(step, student.unet if average is None else average)
    if average is not None:
        student.unet.load_state_dict(average.state_dict())
    student.unet.eval()
    return step, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", required=True, help="a guided 20-step diffusion checkpoint folder")
    parser.add_argument("--steps", type=int, default=2, choices=(1, 2, 4), help="the student's Euler steps")
    parser.add_argument("--pairs", type=int, default=2048, help="teacher walks to make (fewer if --pair-minutes ends first)")
    parser.add_argument("--pair-minutes", type=float, default=10)
    parser.add_argument("--pairs-file", required=True, nargs="+",
                        help="where the pairs are kept (made once; under /tmp). Several files are pooled; the i-th "
                             f"(from 0) is made from noise seed {PAIR_SEED} + {SEED_STRIDE} i, so each adds new walks")
    parser.add_argument("--minutes", type=float, default=15, help="training time limit")
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--init", help="continue from this student checkpoint (default: start from the teacher)")
    parser.add_argument("--adv-weight", type=float, default=0.0,
                        help="weight of the adversarial term (0, the default: off, pixel MSE only)")
    parser.add_argument("--adv-lr", type=float, default=2e-4, help="the discriminator's learning rate")
    parser.add_argument("--adv-channels", type=int, default=32, help="the discriminator's first conv channels")
    parser.add_argument("--adv-r1", type=float, default=0.0, help="R1 penalty on real images (gamma; 0: none)")
    parser.add_argument("--adv-beta1", type=float, default=0.0, help="the discriminator's Adam beta1")
    parser.add_argument("--d-steps", type=int, default=1, help="discriminator steps per student step")
    parser.add_argument("--d-warmup", type=int, default=0, help="discriminator-only steps before the student's first")
    parser.add_argument("--disc-file", help="keep the discriminator here (loaded if present, written at the end)")
    parser.add_argument("--data-dir", help="MNIST folder for the adversarial term's real (train split) digits")
    parser.add_argument("--ema", type=float, default=0.0,
                        help="decay of a moving average of the student's weights, saved instead of them (0: off)")
    parser.add_argument("--adv-fresh", action="store_true",
                        help="the adversarial term on the student's outputs from new noise and digits, not the pairs'")
    parser.add_argument("--save-every", type=int, default=0, help="also save the student every N steps to OUT-step-N")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    teacher, _ = load_model(args.teacher)
    pairs = pool([load_or_make_pairs(teacher, Path(file), args.pairs, args.pair_minutes, PAIR_SEED + SEED_STRIDE * i)
                  for i, file in enumerate(args.pairs_file)])
    student = student_from(teacher, args.steps)
    if args.init:
        student.unet.load_state_dict(load_model(args.init)[0].sampling_unet.state_dict())
    adversary = None
    if args.adv_weight > 0:
        real = load_dataset("mnist", data_dir=find_data_dir(args.data_dir), split="train", download=False)
        adversary = Adversary(real, teacher.conditional, args.adv_channels, args.adv_lr, args.adv_r1,
                              beta1=args.adv_beta1)
        if args.disc_file and Path(args.disc_file).is_file():
            adversary.load_state_dict(torch.load(args.disc_file))
    teacher_metadata = read_metadata(args.teacher)
    start = time.perf_counter()

    def save(out, unet, steps, seconds):
        """Writes `unet`'s weights as an ordinary checkpoint whose config.json says how it was made."""
        snapshot = student_from(teacher, args.steps)
        snapshot.unet.load_state_dict(unet.state_dict())
        distilled = {
            "teacher": str(args.teacher),
            "teacher_config": teacher_metadata["config"],
            "method": "reflow-style distillation: the student (initialized from the teacher's sampling network) learns "
                      "the guided teacher's 20-step walk from seeded noise, segment by segment and as a whole "
                      f"{args.steps}-step walk (pixel MSE); guidance and guide folded in"
                      + (f"; plus {args.adv_weight:g} x a non-saturating adversarial term (a small conv discriminator on "
                         "MNIST train-split digits against the student's outputs, as in adversarial diffusion distillation)"
                         if args.adv_weight > 0 else ""),
            "pairs": len(pairs["states"]), "pair_seed": pairs["seed"],
            "steps": steps, "seconds": round(seconds, 1), "batch_size": args.batch_size, "lr": args.lr,
            **({"adversarial": {"weight": args.adv_weight, "lr": args.adv_lr, "channels": args.adv_channels,
                                "r1_gamma": args.adv_r1, "beta1": args.adv_beta1, "d_steps": args.d_steps,
                                "d_warmup": args.d_warmup, "real": "MNIST train split", "fresh_noise": args.adv_fresh,
                                "loss": "non-saturating"}} if args.adv_weight > 0 else {}),
            "command": "python benchmarks/distill_diffusion.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        }
        if args.ema:
            distilled["ema"] = args.ema
        if args.init:
            distilled["continued_from"] = read_metadata(args.init).get("distilled")
        out = save_model(snapshot, out, dataset=teacher_metadata.get("dataset"), steps=steps,
                         training=teacher_metadata.get("training"), extra={"distilled": distilled}, overwrite=True)
        print(f"Wrote {out}", flush=True)

    steps, seconds = train(student, pairs, args.minutes, args.batch_size, args.lr, args.max_steps,
                           adversary=adversary, adv_weight=args.adv_weight, d_steps=args.d_steps,
                           d_warmup=args.d_warmup, ema=args.ema, save_every=args.save_every, adv_fresh=args.adv_fresh,
                           save=lambda step, unet: save(f"{args.out}-step-{step}", unet, step,
                                                        time.perf_counter() - start))
    if adversary is not None and args.disc_file:
        Path(args.disc_file).parent.mkdir(parents=True, exist_ok=True)
        torch.save(adversary.state_dict(), args.disc_file)
    save(args.out, student.unet, steps, seconds)


if __name__ == "__main__":
    main()
