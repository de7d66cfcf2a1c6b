"""How images look inside genai, and the two conversions between the forms.

    uint8 (N, 28, 28), 0..255       what datasets hold, what is drawn and saved (0 = black background)
    float (N, 1, 28, 28), 0.0..1.0  what models take and give (1 = white ink)

    x = to_unit(dataset.images[:64])      # for a model
    pixels = to_uint8(model.generate(z))  # for a picture
"""

import torch


def to_unit(images):
    """uint8 (N, 28, 28) in 0..255, or float (N, 1, 28, 28) in [0, 1], tensor or numpy -> float (N, 1, 28, 28) in [0, 1]."""
    images = torch.as_tensor(images)
    if images.dtype == torch.uint8:
        images = images.float() / 255
    if images.dim() == 2:
        images = images.unsqueeze(0)
    if images.dim() == 3:
        images = images.unsqueeze(1)
    return images.float()


def to_uint8(images):
    """Float images in [0, 1], shape (N, 1, 28, 28) -> uint8 numpy (N, 28, 28)."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).squeeze(1).cpu().numpy()
