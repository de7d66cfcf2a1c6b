"""The Class tab: a teacher starts a class, students join with its code, the teacher watches their runs.

Teacher: "Start a class" gives a code to read aloud and a link that carries it (?class=CODE). The wall
shows one tile per joined student: their current or last run's live grid, family and settings, step and
losses, or "waiting for a training slot (next in line, or n ahead)". A gr.Timer refreshes it once a
second while the class runs; a tick where nothing changed, or while another tab shows, sends nothing. A
tile opens big (the run's grid, its timelapse, its model's samples on the teacher's seed); two students'
models can be drawn side by side on one seed. The teacher can send a demonstration or their own Train
form to every student's Train form, stop every run, and end the class.

Student: types the code once (or opens the link), with a name to show or none ("student 7"). A slower
timer on the student's page hears what the teacher sent (it fills the Train form; the student still
presses Start) and when the class ends. It runs only while the student is in a class.

Boundaries: every teacher action finds its class from the caller's own session (Classroom.taught_by),
never from anything the caller sends, and reaches a student only by their number in that class. A
student's calls see only their own session and what the teacher sent. Visitors who never open this tab
see no change.
"""

import base64
import io
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import gradio as gr
from PIL import Image

from ..classroom import CLASSES, ClassError, escaped, normalized, spoken
from ..presets import PRESETS
from ..sampling import MAX_SEED, grid, sample
from . import request_costs, settings, train_tab, visitors
from .errors import AppError, friendly
from .inputs import NumberInput, whole_number
from .pictures import enlarge, gif_file, png_file
from .run_link import page_url
from .session import SESSIONS, pictures_folder, run_snapshot
from .train_form import checked_form, filled

CLASS_TAB = "class"  # this tab's id in the page's gr.Tabs (genai/ui/blocks.py)
WALL_SECONDS = 1.0  # the teacher's wall refreshes at most this often, while the Class tab shows
# Whether the wall is on the teacher's screen now, read by the page at each tick. It is read there, not kept from
# tab events, because Gradio's tabs also report a select of the first tab while a page starts, which may arrive
# after the teacher's own click on Class: a timer stopped by it left a wall that never refreshed.
WALL_ON_SCREEN_JS = ("(session, shown) => { const wall = document.querySelector('#class-wall'); "
                     "return [session, !!wall && wall.offsetParent !== null]; }")
NEWS_SECONDS = 3.0  # a student's page asks this often whether the teacher sent something or ended the class
TILE_PIXELS = 132  # a tile's grid, on screen
SAMPLES, SAMPLE_COLUMNS = 20, 5  # a student's model drawn on the teacher's seed: four rows of five
PAGES_PER_WALL = 8  # the teacher's pages (reloads, a second window) whose last wall is remembered, per class
_walls = weakref.WeakKeyDictionary()  # Class -> WallCache: what the teacher's page shows now


@dataclass
class ClassTab:
    # the student's side
    join_code: gr.Textbox
    join_name: gr.Textbox
    join: gr.Button
    leave: gr.Button
    student_status: gr.Markdown
    news: gr.Timer
    # the teacher's side
    start: gr.Button
    code: gr.Markdown
    end: gr.Button
    stop_all: gr.Button
    demonstration: gr.Dropdown
    push_demonstration: gr.Button
    push_form: gr.Button
    action_status: gr.Markdown
    wall: gr.HTML
    wall_timer: gr.Timer
    wall_on_screen: gr.Checkbox  # never shown: each tick's JavaScript (WALL_ON_SCREEN_JS) sets it from the page
    tile: gr.Dropdown
    seed: gr.Number
    open_tile: gr.Button
    big_preview: gr.Image
    big_samples: gr.Image
    big_gif: gr.File
    big_caption: gr.Markdown
    pair: gr.Dropdown
    side_by_side: gr.Button
    pair_gallery: gr.Gallery
    teacher_tools: gr.Column  # shown only to the teacher of a running class
    remove: gr.Button


