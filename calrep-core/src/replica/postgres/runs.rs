//! Runs shared by hosts (see [`RunCoordinator`]), in two tables: the run,
//! and its mailboxes with their claims and reports. Claims are taken with
//! `FOR UPDATE SKIP LOCKED`, so hosts claiming at once never wait for each
//! other and never get the same mailbox; their times are the database's.

use async_trait::async_trait;
use chrono::TimeDelta;

use super::{PgReplica, exec, row, rows, server};
use crate::TaskId;
use crate::replica::{ReplicaError, RunCoordinator, RunProgress, RunRefused, SharedRun};

/// Seconds, as PostgreSQL's intervals are built from them here.
fn seconds(d: TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

#[async_trait]
impl RunCoordinator for PgReplica {
    async fn join_run(
        &self,
        task: &TaskId,
        digest: &str,
        due: Option<i64>,
        mailboxes: &[String],
        abandoned_after: TimeDelta,
    ) -> Result<Result<SharedRun, RunRefused>, ReplicaError> {
        self.patiently(|| async {
            let err = server(&self.name);
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(&err)?;
            // One host at a time decides whether to open a run of this task.
            exec(
                &tx,
                "SELECT pg_advisory_xact_lock(hashtextextended('calrep run ' || $1, 0))",
                &[&task.as_str()],
            )
            .await
            .map_err(&err)?;
            if let Some(due) = due {
                let done = row(
                    &tx,
                    "SELECT id FROM shared_runs WHERE task = $1 AND due_at = $2 AND closed_at IS NOT NULL",
                    &[&task.as_str(), &due],
                )
                .await
                .map_err(&err)?;
                if let Some(done) = done {
                    tx.commit().await.map_err(&err)?;
                    return Ok(Ok(SharedRun {
                        id: done.get(0),
                        opened: false,
                        finished: true,
                    }));
                }
            }
            let open = row(
                &tx,
                "SELECT r.id, r.config_digest,
                        coalesce((SELECT max(greatest(m.touched_at, m.free_at)) FROM shared_run_mailboxes m WHERE m.run_id = r.id), r.opened_at)
                            < now() - make_interval(secs => $2)
                 FROM shared_runs r WHERE r.task = $1 AND r.closed_at IS NULL",
                &[&task.as_str(), &seconds(abandoned_after)],
            )
            .await
            .map_err(&err)?;
            if let Some(open) = open {
                let (id, theirs, abandoned): (i64, String, bool) = (open.get(0), open.get(1), open.get(2));
                if !abandoned {
                    tx.commit().await.map_err(&err)?;
                    if theirs != digest {
                        return Ok(Err(RunRefused {
                            task: task.to_string(),
                            theirs,
                            ours: digest.to_owned(),
                        }));
                    }
                    return Ok(Ok(SharedRun {
                        id,
                        opened: false,
                        finished: false,
                    }));
                }
                // Every host that worked on it is gone: close it; its finished
                // mailboxes are replicated, the rest are in the new run.
                exec(&tx, "UPDATE shared_runs SET closed_at = now() WHERE id = $1", &[&id])
                    .await
                    .map_err(&err)?;
            }
            let id: i64 = row(
                &tx,
                "INSERT INTO shared_runs (task, config_digest, due_at) VALUES ($1, $2, $3) RETURNING id",
                &[&task.as_str(), &digest, &due],
            )
            .await
            .map_err(&err)?
            .map_or(0, |r| r.get(0));
            exec(
                &tx,
                "INSERT INTO shared_run_mailboxes (run_id, address) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
                &[&id, &mailboxes],
            )
            .await
            .map_err(&err)?;
            tx.commit().await.map_err(&err)?;
            Ok(Ok(SharedRun {
                id,
                opened: true,
                finished: false,
            }))
        })
        .await
    }

    async fn claim(
        &self,
        run: i64,
        host: &str,
        n: usize,
        ttl: TimeDelta,
    ) -> Result<Vec<String>, ReplicaError> {
        self.patiently(|| async {
            let client = self.client().await?;
            let limit = i64::try_from(n).unwrap_or(i64::MAX);
            let claimed = rows(
                &client,
                // The free rows are chosen once, in a materialised CTE: as a
                // subquery joined to the UPDATE, a plan made before the table
                // had statistics ran it again for every row of the run,
                // locking and skipping its way through all of them.
                "WITH free AS MATERIALIZED (
                     SELECT run_id, address FROM shared_run_mailboxes
                     WHERE run_id = $1 AND report IS NULL AND (free_at IS NULL OR free_at <= now())
                     ORDER BY address LIMIT $4 FOR UPDATE SKIP LOCKED)
                 UPDATE shared_run_mailboxes m SET host = $2, free_at = now() + make_interval(secs => $3), touched_at = now(), claims = m.claims + 1
                 FROM free WHERE m.run_id = free.run_id AND m.address = free.address
                 RETURNING m.address",
                &[&run, &host, &seconds(ttl), &limit],
            )
            .await
            .map_err(server(&self.name))?;
            let mut addresses: Vec<String> = claimed.iter().map(|r| r.get(0)).collect();
            addresses.sort();
            Ok(addresses)
        })
        .await
    }

    async fn finish(&self, run: i64, mailbox: &str, report_json: &str) -> Result<(), ReplicaError> {
        self.patiently(|| async {
            let client = self.client().await?;
            exec(
                &client,
                "UPDATE shared_run_mailboxes SET report = $3, host = NULL, free_at = NULL, touched_at = now()
                 WHERE run_id = $1 AND address = $2",
                &[&run, &mailbox, &report_json],
            )
            .await
            .map_err(server(&self.name))?;
            Ok(())
        })
        .await
    }

    async fn release(&self, run: i64, mailbox: &str, after: TimeDelta) -> Result<(), ReplicaError> {
        self.patiently(|| async {
            let client = self.client().await?;
            exec(
                &client,
                "UPDATE shared_run_mailboxes SET host = NULL, free_at = now() + make_interval(secs => $3), touched_at = now()
                 WHERE run_id = $1 AND address = $2 AND report IS NULL",
                &[&run, &mailbox, &seconds(after)],
            )
            .await
            .map_err(server(&self.name))?;
            Ok(())
        })
        .await
    }

    async fn progress(&self, run: i64) -> Result<RunProgress, ReplicaError> {
        self.patiently(|| async {
            let client = self.client().await?;
            let found = row(
                &client,
                "SELECT count(*), extract(epoch FROM min(greatest(coalesce(free_at, now()), now())) - now())::float8
                 FROM shared_run_mailboxes WHERE run_id = $1 AND report IS NULL",
                &[&run],
            )
            .await
            .map_err(server(&self.name))?;
            let (pending, next): (i64, Option<f64>) =
                found.map_or((0, None), |r| (r.get(0), r.get(1)));
            Ok(RunProgress {
                pending: super::unsigned(pending),
                next_free: next.map(|s| std::time::Duration::from_secs_f64(s.max(0.0))),
            })
        })
        .await
    }

    async fn close(&self, run: i64, host: &str) -> Result<(bool, Vec<String>), ReplicaError> {
        self.patiently(|| async {
            let err = server(&self.name);
            let client = self.client().await?;
            let closed = exec(
                &client,
                // Idempotent for its closer: a retry after a lost answer
                // finds its own name and gets the same yes.
                "UPDATE shared_runs SET closed_at = coalesce(closed_at, now()), closed_by = coalesce(closed_by, $2)
                 WHERE id = $1 AND (closed_at IS NULL OR closed_by = $2)",
                &[&run, &host],
            )
            .await
            .map_err(&err)?;
            let reports = rows(
                &client,
                "SELECT report FROM shared_run_mailboxes WHERE run_id = $1 AND report IS NOT NULL ORDER BY address",
                &[&run],
            )
            .await
            .map_err(&err)?;
            Ok((closed > 0, reports.iter().map(|r| r.get(0)).collect()))
        })
        .await
    }
}
