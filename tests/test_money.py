import pytest

from app.money import yuan


@pytest.mark.parametrize(
    ("fen", "grouped", "text"),
    [
        (0, False, "0.00"),
        (5, False, "0.05"),
        (2550, False, "25.50"),
        (-2550, False, "-25.50"),
        (128050, True, "1,280.50"),
        (-100000001, True, "-1,000,000.01"),
    ],
)
def test_yuan_is_exact(fen: int, grouped: bool, text: str) -> None:
    assert yuan(fen, grouped=grouped) == text
