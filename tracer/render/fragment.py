"""A web page of ours made into a fragment that sits inside another page: a Jupyter display.

Jupyter puts a ``_repr_html_`` into the notebook's own page, beside the notebook's text and
every other display. A whole page there does harm: its style sheet's ``html`` and ``body``
rules reshape the notebook (a 56em column for everything), and two displays of one notebook
both have an ``eq-7``, so "from (7)" in the second jumps to the first. :func:`fragment` turns
any page that :mod:`tracer.render` writes (a solution, an answer, a derivation, a descent)
into one ``<div>`` with

* its own id (``tracer-`` and ten random hex digits: unique per display, also across the
  saved outputs of earlier kernels), every id inside it and every reference to one (``href``,
  ``url(#…)``, ``for``, ``headers``, ``aria-*``) starting with that id;
* its style sheet scoped to that id: each selector written below it, the ``html`` and
  ``:root`` rules applied to the ``<div>`` itself, the ``body`` rules (the page's column and
  margins) dropped;
* its script, which already works within the element that holds it.

The pages are ours (templates of this package), so their markup is known: ids are written as
``id="…"`` and references in the attributes above, and the style sheet is one ``<style>``.
"""

from __future__ import annotations

import re
import uuid

_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S)
_IDS = re.compile(r'\b(id|for|headers|aria-labelledby|aria-describedby|aria-controls)="([^"]*)"')
_HREF = re.compile(r'\b((?:xlink:)?href)="#([^"]*)"')
_URL = re.compile(r"url\(#([^)]*)\)")
_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def new_id() -> str:
    return "tracer-" + uuid.uuid4().hex[:10]


def fragment(page: str, root: str | None = None) -> str:
    """``page`` (a whole page of ours) as one ``<div id=root>`` that leaves the page around it alone."""
    root = root or new_id()
    style = _STYLE.search(page)
    body = _BODY.search(page)
    content = body.group(1) if body else page
    content = content.replace("<main>", '<div class="main">').replace("</main>", "</div>")  # one <main> per page: the notebook's
    content = _IDS.sub(lambda m: f'{m.group(1)}="{" ".join(f"{root}-{i}" for i in m.group(2).split())}"', content)
    content = _HREF.sub(lambda m: f'{m.group(1)}="#{root}-{m.group(2)}"', content)
    content = _URL.sub(lambda m: f"url(#{root}-{m.group(1)})", content)
    css = scope_css(style.group(1), f"#{root}") if style else ""
    return f'<div class="tracer-display" id="{root}">\n<style>\n{css}</style>\n{content.strip()}\n</div>\n'


def scope_css(css: str, scope: str) -> str:
    """Every rule of ``css`` applied only below ``scope`` (see the module's docstring)."""
    css = _COMMENT.sub("", css)
    out: list[str] = []
    i = 0
    while True:
        opening = css.find("{", i)
        if opening < 0:
            break
        head = css[i:opening].strip()
        if head.startswith("@"):
            depth, j = 1, opening + 1
            while depth and j < len(css):
                depth += {"{": 1, "}": -1}.get(css[j], 0)
                j += 1
            inner = scope_css(css[opening + 1:j - 1], scope)
            if inner.strip():
                out.append(f"{head} {{\n{inner}}}\n")
            i = j
            continue
        closing = css.find("}", opening)
        selectors = [s for s in (_scoped(part, scope) for part in head.split(",")) if s]
        if selectors:
            out.append(f"{', '.join(selectors)} {{{css[opening + 1:closing]}}}\n")
        i = closing + 1
    return "".join(out)


def _scoped(selector: str, scope: str) -> str | None:
    selector = " ".join(selector.split())
    first, _, rest = selector.partition(" ")
    if first in ("html", ":root"):
        return f"{scope} {rest}".strip()
    if first == "body" or first.startswith("body"):
        return None  # the page's column and margins: the notebook's own
    return f"{scope} {selector}"
