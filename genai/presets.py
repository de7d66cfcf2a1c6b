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
    # The two mode-collapse runs differ in the size of G's noise only. They pin D's ratio, the batch and the
    # learning rate because a CUDA device's recipe changes those (recipes.GPU_RECIPES), and the behaviour
    # was measured at the CPU recipe's (docs/benchmarks.md, "Demonstrations (issue 41 item 4)").
    "mode-collapse": {
        "title": "GAN mode collapse: one number of noise, a few digits",
        "family": "gan",
        "changes": {"conditional": False, "latent_dim": 1, "d_lr_ratio": 1.0, "batch_size": 64, "lr": 1e-3,
                    "seconds": 40},
        "explanation": "G gets a single number of noise instead of 100, so all its pictures lie on one line, and "
                       "between two digits that line runs through blends D rejects: G bunches the noise onto a few "
                       "pictures and draws them for every z (mode collapse). The grid fills with copies of three or "
                       "four shapes; the digit bars under it (the classifier's reading) stand on the one to three "
                       "of them it reads as digits (often a 1) and on \"?\" for the rough rest, never on ten. The "
                       "cure is the next demonstration: the same run with 100 numbers of noise.",
    },
    "mode-collapse-cure": {
        "title": "GAN mode collapse, cured: room in the noise",
        "family": "gan",
        "changes": {"conditional": False, "latent_dim": 100, "d_lr_ratio": 1.0, "batch_size": 64, "lr": 1e-3,
                    "seconds": 40},
        "explanation": "The same run as the mode-collapse demonstration, but G's noise has 100 numbers: G can give "
                       "every digit its own corner of the noise instead of one line through them all, so the "
                       "samples stay varied. Within the run the digit bars spread over eight digits or more.",
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
