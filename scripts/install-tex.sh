#!/usr/bin/env bash
# Installs the TeX Live subset that `tracer solve -f pdf` needs, from Debian's packages:
# pdflatex + latexmk, amsmath/mathtools/booktabs (latex-recommended), TikZ/pgfplots (pictures);
# XeLaTeX and LuaLaTeX (texlive-xetex, texlive-luatex: --pdf-engine, and auto for a title or a
# language in a script pdflatex cannot set) with the Noto fonts of those scripts (fonts-noto-core:
# Greek, Cyrillic, Arabic, Hebrew; fonts-noto-cjk: Chinese, Japanese, Korean).
# pandoc renders the Markdown output in the tests; poppler-utils turns PDFs into PNGs for review.
set -euo pipefail
need=()
command -v pdflatex >/dev/null 2>&1 || need+=(texlive-latex-base texlive-latex-recommended texlive-pictures)
command -v latexmk  >/dev/null 2>&1 || need+=(latexmk)
command -v pandoc   >/dev/null 2>&1 || need+=(pandoc)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
kpsewhich pgfplots.sty >/dev/null 2>&1 || need+=(texlive-pictures)
command -v xelatex  >/dev/null 2>&1 || need+=(texlive-xetex)
kpsewhich luaotfload-main.lua >/dev/null 2>&1 || need+=(texlive-luatex)
fc-list 2>/dev/null | grep -q "NotoNaskhArabic" || need+=(fonts-noto-core)
fc-list 2>/dev/null | grep -q "NotoSerifCJK" || need+=(fonts-noto-cjk)
if [ ${#need[@]} -eq 0 ]; then
  echo "install-tex: TeX (pdflatex, xelatex, lualatex), latexmk, the Noto fonts, pandoc and pdftoppm are present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-tex: no apt-get here; install these Debian packages (or your system's equivalents): ${need[*]}" >&2
  exit 3
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-tex: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-tex: done"
