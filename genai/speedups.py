"""The speed-up that pays for these small models on a GPU: larger batches, with a larger learning rate.

On a GPU one step of these models is a few hundred tiny kernels, and the GPU spends most of its
time waiting for Python to launch the next one. A larger batch does the same number of launches
for many more images, so it multiplies the images per second (figures in docs/benchmarks.md;
python -m benchmarks.speedups measures them), and the GAN recipe takes it on CUDA
(recipes.GPU_RECIPES). Lower precision (bfloat16) and torch.compile were measured too and did not
pay for networks this small, so the training loop offers neither.

A larger batch takes fewer steps per epoch, so the learning rate usually grows with it. The
square-root rule (Krizhevsky 2014; Hoffer et al. 2017) keeps the noise of each update about the
same: the variance of a batch's mean gradient falls as 1 / batch, so its standard deviation as
1 / sqrt(batch), and the step grows by the same factor:

    lr(batch) = lr(64) * sqrt(batch / 64)
"""

import math


def scaled_lr(lr, batch_size, base_batch_size=64):
    """The square-root rule: lr * sqrt(batch_size / base_batch_size)."""
    return lr * math.sqrt(batch_size / base_batch_size)
