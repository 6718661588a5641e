"""The one vocabulary of error kinds: written as plain words, each one documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

from crawler.errors import REFUSED_OUTRIGHT, RETRYABLE, ErrorKind
from crawler.models import ErrorInfo

README = Path(__file__).resolve().parents[2] / "README.md"


def test_a_kind_is_written_as_its_word() -> None:
    info = ErrorInfo(ErrorKind.TIMEOUT, "slow")
    assert json.dumps(info.to_dict()) == '{"kind": "timeout", "message": "slow"}'
    assert info.kind == "timeout"


def test_the_readme_names_every_kind() -> None:
    paragraph = README.read_text(encoding="utf-8").split("Error kinds:", 1)[1].split("\n\n", 1)[0]
    assert set(re.findall(r"`([a-z_]+)`", paragraph)) >= {kind.value for kind in ErrorKind}


def test_what_is_retried_and_what_is_refused_outright_do_not_overlap() -> None:
    assert RETRYABLE.isdisjoint(REFUSED_OUTRIGHT)
