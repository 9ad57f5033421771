"""`xstilts data fetch`: download a dataset's files from their official sources (or a mirror
of the data-root layout) and check each against the sha256 recorded in the package.

A file is written to `<name>.part` first; a broken download resumes from there with an HTTP
Range request, and the file is renamed into place only once its checksum matches, so the
data root never holds a half-written or corrupt file under its real name.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import quote
from urllib.request import Request, urlopen

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from xstilts.errors import XstiltsError
from xstilts.provenance import file_sha256
from xstilts.paths import data_root as default_data_root
from xstilts.data import formats
from xstilts.data.catalog import all_datasets, get_dataset, local_paths
from xstilts.data.entries import DatasetEntry
from xstilts.data.integrity import CHECKSUMS, COUNTS, count_key, load_checksums

CHUNK = 1 << 16


class FetchError(XstiltsError):
    """A download failed or gave a file whose checksum does not match the recorded one."""


def record_checksums(data_root: str | Path, out: Path = CHECKSUMS, counts_out: Path = COUNTS
                     ) -> tuple[dict[str, str], dict[str, int]]:
    """Hash every catalogued file present under `data_root` into `out` ('<folder>/<path>' -> sha256)
    and count the examples of each (dataset, split, language) whose files are all present into
    `counts_out` ('<dataset>/<split>/<lang>' -> examples). Run by a maintainer when the catalog,
    a reader or the data snapshot changes; reading every file takes about ten seconds."""
    root, sums, counts = Path(data_root), {}, {}
    for entry in all_datasets():
        for f in entry.files:
            paths = local_paths(entry, f, root)
            for rel, path in zip(f.paths, paths):
                if path.is_file():
                    sums[f"{entry.dir}/{rel}"] = file_sha256(path)
            if all(p.is_file() for p in paths):
                counts[count_key(entry.name, f.split, f.lang)] = len(
                    formats.get_format(entry.format).read(paths, entry.labels, f.lang))
    for table, path in ((sums, out), (counts, counts_out)):
        path.write_text(json.dumps(dict(sorted(table.items())), indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    return sums, counts


def download(url: str, dest: Path, expected: str | None, progress: Progress | None = None,
             timeout: float = 60) -> None:
    """Download `url` to `dest` through `dest.part`, resuming a partial one; check sha256."""
    part = dest.with_name(dest.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    req = Request(url, headers={"Range": f"bytes={have}-", "User-Agent": "xstilts"} if have else {"User-Agent": "xstilts"})
    try:
        with urlopen(req, timeout=timeout) as resp:
            if have and resp.status != 206:  # the server ignored the range: start over
                have = 0
            size = resp.headers.get("Content-Length")
            task = progress.add_task(dest.name, total=have + int(size) if size else None, completed=have) if progress else None
            with part.open("ab" if have else "wb") as out:
                for block in iter(lambda: resp.read(CHUNK), b""):
                    out.write(block)
                    if progress and task is not None:
                        progress.advance(task, len(block))
    except HTTPError as e:
        if not (e.code == 416 and have):  # 416 after a complete .part: nothing left to fetch
            raise FetchError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (URLError, OSError) as e:
        kept = part.is_file() and part.stat().st_size > 0
        if not kept:
            part.unlink(missing_ok=True)  # nothing arrived: nothing to resume from
        raise FetchError(f"{url}: {getattr(e, 'reason', e)}"
                         + (f" (partial download kept in {part}; fetch again to resume)" if kept else
                            " (nothing downloaded; is this machine online? `--mirror URL` fetches from a copy)")
                         ) from None
    _verify_and_place(part, dest, expected)


def _verify_and_place(part: Path, dest: Path, expected: str | None) -> None:
    if expected:
        got = file_sha256(part)
        if got != expected:
            part.unlink()
            raise FetchError(f"{dest}: checksum mismatch (sha256 {got}, expected {expected}); the download was removed")
    part.replace(dest)


def _extract(archive: Path, member: str, dest: Path, expected: str | None) -> None:
    """Copy one member of a zip or tar archive to `dest` (through `.part`, checked like a download)."""
    part = dest.with_name(dest.name + ".part")
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as z, z.open(member) as src, part.open("wb") as out:
                shutil.copyfileobj(src, out)
        else:
            with tarfile.open(archive) as t:
                extracted = t.extractfile(member)
                if extracted is None:
                    raise KeyError(member)
                with extracted, part.open("wb") as out:
                    shutil.copyfileobj(extracted, out)
    except KeyError:
        raise FetchError(f"{archive}: no member '{member}'") from None
    _verify_and_place(part, dest, expected)


def fetch(name: str | DatasetEntry, data_root: str | Path | None = None, mirror: str | None = None,
          force: bool = False, quiet: bool = False, timeout: float = 60,
          checksums: dict[str, str] | None = None) -> list[Path]:
    """Fetch every file of a dataset into the data root; files already present with the right
    checksum are kept (unless `force`). `mirror` is a base URL laid out like the data root
    (`<mirror>/<folder>/<path>`); `checksums` replaces the recorded ones ('<folder>/<path>' ->
    sha256). Returns the files written."""
    entry = get_dataset(name) if isinstance(name, str) else name
    root, written = default_data_root(data_root), []
    sums = load_checksums() if checksums is None else checksums
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  disable=quiet) as progress:
        for f in entry.files:
            for rel, url in zip(f.paths, f.urls):
                dest, expected = root / entry.dir / rel, sums.get(f"{entry.dir}/{rel}")
                if dest.is_file() and not force and (expected is None or file_sha256(dest) == expected):
                    continue
                if mirror:
                    download(f"{mirror.rstrip('/')}/{quote(entry.dir)}/{quote(rel)}", dest, expected, progress, timeout)
                elif "#" in url:
                    archive_url, member = url.split("#", 1)
                    archive = root / entry.dir / ".archives" / archive_url.rsplit("/", 1)[1]
                    if not archive.is_file():
                        download(archive_url, archive, None, progress, timeout)
                    _extract(archive, member, dest, expected)
                else:
                    download(url, dest, expected, progress, timeout)
                if expected is None and not quiet:
                    progress.console.print(f"[yellow]{dest}: no recorded checksum, not verified[/]")
                written.append(dest)
    return written
