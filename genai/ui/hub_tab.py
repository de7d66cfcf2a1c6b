"""The Hub tab: load a model someone shared on the Hugging Face Hub, or share one you trained.

Load: a model id ("user/name" or "user/name@revision") is fetched through genai.hub into the
server's Hub cache, checked like any untrusted checkpoint, and added to this visitor's model
pickers (their session only, like the models they train; model_store.load_from_hub).

Push: one of the models trained in this session goes to a Hub repo, with a model card and a
sample grid. The visitor gives their own token: on a shared Space the server's HF_TOKEN
belongs to the Space's owner, so the app never falls back to it. The token is used for this
one call and is never stored, logged or shown.
"""

from dataclasses import dataclass

import gradio as gr

from ..hub import parse_model_id, push
from ..settings import shown
from . import model_store
from .errors import AppError, friendly


@dataclass
class HubTab:
    model_id: gr.Textbox
    load: gr.Button
    load_status: gr.Markdown
    push_model: gr.Dropdown
    repo: gr.Textbox
    token: gr.Textbox
    private: gr.Checkbox
    push: gr.Button
    push_status: gr.Markdown


def own_models(session):
    """(label, name) pairs of the models this visitor trained here: the ones they may push."""
    if session is None:
        return []
    return [(name, name) for name, entry in session.models.items() if entry.source == "yours"]


def push_to_hub(model_name, repo_id, token, private, session):
    """Upload one of this visitor's trained models to the Hub with their token; returns a Markdown status."""
    entry = session.models.get(model_name) if model_name else None
    if entry is None or entry.source != "yours":
        mine = [name for _, name in own_models(session)]
        raise AppError("Choose one of the models you trained in this session"
                       + (f": {', '.join(mine)}." if mine else "; you have not trained one yet (Train tab)."))
    repo_id = (repo_id or "").strip()
    if parse_model_id(repo_id) is None or "@" in repo_id:
        raise AppError(f"{shown(repo_id)} is not a Hub repo id: give it as user/name, e.g. alice/my-first-gan.")
    token = (token or "").strip()
    if not token:
        raise AppError("Paste a Hugging Face access token with write permission "
                       "(huggingface.co/settings/tokens); it is used for this upload only and never stored.")
    url = push(entry.folder, repo_id, token=token, private=bool(private))
    return f"Pushed **{model_name}** to **{repo_id}** ([the commit]({url})). Anyone can now load it by that id."


def build():
    gr.Markdown(
        "Share models through the [Hugging Face Hub](https://huggingface.co/models?library=genai). "
        "A genai model there is a repository with `config.json` and `model.safetensors`, like a folder on disk."
    )
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown("### Load a model from the Hub")
            model_id = gr.Textbox(label="Model id", placeholder="user/name or user/name@revision")
            load = gr.Button("Load", variant="primary")
            load_status = gr.Markdown()
        with gr.Column():
            gr.Markdown("### Push a model you trained")
            push_model = gr.Dropdown(label="Your model", choices=[], allow_custom_value=True,
                                     info="The models you trained in this session.")
            repo = gr.Textbox(label="Repo id", placeholder="user/name")
            token = gr.Textbox(label="Access token (write)", type="password",
                               info="Used for this upload only; never stored or logged.")
            private = gr.Checkbox(label="Private repo", value=False)
            push_button = gr.Button("Push to the Hub")
            push_status = gr.Markdown()
    return HubTab(model_id, load, load_status, push_model, repo, token, private, push_button, push_status)


def connect(tab, session, pickers, page):
    """Load adds the model to every picker (and selects it in the first); the tab lists the pushable models."""

    @friendly
    def loaded(model_id, session):
        status, name = model_store.load_from_hub(model_id, session)
        choices = model_store.choices(session)
        info = model_store.picker_info(choices)
        updates = [gr.update(choices=choices, info=info, value=name)]  # the Sample tab shows it at once
        updates += [gr.update(choices=choices, info=info) for _ in pickers[1:]]
        return [status, session, *updates]

    @friendly
    def refresh_own(session, current):
        mine = own_models(session)
        names = [name for _, name in mine]
        return gr.update(choices=mine, value=current if current in names else (names[-1] if names else None))

    tab.load.click(loaded, [tab.model_id, session], [tab.load_status, session, *pickers], api_name="load_from_hub",
                   concurrency_limit=2, concurrency_id="hub")
    tab.model_id.submit(loaded, [tab.model_id, session], [tab.load_status, session, *pickers],
                        api_visibility="private", concurrency_limit=2, concurrency_id="hub")
    page.select(refresh_own, [session, tab.push_model], tab.push_model, api_visibility="private",
                show_progress="hidden", concurrency_limit=None)
    tab.push.click(friendly(push_to_hub), [tab.push_model, tab.repo, tab.token, tab.private, session], tab.push_status,
                   api_name="push_to_hub", concurrency_limit=2, concurrency_id="hub")
