"""Build the course as a static HTML site (`make docs`): one page per notebook in nbs/, the syllabus (index.ipynb)
as the home page, a navigation bar (syllabus, previous, next, all lessons) on every page, figures embedded.

Offline by design: nothing is loaded from the network (no MathJax or require.js from a CDN). Formulas are turned into
MathML, which browsers draw natively, when `latex2mathml` is installed (else shown as TeX). Solution cells (first line
`#| code-fold: true`) are folded into a click-to-open box, and nbdev's `#|` directive lines are not shown.

Usage: python docs/build_docs.py [--nbs nbs] [--out _docs]
"""
from __future__ import annotations
import argparse
import copy
import html
import re
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

FOLD = re.compile(r'^#\|\s*code-fold:\s*true\s*$')
CODE_SPLIT = re.compile(r'(```.*?```|`[^`\n]*`)', re.S)          # code, where a '$' is not maths
DISPLAY_MATH = re.compile(r'\$\$(.+?)\$\$', re.S)
INLINE_MATH = re.compile(r'(?<![\\$\w])\$(?!\s)([^$\n]+?)(?<!\s)\$(?![\w$])')


def order_key(path: Path):
    "index first, then by number and letter: 00, 01, ..., 09, 09b, 10a, 10b, 11, ..., 90."
    if path.stem == 'index': return (-1, '', path.name)
    m = re.match(r'(\d+)([a-z]?)_', path.name)
    return (int(m.group(1)), m.group(2), path.name) if m else (999, '', path.name)


def notebooks(nbs: Path) -> list[Path]:
    return sorted((p for p in nbs.glob('*.ipynb') if not p.name.startswith('.')), key=order_key)


def title_of(nb) -> str:
    for c in nb.cells:
        if c.cell_type == 'markdown':
            m = re.search(r'^#\s+(.+)$', c.source, re.M)
            if m: return m.group(1).strip()
    return ''


def _to_mathml(tex: str, display: bool) -> str:
    try:
        from latex2mathml.converter import convert
        return convert(tex.strip(), display='block' if display else 'inline')
    except Exception:                 # not installed, or TeX it cannot read: show the source
        return f"<code class=\"tex\">{html.escape(tex)}</code>"


def render_math(md: str) -> str:
    "Markdown with $...$ and $$...$$ outside code replaced by MathML."
    parts = CODE_SPLIT.split(md)
    for i in range(0, len(parts), 2):                # even parts are outside code
        p = DISPLAY_MATH.sub(lambda m: '\n\n' + _to_mathml(m.group(1), True) + '\n\n', parts[i])
        parts[i] = INLINE_MATH.sub(lambda m: _to_mathml(m.group(1), False), p)
    return ''.join(parts)


def _text_outputs(cell) -> str:
    out = []
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'stream': out.append(o.get('text', ''))
        elif 'text/plain' in o.get('data', {}): out.append(o['data']['text/plain'])
    return ''.join(out)


def prepare(nb):
    "A copy of `nb` for display: directives hidden, solutions folded, maths as MathML, links to .html."
    nb = copy.deepcopy(nb)
    cells = []
    for c in nb.cells:
        if c.cell_type == 'code':
            lines = c.source.splitlines()
            if lines and FOLD.match(lines[0]):
                body = '\n'.join(l for l in lines if not l.startswith('#|'))
                shown = _text_outputs(c)
                box = (f"<details class=\"solution\"><summary>Solution (code)</summary>\n\n"
                       f"<pre><code class=\"language-python\">{html.escape(body)}</code></pre>\n")
                if shown: box += f"<p>Output:</p><pre>{html.escape(shown)}</pre>\n"
                cells.append(nbformat.v4.new_markdown_cell(box + "</details>"))
                continue
            c.source = '\n'.join(l for l in lines if not l.startswith('#|')).strip('\n')
            if not c.source and not c.get('outputs'): continue            # e.g. '#| default_exp x' alone
        elif c.cell_type == 'markdown':
            c.source = render_math(c.source)
        cells.append(c)
    nb.cells = cells
    return nb


