"""Shared settings for the hypothesis fuzz tests, and a count of the cases they ran, printed at the end of the run."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
"""Examples per fuzz test; FUZZ_EXAMPLES=2000 for a longer hunt."""

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",  # the same cases every run unless FUZZ_RANDOM=1
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

ANY_CHAR = st.characters(codec=None, exclude_categories=())
"""Every code point, lone surrogates (Cs), controls (Cc), format (Cf) and unassigned ones included."""

SPECIAL = [
    "\x00", "\x01", "\x07", "\x1b", "\x7f", "\t", "\r", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028",
    "\u2029", "\ud800", "\udfff", "\ud83d", "\u202e", "\u202d", "\u2066", "\u200f", "\u200b", "\u200d", "\ufeff",
    "\u0301", "\u0300\u0301\u0302", "\u20dd", "🚢", "🇯🇵", "👩\u200d👩\u200d👧", "日本", "東京都", "。", "、", "「」",
    "！？", "שלום", "مرحبا", "\u0627\u0644\u064a\u0627\u0628\u0627\u0646", "Ｊａｐａｎ", "ﬁ", "𓀀", "\U0010ffff",
    "\ufffd", "\ufffe", "&amp;", "<script>", "</p>", "**", "# ", "> ", "```", "[x](javascript:alert(1))", "{{7*7}}",
]  # fmt: skip
WORDS = [
    "Japan", "naval", "exercises", "Tokyo", "EU", "defense", "pact", "fighter", "jet", "Britain", "Italy", "U.S.",
    "Mr.", "Dr.", "e.g.", "No.", "1999", "2024", "3.5", "the", "a", "of", "and", "what", "who", "when", "how",
    "many", "did", "Source:", "Reuters", "Canada", "Philippines", "treaty", "signed", "week",
]  # fmt: skip
PUNCT = [".", ". ", "! ", "? ", ", ", "; ", ": ", " - ", "...", '"', "'", "\u201c", "\u201d", "\u2019", "(", ")"]
GAPS = [" ", " ", " ", "  ", "\t", "\n", "\n", "\n\n", "\r\n", "\r\n\r\n", "\n  \n", " \n"]

any_text = st.text(ANY_CHAR, max_size=400)
"""Arbitrary code points."""
hostile_text = st.lists(
    st.one_of(st.sampled_from(SPECIAL), st.sampled_from(WORDS), st.sampled_from(PUNCT), st.sampled_from(GAPS),
              st.text(ANY_CHAR, min_size=1, max_size=4)),
    max_size=120,
).map("".join)  # fmt: skip
"""Words, sentence punctuation, line breaks and the characters that break naive text handling, mixed."""

CASES: Counter[str] = Counter()
"""Fuzz cases run, by what was fuzzed."""
KILLS: Counter[str] = Counter()
"""SIGKILL rounds of the kill-while-indexing tests, by what the killed process was doing."""


def count(what: str) -> None:
    CASES[what] += 1


class _Summary:
    def pytest_terminal_summary(self, terminalreporter):
        if CASES:
            parts = ", ".join(f"{what} {n:,}" for what, n in sorted(CASES.items()))
            terminalreporter.write_line(f"fuzz cases run: {sum(CASES.values()):,} ({parts})")
        if KILLS:
            parts = ", ".join(f"{what} {n}" for what, n in sorted(KILLS.items()))
            terminalreporter.write_line(f"SIGKILL rounds: {sum(KILLS.values())}, killed while {parts}")


@pytest.fixture(scope="session", autouse=True)
def fuzz_summary(request):
    """Prints the fuzz case count after the run (used by the modules that fuzz)."""
    manager = request.config.pluginmanager
    if not manager.has_plugin("fuzz-summary"):
        manager.register(_Summary(), "fuzz-summary")
