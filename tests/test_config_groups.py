"""Typed parameter groups (issue 14 §3): one validation system for run configs, ``--set``, TOML
sections, sweep grids, LIVE.toml and risk books, and its JSON schema.

The groups are views of the flat values the engines pack, so the numbers cannot move: a group's
``pack()`` is compared with the packer it delegates to, array for array.
"""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from flatbook.config import build_config, load_toml, parse_set
from flatbook.errors import InputError
from flatbook.live.settings import parse_settings
from flatbook.live.settings import schema as live_schema
from flatbook.paramgroups import (
    GROUP_MODELS,
    ControlsGroup,
    config_schema,
    policy_group_model,
    validate_group,
)
from flatbook.params import GROUPS, PARAMS, group_of, resolve
from flatbook.policies.loader import load_policy_file
from flatbook.risk.book import load_book
from flatbook.risk.book import schema as book_schema
from flatbook.sweep.grid import parse_grid_item

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- the groups of a run


def test_every_parameter_is_in_exactly_one_group_and_the_groups_hold_the_runs_values():
    cfg = build_config("as2008", "glft", {"limit": 20, "gamma": 0.2, "hedge_trigger": "threshold"}, paths=50, seed=3)
    seen = {}
    for g in GROUPS:
        for name, value in cfg.groups[g].as_dict().items():
            if name in PARAMS:
                assert name not in seen, (name, seen.get(name), g)
                seen[name] = g
                assert value == cfg.values[name], name
    # every registry parameter is in its group's model (the policy group: the policy's own)
    for name in PARAMS:
        g = group_of(name)
        assert name in GROUP_MODELS[g].model_fields
    assert cfg.controls.limit == 20.0 and cfg.market.sigma == 2.0 and cfg.hedge.hedge_trigger == "threshold"
    assert cfg.policy_params.gamma == 0.2 and cfg.policy_params.solution == "closed"
    assert set(cfg.policy_params.as_dict()) == {"gamma", "q_target", "solution"}  # glft's policy parameters
    assert (cfg.run.paths, cfg.run.seed, cfg.run.preset, cfg.run.policy, cfg.run.T) == (50, 3, "as2008", "glft", 1.0)
    assert cfg.costs.maker_fee == 0.0
    with pytest.raises(ValidationError):
        cfg.controls.limit = 5.0  # frozen


def test_group_pack_is_the_packers_output_bit_for_bit():
    from flatbook.controls.quote_controls import pack_controls
    from flatbook.hedging.model import pack_hedge
    from flatbook.market.pack import pack_market

    ov = {"limit": 12, "yellow": 6, "tick": 0.01, "hedge_trigger": "threshold", "hedge_threshold": 8}
    ov |= {"hedge_exec": "twap", "financing_long": 0.01, "financing_short": 0.01}
    cfg = build_config("as2008", "avellaneda-stoikov", ov, paths=10)
    assert np.array_equal(cfg.controls.pack(), pack_controls(cfg.values))
    assert np.array_equal(cfg.market.pack(), pack_market(cfg.values))
    for a, b in zip(cfg.hedge.pack(cfg.steps), pack_hedge(cfg.values, cfg.steps), strict=True):
        assert np.array_equal(a, b)
    from flatbook.policies.registry import policy_spec

    pp, tab = cfg.policy_params.pack(cfg.steps)
    pp0, tab0 = policy_spec("avellaneda-stoikov").pack(cfg.values, cfg.steps)
    assert np.array_equal(pp, pp0) and np.array_equal(tab, tab0)
    # a group made alone packs with the registry's defaults for the other groups
    alone = ControlsGroup(limit=12, yellow=6, tick=0.01)
    assert np.array_equal(alone.pack(), pack_controls(build_config("as2008", "symmetric", {}).values | alone.as_dict()))


def test_run_config_pickles_with_its_values():
    cfg = build_config("worked-example", "linear-skew", {"controls.limit": "30"}, paths=7, seed=2)
    back = pickle.loads(pickle.dumps(cfg))
    assert back == cfg and dict(back.values) == dict(cfg.values) and back.user_keys == frozenset({"limit"})
    with pytest.raises(TypeError):
        back.values["limit"] = 1.0  # still read-only
    assert back.controls.limit == 30.0
    pickle.dumps(cfg.controls)  # a fixed group's record pickles too


