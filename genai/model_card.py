"""The README.md of a checkpoint folder: a model card whose figures come from `eval`, never typed.

    results = metrics.evaluate(model, test_split, n_samples=2000, metadata=metadata)
    text = model_card(name, metadata, results)

The card starts with YAML metadata that the Hugging Face Hub reads (license, library,
tags, dataset, pipeline), then says what the model is, what it learned from, how to
load it, and its figures measured against the MNIST test split.
"""

from .figures_table import format_table
from .settings import SETTINGS, value_text


HUB_DATASETS = {"mnist": "ylecun/mnist", "fashion-mnist": "zalando-datasets/fashion_mnist"}  # their ids on the Hub


def yaml_header(metadata):
    """Front matter the Hugging Face Hub understands (license, library, tags, dataset, pipeline)."""
    dataset = metadata.get("dataset") or "mnist"
    tags = ["genai", dataset, metadata["family"], metadata["arch"]]
    if metadata.get("config", {}).get("conditional"):
        tags.append("conditional")
    lines = ["---", "license: cc-by-sa-3.0", "library_name: genai", "tags:", *(f"- {tag}" for tag in tags),
             "datasets:", f"- {HUB_DATASETS.get(dataset, dataset)}", "pipeline_tag: unconditional-image-generation",
             "---"]
    return "\n".join(lines)


def training_lines(training):
    """What the model learned from and how, from its training record."""
    if not training.get("split"):
        return ["- Learned from: not recorded (an older checkpoint)."]
    checked = "the published files, checked by checksum" if training.get("verified_files") else "files not checked"
    lines = [
        f"- Learned from: {training['dataset']} {training['split']} split, {training['images']:,} images ({checked}).",
        f"- Training: {training['steps']:,} steps of batch {training['batch_size']}, learning rate {training['lr']:g}, "
        f"seed {training['seed']}, {training['seconds']:,.0f} s on {training['device']} (ended: {training['ended']}).",
    ]
    if training.get("command"):
        lines.append(f"- Command: `{training['command']}`")
    if training.get("link"):
        lines.append(f"- Run it again: open the genai app with `{training['link']}` (it fills the Train form with "
                     "these settings and seed).")
    earlier = training.get("resumed_from")
    while isinstance(earlier, dict):  # a continued run (train --resume): the steps above count the earlier ones too
        lines.append(f"- Continued from a run of {earlier.get('steps', 0):,} steps ({earlier.get('seconds', 0):,.0f} s) "
                     f"made by: `{earlier.get('command', 'not recorded')}`")
        earlier = earlier.get("resumed_from")
    if training.get("warning"):
        lines.append(f"- Warning: {training['warning']}")
    return lines


def settings_lines(config):
    """The model's own settings (config.json's "config"), each with its line of help from genai/settings.py."""
    rows = [f"| `{name}` | {value_text(config[name])} | {setting.help} |"
            for name, setting in SETTINGS.items() if name in config]
    return ["", "The model's settings (config.json):", "", "| setting | value | what it sets |", "|---|---|---|",
            *rows] if rows else []


def evaluation_lines(results, eval_command):
    """The card's figures, as `eval` measured them, or a plain note that they were not measured."""
    if not results:
        return ["Not measured yet. Measure it against the MNIST test split with",
                "`python -m genai eval --checkpoint <this model> --n 2000 --json figures.json`."]
    return [
        "Measured against the MNIST test split, which the model did not learn from"
        if results.get("trained_on_eval_images") is False else "Measured against the MNIST test split",
        f"(`{eval_command}`):" if eval_command else ":",
        "",
        "```",
        format_table(results),
        "```",
        "",
        "Scores come from genai's own MNIST classifier (checkpoints/classifier, trained on the train split),",
        "so they compare models evaluated with genai, not with published Inception-based figures.",
    ]


def distilled_lines(metadata):
    """How a few-step student (benchmarks/distill_diffusion.py) came by its weights: its teacher and the method,
    then the teacher's own training, which is where its knowledge of the digits comes from."""
    distilled = metadata.get("distilled")
    if not isinstance(distilled, dict):
        return []
    steps = metadata["config"].get("sampling_steps")
    return [f"- Distilled to {steps} sampling step{'s' if steps != 1 else ''} from the teacher `{distilled['teacher']}`: "
            f"{distilled['method']}. {distilled['pairs']:,} teacher walks, {distilled['steps']:,} steps of batch "
            f"{distilled['batch_size']}, learning rate {distilled['lr']:g}, {distilled['seconds']:,.0f} s.",
            f"- Command: `{distilled['command']}`",
            "- The teacher's own training:",
            *("  " + line for line in training_lines(metadata.get("training") or {}))]


def guide_lines(metadata):
    """How a model with a guide (autoguidance, `add-guide`) came by it: the guide's own training."""
    guide = metadata.get("guide")
    if not isinstance(guide, dict):
        return []
    training = guide.get("training") or {}
    config = metadata["config"]
    low, high = config.get("guidance_t_min", 0), config.get("guidance_t_max", 1)
    where = f" for {low:g} < t <= {high:g}" if (low, high) != (0, 1) else ""
    lines = [f"- Sampling is guided (autoguidance, scale {config.get('guidance_scale', 1):g}{where}) by a "
             f"smaller model stored with it: {guide.get('model', 'a diffusion UNet')}, trained by its own run:"]
    lines += ["  " + line for line in training_lines(training)]
    return lines


def model_card(name, metadata, results, eval_command="", location=None, image=None):
    """The README.md text for the checkpoint `name` from its config.json and evaluate()'s results.

    location: what to pass as --checkpoint (default checkpoints/<name>; a Hub id for a pushed model).
    image: a sample grid shown in the card (a file beside it).
    """
    training = metadata.get("training") or {}
    location = location or f"checkpoints/{name}"
    model_line = results["model"] if results else f"A {metadata['family'].upper()} ({metadata['arch']})"
    lines = [
        yaml_header(metadata),
        "",
        f"# {name}",
        "",
        f"{model_line} (genai family `{metadata['family']}`, architecture `{metadata['arch']}`).",
        "",
        *([f"![64 samples, seed 0]({image})", ""] if image else []),
        "## Training",
        "",
        *(distilled_lines(metadata) or training_lines(training)),
        *guide_lines(metadata),
        *settings_lines(metadata.get("config") or {}),
        "",
        "## Evaluation",
        "",
        *evaluation_lines(results, eval_command),
        "",
        "## Use",
        "",
        "With genai installed (`pip install .` in a clone of its repository, or its `requirements.txt`):",
        "",
        "```bash",
        f"python -m genai sample --checkpoint {location} --seed 42 --n 64 --out digits.png",
        "```",
        "",
        "```python",
        "from genai.hub import load  # a checkpoint folder or a Hub model id",
        "from genai.sampling import sample",
        "",
        f'model, metadata = load("{location}")',
        "digits = sample(model, seed=42, n=16)  # uint8 array (16, 28, 28), 0 = background",
        "```",
        "",
        "Files: `config.json` (what to build, how it was trained) and `model.safetensors` (the weights).",
        "License: the weights are derived from MNIST (LeCun, Cortes, Burges; CC BY-SA 3.0).",
    ]
    return "\n".join(lines) + "\n"
