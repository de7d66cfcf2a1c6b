"""The app on a classroom's projector (1280x720) and a laptop (1440x900), in a real headless Chromium:
the class view of a running run, step mode's picture, Compare with four models, text alternatives,
the keyboard, and the contrast of the page's text (WCAG AA).

Uses the browser, the test server and the screenshot folder of tests/test_browser.py. Each test saves
what the screen shows (not the whole page: what is above the fold is the point) as <name>-<width>.png.
"""

import os

import pytest

import app_server
from test_browser import REPO, browser, opened_app, open_tab, projector_page, shots, wait_for_new_src  # noqa: F401

SIZES = [(1280, 720), (1440, 900)]  # a projector, a laptop

# Where an <img> really draws its picture: its box less padding and border, then object-fit "contain"
# (or a stretched fill), centred. The label and buttons of a Gradio picture float over its box.
DRAWN = """(img) => {
    const r = img.getBoundingClientRect(), s = getComputedStyle(img), px = (name) => parseFloat(s[name]) || 0;
    const left = r.left + px('paddingLeft') + px('borderLeftWidth'), top = r.top + px('paddingTop') + px('borderTopWidth');
    const width = r.right - px('paddingRight') - px('borderRightWidth') - left;
    const height = r.bottom - px('paddingBottom') - px('borderBottomWidth') - top;
    if (!['contain', 'scale-down'].includes(s.objectFit) || !img.naturalWidth) return {left, top, width, height,
        right: left + width, bottom: top + height};
    const scale = Math.min(width / img.naturalWidth, height / img.naturalHeight, s.objectFit === 'scale-down' ? 1 : Infinity);
    const w = img.naturalWidth * scale, h = img.naturalHeight * scale;
    const x = left + (width - w) / 2, y = top + (height - h) / 2;
    return {left: x, top: y, width: w, height: h, right: x + w, bottom: y + h};
}"""

# What covers a Gradio picture's drawing: its floating label and its corner buttons (boxes that overlap it).
COVERED = """([id, drawn]) => {
    const block = document.getElementById(id), img = block.querySelector('img');
    const picture = eval(drawn)(img);
    const overlaps = (a) => a.width > 0 && a.height > 0 && a.left < picture.right - 1 && a.right > picture.left + 1
        && a.top < picture.bottom - 1 && a.bottom > picture.top + 1;
    return [...block.querySelectorAll('label[data-testid=block-label], .icon-button-wrapper')]
        .filter(e => overlaps(e.getBoundingClientRect())).map(e => e.innerText.trim() || e.className);
}"""


@pytest.fixture
def laptop_page(browser, mnist_dir):  # noqa: F811
    """The app at a laptop's size, 1440x900."""
    page = opened_app(browser, mnist_dir, 1440, 900)
    yield page
    page.close()


