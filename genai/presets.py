"""Demonstrations: settings that show a known behaviour of a model in well under a minute on a CPU.

Each preset is the family's recipe with a few settings changed, and two sentences saying what to
look for. The Train tab offers them; tests/test_presets.py checks that each one really does what
it promises on a short run.
"""

from .recipes import recipe

PRESETS = {
    "beta-zero": {
        "title": "VAE with β = 0: an autoencoder that cannot draw",
        "family": "vae",
        "changes": {"conditional": False, "beta": 0.0, "latent_dim": 16, "seconds": 20},
        "explanation": "With β = 0 nothing pulls the codes towards N(0, I): reconstructions get sharp, but the "
                       "codes of real digits end up far from where sampling looks, so the samples are smudges. "
                       "Compare with β = 1 (the true ELBO): the samples become digits.",
    },
    "beta-large": {
        "title": "VAE with β = 20: blurry digits and posterior collapse",
        "family": "vae",
        "changes": {"conditional": False, "beta": 20.0, "latent_dim": 16, "seconds": 20},
        "explanation": "A large β makes every code cost too much, so the encoder gives up and sends almost nothing "
                       "(the KL curve falls to about 0): every sample is the same blurry average digit. "
                       "Lower β (3, then 1) and the codes start to carry the digit again.",
    },
}


def preset(name):
    """The full settings of a preset: its family's recipe with the preset's changes (a copy)."""
    if name not in PRESETS:
        raise KeyError(f"Unknown preset {name!r}: choose one of {', '.join(PRESETS)}.")
    entry = PRESETS[name]
    return {**recipe(entry["family"]), **entry["changes"]}
