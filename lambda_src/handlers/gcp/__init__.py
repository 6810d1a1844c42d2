"""Thin Cloud Run functions (functions-framework) entry points over the same domain and routes as
the Lambda handlers; main.py is what the functions' source archive names as their entry file."""
