"""evaluate()'s figures as a person reads them: the table `eval` prints and a model card shows.

    results = metrics.evaluate(model, test_split, n_samples=2000, metadata=metadata)
    print(format_table(results))

It lives apart from genai/metrics.py, which measures: writing a model card (genai/model_card.py)
then needs only the figures, not the classifier and training code behind them.
"""

import math


def likelihood_of(results):
    """What a likelihood figure scores: -log p(x); for a conditional model, told each test image's digit,
    -log p(x | y), which is lower (the label carries part of the image's information)."""
    return "-log p(x | y), each test image given its label" if results.get("conditional") else "-log p(x)"


def plus_minus(value, spread):
    """"7.52 ± 0.31": the spread to two significant figures and the value to the same decimal place
    (a spread of 4.7e-15 or 0 would claim a precision no estimate has; without one, just the value)."""
    if not (math.isfinite(spread) and spread > 0):
        return f"{value:.3g}"
    decimals = max(0, 1 - math.floor(math.log10(spread)))
    return f"{value:.{decimals}f} ± {spread:.{decimals}f}"


# Why a KID can be below 0 (real digits against real digits often are): said wherever KID is shown.
NEGATIVE_KID = ("KID is an unbiased estimate: it scatters around the true distance, so for two sets from the "
                "same distribution (real against real) it is often slightly below 0, which means \"no difference "
                "measurable\"")


def kid_spread_words(results):
    """What the ± of KID is: "± is the spread over 100 subsets of 500"."""
    size = results.get("kid_subset_size")
    return "± is the spread over 100 subsets" + (f" of {size:,}" if size else "")


def format_table(results):
    """A plain-text table of evaluate()'s results, with what each number means."""
    rows = [
        ("classifier-FID (lower is better)", f"{results['fid']:.2f}", f"real vs real: {results['fid_real_floor']:.2f}"),
    ]
    if "kid" in results:  # (figures measured before KID was added have none)
        rows.append(("classifier-KID (lower is better)", plus_minus(results["kid"], results["kid_std"]),
                     f"real vs real: {results['kid_real_floor']:.2g}; {kid_spread_words(results)}"))
    rows += [
        ("Inception Score (1-10, higher is better)", f"{results['inception_score']:.2f}",
         f"real digits: {results['inception_score_real']:.2f}"),
        ("recognizable share (p >= 0.9)", f"{100 * results['recognizable_share']:.1f}%",
         f"real digits: {100 * results['recognizable_share_real']:.1f}%"),
    ]
    if "label_agreement" in results:
        rows.append(("label agreement (asked digit drawn)", f"{100 * results['label_agreement']:.1f}%", ""))
    if "nll_nats" in results:
        rows.append(("exact NLL, nats/image (lower is better)", f"{results['nll_nats']:.1f}",
                     f"{likelihood_of(results)}, binarized test images (anchors: PixelCNN 81.3, a plain VAE's bound 86.8)"))
    if "negative_elbo" in results:
        rows += [
            ("negative ELBO, nats/image (lower is better)", f"{results['negative_elbo']:.1f}",
             f"= {results['reconstruction']:.1f} reconstruction + {results['kl']:.1f} KL, a bound on "
             f"{likelihood_of(results)}, binarized test images (anchor: plain VAE 86.8)"),
            ("reconstruction SSIM (max 1)", f"{results['ssim']:.3f}", ""),
            ("reconstruction PSNR (dB, higher is better)", f"{results['psnr']:.1f}", ""),
        ]
    counts = results["class_counts"]
    rows.append(("samples per digit 0-9", " ".join(str(c) for c in counts), ""))
    width = max(len(name) for name, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows[:-1])
    lines = [
        f"{results['model']}: {results['n_samples']:,} samples (seed {results['seed']}) "
        f"vs {results['n_samples']:,} real digits of {results['dataset']}",
    ]
    for name, value, note in rows:
        lines.append(f"  {name:<{width}}  {value:>{value_width}}  {note}".rstrip())
    lines += [f"  Note: {note}" for note in figure_notes(results)]
    return "\n".join(lines)


def figure_notes(results):
    """The notes a table of figures needs under it: why a KID can be below 0, and an overlap of the samples."""
    notes = []
    if "kid" in results and min(results["kid"], results["kid_real_floor"]) < 0:
        notes.append(f"{NEGATIVE_KID}.")
    note = overlap_note(results)
    if note:
        notes.append(note)
    return notes


def overlap_note(results):
    """A plain warning when the model learned from the images it is measured against (or does not say)."""
    overlap = results.get("trained_on_eval_images", False)
    if overlap:
        return ("this model learned from the MNIST test split, the very images these figures are measured "
                "against: they show how well it fits them, not how well it generalizes.")
    if overlap is None:
        return ("this model does not record which images it learned from, so the test images behind these "
                "figures may be among them.")
    return ""
