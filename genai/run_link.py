"""A link that reproduces a run: the Train form's settings, seed and step count as a URL's query.

    ?dataset=mnist&family=gan&arch=dcgan&conditional=true&...&seed=0&max_steps=412

Opened on this app or on another copy of it, the link fills the Train form and starts nothing. The
same settings and seed on the same kind of device give the same weights, step for step: every random
number of a run comes from generators seeded by its seed (genai/train.py), and max_steps ends the
run at the step the original reached. The settings are those the form shows (genai/settings.py: the
ones with a label), so what the link carries is exactly what the form can take.
"""

from urllib.parse import parse_qsl, urlencode

from .settings import SETTINGS, SHOWN_CHARS

MAX_QUERY_CHARS = 2000  # a link is a few hundred characters; anything longer is not one of ours


def link_settings():
    """The settings a link carries: those on the Train form."""
    return [name for name, setting in SETTINGS.items() if setting.label]


def run_query(values, steps):
    """"?dataset=mnist&family=gan&...&max_steps=412": the form's values of a run that took `steps` steps."""
    pairs = []
    for name in link_settings():
        value = steps if name == "max_steps" else values.get(name)
        if value is None:
            continue
        pairs.append((name, str(value).lower() if isinstance(value, bool) else f"{value:g}"
                      if isinstance(value, float) else str(value)))
    return "?" + urlencode(pairs)


def values_from_query(query):
    """The form's values a link's query carries, as text ({name: text}; a yes/no setting as True/False
    when it reads "true"/"false"), and what in it is not a setting. Nothing is checked here: the form's
    own checks give their normal messages. A query too long to be a link gives nothing."""
    if isinstance(query, dict):
        pairs = list(query.items())
    else:
        query = str(query or "")
        if len(query) > MAX_QUERY_CHARS:
            return {}, ["the link is too long to be a link to a run"]
        pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    wanted, values, unknown = set(link_settings()), {}, []
    for name, text in pairs:
        if name not in wanted:
            unknown.append(name[:SHOWN_CHARS])
            continue
        text = str(text)[:SHOWN_CHARS]
        if SETTINGS[name].kind == "yes/no" and text.lower() in ("true", "false"):
            values[name] = text.lower() == "true"
        else:
            values[name] = text
    return values, unknown
