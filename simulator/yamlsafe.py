"""Safe YAML loading for scenario files: bounded, strict, one-line errors.

``load_yaml(path)`` returns plain Python data (dicts, lists, str, int, float,
bool, None) from a YAML file, using PyYAML's *safe* loader (no Python object
tags) with four extra guards:

* **document size**: a file larger than :data:`MAX_DOCUMENT_BYTES` is
  rejected from its ``stat`` size, before a byte is read (a 50 MB document
  fails in microseconds);
* **alias expansion**: the composed node graph is weighed with aliases
  expanded (a memoised walk, linear in the *distinct* nodes); more than
  :data:`MAX_EXPANDED_NODES` nodes after expansion is a "YAML bomb"
  (billion laughs) and is rejected before anything is constructed;
  recursive aliases are rejected too;
* **nesting depth**: deeper than :data:`MAX_DEPTH` is rejected;
* **duplicate keys**: a key given twice in one mapping is an error (PyYAML
  silently keeps the last one).

Every failure raises :class:`YamlError`, whose message is one line:
``<file>: line <n>: <what> ...``, or ``<file>: <yaml.path>: ...`` when the
problem has a location inside the document.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: Largest accepted scenario document.  Real scenarios are a few KiB.
MAX_DOCUMENT_BYTES = 1 << 20
#: Largest accepted node count after alias expansion.
MAX_EXPANDED_NODES = 100_000
#: Deepest accepted nesting of mappings / sequences.
MAX_DEPTH = 64


class YamlError(ValueError):
    """A scenario file that is not acceptable YAML; ``str()`` is one line."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def format_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``('callers', 1, 'size')`` -> ``callers[1].size``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            if not text.isprintable() or not text.strip() or len(text) > 60:
                text = repr(text[:60])          # a key with a newline or control character
            out += ("." if out else "") + text
    return out or "(top level)"


class _StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader whose composer counts nothing itself; checks run on the node graph."""


def _check_graph(root: Node, source: str) -> None:
    """Reject bombs (expanded size), recursion, excessive depth and duplicate keys."""
    weight: dict[int, int] = {}
    active: set[int] = set()

    def walk(node: Node, loc: tuple[Any, ...], depth: int) -> int:
        key = id(node)
        if key in weight:                 # an alias of an already weighed node
            return weight[key]
        if key in active:
            raise YamlError(f"{source}: line {node.start_mark.line + 1}: "
                            "recursive alias (an anchor used inside itself) is not accepted")
        if depth > MAX_DEPTH:
            raise YamlError(f"{source}: line {node.start_mark.line + 1}: "
                            f"nesting deeper than {MAX_DEPTH} levels is not accepted")
        active.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            for i, child in enumerate(node.value):
                total += walk(child, loc + (i,), depth + 1)
                if total > MAX_EXPANDED_NODES:
                    break
        elif isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.value != "<<":
                    if k.value in seen:
                        raise YamlError(
                            f"{source}: {format_path(loc + (k.value,))}: duplicate key "
                            f"{k.value!r} (line {k.start_mark.line + 1}, first given on line "
                            f"{seen[k.value]}); each key may appear once per mapping")
                    seen[k.value] = k.start_mark.line + 1
                name = k.value if isinstance(k, ScalarNode) else "?"
                total += walk(k, loc, depth + 1) + walk(v, loc + (name,), depth + 1)
                if total > MAX_EXPANDED_NODES:
                    break
        active.discard(key)
        if total > MAX_EXPANDED_NODES:
            raise YamlError(
                f"{source}: line {node.start_mark.line + 1}: document expands to more than "
                f"{MAX_EXPANDED_NODES} nodes through aliases (a YAML bomb?); not accepted")
        weight[key] = total
        return total

    walk(root, (), 0)


#: longest accepted number scalar (characters): Python refuses to convert ints of
#: more than 4300 digits, and nothing vmsim reads needs more than a few dozen
MAX_NUMBER_CHARS = 100


def _check_numbers(root: Node, source: str) -> None:
    """Number scalars longer than :data:`MAX_NUMBER_CHARS`: an error naming the line."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            if node.tag.endswith((":int", ":float")) and len(node.value) > MAX_NUMBER_CHARS:
                raise YamlError(f"{source}: line {node.start_mark.line + 1}: a number of "
                                f"{len(node.value)} characters is not accepted; accepted: numbers "
                                f"of at most {MAX_NUMBER_CHARS} characters")
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                stack.extend((k, v))


