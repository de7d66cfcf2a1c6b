"""The README.md of a checkpoint folder: a model card whose figures come from `eval`, never typed.

    results = metrics.evaluate(model, test_split, n_samples=2000, metadata=metadata)
    text = model_card(name, metadata, results)

The card starts with YAML metadata that the Hugging Face Hub reads (license, library,
tags, dataset, pipeline), then says what the model is, what it learned from, how to
load it, and its figures measured against the MNIST test split.
"""

from .metrics import format_table


def yaml_header(metadata):
    """Front matter the Hugging Face Hub understands."""
    tags = ["genai", "mnist", metadata["family"], metadata["arch"]]
    if metadata.get("config", {}).get("conditional"):
        tags.append("conditional")
    lines = ["---", "license: cc-by-sa-3.0", "library_name: genai", "tags:", *(f"- {tag}" for tag in tags),
             "datasets:", f"- {metadata.get('dataset') or 'mnist'}", "pipeline_tag: unconditional-image-generation",
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
    if training.get("warning"):
        lines.append(f"- Warning: {training['warning']}")
    return lines


def model_card(name, metadata, results, eval_command=""):
    """The README.md text for the checkpoint `name` from its config.json and evaluate()'s results."""
    training = metadata.get("training") or {}
    lines = [
        yaml_header(metadata),
        "",
        f"# {name}",
        "",
        f"{results['model']} (genai family `{metadata['family']}`, architecture `{metadata['arch']}`).",
        "",
        "## Training",
        "",
        *training_lines(training),
        "",
        "## Evaluation",
        "",
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
        "",
        "## Use",
        "",
        "```bash",
        f"python -m genai sample --checkpoint checkpoints/{name} --seed 42 --n 64 --out digits.png",
        "```",
        "",
        "Files: `config.json` (what to build, how it was trained) and `model.safetensors` (the weights).",
        "License: the weights are derived from MNIST (LeCun, Cortes, Burges; CC BY-SA 3.0).",
    ]
    return "\n".join(lines) + "\n"
