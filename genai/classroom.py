"""A teacher's class on one shared server: a join code, the students who joined, what the teacher sent.

    classes = Classroom()
    lesson = classes.start(teacher_session, address="10.0.0.7")   # lesson.code: "7KX-QM4-TR9" read aloud
    classes.join(student_session, "7kx qm4 tr9", name="", address="10.0.0.8")   # -> Member "student 1"
    classes.taught_by(teacher_session).members        # what the teacher's wall shows, one tile each
    classes.end(teacher_session)                      # joined students are told; nothing of theirs is deleted

A class only groups sessions so that the teacher can look at their runs together; it never gives one
student a way to another's work. The code is the only way in: 9 symbols from an alphabet without
look-alikes (no 0/O, no 1/I/L), drawn with `secrets`, so 31**9 = 2.6e13 codes, 44.6 bits of randomness,
and wrong guesses are limited per session and per address. A class lasts until the end of the day (the
server's local midnight) or until the teacher ends it; it is freed with its teacher's session, and
everything here is bounded: at most MAX_STUDENTS per class and MAX_CLASSES live classes on the server.

A session is any object with an `.expired` flag (set when the server freed it): genai/ui/session.py's
Session, or a stand-in in a test. Sessions are known by identity and held weakly (a server may give a
session a new key, and a class must never keep a session alive). Nothing here imports gradio.
"""

import datetime
import html
import secrets
import threading
import time
import unicodedata
import weakref
from collections import deque
from dataclasses import dataclass, field

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # 31 symbols, none mistaken for another when read aloud
CODE_LENGTH = 9  # 31**9 ~ 2**44.6: at least 40 bits, and short enough to read out as three groups of three
MAX_STUDENTS = 60
MAX_CLASSES = 50  # live classes on the server; more are refused until one ends or is freed
MAX_CLASSES_PER_ADDRESS = 5  # one address cannot take all the places
NAME_CHARS = 24  # a display name is cut to this many characters
ENDED_KEPT_SECONDS = 900  # an ended class is remembered this long, so its students hear that it ended
WRONG_GUESSES = 5  # wrong codes one session may try ...
ADDRESS_WRONG_GUESSES = 40  # ... and one address (a school behind one router: a whole class mistyping)
GUESS_WINDOW_SECONDS = 60.0  # ... per minute
MAX_TRACKED = 10_000  # sessions and addresses whose wrong guesses are remembered, at most


class ClassError(ValueError):
    """A class cannot be started, joined or used: the message says why, in a sentence for the user."""


def new_code():
    """A fresh join code: CODE_LENGTH symbols of CODE_ALPHABET from the operating system's randomness."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def spoken(code):
    """"7KXQM4TR9" -> "7KX-QM4-TR9": three groups of three, to read aloud or write on the board."""
    return "-".join(code[i:i + 3] for i in range(0, len(code), 3))


def normalized(text):
    """The code a student typed, as stored ("7kx qm4-tr9" -> "7KXQM4TR9"), or None if it cannot be a code.

    Spaces and dashes are ignored and case does not matter.
    """
    if not isinstance(text, str) or len(text) > 4 * CODE_LENGTH:  # bounded before any work
        return None
    code = "".join(text.split()).replace("-", "").upper()
    if len(code) != CODE_LENGTH or any(symbol not in CODE_ALPHABET for symbol in code):
        return None
    return code


def display_name(text):
    """A student's chosen name, cleaned: printable characters only, spaces collapsed, at most NAME_CHARS.
    "" (no name: the tile says "student N") for anything else. Escape it (escaped()) wherever it is shown."""
    if not isinstance(text, str):
        return ""
    text = text[:4 * NAME_CHARS]  # bounded before any work
    kept = "".join(c for c in text if unicodedata.category(c)[0] not in ("C", "Z") or c == " ")
    return " ".join(kept.split())[:NAME_CHARS]


def escaped(text):
    return html.escape(text, quote=True)


def end_of_day(now):
    """The server's next local midnight after `now` (seconds since the epoch): when a class's code stops working."""
    today = datetime.datetime.fromtimestamp(now).date()
    return datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time()).timestamp()


@dataclass
class Member:
    """A student in a class. The session is held weakly: the class never keeps a student's models alive."""

    number: int
    name: str
    session: weakref.ref
    seen_push: int = 0  # the last push of the teacher this student's form has taken
    waiting_since: float | None = None  # when the wall first saw this student's run wait for a training slot

    @property
    def label(self):
        """What the teacher's wall calls this student: "student 7", unless they chose to show a name."""
        return self.name or f"student {self.number}"

    def live_session(self):
        session = self.session()
        return None if session is None or getattr(session, "expired", False) else session


