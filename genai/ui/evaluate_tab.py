"""The Evaluate tab: how good is a model, in numbers (genai.metrics).

genai.metrics.evaluate draws a few thousand samples and asks genai's own digit
classifier about them: classifier-FID (next to the real-vs-real floor), Inception
Score, how many samples are clearly one digit, how often each digit is drawn, and,
for a VAE, the negative ELBO and how faithful its reconstructions are. This tab shows
those figures as a table, each with what it means, and the digit histogram as a chart.
"""

import math
import time
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from .. import metrics
from ..figures_table import NEGATIVE_KID, figure_notes, kid_spread_words, likelihood_of, plus_minus
from . import datasets, evaluate_time, model_store, settings
from .compute import compute_slot
from .errors import friendly
from .gpu import on_gpu
from .inputs import NumberInput, whole_number

SAMPLE_CHOICES = [500, 1000, 2000]


@dataclass
class EvaluateTab:
    picker: gr.Dropdown
    inputs: list
    outputs: list
    button: gr.Button
    samples: gr.Radio


def figure_rows(results):
    """(figure, this model, real digits, what it means) for every figure evaluate() returned."""
    rows = [
        ("classifier-FID", f"{results['fid']:.1f}", f"{results['fid_real_floor']:.1f}",
         "distance between generated and real digits; lower is better, real-vs-real is the floor"),
        ("Inception Score", f"{results['inception_score']:.2f}", f"{results['inception_score_real']:.2f}",
         "1 to 10: high when each sample is clearly one digit and all ten digits appear"),
        ("recognizable", f"{100 * results['recognizable_share']:.0f}%", f"{100 * results['recognizable_share_real']:.0f}%",
         "share of samples the classifier is at least 90% sure about"),
    ]
    if "kid" in results:
        rows.insert(1, ("classifier-KID", plus_minus(results["kid"], results["kid_std"]), f"{results['kid_real_floor']:.2g}",
                        f"kernel distance on the same features, unbiased at any sample count; lower is better; "
                        f"{kid_spread_words(results)}"))
    if "label_agreement" in results:
        rows.append(("label agreement", f"{100 * results['label_agreement']:.0f}%", "",
                     "how often the digit asked for is the digit drawn"))
    if "nll_nats" in results:
        rows.append(("negative log-likelihood", f"{results['nll_nats']:.1f}", "",
                     f"exact {likelihood_of(results)}, in nats per binarized test image; lower is better "
                     "(PixelCNN on binarized MNIST: 81.3; a plain VAE's bound: 86.8)"))
    if "negative_elbo" in results:
        rows += [
            ("negative ELBO", f"{results['negative_elbo']:.1f}", "",
             f"nats per binarized test image = {results['reconstruction']:.1f} reconstruction + {results['kl']:.1f} KL; "
             "lower is better (a plain VAE on binarized MNIST: 86.8)"),
            ("reconstruction SSIM", f"{results['ssim']:.3f}", "1", "structural similarity of reconstructions to the originals"),
            ("reconstruction PSNR", f"{results['psnr']:.1f} dB", "", "signal-to-noise of reconstructions; higher is better"),
        ]
    return rows


def figures_markdown(results):
    lines = ["| figure | this model | real digits | what it means |", "|---|---|---|---|"]
    lines += [f"| {name} | **{value}** | {real} | {meaning} |" for name, value, real, meaning in figure_rows(results)]
    lines.append("")
    lines.append(f"{results['n_samples']:,} samples (seed {results['seed']}) compared with {results['n_samples']:,} "
                 f"real test digits. Scores come from genai's own digit classifier, so they compare models "
                 "evaluated here, not with published Inception-based figures.")
    for note in figure_notes(results):
        heading = "Why a KID below 0?" if note.startswith(NEGATIVE_KID) else "Note:"
        lines.append(f"\n**{heading}** {note}")
    return "\n".join(lines)


