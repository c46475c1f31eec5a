"""Agents installed from their registries (npm): Claude Code, Codex, ..."""
