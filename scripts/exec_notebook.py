"""Execute a notebook's code cells in order, in one namespace, and save it with its outputs (text and figures).

A small stand-in for `jupyter nbconvert --execute` on machines without Jupyter/IPython (the bare GPU image): run it from
the notebook's folder, `python3 ../scripts/exec_notebook.py NB.ipynb OUT.ipynb [--skip-slow]`. Cells are plain Python
(no magics); a cell that raises stops the run and the notebook is saved up to it, the error as its output.
"""
import base64, contextlib, io, json, sys, time, traceback


def _stream(name, text): return dict(output_type='stream', name=name, text=text.splitlines(keepends=True))


def _figures(plt) -> list:
    out = []
    for num in plt.get_fignums():
        buf = io.BytesIO()
        plt.figure(num).savefig(buf, format='png', dpi=80, bbox_inches='tight')
        out.append(dict(output_type='display_data', metadata={},
                        data={'image/png': base64.b64encode(buf.getvalue()).decode(), 'text/plain': ['<Figure>']}))
    plt.close('all')
    return out


def run(src: str, dst: str, skip_slow: bool = False) -> int:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    nb = json.load(open(src, encoding='utf-8'))
    ns, n, status = {'__name__': '__main__'}, 0, 0
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        code = ''.join(c['source'])
        c['outputs'] = []
        if skip_slow and '#| slow' in code: continue
        n += 1
        c['execution_count'] = n
        out, err = io.StringIO(), io.StringIO()
        t0 = time.time()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                exec(compile(code, f"<cell {n}>", 'exec'), ns)
        except Exception:
            status = 1
            err.write(traceback.format_exc())
        if out.getvalue(): c['outputs'].append(_stream('stdout', out.getvalue()))
        if err.getvalue() and status: c['outputs'].append(_stream('stderr', err.getvalue()))
        c['outputs'] += _figures(plt)
        print(f"cell {n}: {time.time() - t0:.1f} s" + (' FAILED' if status else ''), flush=True)
        if status: break
    with open(dst, 'w', encoding='utf-8') as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write('\n')
    return status


if __name__ == '__main__':
    sys.exit(run(sys.argv[1], sys.argv[2], '--skip-slow' in sys.argv[3:]))
