"""Runs the synthesised dev stage on a laptop: no AWS account, no Docker (see README, make run)."""
