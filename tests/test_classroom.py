"""A teacher's class (genai/classroom.py, genai/ui/class_tab.py): the join code, the wall, the boundaries.

The first half tests the class registry on its own, with stand-in sessions and a clock the test turns.
The second half drives the real app (tests/app_server.py) through gradio_client, where every Client is
a separate visitor: what a student can and cannot reach.
"""

import math
import secrets
import time

import pytest

from genai import classroom
from genai.classroom import CODE_ALPHABET, CODE_LENGTH, ClassError, Classroom, display_name, normalized, spoken


class FakeSession:
    def __init__(self):
        self.key = secrets.token_hex(8)
        self.expired = False


class Clock:
    def __init__(self, now=1_700_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def classes(clock):
    return Classroom(max_classes=3, max_students=4, clock=clock)


def test_a_code_is_short_to_read_and_has_at_least_40_bits():
    assert CODE_LENGTH * math.log2(len(CODE_ALPHABET)) >= 40
    assert not set("0O1IL") & set(CODE_ALPHABET)  # nothing read aloud as something else
    codes = {classroom.new_code() for _ in range(2000)}
    assert len(codes) == 2000 and all(len(code) == CODE_LENGTH for code in codes)
    assert spoken("7KXQM4TR9") == "7KX-QM4-TR9"


def test_a_typed_code_ignores_case_spaces_and_dashes_and_refuses_the_rest():
    assert normalized(" 7kx-qm4 tr9 ") == "7KXQM4TR9"
    for bad in ("7KXQM4TR", "7KXQM4TR99", "OKXQM4TR9", "7KX QM4 TR!", None, 123, "7" * 10_000):
        assert normalized(bad) is None


def test_a_display_name_is_cleaned_and_bounded():
    assert display_name("  Ana \n  María  ") == "Ana María"
    assert display_name("x" * 500) == "x" * classroom.NAME_CHARS
    assert display_name("\x00\u202eevil") == "evil"  # control and direction characters removed
    assert display_name(None) == ""
    assert classroom.escaped("<img src=x>") == "&lt;img src=x&gt;"


def test_students_join_with_the_code_and_are_numbered(classes):
    teacher, ana, ben = FakeSession(), FakeSession(), FakeSession()
    lesson = classes.start(teacher, "10.0.0.1")
    first = classes.join(ana, spoken(lesson.code).lower(), "", "10.0.0.2")
    second = classes.join(ben, lesson.code, "Ben", "10.0.0.3")
    assert (first.label, second.label) == ("student 1", "Ben")
    assert [m.label for m in classes.taught_by(teacher).students()] == ["student 1", "Ben"]
    assert classes.membership(ana) == (lesson, first)
    with pytest.raises(ClassError, match="You teach this class"):
        classes.join(teacher, lesson.code)


def test_a_wrong_code_is_refused_and_guessing_is_limited_per_session(classes, clock):
    teacher, guesser = FakeSession(), FakeSession()
    lesson = classes.start(teacher)
    wrong = "".join(c if c != lesson.code[0] else "" for c in CODE_ALPHABET)[:CODE_LENGTH]
    for _ in range(classroom.WRONG_GUESSES):
        with pytest.raises(ClassError, match="No class has this code"):
            classes.join(guesser, wrong)
    with pytest.raises(ClassError, match="Too many wrong codes"):
        classes.join(guesser, lesson.code)  # even the right code, while the limit lasts
    assert classes.membership(guesser) == (None, None)
    clock.now += classroom.GUESS_WINDOW_SECONDS + 1
    assert classes.join(guesser, lesson.code).number == 1


def test_wrong_guesses_are_limited_per_address_across_sessions(classes):
    teacher, student = FakeSession(), FakeSession()
    lesson = classes.start(teacher)
    for _ in range(classroom.ADDRESS_WRONG_GUESSES):
        with pytest.raises(ClassError, match="No class"):
            classes.join(FakeSession(), "222222222", address="10.9.9.9")  # a fresh session each time
    with pytest.raises(ClassError, match="Too many wrong codes"):
        classes.join(FakeSession(), lesson.code, address="10.9.9.9")
    assert classes.join(student, lesson.code, address="10.9.9.10").number == 1


def test_a_class_takes_at_most_its_students(classes):
    teacher, late = FakeSession(), FakeSession()
    lesson = classes.start(teacher)
    students = [FakeSession() for _ in range(4)]
    for student in students:
        classes.join(student, lesson.code)
    with pytest.raises(ClassError, match="full: at most 4"):
        classes.join(late, lesson.code)
    classes.join(students[0], lesson.code, "again")  # one already in may join again (a new name)
    students[1].expired = True  # freed by the server: its place is free again
    assert classes.join(late, lesson.code).number == 5


def test_the_code_works_until_the_end_of_the_day(classes, clock):
    teacher = FakeSession()
    lesson = classes.start(teacher)
    assert lesson.expires - lesson.started <= 24 * 3600
    clock.now = lesson.expires - 1
    classes.join(FakeSession(), lesson.code)
    clock.now = lesson.expires
    with pytest.raises(ClassError, match="No class"):
        classes.join(FakeSession(), lesson.code)
    assert classes.taught_by(teacher) is None and classes.live_count() == 0


def test_ending_a_class_tells_its_students_and_deletes_nothing(classes, clock):
    teacher, student = FakeSession(), FakeSession()
    lesson = classes.start(teacher)
    classes.join(student, lesson.code)
    classes.end(teacher)
    ended, member = classes.membership(student)
    assert ended is lesson and ended.ended_at is not None and member.label == "student 1"
    with pytest.raises(ClassError, match="No class"):
        classes.join(FakeSession(), lesson.code)
    with pytest.raises(ClassError, match="Only the teacher"):
        classes.end(teacher)
    clock.now += classroom.ENDED_KEPT_SECONDS + 1
    classes.sweep()
    assert classes.membership(student) == (None, None)


def test_teacher_actions_need_the_teacher_s_own_session(classes):
    teacher, student = FakeSession(), FakeSession()
    lesson = classes.start(teacher)
    classes.join(student, lesson.code)
    for action in (lambda s: classes.end(s), lambda s: classes.push(s, "demonstration", "beta-zero", "x")):
        with pytest.raises(ClassError, match="Only the teacher"):
            action(student)
    assert classes.taught_by(student) is None
    assert classes.push(teacher, "demonstration", "beta-zero", "VAE").number == 1


def test_the_teacher_removes_a_seat_which_cannot_join_again_and_frees_its_place(classes):
    teacher, students = FakeSession(), [FakeSession() for _ in range(4)]
    lesson = classes.start(teacher)
    for student in students:
        classes.join(student, lesson.code)
    with pytest.raises(ClassError, match="full"):
        classes.join(FakeSession(), lesson.code)
    with pytest.raises(ClassError, match="Only the teacher"):
        classes.remove(students[0], 2)  # a student cannot take another off the wall
    assert classes.remove(teacher, 2).label == "student 2"
    assert [m.number for m in lesson.students()] == [1, 3, 4]
    assert classes.membership(students[1]) == (None, None) and classes.removed_from(students[1]) is lesson
    with pytest.raises(ClassError, match="removed you"):
        classes.join(students[1], lesson.code)
    classes.join(FakeSession(), lesson.code)  # the place is free again, for a new seat
    with pytest.raises(ClassError, match="No student with this number"):
        classes.remove(teacher, 2)
    assert classes.removed_from(students[0]) is None


def test_classes_are_bounded_and_freed_with_their_teacher_s_session(classes):
    teachers = [FakeSession() for _ in range(3)]
    for teacher in teachers:
        classes.start(teacher, address=teacher.key)
    late = FakeSession()
    with pytest.raises(ClassError, match="already runs 3 classes"):
        classes.start(late)
    teachers[0].expired = True  # the server freed the teacher's session (its TTL)
    classes.start(late)
    assert classes.live_count() == 3
    again = classes.start(teachers[1], address=teachers[1].key)  # a second class ends the first
    assert classes.live_count() == 3 and classes.taught_by(teachers[1]) is again


def test_one_address_cannot_take_every_class(clock):
    classes = Classroom(max_classes=50, clock=clock)
    teachers = [FakeSession() for _ in range(classroom.MAX_CLASSES_PER_ADDRESS + 1)]
    for teacher in teachers[:-1]:
        classes.start(teacher, address="10.0.0.1")
    with pytest.raises(ClassError, match="from your network"):
        classes.start(teachers[-1], address="10.0.0.1")


def test_the_class_never_keeps_a_student_s_session_alive(classes):
    import gc

    teacher = FakeSession()
    lesson = classes.start(teacher)
    student = FakeSession()
    classes.join(student, lesson.code)
    del student
    gc.collect()
    assert classes.taught_by(teacher).students() == []
    assert classes.sweep() == 0 and len(lesson.members) == 0


def test_a_session_given_a_new_key_stays_in_its_class(classes):
    teacher, student = FakeSession(), FakeSession()
    lesson = classes.start(teacher)
    classes.join(student, lesson.code)
    teacher.key = student.key = None  # the server forgot and may look after them again under new keys
    assert classes.taught_by(teacher) is lesson
    assert classes.membership(student)[1].label == "student 1"


# Through the app's API: each Client is a visitor of its own (its own session, its own address).

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from test_app_api import new_client, picker_names, server, train  # noqa: E402, F401  (the shared test server, its visitors, a tiny run)

TEACHER_ENDPOINTS = ["/class_end", "/class_stop_all", "/class_wall"]


def started(teacher):
    """Start a class from this client; returns its code as the teacher's page shows it."""
    words = teacher.predict(api_name="/class_start")[0]
    return words.split("`")[1]


def wall(teacher):
    """The teacher's wall now (the tick sends the wall only when it changed: ask until it does)."""
    for _ in range(3):
        html = teacher.predict(api_name="/class_wall")[0]
        if isinstance(html, str):
            return html
        time.sleep(0.5)
    return None


def wait_for_wall(teacher, condition, seconds=60):
    deadline, last = time.monotonic() + seconds, ""
    while time.monotonic() < deadline:
        html = teacher.predict(api_name="/class_wall")[0]
        last = html if isinstance(html, str) else last
        if condition(last):
            return last
        time.sleep(0.5)
    raise AssertionError(f"the wall never showed it; it shows: {last[-600:]}")


def test_every_teacher_page_gets_the_whole_wall_first_and_then_only_what_changed(classes, monkeypatch):
    """A reloaded page, or a second window on the projector, starts blank: its first tick must bring the whole
    wall and the student pickers even when nothing changed since another of the teacher's pages got them."""
    from types import SimpleNamespace

    from genai.ui import class_tab
    from genai.ui.session import Session

    monkeypatch.setattr(class_tab, "CLASSES", classes)
    teacher, student = Session(), Session()
    lesson = classes.start(teacher)
    classes.join(student, lesson.code, "Ana")

    def tick(page, on_screen=True):
        wall, picker, pair, _ = class_tab.wall_tick(teacher, on_screen, SimpleNamespace(session_hash=page))
        return wall if isinstance(wall, str) else None, picker.get("choices")

    first = tick("laptop")
    assert "Ana" in first[0] and first[1] == [("Ana", 1)]
    assert tick("laptop") == (None, None)  # nothing changed: nothing sent
    assert tick("projector") == first  # a new page gets everything, though the laptop has seen it
    assert tick("laptop") == (None, None) and tick("projector") == (None, None)
    second = Session()  # the class holds its students weakly: this test keeps them
    classes.join(second, lesson.code)
    assert tick("laptop", on_screen=False) == (None, None)  # another tab shows: nothing is made or sent ...
    for page in ("laptop", "projector"):  # ... and the change reaches every page once its wall shows
        wall, choices = tick(page)
        assert "student 2" in wall and choices == [("Ana", 1), ("student 2", 2)]
    for reload in range(3 * class_tab.PAGES_PER_WALL):  # many reloads: what is kept stays bounded
        assert "student 2" in tick(f"reload {reload}")[0]
    assert len(class_tab._walls[lesson].pages) == class_tab.PAGES_PER_WALL


def test_students_join_with_the_code_and_the_wall_shows_their_runs(new_client):
    teacher, ana, ben = new_client(), new_client(), new_client()
    code = started(teacher)
    assert "Joined the class" in ana.predict(code.lower(), "Ana <script>", api_name="/class_join")[0]
    ben.predict(code.replace("-", ""), "", api_name="/class_join")
    html = wait_for_wall(teacher, lambda h: "student 2" in h)
    assert "Ana &lt;script&gt;" in html and "<script>" not in html  # a chosen name, escaped
    job = train(ana, max_steps=120)
    html = wait_for_wall(teacher, lambda h: "step " in h and "data:image/png;base64," in h)
    assert "VAE: MLP VAE" in html and "lr 0.001" in html
    job.result()
    html = wait_for_wall(teacher, lambda h: "finished" in h and "step 120" in h)
    preview, samples, gif, caption = teacher.predict(1, 7, api_name="/class_tile")
    assert preview and samples and gif and "on your seed 7" in caption
    again = teacher.predict(1, 7, api_name="/class_tile")[1]
    assert open(samples, "rb").read() == open(again, "rb").read()  # the same seed, the same samples
    with pytest.raises(AppError, match="student 2 has no finished model yet"):
        teacher.predict([1, 2], 7, api_name="/class_pair")


def test_a_run_going_on_shows_its_settings_on_its_tile_and_opens_big_with_its_timelapse_so_far(new_client):
    teacher, ana = new_client(), new_client()
    code = started(teacher)
    ana.predict(code, "Ana", api_name="/class_join")
    job = train(ana, max_steps=100_000, seconds=25)
    try:
        html = wait_for_wall(teacher, lambda h: "training" in h and "step " in h and "data:image/png;base64," in h)
        assert "batch 64" in html and "seed 0" in html and "lr 0.001" in html  # while it trains, not only after
        preview, samples, gif, caption = teacher.predict(1, 7, api_name="/class_tile")
        assert preview and gif and samples is None
        assert "is training: its samples on your seed come when it ends" in caption
    finally:
        ana.predict(api_name="/stop")
        job.result()
    preview, samples, gif, caption = teacher.predict(1, 7, api_name="/class_tile")
    assert samples and "on your seed 7" in caption  # once it ended


def test_the_teacher_removes_a_student_who_is_told_and_keeps_their_model(new_client):
    teacher, ana, ben = new_client(), new_client(), new_client()
    code = started(teacher)
    ana.predict(code, "Ana", api_name="/class_join")
    ben.predict(code, "Ben", api_name="/class_join")
    ben_model = train(ben, max_steps=20).result()[4]
    wait_for_wall(teacher, lambda h: "Ben" in h and "Ana" in h)
    with pytest.raises(AppError, match="Only the teacher|not in the list of choices"):
        ana.predict(2, api_name="/class_remove")  # a student cannot remove another
    assert "Ben is off the wall" in teacher.predict(2, api_name="/class_remove")
    wait_for_wall(teacher, lambda h: "Ben" not in h and "Ana" in h)
    assert "Your teacher removed you" in ben.predict(api_name="/class_news")[0]
    with pytest.raises(AppError, match="removed you"):
        ben.predict(code, "Ben", api_name="/class_join")
    assert ben_model in picker_names(ben)[0]  # their model stays theirs


def test_a_queued_run_says_how_many_wait_before_it(new_client):
    teacher, *students = new_client(), new_client(), new_client(), new_client()
    code = started(teacher)
    jobs = []
    for student in students:  # the test server has 2 training slots: the third run waits
        student.predict(code, "", api_name="/class_join")
        jobs.append(train(student, max_steps=400, seconds=20))
        time.sleep(0.5)
    html = wait_for_wall(teacher, lambda h: "waiting for a training slot (next in line)" in h, seconds=30)
    assert html.count("genai-tile") == 3
    teacher.predict(api_name="/class_stop_all")
    for job in jobs:
        job.result()
    html = wait_for_wall(teacher, lambda h: h.count("finished") == 3 or "waiting" not in h)
    assert "waiting for a training slot" not in html


def test_a_wrong_or_guessed_code_is_refused_and_guessing_soon_stops(new_client):
    teacher, guesser = new_client(), new_client()
    code = started(teacher)
    wrong = code[:-1] + ("2" if code[-1] != "2" else "3")
    for guess in [wrong, "AAA-AAA-AAA", "student 1", code + "2"][:classroom.WRONG_GUESSES - 1] + ["' OR 1=1 --"]:
        with pytest.raises(AppError, match="No class has this code"):
            guesser.predict(guess, "", api_name="/class_join")
    with pytest.raises(AppError, match="Too many wrong codes"):
        guesser.predict(code, "", api_name="/class_join")  # even the right one, for a minute
    assert "not in a class" in guesser.predict(api_name="/class_news")[0]


def test_a_student_cannot_use_the_teacher_s_endpoints_or_reach_another_student(new_client):
    teacher, ana, ben = new_client(), new_client(), new_client()
    code = started(teacher)
    ana.predict(code, "Ana", api_name="/class_join")
    ben.predict(code, "Ana", api_name="/class_join")  # a guessed (the same) name gives nothing of Ana's
    ana_run = train(ana, max_steps=60)
    ana_model = ana_run.result()[4]
    assert ana_model.startswith("my-vae")
    job = train(ana, max_steps=3000, seconds=20)  # still training while Ben tries everything
    wait_for_wall(teacher, lambda h: "training" in h)
    for endpoint in ["/class_end", "/class_stop_all"]:
        with pytest.raises(AppError, match="Only the teacher"):
            ben.predict(api_name=endpoint)
    with pytest.raises(AppError, match="Only the teacher"):
        ben.predict("beta-zero", api_name="/class_push_demonstration")
    refused = "Only the teacher|not in the list of choices"  # (Gradio's own check of the student list comes first)
    for number in (1, 2, 3):
        with pytest.raises(AppError, match=refused):
            ben.predict(number, 0, api_name="/class_tile")
    with pytest.raises(AppError, match=refused):
        ben.predict([1, 2], 0, api_name="/class_pair")
    assert not isinstance(ben.predict(api_name="/class_wall")[0], str)  # no wall for a student
    with pytest.raises(AppError):
        ben.predict(ana_model, api_name="/download")  # Ana's model is not Ben's to download ...
    with pytest.raises(AppError, match="no model called"):
        ben.predict(ana_model, 0, 3, "all", 1.0, 20, 2.0, api_name="/sample")  # ... nor to sample
    assert "Nothing is training" in ben.predict(api_name="/stop")  # Ben's Stop stops only Ben's runs
    assert "training" in wait_for_wall(teacher, lambda h: "Ana</b> · training" in h)
    # The teacher's own actions reach only their class, by number; Stop all ends Ana's run, which keeps its model.
    with pytest.raises(AppError, match="No student with this number|not in the list of choices"):
        teacher.predict(99, 0, api_name="/class_tile")
    assert "Asked 1 run to stop" in teacher.predict(api_name="/class_stop_all")
    assert job.result()[4].startswith("my-vae")


def test_a_pushed_demonstration_fills_the_student_s_form_and_ending_tells_them(new_client):
    teacher, student, outsider = new_client(), new_client(), new_client()
    code = started(teacher)
    student.predict(code, "", api_name="/class_join")
    assert "Sent to the Train form of 1 student" in teacher.predict("beta-zero", api_name="/class_push_demonstration")
    news = student.predict(api_name="/class_news")
    assert "Your teacher sent" in news[0]
    filled_in = str(news)
    assert "'value': 'vae'" in filled_in and "'value': 0.0" in filled_in  # the form's family and its β = 0
    assert "Your teacher sent" not in str(student.predict(api_name="/class_news")[0] or "")  # once, not every tick
    assert "not in a class" in outsider.predict(api_name="/class_news")[0]  # who never joined hears nothing
    assert "has ended" in teacher.predict(api_name="/class_end")[0]
    assert "has ended" in student.predict(api_name="/class_news")[0]
    with pytest.raises(AppError, match="No class has this code"):
        outsider.predict(code, "", api_name="/class_join")


def test_a_class_takes_at_most_60_students_through_the_api(new_client):
    teacher = new_client()
    code = started(teacher)
    student = new_client()
    for _ in range(classroom.MAX_STUDENTS):
        student.reset_session()  # a new session: another student (of one school's address)
        student.predict(code, "", api_name="/class_join")
    student.reset_session()
    with pytest.raises(AppError, match="full: at most 60"):
        student.predict(code, "", api_name="/class_join")
    html = wait_for_wall(teacher, lambda h: "student 60" in h)
    assert html.count('class="genai-tile"') == 60


def test_the_teacher_s_own_settings_reach_the_form_and_a_student_can_leave(new_client):
    teacher, student = new_client(), new_client()
    code = started(teacher)
    student.predict(code, "", api_name="/class_join")
    form = ["mnist", "gan", "mlp", False, 64, 12, 32, 3e-4, 1.0, 5, 200, 0.5]  # the Train form, as /train takes it
    assert "(GAN, mlp)" in teacher.predict(*form, api_name="/class_push_settings")
    filled_in = str(student.predict(api_name="/class_news"))
    assert "'value': 'gan'" in filled_in and "'value': 0.0003" in filled_in and "'value': 0.5" in filled_in
    with pytest.raises(AppError, match="must be"):  # a bad value is refused with the form's own message
        teacher.predict(*form[:6], -5, *form[7:], api_name="/class_push_settings")
    assert "You left the class" in student.predict(api_name="/class_leave")[0]
    assert "not in a class" in student.predict(api_name="/class_news")[0]
    assert "No student has joined yet" in wall(teacher)  # the wall's first answer: nobody left on it


def test_students_behind_one_school_router_each_train_once_they_joined_the_class(server, new_client, tmp_path):
    """A class reaching the server from one address is one visitor (one run at a time) until its students join
    the teacher's class: then each tab counts as its own seat, and each student may train."""
    def at_school():
        return Client(server.url, verbose=False, analytics_enabled=False, download_files=str(tmp_path),
                      headers={"X-Forwarded-For": "10.77.0.1"})

    teacher, ana, ben = new_client(), at_school(), at_school()
    code = started(teacher)
    first = train(ana, "gan", "mlp", max_steps=1_000_000, seconds=30)
    next(iter(first))  # Ana's run holds its place
    with pytest.raises(AppError, match="already have a run training or waiting"):
        train(ben, "vae", "mlp", max_steps=3).result(timeout=60)  # same address, no class: the same visitor
    ben.predict(code, "", api_name="/class_join")
    second = train(ben, "vae", "mlp", max_steps=3)
    assert "my-vae-mlp-1" in second.result(timeout=120)[3]  # Ben, in the class, is a student of his own
    ana.predict(api_name="/stop")
    first.result(timeout=90)