def test_group_values_are_checked_by_the_parameter():
    with pytest.raises(InputError, match=r"^limit: got -1; allowed: a number >= 1e-9 and <= 1e9, or inf \(off\)"):
        validate_group("controls", {"limit": -1})
    with pytest.raises(InputError, match=r"^controls\.sigma: unknown key; sigma is in \[market\]"):
        validate_group("controls", {"sigma": 1.0})
    with pytest.raises(InputError, match=r"^controls\.limt: unknown key 'limt'; did you mean limit\?"):
        validate_group("controls", {"limt": 1.0})
    assert validate_group("controls", {"limit": "inf"}).limit == math.inf  # inf = off
    assert validate_group("market", {"mid_model": "GBM"}).mid_model == "gbm"


# --------------------------------------------------------------------------- --set: short and dotted names


def test_dotted_and_short_names_give_the_same_run():
    a = build_config("as2008", "glft", {"limit": "20", "gamma": "0.2"})
    b = build_config("as2008", "glft", {"controls.limit": "20", "policy.gamma": "0.2"})
    assert dict(a.values) == dict(b.values) and a.user_keys == b.user_keys == frozenset({"limit", "gamma"})
    assert parse_set(["controls.limit=20", "sigma=1", "colour=red"]) == {"limit": "20", "sigma": "1", "colour": "red"}


@pytest.mark.parametrize(
    "items, message",
    [
        (["controls.sigma=1"], "controls.sigma: unknown key; sigma is in [market]"),
        (["controls.limt=1"], "controls.limt: unknown parameter 'limt'; did you mean limit?"),
        (["contrls.limit=1"], "contrls.limit: unknown group 'contrls'; did you mean controls?"),
        (["gama=1"], "gama: unknown parameter 'gama'; did you mean gamma"),
        (["limit=1", "controls.limit=2"], "--set controls.limit: limit is already set by --set limit"),
    ],
)
def test_bad_set_names_say_what_is_allowed(items, message):
    with pytest.raises(InputError) as e:
        build_config("as2008", "glft", parse_set(items))
    assert str(e.value).startswith(message), str(e.value)


def test_no_short_name_is_ambiguous():
    """One registry: a short name resolves to one parameter, the same as its dotted name."""
    for name in PARAMS:
        assert resolve(name) == resolve(f"{group_of(name)}.{name}") == name


def test_a_user_policys_parameters_form_its_policy_group():
    pol = load_policy_file(ROOT / "examples" / "my_policy.py", "cubic_skew")
    model = policy_group_model(pol)
    assert set(model.model_fields) == {"half_spread", "skew", "q_target", "cubic"}
    cfg = build_config("as2008", "cubic_skew", {"policy.cubic": "1e-4"})
    assert cfg.policy_params.cubic == 1e-4 and cfg.values["cubic"] == 1e-4
    with pytest.raises(InputError, match=r"^market\.cubic: unknown key; cubic is in \[policy\]"):
        build_config("as2008", "cubic_skew", {"market.cubic": "1e-4"})


# --------------------------------------------------------------------------- TOML sections


SECTIONS = """
[run]
preset = "as2008"
policy = "avellaneda-stoikov"
paths = 300
seed = 7
T = 1.0

[policy]
gamma = 0.2

[controls]
limit = 20
yellow = 10

[hedge]
hedge_trigger = "threshold"
hedge_threshold = 12

[costs]
maker_fee = 0.01
"""

FLAT = """
[run]
preset = "as2008"
policy = "avellaneda-stoikov"
paths = 300
seed = 7

[params]
T = 1.0
gamma = 0.2
limit = 20
yellow = 10
hedge_trigger = "threshold"
hedge_threshold = 12
maker_fee = 0.01
"""


