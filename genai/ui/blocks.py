"""The whole app: one gr.Blocks with a tab per task, and the events that span tabs.

Each tab lives in its own module (lesson_tab, train_tab, sample_tab, interpolate_tab, explore_tab,
evaluate_tab, hub_tab) and only wires widgets to genai's functions. What a visitor trains is kept in their own
Session, held in a gr.State; the pretrained models are shared through model_store.
"""

import os

import gradio as gr

from . import (class_tab, compare_tab, datasets, drawing, evaluate_tab, explore_tab, hub_tab, interpolate_tab, lean_state,
               lesson_tab, model_store, sample_tab, run_link, settings, style, train_tab)
from .errors import friendly, quiet_input_checks
from .session import SESSIONS, Session, app_folder, end_session, private_gradio_folder, restore_session, worth_keeping

TITLE = "genai — watch generative models learn"


def page_opened(session, dataset_name, compare_models, sample_model, interpolate_model, explore_model, evaluate_model):
    """Fresh model lists (pretrained + this visitor's) and the dataset status, when the page opens."""
    choices = model_store.choices(session)

    def picker(current, needs_encoder=False):
        value = model_store.preferred(choices, session, current, needs_encoder=needs_encoder)
        # current is the picker's value when the page asked. A busy server may answer after the visitor chose
        # another model (loaded one from the Hub, say): a value sent back would undo that choice, so the value
        # is sent only when the one asked with is no longer offered.
        chosen = {} if value == current else {"value": value}
        return gr.update(choices=choices, info=model_store.picker_info(choices), **chosen)

    return [datasets.status(dataset_name), compare_tab.refreshed(choices, compare_models, session),
            picker(sample_model), picker(interpolate_model), picker(explore_model, needs_encoder=True),
            picker(evaluate_model)]


def first_walk(*args):
    """The walk shown when the page opens (two seeds), or nothing when there is no model yet."""
    if not args[0]:
        return [gr.skip()] * 6
    return interpolate_tab.interpolate_walk(*args)


def build_demo():
    """Build the app. Nothing heavy happens here: models and data load when first used."""
    # The app's own temporary folder, made now: making it removes what a killed server left (kill -9
    # gives no chance to clean up), at start rather than at the first visitor's request.
    app_folder()
    # Before gr.Blocks: its constructor makes the queue (lean_state.py: a session costs what it holds, and one
    # visitor's new sessions push out neither another's tab nor the answer it waits for).
    lean_state.install(keeps=worth_keeping)
    if not os.environ.get("GRADIO_TEMP_DIR"):  # Gradio's files in a folder of the app's own (see session.py)
        os.environ["GRADIO_TEMP_DIR"] = str(private_gradio_folder())
    initial = model_store.choices(None)
    # Files the app hands out (grids, GIFs, downloads) are deleted once they are GENAI_FILE_TTL_SECONDS
    # old by the app's own sweeper (gradio_files.py says why not Gradio's delete_cache).
    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True) as demo:
        session = gr.State(Session(), delete_callback=end_session)
        browser_key = gr.BrowserState("", storage_key="genai-session")  # finds the session again after a reload
        gr.Markdown(style.HEADER)
        banner = lesson_tab.build_banner()  # a lesson step's "look for", above whichever tab it opened
        with gr.Tabs() as tabs:
            with gr.Tab("Start here", id=lesson_tab.LESSON_TAB) as lesson_page:
                lesson_ui = lesson_tab.build()
            with gr.Tab("Train", id="train"):
                train_ui = train_tab.build()
            with gr.Tab("Sample", id="sample"):
                sample_ui = sample_tab.build(initial)
            with gr.Tab("Interpolate", id="interpolate"):
                interpolate_ui = interpolate_tab.build(initial)
            with gr.Tab("Compare", id="compare"):
                compare_ui = compare_tab.build(initial)
            with gr.Tab("Explore (VAE)", id="explore") as explore_page:
                explore_ui = explore_tab.build(initial)
            with gr.Tab("Evaluate", id="evaluate") as evaluate_page:
                evaluate_ui = evaluate_tab.build(initial)
            with gr.Tab("Hub", id="hub") as hub_page:
                hub_ui = hub_tab.build()
            with gr.Tab("Class", id=class_tab.CLASS_TAB):  # a teacher's class: a join code and a wall of the students' runs
                class_ui = class_tab.build()

        pickers = [sample_ui.picker, interpolate_ui.picker, explore_ui.picker, evaluate_ui.picker]
        evaluate_tab.connect(evaluate_ui, session, evaluate_page)
        train_tab.connect(train_ui, session, pickers, vae_pickers=[explore_ui.picker], lists=[compare_ui.models])
        sample_tab.connect(sample_ui, session)
        compare_tab.connect(compare_ui, session)
        interpolate_tab.connect(interpolate_ui, session)
        explore_tab.connect(explore_ui, session, explore_page)
        # A drawing can start a walk: it becomes image A of the Interpolate tab, which opens.
        interpolate_source, interpolate_upload_a = interpolate_ui.inputs[1], interpolate_ui.inputs[6]
        explore_ui.drawing.walk.click(
            friendly(drawing.drawing_as_walk_start), [explore_ui.picker, explore_ui.drawing.pad],
            [interpolate_ui.picker, interpolate_source, interpolate_upload_a], api_visibility="private",
        ).success(lambda: gr.Tabs(selected="interpolate"), None, tabs, api_visibility="private")
        hub_tab.connect(hub_ui, session, pickers, hub_page)
        lesson_tab.connect(lesson_ui, banner, session, tabs, lesson_page, train_ui, sample_ui, interpolate_ui,
                           compare_ui, explore_ui, evaluate_ui)
        run_link.connect(demo, train_ui, session, tabs)  # a link to a run fills the Train form

        demo.load(None, js=drawing.READY_TO_DRAW)  # the sketchpad starts with the brush
        restored = demo.load(restore_session, [session, browser_key], [session, browser_key],
                             api_visibility="private", show_progress="hidden", concurrency_limit=None)
        opened = restored.then(
            friendly(page_opened), [session, train_ui.dataset, compare_ui.models, *pickers],
            [train_ui.dataset_status, compare_ui.models, *pickers],
            api_name="refresh", show_progress="hidden",
        )
        class_tab.connect(class_ui, session, train_ui, tabs, restored)  # after the session is found again
        opened.then(
            friendly(sample_tab.model_info), [sample_ui.picker, session],
            [sample_ui.info, sample_ui.digit, sample_ui.steps, sample_ui.guidance],
            api_visibility="private", show_progress="hidden",
        ).then(
            friendly(sample_tab.first_grid), sample_ui.inputs + [session], sample_ui.image,
            api_visibility="private", show_progress="hidden",
        )
        opened.then(
            friendly(first_walk), interpolate_ui.inputs + [session], interpolate_ui.outputs + [session],
            api_visibility="private", show_progress="hidden",
        )
    quiet_input_checks(demo)
    SESSIONS.watch_files_of(demo)
    return demo


def launch_options():
    """What demo.launch needs besides the host and port (Gradio 6 takes theme and CSS here), and the upload limit."""
    return {"theme": style.THEME, "css": style.CSS, "max_file_size": f"{settings.max_upload_mb()}mb"}
