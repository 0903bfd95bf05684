"""The characters an XML 1.0 document may hold, for the Moodle XML and QTI files.

:mod:`xml.etree.ElementTree` escapes ``<``, ``&`` and quotes but writes a control character
as it is, which makes the whole file ill-formed (an LMS refuses to import it). The loader
refuses such characters in a title (:func:`tracer.spec.errors.unprintable`); this is the last guard
for text from anywhere else (a file name, the Python API): each character XML cannot carry
becomes U+FFFD, so every file written parses.
"""

from __future__ import annotations

import re

#: the complement of XML 1.0's Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)
