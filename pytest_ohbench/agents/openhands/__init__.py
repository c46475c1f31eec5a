"""OpenHands: the 0.x app (agent.py) and the V1 SDK (sdk.py), their trees, settings and source checkouts."""
