"""Adding a folder to the archive: every article file under it (the library's readers), each stored once by its
content hash and then in the engine; a broken file is reported and skipped. Resumable: after a kill, running it
again skips what was finished and redoes what was not (nothing lost, nothing stored twice)."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..article import content_id
from ..errors import AssistantError
from .search import Archive

log = logging.getLogger("assistant")
SUFFIXES = frozenset({".html", ".htm", ".xhtml", ".pdf", ".docx", ".md", ".markdown", ".mdown", ".mkd", ".txt",
                      ".text"})  # fmt: skip
"""The file names looked at (the library reads each by its content; this only keeps images and the like out)."""


@dataclass
class Report:
    """What adding a folder did: ids added, ids already there, and files that could not be read (with why)."""

    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def article_files(folder: Path) -> list[Path]:
    """Every article file under a folder, at any depth, in a stable order; hidden files and folders left out."""
    folder = Path(folder)
    found = []
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if path.is_file() and path.suffix.lower() in SUFFIXES and not any(p.startswith(".") for p in parts):
            found.append(path)
    return sorted(found)


def add_folder(archive: Archive, folder: Path, *, progress: bool = False) -> Report:
    """Add every article under a folder to the library and the engine (progress: one tqdm bar on stderr, the files
    added; each article's own indexing bars and lines are left out, and warnings print above the bar)."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    library = archive.library
    files = article_files(folder)
    report = Report()
    stored = archive.stored()
    with (tqdm(files, desc="adding", unit="file", file=sys.stderr, disable=not progress) as bar,
          logging_redirect_tqdm([log]), _one_bar(library, progress)):  # fmt: skip
        for path in bar:
            try:
                data = path.read_bytes()
                article_id = content_id(data)
                if article_id in stored and article_id in archive.ids():
                    report.skipped.append(article_id)
                    continue
                entry, new = library.add(data, path.name)
                library.wait(entry.id)  # e5 too, one article at a time, as `assistant add FILE` does
                archive.put(entry.id)  # marked stored only now, after every passage is in
            except AssistantError as e:
                report.failed.append((path, str(e)))
                log.warning("skipped %s: %s", path, e)
                continue
            except OSError as e:
                report.failed.append((path, f"cannot be read ({e.strerror})"))
                log.warning("skipped %s: cannot be read (%s)", path, e.strerror)
                continue
            (report.added if new else report.skipped).append(entry.id)
    return report


@contextmanager
def _one_bar(library, progress: bool):
    """For a while, the library's per-article progress bars off and, under a bar of its own, its per-article
    "indexing ..." lines too (warnings still show)."""
    shown, level, library.progress_bars = library.progress_bars, log.level, False
    if progress:
        log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        library.progress_bars = shown
        log.setLevel(level)
