#!/usr/bin/env python3
"""Validate flag repositories and compiled snapshots against the JSON Schemas in schemas/.

    python3 scripts/check_schemas.py                      # flags/ and examples/
    python3 scripts/check_schemas.py PATH...              # other folders holding flag repositories
    python3 scripts/check_schemas.py --snapshot FILE...   # compiled snapshot JSON
    python3 scripts/check_schemas.py --expect-invalid DIR...
                                # each DIR is a small repository the schemas must reject,
                                # such as schemas/tests/invalid/*/

YAML is read as YAML 1.2 core schema with ruamel.yaml, the way the compiler reads it:
`on`, `off`, `yes`, `no` and dates stay strings, duplicate keys are errors. (PyYAML would
read `serve: on` as a boolean and `expires: 2027-03-31` as a date.)

A file's schema follows from its place in the repository:
    flagstaff.yaml                         schemas/manifest.schema.json
    <project>/flags/<key>.yaml|yml         schemas/flag.schema.json
    <project>/segments/<key>.yaml|yml      schemas/segment.schema.json
Any other YAML file under a repository root is an error, as it is for the compiler. Each
file must start with a `# yaml-language-server: $schema=...` line naming its schema
(skip that check with --no-modeline).

This checks shape only; references between files, operator/type agreement and golden
tests are the compiler's job (`flagstaff validate`, `flagstaff test`).

Prints one line per file (details indented beneath a failure) and, last, `N passed, M failed`.
Exit status: 0 when everything passed, 1 otherwise, 2 on a usage error.
Needs: ruamel.yaml, jsonschema.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Iterable

try:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver
except ImportError as error:  # pragma: no cover - depends on the machine
    sys.stderr.write(f"check_schemas: {error}; run `pip install ruamel.yaml jsonschema`\n")
    sys.exit(2)

try:  # newer ruamel.yaml resolves to Tag objects, older versions to plain strings
    from ruamel.yaml.tag import Tag

    def _tag(name: str) -> Any:
        return Tag(suffix=name)
except ImportError:  # pragma: no cover - depends on the machine

    def _tag(name: str) -> Any:
        return name

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas"
DEFAULT_PATHS = [REPO / "flags", REPO / "examples"]
MANIFEST = "flagstaff.yaml"
YAML_SUFFIXES = (".yaml", ".yml")
KEY_PATTERN = "^[a-z0-9][a-z0-9_.-]{0,49}$"
KEY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,49}\Z")
MODELINE = re.compile(r"#\s*yaml-language-server:\s*\$schema=(\S+)\s*$")

# MARK: - YAML 1.2 core schema

# The four implicit types of the YAML 1.2 core schema, and nothing else: no timestamps,
# no 1.1 booleans (yes/no/on/off), no sexagesimal or underscore numbers.
_CORE_TAGS = [
    ("tag:yaml.org,2002:null", re.compile(r"(?:~|null|Null|NULL|)\Z")),
    ("tag:yaml.org,2002:bool", re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")),
    ("tag:yaml.org,2002:int", re.compile(r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")),
    (
        "tag:yaml.org,2002:float",
        re.compile(
            r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z"
        ),
    ),
]


class Core12Resolver(VersionedResolver):
    """Resolves plain scalars with the YAML 1.2 core schema only."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            for tag, pattern in _CORE_TAGS:
                if pattern.match(value):
                    return _tag(tag)
        return super().resolve(kind, value, (False, False))


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Resolver = Core12Resolver
    yaml.allow_duplicate_keys = False
    return yaml


class NonStringKey(Exception):
    def __init__(self, path: list[Any], key: Any) -> None:
        kind = "null" if key is None else "boolean" if isinstance(key, bool) else "number" if isinstance(key, (int, float)) else "collection"
        super().__init__(f"mapping key {key!r} is a {kind}, not a string (quote it)")
        self.path = path + [key]


