"""The default recipe of each model family: ONE table for the Train tab and the CLI.

A run is budgeted in seconds, not epochs: a learner cannot know how long an epoch of a
dataset takes on their machine, but "train for a minute" means the same everywhere.
These recipes are picked so that digits become readable quickly on a 2-core CPU
(measured by benchmarks/time_to_quality.py; figures in docs/benchmarks.md).
"""

RECIPES = {
    "gan": {"arch": "mlp", "conditional": False, "latent_dim": 100, "batch_size": 64, "lr": 2e-4, "seconds": 60},
    "vae": {"arch": "mlp", "conditional": False, "latent_dim": 20, "batch_size": 64, "lr": 1e-3, "beta": 1.0,
            "seconds": 20},
}


# Recipe entries that describe the model (its config.json); the others describe the run.
MODEL_OPTIONS = ("conditional", "latent_dim", "beta", "ema_decay")


def recipe(family):
    """The default settings of a family (a copy: change it freely)."""
    return dict(RECIPES[family])


def model_options(options):
    """The entries of a recipe (or of options built from one) that go to create_model()."""
    return {name: options[name] for name in MODEL_OPTIONS if name in options}
