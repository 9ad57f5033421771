"""`data fetch` against a local HTTP server (127.0.0.1, with Range support) serving a copy
of the data-root layout: checksums, resume from a truncated .part, corrupt files, archives."""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xstilts.data.entries import DataFile, DatasetEntry
from xstilts.cli_data import data_app
from xstilts.data.fetch import FetchError, fetch, load_checksums


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files, honouring 'Range: bytes=N-' with 206; records the ranges asked for."""

    ranges: list[str] = []
    timeout = 10

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if not m or not path.is_file():
            return super().do_GET()
        self.ranges.append(m.group(0))
        data, start = path.read_bytes(), int(m.group(1))
        if start >= len(data):
            self.send_error(416)
            return
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])


@pytest.fixture
def serve():
    """serve(folder) -> base URL; every server is shut down when the test ends."""
    servers = []

    def start(folder: Path) -> str:
        RangeHandler.ranges = []
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def test_checksums_cover_the_snapshot(data_root):
    sums = load_checksums()
    assert len(sums) > 600
    path = data_root / "copa" / "train-en.jsonl"
    assert sums["copa/train-en.jsonl"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_fetch_from_mirror_and_skip_present(data_root, serve, tmp_path):
    base = serve(data_root)
    written = fetch("copa", tmp_path, mirror=base, quiet=True)
    assert sorted(p.name for p in written) == ["train-en.jsonl", "val-en.jsonl"]
    assert (tmp_path / "copa" / "val-en.jsonl").read_bytes() == (data_root / "copa" / "val-en.jsonl").read_bytes()
    assert fetch("copa", tmp_path, mirror=base, quiet=True) == []  # present and verified: nothing to do


def test_resume_from_truncated_part(data_root, serve, tmp_path):
    base = serve(data_root)
    src = data_root / "copa" / "train-en.jsonl"
    part = tmp_path / "copa" / "train-en.jsonl.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(src.read_bytes()[:1000])
    fetch("copa", tmp_path, mirror=base, quiet=True)
    assert "bytes=1000-" in RangeHandler.ranges
    assert (tmp_path / "copa" / "train-en.jsonl").read_bytes() == src.read_bytes()
    assert not part.exists()


def test_corrupt_file_is_a_mismatch_naming_it(data_root, serve, tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(data_root / "copa", mirror / "copa")
    with (mirror / "copa" / "val-en.jsonl").open("ab") as f:
        f.write(b"{}\n")
    base = serve(mirror)
    out = tmp_path / "root"
    with pytest.raises(FetchError, match=r"val-en\.jsonl: checksum mismatch"):
        fetch("copa", out, mirror=base, quiet=True)
    assert not (out / "copa" / "val-en.jsonl").exists() and not (out / "copa" / "val-en.jsonl.part").exists()
    result = CliRunner().invoke(data_app, ["fetch", "copa", "--mirror", base, "--data-root", str(out)])
    assert result.exit_code == 2 and "checksum mismatch" in result.output


def test_archive_member_is_extracted(serve, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    with zipfile.ZipFile(site / "toy.zip", "w") as z:
        z.writestr("toy/a.txt", "hello\n")
    base = serve(site)
    entry = DatasetEntry("toy", ("intermediate",), "parallel-text", ("en",),
                         (DataFile("train", "en", ("a.txt",), (f"{base}/toy.zip#toy/a.txt",)),), "l", "v")
    sums = {"toy/a.txt": hashlib.sha256(b"hello\n").hexdigest()}
    fetch(entry, tmp_path / "root", quiet=True, checksums=sums)
    assert (tmp_path / "root" / "toy" / "a.txt").read_text() == "hello\n"


def test_unreachable_source_is_a_clear_error(tmp_path):
    entry = DatasetEntry("toy", ("intermediate",), "parallel-text", ("en",),
                         (DataFile("train", "en", ("a.txt",), ("http://127.0.0.1:9/a.txt",)),), "l", "v")
    with pytest.raises(FetchError, match="127.0.0.1:9/a.txt"):
        fetch(entry, tmp_path, quiet=True, timeout=2)
    assert not (tmp_path / "toy" / "a.txt.part").exists()  # nothing arrived: no .part is named or kept


def test_fetch_offline_names_no_part_it_did_not_keep_and_exits_2(tmp_path):
    result = CliRunner().invoke(data_app, ["fetch", "copa", "--mirror", "http://127.0.0.1:9", "--data-root",
                                           str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert ".part" not in result.output and "nothing downloaded; is this machine online?" in result.output
    assert not list(tmp_path.rglob("*.part"))
