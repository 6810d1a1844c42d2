"""The AWS side of Archon: one construct per logical unit, assembled per (stage, region)."""
