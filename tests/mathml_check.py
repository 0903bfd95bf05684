"""A validator of the MathML our pages write, after the content model of MathML Core and
MathML 3 (presentation markup): every element a MathML element, scripts and fractions with
exactly their arguments (``msup``, ``msub``, ``mfrac``, ``mroot``, ``munder``, ``mover``: 2;
``msubsup``, ``munderover``: 3), tables made of rows made of cells, token elements holding
text only. What a browser does with an invalid one varies: Chromium drew a transpose written as
``msup`` with four children as an unraised ⊤ beside entries shrunk to script size."""

from __future__ import annotations

from html.parser import HTMLParser

PRESENTATION = {"math", "mrow", "mi", "mn", "mo", "mtext", "mspace", "ms", "msup", "msub", "msubsup", "mfrac", "msqrt", "mroot",
                "munder", "mover", "munderover", "mtable", "mtr", "mtd", "mlabeledtr", "mstyle", "mpadded", "mphantom", "menclose",
                "merror", "semantics", "annotation", "annotation-xml", "mmultiscripts", "mprescripts", "none", "maction", "mfenced"}
ARITY = {"msup": 2, "msub": 2, "mfrac": 2, "mroot": 2, "munder": 2, "mover": 2, "msubsup": 3, "munderover": 3}
TOKENS = {"mi", "mn", "mo", "mtext", "ms"}


class _Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[list] = []
        self.roots: list[list] = []

    def handle_starttag(self, tag, attrs):
        if tag != "math" and not self.stack:
            return
        node = [tag, [], ""]
        if self.stack:
            self.stack[-1][1].append(node)
        else:
            self.roots.append(node)
        if tag not in ("mspace", "mprescripts", "none"):
            self.stack.append(node)

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][2] += data


def problems(page: str, limit: int = 20) -> list[str]:
    """What is invalid in the MathML of ``page`` (empty: all of it valid)."""
    tree = _Tree()
    tree.feed(page)
    found: list[str] = []

    def walk(node, path):
        tag, children, text = node
        where = "/".join(path + [tag])
        if tag not in PRESENTATION:
            found.append(f"{where}: not a MathML element")
        if tag in ARITY and len(children) != ARITY[tag]:
            found.append(f"{where}: {len(children)} children, {ARITY[tag]} expected")
        if tag in TOKENS and children:
            found.append(f"{where}: a token element with elements inside")
        if tag == "mtable" and any(c[0] not in ("mtr", "mlabeledtr") for c in children):
            found.append(f"{where}: a table with something other than rows")
        if tag == "mtr" and any(c[0] != "mtd" for c in children):
            found.append(f"{where}: a row with something other than cells")
        if tag != "mtable" and any(c[0] in ("mtr", "mlabeledtr") for c in children):
            found.append(f"{where}: a row outside a table")
        if tag != "mtr" and any(c[0] == "mtd" for c in children) and tag != "mlabeledtr":
            found.append(f"{where}: a cell outside a row")
        for child in children:
            walk(child, path + [tag])

    for root in tree.roots:
        walk(root, [])
    return found[:limit]
