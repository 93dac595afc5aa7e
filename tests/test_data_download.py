"""``seq2seq.download`` against a local HTTP server on 127.0.0.1 only: verified files land atomically, corrupted or broken
downloads are rejected and leave nothing behind."""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import os
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import SOLUTION

if str(SOLUTION) not in sys.path:
    sys.path.insert(0, str(SOLUTION))
from seq2seq import corpora, data, download  # noqa: E402

SHARED = Path(os.environ.get(data.DATA_ENV, "/nonexistent"))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over ``tmp_path/www``: yields (base URL, served folder)."""
    www = tmp_path / "www"
    www.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", www
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _serve_gz(www: Path, rel: str, content: bytes) -> None:
    path = www / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(content, mtime=0))


def _serve_zip(www: Path, rel: str, member: str, content: bytes) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, content)
    path = www / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


PAIRS = b"Go.\tVa !\nHi.\tSalut !\n"
LINES = "Zwei Männer.\nEin Hund.\n".encode()
FAKE = (download.Source("eng-fra.txt", "http://unused.invalid", "tutorial/data.zip", _sha(PAIRS),
                    member="data/eng-fra.txt"),
        download.Source("multi30k/train.de", "http://unused.invalid", "raw/train.de.gz", _sha(LINES)))


def _leftovers(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_download_extracts_verifies_and_skips_present_files(server, tmp_path):
    base, www = server
    _serve_zip(www, "tutorial/data.zip", "data/eng-fra.txt", PAIRS)
    _serve_gz(www, "raw/train.de.gz", LINES)
    target = tmp_path / "data"
    paths = download.download(target, mirror=base, sources=FAKE)
    assert paths == [target / "eng-fra.txt", target / "multi30k" / "train.de"]
    assert paths[0].read_bytes() == PAIRS and paths[1].read_bytes() == LINES
    assert _leftovers(target) == ["eng-fra.txt", "multi30k/train.de"], "no temporary files left"
    for served in www.rglob("*.*"):
        served.unlink()  # the server now has nothing: verified files must not be fetched again
    assert download.download(target, mirror=base, sources=FAKE) == paths


def test_corrupted_download_is_rejected_and_nothing_is_written(server, tmp_path):
    base, www = server
    _serve_zip(www, "tutorial/data.zip", "data/eng-fra.txt", PAIRS.replace(b"Va", b"Vas"))
    target = tmp_path / "data"
    with pytest.raises(data.DataError, match="sha256 .* differs from the expected"):
        download.download(target, mirror=base, sources=FAKE[:1])
    assert _leftovers(target) == []


def test_corrupted_download_keeps_the_previous_file_untouched(server, tmp_path):
    base, www = server
    target = tmp_path / "data"
    (target / "multi30k").mkdir(parents=True)
    (target / "multi30k" / "train.de").write_bytes(b"an older, wrong copy\n")
    _serve_gz(www, "raw/train.de.gz", LINES + b"tampered\n")
    with pytest.raises(data.DataError, match="sha256"):
        download.download(target, mirror=base, sources=FAKE[1:])
    assert _leftovers(target) == ["multi30k/train.de"]
    assert (target / "multi30k" / "train.de").read_bytes() == b"an older, wrong copy\n"
    _serve_gz(www, "raw/train.de.gz", LINES)  # a good copy replaces the wrong one
    download.download(target, mirror=base, sources=FAKE[1:])
    assert (target / "multi30k" / "train.de").read_bytes() == LINES


def test_truncated_archive_and_missing_file(server, tmp_path):
    base, www = server
    _serve_gz(www, "raw/train.de.gz", LINES)
    (www / "raw" / "train.de.gz").write_bytes((www / "raw" / "train.de.gz").read_bytes()[:-12])  # cut short
    target = tmp_path / "data"
    with pytest.raises(data.DataError, match="not a readable archive"):
        download.download(target, mirror=base, sources=FAKE[1:])
    with pytest.raises(data.DataError, match=r"could not fetch .*tutorial/data\.zip .*404.*by hand"):  # not served
        download.download(target, mirror=base, sources=FAKE[:1])
    assert _leftovers(target) == []


def test_download_needs_a_data_directory_and_creates_it(monkeypatch, tmp_path):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    with pytest.raises(data.DataError, match=data.DATA_ENV):  # the one rule of data.resolve_data_dir
        download.download(sources=())
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "new" / "data"))
    assert download.download(sources=()) == [] and (tmp_path / "new" / "data").is_dir()


def test_command_line_reports_errors(server, tmp_path, capsys):
    base, _ = server  # serves nothing: the first file gives a 404
    assert corpora.main(["download", "--data-dir", str(tmp_path / "data"), "--mirror", base]) == 1
    assert "error:" in capsys.readouterr().err


@pytest.mark.skipif(not (SHARED / "eng-fra.txt").is_file(), reason=f"real corpora absent: set {data.DATA_ENV}")
def test_official_checksums_match_the_real_files(server, tmp_path):
    """Serve the real files the way their official hosts package them; the built-in SOURCES must accept them."""
    base, www = server
    _serve_zip(www, "tutorial/data.zip", "data/eng-fra.txt", (SHARED / "eng-fra.txt").read_bytes())
    for source in download.SOURCES[1:]:
        _serve_gz(www, source.path, (SHARED / source.target).read_bytes())
    paths = download.download(tmp_path / "data", mirror=base)
    assert len(paths) == 10 and all(
        download.sha256_of(p) == download.sha256_of(SHARED / p.relative_to(tmp_path / "data")) for p in paths)
    assert corpora.load_multi30k(tmp_path / "data", "fr", "en").sizes()["valid"] == 1014
