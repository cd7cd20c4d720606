//! A round of approval: submitting a contract starts it, each step's approver decides in order,
//! and an administrator may end it. Every step is audited and notified.

use super::*;

/// Submit a draft or rejected contract for approval.
pub async fn submit(
    store: &Store,
    actor: &Access,
    contract_id: &str,
) -> Result<Vec<StepState>, DomainError> {
    let rec = records::read_record(store, actor, &CONTRACTS, contract_id).await?;
    let upd = actor
        .owners(objects::CONTRACT, Action::Update)
        .ok_or_else(|| DomainError::Forbidden("you may not submit contracts".into()))?;
    if !upd.allows(rec.owner_id()) {
        return Err(DomainError::Forbidden(
            "you may not submit this contract".into(),
        ));
    }
    let status = rec.text("status").unwrap_or("draft");
    if !matches!(status, "draft" | "rejected") {
        return Err(DomainError::Conflict(format!(
            "a contract that is {status} cannot be submitted"
        )));
    }
    let amount = match rec.values.get("amount") {
        Some(rapport_core::fields::FieldValue::Money(m)) => *m,
        _ => 0,
    };
    let owner = rec.owner_id().unwrap_or("").to_string();
    let mut planned = Vec::new();
    for rule in flow(store).await?.steps {
        let min = rule
            .min_amount
            .as_deref()
            .and_then(|m| validate::money_minor(&json!(m)).ok())
            .unwrap_or(0);
        if amount < min {
            continue;
        }
        let people = resolve(store, &rule.approver, &owner, &actor.user_id).await?;
        if people.is_empty() {
            return Err(DomainError::Conflict(format!(
                "nobody can approve the step {}: name an approver in the settings",
                rule.approver
            )));
        }
        planned.push((rule.approver, people));
    }
    if planned.is_empty() {
        return Err(DomainError::Conflict(
            "the approval flow has no step for this contract".into(),
        ));
    }
    let now = store.now();
    let label = rec.label(&CONTRACTS);
    let tx = store.db.begin().await?;
    let round: i32 = match one(
        &tx,
        Query::select()
            .expr_as(Expr::col(t("round")).max(), t("m"))
            .from(t("contract_approvals"))
            .and_where(Expr::col(t("contract_id")).eq(contract_id)),
    )
    .await?
    {
        Some(r) => get::<Option<i32>>(&r, "m")?.unwrap_or(0) + 1,
        None => 1,
    };
    // Claim the contract: a concurrent submission finds it pending and stops here.
    let claimed = exec(
        &tx,
        Query::update()
            .table(t("contracts"))
            .value(t("status"), "pending_approval")
            .value(t("submitted_at"), now)
            .value(t("updated_at"), now)
            .value(t("version"), Expr::col(t("version")).add(1))
            .and_where(Expr::col(t("id")).eq(contract_id))
            .and_where(Expr::col(t("status")).is_in(["draft", "rejected"])),
    )
    .await?;
    if claimed != 1 {
        return Err(DomainError::Conflict(
            "the contract was submitted meanwhile".into(),
        ));
    }
    for (i, (rule, people)) in planned.iter().enumerate() {
        exec(
            &tx,
            Query::insert()
                .into_table(t("contract_approvals"))
                .columns(
                    [
                        "id",
                        "contract_id",
                        "round",
                        "step",
                        "rule",
                        "approvers",
                        "submitted_by",
                        "created_at",
                    ]
                    .map(t),
                )
                .values_panic([
                    ids::new_id().into(),
                    contract_id.into(),
                    round.into(),
                    (i as i32 + 1).into(),
                    rule.clone().into(),
                    serde_json::to_string(people)
                        .map_err(DomainError::internal)?
                        .into(),
                    actor.user_id.clone().into(),
                    now.into(),
                ]),
        )
        .await?;
    }
    notify_all(
        &tx,
        now,
        &planned[0].1,
        actor,
        Note {
            kind: REQUESTED,
            contract_id,
            subject: &label,
            payload: json!({"round": round, "step": 1}),
        },
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("contract.submitted")
            .object("contract", contract_id)
            .details(json!({
                "round": round,
                "steps": planned.iter().map(|(r, p)| json!({"rule": r, "approvers": p})).collect::<Vec<_>>(),
            })),
    )
    .await?;
    outbox::emit(
        &tx,
        store,
        actor,
        "contract.submitted",
        "contract",
        contract_id,
        json!({"id": contract_id, "round": round}),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    steps_of(store.db.reader(), contract_id).await
}

/// Approve or reject the step waiting for the actor. A rejection needs a comment.
pub async fn decide(
    store: &Store,
    actor: &Access,
    contract_id: &str,
    approve: bool,
    comment: &str,
) -> Result<Vec<StepState>, DomainError> {
    if !ids::is_valid_id(contract_id) {
        return Err(DomainError::NotFound);
    }
    let comment = comment.trim();
    if comment.chars().count() > 1000 {
        return Err(DomainError::field(
            "comment",
            "too_long",
            "a comment is at most 1000 characters",
        ));
    }
    if !approve && comment.is_empty() {
        return Err(DomainError::field(
            "comment",
            "required",
            "say why the contract is rejected",
        ));
    }
    let steps = steps_of(store.db.reader(), contract_id).await?;
    let Some(step) = current(&steps).cloned() else {
        // Not waiting for anyone: the approver may still see the contract; others learn
        // nothing about it.
        return match steps.iter().any(|s| s.approvers.contains(&actor.user_id)) {
            true => Err(DomainError::Conflict(
                "the contract is not waiting for approval".into(),
            )),
            false => Err(DomainError::NotFound),
        };
    };
    let rec = records::find_in_scope_fresh(
        store,
        &CONTRACTS,
        &crate::access::OwnerFilter::All,
        contract_id,
    )
    .await?
    .ok_or(DomainError::NotFound)?;
    let owner = rec.owner_id().unwrap_or("").to_string();
    let submitter = step.submitted_by.clone().unwrap_or_default();
    if actor.user_id == owner || actor.user_id == submitter {
        return Err(DomainError::Forbidden(
            "you cannot approve a contract you submitted or own".into(),
        ));
    }
    if !step.approvers.contains(&actor.user_id) {
        let visible = match actor.owners(objects::CONTRACT, Action::Read) {
            Some(f) => f.allows(Some(&owner)),
            None => false,
        };
        return Err(if visible {
            DomainError::Forbidden("this step waits for another approver".into())
        } else {
            DomainError::NotFound
        });
    }
    let now = store.now();
    let decision = if approve { "approved" } else { "rejected" };
    let tx = store.db.begin().await?;
    let taken = exec(
        &tx,
        Query::update()
            .table(t("contract_approvals"))
            .value(t("decision"), decision)
            .value(t("decided_by"), actor.user_id.clone())
            .value(
                t("comment"),
                Some(comment.to_string()).filter(|c| !c.is_empty()),
            )
            .value(t("decided_at"), now)
            .and_where(Expr::col(t("id")).eq(step.id.as_str()))
            .and_where(Expr::col(t("decision")).is_null()),
    )
    .await?;
    if taken != 1 {
        return Err(DomainError::Conflict(
            "this step was decided meanwhile".into(),
        ));
    }
    let label = rec.label(&CONTRACTS);
    let next = steps
        .iter()
        .find(|s| s.round == step.round && s.step == step.step + 1);
    let involved: Vec<String> = {
        let mut v = vec![owner.clone(), submitter.clone()];
        v.dedup();
        v.into_iter().filter(|u| !u.is_empty()).collect()
    };
    let payload = json!({"round": step.round, "step": step.step, "comment": comment});
    let action = match (approve, next) {
        (false, _) => {
            set_status(&tx, contract_id, "rejected", now, None).await?;
            notify_all(
                &tx,
                now,
                &involved,
                actor,
                Note {
                    kind: REJECTED,
                    contract_id,
                    subject: &label,
                    payload,
                },
            )
            .await?;
            "contract.rejected"
        }
        (true, Some(n)) => {
            notify_all(
                &tx,
                now,
                &n.approvers,
                actor,
                Note {
                    kind: REQUESTED,
                    contract_id,
                    subject: &label,
                    payload: json!({"round": n.round, "step": n.step}),
                },
            )
            .await?;
            "contract.approval_step"
        }
        (true, None) => {
            set_status(&tx, contract_id, "approved", now, Some("approved_at")).await?;
            notify_all(
                &tx,
                now,
                &involved,
                actor,
                Note {
                    kind: APPROVED,
                    contract_id,
                    subject: &label,
                    payload,
                },
            )
            .await?;
            "contract.approved"
        }
    };
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(action)
            .object("contract", contract_id)
            .details(json!({"round": step.round, "step": step.step, "rule": step.rule, "decision": decision, "comment": comment})),
    )
    .await?;
    outbox::emit(
        &tx,
        store,
        actor,
        action,
        "contract",
        contract_id,
        json!({"id": contract_id, "decision": decision}),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    steps_of(store.db.reader(), contract_id).await
}

/// End an approved contract early, with a reason.
pub async fn terminate(
    store: &Store,
    actor: &Access,
    contract_id: &str,
    reason: &str,
) -> Result<(), DomainError> {
    let rec = records::read_record(store, actor, &CONTRACTS, contract_id).await?;
    let upd = actor
        .owners(objects::CONTRACT, Action::Update)
        .ok_or_else(|| DomainError::Forbidden("you may not change contracts".into()))?;
    if !upd.allows(rec.owner_id()) {
        return Err(DomainError::Forbidden(
            "you may not change this contract".into(),
        ));
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(DomainError::field(
            "reason",
            "required",
            "say why the contract ends (at most 500 characters)",
        ));
    }
    let now = store.now();
    let tx = store.db.begin().await?;
    let n = exec(
        &tx,
        Query::update()
            .table(t("contracts"))
            .value(t("status"), "terminated")
            .value(t("updated_at"), now)
            .value(t("version"), Expr::col(t("version")).add(1))
            .and_where(Expr::col(t("id")).eq(contract_id))
            .and_where(Expr::col(t("status")).eq("approved")),
    )
    .await?;
    if n != 1 {
        return Err(DomainError::Conflict(
            "only an approved contract can be terminated".into(),
        ));
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("contract.terminated")
            .object("contract", contract_id)
            .details(json!({"reason": reason})),
    )
    .await?;
    outbox::emit(
        &tx,
        store,
        actor,
        "contract.terminated",
        "contract",
        contract_id,
        json!({"id": contract_id}),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}
