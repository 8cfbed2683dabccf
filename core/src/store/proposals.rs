//! Proposals: the merge/pull requests forkdebt opened to drop a patch, each an event when
//! opened and when merged or closed.

use super::events::EventKind;
use super::{QueryContext, Result, Store};

/// A proposal whose merge/pull request is read back at each sync.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProposalRequest {
    pub downstream: String,
    pub package: String,
    pub patch: String,
    pub url: String,
    pub forge: String,
    pub api_url: String,
}

impl Store {
    /// The proposal already opened for a patch, if any: `(url, state)`.
    ///
    /// # Errors
    /// A database error.
    pub async fn proposal(
        &self,
        downstream: &str,
        package: &str,
        patch: &str,
    ) -> Result<Option<(String, String)>> {
        sqlx::query_as(
            "SELECT url, state FROM proposals WHERE downstream = $1 AND package = $2 AND patch = $3",
        )
        .bind(downstream.to_string())
        .bind(package.to_string())
        .bind(patch.to_string())
        .fetch_optional(&self.pool)
        .await
        .ctx("reading a proposal")
    }

    /// Open proposals of a downstream.
    ///
    /// # Errors
    /// A database error.
    pub async fn open_proposals(&self, downstream: &str) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM proposals WHERE downstream = $1 AND state = 'open'",
        )
        .bind(downstream.to_string())
        .fetch_one(&self.pool)
        .await
        .ctx("counting proposals")?;
        Ok(n)
    }

    /// Records a proposal (once per patch: a second insert changes nothing) and, in the same
    /// transaction, its event ("proposed: <MR link>") for chat and the digest.
    ///
    /// # Errors
    /// A database error.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_proposal(
        &self,
        downstream: &str,
        package: &str,
        patch: &str,
        branch: &str,
        url: &str,
        request: Option<(&str, &str)>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let now = super::timestamp(now);
        let mut tx = self
            .begin_write("starting the proposal transaction")
            .await?;
        let n = sqlx::query(
            "INSERT INTO proposals (downstream, package, patch, branch, url, state, created_at, forge, api_url) \
             VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8) ON CONFLICT (downstream, package, patch) DO NOTHING",
        )
        .bind(downstream.to_string())
        .bind(package.to_string())
        .bind(patch.to_string())
        .bind(branch.to_string())
        .bind(url.to_string())
        .bind(now.clone())
        .bind(request.map(|r| r.0.to_string()))
        .bind(request.map(|r| r.1.to_string()))
        .execute(&mut *tx)
        .await
        .ctx("recording a proposal")?
        .rows_affected();
        if n > 0 {
            let hops = vec![crate::evidence::Hop::Proposed {
                url: url.to_string(),
            }];
            let evidence = serde_json::to_string(&hops).unwrap_or_else(|_| "[]".into());
            let destinations = super::outbox::destinations(&mut tx).await?;
            super::outbox::write_event(
                &mut tx,
                &super::outbox::NewEvent {
                    downstream,
                    package,
                    subject: patch,
                    kind: EventKind::Proposed,
                    from: None,
                    to: "proposed",
                    evidence: &evidence,
                },
                &now,
                &destinations,
            )
            .await?;
        }
        tx.commit().await.ctx("committing the proposal")?;
        Ok(())
    }

    /// Open proposals whose request can be read back: `(downstream, package, patch, url,
    /// forge, api_url)`.
    ///
    /// # Errors
    /// A database error.
    pub async fn open_proposal_requests(&self) -> Result<Vec<ProposalRequest>> {
        sqlx::query_as(
            "SELECT downstream, package, patch, url, forge, api_url FROM proposals \
             WHERE state = 'open' AND forge IS NOT NULL AND api_url IS NOT NULL ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("loading open proposals")
    }

    /// Records that proposal `p`'s request is now `state` (`merged`, `closed`); a change is
    /// an event ("proposal merged: <link>"), written in the same transaction.
    ///
    /// # Errors
    /// A database error, or the lease was lost.
    pub async fn set_proposal_state(
        &self,
        p: &ProposalRequest,
        state: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        let now = super::timestamp(now);
        let mut tx = self
            .begin_write("starting the proposal transaction")
            .await?;
        let n = sqlx::query(
            "UPDATE proposals SET state = $1 WHERE downstream = $2 AND package = $3 AND patch = $4 AND state <> $1",
        )
        .bind(state.to_string())
        .bind(p.downstream.clone())
        .bind(p.package.clone())
        .bind(p.patch.clone())
        .execute(&mut *tx)
        .await
        .ctx("recording a proposal's state")?
        .rows_affected();
        if n > 0 {
            let hops = vec![crate::evidence::Hop::ProposalState {
                state: state.to_string(),
                url: p.url.clone(),
            }];
            let evidence = serde_json::to_string(&hops).unwrap_or_else(|_| "[]".into());
            let destinations = super::outbox::destinations(&mut tx).await?;
            let to = format!("proposal-{state}");
            super::outbox::write_event(
                &mut tx,
                &super::outbox::NewEvent {
                    downstream: &p.downstream,
                    package: &p.package,
                    subject: &p.patch,
                    kind: EventKind::Proposed,
                    from: Some("proposed"),
                    to: &to,
                    evidence: &evidence,
                },
                &now,
                &destinations,
            )
            .await?;
        }
        tx.commit().await.ctx("committing the proposal")?;
        Ok(n > 0)
    }
}
