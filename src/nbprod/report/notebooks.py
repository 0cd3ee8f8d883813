"""Executed notebooks as read-only HTML pages, and the cleaning of notebook HTML.

Why the care: a notebook's outputs are whatever its code displayed, and HTML outputs
are markup written by anyone's code (``IPython.display.HTML("<script>...")``, a
library's widget, an ``<img onerror=...>``). The report must show them without
letting any of it run. Two independent layers:

1. **Sanitizing** (here): before export, outputs keep only mime types that render as
   static content (text, HTML, markdown, LaTeX as text, PNG/JPEG/GIF/SVG images);
   JavaScript, widget views and widget state are dropped. HTML outputs, markdown
   cells and raw cells are cleaned with bleach *after* markdown is rendered (a
   markdown link is HTML too): ``<script>``/``<style>`` elements go with their
   content, other unknown tags are stripped, every ``on*`` attribute is dropped,
   ``href`` keeps only http(s)/mailto/``#`` targets (a relative link in a notebook
   has nothing to point to in the site), ``img src`` keeps only ``data:image/``.
2. **Content-Security-Policy** (every page, see :mod:`.pages`): ``script-src 'none'``,
   so even markup that got past the cleaner cannot run, and nothing loads from the
   network.

Offline: nbconvert's ``lab`` template loads require.js, MathJax and mermaid from a
CDN; our template (``templates/notebook.html.j2``) removes those blocks. LaTeX is
therefore shown as source, not typeset. The lab stylesheet (~250 KB) is written once
to ``static/notebook.css`` and linked, not inlined into every page.

nbconvert takes about a second to import: it is imported only when a notebook is
actually rendered (an incremental build with nothing new never imports it).
"""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).with_name("templates")

#: Output mime types that are static content; everything else is dropped.
SAFE_MIMES = (
    "text/plain", "text/html", "text/markdown", "text/latex",
    "image/png", "image/jpeg", "image/gif", "image/svg+xml",
)

_TAGS = {
    "a", "abbr", "acronym", "b", "blockquote", "br", "caption", "center", "cite", "code", "col",
    "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
    "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var",
}
_COMMON_ATTRS = {"class", "id", "title", "align", "valign", "style", "colspan", "rowspan", "lang", "dir"}
# whole elements (content included) whose text would be noise or code if only the tag went
_DROP_WHOLE = re.compile(
    r"<(script|style|template|noscript|iframe|object|embed|svg|math|textarea|select)\b[^>]*>.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)
_IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE)
_cleaner = None


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name.lower().startswith("on"):
        return False
    if tag == "a" and name == "href":
        return value.strip().lower().startswith(("http://", "https://", "mailto:", "#"))
    if tag == "img" and name == "src":
        return value.strip().lower().startswith("data:image/")
    if tag == "img" and name in ("alt", "width", "height"):
        return True
    if tag == "ol" and name in ("start", "type"):
        return True
    return name in _COMMON_ATTRS


def clean_html(html: Any) -> str:
    """``html`` with everything that could run, load or navigate out of the site removed."""
    global _cleaner
    if _cleaner is None:
        import bleach
        from bleach.css_sanitizer import CSSSanitizer

        _cleaner = bleach.Cleaner(
            tags=_TAGS,
            attributes=_allowed_attribute,
            protocols={"http", "https", "mailto", "data"},
            strip=True,
            strip_comments=True,
            css_sanitizer=CSSSanitizer(),
        )
    if isinstance(html, bytes):
        html = html.decode("utf-8", "replace")
    elif isinstance(html, list):  # nbformat may keep multi-line strings as lists
        html = "".join(html)
    cleaned = _cleaner.clean(_DROP_WHOLE.sub("", str(html)))
    return _IMG_WITHOUT_SRC.sub("", cleaned)  # its src was refused: nothing to show