@dataclass
class Push:
    """What the teacher sent to every student's Train form: a demonstration's name or a form's settings."""

    number: int
    kind: str  # "demonstration" or "settings"
    value: object  # the demonstration's name, or {setting name: value}
    title: str  # in words, for the students' status line


@dataclass(eq=False)  # a class is itself, not its fields: the UI keeps a wall per class (weakly, by identity)
class Class:
    code: str
    teacher: weakref.ref
    address: str
    started: float
    expires: float
    members: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary)  # session -> Member
    next_number: int = 1
    push: Push | None = None
    stops: int = 0  # how many times the teacher pressed Stop all
    removed: weakref.WeakSet = field(default_factory=weakref.WeakSet)  # sessions the teacher took off the wall
    ended_at: float | None = None

    @property
    def spoken_code(self):
        return spoken(self.code)

    def teacher_session(self):
        session = self.teacher()
        return None if session is None or getattr(session, "expired", False) else session

    def running(self, now):
        return self.ended_at is None and now < self.expires and self.teacher_session() is not None

    def students(self):
        """The joined students whose sessions still exist, in the order they joined."""
        return sorted((m for m in list(self.members.values()) if m.live_session() is not None),
                      key=lambda m: m.number)


class Guesses:
    """Wrong join codes per session or per address, in a sliding window; bounded in how many it remembers.
    weak: keys are sessions, held weakly (a freed session's guesses go with it)."""

    def __init__(self, limit, window_seconds, clock, weak=False):
        self.limit, self.window, self.clock = limit, window_seconds, clock
        self._times = weakref.WeakKeyDictionary() if weak else {}  # key -> times of its recent wrong guesses

    def _recent(self, key):
        times = self._times.get(key)
        if times is None:
            return 0
        while times and self.clock() - times[0] > self.window:
            times.popleft()
        if not times:
            del self._times[key]
            return 0
        return len(times)

    def allowed(self, key):
        return self._recent(key) < self.limit

    def note(self, key):
        if key not in self._times and len(self._times) >= MAX_TRACKED:
            self._times.pop(next(iter(self._times)))  # the key noted longest ago goes first
        self._times.setdefault(key, deque()).append(self.clock())


