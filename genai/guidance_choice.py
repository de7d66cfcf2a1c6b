"""Choose a diffusion model's guidance scale after training, on training images only.

Guidance (genai/models/diffusion.py) trades variety for clarity: at scale 1 the model draws what
it learned; larger scales push each sample away from a weaker prediction (a conditional model's
unconditional answer, or the answer of the guide UNet a model was given), so the digits get
cleaner but more alike. The distance
between the samples and real digits (classifier-FID) is lowest somewhere in between. That place
is chosen here against images of the **train split**: the test split stays for the figures
reported afterwards (`eval`), so the choice cannot flatter them.

An interval of t can be given too (guidance only while t_min < t <= t_max; see
genai/models/diffusion.py): every scale is then measured with guidance limited to it.

A floor on clarity can be given too (min_recognizable): the lowest-FID scale among those whose
samples the metrics classifier reads at least that share of the time with >= 90% confidence,
measured on the same samples (they do not depend on the split, so this too leaves the test
split alone).
"""

from .metrics import classifier_features, classifier_probabilities, confident_share, frechet_distance, generate_images
from .models import ModelError
from .models.settings_check import check_value
from .settings import SettingsError

REFERENCE_IMAGES = 10_000  # the first this many training digits are the reference


def fid_by_guidance(model, train_images, scales, n=2000, seed=0, interval=None):
    """{scale: classifier-FID of n samples (this seed) against train_images}, for each guidance scale."""
    return {scale: figures["fid"] for scale, figures in
            figures_by_guidance(model, train_images, scales, n=n, seed=seed, interval=interval).items()}


def figures_by_guidance(model, train_images, scales, n=2000, seed=0, interval=None):
    """{scale: {"fid": classifier-FID against train_images, "recognizable": share read with >= 90% confidence}},
    both of the same n samples (this seed), for each guidance scale.

    interval: (t_min, t_max) to guide only there, or None for the model's own. The model's own
    settings are put back afterwards.
    """
    if "guidance_scale" not in model.sampling_options:
        raise ModelError(f"{model.describe()} has no guidance scale: only conditional diffusion models, and ones given a "
                         f"guide (`python -m genai add-guide`), have one.")
    for scale in scales:
        try:
            check_value("guidance_scale", scale)
        except SettingsError as error:
            raise ModelError(str(error)) from None
    if interval is not None:
        check_interval(*interval)
    config = model.config
    kept = config.guidance_scale, config.guidance_t_min, config.guidance_t_max
    try:
        if interval is not None:
            config.guidance_t_min, config.guidance_t_max = map(float, interval)
        results = {}
        reference = classifier_features(train_images)  # once: the same real digits for every scale
        for scale in scales:
            model.config.guidance_scale = float(scale)
            samples = generate_images(model, n, seed)
            results[float(scale)] = {"fid": frechet_distance(classifier_features(samples), reference),
                                     "recognizable": confident_share(classifier_probabilities(samples))}
        return results
    finally:
        config.guidance_scale, config.guidance_t_min, config.guidance_t_max = kept


def check_interval(t_min, t_max):
    """ModelError unless 0 <= t_min < t_max <= 1."""
    try:
        check_value("guidance_t_min", t_min)
        check_value("guidance_t_max", t_max)
    except SettingsError as error:
        raise ModelError(str(error)) from None
    if not t_min < t_max:
        raise ModelError(f"The guidance interval is t_min < t <= t_max, so t_min must be below t_max, not {t_min} and {t_max}.")


def best_scale(fids, recognizable=None, min_recognizable=None):
    """The scale with the lowest FID (the smaller scale on a tie). With min_recognizable, only the scales
    whose recognizable share ({scale: share}) reaches it compete; where none does, all of them do."""
    candidates = sorted(fids)
    if min_recognizable is not None:
        candidates = [scale for scale in candidates if recognizable[scale] >= min_recognizable] or candidates
    return min(candidates, key=lambda scale: fids[scale])
