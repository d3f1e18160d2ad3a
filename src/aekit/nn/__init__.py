"""The building blocks behind every aekit model, one choice per module."""
