"""Gradio's store of sessions, made lean: a session costs what it holds, not a copy of the whole page.

Gradio keeps a SessionState for every session hash it meets: every browser tab, every gradio_client
Client, and every raw call of the HTTP API (each of which may bring a new hash). Its constructor
copies the configuration of every component on the page into `config_values` (what a deep link
replays: the session's current value of each component), although a call updates the entries of
its own inputs and outputs only. For this app's 272 components that copy is about 430 KB, the whole
of a SessionState. The store keeps GENAI_MAX_SESSIONS of them (app.py passes it to launch), so one
visitor making 300 new sessions added about 140 MB to the server, and so did 2,000 refused calls
(measured: docs/benchmarks.md, "Abuse: one visitor against the class").

LeanSessionState makes each component's entry the first time the session needs it: when a call
updates it, or when a deep link asks for them all. The entries are the same as Gradio's (same
function, same block), only later; a session that is never deep-linked never makes most of them.

The store itself (LeanStateHolder), when full, forgets a session that holds nothing before one that
holds a student's work, and the sessions' message queues (RecentlyUsedQueues) go least recently used
first, so one visitor's new sessions never cut off another's answer.

    lean_state.install(keeps=session.worth_keeping)     # before the server starts (build_demo does it)
"""

import logging

import gradio.state_holder as gradio_state
import gradio.utils as gradio_utils

log = logging.getLogger(__name__)


