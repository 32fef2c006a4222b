//! `import-accounts` (SPEC §3.1): the client must exist; an account number owned by
//! another client is refused; one owned by the same client is updated.

use super::{BatchReport, clients_by_email, outside_desks, refuse, unknown_client};
use crate::entities::account;
use crate::import::validate::AccountRow;
use crate::jobs::changes::{
    AccountField, Change, ChangeOp, Entity, change_record, created_records,
};
use crate::jobs::write::{insert_all, insert_all_returning_keys, upsert_all};
use crate::model::Desks;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter,
};
use std::collections::HashMap;

/// Applies `import-accounts` rows: the client must exist; an account number owned by
/// another client is refused; one owned by the same client is updated.
pub struct AccountImport {
    job_id: i64,
    /// The desks of the clients the job's initiator works with.
    within: Desks,
}

impl AccountImport {
    pub fn new(job_id: i64, within: Desks) -> Self {
        AccountImport { job_id, within }
    }

    /// Applies a batch of rows inside `txn`. Rows repeating an account number of the
    /// file were refused before they got here.
    pub async fn apply<C: ConnectionTrait>(
        &mut self,
        txn: &C,
        accepted: Vec<AccountRow>,
    ) -> Result<BatchReport, DbErr> {
        let mut report = BatchReport::default();
        let owners =
            clients_by_email(txn, accepted.iter().map(|r| r.email.key()).collect()).await?;
        let numbers: Vec<String> = accepted
            .iter()
            .map(|r| r.account_number.as_str().to_owned())
            .collect();
        let mut existing: HashMap<String, account::Model> = HashMap::new();
        if !numbers.is_empty() {
            for a in account::Entity::find()
                .filter(account::Column::AccountNumber.is_in(numbers))
                .all(txn)
                .await?
            {
                existing.insert(a.account_number.clone(), a);
            }
        }
        let now = chrono::Utc::now();
        let mut inserts = Vec::new();
        let mut rewritten = Vec::new();
        let mut changes = Vec::new();
        for row in accepted {
            let Some(owner) = owners.get(&row.email.key()) else {
                report
                    .errors
                    .push(unknown_client(row.line, "Email", row.email.as_str()));
                continue;
            };
            if !self.within.allows(owner.desk_id) {
                report
                    .errors
                    .push(outside_desks(row.line, "Email", row.email.as_str()));
                continue;
            }
            let Some(acc) = existing.get(row.account_number.as_str()) else {
                inserts.push(account::ActiveModel {
                    account_number: Set(row.account_number.as_str().to_owned()),
                    client_id: Set(owner.id),
                    product_id: Set(row.product_id),
                    currency: Set(row.currency.as_str().to_owned()),
                    created_at: Set(now),
                    ..Default::default()
                });
                continue;
            };
            if acc.client_id != owner.id {
                report.errors.push(refuse(
                    row.line,
                    Some("Account number"),
                    Some(row.account_number.as_str()),
                    format!(
                        "This account belongs to another client (ID {})",
                        acc.client_id
                    ),
                ));
                continue;
            }
            let mut change = Change::default();
            // The whole row, so that the batch's updates are written as one upsert.
            let mut m = acc.clone().into_active_model().reset_all();
            if let Some(p) = change.set(
                AccountField::ProductId.name(),
                acc.product_id,
                Some(row.product_id),
            ) {
                m.product_id = Set(p);
            }
            if let Some(c) = change.set(
                AccountField::Currency.name(),
                acc.currency.clone(),
                Some(row.currency.as_str().to_owned()),
            ) {
                m.currency = Set(c);
            }
            if change.is_empty() {
                report.unchanged += 1;
                continue;
            }
            report.updated += 1;
            changes.push(change_record(
                self.job_id,
                Entity::Account,
                acc.id,
                ChangeOp::Updated,
                Some(change),
            ));
            rewritten.push(m);
        }
        if !rewritten.is_empty() {
            let rewrite = OnConflict::column(account::Column::Id)
                .update_columns([account::Column::ProductId, account::Column::Currency])
                .to_owned();
            upsert_all(txn, rewritten, rewrite).await?;
        }
        if !inserts.is_empty() {
            let ids = insert_all_returning_keys(txn, inserts).await?;
            report.created += ids.len() as u64;
            changes.extend(created_records(self.job_id, Entity::Account, ids));
        }
        if !changes.is_empty() {
            insert_all(txn, changes).await?;
        }
        Ok(report)
    }
}