def _plain(node: Any, path: list[Any]) -> Any:
    """ruamel's round-trip objects as plain JSON-like Python values."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if not isinstance(key, str):
                raise NonStringKey(path, key)
            out[str(key)] = _plain(value, path + [key])
        return out
    if isinstance(node, list):
        return [_plain(item, path + [i]) for i, item in enumerate(node)]
    if isinstance(node, TaggedScalar):
        return str(node.value)
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return str(node)


def load_yaml_rt(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return _yaml().load(handle)


def load_yaml(path: str | Path) -> Any:
    """A YAML file as plain Python data, typed as YAML 1.2 core."""
    return _plain(load_yaml_rt(Path(path)), [])


def _position(tree: Any, path: Iterable[Any]) -> tuple[int, int] | None:
    """1-based line and column of the deepest node along `path` that has a mark."""
    where = None
    node = tree
    for step in path:
        try:
            if isinstance(node, CommentedMap):
                line, col = node.lc.key(step) if step in node else (None, None)
            elif isinstance(node, CommentedSeq):
                line, col = node.lc.item(step)
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
        if line is not None:
            where = (line + 1, col + 1)
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
    if where is None and isinstance(tree, (CommentedMap, CommentedSeq)):
        where = (tree.lc.line + 1, tree.lc.col + 1)
    return where


# MARK: - schemas

_validators: dict[str, Draft202012Validator] = {}


def validator(name: str) -> Draft202012Validator:
    if name not in _validators:
        with open(SCHEMAS / f"{name}.schema.json", encoding="utf-8") as handle:
            schema = json.load(handle)
        Draft202012Validator.check_schema(schema)
        _validators[name] = Draft202012Validator(schema)
    return _validators[name]


def _pointer(path: Iterable[Any]) -> str:
    return "/" + "/".join(str(p) for p in path)


_WEAK = {"type": 0, "additionalProperties": 1, "required": 1}


def _leaves(error: ValidationError) -> list[ValidationError]:
    if not error.context:
        return [error]
    return [leaf for child in error.context for leaf in _leaves(child)]


def _describe(error: ValidationError) -> ValidationError:
    """The error a person needs to read. Under a oneOf/anyOf it is the deepest one, since
    the branches that do not fit fail near the top (wrong type, unexpected fields)."""
    if not error.context:
        return error
    return max(_leaves(error), key=lambda e: (len(e.absolute_path), _WEAK.get(e.validator, 2)))


def _message(error: ValidationError) -> str:
    """jsonschema's message, in words where the schema gives them (descriptions)."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "not" and isinstance(error.validator_value, dict):
        what = error.validator_value.get("description")
        if what:
            return f"not allowed: {what}"
    if error.validator in ("pattern", "const", "enum", "type") and schema.get("description"):
        shown = json.dumps(error.instance, ensure_ascii=False)
        if error.validator == "enum":
            choices = ", ".join(str(c) for c in error.validator_value)
            return f"{shown} is not one of: {choices}"
        return f"{shown} does not fit: {schema['description']}"
    message = error.message
    return message if len(message) <= 200 else message[:197] + "..."


