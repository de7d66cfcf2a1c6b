"""An autoregressive model: a digit as a sequence of 784 pixels, drawn one pixel at a time.

Read the binarized image (every pixel 0 or 1) row by row, left to right: x_1, x_2, ..., x_784.
Any distribution over images can be written exactly as a product of one-pixel predictions:

    p(x) = p(x_1) * p(x_2 | x_1) * ... * p(x_784 | x_1 ... x_783)

A network predicts each pixel's chance of being ink from the pixels before it, so the exact
negative log-likelihood of an image is a sum of 784 binary cross-entropies, and training
minimizes it directly (maximum likelihood, no bound, no adversary):

    -log p(x) = - sum_i [ x_i log p_i + (1 - x_i) log(1 - p_i) ],   p_i = p(x_i = 1 | x_<i)

Two networks make these predictions here (an architecture each, one family). The first is a
Gated PixelCNN (van den Oord et al. 2016): convolutions that only look at pixels already drawn. Two stacks make that cheap to guarantee without masks:

- the vertical stack sees the rows above (its output is shifted down one row before use);
- the horizontal stack sees the pixels to the left in the current row (shifted right one pixel),
  and takes the vertical stack's view of the rows above at each layer.

Each layer gates its features, tanh(a) * sigmoid(b) (as in an LSTM), and a conditional model
adds the digit's learned vector to the gates.

Training sees all 784 predictions of an image in one pass. Sampling must go pixel by pixel:
784 steps. Both stacks only look back (up, or to the left), so nothing computed for an earlier
pixel ever changes, and each number is computed once: after each row, the vertical stack
computes that one new row at every layer; for each pixel, the horizontal stack computes that one
new column at every layer (the way a language model keeps what it computed for earlier words).
(`forward` and `sample` compute the same numbers: tests/test_autoregressive.py checks it.)

The second is recurrent (RowByRowLSTM below): one LSTM reads the rows above, a second walks along
the row, as PixelRNN's recurrent models do (van den Oord et al. 2016) but simpler.

A seed fixes the digit: the seed's Gaussian noise z (one number per pixel) becomes a uniform
number u = Phi(z), and pixel i is ink when u_i < p_i. With z ~ N(0, 1) that is exact sampling.
Scaling z (the temperature) pulls u towards 1/2: at temperature 0 every pixel takes its more
likely value (greedy), at 1 the model's own randomness.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import FunctionalStep, GenerativeModel, ModelConfig, ModelError, batch_row, embed_labels, report

PIXELS, SIDE = 28 * 28, 28

EXPLANATION = r"""
### What is happening: an autoregressive model

The digit is a sequence of 784 black-or-white pixels, read like text: row by row, left to right.
Any picture's probability is a product of one-pixel guesses,
$p(x) = \prod_i p(x_i \mid x_1, \dots, x_{i-1})$, and a network makes each guess from the pixels
before it. The loss is the **exact** negative log-likelihood, in nats per image:

$$L = -\sum_{i=1}^{784} \log p(x_i \mid x_{<i})$$

Two networks can make the guesses: a **Gated PixelCNN** (convolutions that only look at pixels
already drawn) or a **row-by-row LSTM** (one LSTM reads the rows above, a second walks along the row).

**Reading the curve.** This is the number a likelihood model is judged by: it falls from
543 nats (every pixel a coin flip) towards ~80 for a very good model.
Samples are drawn pixel by pixel, so the preview fills in from the top.

**Conditional**: the network is also told the digit, so you can ask for a 7.
"""


@dataclass
class AutoregressiveConfig(ModelConfig):
    latent_dim: int = PIXELS  # one noise number per pixel: the seed's coin flips
    channels: int = 32  # features per pixel in every layer
    layers: int = 6  # gated layers after the first
    dilation_cycle: int = 3  # the vertical stack's dilations go 1, 2, ..., 2^(cycle - 1), then again; 1: none


def pixel_nll(logits, pixels):
    """-log p(x) per image in nats: the binary cross-entropies of the 784 pixels, summed."""
    return F.binary_cross_entropy_with_logits(logits, pixels, reduction="none").flatten(1).sum(dim=1)


def binarize(images):
    """Pixels in [0, 1] -> 0 or 1 at the threshold 0.5 (the binarized MNIST this model learns and is scored on)."""
    return (images > 0.5).to(images.dtype)


def gate(features):
    """tanh(a) * sigmoid(b), with a and b the two halves of the channels."""
    a, b = features.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


def shift_down(x):
    """Row r gets row r - 1 (row 0 gets zeros): what a pixel may see of the rows above."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]


