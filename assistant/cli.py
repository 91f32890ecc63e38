"""The `assistant` command: index an article, ask it questions, serve the chat page, evaluate on SQuAD."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .errors import AssistantError
from .question import DEFAULT_K, MAX_K


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
    p.add_argument("article", nargs="?", type=Path, help="UTF-8 text or Markdown file (default: the bundled article)")
    p.add_argument(
        "--index", type=Path, metavar="DIR", help="index folder (default: ARTICLE's name + .index, beside it)"
    )
    p.add_argument("--model", metavar="M", help="sentence-transformers model name or folder")
    p.set_defaults(run=_index)

    p = sub.add_parser("ask", help="ask a question about the article")
    p.add_argument("question")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--index", type=Path, metavar="DIR", help="a built index folder")
    where.add_argument("--article", type=Path, metavar="FILE", help="an article (indexed on first use)")
    p.add_argument("--model", metavar="M", help="model for --article (default: all-MiniLM-L6-v2)")
    p.add_argument("-k", type=int, default=DEFAULT_K, metavar="N",
                   help=f"passages to quote, 1-{MAX_K} (default {DEFAULT_K})")  # fmt: skip
    p.add_argument("--history", action="append", default=[], metavar="Q", help="an earlier question (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    p.set_defaults(run=_ask)

    p = sub.add_parser("serve", help="serve the chat page and the JSON API (same as python ui.py)")
    _serve_options(p)
    p.set_defaults(run=_serve)

    p = sub.add_parser("eval", help="measure retrieval and answers on a SQuAD-style JSONL file")
    p.add_argument("file", type=Path)
    p.add_argument("--limit", type=int, metavar="N", help="use the first N articles only")
    p.add_argument("--baselines", action="store_true", help="add naive dense and BM25-only rows")
    p.add_argument("--json", action="store_true", help="print one JSON object with every figure")
    p.set_defaults(run=_eval)
    return parser


def _serve_options(p: argparse.ArgumentParser) -> None:
    from .server import HOST, PORT

    p.add_argument("--article", type=Path, metavar="FILE", help="article to chat about (default: the bundled one)")
    p.add_argument("--index", type=Path, metavar="DIR", help="index folder (default: beside the article)")
    p.add_argument("--model", metavar="M", help="sentence-transformers model name or folder")
    p.add_argument("--host", default=HOST, help=f"address to bind (default {HOST}: this machine only)")
    p.add_argument("--port", type=int, default=PORT, help=f"port (default {PORT})")


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

    if args.index:
        bot = Assistant.load(args.index)
    else:
        bot = Assistant.from_article(args.article, model=args.model, progress=not args.json)
    answer = bot.ask(args.question, history=args.history, k=args.k)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        print(answer.text)


def _serve(args) -> None:
    from .server.serve import serve

    serve(article=args.article, index_dir=args.index, model=args.model, host=args.host, port=args.port)


def _eval(args) -> None:
    from .evaluate import run

    run(args.file, limit=args.limit, baselines=args.baselines, as_json=args.json)
