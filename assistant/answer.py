"""Turning a question's Ranking into the Answer every surface renders: abstain or quote, the answering sentence of
each quoted passage, and the reply's plain text. No I/O."""

from __future__ import annotations

from . import spans
from .article import Article, Chunk
from .retrieve import Ranking
from .schema import WEAK_SCORE, Answer, ArticleInfo, Highlight, Passage, Short, split_quotes
from .scoring import CALIBRATION, about_article, answerability, best_sentence, share, threshold

NOT_COVERED = "The article does not answer this question."
NOT_IN_ARCHIVE = "No article in the archive answers this question."


def decide(question: str, ranking: Ranking, article: Article, k: int, calibration: dict = CALIBRATION) -> Answer:
    """Quote the k best passages with their answering sentences, or abstain when the article does not answer.

    A question about the article itself ("Which agency is this from?") is answered from its metadata
    lines, unless the article's content answers it confidently.
    """
    answerable = answerability(ranking, calibration)
    about = about_article(ranking, answerable, calibration)
    order = ranking.metadata + ranking.order if about else ranking.order
    abstained = not about and answerable < threshold(ranking, calibration)
    belief = share(ranking.fused, ranking.content)
    passages = []
    for i in order[:k]:
        chunk = article.chunks[i]
        n = best_sentence(ranking, i, calibration)
        start, end = chunk.sentences[n]
        score = ranking.meta_similarity if chunk.metadata else float(belief[i] * answerable)
        passages.append(Passage(paragraph=chunk.paragraph, paragraphs=chunk.paragraphs, text=chunk.text,
                                score=round(score, 4), highlight=Highlight(start=start, end=end,
                                                                           text=chunk.text[start:end]),
                                short=short_answer(ranking, i, n, chunk, calibration)))  # fmt: skip
    verdict = None
    if passages and not abstained and ranking.query.asked.type == "yesno":
        verdict = spans.verdict(question, frozenset(ranking.query.content[0][0]), passages[0].highlight.text)
    return compose(question, passages, abstained, ArticleInfo.of(article), verdict)


def short_answer(ranking: Ranking, passage: int, sentence: int, chunk: Chunk,
                 calibration: dict = CALIBRATION) -> Short | None:  # fmt: skip
    """The phrase of the passage's answering sentence (its number within the passage) that answers (spans.best);
    none for a yes/no question, or when the sentence offers no phrase."""
    if ranking.parse is None:
        return None
    row = int(ranking.first_sentence[passage]) + sentence
    c = spans.best(ranking.parse, row, chunk.text, frozenset(ranking.query.content[0][0]), ranking.query.asked,
                   calibration)  # fmt: skip
    return None if c is None else Short(start=c.start, end=c.end, text=chunk.text[c.start : c.end])


def compose(question: str, passages: list[Passage], abstained: bool, article: ArticleInfo | None = None,
            verdict: str | None = None, *, archive: bool = False) -> Answer:  # fmt: skip
    """Build the Answer and its plain-text reply: the short answer (or a yes/no question's verdict) and the answering
    sentence first, then the quotes (archive: quoted from several articles, each passage naming its own)."""
    if abstained:
        passages = passages[:1]
        lines = [NOT_IN_ARCHIVE if archive else NOT_COVERED]
        if passages:
            lines += ["", "Closest passage (not an answer):", _quote(passages[0])]
    else:
        cited, weaker = split_quotes(tuple(passages))
        best = passages[0]
        sentence = f"{best.highlight.text} ({place(best)})"
        if verdict:
            lines = [f"{verdict}. The article says: {sentence}"]
        elif best.short is not None:
            lines = [f"Answer: {best.short.text}", sentence]
        else:
            lines = [sentence]
        lines += ["", "Quoted from the archive:" if archive else "Quoted from the article:"]
        lines += [_quote(p) for p in cited]
        if weaker:
            lines += ["", "Weaker matches: " + "; ".join(f"{place(p)} (score {p.score:.2f})" for p in weaker)]
    short = passages[0].short if passages and not abstained else None
    return Answer(question=question, text="\n".join(lines), passages=tuple(passages), abstained=abstained,
                  article=article, short=short, verdict=None if abstained else verdict)


def place(passage: Passage, sep: str = ", ", shown: int = 5) -> str:
    """ "¶8", "¶8, also ¶14", or for a paragraph repeated many times "¶8, also ¶14, ¶20 and 97 more"; a passage
    from the archive names its article first: "Harbour reopens (2025-03-03, Reuters), ¶8"."""
    others = passage.paragraphs[1:]
    also = ", ".join(f"¶{n}" for n in others[:shown])
    if len(others) > shown:
        also += f" and {len(others) - shown:,} more"
    where = f"¶{passage.paragraph}" + (f"{sep}also {also}" if also else "")
    return f"{cite(passage.article)}{sep}{where}" if passage.article is not None else where


def cite(article: ArticleInfo) -> str:
    """An article as a quote names it: its title (or file name), then its date and source when known."""
    name = " ".join((article.title or article.name).split())
    extra = ", ".join(x for x in (article.date, article.source) if x)
    return f"{name} ({extra})" if extra else name


def _quote(passage: Passage) -> str:
    return f'{place(passage)} (score {passage.score:.2f}): "{passage.text}"'


__all__ = ["NOT_COVERED", "NOT_IN_ARCHIVE", "WEAK_SCORE", "cite", "compose", "decide", "place", "short_answer"]
