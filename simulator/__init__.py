"""Local stand-ins for the platforms: synthetic audiences (and, later, their HTTP APIs)."""
