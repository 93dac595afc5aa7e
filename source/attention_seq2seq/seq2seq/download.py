"""Fetching the real corpora (Tatoeba ``eng-fra.txt`` and Multi30k) from their official sources, sha256 checked.

Command line (in :func:`seq2seq.corpora.main`)::

    python -m seq2seq.corpora download --data-dir DIR    # fetch eng-fra.txt and multi30k/ (sha256 checked)

Every file's sha256 is fixed in :data:`SOURCES` (the data folder's ``SOURCES.md`` records them), so a corrupted
or changed download is refused. :func:`seq2seq.corpora.load_tatoeba` and :func:`seq2seq.corpora.load_multi30k` read the
files from the same data directory (:func:`seq2seq.data.resolve_data_dir`).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seq2seq.data import DATA_ENV, DataError, resolve_data_dir


@dataclass(frozen=True)
class Source:
    """One corpus file: where it goes under the data directory, where it comes from, and its sha256."""

    target: str                 # relative path under the data directory
    base: str                   # default host; download(mirror=...) replaces it
    path: str                   # path of the remote file under ``base``
    sha256: str                 # of the final (extracted) file, from SOURCES.md
    member: str | None = None   # for a zip: the member to extract; a .gz remote file is gunzipped


_PYTORCH = "https://download.pytorch.org"
_MULTI30K = "https://raw.githubusercontent.com/multi30k/dataset/a3d2e0d26b56f3846f66a952536ffed4e401d05a"
_MULTI30K_SHA256 = {
    "train.de": "2c2b73fd2b548fbcde3a875e0a78d6ee94d498bfdee6bd3eae3945779e9ddf72",
    "train.en": "460a15fbd157e34a7a9957ee388c1ca247fe47af3ef25fb50442af6c274e0fc6",
    "train.fr": "5925a3c18f1587b6b54b87743106e6e8ab93618edb6f65d19eac0621f853a10d",
    "val.de": "660e09eb7e1da2f856ea13ee5ad3cf6d36b3d5b0b733c857e94c5747a3dfc660",
    "val.en": "1f2a23d992769b5b3d209b0a10dd0b77c08cceb1f20dfb97ed0aafa49d107227",
    "val.fr": "5304e444d842e962b2dda4d816b70b22a1765b15401642b7ca37a67477e708dc",
    "test_2016_flickr.de": "4be6b5b3236b79c25475c6bb829800a7ce559e9ba7a1f6c2394fe4d40be46d16",
    "test_2016_flickr.en": "399a4382932c1aadd3ceb9bef1008d388a64c76d4ae4e9d4728c6f4301cac182",
    "test_2016_flickr.fr": "cb3160d69b002bb638e66cc7612fcd56cb0af82eadc9c142dedc438afb885ef6",
}
SOURCES: tuple[Source, ...] = (
    Source("eng-fra.txt", _PYTORCH, "tutorial/data.zip",
           "6b0f3decdb78600485b58efb541f5a2ab69ba888742ac04180e013084e40de7c", member="data/eng-fra.txt"),
    *(Source(f"multi30k/{name}", _MULTI30K, f"data/task1/raw/{name}.gz", sha)
      for name, sha in _MULTI30K_SHA256.items()),
)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(data_dir: str | Path | None = None, *, mirror: str | None = None,
             sources: Sequence[Source] = SOURCES, timeout: float = 60.0) -> list[Path]:
    """Fetch the real corpora into ``data_dir`` (default ``$SEQ2SEQ_DATA_DIR``; created if missing; see
    :func:`seq2seq.data.resolve_data_dir`).

    Each file is fetched to a temporary file beside its target, extracted, and its sha256 checked; only then is
    it renamed into place (atomic), so an interrupted or corrupted download leaves nothing half-written behind.
    Files already present with the right sha256 are kept. ``mirror`` replaces every source's host (tests use a
    local server).

    Returns:
        The paths of the files now in place.

    Raises:
        DataError: no data directory given, a file that could not be fetched (the message names its URL and how
            to put the files in place by hand, offline: :func:`offline_help`), a file whose sha256 differs from the
            expected one (nothing is written), or a bad archive.
    """
    root = resolve_data_dir(data_dir, create=True)
    done: list[Path] = []
    for source in sources:
        target = root / source.target
        if target.is_file() and sha256_of(target) == source.sha256:
            done.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        url = f"{(mirror or source.base).rstrip('/')}/{source.path}"
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        os.close(handle)
        fetched = Path(name)
        extracted = fetched.with_suffix(".out")
        try:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response, open(fetched, "wb") as sink:
                    shutil.copyfileobj(response, sink)
            except OSError as error:  # urllib's URLError and HTTPError, timeouts, a refused connection
                raise DataError(f"could not fetch {url} ({error}). {offline_help(root, sources)}") from error
            _extract(fetched, extracted, source, url)
            got = sha256_of(extracted)
            if got != source.sha256:
                raise DataError(f"{url}: sha256 {got} differs from the expected {source.sha256}; the file was "
                                f"not saved (corrupted download, or a changed source)")
            os.replace(extracted, target)
        finally:
            fetched.unlink(missing_ok=True)
            extracted.unlink(missing_ok=True)
        done.append(target)
    return done


def offline_help(root: Path, sources: Sequence[Source] = SOURCES) -> str:
    """How to do without the network: which files to put where by hand (the data directory is found through
    ``$SEQ2SEQ_DATA_DIR``, or ``--data-dir``), with where each comes from."""
    files = "; ".join(f"{root / s.target} (from {s.base}/{s.path}"
                      f"{f', member {s.member}' if s.member else ', gunzipped' if s.path.endswith('.gz') else ''})"
                      for s in sources)
    return (f"Offline, or behind a firewall: fetch them elsewhere and put them in the data directory by hand "
            f"(${DATA_ENV}, or --data-dir): {files}; their sha256 are in seq2seq.download.SOURCES")


def _extract(fetched: Path, out: Path, source: Source, url: str) -> None:
    try:
        if source.member is not None:
            with zipfile.ZipFile(fetched) as archive, archive.open(source.member) as member, open(out, "wb") as sink:
                shutil.copyfileobj(member, sink)
        elif source.path.endswith(".gz"):
            with gzip.open(fetched, "rb") as member, open(out, "wb") as sink:
                shutil.copyfileobj(member, sink)
        else:
            shutil.copyfile(fetched, out)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as error:
        raise DataError(f"{url}: not a readable archive ({type(error).__name__}: {error})") from None
