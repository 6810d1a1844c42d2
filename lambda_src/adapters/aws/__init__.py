"""The domain's ports on AWS: DynamoDB for users and the outbox's marks, SES for email."""
