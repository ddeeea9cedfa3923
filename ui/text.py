"""Safe display of text that comes from data files."""

from __future__ import annotations

import re

__all__ = ["md_escape"]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def md_escape(text: object) -> str:
    """Escape Markdown (and inline HTML) syntax so data text renders literally.

    ``st.markdown``/``st.caption`` would otherwise turn ``![x](http://...)`` in an area name into
    an image fetched from the internet, or ``**x**`` into bold.
    """
    return _MD_SPECIAL.sub(r"\\\1", "" if text is None else str(text))
