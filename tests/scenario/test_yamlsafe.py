"""Safe YAML loading: bombs, recursion, depth, size, duplicate keys."""

from __future__ import annotations

import time

import pytest

from simulator.yamlsafe import (MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_EXPANDED_NODES, YamlError,
                                dump_yaml, load_yaml, load_yaml_text)

BILLION_LAUGHS = "\n".join(
    [f'a0: &a0 [{", ".join(["lol"] * 9)}]']
    + [f'a{i}: &a{i} [{", ".join([f"*a{i - 1}"] * 9)}]' for i in range(1, 9)]) + "\n"


def test_plain_documents_load():
    assert load_yaml_text("a: 1\nb: [x, 2.5, true, null]\n") == {"a": 1, "b": ["x", 2.5, True, None]}
    assert load_yaml_text("") is None
    assert load_yaml_text("# only a comment\n") is None


def test_small_aliases_and_merge_keys_are_fine():
    data = load_yaml_text("base: &b {x: 1}\nuse: *b\nmerged: {<<: *b, y: 2}\n")
    assert data == {"base": {"x": 1}, "use": {"x": 1}, "merged": {"x": 1, "y": 2}}


def test_billion_laughs_is_rejected_quickly():
    # expanded size 9**9 scalars: far above the bound
    assert 9 ** 9 > MAX_EXPANDED_NODES
    t0 = time.perf_counter()
    with pytest.raises(YamlError, match="bomb"):
        load_yaml_text(BILLION_LAUGHS, "bomb.yaml")
    assert time.perf_counter() - t0 < 5.0  # generous: expansion never happens


def test_expansion_just_below_the_bound_is_accepted():
    # 3 levels of 9 aliases: 9**3 = 729 scalars, well under the bound
    text = "\n".join(BILLION_LAUGHS.splitlines()[:3]) + "\n"
    assert len(load_yaml_text(text)["a2"]) == 9


def test_recursive_alias_is_rejected():
    with pytest.raises(YamlError, match="recursive"):
        load_yaml_text("a: &x [1, *x]\n", "r.yaml")


def test_duplicate_keys_are_rejected_with_both_lines():
    with pytest.raises(YamlError) as info:
        load_yaml_text("a: 1\nb:\n  c: 2\n  c: 3\n", "d.yaml")
    assert str(info.value).startswith("d.yaml: b.c: duplicate key 'c' (line 4, first given on line 3)")


def test_too_deep_nesting_is_rejected():
    text = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    with pytest.raises(YamlError, match="nesting"):
        load_yaml_text(text, "deep.yaml")


def test_not_yaml_gives_the_line():
    with pytest.raises(YamlError, match=r"^x.yaml: line 2: not valid YAML"):
        load_yaml_text("a: [1, 2\nb: }\n", "x.yaml")


def test_python_tags_are_not_constructed():
    with pytest.raises(YamlError, match="not valid YAML"):
        load_yaml_text("a: !!python/object/apply:os.system ['true']\n", "t.yaml")


def test_big_file_rejected_from_its_size(tmp_path):
    p = tmp_path / "big.yaml"
    with p.open("wb") as f:       # 50 MB of valid-looking YAML
        line = b"key_000000: value\n"
        f.write(line * (50_000_000 // len(line)))
    assert p.stat().st_size > MAX_DOCUMENT_BYTES
    with pytest.raises(YamlError, match="larger than the accepted"):
        load_yaml(p)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(YamlError, match="no such file"):
        load_yaml(tmp_path / "nope.yaml")
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(YamlError, match="not UTF-8"):
        load_yaml(p)


def test_dump_has_no_aliases_and_round_trips():
    shared = {"x": 1}
    data = {"a": shared, "b": shared, "c": [1, 2]}
    text = dump_yaml(data)
    assert "&" not in text and "*" not in text
    assert load_yaml_text(text) == data
