"""Testing aids shipped with the plugin: a scripted OpenAI-compatible LLM server."""
