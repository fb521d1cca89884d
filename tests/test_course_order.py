"""The course's shape (issue 13 section 1): notebooks run in numbered (file-name) order with no forward dependency, and
every numbered notebook ends as a lesson does, with its key ideas and exercises.

A forward dependency is a code cell of a notebook (exported or not, tests and solutions included) that imports
`motlib.X` (`from motlib.X import ...`, `import motlib.X`, `from motlib import X`, also inside a function) where
module X is exported (`#| default_exp X`) by a notebook that comes later in sorted file-name order. The method
registry's lazy references by name (strings such as 'motlib.models.fairmot') are not imports and are not checked."""
from __future__ import annotations
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'

IMPORT = re.compile(r'^[ \t]*(?:from[ \t]+motlib\.([\w.]+)[ \t]+import|import[ \t]+motlib\.([\w.]+)|'
                    r'from[ \t]+motlib[ \t]+import[ \t]+\(?([\w, \t]+))', re.M)
DEFAULT_EXP = re.compile(r'^#\|[ \t]*default_exp[ \t]+(\S+)', re.M)


def notebooks(folder: Path = NBS) -> list[Path]:
    "The course's notebooks in reading order (file name), without the syllabus."
    return sorted(p for p in folder.glob('*.ipynb') if p.name != 'index.ipynb')


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding='utf-8'))['cells']


def _source(cell: dict) -> str:
    s = cell['source']
    return s if isinstance(s, str) else ''.join(s)


def module_owners(nbs: list[Path]) -> dict[str, str]:
    "module (e.g. 'track.jde') -> the notebook file that exports it."
    out = {}
    for p in nbs:
        for c in _cells(p):
            if c['cell_type'] == 'code' and (m := DEFAULT_EXP.search(_source(c))):
                out[m.group(1)] = p.name
    return out


def imported_modules(src: str, modules) -> set[str]:
    "The motlib modules (keys of `modules`) that `src` imports; a submodule maps to its closest exported parent."
    found = set()
    for m in IMPORT.finditer(src):
        names = [m.group(1) or m.group(2)] if (m.group(1) or m.group(2)) else \
            [n.strip() for n in m.group(3).split(',') if n.strip()]
        for n in names:
            while n and n not in modules:
                n = n.rpartition('.')[0]
            if n:
                found.add(n)
    return found


def forward_imports(folder: Path = NBS) -> list[str]:
    "'nb (cell id) imports X from later-nb' for every forward dependency."
    nbs = notebooks(folder)
    order = {p.name: i for i, p in enumerate(nbs)}
    owners = module_owners(nbs)
    bad = []
    for p in nbs:
        for c in _cells(p):
            if c['cell_type'] != 'code':
                continue
            for mod in sorted(imported_modules(_source(c), owners)):
                if order[owners[mod]] > order[p.name]:
                    bad.append(f"{p.name} (cell {c.get('id')}) imports motlib.{mod} from the later {owners[mod]}")
    return bad


def test_import_pattern():
    mods = {'pipeline': 'a', 'track.jde': 'b', 'eval': 'c', 'models.fairmot': 'd'}
    src = ('import numpy as np\nfrom motlib.pipeline import x\n    from motlib.track.jde import (A,\n'
           'import motlib.eval as ev\nfrom motlib import models\n# from motlib.models.fairmot import no\n'
           "s = 'from motlib.models.fairmot import FairMOTConfig'\n")
    assert imported_modules(src, mods) == {'pipeline', 'track.jde', 'eval'}
    assert imported_modules('from motlib.models.fairmot.sub import y', mods) == {'models.fairmot'}
    assert imported_modules('from motlib import eval, pipeline', mods) == {'eval', 'pipeline'}


def test_checker_finds_a_forward_import(tmp_path):
    def nb(name, *sources):
        cells = [dict(cell_type='code', id=f'{i:08x}', metadata={}, source=s, outputs=[], execution_count=None)
                 for i, s in enumerate(sources)]
        (tmp_path / name).write_text(json.dumps(dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5)))
    nb('01_a.ipynb', '#| default_exp a', 'def f():\n    from motlib.b import g\n')
    nb('02_b.ipynb', '#| default_exp b', 'from motlib.a import f')
    nb('index.ipynb', 'from motlib.b import g')
    assert forward_imports(tmp_path) == ['01_a.ipynb (cell 00000001) imports motlib.b from the later 02_b.ipynb']


def test_no_notebook_imports_from_a_later_one():
    bad = forward_imports()
    assert not bad, 'forward dependencies (move code or renumber notebooks):\n' + '\n'.join(bad)


