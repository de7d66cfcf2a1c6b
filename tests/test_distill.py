"""Few-step diffusion by distillation (benchmarks/distill_diffusion.py): the student is an ordinary
diffusion checkpoint (no guide, guidance 1, 1 to 4 steps) that loads like any other, and a seed
fixes its digits. A tiny random teacher keeps this fast; the shipped students are checked in
test_pretrained.py like every other checkpoint folder."""

import numpy as np
import torch

from benchmarks import distill_diffusion
from genai.checkpoints import load_model, read_metadata, save_model
from genai.model_card import distilled_lines
from genai.models.diffusion import DiffusionConfig, FlowMatchingUNet
from genai.sampling import sample


def tiny_teacher(folder, conditional):
    torch.manual_seed(0)
    plain = FlowMatchingUNet(DiffusionConfig(channels=8, conditional=conditional, ema_decay=0.999))
    guide = FlowMatchingUNet(DiffusionConfig(channels=8, conditional=conditional))
    teacher = plain.with_guide(guide, 2.0)
    teacher.config.guidance_t_min, teacher.config.guidance_t_max = 0.3, 0.8
    save_model(teacher, folder, dataset="mnist")
    return teacher


def test_the_student_starts_as_the_teachers_sampling_network_without_guide_or_guidance():
    torch.manual_seed(0)
    teacher = FlowMatchingUNet(DiffusionConfig(channels=8, conditional=True, ema_decay=0.999))
    student = distill_diffusion.student_from(teacher, 2)
    assert (student.config.sampling_steps, student.config.guidance_scale, student.guide) == (2, 1.0, None)
    x, t, y = torch.randn(3, 1, 28, 28), torch.rand(3), torch.tensor([1, 2, 3])
    with torch.no_grad():
        assert torch.equal(student.sampling_unet(x, t, y), teacher.sampling_unet(x, t, y))


def test_a_distilled_student_loads_like_any_checkpoint_and_a_seed_fixes_its_digits(tmp_path):
    for conditional, steps in ((True, 2), (False, 1)):
        name = f"c{int(conditional)}"
        tiny_teacher(tmp_path / f"{name}-teacher", conditional)
        out = tmp_path / f"{name}-fast"
        distill_diffusion.main(["--teacher", str(tmp_path / f"{name}-teacher"), "--steps", str(steps),
                                "--pairs", "4", "--pairs-file", str(tmp_path / f"{name}.pt"),
                                "--max-steps", "2", "--batch-size", "4", "--out", str(out)])
        student, metadata = load_model(out)
        assert metadata["distilled"]["teacher"] == str(tmp_path / f"{name}-teacher")
        assert metadata["distilled"]["command"].startswith("python benchmarks/distill_diffusion.py --teacher")
        assert student.config.sampling_steps == steps and student.guide is None
        card = distilled_lines(metadata)  # a model card says it is distilled, from what and how
        assert card[0].startswith(f"- Distilled to {steps} sampling step") and "- The teacher's own training:" in card
        first = sample(student, seed=42, n=4)
        assert np.array_equal(first, sample(student, seed=42, n=4))
        assert np.array_equal(first, sample(load_model(out)[0], seed=42, n=4))  # and after loading again
        assert not np.array_equal(first, sample(student, seed=43, n=4))


def test_with_ema_the_saved_student_is_the_average_of_its_weights_and_loads_like_any_checkpoint(tmp_path):
    teacher = tiny_teacher(tmp_path / "teacher", conditional=True)
    args = ["--teacher", str(tmp_path / "teacher"), "--steps", "2", "--pairs", "4", "--pairs-file",
            str(tmp_path / "pairs.pt"), "--max-steps", "4", "--batch-size", "4", "--lr", "1e-2"]
    distill_diffusion.main(args + ["--out", str(tmp_path / "raw")])
    distill_diffusion.main(args + ["--ema", "0.5", "--save-every", "2", "--out", str(tmp_path / "ema")])
    raw, _ = load_model(tmp_path / "raw")  # the same steps (seeded), without the average
    averaged, metadata = load_model(tmp_path / "ema")
    assert metadata["distilled"]["ema"] == 0.5 and averaged.config.sampling_steps == 2
    start, trained = teacher.sampling_unet.state_dict(), raw.unet.state_dict()
    moved = [name for name, weight in trained.items() if not torch.equal(weight, start[name])]
    assert moved
    for name in moved:
        weight = averaged.unet.state_dict()[name]
        assert not torch.equal(weight, trained[name])  # the average lags behind the weights
        assert not torch.equal(weight, start[name])  # but has moved
    for step in (2, 4):  # saved along the way, beside OUT
        assert load_model(tmp_path / f"ema-step-{step}")[0].config.sampling_steps == 2
    assert np.array_equal(sample(averaged, seed=1, n=4), sample(load_model(tmp_path / "ema-step-4")[0], seed=1, n=4))


def test_the_adversarial_term_can_judge_outputs_from_fresh_noise(tmp_path):
    from types import SimpleNamespace

    teacher = tiny_teacher(tmp_path / "teacher", conditional=True)
    pairs = distill_diffusion.make_pairs(teacher, 4, minutes=1)
    real = SimpleNamespace(images=torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8), labels=torch.arange(8))
    weights = []
    for fresh in (False, True):
        student = distill_diffusion.student_from(teacher, 2)
        adversary = distill_diffusion.Adversary(real, conditional=True, channels=4)
        assert distill_diffusion.train(student, pairs, 1, 4, 1e-2, 2, adversary=adversary, adv_weight=1.0,
                                       adv_fresh=fresh)[0] == 2
        weights.append(torch.cat([w.flatten() for w in student.unet.parameters()]))
    assert not torch.equal(*weights)  # other outputs judged, other steps taken


def test_several_pairs_files_are_pooled_each_with_new_walks_from_its_own_seed(tmp_path):
    tiny_teacher(tmp_path / "teacher", conditional=True)
    files = [str(tmp_path / "a.pt"), str(tmp_path / "b.pt")]
    distill_diffusion.main(["--teacher", str(tmp_path / "teacher"), "--steps", "2", "--pairs", "4", "--pairs-file",
                            *files, "--max-steps", "1", "--batch-size", "4", "--out", str(tmp_path / "fast")])
    first, second = (torch.load(file) for file in files)
    assert (first["seed"], second["seed"]) == (distill_diffusion.PAIR_SEED,
                                               distill_diffusion.PAIR_SEED + distill_diffusion.SEED_STRIDE)
    assert not torch.equal(first["states"], second["states"])  # other noise: other walks
    assert torch.equal(first["states"], distill_diffusion.make_pairs(load_model(tmp_path / "teacher")[0], 4, 1)["states"])
    distilled = read_metadata(tmp_path / "fast")["distilled"]
    assert distilled["pairs"] == 8 and distilled["pair_seed"] == [first["seed"], second["seed"]]
