"""Audience growth tracker."""