class ConfigOnDemand(dict):
    """SessionState.config_values, made entry by entry on first use.

    Gradio reads and writes it as a dict: `key in`, `[key]`, `[key] = value`, and `.items()` for a deep
    link. Reading one entry makes that entry; listing them makes the rest first, so a deep link sees
    every component, as before.
    """

    def __init__(self, blocks_config, keys):
        super().__init__()
        self._blocks_config = blocks_config
        self._order = list(keys)  # Gradio's order of entries, which a deep link lists
        self._pending = set(keys)  # components whose entry is not made yet

    def _make(self, key):
        if key in self._pending:
            self._pending.discard(key)
            block = self._blocks_config.blocks.get(key)
            if block is not None:  # a block removed since (a re-render) has no entry, as in Gradio's copy
                super().__setitem__(key, self._blocks_config.config_for_block(key, [], block))

    def _make_all(self):
        if not self._pending:
            return
        for key in self._order:
            self._make(key)
        # Entries made on demand came first: put every entry back in Gradio's order, then those set since.
        made = dict(super().items())
        super().clear()
        for key in self._order:
            if key in made:
                super().__setitem__(key, made.pop(key))
        for key, value in made.items():
            super().__setitem__(key, value)

    def __contains__(self, key):
        return key in self._pending or super().__contains__(key)

    def __getitem__(self, key):
        self._make(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._make(key)
        return super().get(key, default)

    def __setitem__(self, key, value):
        self._pending.discard(key)  # set whole by Gradio: the default is never needed
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self._pending.discard(key)
        super().__delitem__(key)

    def pop(self, key, *default):
        self._make(key)
        return super().pop(key, *default)

    def __iter__(self):
        self._make_all()
        return super().__iter__()

    def __len__(self):
        self._make_all()
        return super().__len__()

    def keys(self):
        self._make_all()
        return super().keys()

    def values(self):
        self._make_all()
        return super().values()

    def items(self):
        self._make_all()
        return super().items()

    def copy(self):
        self._make_all()
        return dict(super().items())

    def __reduce__(self):  # deep copies and pickles see a plain, complete dict
        return dict, (self.copy(),)


class LeanSessionState(gradio_state.SessionState):
    """Gradio's SessionState, with config_values made on demand instead of copied whole at creation."""

    def __init__(self, blocks):
        # Gradio's constructor, less its eager copy of every component's configuration: build it with
        # none (the base class's loop runs over an empty set of blocks), then list what it would have copied.
        super().__init__(_NoBlocks(blocks))
        keys = [k for k in self.blocks_config.blocks if k in blocks.blocks]
        self.config_values = ConfigOnDemand(self.blocks_config, keys)


class _NoBlocks:
    """What SessionState.__init__ reads of a Blocks, with an empty `blocks`: it copies the real default_config
    (the session's own blocks and functions) and makes no configuration entries."""

    blocks = {}

    def __init__(self, blocks):
        self.default_config = blocks.default_config


class LeanStateHolder(gradio_state.StateHolder):
    """Gradio's store of sessions, which, when full, first forgets a session that holds nothing.

    Gradio forgets the least recently used session once it holds `capacity` (GENAI_MAX_SESSIONS). One
    visitor making sessions as fast as it can (a raw API call each) would then push out every student's
    tab: the tab's gr.State, with its trained models and its run's Stop switch, replaced by an empty one
    at its next click. Here the least recently used session in which nothing is worth keeping goes first
    (`keeps(value)` says, for each gr.State value of a session, whether it is worth keeping); only when
    every session holds something does the least recently used one go, so the bound still holds.
    """

    keeps = staticmethod(lambda value: False)  # set by install()

    def update(self, session_id):
        with self.lock:
            if session_id in self.session_data:
                self.session_data.move_to_end(session_id)
            while len(self.session_data) > self.capacity:
                evicted = next((key for key, state in self.session_data.items()
                                if key != session_id and not self.holds_something(state)), None)
                if evicted is None:  # all hold something: the least recently used goes, as in Gradio
                    evicted = next(iter(self.session_data))
                del self.session_data[evicted]
                self.time_last_used.pop(evicted, None)

    def holds_something(self, state):
        return any(self.keeps(value) for value in list(state.state_data.values()))


class RecentlyUsedQueues(gradio_utils.LRUCache):
    """Gradio's cache of each session's message queue (the answers on their way to it), least recently
    *used* first out.

    Gradio keeps 2,000 of them and forgets the one made longest ago, however busy it is: after 2,000
    new sessions of one visitor (2,000 raw API calls), the queue of a student whose session is older
    went, and the answer it was waiting for at that moment was cut off (the benchmark's student saw
    its stream end mid-answer). Here reading a queue (every message sent to it, every wait of its
    stream) makes it the most recent, so only sessions that nobody is waiting on go first.
    """

    def __getitem__(self, key):
        self.move_to_end(key)  # KeyError for an unknown key, as before
        return super().__getitem__(key)

    def get(self, key, default=None):
        if key in self:
            self.move_to_end(key)
        return super().get(key, default)


def matches_this_gradio():
    """Whether a LeanSessionState lists what Gradio's own SessionState lists, for a small page here.

    lean_state replaces parts of Gradio that are not its public API, and requirements.txt allows any
    Gradio 6. Should a later one change them, the app must still run: install() checks first, and
    otherwise leaves Gradio's own store in place, with one line in the log."""
    import gradio as gr

    try:
        with gr.Blocks() as page:
            text, number = gr.Textbox("a"), gr.Number(3)
            text.change(lambda value: value, text, number)
        lean, own = LeanSessionState(page), _GRADIO_SESSION_STATE(page)
        same = dict(lean.config_values.items()) == dict(own.config_values.items())
        holder = LeanStateHolder()
        return same and hasattr(holder, "session_data") and hasattr(holder, "capacity") and hasattr(holder, "lock")
    except Exception:  # anything at all: a Gradio this module was not written for
        return False


_GRADIO_SESSION_STATE = gradio_state.SessionState  # Gradio's own, kept before install() replaces the name


def install(keeps=None):
    """Have Gradio make LeanSessionState for every new session, a LeanStateHolder for every server and
    RecentlyUsedQueues for every queue started from now on (in this process); `keeps(value)` tells which
    gr.State values are worth keeping when the store is full. Idempotent.

    Gradio makes each of them through a module-level name (SessionState in gradio.state_holder,
    StateHolder in gradio.routes, LRUCache in gradio.queueing), so replacing the names is enough; what
    was made before stays as it is.
    """
    import gradio.queueing as gradio_queueing
    import gradio.routes as gradio_routes

    if keeps is not None:
        LeanStateHolder.keeps = staticmethod(keeps)
    if installed():
        return True
    if not (matches_this_gradio() and hasattr(gradio_routes, "StateHolder") and hasattr(gradio_queueing, "LRUCache")):
        log.warning("This Gradio's session store is not the one genai/ui/lean_state.py was written for: the app "
                    "keeps Gradio's own (each session then costs a copy of the page's configuration).")
        return False
    gradio_state.SessionState = LeanSessionState
    gradio_routes.StateHolder = LeanStateHolder
    gradio_queueing.LRUCache = RecentlyUsedQueues
    return True


def installed():
    import gradio.queueing as gradio_queueing
    import gradio.routes as gradio_routes

    return (gradio_state.SessionState is LeanSessionState and gradio_routes.StateHolder is LeanStateHolder
            and gradio_queueing.LRUCache is RecentlyUsedQueues)