class WallCache:
    """One class's wall: each tile's HTML with the run state it shows, and what each of the teacher's pages was
    last sent. That is kept per page, not per class: a page the teacher reloads, or a second window on the
    projector, starts blank and must get the whole wall on its first tick, whatever the other page has seen."""

    def __init__(self):
        self.tiles = {}  # member number -> (tile signature, HTML)
        self.pages = OrderedDict()  # the page (Gradio's session_hash) -> (wall signature, roster) it was last sent

    def sent_to(self, page):
        """(wall signature, roster) this page was last sent, or (None, None) for a page not seen (or forgotten)."""
        return self.pages.get(page, (None, None))

    def note_sent(self, page, signature, roster):
        self.pages[page] = (signature, roster)
        self.pages.move_to_end(page)
        while len(self.pages) > PAGES_PER_WALL:  # bounded: a forgotten page only gets the whole wall again
            self.pages.popitem(last=False)


def address_of(request):
    """The visitor's address (genai/ui/visitors.py: the forwarded one only behind a trusted proxy): wrong
    codes are limited per address too, and classes per address."""
    return visitors.of_request(request) or ""


def registered(session):
    """The session, looked after by the server (a key, freed with its TTL), and noted as used now."""
    SESSIONS.register(session)
    session.touch()
    return session


def taught(session):
    """The class this session teaches, or AppError: a student's session can do none of the teacher's actions."""
    lesson = CLASSES.taught_by(session)
    if lesson is None:
        raise AppError("Only the teacher of a running class can do this: press Start a class first.")
    session.touch()
    return lesson


# The teacher's side

def code_words(lesson, url):
    link = f"{url}?class={lesson.code}" if url else f"this app's address followed by ?class={lesson.code}"
    until = time.strftime("%H:%M", time.localtime(lesson.expires - 60))
    return (f"### Class code: `{lesson.spoken_code}`\n"
            f"Students open the **Class** tab and type it, or open **{link}**. It works until {until} "
            "(server time) or until you end the class. The wall below shows each student's current or last run.")


@friendly
def start_class(session, request: gr.Request):
    try:
        lesson = CLASSES.start(registered(session), address_of(request))
    except ClassError as error:
        raise AppError(str(error)) from None
    _walls[lesson] = WallCache()
    return (code_words(lesson, page_url(request) or session.page_url), gr.Timer(active=True), "", wall_html(lesson),
            gr.Column(visible=True))


@friendly
def end_class(session):
    lesson = CLASSES.taught_by(session)
    if lesson is None:
        raise AppError("Only the teacher of a running class can do this: press Start a class first.")
    CLASSES.end(session)
    return (f"The class `{lesson.spoken_code}` has ended: its code no longer works. Its students were told; their "
            "models stay theirs."), gr.Timer(active=False), "", gr.Column(visible=False)


@friendly
def stop_all(session):
    """Stop every student's run after its current step (a run still waiting for a slot never starts)."""
    lesson = taught(session)
    stopped = 0
    for member in lesson.students():
        student = member.live_session()
        controls = student._controls if student is not None else None
        if controls is None:
            continue
        if controls.busy.locked():  # training, or waiting for a slot inside its handler: both watch this switch
            controls.stop.set()
            stopped += 1
        elif controls.waiting:  # Start pressed, the run not yet in its handler
            controls.cancel_waiting = True
            stopped += 1
    return f"Asked {stopped} run{'s' if stopped != 1 else ''} to stop (each keeps its model)."


@friendly
def push_demonstration(name, session):
    lesson = taught(session)
    if name not in PRESETS:
        raise AppError("Choose a demonstration to send.")
    CLASSES.push(session, "demonstration", name, PRESETS[name]["title"])
    return (f"Sent to the Train form of {len(lesson.students())} student(s): {PRESETS[name]['title']}. "
            "Each presses Start training when ready.")


def push_form(tab_fields):
    @friendly
    def push(*values):
        *form_values, session = values
        lesson = taught(session)
        checked = checked_form(dict(zip(tab_fields, form_values)), settings.max_train_seconds())
        title = f"your teacher's settings ({checked['family'].upper()}, {checked['arch']})"
        CLASSES.push(session, "settings", checked, title)
        return (f"Sent your Train form ({checked['family'].upper()}, {checked['arch']}) to the Train form of "
                f"{len(lesson.students())} student(s). Each presses Start training when ready.")

    return push


