"""A published study, read back: one folder `report SPEC --publish DIR` wrote, or a study published
in parts (`report SPEC --seeds S --publish DIR/parts/seed-S`, one per sitting) merged here.

Parts merge only when they are one study: one spec; every node run by the same code (the package
hash each node records as it finishes, `provenance.code_hash`); the same data (an evaluation set's
hash in every row of it, a training set's id in every node that reads it); and a row or node that
two parts both hold must agree. Anything else is refused in one line naming the parts. Each part's
provenance (its seeds, code, commit, machine and package versions) travels with the merged record,
so the report lists it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from xstilts.errors import XstiltsError
from xstilts.orchestration.spec import Spec, parse_spec
from xstilts.provenance import canonical_json
from xstilts.report.grid import Grid
from xstilts.store import ResultRow
from xstilts.store.store import _open

PARTS = "parts"  # the sub-folder of a record that holds its parts, one folder each


@dataclass(frozen=True)
class Part:
    """Where one part of a merged record came from (its environment.json, condensed)."""

    name: str
    seeds: tuple[int, ...] | None  # the units it ran; None: not published as a part
    nodes: int
    rows: int
    code: str | None
    git: tuple[str, ...]
    machine: str
    packages: dict[str, str]
    published_at: str | None


@dataclass(frozen=True)
class Record:
    """A published study: its spec, rows and nodes (merged over its parts, when it has them)."""

    folder: Path
    spec: Spec
    rows: list[ResultRow]
    nodes: list[dict]
    parts: tuple[Part, ...] = field(default=())


def spec_file(folder: str | Path) -> Path:
    """The spec.yaml a record's commands read: its own, else its first part's."""
    folder = Path(folder)
    if (folder / "spec.yaml").is_file() or not (parts := part_folders(folder)):
        return folder / "spec.yaml"
    return parts[0] / "spec.yaml"


def part_folders(folder: Path) -> list[Path]:
    where = folder / PARTS
    return sorted(p for p in where.iterdir() if p.is_dir()) if where.is_dir() else []


def is_record(folder: str | Path) -> bool:
    """Whether FOLDER holds a published study: its own rows, or parts to merge."""
    return (Path(folder) / "rows.json.gz").is_file() or bool(part_folders(Path(folder)))


def load_record(folder: str | Path) -> Record:
    """Read a published record, merging its parts when it has them; one clear line when the
    folder is not one, or when its parts are not one study."""
    folder = Path(folder)
    if not (folder / "rows.json.gz").is_file() and (parts := part_folders(folder)):
        return merge(folder, [_load_one(p) for p in parts])
    return _load_one(folder)


def _load_one(folder: Path) -> Record:
    need = [folder / "spec.yaml", folder / "rows.json.gz"]
    if missing := [p.name for p in need if not p.is_file()]:
        raise XstiltsError(f"{folder}: not a published study record (no {', '.join(missing)}); "
                           "`xstilts report SPEC --publish DIR` writes one")
    spec = parse_spec((folder / "spec.yaml").read_text(encoding="utf-8"), folder / "spec.yaml")
    with _open(folder / "rows.json.gz", "rt") as f:
        rows = [ResultRow.model_validate({k: v for k, v in r.items() if k != "key"}) for r in json.load(f)]
    nodes_file = folder / "nodes.json"
    nodes = json.loads(nodes_file.read_text(encoding="utf-8")) if nodes_file.is_file() else []
    env_file = folder / "environment.json"
    env = json.loads(env_file.read_text(encoding="utf-8")) if env_file.is_file() else {}
    return Record(folder, spec, rows, nodes, (_part(folder.name, env, nodes, rows),))


def _part(name: str, env: dict, nodes: list[dict], rows: list[ResultRow]) -> Part:
    codes = sorted({c for n in nodes if (c := (n.get("outputs") or {}).get("code"))})
    seeds = (env.get("part") or {}).get("seeds")
    return Part(name=name, seeds=tuple(seeds) if seeds else None, nodes=sum(n.get("status") == "done" for n in nodes),
                rows=len(rows), code=codes[0] if len(codes) == 1 else None,
                git=tuple(env.get("rows_from", {}).get("git", [])),
                machine=f"{env.get('cpu', '?')}, {env.get('cores', '?')} cores",
                packages=env.get("packages", {}), published_at=env.get("published_at"))


def merge(folder: Path, parts: list[Record]) -> Record:
    """One record of PARTS (see the module docstring for what they must share)."""
    first = parts[0]
    for p in parts[1:]:
        if p.spec.model_dump(mode="json") != first.spec.model_dump(mode="json"):
            a, b = first.spec.model_dump(mode="json"), p.spec.model_dump(mode="json")
            fields = ", ".join(k for k in a if a[k] != b.get(k))
            raise XstiltsError(f"{p.folder}: published from another spec than {first.folder} (fields: {fields}); "
                               "the parts of one record are parts of one spec")
    _same_code(parts)
    _same_data(parts)
    rows: dict[str, ResultRow] = {}
    nodes: dict[str, dict] = {}
    for p in parts:
        for r in p.rows:
            seen = rows.setdefault(r.key(), r)
            if seen.value != r.value:
                raise XstiltsError(f"{p.folder}: row {r.task} {r.language} {r.metric} (condition {r.condition}, seed "
                                   f"{r.seed}) is {r.value:g} there and {seen.value:g} in another part; a node "
                                   "published by two parts must be the same result (publish each node in one part)")
        for n in p.nodes:
            if n.get("status") == "done" or n["key"] not in nodes:
                nodes[n["key"]] = n
    return Record(folder, first.spec, list(rows.values()), list(nodes.values()),
                  tuple(part for p in parts for part in p.parts))


def _same_code(parts: list[Record]) -> None:
    where: dict[str, list[str]] = {}
    for p in parts:
        for n in p.nodes:
            if n.get("status") != "done":
                continue
            code = (n.get("outputs") or {}).get("code")
            if code is None:
                raise XstiltsError(f"{p.folder}: node '{n['label']}' records no code hash (it ran before xstilts "
                                   "recorded one per node), so its part cannot be shown to share the others' code; "
                                   "run and publish that part again")
            if p.folder.name not in where.setdefault(code, []):
                where[code].append(p.folder.name)
    if len(where) > 1:
        listed = "; ".join(f"{code[:12]} in {', '.join(names)}" for code, names in where.items())
        raise XstiltsError(f"{parts[0].folder.parent}: its parts ran different code ({listed}); run every part "
                           "with one version of xstilts (`pip install -e .` at one commit) and publish them again")


def _same_data(parts: list[Record]) -> None:
    evaluated: dict[tuple, tuple[str, str]] = {}
    for p in parts:
        for r in p.rows:
            what = (r.task, r.dataset, r.split, r.language)
            h, first = evaluated.setdefault(what, (r.data_hash, p.folder.name))
            if h != r.data_hash:
                raise XstiltsError(f"{p.folder}: {r.task} {r.split} {r.language} was read from other data than in "
                                   f"{first} (data hash {r.data_hash[:12]} vs {h[:12]}); every part must read one "
                                   "data root")
    trained: dict[str, tuple[str, str]] = {}
    for p in parts:
        for n in p.nodes:
            config = n.get("config") or {}
            if "data" not in config:
                continue
            same = canonical_json({"kind": n["kind"], **{k: v for k, v in config.items()
                                                         if k not in ("data", "seed", "intermediate_seed")}})
            data, first = trained.setdefault(same, (config["data"], p.folder.name))
            if data != config["data"]:
                raise XstiltsError(f"{p.folder}: node '{n['label']}' read other data than its like in {first} "
                                   f"(data id {config['data'][:12]} vs {data[:12]}); every part must read one data root")


def parts_grid(record: Record) -> Grid | None:
    """The provenance of a record published in parts, one row per part; None for a single record."""
    if len(record.parts) < 2 and not any(p.seeds for p in record.parts):
        return None
    grid = Grid(f"{record.folder}: {len(record.parts)} part{'s' * (len(record.parts) != 1)}, merged",
                ["part", "seeds", "nodes done", "rows", "code", "git", "torch", "machine", "published"], signed=False,
                caption="code: the hash of the xstilts package every node of the part ran (one for all parts, or "
                        "they would not merge); git: the commits the rows were written under")
    for p in record.parts:
        grid.rows.append([p.name, ", ".join(map(str, p.seeds)) if p.seeds else "all", str(p.nodes), f"{p.rows:,}",
                          (p.code or "?")[:12], ", ".join(g[:10] for g in p.git) or "?",
                          p.packages.get("torch", "?"), p.machine, (p.published_at or "?")[:10]])
    return grid
