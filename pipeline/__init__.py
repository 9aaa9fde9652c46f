"""The steps that join stages: load -> compute -> check -> store."""