@pytest.fixture(params=SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def sized_page(request, browser, mnist_dir):  # noqa: F811
    page = opened_app(browser, mnist_dir, *request.param)
    yield page
    page.close()


def screen(page, name):
    """A screenshot of what the screen shows, as <name>-<width>.png in the screenshots folder."""
    folder = os.environ.get("GENAI_SCREENSHOT_DIR") or REPO / "screenshots"
    page.wait_for_timeout(400)  # let freshly changed pictures finish loading
    page.screenshot(path=f"{folder}/{name}-{page.viewport_size['width']}.png")


def drawn(page, selector):
    return page.evaluate(f"(selector) => ({DRAWN})(document.querySelector(selector))", selector)


def start_a_vae_run(page, seconds=30):
    open_tab(page, "Train")
    page.get_by_text("VAE — encoder + decoder").click()
    page.get_by_text("What is happening: a VAE").wait_for()  # the VAE recipe has filled the form
    page.locator("#train-seconds input").fill(str(seconds))
    page.locator("#train-seconds input").press("Tab")
    page.locator("#train-start").click()
    page.wait_for_function(
        "() => /step [0-9]/.test(document.querySelector('#train-progress .genai-progress-text').innerText)",
        timeout=60_000)
    wait_for_new_src(page, "train-preview", None)
    page.wait_for_selector("#train-losses svg g.mark-line path")


def stop_the_run(page):
    """Stop the run, unless its 30 s (the test server's limit) ran out first, and wait until it has ended."""
    page.evaluate("() => { const stop = document.querySelector('#train-stop'); if (!stop.disabled) stop.click(); }")
    page.wait_for_function("() => !document.querySelector('#train-start').disabled", timeout=60_000)


def test_a_running_run_is_above_the_fold_and_the_class_view_shows_it_large(sized_page, shots):
    page = sized_page
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    start_a_vae_run(page)
    page.wait_for_timeout(500)
    # Without the class view: the live grid and the loss curves whole on the first screen.
    assert page.evaluate("() => window.scrollY") == 0
    for part in ("#train-preview", "#train-losses"):
        box = page.locator(part).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, (part, box)
    assert drawn(page, "#train-preview img")["bottom"] <= height
    assert legend_is_shown(page, height) == ["total", "reconstruction", "KL"]
    # The grid says what it shows, for a screen reader; the losses are also written out.
    alt = page.locator("#train-preview img").get_attribute("alt")
    assert alt.startswith("Live samples: the digits the model being trained draws"), alt
    page.locator("#train-progress .genai-progress-losses").get_by_text("loss: total ").wait_for()
    screen(page, "train-running-above-the-fold")

    # The class view, from the keyboard: Tab from Stop reaches its box, Space turns it on.
    page.locator("#train-stop").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('#train-class-view') !== null")
    page.keyboard.press("Space")
    page.wait_for_function("() => document.body.classList.contains('genai-class-view')")
    page.wait_for_timeout(500)
    for hidden in ("#train-settings", "#train-explain", "#train-code-panel"):
        assert not page.locator(hidden).is_visible(), hidden
    grid = drawn(page, "#train-preview img")
    assert grid["width"] >= 512 and grid["top"] >= 0 and grid["bottom"] <= height, grid  # large, and whole
    assert grid["right"] <= width
    for text in (".genai-progress-step", ".genai-progress-losses"):  # readable from the back of the room
        size = page.evaluate("(s) => parseFloat(getComputedStyle(document.querySelector(s)).fontSize)", text)
        box = page.locator(f"#train-progress {text}").bounding_box()
        assert size >= 28 and 0 <= box["y"] and box["y"] + box["height"] <= height, (text, size, box)
    losses = page.locator("#train-losses").bounding_box()
    assert losses["y"] + losses["height"] <= height and losses["x"] >= grid["right"]  # the curves beside the grid
    screen(page, "train-class-view")

    page.keyboard.press("Space")  # and off again
    page.wait_for_function("() => !document.body.classList.contains('genai-class-view')")
    assert page.locator("#train-settings").is_visible()
    stop_the_run(page)


def test_step_mode_labels_never_cover_a_picture_and_its_numbers_are_readable(projector_page, shots):
    from genai.ui import step_mode

    page = projector_page
    start_a_vae_run(page)
    page.locator("#train-step-mode").get_by_text("Step through it").click()
    page.locator("#train-pause").click()
    page.get_by_text("Paused before the next step").wait_for()
    page.locator("#train-step-one").click()
    wait_for_new_src(page, "train-step-picture", None)
    page.locator("#train-step-table").get_by_text("reconstruction").wait_for()
    page.locator("#train-step-picture").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    for picture in ("train-step-picture", "train-preview"):
        assert page.evaluate(COVERED, [picture, DRAWN]) == [], picture
    # The numbers under the digits, as drawn on this screen: the picture's font, scaled as the page shows it.
    natural = page.evaluate("() => document.querySelector('#train-step-picture img').naturalWidth")
    shown = drawn(page, "#train-step-picture img")["width"]
    assert step_mode.FONT_SIZE * shown / natural >= 13, (natural, shown)
    alt = page.locator("#train-step-picture img").get_attribute("alt")
    assert alt.startswith("The training batch of the last step"), alt
    screen(page, "train-step-mode-picture")
    page.locator("#train-resume").click()
    stop_the_run(page)


def plant_the_fourth_family(mnist_dir):
    """An autoregressive model (untrained, small) in the test server's checkpoints, beside its GAN, VAE and
    diffusion model, so that Compare has one model of each of the four families, as with the shipped checkpoints."""
    from genai.checkpoints import save_model
    from genai.models import create_model

    folder = app_server.start(mnist_dir).folder / "checkpoints" / "tiny-autoregressive"
    if not folder.exists():
        model = create_model("autoregressive", "pixelcnn", seed=0, conditional=True, channels=8, layers=2).eval()
        save_model(model, folder, dataset="mnist", steps=0)


BROKEN_WORDS = """(selector) => {
    const broken = [];
    for (const cell of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const match of node.textContent.matchAll(/[^\\s\\-]+/g)) {  // a word: between spaces and hyphens
                const range = document.createRange();
                range.setStart(node, match.index);
                range.setEnd(node, match.index + match[0].length);
                const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                if (lines.size > 1) broken.push(match[0]);
            }
        }
    }
    return broken;
}"""


def test_compare_shows_four_models_whole_readable_and_described(sized_page, mnist_dir, shots):
    page = sized_page
    plant_the_fourth_family(mnist_dir)
    page.reload()  # the pickers list the models the server has when the page opens
    open_tab(page, "Compare")
    page.locator("#compare-models input").click()  # beside tiny-gan, tiny-vae and tiny-diffusion
    page.get_by_role("option", name="tiny-autoregressive — ").first.click()
    page.keyboard.press("Escape")
    page.locator("#compare-run").click()
    page.wait_for_function("() => document.querySelectorAll('#compare-gallery img').length === 4", timeout=60_000)
    page.get_by_text("drawing time").wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('#compare-gallery img')].every(i => i.complete)")
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(500)

    inner = page.evaluate("() => { const w = document.querySelector('#compare-gallery .grid-wrap'); "
                          "return [w.scrollHeight, w.clientHeight, getComputedStyle(w).overflowY]; }")
    assert inner[0] <= inner[1] + 1 or inner[2] == "visible", inner  # no scrolling inside the gallery
    frame = page.locator("#compare-gallery").bounding_box()
    captions = page.locator("#compare-gallery .caption-label")
    label = page.locator("#compare-gallery label[data-testid=block-label]").bounding_box()
    for i in range(4):
        img = page.locator("#compare-gallery img").nth(i)
        picture = page.evaluate(f"(img) => ({DRAWN})(img)", img.element_handle())
        box = img.bounding_box()
        assert frame["y"] <= picture["top"] and picture["bottom"] <= frame["y"] + frame["height"], picture  # shown whole
        assert picture["width"] >= 240, picture  # not a thin strip: ten digits of 24 px or more
        assert picture["width"] * picture["height"] >= 0.9 * box["width"] * box["height"], (picture, box)  # no white space
        caption = captions.nth(i).bounding_box()
        for cover in (caption, label):
            assert (cover["y"] >= picture["bottom"] - 1 or cover["y"] + cover["height"] <= picture["top"] + 1
                    or cover["x"] >= picture["right"] - 1 or cover["x"] + cover["width"] <= picture["left"] + 1), i
        alt = img.get_attribute("alt")
        assert " samples of this " in alt and "seed 42" in alt, alt  # what it shows, for a screen reader
    assert page.evaluate(BROKEN_WORDS, "#compare-table th") == []  # no "drawin g time"
    screen(page, "compare-four-models")


