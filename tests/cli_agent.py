"""A tiny CLI agent for `--agent command`: asks the LLM (URL and key from the environment) what
to run, runs it. On the standard library only, so it runs with the image's python3."""

from __future__ import annotations

import shlex

CLI_AGENT = r'''
import json, os, subprocess, sys, urllib.request
prompt = open(sys.argv[1]).read()
body = {"model": os.environ["LLM_MODEL"], "messages": [{"role": "user", "content": prompt}]}
request = urllib.request.Request(os.environ["LLM_BASE_URL"] + "/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["LLM_API_KEY"]})
command = json.loads(urllib.request.urlopen(request, timeout=30).read())["choices"][0]["message"]["content"]
print("running:", command)
sys.exit(subprocess.call(command, shell=True))
'''
# The --ohbench-command template that runs it on the prompt file (braces escaped for format).
CLI_TEMPLATE = "python3 -c " + shlex.quote(CLI_AGENT.replace("{", "{{").replace("}", "}}")) + " {prompt_file}"