def shift_right(x):
    """Column c gets column c - 1 (column 0 gets zeros): a pixel never sees itself."""
    return F.pad(x, (1, 0, 0, 0))[:, :, :, :-1]


class GatedLayer(nn.Module):
    """One layer of both stacks. kernel k: the vertical stack sees k//2 + 1 rows (ending at its own),
    k wide, every `dilation`-th row and column (so a few layers reach far up); the horizontal stack
    sees k//2 + 1 pixels of its row, ending at its own."""

    def __init__(self, channels_in, channels, kernel, label_dim, residual, dilation=1):
        super().__init__()
        self.rows, self.columns = kernel // 2 + 1, kernel // 2 + 1
        self.half_width, self.dilation = kernel // 2, dilation
        self.vertical = nn.Conv2d(channels_in, 2 * channels, (self.rows, kernel), dilation=dilation)
        self.horizontal = nn.Conv2d(channels_in, 2 * channels, (1, self.columns))
        self.link = nn.Conv2d(2 * channels, 2 * channels, 1)  # the rows above, into the horizontal stack
        self.out = nn.Conv2d(channels, channels, 1)
        self.label = nn.Linear(label_dim, 2 * channels, bias=False) if label_dim else None
        self.residual = residual

    def vertical_features(self, v):
        """The vertical stack's pre-gate features: row r sees rows r - dilation * k//2 .. r."""
        d = self.dilation
        return self.vertical(F.pad(v, (d * self.half_width, d * self.half_width, d * (self.rows - 1), 0)))

    def label_bias(self, label_vector):
        return 0 if self.label is None else self.label(label_vector)[:, :, None, None]

    def horizontal_step(self, h, above, bias):
        """The horizontal stack: h (N, C, rows, W) and the rows above's features at the same places."""
        features = self.horizontal(F.pad(h, (self.columns - 1, 0, 0, 0))) + self.link(above) + bias
        out = self.out(gate(features))
        return h + out if self.residual else out


