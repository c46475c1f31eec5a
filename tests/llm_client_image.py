"""A base image with a small real CLI agent: the `openai` package and `llm-client`, a script using it.

The wheels come from PyPI to a host-side wheelhouse once (the host's own openai version,
for Python 3.13), and install into the image with no network, as the OpenHands layer does.
Task images built on top of it (suite.yaml `image.base`) can run `--agent command` with
`--ohbench-command "llm-client {prompt_file}"`.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import docker
from filelock import FileLock

from pytest_ohbench.agents.openhands.install import PLATFORMS, PYTHON
from pytest_ohbench.core.machine import cache_dir
from pytest_ohbench.runtime.docker.images import build_cached

REPOSITORY = "ohbench-test/llm-client"
# The CLI agent: asks the model what to run, runs it, shows it the output, until the model
# says DONE. Odd steps stream (without asking for the usage chunk: the gateway meters anyway).
CLIENT = '''\
#!/opt/llm-client/bin/python
"""llm-client PROMPT_FILE: a tiny CLI coding agent on the openai package."""
import os
import subprocess
import sys

from openai import OpenAI

client = OpenAI()  # OPENAI_API_KEY and OPENAI_BASE_URL come from the environment
model = os.environ["LLM_MODEL"]
messages = [{"role": "user", "content": open(sys.argv[1]).read()}]
for step in range(50):
    if step % 2:
        chunks = client.chat.completions.create(model=model, messages=messages, stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    else:
        text = client.chat.completions.create(model=model, messages=messages).choices[0].message.content
    if text.strip() == "DONE":
        print("llm-client: done")
        sys.exit(0)
    print(f"llm-client: running {text}", flush=True)
    done = subprocess.run(text, shell=True, capture_output=True, text=True)
    messages += [{"role": "assistant", "content": text}, {"role": "user", "content": done.stdout + done.stderr}]
sys.exit("llm-client: out of steps")
'''
DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY wheels /tmp/llm-client-wheels
COPY llm-client /usr/local/bin/llm-client
RUN python3 -m venv /opt/llm-client \\
 && /opt/llm-client/bin/pip install -q --no-index --find-links /tmp/llm-client-wheels openai \\
 && rm -rf /tmp/llm-client-wheels \\
 && chmod 755 /usr/local/bin/llm-client
"""


def _context() -> Path:
    """The build context: the wheelhouse (downloaded once, under a lock) and the client script."""
    openai_version = version("openai")
    context = cache_dir() / f"llm-client-openai-{openai_version}-cp{PYTHON.replace('.', '')}"
    wheels = context / "wheels"
    context.mkdir(parents=True, exist_ok=True)
    with FileLock(str(context) + ".lock"):
        if not (context / ".complete").is_file():
            command = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--python-version", PYTHON,
                       *(f"--platform={p}" for p in PLATFORMS), "-d", str(wheels), f"openai=={openai_version}"]
            subprocess.run(command, check=True, capture_output=True, text=True)
            (context / ".complete").write_text(openai_version + "\n")
        (context / "llm-client").write_text(CLIENT)
        (context / "Dockerfile").write_text(DOCKERFILE)
    return context


def llm_client_image(client: docker.DockerClient, base: str) -> str:
    """`base` plus the openai package and llm-client, built once per content hash."""
    context = _context()
    return build_cached(client, context, context / "Dockerfile", {"BASE_IMAGE": base}, REPOSITORY).name