NAV_CSS = """
<style type="text/css">
nav.course { position: sticky; top: 0; z-index: 10; background: #f5f7fa; border-bottom: 1px solid #d0d7de;
  padding: 6px 16px; font: 14px/1.5 system-ui, sans-serif; display: flex; gap: 14px; align-items: center; }
nav.course a { text-decoration: none; color: #0b5cad; }
nav.course .title { font-weight: 600; margin-right: auto; }
nav.course select { font-size: 13px; }
details.solution { border: 1px solid #d0d7de; border-radius: 6px; padding: 4px 10px; margin: 6px 0;
  background: #fbfbfd; }
details.solution summary { cursor: pointer; color: #0b5cad; }
code.tex { color: #6a3d9a; }
</style>
"""


def nav_bar(pages: list[tuple[str, str]], i: int) -> str:
    "Course navigation for page `i` of `pages` [(html file, title)]."
    links = ['<span class="title">motlib course</span>', '<a href="index.html" id="nav-home">Syllabus</a>']
    if i > 0: links.append(f'<a href="{pages[i - 1][0]}" id="nav-prev">&larr; {html.escape(pages[i - 1][1])}</a>')
    if i + 1 < len(pages):
        links.append(f'<a href="{pages[i + 1][0]}" id="nav-next">{html.escape(pages[i + 1][1])} &rarr;</a>')
    opts = ''.join(f'<option value="{f}"{" selected" if k == i else ""}>{html.escape(t)}</option>'
                   for k, (f, t) in enumerate(pages))
    links.append(f'<select id="nav-all" aria-label="all lessons" onchange="location.href=this.value">{opts}</select>')
    return '<nav class="course">' + ' '.join(links) + '</nav>'


def postprocess(body: str, nav: str, names: set[str]) -> str:
    body = re.sub(r'<script[^>]*src="https?://[^"]*"[^>]*>\s*</script>', '', body)      # nothing from a CDN
    body = re.sub(r'<script type="text/x-mathjax-config">.*?</script>', '', body, flags=re.S)
    body = re.sub(r'<script type="module">(?:(?!</script>).)*?mermaid.*?</script>', '', body, flags=re.S)  # no diagrams
    body = re.sub(r'href="([\w.-]+)\.ipynb(#[^"]*)?"',
                  lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"' if m.group(1) in names else m.group(0), body)
    body = body.replace('</head>', NAV_CSS + '</head>', 1)
    return re.sub(r'(<body[^>]*>)', lambda m: m.group(1) + nav, body, count=1)


def build(nbs='nbs', out='_docs', quiet: bool = False) -> list[Path]:
    nbs, out = Path(nbs), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = notebooks(nbs)
    if not paths or paths[0].stem != 'index': raise SystemExit(f"{nbs}: no index.ipynb (the syllabus)")
    books = [nbformat.read(p, as_version=4) for p in paths]
    pages = [(p.stem + '.html', 'Syllabus' if p.stem == 'index' else f"{p.stem.split('_')[0]} {title_of(b)}")
             for p, b in zip(paths, books)]
    names = {p.stem for p in paths}
    exporter = HTMLExporter(template_name='lab')
    written = []
    for i, (p, b) in enumerate(zip(paths, books)):
        body, _ = exporter.from_notebook_node(prepare(b), resources=dict(metadata=dict(name=pages[i][1])))
        dst = out / pages[i][0]
        dst.write_text(postprocess(body, nav_bar(pages, i), names), encoding='utf-8')
        written.append(dst)
        if not quiet: print(f"{dst} ({dst.stat().st_size // 1024} KB)")
    return written


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--nbs', default='nbs')
    ap.add_argument('--out', default='_docs')
    a = ap.parse_args()
    build(a.nbs, a.out)
    sys.exit(0)
