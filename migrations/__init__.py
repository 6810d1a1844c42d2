"""One-off data migrations for stages already deployed, run by an operator with AWS credentials."""
