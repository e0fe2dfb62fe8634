"""Question to passages: hybrid retrieval, follow-up questions, filters."""