def test_toml_sections_read_as_the_flat_params_table(tmp_path):
    a, b = tmp_path / "sections.toml", tmp_path / "flat.toml"
    a.write_text(SECTIONS)
    b.write_text(FLAT)
    assert load_toml(a) == load_toml(b)
    run, params = load_toml(a)
    assert run == {"preset": "as2008", "policy": "avellaneda-stoikov", "paths": 300, "seed": 7}
    assert params["limit"] == 20 and params["T"] == 1.0
    ca = build_config(run["preset"], run["policy"], params, paths=run["paths"], seed=run["seed"])
    assert ca.controls.yellow == 10.0 and ca.hedge.hedge_threshold == 12.0


@pytest.mark.parametrize(
    "text, message",
    [
        ("[controls]\nsigma = 1\n", "controls.sigma: unknown key; sigma is in [market]"),
        ("[controls]\nlimt = 1\n", "controls.limt: unknown key 'limt'; did you mean limit?"),
        ("[run]\nsigma = 1\n", "run.sigma: unknown key; sigma is in [market]"),
        ("[run]\nTT = 1\n", "run.TT: unknown key 'TT'; did you mean T?"),
        ("[params]\nsgima = 1\n", "params.sgima: unknown parameter 'sgima'; did you mean sigma"),
        ("[params]\nlimit = 1\n[controls]\nlimit = 2\n", "params.limit: also given in [controls]"),
        ("[hedging]\nhedge_band = 1\n", "--config: unknown table '[hedging]'; did you mean [hedge]?"),
        ("controls = 3\n", "--config: [controls] in"),
    ],
)
def test_bad_toml_sections_name_the_key(tmp_path, text, message):
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(InputError) as e:
        load_toml(f)
    assert str(e.value).startswith(message), str(e.value)


# --------------------------------------------------------------------------- sweep grids and LIVE.toml


def test_sweep_grid_takes_dotted_names_through_the_same_checks():
    ax = parse_grid_item("controls.limit=10,20")
    assert ax.key == "limit" and ax.values == (10.0, 20.0)
    assert parse_grid_item("policy.gamma=0.1:0.3:3").values == parse_grid_item("gamma=0.1:0.3:3").values
    with pytest.raises(InputError, match=r"^--grid controls\.sigma=1,2: unknown key; sigma is in \[market\]"):
        parse_grid_item("controls.sigma=1,2")
    with pytest.raises(InputError, match=r"^--grid limit=-1,2: limit: got '-1'"):
        parse_grid_item("limit=-1,2")


def _live(**tables) -> dict:
    d = tomllib.loads((ROOT / "examples" / "live" / "monitor.toml").read_text())
    d.pop("params", None)
    return d | tables


def test_live_settings_take_the_group_sections_and_dotted_params():
    s = parse_settings(
        _live(params={"controls.limit": 50, "yellow": 20}, market={"sigma": 0.5}, costs={"maker_fee": 0})
    )
    assert s.params == {"limit": 50, "yellow": 20, "sigma": 0.5, "maker_fee": 0}
    assert s.controls == {} and s.market == {}  # merged into params


@pytest.mark.parametrize(
    "tables, message",
    [
        ({"params": {"limitt": 3}}, "params.limitt: unknown parameter 'limitt'; did you mean limit?"),
        ({"controls": {"sigma": 1}}, "controls.sigma: unknown key; sigma is in [market]"),
        ({"market": {"sigma": "x"}}, "market.sigma: got 'x', not a number"),
        ({"params": {"limit": 5}, "controls": {"limit": 6}}, "controls.limit: also given in [params]"),
        ({"risk": {"max_orders": 3}}, "risk.max_orders: unknown key; allowed: max_orders_per_s"),
    ],
)
def test_bad_live_parameters_name_the_key(tables, message):
    with pytest.raises(InputError) as e:
        parse_settings(_live(**tables))
    assert str(e.value).startswith(message), str(e.value)
    if "max_orders" in message:
        assert str(e.value).endswith("did you mean max_orders_per_s?")


# --------------------------------------------------------------------------- JSON schema


