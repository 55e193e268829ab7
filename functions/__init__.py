"""Lambda entry points: thin on purpose (parse the event, call one service, shape the reply)."""

from functions.edge.lazy_package import defer_init

# Powertools' event_handler/__init__ imports every resolver (AppSync's pulls in asyncio): the functions import
# `event_handler.api_gateway`, and the package's __init__ runs only if a name of its own is asked for.
defer_init("aws_lambda_powertools.event_handler")
