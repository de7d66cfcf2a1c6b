"""Opening the app with a link to a run (genai/run_link.py) fills the Train form; nothing starts.

A value that is not one the form can take is left out, and the status says which and why, in the
form's own words. The link's step count decides where the run ends, so the time limit is set to the
server's cap: a slower machine then still reaches the same step, and the same weights.
"""

import gradio as gr

from ..models import ARCHS
from ..recipes import check_run_settings, form_defaults
from ..run_link import values_from_query
from ..settings import SETTINGS, SettingsError, number_text, sentences
from . import model_store, settings
from .errors import friendly
from .train_form import filled
from .train_tab import code_update, family_class


def page_url(request):
    """The page's address without its query (from the browser's Referer), or "" when it is not known."""
    referer = (getattr(request, "headers", None) or {}).get("referer", "") if request is not None else ""
    return referer.split("?")[0][:500] if referer.startswith(("http://", "https://")) else ""


def fill_from_link(session, request: gr.Request):
    """The Train form filled from the page's query, a status saying what was filled, and the Train tab
    opened; gr.skip() everywhere when the page was opened without a link."""
    session.page_url = page_url(request)
    query = dict(getattr(request, "query_params", None) or {}) if request is not None else {}
    values, unknown = values_from_query(query)
    if not values:
        return None
    cap = settings.max_train_seconds()
    good, problems = {}, []
    for name, text in values.items():
        setting = SETTINGS[name]
        try:
            good[name] = setting.parse(text)
        except SettingsError as error:
            problems.append(f"{setting.label} {error}")
    family = good.get("family")
    if family not in ARCHS:
        return {"status": "This link names no model family genai knows; the Train form was left as it was."}
    try:
        check_run_settings(good, name_of=lambda setting: setting.label)
    except SettingsError as error:
        problems.append(str(error))
    if good.get("max_steps"):
        good["seconds"] = cap  # the step count ends the run, as it ended the original
    form = {**form_defaults(family, good.get("arch") if good.get("arch") in ARCHS[family] else None), **good}
    said = ["**Filled the Train form from a link to a run.** Nothing has started: press Start training to run it."]
    if good.get("max_steps"):
        said.append(f"It stops at step {good['max_steps']:,} like the original (the time limit is this server's "
                    f"{number_text(cap)} s), so on the same kind of device it gives the same weights.")
    if problems:
        said.append("Left as they were: " + sentences(problems))
    if unknown:
        said.append("Not settings of the form, ignored: " + ", ".join(unknown[:5]) + ".")
    return {"form": form, "family": family, "status": " ".join(said)}


def connect(demo, tab, session, tabs):
    """On page load: fill tab's form from the page's link, if it has one, and open the Train tab."""
    fields = list(tab.fields.values())

    def load(session, request: gr.Request):
        filled_in = fill_from_link(session, request)
        if filled_in is None:
            return gr.skip()  # no link: every output as it is (an empty dict would be read as one value)
        update = {tab.status: filled_in["status"]}
        if "form" in filled_in:
            family = filled_in["family"]
            update.update(filled(tab.fields, family, filled_in["form"], settings.max_train_seconds()))
            update.update({tab.explanation: family_class(family).explanation, tab.code: code_update(family),
                           tabs: gr.Tabs(selected="train")})
        return update

    demo.load(friendly(load), session, [*fields, tab.status, tab.explanation, tab.code, tabs],
              api_visibility="private", show_progress="hidden")
