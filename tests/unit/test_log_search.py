"""The R20 log search itself: it finds the samples' personal data, and it fails on a line that leaks it."""

from __future__ import annotations

import inspect
import io
import logging
from pathlib import Path

from aws_lambda_powertools import Logger

from tests.log_search import LogCapture, leaks, personal_values


def test_the_samples_personal_data_is_collected_from_raw_and_gbk_files_R20(samples_dir: Path) -> None:
    values = {v.value: v for v in personal_values(samples_dir)}
    assert {"13907970001", "13807970002", "13607970003", "13907970004"} <= set(values)  # raters and the applicant
    assert values["360721198501011233"].kind == "id_no"
    assert {values["王五"].kind, values["赵六"].kind} == {"name"}
    assert "赣州某置业有限公司" not in values  # a company rater's name is not personal data
    assert not {"钱七", "李四", "1", "0"} & set(values)  # staff (in the GBK form too) and flags are not raters


def test_a_powertools_line_with_a_sample_phone_fails_the_search_with_its_file_and_line_R20(samples_dir: Path) -> None:
    stream = io.StringIO()
    logger = Logger(service="hcp-hub-log-search-test", stream=stream)
    capture = LogCapture().install()
    try:
        logger.info("reminder sent", extra={"phone": "13907970004"})
        line = inspect.currentframe().f_lineno - 1  # type: ignore[union-attr]
        logging.getLogger("hcp.localcloud").info("a clean line: 139****0004, rating r-1")
    finally:
        capture.uninstall()
    assert "13907970004" in stream.getvalue()  # what Powertools wrote to its stream is what was captured
    found = leaks(capture.snapshot(), personal_values(samples_dir))
    assert len(found) == 1
    assert found[0].startswith(f"{__file__}:{line} (hcp-hub-log-search-test): phone '13907970004'")
    assert "cases/01-completed-no-rating.json" in found[0]


def test_a_name_in_a_std_logging_message_is_found_too_R20(samples_dir: Path) -> None:
    capture = LogCapture().install()
    try:
        logging.getLogger("some.library").warning("rater %s complained", "王五")
    finally:
        capture.uninstall()
    (found,) = leaks(capture.snapshot(), personal_values(samples_dir))
    assert "name '王五' of vertical_system/01-bad-realname.json" in found
