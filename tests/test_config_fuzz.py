"""Property test of every configuration dataclass that reaches the command line (issue 7, defect 7).

`--set key=value` hands arbitrary strings to `make_config`; presets and Python callers hand it numbers. Whatever the
value, `make_config(cls, overrides={field: value})` either returns a config or raises `ConfigError` (motlib's
documented one-line error) naming the class and field. No other exception type may escape.
"""
import dataclasses, importlib, math, os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from motlib.core import ConfigError, make_config

CONFIGS = [('motlib.data.synth', 'SynthConfig'), ('motlib.eval', 'EvalConfig'),
           ('motlib.track.jde', 'JDETrackerConfig'), ('motlib.track.qd', 'QDTrackerConfig'),
           ('motlib.track.baselines', 'SORTConfig'), ('motlib.track.baselines', 'IoUTrackerConfig'),
           ('motlib.track.baselines', 'OracleConfig'), ('motlib.track.kalman', 'KalmanConfig'),
           ('motlib.train', 'TrainConfig'), ('motlib.models.fairmot', 'FairMOTConfig'),
           ('motlib.data.datasets', 'AugConfig'), ('motlib.track.byte', 'ByteTrackerConfig'),
           ('motlib.models.jde', 'JDEConfig'), ('motlib.models.qdtrack', 'QDTrackConfig'), ('motlib.models.tdt', 'TDTConfig'),
           ('motlib.models.reid', 'ReIDConfig')]

_SETTINGS = settings(max_examples=int(os.environ.get('MOTLIB_FUZZ_EXAMPLES', 40)), deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

_odd = st.sampled_from(['', ' ', 'None', 'none', 'null', 'nan', 'NaN', 'inf', '-inf', '1e400', '-1e400', '0', '-0', '-1',
                        '1.5', '2.0', '1e3', '0x10', '1_000', 'abc', 'true', 'False', 'yes', '()', '(,)', '(1,)', '[1, 2]',
                        '(320, 192)', '320,192', '1,2,3', '(a, b)', '((1,2),)', "('x',)", '{1: 2}', '\x00', '١', 'é',
                        '=1', '1=', '(', ')', '-', '.', '9' * 400, '-' + '9' * 30, '1e-400', '{name}', '{0}', '{', '%s'])
_text = st.text(st.characters(blacklist_categories=('Cs',)), max_size=12)
_strings = st.one_of(_odd, _text, st.integers(-10**12, 10**12).map(str), st.floats().map(repr))
_values = st.one_of(_strings, st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.none(), st.tuples(st.integers(-5, 500), st.integers(-5, 500)),
                    st.lists(st.floats(-2, 2), max_size=3))


def _cls(mod, name):
    try: m = importlib.import_module(mod)
    except ImportError as e: pytest.skip(f"{mod} cannot be imported: {e}")
    return getattr(m, name)


def _check(cls, field, value):
    try: cfg = make_config(cls, overrides={field: value})
    except ConfigError as e:
        msg = str(e)
        assert '\n' not in msg, f"{cls.__name__}.{field}={value!r}: message is not one line: {msg!r}"
        assert cls.__name__ in msg, f"{cls.__name__}.{field}={value!r}: message does not name the class: {msg!r}"
        return
    assert isinstance(cfg, cls)
    v = getattr(cfg, field)
    assert not (isinstance(v, float) and math.isnan(v)), f"{cls.__name__}.{field} accepted NaN"


@pytest.mark.parametrize('mod,name', CONFIGS, ids=[n for _, n in CONFIGS])
@_SETTINGS
@given(data=st.data())
def test_only_config_errors_escape(mod, name, data):
    cls = _cls(mod, name)
    field = data.draw(st.sampled_from([f.name for f in dataclasses.fields(cls)]), label='field')
    _check(cls, field, data.draw(_values, label='value'))


@pytest.mark.parametrize('mod,name', CONFIGS, ids=[n for _, n in CONFIGS])
def test_every_field_with_odd_strings(mod, name):
    "Each field once with each odd string: deterministic, so a failure names the exact case."
    cls = _cls(mod, name)
    for f in dataclasses.fields(cls):
        for v in ['abc', '', 'None', 'nan', '-1', '1e400', '(1,)', 'foo,bar', '0']:
            _check(cls, f.name, v)


@pytest.mark.parametrize('mod,name', CONFIGS, ids=[n for _, n in CONFIGS])
def test_overrides_dict_is_not_modified(mod, name):
    cls = _cls(mod, name)
    f = dataclasses.fields(cls)[0]
    ov = {f.name: str(getattr(cls(), f.name))}
    before = dict(ov)
    try: make_config(cls, overrides=ov)
    except ConfigError: pass
    assert ov == before


def test_documented_cases():
    "The commands of issue 7 (defect 7) that crashed with tracebacks."
    from motlib.data.synth import SynthConfig
    from motlib.eval import EvalConfig
    from motlib.track.jde import JDETrackerConfig
    for cls, bad in [(SynthConfig, 'fps=0'), (SynthConfig, 'frames=0'), (SynthConfig, 'width=0'),
                     (SynthConfig, 'people_min=50'), (SynthConfig, 'det_fp=-1'),
                     (JDETrackerConfig, 'det_thresh=5'), (JDETrackerConfig, 'track_buffer=-5')]:
        with pytest.raises(ConfigError, match=cls.__name__):
            make_config(cls, overrides=[bad])
    assert make_config(EvalConfig, overrides=['distractor_classes=7']).distractor_classes == (7,)
