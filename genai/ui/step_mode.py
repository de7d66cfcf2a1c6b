"""Step mode in the Train tab: pause the run, advance it 1 or 10 steps, and see what one step does.

For the last step of each advance the panel shows the training batch as the model saw it just
before the update, with a number under every image, and how that number moved with the update
(a GAN: what the discriminator says of each real and each generated digit; a VAE: each digit's
reconstruction and KL). Beside it, the loss terms before and after, on the same batch and noise.
The engine side is genai/stepping.py; this file only draws and wires buttons.

/step waits for its steps without holding one of Gradio's worker threads (it is a coroutine that
looks every POLL_SECONDS): a class pressing it while their runs are paused must not leave /sample
waiting for a thread. Each visitor has one /step at a time, and each waits at most STEP_WAIT_SECONDS.
"""

import asyncio
import time
from dataclasses import dataclass

import gradio as gr
from PIL import Image, ImageDraw, ImageFont

from ..images import to_uint8
from .errors import AppError, friendly
from .inputs import whole_number
from .pictures import png_file
from .session import pictures_folder
from .settings import TRAIN_WAITING_PLACES, train_concurrency

SHOWN_IMAGES = 8  # of the batch, per row
SCALE = 3  # each 28x28 digit drawn at 84x84
# The numbers are drawn at 20 px in a picture about 800 px wide: shown 530 px wide at 1280x720 they stay about
# 13 px, and a projector's class view shows them larger. (Pillow's own 11 px font was unreadable there.)
FONT_SIZE = 20
TITLE_SIZE = 20
STEP_WAIT_SECONDS = 60  # how long /step waits for its steps; slower ones go on and the progress bar shows them
POLL_SECONDS = 0.1  # how often a waiting /step looks whether its steps are done
MOST_STEPS = 100
# The picture's text alternative (the table under it gives its loss terms and the batch's scores in numbers).
PICTURE_WORDS = (f"The training batch of the last step: per row, {SHOWN_IMAGES} of its images as the model saw "
                 "them, and under each its numbers just before and just after the update")


@dataclass
class StepPanel:
    pause: gr.Button
    one: gr.Button
    ten: gr.Button
    resume: gr.Button
    picture: gr.Image
    table: gr.Markdown
    one_count: gr.Number  # hidden: how many steps each button asks for (API clients send any 1-100)
    ten_count: gr.Number


def number_text(value):
    """A score short enough to sit under an 84-pixel digit."""
    size = abs(value)
    return f"{value:.0f}" if size >= 100 else f"{value:.1f}" if size >= 10 else f"{value:.2f}"


def score_lines(name, before, after, named):
    """The two lines under a digit for one score: its value before, then "-> after" (named: prefix the name,
    when a row has several scores)."""
    return [f"{name} {number_text(before)}" if named else number_text(before), f"-> {number_text(after)}"]


def wrapped(text, font, width):
    """text cut into lines at spaces, each at most width pixels wide in font."""
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + [line] if line else lines


