"""The chat page: `python ui.py [--article FILE] [--index DIR] [--host H] [--port P] [--model M]`."""

import sys

from assistant.chat import build_app  # noqa: F401  (build_app(assistant) -> gr.Blocks, for tests and embedding)

if __name__ == "__main__":
    from assistant.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))
