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
    "mode-collapse": {
        "title": "GAN mode collapse: a discriminator that learns too slowly",
        "family": "gan",
        "changes": {"conditional": False, "d_lr_ratio": 0.01, "seconds": 40},
        "explanation": "D learns 100 times slower than G, so G keeps finding the one picture D likes best and draws "
                       "it for every z: the samples turn into copies of one smudge, not even a digit (mode collapse). "
                       "The cure is the next demonstration: the same run with D learning as fast as G, which "
                       "punishes the copies, so G spreads out over many digits.",
    },
    "mode-collapse-cure": {
        "title": "GAN mode collapse, cured: D keeps up with G",
        "family": "gan",
        "changes": {"conditional": False, "d_lr_ratio": 1.0, "seconds": 40},
        "explanation": "The same run as the mode-collapse demonstration, but D learns as fast as G. A D that keeps "
                       "up soon calls any picture G repeats fake, so G cannot settle on one: the samples stay "
                       "varied and become many different digits.",
    },
    "strong-discriminator": {
        "title": "GAN with a discriminator too strong: G stops learning",
        "family": "gan",
        "changes": {"conditional": False, "lr": 1e-5, "d_lr_ratio": 100.0, "seconds": 30},
        "explanation": "D learns 100 times faster than G and soon tells every fake apart: D(x) goes to 1, D(G(z)) "
                       "to 0, L_D falls to 0 and L_G climbs, and the histogram shows two humps pushed apart. "
                       "G's samples stay noise; with both at the recipe's rate (learning rate 0.001, D's ratio 1) "
                       "the game stays balanced and digits appear.",
    },
}


def preset(name):
    """The full settings of a preset: its family's recipe with the preset's changes (a copy)."""
    if name not in PRESETS:
        raise KeyError(f"Unknown preset {name!r}: choose one of {', '.join(PRESETS)}.")
    entry = PRESETS[name]
    return {**recipe(entry["family"]), **entry["changes"]}
