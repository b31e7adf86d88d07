"""Repository behaviour on both databases: migrations, uniqueness, logs by offset, usage dedup, leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from store_migrations import load_migration

from suanli.domain.states import AttemptState
from suanli.store import Conflict, Database, PoolOffer

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def seed(db: Database) -> dict[str, str]:
    with db.transaction() as tx:
        org = tx.tenancy.add_org("acme", "tenant", NOW)
        project = tx.tenancy.add_project(org.id, "default", NOW)
        user = tx.tenancy.add_user("ada", NOW)
        provider = tx.tenancy.add_org("dc1", "provider", NOW)
        site = tx.sites.add_site("dc1-sh", provider.id, "cn-shanghai", NOW)
        tx.sites.offer(site.id, [PoolOffer("gpu", "A100", 8, 2, 64, 512 * 1024)], NOW)
        job = tx.jobs.add(
            org_id=org.id,
            project_id=project.id,
            user_id=user.id,
            name="j",
            spec={"run": "x"},
            retries=1,
            now=NOW,
        )
        pool = tx.sites.pools([site.id])[0]
        attempt = tx.jobs.add_attempt(
            job,
            site_id=site.id,
            pool_id=pool.id,
            accelerator="A100",
            accelerators_per_node=8,
            cpus_per_node=8,
            memory_mib_per_node=1024,
            nodes=[0],
            lease_expires_at=NOW + timedelta(seconds=30),
            created_at=NOW,
        )
        return {"org": org.id, "job": job.id, "attempt": attempt.id, "site": site.id, "pool": pool.id}


def test_migrations_are_idempotent(db: Database) -> None:
    db.migrate()
    with db.transaction() as tx:
        assert tx.tenancy.orgs() == []


def test_unique_names_conflict_and_roll_back(db: Database) -> None:
    with db.transaction() as tx:
        tx.tenancy.add_org("acme", "tenant", NOW)
    with pytest.raises(Conflict), db.transaction() as tx:
        tx.tenancy.add_project(tx.tenancy.orgs()[0].id, "p", NOW)
        tx.tenancy.add_org("acme", "tenant", NOW)
    with db.transaction() as tx:
        assert [o.name for o in tx.tenancy.orgs()] == ["acme"]
        assert tx.tenancy.projects(tx.tenancy.orgs()[0].id) == []  # nothing half-written


def test_datetimes_come_back_aware_utc(db: Database) -> None:
    ids = seed(db)
    with db.transaction() as tx:
        job = tx.jobs.get(ids["job"])
        assert job is not None and job.created_at == NOW and job.created_at.tzinfo is not None


def test_logs_are_read_by_offset_and_resent_chunks_are_not_duplicated(db: Database) -> None:
    ids = seed(db)
    with db.transaction() as tx:
        job, attempt = tx.jobs.get(ids["job"]), tx.jobs.attempt(ids["attempt"])
        assert job is not None and attempt is not None
        tx.jobs.append_log(job, attempt, 0, "hello\n")
        tx.jobs.append_log(job, attempt, 0, "hello\n")  # the agent resent after a lost answer
        tx.jobs.append_log(job, attempt, 6, "wörld\n")
        tx.jobs.append_log(job, attempt, 3, "lo\nwörld\nmore\n")  # overlaps what we have
    with db.transaction() as tx:
        assert tx.jobs.read_log(ids["job"], 0) == ("hello\nwörld\nmore\n", 18)
        assert tx.jobs.read_log(ids["job"], 6) == ("wörld\nmore\n", 18)
        assert tx.jobs.read_log(ids["job"], 18) == ("", 18)


def second_attempt(db: Database, ids: dict[str, str]) -> str:
    """A second attempt of the seeded job, on the same pool (as after a preemption)."""
    with db.transaction() as tx:
        job = tx.jobs.get(ids["job"])
        assert job is not None
        return tx.jobs.add_attempt(
            job,
            site_id=ids["site"],
            pool_id=ids["pool"],
            accelerator="A100",
            accelerators_per_node=8,
            cpus_per_node=8,
            memory_mib_per_node=1024,
            nodes=[0],
            lease_expires_at=NOW + timedelta(seconds=30),
            created_at=NOW,
        ).id


def test_each_attempts_output_is_read_alone_and_says_where_it_begins(db: Database) -> None:
    ids = seed(db)
    ids["attempt2"] = second_attempt(db, ids)
    with db.transaction() as tx:
        job = tx.jobs.get(ids["job"])
        first, second = tx.jobs.attempt(ids["attempt"]), tx.jobs.attempt(ids["attempt2"])
        assert job is not None and first is not None and second is not None
        tx.jobs.append_log(job, first, 0, "step 1\n")
        tx.jobs.append_log(job, second, 0, "resuming\n")
        tx.jobs.append_log(job, second, 0, "resuming\n")  # resent: still one copy, still attempt 2
        tx.jobs.append_log(job, first, 7, "got TERM")  # a lost attempt's last words, sent late
    with db.read() as tx:
        assert tx.jobs.read_log(ids["job"], 0) == ("step 1\nresuming\ngot TERM", 24)
        assert tx.jobs.read_log(ids["job"], 0, attempt=1) == ("step 1\ngot TERM", 24)
        assert tx.jobs.read_log(ids["job"], 0, attempt=2) == ("resuming\n", 16)
        assert tx.jobs.read_log(ids["job"], 16, attempt=2) == ("", 16)  # offsets stay the job's
        assert tx.jobs.read_log(ids["job"], 0, attempt=3) == ("", 0)
        spans = tx.jobs.attempt_logs(ids["job"])
    assert [(s.number, s.offset, s.end, s.site, s.pool) for s in spans] == [
        (1, 0, 24, "dc1-sh", "gpu"),
        (2, 7, 16, "dc1-sh", "gpu"),
    ]


def test_migration_0010_keeps_old_chunks_readable_as_no_attempts_both_ways(db: Database) -> None:
    """Chunks written before 0010 have no attempt: the job's output reads as it did, and no attempt
    claims them; a downgrade drops the column and its index, and the upgrade adds them again."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from sqlalchemy import inspect, text

    migration = load_migration("0010_log_chunk_attempt")
    ids = seed(db)
    with db.transaction() as tx:
        job, attempt = tx.jobs.get(ids["job"]), tx.jobs.attempt(ids["attempt"])
        assert job is not None and attempt is not None
        tx.jobs.append_log(job, attempt, 0, "before\n")
    with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        migration.downgrade()
        columns = {c["name"] for c in inspect(conn).get_columns("log_chunks")}
        assert "attempt" not in columns and {"job_id", "offset", "end", "data"} <= columns
        assert "ix_log_chunks_job_attempt" not in {i["name"] for i in inspect(conn).get_indexes("log_chunks")}
        assert conn.execute(text("SELECT data FROM log_chunks")).scalars().all() == ["before\n"]
        migration.upgrade()
    with db.transaction() as tx:
        assert tx.jobs.read_log(ids["job"], 0) == ("before\n", 7)
        assert tx.jobs.attempt_logs(ids["job"]) == []
        assert tx.jobs.read_log(ids["job"], 0, attempt=1) == ("", 0)
        job, attempt = tx.jobs.get(ids["job"]), tx.jobs.attempt(ids["attempt"])
        assert job is not None and attempt is not None
        tx.jobs.append_log(job, attempt, 7, "after\n")
    with db.read() as tx:
        assert tx.jobs.read_log(ids["job"], 0) == ("before\nafter\n", 13)
        assert [(s.number, s.offset) for s in tx.jobs.attempt_logs(ids["job"])] == [(1, 7)]


