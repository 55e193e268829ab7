"""The compiled fast path: source bytes to the validated `Rating`, without interpreting the spec per record.

Each reader of a `SpecAdapter` is compiled once, on the adapter's second body (not at import, nor on the first: cold
start counts too), into one plain-Python function generated from its spec. It reads the paths, translates the
values with the reference's own converters and tables, checks what `Rating.model_validate` and `check_timing` check
— types, lengths, USCC check character, division code, ID-number check digit, mobile, R1–R5 — with the very
functions of `hub.codes`, and builds the frozen models directly. It only ever *accepts*: whatever it does not prove
acceptable (a refusal, an unusual type, an exception, XML beyond the plain subset) it hands to the reference path
(`SpecAdapter.split`/`translate`, then `Rating.model_validate` and `check_timing`), which decides, so every refusal
keeps its code, path and message.
`tests/unit/test_fastpath.py` checks, over generated inputs of every family, that both paths agree.

`layout` restates what each model field takes, `codegen` generates a reader's function, `subsets` reads the plain
XML and form bodies, `adapter` runs it all per body. `connectors.normalize` imports this package only when it
compiles, so a cold start never loads it.
"""

from __future__ import annotations

from connectors.fastpath.adapter import FastAdapter, fast_adapter

__all__ = ["FastAdapter", "fast_adapter"]
