"""axe-core (Deque's accessibility engine, from npm: scripts/install-axe.sh puts it in
.cache/axe-core/VERSION/, or AXE_CORE_JS names a copy) run on a page in Debian's chromium: the page with axe's script and a runner
appended, laid out headless, axe's violations read back from the dumped DOM."""

from __future__ import annotations

import html as html_lib
import glob
import json
import os
import re
from pathlib import Path

from browser import chromium

ROOT = Path(__file__).resolve().parent.parent
#: the newest copy scripts/install-axe.sh fetched (the serve tests read the same one)
AXE = Path(os.environ.get("AXE_CORE_JS") or next(iter(sorted(glob.glob(str(ROOT / ".cache" / "axe-core" / "*" / "axe.min.js")), reverse=True)), ROOT / ".cache" / "axe-core" / "missing"))

RUNNER = """<script>
axe.run(document, {resultTypes: ["violations"]}).then(function (result) {
  var out = document.createElement("pre");
  out.id = "axe-result";
  out.textContent = JSON.stringify(result.violations.map(function (v) {
    return {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(function (n) { return n.target.join(" ") + " :: " + (n.failureSummary || "").slice(0, 300); })};
  }));
  document.body.appendChild(out);
});
</script>"""


def violations(page: str, path: Path, width: int = 1200) -> list[dict]:
    """axe's violations of ``page`` (written to ``path`` with axe appended), every impact."""
    script = AXE.read_text(encoding="utf-8").replace("</script", "<\\/script")
    path.write_text(page.replace("</body>", f"<script>{script}</script>{RUNNER}</body>"), encoding="utf-8")
    dom = chromium(path.as_uri(), "--dump-dom", "--virtual-time-budget=60000", f"--window-size={width},1600")
    found = re.search(r'<pre id="axe-result">(.*?)</pre>', dom, re.S)
    assert found, "axe did not report (is axe-core installed? scripts/install-axe.sh)"
    return json.loads(html_lib.unescape(found.group(1)))


def serious(found: list[dict]) -> list[dict]:
    return [v for v in found if v["impact"] in ("serious", "critical")]
