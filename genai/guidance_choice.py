"""Choose a conditional diffusion model's guidance scale after training, on training images only.

Classifier-free guidance (genai/models/diffusion.py) trades variety for clarity: at scale 1 the
model draws what it learned, plainly conditional; larger scales push each sample towards what
makes the digit most obviously itself, so the digits get cleaner but more alike. The distance
between the samples and real digits (classifier-FID) is lowest somewhere in between. That place
is chosen here against images of the **train split**: the test split stays for the figures
reported afterwards (`eval`), so the choice cannot flatter them.
"""

from .metrics import classifier_fid
from .models import ModelError
from .models.settings_check import ConfigFieldError, check_value

REFERENCE_IMAGES = 10_000  # the first this many training digits are the reference


def fid_by_guidance(model, train_images, scales, n=2000, seed=0):
    """{scale: classifier-FID of n samples (this seed) against train_images}, for each guidance scale.

    The model's own setting is put back afterwards.
    """
    if "guidance_scale" not in model.sampling_options or not model.config.conditional:
        raise ModelError(f"{model.describe()} has no guidance scale: only conditional diffusion models have one.")
    for scale in scales:
        try:
            check_value("guidance_scale", scale)
        except ConfigFieldError as error:
            raise ModelError(str(error)) from None
    kept = model.config.guidance_scale
    try:
        results = {}
        for scale in scales:
            model.config.guidance_scale = float(scale)
            results[float(scale)] = classifier_fid(model, train_images, n=n, seed=seed)
        return results
    finally:
        model.config.guidance_scale = kept


def best_scale(fids):
    """The scale with the lowest FID (the smaller scale on a tie)."""
    return min(sorted(fids), key=lambda scale: fids[scale])