def schema_errors(name: str, data: Any) -> list[tuple[list[Any], str]]:
    out = []
    for error in sorted(validator(name).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        specific = _describe(error)
        path = list(specific.absolute_path)
        out.append((path, f"{_message(specific)} (at {_pointer(path)})"))
    return out


# MARK: - files


class Result:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def ok(self, label: str, note: str = "") -> None:
        self.passed += 1
        print(f"ok    {label}{'  ' + note if note else ''}")

    def fail(self, label: str, details: list[str]) -> None:
        self.failed += 1
        print(f"FAIL  {label}")
        for line in details:
            print(f"        {line}")


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def classify(root: Path, file: Path) -> tuple[str | None, str | None]:
    """(schema name, problem) for a YAML file under a repository root."""
    parts = file.relative_to(root).parts
    if parts == (MANIFEST,):
        return "manifest", None
    if len(parts) == 3 and parts[1] in ("flags", "segments") and file.suffix in YAML_SUFFIXES:
        kind = "flag" if parts[1] == "flags" else "segment"
        if not KEY.match(file.stem):
            return kind, f"file name {file.stem!r} is not a valid {kind} key ({KEY_PATTERN})"
        if not KEY.match(parts[0]):
            return kind, f"project folder {parts[0]!r} is not a valid key"
        return kind, None
    return None, "no YAML file belongs here: expected flagstaff.yaml, <project>/flags/<key>.yaml or <project>/segments/<key>.yaml"


def check_modeline(file: Path, schema: str) -> str | None:
    with open(file, encoding="utf-8") as handle:
        first = handle.readline().rstrip("\n")
    match = MODELINE.match(first)
    expected = os.path.relpath(SCHEMAS / f"{schema}.schema.json", file.parent)
    if not match:
        return f"first line must be `# yaml-language-server: $schema={expected}`"
    target = (file.parent / match.group(1)).resolve()
    if target != (SCHEMAS / f"{schema}.schema.json").resolve():
        return f"$schema={match.group(1)} does not point at schemas/{schema}.schema.json (use {expected})"
    return None


def check_yaml_file(
    root: Path, file: Path, projects: set[str] | None, modeline: bool
) -> tuple[list[str], Any]:
    """Problems with one file (empty: it passed), and its plain data if it parsed."""
    schema, problem = classify(root, file)
    label = _display(file)
    if schema is None:
        return [f"{label}: {problem}"], None
    problems = []
    if problem:
        problems.append(f"{label}: {problem}")
    if schema != "manifest" and projects is not None:
        project = file.relative_to(root).parts[0]
        if project not in projects:
            problems.append(f"{label}: project folder {project!r} is not declared in {MANIFEST}")
    if modeline:
        mismatch = check_modeline(file, schema)
        if mismatch:
            problems.append(f"{label}:1:1: {mismatch}")
    try:
        tree = load_yaml_rt(file)
        data = _plain(tree, [])
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
        problems.append(f"{label}:{where}: YAML: {error.problem or error.context}")
        return problems, None
    except NonStringKey as error:
        line, col = _position(tree, error.path) or (1, 1)
        problems.append(f"{label}:{line}:{col}: {error}")
        return problems, None
    except (YAMLError, UnicodeDecodeError, OSError) as error:
        problems.append(f"{label}: cannot read: {error}")
        return problems, None
    if data is None:
        problems.append(f"{label}:1:1: the file is empty; a {schema} is a mapping")
        return problems, None
    for path, message in schema_errors(schema, data):
        line, col = _position(tree, path) or (1, 1)
        problems.append(f"{label}:{line}:{col}: {message}")
    return problems, data


def yaml_files(folder: Path) -> list[Path]:
    # Hidden folders (.github workflows) are not part of a flag repository, as for the compiler.
    found = [
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix in YAML_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(found, key=lambda p: (len(p.relative_to(folder).parts), str(p)))


def check_repository(root: Path, files: list[Path], modeline: bool, report: Result) -> tuple[int, int]:
    """Checks `files` (all under `root`); returns (passed, failed) for them."""
    before = (report.passed, report.failed)
    manifest = root / MANIFEST
    projects: set[str] | None = None
    if manifest not in files and manifest.is_file():
        try:
            data = load_yaml(manifest)
            if isinstance(data, dict) and isinstance(data.get("projects"), dict):
                projects = set(data["projects"])
        except (YAMLError, NonStringKey, OSError, UnicodeDecodeError):
            pass
    ordered = sorted(files, key=lambda p: (p != manifest, str(p)))
    seen: dict[tuple[str, ...], Path] = {}
    for file in ordered:
        problems, data = check_yaml_file(root, file, projects, modeline)
        place = file.relative_to(root).parts[:-1] + (file.stem,)
        if place in seen and file != manifest:
            problems.append(f"{_display(file)}: the key {file.stem!r} is already used by {_display(seen[place])}")
        seen.setdefault(place, file)
        if file == manifest and isinstance(data, dict) and isinstance(data.get("projects"), dict):
            projects = set(data["projects"])
        if problems:
            report.fail(_display(file), problems)
        else:
            report.ok(_display(file))
    return report.passed - before[0], report.failed - before[1]


def scan(paths: list[Path], modeline: bool, report: Result) -> None:
    for folder in paths:
        folder = folder.resolve()
        if folder.is_file():
            folder = folder.parent
        if not folder.is_dir():
            report.fail(_display(folder), ["no such folder"])
            continue
        files = yaml_files(folder)
        found = {p.parent for p in files if p.name == MANIFEST}
        above = next((d for d in folder.parents if (d / MANIFEST).is_file()), None)
        if above is not None:
            found.add(above)
        roots = sorted(found, key=lambda p: len(p.parts), reverse=True)
        by_root: dict[Path, list[Path]] = {root: [] for root in roots}
        for file in files:
            owner = next((r for r in roots if r in file.parents), None)
            if owner is None:
                report.fail(_display(file), [f"not inside a flag repository (no {MANIFEST} above it)"])
            else:
                by_root[owner].append(file)
        for root in sorted(by_root):
            if by_root[root]:
                check_repository(root, by_root[root], modeline, report)


def expect_invalid(dirs: list[Path], report: Result) -> None:
    for folder in dirs:
        folder = folder.resolve()
        label = _display(folder)
        if not folder.is_dir():
            report.fail(label, ["no such folder"])
            continue
        files = yaml_files(folder)
        if not files:
            report.fail(label, ["no YAML files: nothing to reject"])
            continue
        projects = None
        rejections = []
        ordered = sorted(files, key=lambda p: (p != folder / MANIFEST, str(p)))
        for file in ordered:
            problems, data = check_yaml_file(folder, file, projects, modeline=False)
            if file == folder / MANIFEST and isinstance(data, dict) and isinstance(data.get("projects"), dict):
                projects = set(data["projects"])
            rejections.extend(problems)
        if rejections:
            report.ok(label, f"rejected as expected: {rejections[0]}")
        else:
            report.fail(label, [f"expected a rejection, but all {len(files)} YAML file(s) passed the schemas"])


def check_snapshots(files: list[Path], report: Result) -> None:
    for file in files:
        label = _display(file)
        try:
            with open(file, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as error:
            report.fail(label, [f"cannot read JSON: {error}"])
            continue
        problems = [f"{label}: {message}" for _, message in schema_errors("snapshot", data)]
        if problems:
            report.fail(label, problems)
        else:
            report.ok(label)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Validate flag repositories (YAML 1.2) and snapshots against schemas/*.schema.json.")
    parser.add_argument("paths", nargs="*", type=Path,
                        help="folders holding flag repositories (default: flags/ and examples/ when no other mode is given)")
    parser.add_argument("--snapshot", nargs="+", type=Path, default=[], metavar="FILE",
                        help="compiled snapshot JSON files to validate against snapshot.schema.json")
    parser.add_argument("--expect-invalid", nargs="+", type=Path, default=[], metavar="DIR",
                        help="small repositories that must be rejected: fails if every YAML file in one passes")
    parser.add_argument("--no-modeline", action="store_true",
                        help="do not require the `# yaml-language-server: $schema=` first line")
    args = parser.parse_args(argv)

    report = Result()
    paths = list(args.paths)
    if not paths and not args.snapshot and not args.expect_invalid:
        paths = DEFAULT_PATHS
    if paths:
        scan(paths, not args.no_modeline, report)
    if args.snapshot:
        check_snapshots(args.snapshot, report)
    if args.expect_invalid:
        expect_invalid(args.expect_invalid, report)

    print(f"{report.passed} passed, {report.failed} failed")
    if report.passed + report.failed == 0:
        sys.stderr.write("check_schemas: nothing was checked\n")
        return 1
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