def losses_words(losses):
    return ", ".join(f"{name} {value:.3f}" for name, value in list(losses.items())[:4])


def settings_words(values):
    names = {"lr": "lr", "batch_size": "batch", "seed": "seed", "beta": "β", "d_lr_ratio": "D's lr ratio"}
    return " · ".join(f"{names.get(name, name)} {value:g}" for name, value in values.items()
                      if isinstance(value, (int, float)))


def tile_html(member, shot, ahead):
    """One student's tile: name, live grid, family and settings, step and losses (all text escaped)."""
    if shot.preview_png is not None and shot.state != "waiting":
        data = base64.b64encode(shot.preview_png).decode("ascii")
        picture = (f'<img src="data:image/png;base64,{data}" alt="live grid of {escaped(member.label)}" '
                   f'style="width:{TILE_PIXELS}px;height:auto;image-rendering:pixelated;display:block">')
    else:
        picture = (f'<div style="width:{TILE_PIXELS}px;height:{TILE_PIXELS}px;background:#222;color:#aaa;'
                   'display:flex;align-items:center;justify-content:center;font-size:12px">no grid yet</div>')
    state = {"none": "no run yet", "training": "training", "done": "finished"}.get(shot.state, "")
    if shot.state == "waiting":
        state = "waiting for a training slot (next in line)" if ahead == 0 else \
            f"waiting for a training slot ({ahead} ahead)"
    lines = [f"<b>{escaped(member.label)}</b> · {escaped(state)}"]
    if shot.family:
        lines.append(f"{escaped(shot.family.upper())}: {escaped(shot.about)}")
    if shot.settings:
        lines.append(escaped(settings_words(shot.settings)))
    if shot.step:
        lines.append(f"step {shot.step:,}" + (f": {escaped(losses_words(shot.losses))}" if shot.losses else ""))
    return (f'<div class="genai-tile" data-student="{member.number}" style="display:flex;gap:8px;padding:6px;'
            'border:1px solid #8884;border-radius:6px;width:330px;font-size:12px;line-height:1.35">'
            f'{picture}<div>{"<br>".join(lines)}</div></div>')


def wall_parts(lesson):
    """(the wall's signature, HTML, the roster of (label, number)) of a class right now. A tile's HTML is
    made again only when its run changed (a new preview, step or state)."""
    cache = _walls.setdefault(lesson, WallCache())
    now = time.monotonic()
    members = lesson.students()
    shots = {}
    for member in members:
        student = member.live_session()
        shots[member.number] = run_snapshot(student) if student is not None else None
        waiting = shots[member.number] is not None and shots[member.number].state == "waiting"
        member.waiting_since = (member.waiting_since or now) if waiting else None
    queue = sorted(m.waiting_since for m in members if m.waiting_since is not None)
    tiles, signature = [], []
    for member in members:
        shot = shots[member.number]
        if shot is None:
            continue
        ahead = queue.index(member.waiting_since) if member.waiting_since is not None else 0
        key = (member.label, shot.state, shot.step, id(shot.preview_png), shot.model_name, ahead, shot.about)
        cached = cache.tiles.get(member.number)
        if cached is None or cached[0] != key:
            cached = cache.tiles[member.number] = (key, tile_html(member, shot, ahead))
        tiles.append(cached[1])
        signature.append(key)
    for number in set(cache.tiles) - set(shots):  # students who left
        del cache.tiles[number]
    if not tiles:
        body = f"<p>No student has joined yet. They type <b>{escaped(lesson.spoken_code)}</b> in the Class tab.</p>"
    else:
        body = "".join(tiles)
    html = (f'<div id="genai-wall-tiles" data-students="{len(tiles)}" '
            f'style="display:flex;flex-wrap:wrap;gap:8px">{body}</div>')
    roster = [(member.label, member.number) for member in members]
    return tuple(signature), html, roster


def wall_html(lesson):
    return wall_parts(lesson)[1]


