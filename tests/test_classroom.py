"""A teacher's class (genai/classroom.py, genai/ui/class_tab.py): the join code, the wall, the boundaries.

The first half tests the class registry on its own, with stand-in sessions and a clock the test turns.
The second half drives the real app (tests/app_server.py) through gradio_client, where every Client is
a separate visitor: what a student can and cannot reach.
"""

import math
import secrets

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
    assert classes.sweep() == 0 and lesson.members == {}


def test_a_session_without_a_key_cannot_start_or_join(classes):
    keyless = FakeSession()
    keyless.key = None
    with pytest.raises(ValueError):
        classes.start(keyless)
    assert classes.taught_by(keyless) is None