def step_picture(stepped, shown=SHOWN_IMAGES, scale=SCALE):
    """A StepReport as one picture: per row a title, `shown` digits as the model saw them before the
    update, and under each its numbers, before and after ("-> after")."""
    font, title_font = ImageFont.load_default(size=FONT_SIZE), ImageFont.load_default(size=TITLE_SIZE)
    side, gap, line = 28 * scale, 8, FONT_SIZE + 4
    rows = list(zip(stepped.before.rows, stepped.after.rows))
    count = min(shown, max((len(before.images) for before, _ in rows), default=0))
    # Every digit's column is as wide as its widest number (or the digit), so no number runs into the next.
    labels = [[[text for name, values in before.scores.items()
                for text in score_lines(name, float(values[i]), float(after.scores[name][i]), len(before.scores) > 1)]
               for i in range(count)] for before, after in rows]
    column = max([side] + [int(font.getlength(text)) + 1 for row in labels for texts in row for text in texts])
    width = max(count * (column + gap) + gap, 480)
    titles = []
    for before, _ in rows:
        names = " and ".join(before.scores)
        titles.append(wrapped(before.title + (f" ({names}: before -> after the update)" if names else ""),
                              title_font, width - 2 * gap))
    heights = [len(title) * (TITLE_SIZE + 4) + 4 + side + 4 + line * max((len(texts) for texts in row), default=0)
               + 2 * gap for title, row in zip(titles, labels)]
    canvas = Image.new("RGB", (width, sum(heights) + gap), "white")
    draw = ImageDraw.Draw(canvas)
    y = gap
    for (before, _), title, row, height in zip(rows, titles, labels, heights):
        for k, text in enumerate(title):
            draw.text((gap, y + k * (TITLE_SIZE + 4)), text, fill="black", font=title_font)
        top = y + len(title) * (TITLE_SIZE + 4) + 4
        for i, digit in enumerate(to_uint8(before.images[:count])):
            left = gap + i * (column + gap)
            canvas.paste(Image.fromarray(digit).resize((side, side), Image.NEAREST).convert("RGB"),
                         (left + (column - side) // 2, top))
            for k, text in enumerate(row[i]):
                draw.text((left, top + side + 4 + k * line), text, fill="black", font=font)
        y += height
    return canvas


def step_table(stepped):
    """The loss terms before and after the update, and each row's scores over the whole batch, as Markdown."""
    lines = [f"**Step {stepped.step:,}**: the same batch and the same noise, just before and just after the update.",
             "", "| loss term | before | after | change |", "|---|---:|---:|---:|"]
    for name, before in stepped.before.losses.items():
        after = stepped.after.losses[name]
        lines.append(f"| {name} | {before:.4f} | {after:.4f} | {after - before:+.4f} |")
    for before, after in zip(stepped.before.rows, stepped.after.rows):
        for name, values in before.scores.items():
            moved = after.scores[name]
            lines.append("")
            lines.append(f"{name} over the {len(values)} images of the batch: mean {float(values.mean()):.3g} → "
                         f"{float(moved.mean()):.3g} (from {float(values.min()):.3g} to {float(values.max()):.3g} before).")
    return "\n".join(lines)


def stepper_of(session):
    """The step control of this tab's run, or a clear message that nothing is training."""
    stepper = session.controls().stepper
    if stepper is None or stepper.ended:
        raise AppError("Nothing is training in this tab: step mode pauses a run while it goes on. Press Start first.")
    return stepper


@friendly
def pause_run(session):
    stepper_of(session).pause()
    return ("Paused before the next step (time paused does not count against the run's time limit). "
            "Press **1 step** or **10 steps** to go on slowly, **Resume** to go on at full speed.")


@friendly
def resume_run(session):
    stepper_of(session).resume()
    return "Resumed: training at full speed."


@friendly
async def advance_run(steps, session):
    """Pause the run (if running), advance it `steps` steps, and show the last of them."""
    steps = whole_number(steps, "The number of steps", 1, MOST_STEPS)
    stepper = stepper_of(session)
    one_at_a_time = session.controls().stepping
    if not one_at_a_time.acquire(blocking=False):
        raise AppError("Your last steps are still being taken: wait for their picture, then ask for more.")
    try:
        ticket, deadline = stepper.advance(steps), time.monotonic() + STEP_WAIT_SECONDS
        while (stepped := stepper.wait_for(ticket, timeout=0)) is None and not stepper.ended:
            if time.monotonic() > deadline:
                raise AppError(still_stepping(stepper))
            await asyncio.sleep(POLL_SECONDS)
    finally:
        one_at_a_time.release()
    if stepped is None:
        raise AppError("The run ended before those steps were taken (its budget ran out, or Stop was pressed).")
    # Drawn in a thread of asyncio's own: Gradio's worker threads stay free for the other visitors.
    picture = await asyncio.to_thread(lambda: png_file(step_picture(stepped), pictures_folder()))
    return picture, step_table(stepped)


def still_stepping(stepper):
    """Why /step answers before its steps are done."""
    if stepper.waiting_for_slot:
        return ("Your run waits for a free training slot: while it was paused it lent its own to a run that was "
                "waiting. The steps follow as soon as a slot is free; the progress bar shows them.")
    return f"The steps take longer than {STEP_WAIT_SECONDS} s; they go on in the background and the progress bar shows them."


def build():
    """The step-mode panel (inside an open layout block)."""
    with gr.Accordion("Step through it: pause, then one step at a time", open=False, elem_id="train-step-mode"):
        with gr.Row(equal_height=True):
            pause = gr.Button("Pause", size="sm", elem_id="train-pause", min_width=60)
            one = gr.Button("1 step", size="sm", elem_id="train-step-one", min_width=60)
            ten = gr.Button("10 steps", size="sm", elem_id="train-step-ten", min_width=60)
            resume = gr.Button("Resume", size="sm", elem_id="train-resume", min_width=60)
        one_count, ten_count = gr.Number(1, visible=False), gr.Number(10, visible=False)
        # A short label, and room above the picture for it (genai-picture): a long one wrapped onto two lines
        # and covered the picture's own title and its top row of digits.
        picture = gr.Image(label="The batch of the last step", type="filepath", interactive=False,
                           elem_id="train-step-picture", elem_classes=["genai-picture"],
                           buttons=["download", "fullscreen"], alt_text=PICTURE_WORDS)
        table = gr.Markdown(elem_id="train-step-table")
    return StepPanel(pause, one, ten, resume, picture, table, one_count, ten_count)


def connect(panel, status, session):
    """status: the Train tab's status line (what pause and resume say)."""
    quick = {"concurrency_limit": None, "show_progress": "hidden"}
    panel.pause.click(pause_run, session, status, api_name="pause", **quick)
    panel.resume.click(resume_run, session, status, api_name="resume", **quick)
    shown = [panel.picture, panel.table]
    # A queue of its own, as long as the runs that can exist at once (one /step each): however many wait,
    # they hold no worker thread and no place in another event's queue.
    stepping = {"concurrency_id": "step", "concurrency_limit": train_concurrency() + TRAIN_WAITING_PLACES,
                "show_progress": "hidden"}
    # /step takes how many steps (1 to 100); in the browser, each button sends its own count.
    panel.one.click(advance_run, [panel.one_count, session], shown, api_name="step", **stepping)
    panel.ten.click(advance_run, [panel.ten_count, session], shown, api_visibility="private", **stepping)
