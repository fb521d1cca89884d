"""The course site (`make docs`) in a real browser: headless Chromium loads the pages built from the notebooks and
finds no console error, no image that failed to load and no navigation link that does not resolve. Skipped where
Chromium (Debian's `chromium`) or websocket-client is missing. The full site is checked by `make docs`."""
from __future__ import annotations
import shutil
import sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'docs'))
pytest.importorskip('websocket', reason='needs websocket-client')
pytest.importorskip('nbconvert', reason='needs nbconvert')
import build_docs                                     # noqa: E402
import check_docs                                     # noqa: E402

pytestmark = pytest.mark.skipif(check_docs.find_browser() is None, reason='needs chromium (apt-get install chromium)')

# the syllabus, a lesson with formulas, and a lesson saved with its figures and folded solutions
PAGES = ('index.ipynb', '05_kalman.ipynb', '12_viz_embeddings.ipynb')


@pytest.fixture(scope='module')
def browser():
    with check_docs.Browser() as b:
        yield b


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    nbs, out = tmp_path_factory.mktemp('nbs'), tmp_path_factory.mktemp('site')
    for name in PAGES: shutil.copy(ROOT / 'nbs' / name, nbs / name)
    build_docs.build(nbs, out, quiet=True)
    return out


def test_pages_render_without_errors(site, browser, tmp_path):
    report = check_docs.check_site(site, shots=tmp_path, shot_pages=('index.html', '12_viz_embeddings.html'),
                                   browser=browser)
    assert set(report) == {'index.html', '05_kalman.html', '12_viz_embeddings.html'}
    # the syllabus links every lesson; in this three-page site the others are absent (the full site has them all)
    absent = {f"link does not resolve: {p.name}" for p in (ROOT / 'nbs').glob('*.ipynb') if p.name not in PAGES}
    assert {k: [e for e in r['errors'] if e not in absent] for k, r in report.items()} == {k: [] for k in report}
    assert report['12_viz_embeddings.html']['images'] >= 2           # the saved figures are in the page
    assert report['12_viz_embeddings.html']['solutions'] >= 1        # folded solution cells
    assert report['05_kalman.html']['math'] > 10                     # formulas drawn as MathML, offline
    assert all((tmp_path / f).stat().st_size > 10_000 for f in ('index.png', '12_viz_embeddings.png'))


def test_navigation_links_between_pages(site):
    html = (site / '05_kalman.html').read_text()
    assert 'href="index.html"' in html and 'href="12_viz_embeddings.html"' in html      # syllabus and next
    assert 'https://cdn' not in html and 'cdnjs' not in html                          # nothing from the network


def test_checker_reports_problems(tmp_path, browser):
    "A page with a JS error, a broken image and a dead link is reported: the check can fail."
    (tmp_path / 'index.html').write_text(
        '<html><body><nav class="course"><a href="missing.html">next</a></nav>'
        '<img src="no-such.png"><script>undefinedFunction()</script></body></html>')
    errors = check_docs.check_site(tmp_path, browser=browser)['index.html']['errors']
    assert any('exception' in e and 'undefinedFunction' in e for e in errors)
    assert any('image not loaded' in e for e in errors)
    assert any('link does not resolve: missing.html' in e for e in errors)
