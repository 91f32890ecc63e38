"""Turning a question's Ranking into the Answer every surface renders: abstain or quote, the answering sentence of
each quoted passage, and the reply's plain text. No I/O."""

from __future__ import annotations

from .article import Article
from .retrieve import Ranking
from .schema import WEAK_SCORE, Answer, ArticleInfo, Highlight, Passage, split_quotes
from .scoring import CALIBRATION, about_article, answerability, best_sentence, share, threshold

NOT_COVERED = "The article does not answer this question."


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
        start, end = chunk.sentences[best_sentence(ranking, i, calibration)]
        score = ranking.meta_similarity if chunk.metadata else float(belief[i] * answerable)
        passages.append(Passage(paragraph=chunk.paragraph, paragraphs=chunk.paragraphs, text=chunk.text,
                                score=round(score, 4), highlight=Highlight(start=start, end=end,
                                                                           text=chunk.text[start:end])))  # fmt: skip
    return compose(question, passages, abstained, ArticleInfo.of(article))


def compose(question: str, passages: list[Passage], abstained: bool, article: ArticleInfo | None = None) -> Answer:
    """Build the Answer and its plain-text reply: the answering sentence first, then the quotes."""
    if abstained:
        passages = passages[:1]
        lines = [NOT_COVERED]
        if passages:
            lines += ["", "Closest passage (not an answer):", _quote(passages[0])]
    else:
        cited, weaker = split_quotes(tuple(passages))
        lines = [f"{passages[0].highlight.text} ({place(passages[0])})", "", "Quoted from the article:"]
        lines += [_quote(p) for p in cited]
        if weaker:
            lines += ["", "Weaker matches: " + "; ".join(f"{place(p)} (score {p.score:.2f})" for p in weaker)]
    return Answer(question=question, text="\n".join(lines), passages=tuple(passages), abstained=abstained,
                  article=article)


def place(passage: Passage, sep: str = ", ", shown: int = 5) -> str:
    """ "¶8", "¶8, also ¶14", or for a paragraph repeated many times "¶8, also ¶14, ¶20 and 97 more"."""
    others = passage.paragraphs[1:]
    also = ", ".join(f"¶{n}" for n in others[:shown])
    if len(others) > shown:
        also += f" and {len(others) - shown:,} more"
    return f"¶{passage.paragraph}" + (f"{sep}also {also}" if also else "")


def _quote(passage: Passage) -> str:
    return f'{place(passage)} (score {passage.score:.2f}): "{passage.text}"'


__all__ = ["NOT_COVERED", "WEAK_SCORE", "compose", "decide", "place"]
