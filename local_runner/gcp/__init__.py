"""The service on GCP, locally: the real Firestore and Pub/Sub emulators (Google Cloud SDK
components, Java), the GCP functions in functions-framework, a local OAuth issuer and an SMTP
sink. `make run CLOUD=gcp`."""
