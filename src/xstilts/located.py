"""YAML files whose errors name file:line:field: a study spec, a task file.

pydantic's error locations are walked through the composed YAML node tree to the line the
user has to edit; unknown keys get "did you mean" from the model the location points into.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from xstilts.errors import BadValue, XstiltsError

Problem = tuple[int | None, str, str]  # (line, field, message)


class SpecError(XstiltsError):
    """A YAML file that does not validate; `problems` are (line, field, message) triples."""

    def __init__(self, path: str | Path, problems: list[Problem]):
        self.path, self.problems = str(path), problems
        lines = [f"{self.path}{f':{line}' if line else ''}: {field + ': ' if field else ''}{msg}"
                 for line, field, msg in problems]
        super().__init__("\n".join(lines))


def _check_duplicate_keys(node: yaml.Node, path: Path) -> None:
    """PyYAML keeps the last of two equal keys silently; a file with one is a mistake."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            if k.value in seen:
                raise SpecError(path, [(k.start_mark.line + 1, str(k.value), "key given twice")])
            seen.add(k.value)
            _check_duplicate_keys(v, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, path)


def compose(text: str, path: str | Path) -> tuple[yaml.Node | None, Any]:
    """(node tree, plain data) of YAML text; syntax errors and duplicate keys are located."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise SpecError(path, [(mark.line + 1 if mark else None, "", f"not valid YAML: {e.problem or e}")]) from None
    if root is not None:
        _check_duplicate_keys(root, Path(path))
    return root, data


def _line_of(root: yaml.Node | None, loc: tuple) -> int | None:
    """Line (1-based) of the deepest YAML node the error location reaches."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if k.value == part), None)
            if hit is None:
                continue  # a union tag, or a missing key: stay on the enclosing mapping
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def _model_at(model: type[BaseModel], loc: tuple, tags: dict[str, type[BaseModel]]) -> type[BaseModel] | None:
    """The model class whose field set an error location points into."""
    for part in loc:
        if part in tags:
            model = tags[part]
        elif isinstance(part, str):
            field = model.model_fields.get(part)
            found = _models_in(field.annotation) if field else []
            if not found:
                return None
            model = found[0]
    return model


def problems(root: yaml.Node | None, error: ValidationError, model: type[BaseModel],
             tags: dict[str, type[BaseModel]] | None = None, prefix: tuple = ()) -> list[Problem]:
    """Each pydantic error as (line, field, message), sorted by line. `tags` name the models of
    tagged unions (left out of field names); `prefix` is where MODEL sits in the YAML tree."""
    tags = tags or {}
    out = []
    for err in error.errors():
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in (*prefix, *loc) if p not in tags)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            at = _model_at(model, loc[:-1], tags)
            known = list(at.model_fields) if at else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            msg = f"unknown key '{loc[-1]}'" + (f" (did you mean '{close[0]}'?)" if close else "") + \
                  (f"; allowed: {', '.join(known)}" if known else "")
        elif err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
            if named := re.match(r"field '([A-Za-z_]+)': ", msg):  # a whole-model check: the line of its field
                loc, msg = (*loc, named[1]), msg[named.end():]
                field = ".".join(str(p) for p in (*prefix, *loc) if p not in tags)
        elif err["type"] == "too_short" and err.get("input") == []:
            msg = "an empty list; leave the key out to get its default"
        out.append((_line_of(root, (*prefix, *loc)), field, msg))
    return sorted(out, key=lambda p: p[0] or 0)


def locate(path: str | Path, loc: tuple) -> int | None:
    """The line of a YAML file that a location (e.g. ('conditions', 1, 'tasks', 0)) points at."""
    return _line_of(yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader), loc)


def _takes_bool(annotation: Any) -> bool:
    return annotation is bool or any(_takes_bool(a) for a in getattr(annotation, "__args__", ()))


class Strict(BaseModel):
    """Unknown keys, infinities and NaN are errors; so is a boolean where a number or a list of numbers
    is expected (pydantic would read `max_steps: true` as 1 step)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        bad = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, bool)]
        # a field validator always has its field's name (pydantic's info, shared with model validators, may not)
        if bad and info.field_name is not None and not _takes_bool(cls.model_fields[info.field_name].annotation):
            raise BadValue(f"{str(bad[0]).lower()} is a boolean, not a number: this field takes no true/false")
        return value
