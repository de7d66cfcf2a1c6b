"""The Train tab's form and its live-knob panel, built from the settings table (genai/settings.py).

Every setting with a form label becomes one field, in the table's order (which is also the order
of the /train API endpoint's arguments); every live setting becomes one knob. Values travel by
name: a handler gets {name: value}, and answers {component: update}. A field shows only for the
models that have its setting (β for a VAE, D's ratio for a GAN).
"""

import dataclasses

import gradio as gr

from ..models import ARCHS
from ..recipes import applies, check_run_settings, form_defaults
from ..settings import SETTINGS, SettingsError, sentences
from .errors import AppError
from .inputs import NumberInput



def form_settings():
    """The settings on the form: those with a label, in the table's order."""
    return tuple(name for name, setting in SETTINGS.items() if setting.label)


def knob_settings():
    """The settings of the knob panel: the live ones."""
    return tuple(name for name, setting in SETTINGS.items() if setting.live)


DATASET_CHOICES = [("MNIST (handwritten digits)", "mnist"), ("Fashion-MNIST (clothes)", "fashion-mnist")]
FAMILY_CHOICES = [("GAN — generator vs. discriminator", "gan"), ("VAE — encoder + decoder", "vae"),
                  ("Autoregressive — one pixel at a time", "autoregressive"),
                  ("Diffusion — noise walked back to a digit", "diffusion")]
ARCH_LABELS = {"mlp": "MLP (fully connected)", "dcgan": "DCGAN (convolutional)", "conv": "Convolutional",
               "unet": "UNet (convolutional)", "pixelcnn": "Gated PixelCNN (masked convolutions)",
               "lstm": "row-by-row LSTM (recurrent)"}


def arch_choices(family):
    return [(ARCH_LABELS.get(arch, arch), arch) for arch in ARCHS[family]]


def element_id(prefix, name):
    """"train-batch-size": the page's id of a setting's field (browser tests find fields by it)."""
    return f"{prefix}-{name.replace('_', '-')}"


def field_label(name, cap):
    """The label of a setting's field."""
    return SETTINGS[name].label


def field_info(name, cap=None):
    """What a good value is, under the field (a wrong value's message replaces it while it is wrong).
    cap: the server's longest run, which bounds the time limit."""
    setting = SETTINGS[name]
    if name == "seconds" and cap is not None:
        setting = dataclasses.replace(setting, high=cap)
    if setting.kind in ("choice", "yes/no"):
        return None
    empty = f"; empty: {setting.empty_means}" if setting.empty_means else ""
    return f"{setting.wanted()}{empty}"


def build_field(name, value, cap, prefix="train", visible=True):
    """One setting's field: a radio or dropdown for a choice, a checkbox for yes/no, else a number box."""
    setting, elem_id = SETTINGS[name], element_id(prefix, name)
    if name == "dataset":
        return gr.Radio(DATASET_CHOICES, value=value, label=setting.label, elem_id=elem_id)
    if name == "family":
        return gr.Radio(FAMILY_CHOICES, value=value, label=setting.label, elem_id=elem_id)
    if name == "arch":
        # Any name is accepted, so API clients choose the family and architecture together (the run checks
        # that they fit); in the browser the list follows the family.
        return gr.Dropdown(arch_choices("gan"), value=value, label=setting.label, allow_custom_value=True,
                           elem_id=elem_id)
    if setting.kind == "yes/no":
        return gr.Checkbox(value=value, label=setting.label, elem_id=elem_id, visible=visible)
    return NumberInput(value, label=field_label(name, cap), info=field_info(name, cap), min_width=100, elem_id=elem_id,
                       visible=visible)


def build_form(family, cap):
    """The form's fields, {name: component}, filled with the family's recipe (numbers two to a row)."""
    values = form_defaults(family)
    fields, row = {}, []
    for name in form_settings():
        visible = applies(name, family, values["arch"])
        value = min(values[name], cap) if name == "seconds" else values.get(name)
        if SETTINGS[name].kind in ("whole", "number"):
            row.append((name, value, visible))
            if len(row) == 2:
                with gr.Row():
                    for args in row:
                        fields[args[0]] = build_field(args[0], args[1], cap, visible=args[2])
                row = []
            continue
        fields[name] = build_field(name, value, cap, visible=visible)
    for name, value, visible in row:
        fields[name] = build_field(name, value, cap, visible=visible)
    return fields


def build_knobs(family):
    """The live-knob panel: one number box per live setting, {name: component}."""
    values = form_defaults(family)
    return {name: NumberInput(values.get(name), label=SETTINGS[name].label, min_width=100,
                              elem_id=element_id("train-live", name),
                              visible=applies(name, family, values["arch"]))
            for name in knob_settings()}


def filled(components, family, values, cap=None):
    """Updates that fill components ({name: component}) with values and show only the fields this
    family's chosen architecture has: {component: update}."""
    arch = values.get("arch") or form_defaults(family)["arch"]
    updates = {}
    for name, component in components.items():
        value = values.get(name)
        if name == "seconds" and cap is not None and value is not None:
            value = min(value, cap)
        if name == "arch":
            updates[component] = gr.update(choices=arch_choices(family), value=arch)
        elif name in ("dataset", "family"):
            updates[component] = gr.update(value=value)
        else:
            updates[component] = gr.update(value=value, visible=applies(name, family, arch))
    return updates


def shown_for(components, family, arch):
    """Updates that show only the fields and knobs this architecture has (values left as they are)."""
    if family not in ARCHS or arch not in ARCHS[family]:
        return {}
    return {component: gr.update(visible=applies(name, family, arch)) for name, component in components.items()
            if name not in ("dataset", "family", "arch")}


def checked_form(values, cap):
    """The form's values ({name: value}, as sent by the browser or an API client) checked, every bad one
    named at once by its label (AppError); a hidden field's value (a GAN's β) is left out. The time limit
    is also held to this server's cap."""
    family, arch = values.get("family"), values.get("arch")
    if family in ARCHS and arch in ARCHS[family]:
        values = {name: value for name, value in values.items() if applies(name, family, arch)}
    capped = dataclasses.replace(SETTINGS["seconds"], high=cap)
    problems, checked = [], {}
    try:
        checked["seconds"] = capped.parse(values.pop("seconds", None))
    except SettingsError as error:
        problems.append(f"{capped.label} {error}")
    try:
        checked.update(check_run_settings(values, name_of=lambda setting: setting.label))
    except SettingsError as error:
        problems.append(str(error))
    if problems:
        raise AppError(sentences(problems))
    return checked


def field_check(name):
    """A check of one field's value as it is typed: raises AppError with the form's message."""
    setting = SETTINGS[name]

    def check(value):
        try:
            setting.parse(value)
        except SettingsError as error:
            raise AppError(f"{setting.label} {error}.") from None

    return check