def wall_tick(session, on_screen=True, request: gr.Request = None):
    """The timer's tick: the wall and the student pickers, each only when it changed since this page last got
    them (else nothing is sent). While another tab shows (on_screen False), a tick does no work and sends nothing."""
    lesson = CLASSES.taught_by(session)
    if lesson is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=False)
    session.touch()
    if not on_screen:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    cache = _walls.setdefault(lesson, WallCache())
    page = getattr(request, "session_hash", None)
    sent_signature, sent_roster = cache.sent_to(page)
    signature, html, roster = wall_parts(lesson)
    wall = gr.skip() if signature == sent_signature else html
    if roster == sent_roster:
        picker = pair = gr.skip()
    else:
        picker, pair = gr.update(choices=roster), gr.update(choices=roster)
    cache.note_sent(page, signature, roster)
    return wall, picker, pair, gr.skip()


def member_of_class(lesson, number):
    """The student with this number in the teacher's own class (a number from another class reaches nobody)."""
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise AppError("Choose a student from the list.") from None
    for member in lesson.students():
        if member.number == number:
            return member, member.live_session()
    raise AppError("No student with this number is in your class.")


def finished_model(member, student):
    """The model of this student's last finished run (kept in their session), or AppError."""
    shot = run_snapshot(student)
    name = shot.model_name
    if not name:
        name = next(reversed(list(student.models)), "") if student.models else ""
    entry = student.models.get(name) if name else None
    if entry is None:
        raise AppError(f"{member.label} has no finished model yet: their run must end (or be stopped) first.")
    return entry


def drawn(entry, seed):
    with request_costs.computing(entry.model, SAMPLES):
        images = sample(entry.model, seed, SAMPLES)
    return enlarge(grid(images, columns=SAMPLE_COLUMNS), 2)


@friendly
def open_tile(number, seed, session):
    """A student's run, big: its newest live grid, its timelapse, and its model's samples on the teacher's seed."""
    lesson = taught(session)
    seed = whole_number(seed, "The seed", 0, MAX_SEED)
    member, student = member_of_class(lesson, number)
    shot = run_snapshot(student)
    preview = None
    if shot.preview_png is not None:
        preview = png_file(enlarge(Image.open(io.BytesIO(shot.preview_png)), 2), pictures_folder())
    samples, gif, said, entry = None, gr.update(value=None, visible=False), [], None
    try:
        entry = finished_model(member, student) if shot.state != "training" else None
    except AppError as error:
        said.append(str(error))
    if shot.state == "training":  # its timelapse so far; samples once it ends (a model mid-step is not drawn from)
        timelapse = student.controls().timelapse
        if timelapse is not None and len(timelapse):
            gif = gr.update(value=gif_file(timelapse.gif_bytes(), pictures_folder()), visible=True)
        said.append(f"{member.label}'s run is training: its samples on your seed come when it ends (open it again "
                    "then).")
    elif entry is not None:
        samples = png_file(drawn(entry, seed), pictures_folder())
        said.append(f"Samples of {member.label}'s model on your seed {seed}: {entry.model.describe()}.")
        if entry.timelapse is not None and len(entry.timelapse):
            gif = gr.update(value=gif_file(entry.timelapse.gif_bytes(), pictures_folder()), visible=True)
    label = escaped_markdown(member.label)
    caption = f"**{label}** · " + (f"step {shot.step:,} · " if shot.step else "") + \
        " ".join(part.replace(member.label, label) for part in said)
    return preview, samples, gif, caption


@friendly
def remove_student(number, session):
    """Take a student off the wall (a seat the teacher does not want: a duplicate, or someone not in the room)."""
    lesson = taught(session)
    member, _ = member_of_class(lesson, number)
    try:
        CLASSES.remove(session, member.number)
    except ClassError as error:
        raise AppError(str(error)) from None
    return (f"{escaped_markdown(member.label)} is off the wall: they are told, cannot join again from that tab, and "
            "keep their models.")


