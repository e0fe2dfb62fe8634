"""Text for people, shared by the CLI and the chat: terminal-safe text, rendered answers, progress bars."""
