"""The live preview of a training run: the same fixed noise decoded now and then, so you watch the
same digits sharpen as the model learns (the DCGAN tutorial's animation, as it happens).

What a preview is (preview_images) and when the training loop draws one (Previews). The engine
gives uint8 images; the CLI and the web app turn them into a picture.
"""

from .sampling import decode, label_tensor, seeded_latents


def preview_count(conditional):
    """Images in the Train tab's live preview: ten rows of one column per digit for a conditional model, else 8 x 8."""
    return 100 if conditional else 64


def preview_images(model, settings):
    """The fixed preview noise decoded: uint8 (N, 28, 28); a conditional model draws digit i % 10 as image i.

    preview_images = 0 turns previews off (e.g. for a model that does not generate, like a classifier).
    """
    n = settings.preview_images
    if n == 0:
        return None
    z = seeded_latents(model, settings.preview_seed, n)
    return decode(model, z, label_tensor(model, None, n))


def preview_columns(model):
    """A conditional model's preview shows one column per digit; None: a square grid."""
    return model.config.num_classes if getattr(model, "conditional", False) else None


class Previews:
    """When a report carries a preview, and drawing it into the report.

    A preview is due every preview_every steps (the first report has one), or, with preview_seconds,
    whenever that many seconds have passed; but previews are spaced by at least 3x what the last one
    took, so a model slow to sample (784 pixel steps) still spends most of its time learning. An
    inspected step (step mode) always gets one. Times are the run's training clock (train.Clock).
    """

    def __init__(self, settings, first_step, clock):
        self.settings, self.clock = settings, clock
        self.next_step = first_step + settings.log_every  # the first report shows where the run starts from
        self.last_drawn = 0.0  # (training seconds: the run's start)
        self.cost = 0.0  # seconds the last preview took

    def due(self, step, now, inspecting=False):
        """Whether the report of `step`, made at `now` (training seconds), should carry a preview."""
        if inspecting or step >= self.next_step:
            return True
        if self.settings.preview_seconds is None:
            return False
        return now - self.last_drawn >= max(self.settings.preview_seconds, 3 * self.cost)

    def add_to(self, event, model, now):
        """Decode the preview noise into event.preview (with what the model says of it: its diagnostics)."""
        event.preview, event.preview_columns = preview_images(model, self.settings), preview_columns(model)
        if event.preview is not None:  # (a model that previews is a GenerativeModel)
            event.diagnostics = {name: values.numpy() for name, values in model.diagnostics().items()}
        model.train()  # (the steps go on in train mode)
        self.last_drawn = self.clock.seconds()
        self.cost = self.last_drawn - now
        self.next_step = event.step + self.settings.preview_every
