"""Property tests of motlib.data.mot.read_mot_txt on malformed input (hypothesis).

The contract (notebook 01): a file either parses into a finite (N, 9) array sorted by frame, or the reader raises
`MOTFormatError` (motlib's documented bad-input error) naming the file; no other exception type ever comes out.
"""
import os, tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from motlib.data.mot import MOTFormatError, read_mot_txt

_DIR = Path(tempfile.mkdtemp(prefix='motlib-fuzz-'))
# MOTLIB_FUZZ_EXAMPLES=5000 for a longer hunt; no example database is written into the repository
_SETTINGS = settings(max_examples=int(os.environ.get('MOTLIB_FUZZ_EXAMPLES', 150)), deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow])

# tokens a broken or hand-edited file may hold
_odd = st.sampled_from(['nan', 'NaN', 'inf', '-inf', 'Infinity', '', ' ', '-1', '0', '-0', '1e400', '-1e400', '1e20',
                        '1.5', '-3', '-0.5', 'abc', 'x1', '1_0', '0x10', '1,5', '\x00', '١', '\ufeff1', '1e', '.', '-'])
_num = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr))
_junk = st.text(st.characters(blacklist_categories=('Cs',)), max_size=6)
_token = st.one_of(_odd, _num, _junk)
_sep = st.sampled_from([',', ', ', ' ', '\t', ';', ',,'])
_line = st.builds(lambda toks, sep: sep.join(toks), st.lists(_token, min_size=0, max_size=12), _sep)
_text = st.builds(lambda lines, nl: nl.join(lines), st.lists(_line, max_size=8), st.sampled_from(['\n', '\r\n', '\r']))


def _read(data: bytes):
    p = _DIR/'gt.txt'
    p.write_bytes(data)
    try:
        a = read_mot_txt(p)
    except MOTFormatError as e:
        assert 'gt.txt' in str(e), f"message does not name the file: {e}"
        return None
    assert a.ndim == 2 and a.shape[1] == 9 and np.isfinite(a).all()
    assert (np.diff(a[:, 0]) >= 0).all() and (a[:, 0] >= 1).all() and (a[:, 4:6] >= 0).all()
    return a


@_SETTINGS
@given(_text)
def test_malformed_text_raises_only_motformaterror(text):
    "Random lines (column counts, nan/inf/empty/letters/negative sizes, odd separators, unicode): parse or MOTFormatError."
    _read(text.encode('utf-8'))


@_SETTINGS
@given(st.lists(_line, min_size=1, max_size=6), st.integers(0, 5), st.sampled_from(['1,2,10,20,30,40,1,1,0.5', '3,-1,1,2,3,4,0.9,-1,-1,-1']))
def test_one_bad_line_among_good_ones(bad, where, good):
    "Good rows around random lines: either all parse, or MOTFormatError (never another exception)."
    lines = [good] * 6
    lines[where:where] = bad
    _read('\n'.join(lines).encode('utf-8'))


@_SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_motformaterror(data):
    "Arbitrary bytes (not necessarily UTF-8): parse or MOTFormatError."
    _read(data)


_row = st.tuples(st.integers(1, 10**5), st.integers(-1, 10**4),
                 *[st.floats(-1e4, 1e4, allow_nan=False, width=32)] * 2, *[st.floats(0, 1e4, width=32)] * 2,
                 st.integers(0, 1), st.integers(1, 12), st.floats(0, 1, width=32))


@_SETTINGS
@given(st.lists(_row, max_size=20), st.sampled_from([6, 7, 8, 9, 10]), st.sampled_from([',', ' ']), st.booleans())
def test_valid_files_parse(rows, ncols, sep, blank_lines):
    "Well-formed files (6 to 10 columns, commas or spaces, blank lines) parse to the values written, sorted by frame."
    lines = []
    for r in rows:
        v = list(r[:ncols]) if ncols <= 9 else list(r[:7]) + [-1, -1, -1]
        lines.append(sep.join(repr(float(x)) if isinstance(x, float) else str(x) for x in v))
        if blank_lines: lines.append('')
    a = _read('\n'.join(lines).encode('utf-8'))
    assert a is not None and len(a) == len(rows)
    fill = {6: [1, 1, 1], 7: [1, 1], 8: [1], 9: [], 10: []}[ncols]
    want = np.array([list(r[:min(ncols, 9 if ncols < 10 else 7)]) + fill + ([1, 1] if ncols == 10 else []) for r in rows],
                    np.float64).reshape(-1, 9)
    want = want[np.argsort(want[:, 0], kind='stable')]
    np.testing.assert_allclose(a, want, rtol=1e-6)


@pytest.mark.parametrize('text,where', [('1,2,10,20,30,40,1,1,0.5\n1,2,nan,20,30,40\n', ':2:'),
                                        ('1,2,10,20,-30,40\n', ':1:'), ('0,2,10,20,30,40\n', ':1:'),
                                        ('1,2,10,20\n', ':1:'), ('1,2,a,20,30,40\n\n', ':1:')])
def test_known_bad_lines_name_the_line(text, where):
    p = _DIR/'known.txt'
    p.write_text(text)
    with pytest.raises(MOTFormatError, match=f"known.txt{where}"):
        read_mot_txt(p)


def test_fractional_identity_says_so(tmp_path):
    "issue 7.10: gt identities like 1.5 are an error that says identities must be integers, with file:line."
    p = tmp_path/'gt.txt'
    p.write_text('1,1,10,20,30,40,1,1,1\n2,1.5,10,20,30,40,1,1,1\n')
    with pytest.raises(MOTFormatError, match=r"gt\.txt:2: identities must be integers, got 1\.5"):
        read_mot_txt(p)


def test_seqinfo_with_bom_and_bad_bytes(tmp_path):
    "issue 7.10: a seqinfo.ini with a BOM is read; a non-UTF-8 byte is a one-line MOTFormatError naming the file."
    from motlib.data.mot import read_seqinfo, Sequence
    p = tmp_path/'seqinfo.ini'
    p.write_bytes('\ufeff[Sequence]\r\nname=Straße-01\r\nseqLength=7\r\nframeRate=25\r\n'.encode('utf-8'))
    info = read_seqinfo(p)
    assert (info.name, info.seq_length, info.frame_rate) == ('Straße-01', 7, 25.0)
    p.write_bytes(b'[Sequence]\nname=Stra\xdfe-01\nseqLength=7\n')
    with pytest.raises(MOTFormatError, match=r"seqinfo\.ini: not UTF-8 text \(byte 0xdf at offset 20\)") as e:
        Sequence(tmp_path, require_images=False)
    assert '\n' not in str(e.value)
    for text, msg in [('[Sequence]\nname=a%b\nseqLength=3\n', None), ('[Sequence]\nname=x\nseqLength=-3\n', 'out of range'),
                      ('[Sequence]\nname=x\nseqLength=3\nframeRate=0\n', 'frameRate'), ('name=x\n', 'cannot parse')]:
        p.write_text(text)
        if msg is None: assert read_seqinfo(p).name == 'a%b'
        else:
            with pytest.raises(MOTFormatError, match=msg): read_seqinfo(p)


@_SETTINGS
@given(st.binary(max_size=120))
def test_seqinfo_random_bytes_raise_only_motformaterror(data):
    "Arbitrary bytes after a valid header: parse or MOTFormatError naming the file."
    from motlib.data.mot import read_seqinfo
    p = _DIR/'seqinfo.ini'
    p.write_bytes(b'[Sequence]\nname=x\nseqLength=3\n' + data)
    try: read_seqinfo(p)
    except MOTFormatError as e: assert 'seqinfo.ini' in str(e)
