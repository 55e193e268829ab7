"""Where provincial practice differs (which grades are 好评, whether defaults count): settings, not code paths."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from hub.rating import Grade


class ReportSettings(BaseModel):
    """The choices a report was computed with; printed with it so that a figure can be checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    good_grades: Annotated[
        frozenset[Grade], Field(description="好评: the grades 好评率 counts (default 非常满意, 满意)")
    ] = frozenset({Grade.VERY_SATISFIED, Grade.SATISFIED})
    satisfied_grades: Annotated[
        frozenset[Grade], Field(description="满意率: the grades counted as satisfied (default: every grade but 差评)")
    ] = frozenset({Grade.VERY_SATISFIED, Grade.SATISFIED, Grade.BASICALLY_SATISFIED})
    count_default_ratings: Annotated[
        bool,
        Field(description="R6: whether default ratings (默认评价) count in 评价总量 and the rates (they are always "
              "counted apart as well)"),
    ] = True  # fmt: skip
    top_tags: Annotated[int, Field(ge=1, le=14, description="how many bad-rating tags the by_tag view keeps")] = 5
    trend_periods: Annotated[int, Field(ge=1, le=36, description="how many months the trend shows")] = 6
    lowest_share: Annotated[
        float,
        Field(gt=0, le=1, description="staff and windows in this bottom share by 满意率 (at least one) rank lowest; "
              "lowest this period and the one before: flagged lowest_two_periods"),
    ] = 0.1  # fmt: skip
    rank_min_ratings: Annotated[
        int, Field(ge=1, description="a staff member or window is ranked only with at least this many ratings")
    ] = 3