def evaluate_model(model_name, samples, seed, session, progress=None):
    """The figures of one model as Markdown, and its digit histogram as a table for the bar chart.
    progress(fraction, what): told how far the evaluation is."""
    entry = model_store.find(model_name, session)
    samples = whole_number(samples, "The number of samples", 100, 5000)
    seed = whole_number(seed, "The seed", 0, 2**32 - 1)
    test = datasets.get(model_store.dataset_of(entry), split="test")
    # Seconds of sampling and classifying: it waits its turn like any forward pass, for what it will cost.
    with compute_slot(evaluate_time.expected_seconds(entry, samples)):
        results = metrics.evaluate(entry.model, test, n_samples=samples, seed=seed, metadata=entry.metadata,
                                   progress=progress)
    counts = pd.DataFrame({"digit": [str(d) for d in range(10)], "samples": results["class_counts"]})
    return f"### {entry.name}\n\n" + figures_markdown(results), counts


def evaluate_for_the_page(model_name, samples, seed, session, progress=gr.Progress()):
    """evaluate_model for the page: a progress bar says how far it is, the histogram's scale reaches above
    its tallest bar (with the scale ending at the tallest count, that bar ran into the chart's top edge and
    read as cut off), and the time it took becomes the model's hint."""
    start = time.perf_counter()
    figures, counts = evaluate_model(model_name, samples, seed, session,
                                     progress=lambda fraction, what: progress(fraction, desc=what))
    entry = model_store.find(model_name, session)
    evaluate_time.record(entry, int(samples), time.perf_counter() - start)
    return (figures, gr.update(value=counts, y_lim=[0, headroom(int(counts["samples"].max()))]),
            gr.update(info=evaluate_time.hint(entry)))


def time_hint(model_name, session):
    """The line under "Samples to judge": how long this model takes here (nothing while no model is chosen)."""
    if not model_name:
        return gr.update()
    return gr.update(info=evaluate_time.hint(model_store.find(model_name, session)))


def headroom(tallest):
    """A round number at least 8% above tallest, for the top of a chart's scale: 660 -> 800, 100 -> 150."""
    wanted = max(tallest, 1) * 1.08
    magnitude = 10 ** math.floor(math.log10(wanted))
    return next(step * magnitude for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if step * magnitude >= wanted)


def build(initial_choices):
    first = model_store.preferred(initial_choices, None)  # a strong, fast model first
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=260):
            picker = gr.Dropdown(
                initial_choices, value=first, label="Model", allow_custom_value=True, elem_id="evaluate-model",
                info=model_store.picker_info(initial_choices),
            )
            samples = gr.Radio(SAMPLE_CHOICES, value=1000, label="Samples to judge", elem_id="evaluate-samples",
                               info="More samples: steadier figures, slower (the time for the chosen model shows "
                                    "here).")
            seed = NumberInput(0, label="Seed")
            button = gr.Button("Evaluate", variant="primary", elem_id="evaluate-run")
        with gr.Column(scale=7, min_width=360):
            figures = gr.Markdown("Choose a model and press **Evaluate**.", label="Figures", show_label=False,
                                  elem_id="evaluate-figures")
            histogram = gr.BarPlot(x="digit", y="samples", label="Which digits the samples look like",
                                   elem_id="evaluate-histogram", sort=None, y_lim=[0, None])
    return EvaluateTab(picker=picker, inputs=[picker, samples, seed], outputs=[figures, histogram], button=button,
                       samples=samples)


def connect(tab, session, page):
    """page: the tab's gr.Tab (opening it times the chosen model, for the hint)."""
    running = {"inputs": tab.inputs + [session], "concurrency_id": "evaluate",
               "concurrency_limit": evaluate_concurrency()}
    tab.button.click(on_gpu(friendly(evaluate_for_the_page)), outputs=tab.outputs + [tab.samples],
                     api_visibility="private", show_progress="full", **running)
    gr.on([], on_gpu(friendly(evaluate_model)), outputs=tab.outputs, api_name="evaluate",
          **running)  # for API clients: the plain table
    gr.on([tab.picker.change, page.select], on_gpu(friendly(time_hint)), [tab.picker, session], tab.samples,
          api_visibility="private", show_progress="hidden", concurrency_id="evaluate", trigger_mode="always_last")


def evaluate_concurrency():
    """Evaluations at once: each holds a compute slot for seconds, so at least one slot stays free for
    sampling (one at a time on 2 cores)."""
    return max(1, settings.compute_concurrency() - 1)