class Classroom:
    """The server's live classes by code, and which class each student session belongs to."""

    def __init__(self, max_classes=MAX_CLASSES, max_students=MAX_STUDENTS, clock=time.time):
        self.max_classes, self.max_students, self.clock = max_classes, max_students, clock
        self._classes = {}  # code -> Class
        self._member_of = weakref.WeakKeyDictionary()  # student session -> code
        self._lock = threading.RLock()
        self._session_guesses = Guesses(WRONG_GUESSES, GUESS_WINDOW_SECONDS, clock, weak=True)
        self._address_guesses = Guesses(ADDRESS_WRONG_GUESSES, GUESS_WINDOW_SECONDS, clock)

    # The teacher's side

    def start(self, teacher, address=""):
        """Start a class taught by this session (ending the one it taught before, if any); returns the Class."""
        with self._lock:
            self.sweep()
            previous = self.taught_by(teacher)
            if previous is not None:
                self._end(previous)
            live = [c for c in self._classes.values() if c.ended_at is None]
            if len(live) >= self.max_classes:
                raise ClassError(f"This server already runs {len(live)} classes, its most: try again when one ends.")
            if sum(c.address == address for c in live) >= MAX_CLASSES_PER_ADDRESS:
                raise ClassError(f"{MAX_CLASSES_PER_ADDRESS} classes are already running from your network: end one "
                                 "first.")
            code = new_code()
            while code in self._classes:  # (one chance in 2.6e13 per live class)
                code = new_code()
            now = self.clock()
            lesson = Class(code, weakref.ref(teacher), address, now, end_of_day(now))
            self._classes[code] = lesson
            return lesson

    def taught_by(self, teacher):
        """The running class this session teaches, or None: every teacher action looks its class up this way,
        from the caller's own session, never from a code the caller sends."""
        now = self.clock()
        with self._lock:
            for lesson in self._classes.values():
                if lesson.running(now) and lesson.teacher() is teacher:
                    return lesson
        return None

    def push(self, teacher, kind, value, title):
        """Send a demonstration or settings to every student's Train form (each student still presses Start)."""
        with self._lock:
            lesson = self._taught(teacher)
            number = (lesson.push.number if lesson.push else 0) + 1
            lesson.push = Push(number, kind, value, title)
            return lesson.push

    def end(self, teacher):
        """End the class this session teaches: its code stops working; students hear it; their work stays theirs."""
        with self._lock:
            lesson = self._taught(teacher)
            self._end(lesson)
            return lesson

    def remove(self, teacher, number):
        """Take the student with this number off the teacher's class (a hostile or duplicate seat): they are
        told, cannot join this class again from that session, and keep their models. Returns the Member."""
        with self._lock:
            lesson = self._taught(teacher)
            for student, member in list(lesson.members.items()):
                if member.number == number:
                    del lesson.members[student]
                    self._member_of.pop(student, None)
                    lesson.removed.add(student)
                    return member
            raise ClassError("No student with this number is in your class.")

    def removed_from(self, student):
        """The running class whose teacher removed this session, or None."""
        now = self.clock()
        with self._lock:
            return next((lesson for lesson in self._classes.values()
                         if lesson.running(now) and student in lesson.removed), None)

    def _end(self, lesson):
        lesson.ended_at = self.clock()

    def _taught(self, teacher):
        lesson = self.taught_by(teacher)
        if lesson is None:
            raise ClassError("Only the teacher of a running class can do this: start a class first.")
        return lesson

    # The students' side

    def join(self, student, code_text, name="", address=""):
        """Join the class with this code; returns the Member. A wrong code is refused, and after WRONG_GUESSES
        wrong codes in a minute from this session (or ADDRESS_WRONG_GUESSES from its address) every code is
        refused for a while, the right one included: guessing a code would take far longer than a day."""
        with self._lock:
            self.sweep()
            if not (self._session_guesses.allowed(student) and self._address_guesses.allowed(address)):
                raise ClassError("Too many wrong codes: wait a minute, then type the code the teacher shows.")
            code = normalized(code_text)
            lesson = self._classes.get(code) if code else None
            if lesson is None or not lesson.running(self.clock()):
                self._session_guesses.note(student)
                self._address_guesses.note(address)
                raise ClassError("No class has this code: check it against the teacher's screen (9 letters and "
                                 "digits, like 7KX-QM4-TR9).")
            if lesson.teacher() is student:
                raise ClassError("You teach this class: open it on another device or browser to join as a student.")
            if student in lesson.removed:
                raise ClassError("Your teacher removed you from this class: ask them if that was a mistake.")
            if self._member_of.get(student) != code:
                self.leave(student)  # a student is in one class at a time
            member = lesson.members.get(student)
            if member is None:
                if len(lesson.students()) >= self.max_students:
                    raise ClassError(f"This class is full: at most {self.max_students} students.")
                member = Member(lesson.next_number, "", weakref.ref(student))
                lesson.next_number += 1
                lesson.members[student] = member
            member.name = display_name(name)
            self._member_of[student] = code
            return member

    def leave(self, student):
        """Leave the class this session joined (nothing of the student's is deleted). True if it was in one."""
        with self._lock:
            code = self._member_of.pop(student, None)
            lesson = self._classes.get(code)
            if lesson is not None:
                lesson.members.pop(student, None)
            return lesson is not None

    def membership(self, student):
        """(Class, Member) of the class this session joined (the class may have ended since), or (None, None)."""
        with self._lock:
            lesson = self._classes.get(self._member_of.get(student))
            member = lesson.members.get(student) if lesson is not None else None
            return (lesson, member) if member is not None else (None, None)

    # Freeing

    def sweep(self):
        """Forget classes past their day, ended long enough ago, or whose teacher's session was freed, and
        students whose sessions were freed. Returns how many classes were forgotten."""
        now = self.clock()
        with self._lock:
            gone = [code for code, lesson in self._classes.items()
                    if now >= lesson.expires or lesson.teacher_session() is None
                    or (lesson.ended_at is not None and now - lesson.ended_at > ENDED_KEPT_SECONDS)]
            for code in gone:
                del self._classes[code]
            for lesson in self._classes.values():
                for student in [s for s, member in lesson.members.items() if member.live_session() is None]:
                    del lesson.members[student]
            for student in [s for s, code in self._member_of.items()
                            if code not in self._classes or s not in self._classes[code].members]:
                del self._member_of[student]
            return len(gone)

    def live_classes(self):
        """The classes running now (for the server's own tools, e.g. benchmarks/class_wall.py)."""
        now = self.clock()
        with self._lock:
            return [lesson for lesson in self._classes.values() if lesson.running(now)]

    def live_count(self):
        return len(self.live_classes())


CLASSES = Classroom()  # the server's classes (genai/ui/class_tab.py)
