"""Quizzes: definitions validated on save, results computed on the server from the answers."""