def _check(value, schema: dict, root: dict, path: str = "$") -> None:
    """A small JSON-schema check (the keywords these schemas use); raises AssertionError naming the path."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return _check(value, root["$defs"][name], root, path)
    if "anyOf" in schema:
        errors = []
        for alt in schema["anyOf"]:
            try:
                return _check(value, alt, root, path)
            except AssertionError as e:
                errors.append(str(e))
        raise AssertionError(f"{path}: no alternative fits: {errors}")
    t = schema.get("type")
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "integer": int,
        "number": (int, float),
        "null": type(None),
    }
    if t is not None:
        ok = isinstance(value, kinds[t]) and not (t in ("integer", "number") and isinstance(value, bool))
        ok = ok or (t == "integer" and isinstance(value, float) and value.is_integer())
        assert ok, f"{path}: {value!r} is not {t}"
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        inf_ok = schema.get("inf_allowed") and value == math.inf
        assert value >= schema.get("minimum", -math.inf), f"{path}: {value} < minimum"
        assert value > schema.get("exclusiveMinimum", -math.inf), f"{path}: {value} <= exclusiveMinimum"
        assert inf_ok or value <= schema.get("maximum", math.inf), f"{path}: {value} > maximum"
        assert inf_ok or value < schema.get("exclusiveMaximum", math.inf), f"{path}: {value} >= exclusiveMaximum"
    if isinstance(value, str) and "minLength" in schema:
        assert len(value) >= schema["minLength"], path
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            assert key in value, f"{path}: missing {key}"
        for key, v in value.items():
            if key in props:
                _check(v, props[key], root, f"{path}.{key}")
            else:
                assert schema.get("additionalProperties", True) is not False, f"{path}: unknown key {key}"
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            _check(v, schema["items"], root, f"{path}[{i}]")
    return None


def _fails(value, schema) -> bool:
    try:
        _check(value, schema, schema)
    except AssertionError:
        return True
    return False


def test_config_schema_documents_every_parameter_and_accepts_a_real_config(tmp_path):
    s = config_schema()
    json.dumps(s, allow_nan=False)  # valid JSON: no Infinity
    assert list(s["properties"]) == [*GROUPS, "params"]
    for g in GROUPS:
        for name, f in s["properties"][g]["properties"].items():
            if name in PARAMS:
                p = PARAMS[name]
                assert f["description"] and f["unit"] == p.unit, name
                assert ("enum" in f) == bool(p.choices), name
                if p.inf_allowed:
                    assert "maximum" not in f and "default" not in f and f["inf_allowed"], name
    assert s["properties"]["controls"]["properties"]["limit"]["minimum"] == 1e-9
    assert s["properties"]["market"]["properties"]["flow_bias"]["minimum"] == -0.5
    assert s["properties"]["market"]["properties"]["flow_bias"]["maximum"] == 0.5
    assert s["properties"]["hedge"]["properties"]["hedge_exec"]["enum"] == [
        "immediate",
        "twap",
        "vwap",
        "almgren-chriss",
    ]
    for text in (SECTIONS, FLAT):
        _check(tomllib.loads(text), s, s)
    assert _fails(tomllib.loads("[controls]\nsigma = 1\n"), s)  # a key in the wrong section
    assert _fails(tomllib.loads("[market]\nflow_bias = 0.7\n"), s)  # out of range
    assert _fails(tomllib.loads('[market]\nmid_model = "levy"\n'), s)
    assert not _fails(tomllib.loads("[controls]\nlimit = inf\n"), s)  # inf = off


def test_live_and_book_schemas_accept_the_examples():
    ls = live_schema()
    json.dumps(ls, allow_nan=False)
    for f in sorted((ROOT / "examples" / "live").glob("*.toml")):
        _check(tomllib.loads(f.read_text()), ls, ls)
    assert _fails({"risk": {"max_orders": 3}}, ls)
    assert _fails({"controls": {"sigma": 1}}, ls)
    bs = book_schema()
    json.dumps(bs, allow_nan=False)
    for f in sorted((ROOT / "examples" / "books").glob("*.toml")):
        load_book(f)
        _check(tomllib.loads(f.read_text()), bs, bs)
    assert _fails({"instruments": [{"name": "A", "price": -1.0, "vol": 1.0}]}, bs)
    assert _fails({"book": {"capital": 1.0}}, bs)  # instruments are required


def test_flatbook_version_does_not_import_pydantic():
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "flatbook", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "pydantic" not in r.stderr and "flatbook.config" in r.stderr
