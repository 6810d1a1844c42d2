"""Offline synth review: compare two cloud assemblies stack by stack, no AWS access needed."""
