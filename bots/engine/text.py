"""Text normalisation shared by the classifier, exact matching, choices and entity synonyms."""

import re
import unicodedata

_PUNCTUATION = re.compile(r"[^\w\s@.+\-/:']+", re.UNICODE)
_TRAILING = re.compile(r"[.!?,;:]+(\s|$)")
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lower-cased, accents folded, punctuation dropped, whitespace collapsed.

    Two utterances a person would call "the same words" normalise to the same string, which is what
    the exact (DIRECT) match and choice-label matching compare.
    """
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("’", "'")
    text = _PUNCTUATION.sub(" ", text)
    text = _TRAILING.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def substitute(text: str, variables: dict) -> str:
    """Replace `{name}` with the text of a known variable; anything else is left exactly as written.

    Plain string replacement on purpose: response texts come from owners and variable values from
    users, so nothing here may be evaluated as a template or format string.
    """
    if not text or "{" not in text:
        return text

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name in variables and variables[name] is not None:
            return variable_text(variables[name])
        return match.group(0)

    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}", replace, text)


def variable_text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join(variable_text(v.get("value") if isinstance(v, dict) else v) for v in value)
    return str(value)