def strip_unsafe_outputs(nb: Any) -> Any:
    """Drop output mime types that are not static content, widget state and file
    references; in place (``nb`` is an nbformat node or a plain dict) and returned."""
    metadata = nb.get("metadata", {})
    metadata.pop("widgets", None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("attachments", None)
        for output in cell.get("outputs", []) or []:
            if output.get("output_type") not in ("display_data", "execute_result"):
                continue
            data = output.get("data", {})
            for mime in [m for m in data if m not in SAFE_MIMES]:
                del data[mime]
            output.get("metadata", {}).pop("filenames", None)
            _clean_sizes(output)
        if cell.get("outputs"):  # a scrap's data output has nothing left to show
            cell["outputs"] = [o for o in cell["outputs"]
                               if o.get("output_type") not in ("display_data", "execute_result") or o.get("data")]
    return nb


def _size(value: Any) -> int | None:
    """An image width/height as an int; anything else (nbconvert writes it into an
    unquoted attribute: ``'1 onload=x'`` would add one) is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _clean_sizes(output: Any) -> None:
    """Keep an output's image ``width``/``height`` metadata (per mime, and top-level)
    only when it is an integer."""
    metadata = output.get("metadata")
    if not isinstance(metadata, dict):
        if metadata is not None:
            output["metadata"] = {}
        return
    holders = [metadata, *(value for value in metadata.values() if isinstance(value, dict))]
    for holder in holders:
        for name in ("width", "height"):
            if name in holder:
                size = _size(holder[name])
                if size is None:
                    del holder[name]
                else:
                    holder[name] = size


def display_outputs(nb: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Display outputs of scraps (``sb.glue(name, value, display=True)`` or
    ``encoder="display"``), by scrap name: scrapbook records only their display,
    in the executed notebook, so the run page shows them from there."""
    found: dict[str, dict[str, Any]] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            meta = (output.get("metadata") or {}).get("scrapbook") or {}
            if meta.get("display") and meta.get("name"):
                found[str(meta["name"])] = dict(output.get("data") or {})
    return found


def display_html(data: dict[str, Any]) -> str:
    """One display bundle as safe HTML: an image as a data-URI ``<img>``, else cleaned
    HTML, else the plain text (escaped)."""
    from html import escape

    for mime in ("image/png", "image/jpeg", "image/gif"):
        if data.get(mime):
            payload = "".join(data[mime]) if isinstance(data[mime], list) else str(data[mime])
            return f'<img alt="figure" src="data:{mime};base64,{escape(payload.strip())}">'
    if data.get("image/svg+xml"):
        svg = "".join(data["image/svg+xml"]) if isinstance(data["image/svg+xml"], list) else str(data["image/svg+xml"])
        encoded = base64.b64encode(svg.encode()).decode()
        return f'<img alt="figure" src="data:image/svg+xml;base64,{encoded}">'  # an <img> runs no SVG script
    if data.get("text/html"):
        return clean_html(data["text/html"])
    text = data.get("text/plain", "")
    text = "".join(text) if isinstance(text, list) else str(text)
    return f"<pre>{escape(text)}</pre>"


class NotebookRenderer:
    """One nbconvert ``HTMLExporter`` for a whole build (building it loads templates)."""

    def __init__(self):
        from nbconvert import HTMLExporter  # slow import: only when a notebook is rendered

        exporter = HTMLExporter(
            template_name="lab",
            extra_template_paths=[str(TEMPLATES)],
            template_file="notebook.html.j2",
            sanitize_html=False,  # our own, stricter cleaning: the template's nbprod_clean
            embed_images=True,
            exclude_anchor_links=True,
            # never used by our template; emptied so that no CDN address is even configured
            require_js_url="",
            mathjax_url="",
            jquery_url="",
            jupyter_widgets_base_url="",
            widget_renderer_url="",
        )
        exporter.register_filter("nbprod_clean", clean_html)
        # nbconvert logs advice ("Alternative text is missing...") through traitlets' root
        # logger, which the CLI would print for every notebook
        quiet = logging.getLogger("nbprod.report.nbconvert")
        quiet.setLevel(logging.ERROR)
        exporter.log = quiet
        self.exporter = exporter

    def render(self, nb_bytes: bytes, *, title: str, context: dict[str, Any]) -> str:
        """The page of one executed notebook (not yet redacted: the caller does that)."""
        import nbformat

        nb = nbformat.reads(nb_bytes.decode("utf-8", "replace"), as_version=4)
        strip_unsafe_outputs(nb)
        nb.metadata["title"] = title
        html, _ = self.exporter.from_notebook_node(nb, resources={"nbprod": context})
        return _SCRIPT.sub("", html)


# our template writes no <script>; any that got through anyway is removed (and the CSP
# would stop it): defence in depth, cheap
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)


def notebook_css() -> bytes:
    """nbconvert's lab stylesheet (layout + light theme), served once as ``static/notebook.css``.

    Its only ``url(...)`` are data: URIs, which the CSP's ``img-src data:`` allows."""
    from jupyter_core.paths import jupyter_path

    for root in jupyter_path("nbconvert", "templates"):
        static = Path(root) / "lab" / "static"
        if (static / "index.css").is_file() and (static / "theme-light.css").is_file():
            return (static / "index.css").read_bytes() + b"\n" + (static / "theme-light.css").read_bytes()
    return b""
