"""Text from outside (a card reference, a reason, a name from the collector, a remote
footer) made safe to print, show and store: no control or invisible character reaches a
receipt, a screen or a database. One control character (a CR in a card reference, a GS
in a footer) made Pillow's text layout fail, and every receipt after it stayed queued."""

from __future__ import annotations

# Categories that end up as a space (controls, line and paragraph separators, other spaces)
# or go (format characters such as bidi overrides, surrogates, private use, unassigned).
_AS_SPACE = frozenset({"Cc", "Zl", "Zp", "Zs"})
_DROPPED = frozenset({"Cf", "Cs", "Co", "Cn"})


def printable(text: str) -> str:
    """`text` with every control character and odd space as a plain space, and invisible
    format characters, surrogates and private-use code points left out."""
    if text.isprintable():  # the common case, in C
        return text
    import unicodedata  # here: the unit's start and memory should not pay for it

    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in _AS_SPACE:
            out.append(" ")
        elif cat not in _DROPPED:
            out.append(ch)
    return "".join(out)


def control_character(text: str) -> str | None:
    """The first control character (C0, C1, DEL, a line or paragraph separator) in `text`
    as `U+001D`, or None: for inputs refused rather than cleaned (a config value, a catalog
    name). Invisible format characters pass here (a shop name may need a joiner) and are
    left out where the text is printed."""
    if text.isprintable():  # no control character in it, in C
        return None
    import unicodedata

    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            return f"U+{ord(ch):04X}"
    return None
