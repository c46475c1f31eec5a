"""The Docker runtime: task containers (runtime.py) and their command channel, images, engines and pool."""
