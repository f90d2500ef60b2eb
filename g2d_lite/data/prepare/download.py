"""Downloads for the preparation scripts: any URL urllib opens (https, or file:// in tests).

Files land under their final name only once complete, so an interrupted download is retried, and
a finished one is never fetched twice. Checking what arrived is the caller's job: it knows which
digest the source publishes (of the archive, or of its decompressed content).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tqdm import tqdm

from g2d_lite.data.cache import BuildError
from g2d_lite.progress import progress_enabled


def fetch(url: str, dest: Path, progress: bool = True, offline: str = "") -> Path:
    """Download ``url`` to ``dest`` unless it is already there; returns ``dest``. A failed
    download removes the folders it made, and its error ends with ``offline`` (the way to go
    on without a connection)."""
    if dest.is_file():
        return dest
    made = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]  # deepest first
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            size = int(response.headers.get("Content-Length") or 0) or None
            hidden = not progress_enabled(progress)
            with tqdm(total=size, unit="B", unit_scale=True, desc=dest.name, disable=hidden) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError, ValueError) as error:
        part.unlink(missing_ok=True)
        for folder in made:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise BuildError(f"could not download {url}: {error}{offline}") from error
    os.replace(part, dest)
    return dest


def extract_flat(archive: Path, pattern: str, dest: Path) -> int:
    """Extract the archive members matching ``pattern`` into ``dest`` by base name only.

    Flattening ignores any path inside the archive, so a hostile member name cannot write
    outside ``dest``. The folder appears in one rename once every member is out.
    """
    tmp = dest.with_name(dest.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    count = 0
    try:
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    if member.isfile() and fnmatch.fnmatch(member.name, pattern):
                        source = tar.extractfile(member)
                        assert source is not None  # regular files always have content
                        (tmp / Path(member.name).name).write_bytes(source.read())
                        count += 1
        elif zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    if not name.endswith("/") and fnmatch.fnmatch(name, pattern):
                        (tmp / Path(name).name).write_bytes(zf.read(name))
                        count += 1
        else:
            raise BuildError(f"{archive} is neither a tar nor a zip archive")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise BuildError(f"could not extract {archive}: {error}") from error
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return count
