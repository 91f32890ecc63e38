"""The `assistant` command: index an article, ask it questions, serve the chat page, evaluate on SQuAD."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .errors import ArticleError, AssistantError
from .question import DEFAULT_K, MAX_K

FORMATS = "news page (.html), PDF, Word (.docx), Markdown or text"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; AssistantError becomes one line on stderr and exit status 2."""
    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging(quiet=getattr(args, "json", False))
    try:
        return args.run(args) or 0
    except AssistantError as e:
        print(f"assistant: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def configure_logging(*, quiet: bool = False) -> None:
    """The engine's messages ("indexing ...", warnings) as "assistant: ..." lines on stderr; warnings only when
    quiet (--json: stdout holds one JSON object, and stderr only what went wrong)."""
    logger = logging.getLogger("assistant")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("assistant: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Answer questions about a news article by quoting it (offline, no LLM).",
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="build (or refresh) the index of an article")
    p.add_argument("article", nargs="?", type=Path, help=f"{FORMATS} file (default: the bundled article)")
    p.add_argument(
        "--index", type=Path, metavar="DIR", help="index folder (default: ARTICLE's name + .index, beside it)"
    )
    p.add_argument("--model", metavar="M", help="sentence-transformers model name or folder")
    p.set_defaults(run=_index)

    p = sub.add_parser(
        "ask",
        help="ask a question about the article",
        description="Ask a question; the reply quotes the paragraphs that answer it, or says the article does not.",
    )
    p.add_argument("question", help='the question, in quotes: "what exercises did Japan join"')
    where = p.add_mutually_exclusive_group()
    where.add_argument("--all", action="store_true",
                       help="ask the archive: every article in the library (each quote names its article)")  # fmt: skip
    where.add_argument("--scope", action="append", metavar="ID",
                       help="ask the archive, but only these articles of the library (repeatable)")  # fmt: skip
    where.add_argument("--index", type=Path, metavar="DIR", help="a built index folder")
    where.add_argument(
        "--article",
        metavar="FILE|URL|ID",
        help=f"the article to ask: a {FORMATS} file (indexed beside it on first use), an http(s) URL (fetched "
        "and kept in the library), or the id of an article in the library (assistant list); default: the bundled one",
    )
    p.add_argument("--model", metavar="M", help="model for --article FILE (default: all-MiniLM-L6-v2)")
    p.add_argument("--library", type=Path, metavar="DIR", help="the library folder (default: index/library)")
    p.add_argument("-k", type=int, default=DEFAULT_K, metavar="N",
                   help=f"passages to quote, 1-{MAX_K} (default {DEFAULT_K})")  # fmt: skip
    p.add_argument("--history", action="append", default=[], metavar="Q", help="an earlier question (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    _engine_option(p)
    p.set_defaults(run=_ask)

    p = sub.add_parser("add", help="add an article to the library: a file, a folder of them, or an http(s) URL")
    p.add_argument("source", metavar="FILE|DIR|URL",
                   help=f"a {FORMATS} file, a folder (every such file under it, at any depth), or a URL")  # fmt: skip
    p.add_argument("--library", type=Path, metavar="DIR", help="the library folder (default: index/library)")
    _engine_option(p)
    p.add_argument("--json", action="store_true", help="print the article's entry as JSON")
    p.set_defaults(run=_add)

    p = sub.add_parser("list", help="list the articles in the library")
    p.add_argument("--library", type=Path, metavar="DIR", help="the library folder (default: index/library)")
    p.add_argument("--json", action="store_true", help="print the entries as JSON")
    p.set_defaults(run=_list)

    p = sub.add_parser("serve", help="serve the chat page and the JSON API (same as python ui.py)")
    _serve_options(p)
    p.set_defaults(run=_serve)

    p = sub.add_parser("eval", help="measure retrieval and answers on a SQuAD-style JSONL file")
    p.add_argument("file", type=Path)
    p.add_argument("--limit", type=int, metavar="N", help="use the first N articles only")
    p.add_argument("--baselines", action="store_true", help="add naive dense and BM25-only rows")
    p.add_argument("--json", action="store_true", help="print one JSON object with every figure")
    p.add_argument("--work", type=Path, metavar="DIR", help="keep the indexes here: a second run skips indexing")
    p.set_defaults(run=_eval)
    return parser


def _engine_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", metavar="DIR|URL",
                   help="the archive's engine: a folder (embedded Qdrant) or a Qdrant server's URL (default "
                   "$ASSISTANT_ENGINE, else LIBRARY/.archive)")  # fmt: skip


def _serve_options(p: argparse.ArgumentParser) -> None:
    import os

    from .server import HOST, PORT

    p.add_argument("--article", type=Path, metavar="FILE", help="article to chat about (default: the bundled one)")
    p.add_argument("--index", type=Path, metavar="DIR", help="index folder (default: beside the article)")
    p.add_argument("--model", metavar="M", help="sentence-transformers model name or folder")
    p.add_argument("--host", default=HOST, help=f"address to bind (default {HOST}: this machine only)")
    p.add_argument("--port", type=int, default=PORT, help=f"port (default {PORT})")
    p.add_argument("--library", type=Path, metavar="DIR", help="folder of added articles (default: beside the index)")
    p.add_argument("--allow-private-urls", action="store_true",
                   help="let users fetch links on this machine or its private network (for tests only)")  # fmt: skip
    p.add_argument("--api-key", metavar="KEY", default=os.environ.get("ASSISTANT_API_KEY") or None,
                   help="require 'Authorization: Bearer KEY' on /api, /v1 (default $ASSISTANT_API_KEY)")  # fmt: skip
    _engine_option(p)


def _index(args) -> None:
    from . import store
    from .api import DEFAULT_ARTICLE, Assistant

    article = args.article or DEFAULT_ARTICLE
    bot = Assistant.from_article(article, args.index, args.model, progress=True)
    counts = bot.index.manifest["counts"]
    folder = args.index or store.default_index_dir(article)
    print(f"{folder}: {counts['paragraphs']} paragraphs, {counts['passages']} distinct passages, "
          f"{counts['sentences']} sentences, model {bot.index.manifest['model']}")  # fmt: skip


def _ask(args) -> None:
    from .api import Assistant
    from .question import ARTICLE_ID

    source = args.article
    if args.all or args.scope:
        from .archive import Archive

        bot = Archive(_library(args), args.engine)
        answer = bot.ask(args.question, history=args.history, k=args.k, scope="all" if args.all else args.scope)
        print(json.dumps(answer.to_dict(), ensure_ascii=False) if args.json else answer.text)
        return
    if args.index:
        bot = Assistant.load(args.index)
    elif source and (_is_url(source) or (ARTICLE_ID.fullmatch(source) and not Path(source).exists())):
        library = _library(args)
        article_id = library.add_url(source)[0].id if _is_url(source) else source
        library.wait(article_id)
        bot = library.get(article_id)
    else:
        bot = Assistant.from_article(source, model=args.model, progress=not args.json)
    answer = bot.ask(args.question, history=args.history, k=args.k)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        print(answer.text)


def _add(args) -> None:
    library = _library(args)
    if not _is_url(args.source) and Path(args.source).is_dir():
        return _add_folder(library, args)
    if _is_url(args.source):
        entry, new = library.add_url(args.source)
    else:
        path = Path(args.source)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ArticleError(f"{path} cannot be read ({e.strerror}): give the path of an article file") from None
        entry, new = library.add(data, path.name)
    library.wait(entry.id)
    entry = library.entry(entry.id)
    if args.json:
        print(json.dumps(entry.model_dump(mode="json"), ensure_ascii=False))
        return
    said = "added" if new else "already in the library"
    print(f"{said}: {entry.id}  {entry.title or entry.name}  ({entry.format}, {entry.paragraphs} paragraphs)")
    print(f'ask it: assistant ask "..." --article {entry.id}')


def _add_folder(library, args) -> int:
    """Every article under a folder, into the library and the archive's engine; 1 if any file could not be added."""
    from .archive import Archive, add_folder

    report = add_folder(Archive(library, args.engine), Path(args.source), progress=not args.json)
    if args.json:
        print(json.dumps({"added": report.added, "skipped": report.skipped,
                          "failed": [{"file": str(p), "error": e} for p, e in report.failed]}))  # fmt: skip
    else:
        print(f"added {len(report.added)}, already there {len(report.skipped)}, could not add {len(report.failed)}")
        for path, error in report.failed:
            print(f"  {path}: {error}")
        print('ask them all: assistant ask --all "..."')
    return 1 if report.failed else 0


def _list(args) -> None:
    entries = _library(args).entries()
    if args.json:
        print(json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False))
        return
    for e in entries:
        when = e.date or "-"
        print(f"{e.id}  {when:<10}  {e.format:<8}  {e.paragraphs:>4} ¶  {e.title or e.name}"
              + ("  (default)" if e.default else ""))  # fmt: skip


def _library(args):
    """The library of the bundled article (or --library DIR), showing indexing progress on stderr."""
    from .api import DEFAULT_ARTICLE, Assistant
    from .library import Library, default_folder

    default = Assistant.from_article(DEFAULT_ARTICLE)
    return Library(default, args.library or default_folder(default.index_dir), progress_bars=not args.json)


def _is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def _serve(args) -> None:
    from .server.serve import serve

    serve(article=args.article, index_dir=args.index, model=args.model, host=args.host, port=args.port,
          library=args.library, allow_private_urls=args.allow_private_urls, api_key=args.api_key,
          engine=args.engine)  # fmt: skip


def _eval(args) -> None:
    from .evaluate import run

    run(args.file, limit=args.limit, baselines=args.baselines, as_json=args.json, work=args.work)
