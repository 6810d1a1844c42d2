"""Runs a synthesised stage (dev by default, STAGE= another) on a laptop: no AWS account, no Docker (see README, make run)."""
