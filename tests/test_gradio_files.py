"""The app's sweeper forgets the files Gradio handed out, old ones only, and never races the requests."""

import os
import threading
import time

import gradio as gr

from genai.ui.gradio_files import forget_old_files


def make_file(folder, name, age_seconds):
    path = folder / name
    path.write_bytes(b"png")
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return str(path)


def test_old_files_are_deleted_and_forgotten_new_and_kept_ones_stay(tmp_path):
    with gr.Blocks() as demo:
        example = gr.Image()
    old, new = make_file(tmp_path, "old.png", 900), make_file(tmp_path, "new.png", 10)
    kept = make_file(tmp_path, "example.png", 900)
    example.keep_in_cache = {kept}
    gone = str(tmp_path / "already-removed.png")
    outputs = {old, new, kept, gone}
    demo.temp_file_sets.append(outputs)

    assert forget_old_files(demo, 600) == 2  # the old file, and the path whose file is gone

    assert outputs == {new, kept}
    assert not os.path.exists(old) and os.path.exists(new) and os.path.exists(kept)


def test_requests_adding_files_while_the_sweeper_runs_break_nothing(tmp_path):
    """Gradio's delete_cache walks the live sets and dies of "Set changed size during iteration"."""
    with gr.Blocks() as demo:
        gr.Image()
    outputs = {make_file(tmp_path, f"old-{i}.png", 900) for i in range(200)}
    demo.temp_file_sets.append(outputs)

    def requests_handing_out_files():
        for i in range(20_000):
            outputs.add(str(tmp_path / f"new-{i}.png"))  # a path listed before its file is written, as can happen

    adder = threading.Thread(target=requests_handing_out_files)
    adder.start()
    sweeps = 0
    while adder.is_alive() or sweeps == 0:
        forget_old_files(demo, 600)
        sweeps += 1
    adder.join()
    assert sweeps >= 1
    assert not any(p.name.startswith("old-") for p in tmp_path.iterdir())
    assert not any(os.path.basename(path).startswith("old-") for path in outputs)


def test_watching_an_apps_files_does_not_keep_the_app_alive():
    """The registry holds watched apps weakly: one that nothing else uses is freed, and no longer swept.
    (A stand-in app: Gradio's own Blocks keep references to themselves that a test cannot drop.)"""
    import gc

    from genai.ui.session import SessionRegistry

    class App:
        temp_file_sets = []

    registry = SessionRegistry()
    registry.start_sweeping = lambda: None  # this test's registry needs no sweeper thread
    kept, dropped = App(), App()
    registry.watch_files_of(kept)
    registry.watch_files_of(dropped)
    assert registry.watched_apps() == [kept, dropped]
    del dropped
    gc.collect()
    assert registry.watched_apps() == [kept]
