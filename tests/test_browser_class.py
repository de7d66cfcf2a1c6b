"""A class in real, headless Chromium pages: a teacher's page and three students' pages at 1280x720.

The students join (one through the link that carries the code, two by typing it), the teacher sends a
demonstration to their Train forms, they press Start, the teacher's wall shows their live tiles, and the
teacher opens a tile big and puts two students' models side by side on one seed. Screenshots (the size of
a projector's screen) go to screenshots/ (or $GENAI_SCREENSHOT_DIR). Every page is a visitor of its own
(its own address, as tests/app_server.py's visitor_headers gives it).
"""

import json
import os
import re
import time
from pathlib import Path

import app_server
from test_browser import REPO, WAIT_MS, browser  # noqa: F401  (a fixture)

WIDTH, HEIGHT = 1280, 720


def visitor_page(browser, server, query=""):  # noqa: F811
    # A context of its own: its own storage (so its own session) and address; more windows may open in it.
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                  extra_http_headers=app_server.visitor_headers())
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(server.url + query)
    return page


def text_of(page, selector):
    return page.locator(selector).first.inner_text()


def wait_for_text(page, selector, pattern, timeout=60_000):
    try:
        page.wait_for_function("([selector, pattern]) => { const e = document.querySelector(selector); "
                               "return e && new RegExp(pattern).test(e.innerText); }", arg=[selector, pattern],
                               timeout=timeout)
    except Exception as error:  # say what the page showed instead (a timeout alone says nothing)
        shown = text_of(page, selector) if page.locator(selector).count() else "(no such element)"
        raise AssertionError(f"{selector} did not show {pattern!r} within {timeout / 1000:g} s; it shows:\n"
                             f"{shown}") from error
    return text_of(page, selector)


