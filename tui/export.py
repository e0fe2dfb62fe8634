"""A conversation as Markdown: each answer with its citations as footnotes (article, date, sentence)."""

from __future__ import annotations

from collections.abc import Sequence

from qa.answer import Answer


def conversation_markdown(answers: Sequence[Answer], corpus: str) -> str:
    lines = ["# citeqa conversation", "", f"Corpus: `{corpus}`", ""]
    for number, answer in enumerate(answers, 1):
        lines += [f"## {number}. {answer.question}", ""]
        text = answer.text
        for citation in answer.citations:
            text = text.replace(f" [{citation.n}]", f"[^{number}-{citation.n}]", 1)
        lines += [text, ""]
        for citation in answer.citations:
            dated = f", {citation.date}" if citation.date else ""
            sentence = " ".join(citation.sentence.split())
            copies = f" Also in: {', '.join(citation.also_in)}." if citation.also_in else ""
            lines.append(
                f"[^{number}-{citation.n}]: {citation.title}{dated} ({citation.article_id}, line {citation.line}): "
                f"“{sentence}”{copies}"
            )
        lines.append("")
    return "\n".join(lines)
