"""The original design's handler code (the design Archon started from, its "Serverless Architecture" section),
made to run, as the warm-overhead baseline. Kept as written (structure, calls, error handling)
apart from what it needs to run at all:

- the imports it uses but never makes (os, time, datetime);
- `_handle_user_query`, which it calls but never defines: one GetItem by user_id, as its table's
  key schema implies;
- the Lambda entry points its serverless.yml names (`api_handler`, `notification_handler`):
  asyncio.run over its async methods; the notification handler, which the design names but does
  not write, sends each record's welcome email with one SES call and nothing else.

Its flaws are the original's, kept on purpose (user ids from the clock, no email uniqueness, no
validation beyond presence, str(e) in 500s): this is only a cost baseline.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime
from typing import Any, Dict

import boto3


class ServerlessEventProcessor:
    """Serverless event processing architecture."""

    def __init__(self):
        self.dynamodb = boto3.resource('dynamodb')
        self.sqs = boto3.client('sqs')
        self.sns = boto3.client('sns')
        self.s3 = boto3.client('s3')

    async def process_api_request(self, event: Dict[str, Any], context: Any) -> Dict[str, Any]:
        """AWS Lambda handler for API requests."""
        try:
            # Parse request
            body = json.loads(event.get('body') or '{}')
            path = event.get('path', '')
            method = event.get('httpMethod', '')

            # Route to appropriate handler
            if path.startswith('/users') and method == 'POST':
                result = await self._handle_user_creation(body)
            elif path.startswith('/users') and method == 'GET':
                result = await self._handle_user_query(event.get('pathParameters', {}))
            else:
                return {
                    'statusCode': 404,
                    'body': json.dumps({'error': 'Not found'})
                }

            return {
                'statusCode': 200,
                'headers': {
                    'Content-Type': 'application/json',
                    'Access-Control-Allow-Origin': '*'
                },
                'body': json.dumps(result)
            }

        except Exception as e:
            return {
                'statusCode': 500,
                'body': json.dumps({'error': str(e)})
            }

    async def _handle_user_creation(self, user_data: Dict[str, Any]) -> Dict[str, Any]:
        """Handle user creation in serverless environment."""
        # Validate input
        if not user_data.get('email') or not user_data.get('name'):
            raise ValueError("Email and name are required")

        # Store in DynamoDB
        table = self.dynamodb.Table('users')
        user_id = f"user_{int(time.time())}"

        table.put_item(Item={
            'user_id': user_id,
            'name': user_data['name'],
            'email': user_data['email'],
            'created_at': datetime.utcnow().isoformat()
        })

        # Send welcome email via SQS
        await self._send_async_notification(user_id, user_data['email'])

        return {'user_id': user_id, 'status': 'created'}

    async def _handle_user_query(self, path_parameters: Dict[str, Any]) -> Dict[str, Any]:
        # Not in the original; the least it must do.
        table = self.dynamodb.Table('users')
        return table.get_item(Key={'user_id': (path_parameters or {}).get('user_id', '')}).get('Item') or {}

    async def _send_async_notification(self, user_id: str, email: str):
        """Send asynchronous notification via SQS."""
        message = {
            'type': 'welcome_email',
            'user_id': user_id,
            'email': email
        }

        self.sqs.send_message(
            QueueUrl=os.environ['NOTIFICATION_QUEUE_URL'],
            MessageBody=json.dumps(message)
        )


processor = ServerlessEventProcessor()
ses = boto3.client('ses')


def api_handler(event: Dict[str, Any], context: Any) -> Dict[str, Any]:
    return asyncio.run(processor.process_api_request(event, context))


def notification_handler(event: Dict[str, Any], context: Any) -> None:
    for record in event['Records']:
        message = json.loads(record['body'])
        ses.send_email(
            Source=os.environ['SENDER_ADDRESS'],
            Destination={'ToAddresses': [message['email']]},
            Message={'Subject': {'Data': 'Welcome'}, 'Body': {'Text': {'Data': 'Welcome to Archon'}}},
        )