def test_migration_0012_indexes_go_and_come_back(db: Database) -> None:
    """0012 adds the indexes metering needs and takes the transfers' `ref` index into a wider one;
    a downgrade gives the old index back, and the records read the same either way."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from sqlalchemy import inspect

    migration = load_migration("0012_usage_and_transfer_indexes")
    ids = seed(db)
    with db.transaction() as tx:
        attempt = tx.jobs.attempt(ids["attempt"])
        assert attempt is not None
        tx.jobs.add_usage(site_id=ids["site"], seq=1, attempt=attempt, now=NOW, wall_seconds=60, cpu_seconds=0,
                          accelerator_seconds=60, started_at=NOW, ended_at=NOW + timedelta(seconds=60))  # fmt: skip

    def indexes(conn: Any) -> set[str]:
        found = set()
        for table in ("usage_records", "ledger_transfers"):
            found |= {str(i["name"]) for i in inspect(conn).get_indexes(table)}
        return found

    new = {"ix_usage_records_attempt_ended", "ix_usage_records_site_reported", "ix_ledger_transfers_ref_kind_at",
           "ix_ledger_transfers_kind_at"}  # fmt: skip
    with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        assert new <= indexes(conn) and "ix_ledger_transfers_ref" not in indexes(conn)
        migration.downgrade()
        assert not new & indexes(conn) and "ix_ledger_transfers_ref" in indexes(conn)
        migration.upgrade()
        assert new <= indexes(conn) and "ix_ledger_transfers_ref" not in indexes(conn)
    with db.read() as tx:
        assert [u.seq for u in tx.billing.usage_at(ids["site"], [1])] == [1]


def test_usage_records_count_once_per_site_sequence(db: Database) -> None:
    ids = seed(db)
    with db.transaction() as tx:
        attempt = tx.jobs.attempt(ids["attempt"])
        assert attempt is not None
        fields = {"wall_seconds": 10, "cpu_seconds": 5, "accelerator_seconds": 80}
        assert tx.jobs.add_usage(site_id=ids["site"], seq=1, attempt=attempt, now=NOW, **fields)
    with db.transaction() as tx:
        attempt = tx.jobs.attempt(ids["attempt"])
        assert attempt is not None
        assert not tx.jobs.add_usage(site_id=ids["site"], seq=1, attempt=attempt, now=NOW, **fields)
        assert len(tx.jobs.usage(ids["job"])) == 1
        assert tx.jobs.max_usage_seq(ids["site"]) == 1


def test_expired_attempts_are_those_past_their_lease(db: Database) -> None:
    ids = seed(db)
    with db.transaction() as tx:
        assert tx.jobs.expired_attempts(NOW + timedelta(seconds=29)) == []
        assert [a.id for a in tx.jobs.expired_attempts(NOW + timedelta(seconds=31))] == [ids["attempt"]]
        attempt = tx.jobs.attempt(ids["attempt"])
        assert attempt is not None
        attempt.state = AttemptState.SUCCEEDED.value
    with db.transaction() as tx:
        assert tx.jobs.expired_attempts(NOW + timedelta(days=1)) == []


def test_offer_replaces_pools_and_withdraws_missing_ones(db: Database) -> None:
    ids = seed(db)
    with db.transaction() as tx:
        assert not tx.sites.offer(ids["site"], [PoolOffer("gpu", "A100", 8, 2, 64, 512 * 1024)], NOW)
        assert tx.sites.offer(ids["site"], [PoolOffer("cpu", None, 0, 1, 32, 65536)], NOW)
    with db.transaction() as tx:
        assert [p.name for p in tx.sites.pools([ids["site"]])] == ["cpu"]
        assert len(tx.sites.pools([ids["site"]], include_withdrawn=True)) == 2


def test_job_pages_are_newest_first_and_disjoint(db: Database) -> None:
    ids = seed(db)
    with db.transaction() as tx:
        job = tx.jobs.get(ids["job"])
        assert job is not None
        for i in range(5):
            tx.jobs.add(
                org_id=job.org_id,
                project_id=job.project_id,
                user_id=job.user_id,
                name=f"j{i}",
                spec={},
                retries=0,
                now=NOW + timedelta(seconds=i + 1),
            )
    with db.transaction() as tx:
        first = tx.jobs.search(org_ids=[ids["org"]], limit=3)
        last = first[-1]
        second = tx.jobs.search(org_ids=[ids["org"]], limit=3, before=(last.created_at, last.id))
        names = [j.name for j in first + second]
        assert names == ["j4", "j3", "j2", "j1", "j0", "j"]
        assert tx.jobs.search(org_ids=["org_other"], limit=10) == []


def test_a_database_with_data_upgrades_to_the_newest_schema(database_url: str) -> None:
    from sqlalchemy import text

    old = Database(database_url)
    old.migrate("0001")
    with old.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orgs (id, name, kind, disabled, created_at) VALUES ('org_1', 'dc', 'provider', false, :t)"
            ),
            {"t": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO sites (id, name, org_id, region, disabled, created_at) "
                "VALUES ('site_1', 'sh1', 'org_1', 'cn', false, :t)"
            ),
            {"t": NOW},
        )
    old.close()
    db = Database(database_url)
    db.migrate()
    with db.transaction() as tx:
        site = tx.sites.site_by_name("sh1")
        assert site is not None and site.region == "cn" and site.pue_milli is None
        site.pue_milli = 1250
    with db.transaction() as tx:
        assert tx.sites.site("site_1").pue_milli == 1250  # type: ignore[union-attr]
    db.close()


def test_job_heads_and_specs_read_what_the_rows_hold_in_batches(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a scheduling cycle reads of every pending and running job: the columns without the spec
    (`pending_heads`, `heads`), and the specs of the jobs it meets for the first time (`specs`),
    asked in batches of ids so that a first cycle over a long queue stays under a database's limit
    on parameters."""
    import suanli.store.batches as batches_module

    monkeypatch.setattr(batches_module, "BATCH", 2)
    ids = seed(db)
    with db.transaction() as tx:
        first = tx.jobs.get(ids["job"])
        assert first is not None
        for i in range(4):
            tx.jobs.add(
                org_id=first.org_id,
                project_id=first.project_id,
                user_id=first.user_id,
                name=f"p{i}",
                spec={"run": f"echo {i}"},
                retries=0,
                now=NOW + timedelta(seconds=i + 1),
                priority=i,
            )
    with db.transaction() as tx:
        pending = tx.jobs.pending()
        heads = tx.jobs.pending_heads()
        assert [(h.id, h.org_id, h.project_id, h.name, h.priority, h.created_at) for h in heads] == [
            (j.id, j.org_id, j.project_id, j.name, j.priority, j.created_at) for j in pending
        ]
        assert all(h.spec is None for h in heads)
        assert tx.jobs.specs(j.id for j in pending) == {j.id: j.spec for j in pending}
        assert set(tx.jobs.heads([*(j.id for j in pending), "job_missing"])) == {j.id for j in pending}
        assert tx.jobs.specs([]) == {} and tx.jobs.heads([]) == {}


def test_migration_0008_brings_a_stored_checkpoint_interval_to_the_specs_bound(db: Database) -> None:
    """Specs stored before the 30-day bound on `checkpoint_interval` are re-read by the scheduler:
    one past it would fail every cycle, so the migration brings it to the bound."""

    migration = load_migration("0008_interruptions_and_reported_seq")
    ids = seed(db)
    with db.transaction() as tx:
        job = tx.jobs.get(ids["job"])
        assert job is not None
        job.spec = {"run": "x", "checkpoint_interval_s": 2**70}
    with db.engine.begin() as conn:
        assert migration.clamp_stored_checkpoints(conn) == 1
        assert migration.clamp_stored_checkpoints(conn) == 0
    with db.transaction() as tx:
        job = tx.jobs.get(ids["job"])
        assert job is not None and job.spec["checkpoint_interval_s"] == 30 * 86400
        assert job.interruptions == 0