def escaped_markdown(text):
    """A student's chosen name, for a gr.Markdown: no HTML, and no Markdown (a link, an image) gets through."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join("\\" + c if c in "\\`*_[]()!#|~" else c for c in text)


@friendly
def side_by_side(numbers, seed, session):
    """Two students' models drawn from the same noise (the teacher's seed), side by side."""
    lesson = taught(session)
    seed = whole_number(seed, "The seed", 0, MAX_SEED)
    numbers = [numbers] if not isinstance(numbers, list) else numbers
    if len(numbers) != 2:
        raise AppError("Choose two students to put side by side.")
    items = []
    for number in numbers:
        member, student = member_of_class(lesson, number)
        entry = finished_model(member, student)
        caption = f"{member.label}: {entry.model.family.upper()}, {entry.model.describe()} · seed {seed}"
        items.append((png_file(drawn(entry, seed), pictures_folder()), caption))
    return items


# The student's side

def joined(code, name, session, request):
    """Join the class with this code (AppError if refused); returns (the student's status, their timer on)."""
    try:
        member = CLASSES.join(registered(session), code, name, address_of(request))
    except ClassError as error:
        raise AppError(str(error)) from None
    lesson, _ = CLASSES.membership(session)
    member.seen_push = 0  # what the teacher sent before this student joined reaches them too
    take_seat(request, lesson, member)
    return joined_words(lesson, member), gr.Timer(active=True)


def take_seat(request, lesson, member):
    """From now on this tab counts as its seat in the class, not as its address (visitors.py): a class behind
    one school router is many students, and the per-visitor limits (one run each) count each of them."""
    visitors.take_seat(request, f"class {lesson.code}, student {member.number}", lesson.expires)


@friendly
def join_class(code, name, session, request: gr.Request):
    return joined(code, name, session, request)


def joined_words(lesson, member):
    return (f"**Joined the class `{lesson.spoken_code}`** as **{escaped_markdown(member.label)}**. Your teacher sees "
            "your current or last run on their wall (its live grid, settings, step and losses); no other student "
            "does. What your teacher sends fills your Train form; you still press Start.")


@friendly
def leave_class(session, request: gr.Request):
    lesson, _ = CLASSES.membership(session)
    visitors.leave_seat(request)
    if not CLASSES.leave(session):
        return "You are not in a class.", gr.Timer(active=False)
    return f"You left the class `{lesson.spoken_code}`. Your models stay yours.", gr.Timer(active=False)


def class_news(session, tab, train_ui, tabs, request=None):
    """The student's tick: has the teacher sent something, or ended the class? {component: update}."""
    lesson, member = CLASSES.membership(session)
    if lesson is None and CLASSES.removed_from(session) is not None:
        visitors.leave_seat(request)  # this tab counts as its address again
        return {tab.student_status: "Your teacher removed you from the class. Your models stay yours.",
                tab.news: gr.Timer(active=False)}
    if lesson is None:
        return {tab.student_status: "You are not in a class (it may have ended).", tab.news: gr.Timer(active=False)}
    session.touch()
    if lesson.ended_at is not None:
        CLASSES.leave(session)
        return {tab.student_status: f"The class `{lesson.spoken_code}` has ended. Your models stay yours.",
                tab.news: gr.Timer(active=False)}
    push = lesson.push
    if push is None or push.number <= member.seen_push:
        return {tab.news: gr.skip()}  # (an empty dict would be read as one value, not as "no updates")
    member.seen_push = push.number
    parts = {"fields": train_ui.fields, "knobs": train_ui.knobs, "explanation": train_ui.explanation,
             "code": train_ui.code, "note": train_ui.demonstration_note}
    if push.kind == "demonstration":
        update = train_tab.preset_chosen(push.value, parts)
        update[train_ui.demonstration] = push.value
    else:
        family = push.value["family"]
        update = {**train_tab.family_changed(family, parts),
                  **filled(train_ui.fields, family, push.value, settings.max_train_seconds()),
                  train_ui.demonstration: "", train_ui.demonstration_note: ""}
    said = (f"Your teacher sent **{escaped_markdown(push.title)}**: your Train form is filled. Press Start training "
            "when ready.")
    update[train_ui.status] = update[tab.student_status] = said
    update[tabs] = gr.Tabs(selected="train")
    return update


def build():
    """Lay out the Class tab (inside an open gr.Tab): the students' one row, then the teacher's wall and tools."""
    gr.Markdown("A teacher starts a class and reads its code aloud; students join with it. The teacher then sees "
                "every student's run on one wall. Nobody else sees a student's work, and nobody has to join.",
                elem_classes=["genai-note"])
    with gr.Row(equal_height=True):
        join_code = gr.Textbox(label="Class code (from your teacher)", placeholder="7KX-QM4-TR9", max_length=36,
                               elem_id="class-join-code", scale=2)
        join_name = gr.Textbox(label="Name to show your teacher (optional; else \"student N\")", max_length=40,
                               elem_id="class-join-name", scale=2)
        join = gr.Button("Join", variant="primary", elem_id="class-join", scale=1)
        leave = gr.Button("Leave", elem_id="class-leave", scale=1)
    student_status = gr.Markdown(elem_id="class-student-status")
    news = gr.Timer(NEWS_SECONDS, active=False)
    gr.Markdown("#### Teach a class")
    start = gr.Button("Start a class", variant="primary", elem_id="class-start")
    code = gr.Markdown(elem_id="class-code")
    wall_timer = gr.Timer(WALL_SECONDS, active=False)
    wall_on_screen = gr.Checkbox(True, visible=False)
    # The teacher's tools show once this page started a class (every one of them also refuses anyone else).
    with gr.Column(visible=False, elem_id="class-teacher-tools") as teacher_tools:
        with gr.Row():
            stop_everyone = gr.Button("Stop all runs", variant="stop", elem_id="class-stop-all")
            end = gr.Button("End the class", elem_id="class-end")
        # The wall right under the code: at a projector's 1280x720 the code and the first tiles show together.
        wall = gr.HTML("", label="The wall", elem_id="class-wall")
        with gr.Row(equal_height=True):
            demonstration = gr.Dropdown([(entry["title"], name) for name, entry in PRESETS.items()],
                                        value=next(iter(PRESETS)), label="Demonstration", elem_id="class-demonstration",
                                        scale=3)
            push_demo = gr.Button("Send to every student's Train form", elem_id="class-push-demonstration", scale=1)
            push_mine = gr.Button("Send my Train form's settings", elem_id="class-push-form", scale=1)
        action_status = gr.Markdown(elem_id="class-action-status")
        with gr.Row(equal_height=False):
            with gr.Column(min_width=240):
                tile = gr.Dropdown([], label="Open a student's run big", elem_id="class-tile")
                seed = NumberInput(42, label=f"Your seed (0 to {MAX_SEED:,}): the same noise for every model",
                                   elem_id="class-seed")
                with gr.Row():
                    open_big = gr.Button("Open big", elem_id="class-open-tile")
                    remove = gr.Button("Remove from the class", size="sm", elem_id="class-remove")
                pair = gr.Dropdown([], multiselect=True, max_choices=2, label="Two students side by side",
                                   elem_id="class-pair")
                show_pair = gr.Button("Side by side on your seed", elem_id="class-side-by-side")
            with gr.Column(scale=3, min_width=360):
                big_caption = gr.Markdown(elem_id="class-big-caption")
                with gr.Row():
                    big_preview = gr.Image(label="Live grid",
                                           alt_text="The chosen student's live samples, as their run trains",
                                           type="filepath", interactive=False, height=300, elem_id="class-big-preview")
                    big_samples = gr.Image(label="Its model's samples on your seed",
                                           alt_text="Samples of the chosen student's model, drawn from your seed",
                                           type="filepath", interactive=False, height=300, elem_id="class-big-samples")
                big_gif = gr.File(label="Timelapse (GIF)", visible=False, interactive=False, elem_id="class-big-gif")
                pair_gallery = gr.Gallery(label="Side by side, the same seed", columns=2, height="auto",
                                          object_fit="contain", elem_id="class-pair-gallery")
    return ClassTab(join_code, join_name, join, leave, student_status, news, start, code, end, stop_everyone,
                    demonstration, push_demo, push_mine, action_status, wall, wall_timer, wall_on_screen, tile, seed,
                    open_big, big_preview, big_samples, big_gif, big_caption, pair, show_pair, pair_gallery,
                    teacher_tools, remove)


def connect(tab, session, train_ui, tabs, restored):
    """Wire the tab. train_ui: the Train tab (its form takes what the teacher sends); tabs: to open Train when
    it does; restored: the page-load event that found this browser's session (a link's code joins after it)."""
    quick = {"show_progress": "hidden", "concurrency_limit": None}
    tab.start.click(start_class, session, [tab.code, tab.wall_timer, tab.action_status, tab.wall, tab.teacher_tools],
                    api_name="class_start", **quick)
    tab.end.click(end_class, session, [tab.code, tab.wall_timer, tab.action_status, tab.teacher_tools],
                  api_name="class_end", **quick)
    tab.stop_all.click(stop_all, session, tab.action_status, api_name="class_stop_all", **quick)
    tab.push_demonstration.click(push_demonstration, [tab.demonstration, session], tab.action_status,
                                 api_name="class_push_demonstration", **quick)
    tab.push_form.click(push_form(list(train_ui.fields)), [*train_ui.fields.values(), session], tab.action_status,
                        api_name="class_push_settings", **quick)
    # The timer runs while the page teaches a class; the wall is made and sent only while it is on screen.
    tab.wall_timer.tick(wall_tick, [session, tab.wall_on_screen], [tab.wall, tab.tile, tab.pair, tab.wall_timer],
                        js=WALL_ON_SCREEN_JS, api_name="class_wall", **quick)
    tab.open_tile.click(open_tile, [tab.tile, tab.seed, session],
                        [tab.big_preview, tab.big_samples, tab.big_gif, tab.big_caption], api_name="class_tile",
                        show_progress="minimal")
    tab.remove.click(remove_student, [tab.tile, session], tab.action_status, api_name="class_remove", **quick)
    tab.side_by_side.click(side_by_side, [tab.pair, tab.seed, session], tab.pair_gallery, api_name="class_pair",
                           show_progress="minimal")

    tab.join.click(join_class, [tab.join_code, tab.join_name, session], [tab.student_status, tab.news],
                   api_name="class_join", **quick)
    tab.leave.click(leave_class, session, [tab.student_status, tab.news], api_name="class_leave", **quick)

    news_outputs = [tab.student_status, tab.news, train_ui.status, *train_ui.fields.values(),
                    *train_ui.knobs.values(), train_ui.explanation, train_ui.code, train_ui.demonstration,
                    train_ui.demonstration_note, tabs]

    @friendly
    def news(session, request: gr.Request):
        return class_news(session, tab, train_ui, tabs, request)

    tab.news.tick(news, session, news_outputs, api_name="class_news", **quick)

    def from_link(session, request: gr.Request):
        """On page load: join the class a link names (?class=CODE), or show the class this session is in/teaches."""
        query = dict(getattr(request, "query_params", None) or {}) if request is not None else {}
        lesson = CLASSES.taught_by(session)
        if lesson is not None:  # a teacher reloaded the page: the wall goes on
            return {tab.code: code_words(lesson, page_url(request)), tab.wall_timer: gr.Timer(active=True),
                    tab.teacher_tools: gr.Column(visible=True)}
        member_of, member = CLASSES.membership(session)
        if member_of is not None and member_of.ended_at is None:  # a student reloaded the page
            take_seat(request, member_of, member)
            return {tab.student_status: joined_words(member_of, member), tab.news: gr.Timer(active=True)}
        code = query.get("class")
        if not code:
            return gr.skip()  # no class in the link: every output as it is
        try:
            said, timer = joined(code, "", session, request)
        except AppError as error:
            return {tab.student_status: f"The link's class code did not work: {error}", tab.join_code: ""}
        return {tab.student_status: said, tab.news: timer, tab.join_code: spoken(normalized(code)),
                tabs: gr.Tabs(selected=CLASS_TAB)}

    restored.then(from_link, session, [tab.code, tab.wall_timer, tab.student_status, tab.news, tab.join_code, tabs,
                                       tab.teacher_tools],
                  api_visibility="private", **quick)
