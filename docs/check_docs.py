"""Check the built course site in a real browser: headless Chromium (Debian's `chromium`) loads every page and reports
console errors, uncaught exceptions, failed loads, images that did not load and local links that do not resolve;
optionally it saves screenshots. Driven over the DevTools protocol with `websocket-client`, no other dependency.

Usage: python docs/check_docs.py [--site _docs] [--shots reports/docs]   (exit status 1 when a page has a problem)
"""
from __future__ import annotations
import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

BROWSERS = ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable')

PAGE_JS = r"""(() => {
  const imgs = [...document.images].map(i => ({src: i.src.slice(0, 80),
                                               ok: i.complete && i.naturalWidth > 0}));
  const links = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
  const nav = [...document.querySelectorAll('nav.course a, nav.course option')]
      .map(a => a.getAttribute('href') || a.getAttribute('value'));
  const n = sel => document.querySelectorAll(sel).length;
  return {title: document.title, imgs, links, nav, cells: n('.jp-Cell'), math: n('math'),
          solutions: n('details.solution')};
})()"""


def find_browser() -> str | None:
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


class Browser:
    "A headless Chromium and one page, driven over the DevTools protocol."
    def __init__(self, exe: str | None = None, width: int = 1200, height: int = 900):
        import websocket                      # websocket-client
        exe = exe or find_browser()
        if exe is None: raise RuntimeError("no chromium found (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix='motlib-chromium-')
        self.proc = subprocess.Popen([exe, '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
                                      '--disable-extensions', '--allow-file-access-from-files', '--hide-scrollbars',
                                      f'--window-size={width},{height}', '--remote-debugging-port=0',
                                      f'--user-data-dir={self.profile}', 'about:blank'],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url = self._devtools_url()
        port = urllib.parse.urlparse(url).port
        pages = json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=30))
        page = next(p for p in pages if p.get('type') == 'page')
        self.ws = websocket.create_connection(page['webSocketDebuggerUrl'], timeout=60, suppress_origin=True)
        self.next_id, self.events = 0, []
        for domain in ('Page', 'Runtime', 'Log', 'Network'): self.call(f'{domain}.enable')

    def _devtools_url(self, timeout: float = 60) -> str:
        t0 = time.time()
        while time.time() - t0 < timeout:
            line = self.proc.stderr.readline()
            if m := re.search(r'DevTools listening on (ws://\S+)', line): return m.group(1)
            if not line and self.proc.poll() is not None: break
        raise RuntimeError("chromium did not start its DevTools server")

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps(dict(id=my, method=method, params=params)))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get('id') == my:
                if 'error' in msg: raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get('result', {})
            if 'method' in msg: self.events.append(msg)

    def wait_event(self, name: str, timeout: float = 60) -> None:
        t0 = time.time()
        while time.time() - t0 < timeout:
            if any(e['method'] == name for e in self.events): return
            msg = json.loads(self.ws.recv())
            if 'method' in msg: self.events.append(msg)
        raise TimeoutError(name)

    def load(self, url: str) -> list[str]:
        "Open `url`, wait for its load event and a moment more; returns the problems the browser reported."
        self.events = []
        self.call('Page.navigate', url=url)
        self.wait_event('Page.loadEventFired')
        self.call('Runtime.evaluate', expression='new Promise(r => setTimeout(r, 300))', awaitPromise=True)
        errors = []
        for e in self.events:
            m, p = e['method'], e.get('params', {})
            if m == 'Runtime.exceptionThrown':
                d = p['exceptionDetails']
                errors.append(f"exception: {d.get('exception', {}).get('description', d.get('text'))}"[:300])
            elif m == 'Runtime.consoleAPICalled' and p.get('type') in ('error', 'assert'):
                args = ' '.join(str(a.get('value', a.get('description', ''))) for a in p['args'])
                errors.append(f"console.error: {args}"[:300])
            elif m == 'Log.entryAdded' and p['entry'].get('level') == 'error':
                errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}"[:300])
            elif m == 'Network.loadingFailed' and not p.get('canceled'):
                errors.append(f"load failed: {p.get('errorText')}"[:300])
        return errors

    def evaluate(self, js: str):
        r = self.call('Runtime.evaluate', expression=js, returnByValue=True)
        if 'exceptionDetails' in r: raise RuntimeError(f"evaluate: {r['exceptionDetails'].get('text')}")
        return r['result'].get('value')

    def screenshot(self, path) -> Path:
        data = self.call('Page.captureScreenshot', format='png')['data']
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try: self.ws.close()
        finally:
            self.proc.terminate()
            try: self.proc.wait(10)
            except subprocess.TimeoutExpired: self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self): return self

    def __exit__(self, *exc): self.close()


def _local_target(page: Path, href: str) -> Path | None:
    "The file a relative link points to, or None for external links, anchors and data URLs."
    if not href or href.startswith(('#', 'http://', 'https://', 'mailto:', 'data:', 'javascript:')): return None
    return (page.parent / urllib.parse.unquote(href.split('#')[0])).resolve()


def check_site(site, shots=None, shot_pages=('index.html',), browser: Browser | None = None) -> dict:
    "Load every page of `site` in Chromium; {page: {'errors': [...], 'images': n, ...}} with the problems found."
    site = Path(site).resolve()
    pages = sorted(site.glob('*.html'))
    if not pages: raise RuntimeError(f"{site}: no HTML pages (run `make docs`)")
    own = browser is None
    browser = browser or Browser()
    report = {}
    try:
        for page in pages:
            errors = browser.load(page.as_uri())
            info = browser.evaluate(PAGE_JS)
            bad_imgs = [i['src'] for i in info['imgs'] if not i['ok']]
            errors += [f"image not loaded: {s}" for s in bad_imgs]
            for href in info['links'] + info['nav']:
                target = _local_target(page, href)
                if target is not None and not target.exists(): errors.append(f"link does not resolve: {href}")
            if page.name != 'index.html' and not info['nav']: errors.append("no course navigation bar")
            report[page.name] = dict(errors=errors, images=len(info['imgs']), cells=info['cells'], math=info['math'],
                                     solutions=info['solutions'], title=info['title'])
            if shots and page.name in shot_pages:
                browser.screenshot(Path(shots) / (page.stem + '.png'))
    finally:
        if own: browser.close()
    return report


def summary(report: dict) -> str:
    lines = ['| page | cells | figures | formulas | solutions | problems |', '|---|---|---|---|---|---|']
    for name, r in report.items():
        probs = '; '.join(r['errors'][:3]) + (' ...' if len(r['errors']) > 3 else '') if r['errors'] else 'none'
        lines.append(f"| {name} | {r['cells']} | {r['images']} | {r['math']} | {r['solutions']} | {probs} |")
    return '\n'.join(lines)


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--site', default='_docs')
    ap.add_argument('--shots', default=None, help='save screenshots of the index and one lesson here')
    ap.add_argument('--shot-pages', nargs='+', default=['index.html', '11_models_fairmot.html'])
    a = ap.parse_args()
    rep = check_site(a.site, a.shots, a.shot_pages)
    text = summary(rep)
    print(text)
    if a.shots:
        Path(a.shots, 'check.md').write_text(
            f"# The course site in headless Chromium\n\n`python docs/check_docs.py --site {a.site} --shots {a.shots}`, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.uname().sysname}\n\n{text}\n")
    bad = sum(bool(r['errors']) for r in rep.values())
    print(f"{len(rep)} pages, {bad} with problems")
    sys.exit(1 if bad else 0)