class PixelCNN(nn.Module):
    """Gated PixelCNN over binarized 28x28 images: pixels -> one logit per pixel, each from the pixels before it."""

    first_kernel, kernel = 7, 3

    def __init__(self, config):
        super().__init__()
        c = config.channels
        label_dim = c if config.conditional else 0
        self.labels = nn.Embedding(config.num_classes, c) if config.conditional else None
        kernels = [self.first_kernel] + [self.kernel] * config.layers
        # Dilations 1, 2, 4, 1, 2, 4, ... (dilation_cycle 3): the rows above reach 3 + 2 + 4 + 8 + ... rows
        # up instead of one more per layer, at no extra cost per layer.
        dilations = [1] + [2 ** (i % config.dilation_cycle) for i in range(config.layers)]
        self.layers = nn.ModuleList(
            GatedLayer(1 if i == 0 else c, c, k, label_dim, residual=i > 0, dilation=d)
            for i, (k, d) in enumerate(zip(kernels, dilations))
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 1), nn.ReLU(), nn.Conv2d(c, 1, 1))
        # How many rows up a pixel's prediction reaches (what the dilations buy).
        self.rows_reach = sum(layer.dilation * (layer.rows - 1) for layer in self.layers) + 1
        self.left = max(layer.columns for layer in self.layers) - 1  # how far left of a pixel the widest layer reads

    def label_vector(self, labels):
        return None if self.labels is None or labels is None else embed_labels(self.labels, labels)

    def rows_above(self, x, label_vector):
        """For every layer, the vertical stack's view of the rows above each pixel: list of (N, 2C, H, W)."""
        views, v = [], x
        for layer in self.layers:
            features = layer.vertical_features(v) + layer.label_bias(label_vector)
            views.append(shift_down(features))
            v = gate(features)
        return views

    def horizontal(self, x, views, label_vector):
        """Logits (N, 1, H, W) from the pixels to the left (x) and the rows above (views)."""
        h = shift_right(x)
        for layer, above in zip(self.layers, views):
            h = layer.horizontal_step(h, above, layer.label_bias(label_vector))
        return self.head(h)

    def forward(self, x, labels=None):
        """All 784 logits at once (training, likelihood): x (N, 1, 28, 28) in {0, 1}."""
        label_vector = self.label_vector(labels)
        return self.horizontal(x, self.rows_above(x, label_vector), label_vector)

    @torch.no_grad()
    def sample(self, uniform, labels=None, on_pixel=None):
        """Draw images pixel by pixel: pixel (r, c) is ink when uniform[:, r, c] < p(ink | pixels before);
        on_pixel(image, index): called after each pixel."""
        for x in self.rows(uniform, labels, on_pixel):
            pass
        return x

    def rows(self, uniform, labels=None, on_pixel=None):
        """sample(), yielding the images after each row is drawn (one tensor, filled in place).

        Computes exactly what forward() would, but each number only once. Both stacks only look
        back, so what was computed for earlier pixels never changes: after each row, the vertical
        stack computes that one row at every layer (from the rows kept below it); for each pixel,
        the horizontal stack computes that one column at every layer (from the columns kept to
        its left). on_pixel(image, index): called after each pixel.
        """
        n, device = uniform.shape[0], uniform.device
        x = torch.zeros(n, 1, SIDE, SIDE, device=device)
        label_vector = self.label_vector(labels)
        biases = [layer.label_bias(label_vector) for layer in self.layers]
        columns = self.column_steps()
        # What each layer's vertical convolution reads, row by row: x itself, then the gated rows below it.
        vertical_inputs = [x] + [x.new_zeros(n, layer.out.in_channels, SIDE, SIDE) for layer in self.layers[:-1]]
        above = [x.new_zeros(n, layer.link.in_channels, 1, SIDE) for layer in self.layers]  # row 0 sees nothing
        # What each layer's horizontal convolution reads in the current row, one column after another:
        # (N, left + W, C), column c at left + c, after `left` zero columns (what a read before the row's
        # start sees). Channels last, so the few columns a layer reads are one stretch of memory.
        row_inputs = [x.new_zeros(n, self.left + SIDE, layer.horizontal.in_channels) for layer in self.layers]
        for r in range(SIDE):
            if r > 0:
                above = self.vertical_row(vertical_inputs, r - 1, biases)
            # The rows above, as seen by each layer's horizontal stack, plus its bias: (N, W, 2C).
            links = [(layer.link(view) + bias)[:, :, 0].transpose(1, 2) + layer.horizontal.bias
                     for layer, view, bias in zip(self.layers, above, biases)]
            for c in range(SIDE):
                ink = uniform[:, r, c] < torch.sigmoid(self.horizontal_column(row_inputs, links, c, columns))
                x[:, 0, r, c] = ink
                if c + 1 < SIDE:
                    row_inputs[0][:, self.left + c + 1, 0] = ink  # the first layer sees x shifted right
                if on_pixel is not None:
                    on_pixel(x, r * SIDE + c)
            yield x

    def vertical_row(self, inputs, row, biases):
        """The vertical stack's features of one row at every layer, from the rows at and above it:
        a list of (N, 2C, 1, W); each layer's gated row is kept in inputs[layer + 1] for the next row."""
        features_of_row = []
        for i, (layer, bias) in enumerate(zip(self.layers, biases)):
            d, reach = layer.dilation, layer.dilation * (layer.rows - 1)
            band = inputs[i][:, :, max(0, row - reach):row + 1]
            band = F.pad(band, (d * layer.half_width, d * layer.half_width, reach + 1 - band.shape[2], 0))
            features = layer.vertical(band) + bias  # (N, 2C, 1, W)
            features_of_row.append(features)
            if i + 1 < len(self.layers):
                inputs[i + 1][:, :, row] = gate(features)[:, :, 0]
        return features_of_row

    def column_steps(self):
        """The horizontal stack's and the head's convolutions as matrices for one column at a time.

        A convolution evaluated at one place is a matrix product with its flattened kernel, and on
        a single column a matrix product is many times faster than conv2d (built for whole images).
        The horizontal kernel (2C, C_in, 1, width) is laid out (width * C_in, 2C) to match the
        channels-last window it multiplies; its bias is already in the links.
        """
        def window_matrix(conv):
            return conv.weight[:, :, 0].permute(2, 1, 0).reshape(-1, conv.out_channels).contiguous()

        def matrix(conv):
            return conv.bias, conv.weight.flatten(1).t().contiguous()

        layers = [(layer.columns, window_matrix(layer.horizontal), matrix(layer.out), layer.residual)
                  for layer in self.layers]
        return layers, [matrix(self.head[1]), matrix(self.head[3])]

    def horizontal_column(self, inputs, links, column, steps):
        """The logit of one pixel of the current row: the horizontal stack at that column, layer after
        layer, then the head. Each layer's output is kept in inputs[layer + 1] for the columns to its right."""
        layers, head = steps
        at = self.left + column
        for i, (width, horizontal, (out_bias, out), residual) in enumerate(layers):
            window = inputs[i][:, at - width + 1:at + 1].flatten(1)  # (N, width * C_in), no copy
            a, b = torch.addmm(links[i][:, column], window, horizontal).chunk(2, dim=1)
            h = torch.addmm(out_bias, torch.tanh(a).mul_(torch.sigmoid(b)), out)  # gate, then the 1x1 conv
            if residual:
                h += inputs[i][:, at]
            if i + 1 < len(layers):
                inputs[i + 1][:, at] = h
        for bias, weights in head:  # ReLU, 1x1 conv, ReLU, 1x1 conv
            h = torch.addmm(bias, torch.relu(h), weights)
        return h[:, 0]


