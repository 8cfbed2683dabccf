//! One-time work a new version asks of a store after its migrations, recorded as rows of
//! `store_meta` by the migration that needs it and done once, at open, by whichever process
//! opens the store first.

use super::{QueryContext, Result, Store};

impl Store {
    /// Does what the migrations left to do:
    /// - `redecide`: every carried patch decided again, silently (the evidence changed
    ///   shape, not what upstream said), so stored prose hops become typed ones.
    ///
    /// # Errors
    /// A database error; the work is then done at the next open.
    pub(crate) async fn finish_upgrade(&self) -> Result<()> {
        let pending: Vec<(String,)> = sqlx::query_as("SELECT key FROM store_meta")
            .fetch_all(&self.pool)
            .await
            .ctx("reading what the upgrade left to do")?;
        if !pending.iter().any(|(k,)| k == "redecide") {
            return Ok(());
        }
        let mut tx = self.begin_write("deciding every verdict again").await?;
        // Another process may have done it meanwhile: only the one that deletes the row works.
        let claimed = sqlx::query("DELETE FROM store_meta WHERE key = 'redecide'")
            .execute(&mut *tx)
            .await
            .ctx("claiming the upgrade")?
            .rows_affected();
        if claimed > 0 {
            let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM packages")
                .fetch_all(&mut *tx)
                .await
                .ctx("listing packages")?;
            let ids: Vec<i64> = ids.into_iter().map(|r| r.0).collect();
            let now = super::timestamp(chrono::Utc::now());
            super::engine::decide_again(&mut tx, &ids, &now, false).await?;
        }
        tx.commit().await.ctx("committing the upgrade")?;
        Ok(())
    }
}