CONTRAST = """() => {
    const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
        const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
    const over = (top, below) => [0, 1, 2].map(i => top[i] * top[3] + below[i] * (1 - top[3])).concat([1]);
    const luminance = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
    const background = (el) => {
        const layers = [];
        for (let e = el; e; e = e.parentElement) {
            const c = parse(getComputedStyle(e).backgroundColor);
            if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
        }
        return layers.reverse().reduce((below, c) => over(c, below), [255, 255, 255, 1]);
    };
    const opacity = (el) => { let o = 1; for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity); return o; };
    const failures = [], seen = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.parentElement;
        if (!el || seen.has(el) || !node.textContent.trim()) continue;
        seen.add(el);
        const r = el.getBoundingClientRect();
        if (!r.width || !r.height || !el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
        // WCAG exempts disabled controls; formulas and code are drawn by KaTeX and the code view's own theme.
        if (el.closest('button:disabled, input:disabled, [aria-disabled=true], .katex, svg, .cm-editor')) continue;
        const style = getComputedStyle(el), below = background(el), fg = parse(style.color);
        fg[3] *= opacity(el);
        const a = luminance(over(fg, below)), b = luminance(below);
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        const size = parseFloat(style.fontSize), large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
        if (ratio < (large ? 3 : 4.5)) failures.push(`${node.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)}`);
    }
    return failures;
}"""