def test_every_module_has_one_notebook():
    seen = {}
    for p in notebooks():
        for c in _cells(p):
            if c['cell_type'] == 'code' and (m := DEFAULT_EXP.search(_source(c))):
                assert m.group(1) not in seen, f"{m.group(1)} exported by {seen[m.group(1)]} and {p.name}"
                seen[m.group(1)] = p.name
    assert {'core', 'pipeline', 'eval', 'cli'} <= set(seen)


def _headings(path: Path) -> list[str]:
    return [line.strip().lower() for c in _cells(path) if c['cell_type'] == 'markdown'
            for line in _source(c).splitlines() if line.startswith('#')]


def test_every_lesson_has_key_ideas_and_exercises():
    "Each numbered notebook ends with '## Key ideas' and '## Exercises' (issue 13 section 1)."
    missing = []
    for p in notebooks():
        if not re.match(r'\d', p.name):
            continue
        h = _headings(p)
        for want in ('key ideas', 'exercises'):
            if not any(x.lstrip('#').strip().startswith(want) for x in h):
                missing.append(f"{p.name}: no '## {want.capitalize()}' heading")
    assert not missing, '\n'.join(missing)


def test_every_lesson_opens_with_its_goal():
    "The first cell of a numbered notebook is its title and a one-line summary of what it teaches."
    for p in notebooks():
        if not re.match(r'\d', p.name):
            continue
        first = _cells(p)[0]
        assert first['cell_type'] == 'markdown', p.name
        s = _source(first)
        assert s.startswith('# ') and '\n> ' in s, f"{p.name}: first cell should be '# Title' and a '> summary' line"


def test_syllabus_lists_every_notebook():
    "nbs/index.ipynb links every notebook of the course, by its current file name."
    idx = ''.join(_source(c) for c in _cells(NBS / 'index.ipynb'))
    missing = [p.name for p in notebooks() if f'({p.name})' not in idx]
    assert not missing, f"the syllabus does not link {missing}"
    linked = set(re.findall(r'\(([\w.-]+\.ipynb)\)', idx))
    gone = sorted(n for n in linked if not (NBS / n).exists())
    assert not gone, f"the syllabus links notebooks that do not exist: {gone}"


DRAWS = re.compile(r'plt\.(subplots|figure|imshow|plot|hist|bar|scatter)\(|\bplot_\w+\(')


def _draws(cell: dict) -> bool:
    "A code cell that runs under the tests (not exported, not slow/gpu/data) and draws a matplotlib figure."
    s = _source(cell)
    if cell['cell_type'] != 'code' or s.startswith('#| export') or re.search(r'^#\|\s*(slow|gpu|data)\b', s, re.M):
        return False
    return bool(DRAWS.search(s))


def test_lessons_are_saved_with_their_figures():
    "A notebook whose tested cells draw figures is committed with at least one of them (issue 13 section 1)."
    missing = []
    for p in notebooks():
        cells = _cells(p)
        if not any(_draws(c) for c in cells):
            continue
        images = sum('image/png' in o.get('data', {}) for c in cells if c['cell_type'] == 'code' for o in c.get('outputs', []))
        if images == 0:
            missing.append(p.name)
    assert not missing, f"draw figures but are saved without them (execute and save the notebook): {missing}"


LAYERS = {  # package prefix -> modules it must not import (issue 13 section 2: no upward imports)
    'track/': ('pipeline', 'eval', 'train', 'bench', 'reproduce', 'cli'),
    'models/': ('train', 'pipeline', 'bench', 'reproduce', 'cli'),
}
EXEMPT = {'track/public.py'}   # public detections beside the peers (nb 20b) is a study on top of the pipeline and bench


def test_no_upward_imports():
    "Trackers do not import the evaluation, the pipeline or the engine; models do not import the engine (train)."
    lib = ROOT / 'motlib'
    bad = []
    for p in sorted(lib.rglob('*.py')):
        rel = p.relative_to(lib).as_posix()
        if rel in EXEMPT:
            continue
        for prefix, banned in LAYERS.items():
            if not rel.startswith(prefix):
                continue
            src = p.read_text(encoding='utf-8')
            for mod in banned:
                if re.search(rf'^\s*(from\s+(motlib|\.\.)\.?{mod}\b|import\s+motlib\.{mod}\b)', src, re.M):
                    bad.append(f"motlib/{rel} imports {mod}")
    assert not bad, '\n'.join(bad)
