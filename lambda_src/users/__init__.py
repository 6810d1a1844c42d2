"""The users domain: plain Python, no Lambda events, no CDK."""
