//! `import-ibs` (SPEC §3.1): the partner joins the program and, when a client is named,
//! that client becomes the partner's referral in it.

use super::{BatchReport, clients_by_email, outside_desks, refuse, unknown_client};
use crate::entities::{ib_program, introducing_broker, referral};
use crate::import::validate::IbRow;
use crate::jobs::changes::{ChangeOp, Entity, change_record};
use crate::jobs::write::insert_all;
use crate::model::Desks;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};
use std::collections::HashSet;

/// is named, records that client as the partner's referral in the program.
pub struct IbImport {
    job_id: i64,
    /// The desks of the clients the job's initiator works with.
    within: Desks,
}

impl IbImport {
    pub fn new(job_id: i64, within: Desks) -> Self {
        IbImport { job_id, within }
    }

    /// Applies a batch of rows inside `txn`, in file order (a later row may rely on a
    /// membership an earlier one created).
    pub async fn apply<C: ConnectionTrait>(
        &mut self,
        txn: &C,
        rows: Vec<IbRow>,
    ) -> Result<BatchReport, DbErr> {
        let mut report = BatchReport::default();
        let keys = rows
            .iter()
            .flat_map(|r| {
                std::iter::once(r.ib_email.key()).chain(r.client_email.as_ref().map(|e| e.key()))
            })
            .collect();
        let clients = clients_by_email(txn, keys).await?;
        let program_ids: Vec<i64> = rows.iter().map(|r| r.program_id).collect();
        let programs: HashSet<i64> = if program_ids.is_empty() {
            HashSet::new()
        } else {
            ib_program::Entity::find()
                .filter(ib_program::Column::Id.is_in(program_ids))
                .all(txn)
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect()
        };
        let now = chrono::Utc::now();
        let mut changes = Vec::new();
        for row in rows {
            let Some(partner) = clients.get(&row.ib_email.key()) else {
                report
                    .errors
                    .push(unknown_client(row.line, "IB Email", row.ib_email.as_str()));
                continue;
            };
            if !self.within.allows(partner.desk_id) {
                report
                    .errors
                    .push(outside_desks(row.line, "IB Email", row.ib_email.as_str()));
                continue;
            }
            if !programs.contains(&row.program_id) {
                report.errors.push(refuse(
                    row.line,
                    Some("IB Type ID"),
                    Some(&row.program_id.to_string()),
                    format!("There is no IB program with ID {}", row.program_id),
                ));
                continue;
            }
            let referred = match &row.client_email {
                None => None,
                Some(email) => match clients.get(&email.key()) {
                    Some(c) if !self.within.allows(c.desk_id) => {
                        report
                            .errors
                            .push(outside_desks(row.line, "Client Email", email.as_str()));
                        continue;
                    }
                    Some(c) => Some(c),
                    None => {
                        report.errors.push(unknown_client(
                            row.line,
                            "Client Email",
                            email.as_str(),
                        ));
                        continue;
                    }
                },
            };
            let existing_referral = match referred {
                Some(c) => {
                    referral::Entity::find()
                        .filter(referral::Column::ProgramId.eq(row.program_id))
                        .filter(referral::Column::ClientId.eq(c.id))
                        .one(txn)
                        .await?
                }
                None => None,
            };
            if let (Some(c), Some(r)) = (referred, &existing_referral)
                && r.ib_client_id != partner.id
            {
                report.errors.push(refuse(
                    row.line,
                    Some("Client Email"),
                    Some(&c.email),
                    format!("This client is already referred by another partner (client ID {}) in this program", r.ib_client_id),
                ));
                continue;
            }
            let membership = introducing_broker::Entity::find()
                .filter(introducing_broker::Column::ClientId.eq(partner.id))
                .filter(introducing_broker::Column::ProgramId.eq(row.program_id))
                .one(txn)
                .await?;
            let mut created = false;
            if membership.is_none() {
                let m = introducing_broker::ActiveModel {
                    client_id: Set(partner.id),
                    program_id: Set(row.program_id),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                changes.push(change_record(
                    self.job_id,
                    Entity::IntroducingBroker,
                    m.id,
                    ChangeOp::Created,
                    None,
                ));
                created = true;
            }
            if let (Some(c), None) = (referred, &existing_referral) {
                let r = referral::ActiveModel {
                    program_id: Set(row.program_id),
                    client_id: Set(c.id),
                    ib_client_id: Set(partner.id),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                changes.push(change_record(
                    self.job_id,
                    Entity::Referral,
                    r.id,
                    ChangeOp::Created,
                    None,
                ));
                created = true;
            }
            if created {
                report.created += 1;
            } else {
                report.unchanged += 1;
            }
        }
        if !changes.is_empty() {
            insert_all(txn, changes).await?;
        }
        Ok(report)
    }
}
