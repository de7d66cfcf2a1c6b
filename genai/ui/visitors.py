"""Who is asking: a visitor is a client address, however many sessions it makes.

A session costs nothing to make (every raw API call, every new gradio_client Client is one), so the
limits that protect the server count per visitor instead:

    visitor = visitors.current()            # inside an event handler: "203.0.113.7", or None
    visitor = visitors.of_scope(scope)      # in ASGI middleware (genai/ui/upload_limits.py)

The address is the connection's own, unless the app runs behind a proxy that we trust
(GENAI_TRUSTED_PROXY, on by itself on a Hugging Face Space, where SPACE_ID is set). Then every
connection comes from the proxy, and the visitor's address is in X-Forwarded-For, which each
proxy extends with the address it received the request from: "what the client wrote, ..., client,
proxy 1, ..., proxy N-1". Only the last N entries were written by proxies we trust (N =
GENAI_TRUSTED_PROXY, 1 on a Space), so the visitor is the N-th address from the right; anything to
its left was written by the client and could name anybody. (Taking the first address, as many
snippets do, would let a student pick any address, and so any number of visitors.) A proxy that
replaces the header instead of extending it leaves one address, which this rule also takes.
Without a trusted proxy the header is ignored: app.py keeps uvicorn from rewriting the connection's
address from it (uvicorn trusts X-Forwarded-For from 127.0.0.1 by default), see keep_real_addresses.

Outside a request (tests, the command line) there is no visitor: current() is None, and the
per-visitor limits do not apply.

A class behind one school router reaches a Space from one address. A student who joined the
teacher's class (genai/ui/class_tab.py) holds a seat in it, and the tab they joined from counts as
that seat: "203.0.113.7 | class 7KXQM4TR9, student 3". The teacher's join code is what tells these
students apart (at most 60 seats a class, and the teacher sees each one on the wall); a visitor who
joined no class is their address, as above.
"""

import os
import threading
import time
from collections import OrderedDict

from . import settings

LONGEST = 64  # an address longer than this is no address: it is cut, so a key never holds a whole header
MAX_SEATS = 2_000  # tabs holding a class seat, at most (the oldest is forgotten first: it counts as its address)
_SEATS = OrderedDict()  # Gradio session hash -> (seat, until): the tab of a student who joined a class
_SEATS_LOCK = threading.Lock()


def visitor_of(client_host, forwarded_for):
    """The visitor key for a connection from client_host carrying this X-Forwarded-For (or None)."""
    hops = settings.trusted_proxy_hops()
    if hops and forwarded_for:
        addresses = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        if addresses:
            return addresses[max(0, len(addresses) - hops)][:LONGEST]
    return (client_host or "unknown")[:LONGEST]


def of_request(request):
    """The visitor of a gr.Request or a Starlette request; None for no request."""
    if request is None:
        return None
    client = getattr(request, "client", None)
    headers = getattr(request, "headers", None) or {}
    forwarded = ", ".join(headers.getlist("x-forwarded-for")) if hasattr(headers, "getlist") else \
        headers.get("x-forwarded-for")
    return visitor_of(getattr(client, "host", None), forwarded)


def of_scope(scope):
    """The visitor of an ASGI connection scope."""
    client = scope.get("client")
    forwarded = ", ".join(value.decode("latin-1") for name, value in scope.get("headers", ())
                          if name == b"x-forwarded-for")
    return visitor_of(client[0] if client else None, forwarded or None)


def current():
    """The visitor of the request Gradio is handling in this thread, or None outside a request: its address,
    and its class seat if this tab joined a class."""
    try:
        from gradio.context import LocalContext

        request = LocalContext.request.get(None)
    except (ImportError, AttributeError, LookupError):
        return None
    visitor = of_request(request)
    seat = seat_of(request)
    return visitor if visitor is None or seat is None else f"{visitor} | {seat}"


def take_seat(request, seat, until):
    """This tab (its Gradio session) holds a seat in a class until `until` (a time.time())."""
    key = getattr(request, "session_hash", None)
    if not key:
        return
    with _SEATS_LOCK:
        _SEATS.pop(key, None)
        _SEATS[key] = (seat, until)
        while len(_SEATS) > MAX_SEATS:
            _SEATS.popitem(last=False)


def leave_seat(request):
    with _SEATS_LOCK:
        _SEATS.pop(getattr(request, "session_hash", None), None)


def seat_of(request):
    """The class seat this request's tab holds, or None."""
    key = getattr(request, "session_hash", None)
    with _SEATS_LOCK:
        seat, until = _SEATS.get(key, (None, 0.0))
        if seat is not None and until <= time.time():
            del _SEATS[key]
            return None
    return seat


def keep_real_addresses():
    """Call before the server starts: uvicorn rewrites the connection's address from X-Forwarded-For when
    the connection comes from 127.0.0.1 (its FORWARDED_ALLOW_IPS default), so any local client could
    name itself anybody. Unless FORWARDED_ALLOW_IPS is set on purpose, trust no address: this module
    reads the header itself, and only when GENAI_TRUSTED_PROXY says a proxy wrote it."""
    os.environ.setdefault("FORWARDED_ALLOW_IPS", "")
