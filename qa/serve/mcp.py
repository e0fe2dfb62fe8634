"""`citeqa mcp`: the corpus as an MCP server over stdio, with the official SDK (mcp 2, `MCPServer`).

Tools: `ask` (the answer with its citations, each with the article id, the sentence and its character offsets),
`search` (the passages), `list_articles` and `read_article` (the stored text the offsets point into). They call
the same `Service` as the HTTP API, so inputs are checked by the CLI's rules and a refusal is the CLI's one-line
message as a tool error. stdout is the protocol's: everything citeqa reports goes to stderr.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from qa.errors import CiteqaError
from qa.serve.service import MAX_PAGE, AskRequest, Service
from qa.text.questions import MAX_QUESTION_CHARS

INSTRUCTIONS = (
    "Answers questions from a local folder of articles with the articles' own sentences, each cited with its "
    "article id and character offsets, or says that the articles do not say. Quote the cited sentences; never "
    "add facts they do not state."
)

# The tools' arguments, at module level: the SDK resolves the (postponed) annotations in the module's namespace.
Question = Annotated[str, Field(description="The question, in plain English.", max_length=MAX_QUESTION_CHARS)]
Passages = Annotated[int, Field(description="Passages to retrieve.", ge=1, le=100)]
Mode = Annotated[str, Field(description="Retrieval: hybrid, dense or bm25.")]
Since = Annotated[str | None, Field(description="Only articles dated on or after YYYY[-MM[-DD]].")]
Until = Annotated[str | None, Field(description="Only articles dated on or before YYYY[-MM[-DD]].")]
Offset = Annotated[int, Field(ge=0)]
Limit = Annotated[int, Field(ge=1, le=MAX_PAGE)]
ArticleId = Annotated[str, Field(max_length=1000)]


def create_server(service: Service):
    """An MCPServer whose tools answer from `service` (started by the caller)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("citeqa", instructions=INSTRUCTIONS, log_level="WARNING")

    def guarded(call, *args):
        try:
            return call(*args)
        except CiteqaError as exc:
            raise ToolError(str(exc)) from None

    @server.tool(structured_output=True)
    def ask(
        question: Question, k: Passages = 5, mode: Mode = "hybrid", since: Since = None, until: Until = None
    ) -> dict[str, Any]:
        """Answer from the articles: the answer text, whether the articles answer at all, and every cited sentence
        with its article id, title, date, path and character offsets into the article's stored text."""
        return guarded(service.ask, AskRequest(question, k, mode, since, until))

    @server.tool(structured_output=True)
    def search(
        question: Question, k: Passages = 5, mode: Mode = "hybrid", since: Since = None, until: Until = None
    ) -> dict[str, Any]:
        """The passages retrieved for a question, best first, without choosing an answer."""
        return guarded(service.search, AskRequest(question, k, mode, since, until))

    @server.tool(structured_output=True)
    def list_articles(offset: Offset = 0, limit: Limit = 50) -> dict[str, Any]:
        """The indexed articles (id, date, source, author, title, url, path), by id, a page at a time."""
        return guarded(service.articles, offset, limit)

    @server.tool(structured_output=True)
    def read_article(article_id: ArticleId) -> dict[str, Any]:
        """One article's metadata and stored text: a citation's start and end offsets point into this text."""
        return guarded(service.article, article_id)

    return server
