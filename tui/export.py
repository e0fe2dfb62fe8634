"""A conversation as Markdown: each answer with its citations as footnotes (article, date, sentence).

The file is read by people, with `cat` as often as in an editor: article text goes through the terminal's
visible-control rendering as on screen, and every name stays on its line.
"""

from __future__ import annotations

from collections.abc import Sequence

from qa.answer.result import Answer
from qa.present.terminal import printable, printable_line


def conversation_markdown(answers: Sequence[Answer], corpus: str) -> str:
    lines = ["# citeqa conversation", "", f"Corpus: `{printable_line(corpus)}`", ""]
    for number, answer in enumerate(answers, 1):
        lines += [f"## {number}. {printable_line(answer.question)}", ""]
        text = printable(answer.text)
        for citation in answer.citations:
            text = text.replace(f" [{citation.n}]", f"[^{number}-{citation.n}]", 1)
        lines += [text, ""]
        for citation in answer.citations:
            dated = f", {citation.date}" if citation.date else ""
            sentence = printable(" ".join(citation.sentence.split()))
            copies = f" Also in: {printable_line(', '.join(citation.also_in))}." if citation.also_in else ""
            title, article = printable_line(citation.title), printable_line(citation.article_id)
            place = f"{title}{dated} ({article}, line {citation.line})"
            lines.append(f"[^{number}-{citation.n}]: {place}: “{sentence}”{copies}")
        lines.append("")
    return "\n".join(lines)
