"""The context object Lambda passes a handler, as the tests that call handlers in-process build it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass
class LambdaContext:
    """The four attributes Powertools' Logger and our handlers read; a fresh request id each unless given."""

    function_name: str = "hcp-hub-Function"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    region: str = "cn-north-1"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws-cn:lambda:{self.region}:123456789012:function:{self.function_name}"

