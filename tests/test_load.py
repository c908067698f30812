"""Thousands of requests at concurrency 16 against gunicorn as the Procfile starts it: all answered right."""

import pytest

from bench import load


@pytest.mark.slow
def test_two_thousand_requests_at_concurrency_16_are_all_answered_right():
    result = load.run(requests=2000, concurrency=16)
    assert result["requests"] == 2000
    assert result["errors"] == []
    assert result["wrong"] == []