def test_text_on_every_tab_meets_wcag_aa_contrast(projector_page):
    page = projector_page
    page.get_by_role("tab", name="Compare").wait_for()
    tabs = [name.strip() for name in page.locator("[role=tab]").all_inner_texts()]
    assert "Train" in tabs and "Compare" in tabs
    failures = {}
    for name in tabs:
        open_tab(page, name)
        page.wait_for_timeout(700)
        failures[name] = page.evaluate(CONTRAST)
        if failures[name]:  # once more when the tab's first results have arrived: Gradio fades what is loading
            page.wait_for_timeout(3000)
            failures[name] = page.evaluate(CONTRAST)
    assert not any(failures.values()), {name: found for name, found in failures.items() if found}


def test_the_main_controls_are_reached_with_the_tab_key(laptop_page):
    """From the Train tab's name, Tab alone reaches the form, Start training and the class view box."""
    page = laptop_page
    open_tab(page, "Train")
    page.get_by_role("tab", name="Train").focus()
    reached = []
    for _ in range(120):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("() => (document.activeElement.closest('[id]') || {id: ''}).id"))
        if reached[-1] == "train-class-view":
            break
    assert "train-seed" in reached and "train-start" in reached and reached[-1] == "train-class-view", reached
    page.keyboard.press("Space")
    page.wait_for_function("() => document.body.classList.contains('genai-class-view')")
    assert not page.locator("#train-settings").is_visible()


def legend_is_shown(page, height):
    """The loss curves' legend (which colour is which loss) lies inside its block, which would hide what
    spills out, and on the first screen. Returns the legend's names."""
    boxes = page.evaluate("""() => {
        const block = document.querySelector('#train-losses').getBoundingClientRect();
        return [...document.querySelectorAll('#train-losses .role-legend-label text')].map(t => {
            const r = t.getBoundingClientRect();
            return {name: t.textContent, top: r.top, bottom: r.bottom, blockTop: block.top, blockBottom: block.bottom};
        });
    }""")
    assert boxes, "the loss curves have no legend"
    for box in boxes:
        assert box["blockTop"] <= box["top"] and box["bottom"] <= min(box["blockBottom"], height), box
    return [box["name"] for box in boxes]


def tab_to(page, element_id, presses=150):
    """Press Tab until the focus is inside #element_id; the ids of what it passed on the way, if it never is."""
    passed = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(id) => document.activeElement.closest('#' + id) !== null", element_id):
            return
        passed.append(page.evaluate("() => (document.activeElement.closest('[id]') || {id: ''}).id"))
    pytest.fail(f"Tab never reached #{element_id}: {passed[-20:]}")


def test_a_lesson_step_is_taken_from_the_keyboard_and_its_run_stays_above_the_fold(projector_page, shots):
    """At 1280x720: from the lesson's tab, Tab reaches the step's button and Enter starts its run; with the
    lesson's banner above the tabs, the live grid and the loss curves are still whole on the first screen;
    Tab reaches the banner's way back to the lesson, and Enter opens the next step."""
    page = projector_page
    height = page.viewport_size["height"]
    page.get_by_role("tab", name="Start here").focus()
    tab_to(page, "lesson-go")
    page.keyboard.press("Enter")
    page.locator("#lesson-banner").get_by_text("Step 1 of").wait_for()
    page.wait_for_function(
        "() => /step [0-9]/.test(document.querySelector('#train-progress .genai-progress-text').innerText)",
        timeout=60_000)
    wait_for_new_src(page, "train-preview", None)
    page.wait_for_selector("#train-losses svg g.mark-line path")
    page.evaluate("() => window.scrollTo(0, 0)")  # the first screen, as the projector shows it
    screen(page, "lesson-run-above-the-fold")
    for part in ("#lesson-banner", "#train-preview", "#train-losses"):
        box = page.locator(part).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, (part, box)
    assert drawn(page, "#train-preview img")["bottom"] <= height
    assert legend_is_shown(page, height)

    page.evaluate("() => document.activeElement.blur()")
    tab_to(page, "lesson-back")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('[role=tab][aria-selected=true]').innerText.trim()"
                           " === 'Start here'")
    page.locator("#lesson-step").get_by_text("Step 2 of").wait_for()
    open_tab(page, "Train")
    stop_the_run(page)
