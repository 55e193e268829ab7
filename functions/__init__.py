"""Lambda entry points: thin on purpose (parse the event, call one service, shape the reply)."""

from infra import coldgc

coldgc.pause()  # first, before the imports: the collector rarely runs until the first services are built

from functions.edge.lazy_package import defer_init  # noqa: E402

# Powertools' event_handler/__init__ imports every resolver (AppSync's pulls in asyncio), data_classes/__init__
# every event class: a name is imported from its own submodule, and the __init__ runs only for a name of its own.
defer_init("aws_lambda_powertools.event_handler")
defer_init("aws_lambda_powertools.utilities.data_classes")
