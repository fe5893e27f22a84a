"""Schema versioning shared by the table owners: a newer database is refused, not touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbmon.db.connection import open_database
from hbmon.db.cycles import migrate
from hbmon.db.schema import SchemaError, component_version


def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    database = open_database(path)
    migrate(database)
    database.execute_sql("UPDATE schema_versions SET version = 99")
    with pytest.raises(SchemaError, match="newer"):
        migrate(database)
    assert component_version(database, "exporter") == 99
    database.close()
