"""The data keys on the real PostgreSQL: the SQL adapter of the DataKeyStore port, and KEK rotation
(`timbre keys rotate`) on a schema of this test's own, so other test runs' keys are never touched."""

from __future__ import annotations

import json
import os
import uuid

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kit.crypto import KekRing, UnknownKek, new_data_key
from kit.crypto.rotation import rewrap_all, stale_count
from kit.crypto.sql import SqlDataKeys, data_keys_table

pytestmark = pytest.mark.integration


@pytest.fixture
def table(engine):
    """A data_keys table in a schema of its own, dropped afterwards."""
    schema = f"keys_{uuid.uuid4().hex[:10]}"
    metadata = sa.MetaData(schema=schema)
    table = data_keys_table(metadata)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        metadata.create_all(conn)
    yield table
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def stored(engine, table, ring: KekRing, tenant: str, count: int) -> dict[str, bytes]:
    """`count` voices' keys wrapped under `ring`; their plaintext keys by voice id."""
    keys = {}
    with engine.begin() as conn:
        repo = SqlDataKeys(conn, table)
        for _ in range(count):
            data_key = new_data_key(str(uuid.uuid4()))
            repo.add_data_key(ring.wrap(data_key, tenant))
            keys[data_key.voice_id] = data_key.key
    return keys


def test_a_voice_keeps_its_first_key_and_loses_it_on_delete(engine, table):
    ring = KekRing("k1", {"k1": os.urandom(32)})
    first, second = new_data_key("v"), new_data_key("v")
    with engine.begin() as conn:
        repo = SqlDataKeys(conn, table)
        assert repo.data_key("v") is None
        kept = repo.add_data_key(ring.wrap(first, "t"))
        assert repo.add_data_key(ring.wrap(second, "t")) == kept  # a concurrent writer's key wins
        assert ring.unwrap(repo.data_key("v")).key == first.key
        assert repo.delete_data_key("v") and not repo.delete_data_key("v")
        assert repo.data_key("v") is None


def test_rotation_rewraps_every_key_in_batches_and_the_old_kek_can_go(engine, table):
    old, new = os.urandom(32), os.urandom(32)
    keys = stored(engine, table, KekRing("old", {"old": old}), "t", 7)
    rotating = KekRing("new", {"new": new, "old": old})

    done = rewrap_all(engine, table, rotating, batch=3)

    assert (done.rewrapped, done.remaining) == (7, 0)
    assert stale_count(engine, table, "new") == 0
    after = KekRing("new", {"new": new})
    with engine.connect() as conn:
        repo = SqlDataKeys(conn, table)
        assert {v: after.unwrap(repo.data_key(v)).key for v in keys} == keys
    assert rewrap_all(engine, table, rotating).rewrapped == 0  # nothing left to do


def test_a_key_under_an_unknown_kek_stops_the_rotation_with_its_name(engine, table):
    stored(engine, table, KekRing("lost", {"lost": os.urandom(32)}), "t", 1)
    with pytest.raises(UnknownKek, match="'lost'"):
        rewrap_all(engine, table, KekRing("new", {"new": os.urandom(32)}))


def test_the_cli_rotates_both_services_keys(engine, table, monkeypatch):
    from services.embedding.storage import tables as embedding_tables
    from services.synthesis.storage import tables as synthesis_tables

    old, new = os.urandom(32), os.urandom(32)
    keys = stored(engine, table, KekRing("old", {"old": old}), "t", 2)
    monkeypatch.setattr(embedding_tables, "data_keys", table)  # this test's table stands in for both schemas'
    monkeypatch.setattr(synthesis_tables, "data_keys", table)
    from cli.keys import keys as keys_command

    env = {"TIMBRE_DATA_KEK": new.hex(), "TIMBRE_DATA_KEK_ID": "new", "TIMBRE_DATA_KEKS_RETIRED": f"old:{old.hex()}"}
    checked = CliRunner().invoke(keys_command, ["rotate", "--check"], env=env)
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.output)["embedding"] == {"remaining": 2}

    result = CliRunner().invoke(keys_command, ["rotate", "--batch", "1"], env=env)

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["kek_id"] == "new" and report["embedding"] == {"rewrapped": 2, "remaining": 0}
    assert new.hex() not in result.output and old.hex() not in result.output
    with engine.connect() as conn:
        repo = SqlDataKeys(conn, table)
        assert {v: KekRing("new", {"new": new}).unwrap(repo.data_key(v)).key for v in keys} == keys

    unknown = CliRunner().invoke(keys_command, ["rotate"], env={**env, "TIMBRE_DATA_KEKS_RETIRED": ""})
    assert unknown.exit_code == 0  # everything is under "new" already: nothing needs the old KEK
