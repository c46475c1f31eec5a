"""Agents whose program comes in on read-only mounts (agent_tree.py): the task image is used as it is."""

from __future__ import annotations

import docker

from pytest_ohbench.agents.agent_tree import TreeError
from pytest_ohbench.agents.base import AgentSettings, BaseAgent
from pytest_ohbench.agents.openhands.source import SourceError
from pytest_ohbench.core.errors import HarnessError
from pytest_ohbench.core.outcomes import Outcome


class MountedAgent(BaseAgent):
    """An agent whose tree(s) `volumes` builds on first use and the task container mounts."""

    def __init__(self, settings: AgentSettings) -> None:
        super().__init__(settings)
        self._volumes: dict[str, dict[str, str]] | None = None  # set by prepare_image

    def volumes(self, client: docker.DockerClient) -> dict[str, dict[str, str]]:
        """The agent's read-only tree(s) on this machine, as docker volumes."""
        raise NotImplementedError

    def prepare_image(self, client: docker.DockerClient, image: str) -> str:
        """The task image as it is: the agent comes in on a read-only mount."""
        try:
            self._volumes = self.volumes(client)
        except (TreeError, SourceError) as exc:
            raise HarnessError(Outcome.BUILD_ERROR, str(exc)) from None
        return image

    def container_volumes(self) -> dict[str, dict[str, str]]:
        assert self._volumes is not None, "prepare_image comes first"
        return self._volumes
