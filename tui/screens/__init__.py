"""Screens of the chat UI: the article view and the help screen."""