class AutoregressiveModel(GenerativeModel):
    """The family's logic, for any network that gives each pixel's logit from the pixels before it.

    A subclass builds `self.network` (forward(x, labels) -> logits (N, 1, 28, 28), all at once;
    sample(uniform, labels, on_pixel) -> images, pixel by pixel).
    """

    family = "autoregressive"
    good_for = "an exact likelihood; slow: pixel by pixel"
    draws_in_one_pass = False
    # Each pixel is drawn from its own share of the seed's noise, after the pixels above it: two nearby
    # seeds agree on nothing in particular, so the frames of a walk jump between unrelated digits.
    seed_walk_note = ("draws pixel by pixel, each pixel from its own noise, so the frames of a walk between two "
                      "seeds jump between unrelated digits instead of morphing. For a smooth walk choose a GAN, "
                      "a VAE or a diffusion model")
    default_lr = 1e-3
    loss_names = ("NLL",)
    plotted_losses = ("NLL",)
    explanation = EXPLANATION
    loss_functions = (pixel_nll,)  # shown beside the formulas in the Train tab

    def __init__(self, config):
        if config.latent_dim != PIXELS:
            raise ModelError(f"An autoregressive model draws one noise number per pixel: latent_dim must be "
                             f"{PIXELS}, not {config.latent_dim}.")
        super().__init__(config)

    @property
    def network(self):
        """The network that makes the one-pixel predictions (each arch names its own attribute)."""
        raise NotImplementedError

    def configure_optimizers(self, lr):
        return {"network": self.adam(self.parameters(), lr)}

    def training_step(self, images, labels, optimizers, rng):
        """One step of maximum likelihood on the binarized images (nothing random: rng is unused)."""
        x = binarize(images)
        loss = pixel_nll(self.network(x, labels), x).mean()
        optimizers["network"].zero_grad(set_to_none=True)
        loss.backward()
        optimizers["network"].step()
        return {"NLL": loss.detach()}

    def functional_step(self):
        """training_step as pure functions (genai/stacked.py): nothing random to draw, then the one update."""
        return FunctionalStep(noise=AutoregressiveModel.step_noise,
                              updates=(("network", AutoregressiveModel.update_loss),))

    def step_noise(self, images, labels, rng):
        """What training_step draws at random: nothing (maximum likelihood needs no noise)."""
        return ()

    def update_loss(self, images, labels, noise):
        """training_step's loss as a pure function of the weights: (the mean -log p(x), losses)."""
        x = binarize(images)
        loss = pixel_nll(self.network(x, labels), x).mean()
        return loss, {"NLL": loss.detach()}

    def inspect_batch(self, images, labels, rng):
        """One batch scored, nothing updated: each digit's -log p(x), and p(ink) of every pixel given those before."""
        x = binarize(images)
        logits = self.network(x, labels)
        nll = pixel_nll(logits, x)
        return report(
            {"NLL": nll.mean()},
            batch_row("Binarized digits x, and -log p(x) of each, in nats", x, {"NLL": nll}),
            batch_row("p(ink) of each pixel, given the pixels before it", torch.sigmoid(logits)),
        )

    @torch.no_grad()
    def generate(self, z, labels=None, on_pixel=None):
        """Noise (N, 784) -> binary images (N, 1, 28, 28): pixel i is ink when Phi(z_i) < p(ink | pixels before)."""
        labels = self.check_labels(labels, z.shape[0], z.device)
        uniform = torch.special.ndtr(z.reshape(-1, SIDE, SIDE))
        return self.network.sample(uniform, labels, on_pixel)

    def sampling_passes(self, **options):
        """One step of the network for each of the 784 pixels, in turn."""
        return PIXELS

    @torch.no_grad()
    def generate_in_parts(self, z, labels=None):
        """generate(), yielding the images after each row: the rows drawn so far, the rest grey (0.5)."""
        labels = self.check_labels(labels, z.shape[0], z.device)
        uniform = torch.special.ndtr(z.reshape(-1, SIDE, SIDE))
        for row, x in enumerate(self.network.rows(uniform, labels)):
            part = x.clone()
            part[:, :, row + 1:] = 0.5
            yield part

    @torch.no_grad()
    def drawing_frames(self, z, labels=None, count=16):
        """The images filling in pixel by pixel, at about `count` moments; pixels not drawn yet are grey."""
        every = max(1, PIXELS // max(count - 1, 1))
        frames = [torch.full((z.shape[0], 1, SIDE, SIDE), 0.5, device=z.device)]

        def snapshot(x, index):
            if (index + 1) % every == 0 and index + 1 < PIXELS:
                frame = x.clone().flatten(1)
                frame[:, index + 1:] = 0.5
                frames.append(frame.reshape(x.shape))

        frames.append(self.generate(z, labels, on_pixel=snapshot))
        return frames

    @torch.no_grad()
    def likelihood(self, images, labels=None, seed=0, batch_size=500):
        """The exact negative log-likelihood in nats per image (lower is better) of images in {0, 1}.

        -log p(x) = sum over the 784 pixels of -log p(x_i | x_<i): no bound, no sampling (seed unused).
        `eval` passes the test images binarized at 0.5.
        """
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        total = 0.0
        for i in range(0, len(images), batch_size):
            x = binarize(images[i:i + batch_size].to(device))
            y = None if labels is None else torch.as_tensor(labels[i:i + batch_size])
            y = self.check_labels(y, len(x), device)
            total += float(pixel_nll(self.network(x, y), x).sum())
        self.train(was_training)
        return {"nll_nats": total / len(images), "likelihood": LIKELIHOOD}


class GatedPixelCNN(AutoregressiveModel):
    """A Gated PixelCNN on binarized digits: exact likelihood, sampled one pixel at a time."""

    arch = "pixelcnn"
    title = "Gated PixelCNN"
    Config = AutoregressiveConfig

    def __init__(self, config):
        super().__init__(config)
        self.pixelcnn = PixelCNN(config)

    @property
    def network(self):
        return self.pixelcnn


@dataclass
class RowLSTMConfig(ModelConfig):
    latent_dim: int = PIXELS  # one noise number per pixel: the seed's coin flips
    hidden_size: int = 128  # the memory of each LSTM (numbers it carries from step to step)


class RowByRowLSTM(nn.Module):
    """Two LSTMs that read a digit the way one writes it: line by line, and along each line.

    - The row LSTM reads the rows one after another. Before row r it has read rows 0 .. r-1: its
      output s_r is a summary of everything above row r.
    - The pixel LSTM walks along row r, left to right. At pixel (r, c) it reads the pixel drawn just
      before (r, c-1), the three pixels above (r-1, c-1 .. c+1) and the summary s_r, and its memory
      holds what it drew so far in this row. A small head turns its output into the logit of p(ink).

    Each prediction sees only pixels before it (rows above, and the pixels to its left), so the
    likelihood is exact, as for the PixelCNN. Training runs both LSTMs over whole sequences at once
    (the pixel LSTM over all 28 rows of all images side by side); sampling steps them one row, then
    one pixel, at a time, keeping each LSTM's memory (h, c) between steps.
    A conditional model gives both LSTMs the digit's learned vector as well.
    """

    label_dim = 16

    def __init__(self, config):
        super().__init__()
        h = config.hidden_size
        extra = self.label_dim if config.conditional else 0
        self.labels = nn.Embedding(config.num_classes, extra) if config.conditional else None
        self.row_lstm = nn.LSTM(SIDE + extra, h, batch_first=True)
        self.pixel_lstm = nn.LSTM(4 + h + extra, h, batch_first=True)
        self.head = nn.Sequential(nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 1))

    def label_vector(self, labels, n, device):
        if self.labels is None or labels is None:
            return torch.zeros(n, 0, device=device)
        return embed_labels(self.labels, labels)

    @staticmethod
    def neighbours(x):
        """For every pixel of x (N, 28, 28): the pixel to its left and the three above it, (N, 28, 28, 4)
        (zeros beyond the edges): all a pixel may see of its surroundings, since they come before it."""
        left = F.pad(x, (1, 0))[:, :, :-1]
        above = F.pad(x, (1, 1, 1, 0))[:, :-1]  # (N, 28, 30): row r holds row r - 1, padded left and right
        return torch.stack([left, above[:, :, :-2], above[:, :, 1:-1], above[:, :, 2:]], dim=-1)

    def forward(self, x, labels=None):
        """All 784 logits at once (training, likelihood): x (N, 1, 28, 28) in {0, 1}."""
        n, rows = x.shape[0], x[:, 0]
        label = self.label_vector(labels, n, x.device)
        rows_before = F.pad(rows, (0, 0, 1, 0))[:, :-1]  # step r reads row r - 1 (row 0 reads zeros)
        # The LSTMs run in float32 even inside a caller's bfloat16 autocast: the CPU has no bfloat16 LSTM.
        with torch.autocast(x.device.type, enabled=False):
            summaries, _ = self.row_lstm(torch.cat([rows_before, label[:, None].expand(n, SIDE, -1)], dim=2).float())
            inputs = torch.cat([self.neighbours(rows), summaries[:, :, None].expand(n, SIDE, SIDE, -1),
                                label[:, None, None].expand(n, SIDE, SIDE, -1)], dim=3)
            outputs, _ = self.pixel_lstm(inputs.reshape(n * SIDE, SIDE, -1).float())  # every row of every image at once
        return self.head(outputs).reshape(n, 1, SIDE, SIDE)

    @torch.no_grad()
    def sample(self, uniform, labels=None, on_pixel=None):
        """Draw images pixel by pixel: pixel (r, c) is ink when uniform[:, r, c] < p(ink | pixels before).
        on_pixel(image, index): called after each pixel."""
        for x in self.rows(uniform, labels, on_pixel):
            pass
        return x

    def rows(self, uniform, labels=None, on_pixel=None):
        """sample(), yielding the images after each row is drawn (one tensor, filled in place)."""
        n, device = uniform.shape[0], uniform.device
        x = torch.zeros(n, 1, SIDE, SIDE, device=device)
        label = self.label_vector(labels, n, device)
        row_memory, previous_row = None, torch.zeros(n, SIDE, device=device)
        for r in range(SIDE):
            summary, row_memory = self.row_lstm(torch.cat([previous_row, label], dim=1)[:, None], row_memory)
            above = F.pad(previous_row, (1, 1))
            pixel_memory, left = None, torch.zeros(n, device=device)
            for c in range(SIDE):
                step = torch.cat([left[:, None], above[:, c:c + 3], summary[:, 0], label], dim=1)
                output, pixel_memory = self.pixel_lstm(step[:, None], pixel_memory)
                p = torch.sigmoid(self.head(output[:, 0, :]))[:, 0]
                left = (uniform[:, r, c] < p).float()
                x[:, 0, r, c] = left
                if on_pixel is not None:
                    on_pixel(x, r * SIDE + c)
            previous_row = x[:, 0, r]
            yield x


class RowLSTM(AutoregressiveModel):
    """Two LSTMs, one over the rows and one along each row: exact likelihood, sampled one pixel at a time."""

    arch = "lstm"
    title = "row-by-row LSTM"
    Config = RowLSTMConfig

    def __init__(self, config):
        super().__init__(config)
        self.lstm = RowByRowLSTM(config)

    @property
    def network(self):
        return self.lstm


LIKELIHOOD = ("exact -log p(x) of the test images binarized at 0.5 (pixel > 127); PixelCNN's published "
              "figure on binarized MNIST is 81.3 nats (van den Oord et al. 2016), a plain VAE's bound 86.8")