def screenshot(page, name, selector=None):
    """A 1280x720 screenshot (what the projector shows), scrolled to show `selector`."""
    folder = Path(os.environ.get("GENAI_SCREENSHOT_DIR") or REPO / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    if selector:
        page.locator(selector).first.scroll_into_view_if_needed()
    page.wait_for_timeout(400)  # let freshly changed pictures finish loading
    page.screenshot(path=str(folder / f"{name}.png"))


def choose(page, dropdown, option):
    page.locator(f"#{dropdown} input").first.click()
    page.get_by_role("option", name=option, exact=True).click()


def test_a_teacher_runs_a_class_of_three_on_one_wall(browser, mnist_dir):  # noqa: F811
    server = app_server.start(mnist_dir)
    teacher = visitor_page(browser, server)
    students = []
    try:
        teacher.get_by_role("tab", name="Class").click()
        assert not teacher.locator("#class-end").is_visible()  # the teacher's tools wait for a class
        teacher.locator("#class-start").click()
        words = wait_for_text(teacher, "#class-code", "Class code")
        code = re.search(r"[2-9A-Z]{3}-[2-9A-Z]{3}-[2-9A-Z]{3}", words).group(0)

        # One student opens the link; two type the code (one with a name to show).
        students.append(visitor_page(browser, server, f"?class={code.replace('-', '')}"))
        wait_for_text(students[0], "#class-student-status", "Joined the class")
        for name in ("Ana", ""):
            page = visitor_page(browser, server)
            page.get_by_role("tab", name="Class").click()
            page.locator("#class-join-code input, #class-join-code textarea").first.fill(code.lower())
            page.locator("#class-join-name input, #class-join-name textarea").first.fill(name)
            page.locator("#class-join").click()
            wait_for_text(page, "#class-student-status", "Joined the class")
            students.append(page)
        wall = wait_for_text(teacher, "#class-wall", "student 3")
        for page in students:  # a student never sees the teacher's tools
            assert not page.locator("#class-stop-all").is_visible() and not page.locator("#class-wall").is_visible()
        assert "student 1" in wall and "Ana" in wall
        screenshot(students[1], "class-student-joined")

        # The teacher sends a demonstration: each student's Train form fills and opens; they press Start.
        choose(teacher, "class-demonstration", "VAE with β = 0: an autoencoder that cannot draw")
        teacher.locator("#class-push-demonstration").click()
        wait_for_text(teacher, "#class-action-status", "Sent to the Train form of 3 student")
        for page in students:
            wait_for_text(page, "#train-status", "Your teacher sent", timeout=30_000)
            page.wait_for_function("() => [...document.querySelectorAll('#train-family input[type=radio]')]"
                                   ".some(r => r.checked && r.value === 'vae')")
            assert float(page.locator("#train-beta input").first.input_value()) == 0.0
            # The demonstration runs 20 s; these students shorten it (the form is theirs), so the test is short.
            page.locator("#train-seconds input").first.fill("6")
            page.locator("#train-seconds input").first.blur()
            page.locator("#train-start").click()
        wait_for_text(students[0], "#train-progress", r"step [0-9]")
        screenshot(students[0], "class-student-training-the-demonstration")

        # The wall: a live tile per student (the test server has 2 training slots: one run may wait).
        teacher.wait_for_function("() => document.querySelectorAll('#class-wall .genai-tile img').length >= 2",
                                  timeout=60_000)
        wall = wait_for_text(teacher, "#class-wall", r"step [0-9]")
        assert wall.count("VAE") >= 2
        screenshot(teacher, "class-wall-live", "#class-code")

        # The wall is made and sent only while the teacher looks at it: each tick says whether it is on screen.
        wall_fn = teacher.evaluate("() => (window.gradio_config.dependencies.find(d => d.api_name === 'class_wall')"
                                   " || {}).id")
        assert wall_fn is not None
        ticks = []  # (when, whether the page said the wall is on screen)

        def count_tick(request):
            if "queue/join" in request.url and request.post_data:
                body = json.loads(request.post_data)
                if body.get("fn_index") == wall_fn:
                    ticks.append((time.monotonic(), body["data"][-1]))

        teacher.on("request", count_tick)
        teacher.wait_for_timeout(2500)
        assert ticks and all(shown for _, shown in ticks), "the wall does not tick while it shows"
        teacher.get_by_role("tab", name="Train").click()
        teacher.wait_for_timeout(1500)  # a tick already on its way may still go
        hidden_from = time.monotonic()
        teacher.wait_for_timeout(3000)
        hidden = [shown for when, shown in ticks if when > hidden_from]
        assert hidden and not any(hidden), "the wall's ticks say it shows while another tab shows"
        teacher.get_by_role("tab", name="Class").click()
        back = time.monotonic()
        teacher.wait_for_timeout(2500)
        assert [when for when, shown in ticks if when > back + 1 and shown], "no tick shows the wall again"
        teacher.remove_listener("request", count_tick)

        # When the runs end: a tile opens big, and two students side by side on the teacher's seed.
        teacher.wait_for_function("() => (document.querySelector('#class-wall').innerText.match(/finished/g) || [])"
                                  ".length === 3", timeout=120_000)
        # A second window of the teacher's (a reload, or the projector's own window) finds the same class, and
        # its wall and pickers come whole although nothing changes any more.
        projector = teacher.context.new_page()  # the context sets the size, the visitor and the storage
        try:
            projector.goto(server.url)
            projector.get_by_role("tab", name="Class").click()
            projector.wait_for_function("() => { const wall = document.querySelector('#class-wall'); "
                                        "return wall && (wall.innerText.match(/finished/g) || []).length === 3; }",
                                        timeout=30_000)
            choose(projector, "class-tile", "Ana")
        finally:
            projector.close()
        choose(teacher, "class-tile", "Ana")
        teacher.locator("#class-open-tile").click()
        wait_for_text(teacher, "#class-big-caption", "on your seed 42")
        teacher.wait_for_function("() => document.querySelector('#class-big-samples img')")
        screenshot(teacher, "class-tile-big", "#class-big-caption")
        choose(teacher, "class-pair", "student 1")
        choose(teacher, "class-pair", "Ana")
        teacher.locator("#class-side-by-side").click()
        teacher.wait_for_function("() => document.querySelectorAll('#class-pair-gallery img').length >= 2")
        captions = text_of(teacher, "#class-pair-gallery")
        assert "student 1" in captions and "Ana" in captions and "seed 42" in captions
        screenshot(teacher, "class-side-by-side", "#class-pair-gallery")

        # The class ends: the students are told, and their models stay theirs.
        teacher.locator("#class-end").click()
        wait_for_text(teacher, "#class-action-status, #class-code", "has ended")
        for page in students:
            page.get_by_role("tab", name="Class").click()
            wait_for_text(page, "#class-student-status", "has ended", timeout=30_000)
        assert students[0].locator("#train-model-name input, #train-model-name textarea").first.input_value()
    finally:
        for page in [teacher, *students]:
            page.context.close()
