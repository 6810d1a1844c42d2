"""Archon on GCP: Firestore, Pub/Sub and SMTP behind the domain's ports (users.ports)."""
