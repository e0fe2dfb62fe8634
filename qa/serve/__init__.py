"""citeqa as a local service: an HTTP API (qa.serve.http) and an MCP server (qa.serve.mcp) over one Service."""
