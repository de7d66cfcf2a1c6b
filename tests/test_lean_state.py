"""Tests for genai.ui.lean_state: a Gradio session costs what it holds, with the same configuration as
Gradio's own, and a full store forgets the sessions that hold nothing first."""

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import gradio as gr

from genai.ui.lean_state import ConfigOnDemand, LeanSessionState, LeanStateHolder

REPO = Path(__file__).resolve().parents[1]
GradioSessionState = LeanSessionState.__bases__[0]


def page(components=60):
    """A page with many components, as the app's (272), and one gr.State."""
    with gr.Blocks() as demo:
        state = gr.State(None)
        boxes = [gr.Textbox(f"text {i}", label=f"box {i}") for i in range(components // 3)]
        sliders = [gr.Slider(0, 10, value=i % 10, label=f"slider {i}") for i in range(components // 3)]
        choices = [gr.Dropdown(["a", "b", "c"], value="a", label=f"pick {i}") for i in range(components // 3)]
        boxes[0].change(lambda text, value: (text, value), [boxes[0], sliders[0]], [choices[0], state])
    return demo, state, boxes, sliders


def as_json(config_values):
    return json.dumps(dict(config_values.items()), sort_keys=True, default=str)


def test_a_lean_session_lists_the_same_configuration_as_gradios():
    demo, _, boxes, sliders = page()
    lean, gradio_own = LeanSessionState(demo), GradioSessionState(demo)
    assert as_json(lean.config_values) == as_json(gradio_own.config_values)
    assert [c["id"] for c in lean.components] == [c["id"] for c in gradio_own.components]  # what a deep link saves
    for state in (lean, gradio_own):  # a call updates its inputs' and outputs' entries: the same in both
        state._update_value_in_config(boxes[0]._id, "seven")
        state[sliders[0]._id] = gr.Slider(0, 10, value=7, label="changed")
    assert lean.config_values[boxes[0]._id]["props"]["value"] == "seven"
    assert as_json(lean.config_values) == as_json(gradio_own.config_values)


def test_a_lean_sessions_entries_list_in_gradios_order_whichever_were_made_first():
    class BlocksConfig:  # what ConfigOnDemand reads of Gradio's
        blocks = {key: f"block {key}" for key in (300, 5, 200, 1)}

        def config_for_block(self, key, _, block):
            return {"id": key, "block": block}

    values = ConfigOnDemand(BlocksConfig(), [300, 5, 200, 1])  # Gradio's order, not a set's (200, 1, 300, 5)
    assert values[200]["block"] == "block 200"  # made first, on demand
    values[7] = {"id": 7}  # a new entry comes last, as in a dict
    assert list(values) == [300, 5, 200, 1, 7] and [c["id"] for c in values.values()] == [300, 5, 200, 1, 7]


def test_a_lean_session_makes_only_the_entries_it_is_asked_for():
    demo, _, boxes, _ = page()
    lean = LeanSessionState(demo)
    assert boxes[1]._id in lean.config_values  # there to be had, as in Gradio's
    lean._update_value_in_config(boxes[1]._id, "one")
    made = dict.keys(lean.config_values)  # the entries made so far, without making the rest
    assert list(made) == [boxes[1]._id]
    assert len(lean.config_values) == len([k for k in demo.default_config.blocks if k in demo.blocks])


def test_a_new_lean_session_costs_a_fraction_of_gradios():
    demo, *_ = page(components=240)

    def cost(make, count=20):
        tracemalloc.start()
        states = [make(demo) for _ in range(count)]
        used = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert len(states) == count
        return used / count

    lean, gradio_own = cost(LeanSessionState), cost(GradioSessionState)
    assert lean < gradio_own / 5, (lean, gradio_own)


def test_config_on_demand_copies_and_deep_copies_whole():
    demo, _, boxes, _ = page(components=9)
    values = ConfigOnDemand(demo.default_config, [b._id for b in boxes])
    import copy

    assert set(copy.deepcopy(values)) == {b._id for b in boxes} == set(values.copy())
    assert values.pop(boxes[0]._id)["props"]["value"] == "text 0" and boxes[0]._id not in values


def holder(demo, capacity):
    store = LeanStateHolder()
    store.set_blocks(demo)
    store.capacity = capacity
    store.keeps = lambda value: value == "work"  # a student's models, in this test
    return store


def test_a_full_store_forgets_a_session_that_holds_nothing_before_a_students_work():
    demo, state, *_ = page(components=9)
    store = holder(demo, capacity=3)
    store["student"][state._id] = "work"  # a tab whose gr.State holds the student's models
    for attacker in ("a1", "a2", "a3", "a4", "a5"):  # a new session per call
        store[attacker]
    assert "student" in store and list(store.session_data) == ["student", "a4", "a5"]
    assert set(store.time_last_used) == set(store.session_data)


def test_a_store_full_of_work_still_keeps_its_bound_least_recently_used_first():
    demo, state, *_ = page(components=9)
    store = holder(demo, capacity=2)
    for student in ("s1", "s2", "s3"):
        store[student][state._id] = "work"
    store["s4"]
    assert list(store.session_data) == ["s3", "s4"]


def test_the_app_makes_lean_sessions_in_a_lean_store():
    script = ("import app, gradio.routes, gradio.state_holder as s; from genai.ui import lean_state, session; "
              "print(lean_state.installed(), lean_state.LeanStateHolder.keeps is session.worth_keeping, "
              "type(app.demo._queue.pending_messages_per_session) is lean_state.RecentlyUsedQueues)")
    built = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert built.stdout.split()[-3:] == ["True", "True", "True"], built.stderr[-2000:]


def test_a_sessions_message_queue_in_use_outlives_newer_ones():
    from genai.ui.lean_state import RecentlyUsedQueues

    queues = RecentlyUsedQueues(3)
    queues["student"] = "queue"
    for attacker in ("a1", "a2"):
        queues[attacker] = "queue"
    assert queues["student"] == "queue"  # its stream waits on it: the most recent now
    queues["a3"] = "queue"
    assert queues.get("a4") is None and list(queues) == ["a2", "student", "a3"]
    queues.get("a2")
    queues["a4"] = "queue"
    assert list(queues) == ["a3", "a2", "a4"]  # the student, waited on least recently now, went first


def test_a_gradio_whose_session_store_changed_keeps_its_own_and_the_app_still_runs(monkeypatch, caplog):
    """requirements.txt allows any Gradio 6: if one changes what lean_state replaces, nothing is replaced."""
    import gradio.routes as gradio_routes
    import gradio.state_holder as gradio_state

    from genai.ui import lean_state

    assert lean_state.matches_this_gradio()  # the Gradio installed here is the one it was written for

    class ChangedSessionState(GradioSessionState):  # a later Gradio whose sessions hold something else
        def __init__(self, blocks):
            super().__init__(blocks)
            self.config_values = {key: {"changed": True} for key in self.config_values}

    monkeypatch.setattr(lean_state, "_GRADIO_SESSION_STATE", ChangedSessionState)
    monkeypatch.setattr(gradio_state, "SessionState", ChangedSessionState)
    monkeypatch.setattr(gradio_routes, "StateHolder", gradio_routes.StateHolder)
    assert not lean_state.installed() and not lean_state.matches_this_gradio()
    assert lean_state.install() is False
    assert gradio_state.SessionState is ChangedSessionState  # Gradio's own stays
    assert "not the one genai/ui/lean_state.py was written for" in caplog.text
