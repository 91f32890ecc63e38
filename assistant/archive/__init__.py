"""Archive mode: questions answered from every article in the library at once (search.py), the passage store on
Qdrant, embedded or a server (engine.py), and adding a folder of articles (ingest.py)."""

from .engine import Hit, PassageStore
from .ingest import Report, add_folder, article_files
from .search import ARTICLES, CANDIDATES, ENGINE_VARIABLE, Archive, engine_location, merge

__all__ = ["ARTICLES", "CANDIDATES", "ENGINE_VARIABLE", "Archive", "Hit", "PassageStore", "Report", "add_folder",
           "article_files", "engine_location", "merge"]  # fmt: skip
