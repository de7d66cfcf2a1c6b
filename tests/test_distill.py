"""Few-step diffusion by distillation (benchmarks/distill_diffusion.py): the student is an ordinary
diffusion checkpoint (no guide, guidance 1, 1 to 4 steps) that loads like any other, and a seed
fixes its digits. A tiny random teacher keeps this fast; the shipped students are checked in
test_pretrained.py like every other checkpoint folder."""

import numpy as np
import torch

from benchmarks import distill_diffusion
from genai.checkpoints import load_model, save_model
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