def load_yaml_text(text: str, source: str = "<string>") -> Any:
    """Parse one YAML document from ``text`` with every guard of this module."""
    if len(text.encode("utf-8", errors="replace")) > MAX_DOCUMENT_BYTES:
        raise YamlError(f"{source}: document larger than {MAX_DOCUMENT_BYTES} bytes; "
                        "scenario files are small, not accepted")
    try:
        loader = _StrictSafeLoader(text)
    except yaml.reader.ReaderError as exc:        # a control character, anywhere (comments too)
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise YamlError(f"{source}: line {line}: control character #x{exc.character:04x} is not "
                        "accepted; accepted: printable text, tabs and newlines") from None
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"line {mark.line + 1}: " if mark is not None else ""
            what = _one_line(exc.problem or exc.context or "invalid YAML")
            raise YamlError(f"{source}: {where}not valid YAML ({what})") from None
        except yaml.YAMLError as exc:
            raise YamlError(f"{source}: not valid YAML ({_one_line(str(exc))})") from None
        except RecursionError:
            raise YamlError(f"{source}: nesting too deep; not accepted") from None
        if root is None:
            return None
        _check_graph(root, source)
        _check_numbers(root, source)
        try:
            return loader.construct_document(root)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"line {mark.line + 1}: " if mark is not None else ""
            what = _one_line(exc.problem or exc.context or "invalid YAML")
            raise YamlError(f"{source}: {where}not valid YAML ({what})") from None
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            raise YamlError(f"{source}: not valid YAML ({_one_line(str(exc))})") from None
    finally:
        loader.dispose()


def load_yaml(path: str | os.PathLike[str], source: str | None = None) -> Any:
    """Read and parse a YAML file; ``source`` names it in errors (default: the path)."""
    p = Path(path)
    name = source if source is not None else str(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise YamlError(f"{name}: is a directory, expected a YAML file")
        if size > MAX_DOCUMENT_BYTES:
            raise YamlError(f"{name}: file is {size} bytes, larger than the accepted "
                            f"{MAX_DOCUMENT_BYTES} bytes for a scenario document")
        with p.open("rb") as f:
            raw = f.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise YamlError(f"{name}: no such file") from None
    except PermissionError:
        raise YamlError(f"{name}: permission denied") from None
    except IsADirectoryError:
        raise YamlError(f"{name}: is a directory, expected a YAML file") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise YamlError(f"{name}: larger than the accepted {MAX_DOCUMENT_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"{name}: not UTF-8 text (byte {exc.start}); "
                        "a scenario must be a UTF-8 YAML file") from None
    if "\x00" in text:
        raise YamlError(f"{name}: contains NUL bytes; not a YAML text file")
    return load_yaml_text(text, name)


#: Largest data file (ftrace text, /proc/vmallocinfo, dmesg log) read: 256 MiB.
MAX_DATA_BYTES = 256 << 20
_CHUNK = 1 << 20


def read_data_text(path: str | os.PathLike[str], what: str,
                   error: type[ValueError] = ValueError, max_bytes: int | None = None,
                   errors: str = "strict") -> str:
    """The text of a data file, read in chunks and never past ``max_bytes``
    (default :data:`MAX_DATA_BYTES`).

    Only regular files are read (a FIFO, ``/dev/zero`` or a terminal is refused
    before a byte is read); a file that grows past the bound while being read
    (a size-0 pseudo-file that never ends) is refused at the bound.  Every
    refusal raises ``error`` with one line naming the file."""
    limit = MAX_DATA_BYTES if max_bytes is None else max_bytes
    name = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{name}: no such {what}") from None
    except OSError as exc:
        raise error(f"{name}: cannot read the {what} ({exc.strerror})") from None
    import stat as _stat
    if _stat.S_ISDIR(st.st_mode):
        raise error(f"{name}: is a directory, not a {what}")
    if not _stat.S_ISREG(st.st_mode):
        raise error(f"{name}: not a regular file (a FIFO, device or socket); accepted: a {what} "
                    f"saved to a regular file of at most {limit} bytes")
    if os.path.basename(name) in ("trace_pipe", "trace_pipe_raw"):    # blocks while it waits
        raise error(f"{name}: a live ftrace pipe never ends; accepted: a {what} saved to a "
                    "regular file (cat /sys/kernel/tracing/trace > vmalloc.trace)")
    if st.st_size > limit:
        raise error(f"{name}: {st.st_size} bytes, larger than the accepted {limit} bytes "
                    f"for a {what}")
    chunks: list[bytes] = []
    total = 0
    try:
        with open(path, "rb") as f:
            while True:
                chunk = f.read(_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise error(f"{name}: more than the accepted {limit} bytes for a {what} "
                                "(a file that never ends?)")
                chunks.append(chunk)
    except OSError as exc:
        raise error(f"{name}: cannot read the {what} ({exc.strerror or type(exc).__name__})") from None
    try:
        return b"".join(chunks).decode("utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        raise error(f"{name}: not UTF-8 text (byte {exc.start}); accepted: a text {what}") from None


def dump_yaml(data: Any) -> str:
    """Deterministic block-style YAML (keys in insertion order, no aliases)."""

    class _NoAliasDumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002
            return True

    return yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False,
                     default_flow_style=None, allow_unicode=True, width=100)


__all__ = ["YamlError", "load_yaml", "load_yaml_text", "dump_yaml", "format_path",
           "read_data_text", "MAX_DATA_BYTES", "MAX_NUMBER_CHARS",
           "MAX_DOCUMENT_BYTES", "MAX_EXPANDED_NODES", "MAX_DEPTH"]
