//! Undoing a merge: the survivor and the merged records restored from what the merge kept, while
//! the survivor's merged fields are unchanged since; and forgetting that data.

use super::*;

/// Blind-index tokens in the columns whose name ends with `suffix` cut to the length written
/// now (see `UndoData::parse`).
pub(super) fn current_blind_tokens(rows: &mut [Row], suffix: &str) {
    for row in rows {
        for (col, cell) in row.iter_mut() {
            if let (true, Cell::Text(tok)) = (col.ends_with(suffix), &*cell) {
                let cut = crate::crypto::current_blind(tok);
                if cut.len() != tok.len() {
                    *cell = Cell::text(cut);
                }
            }
        }
    }
}

/// The field a stored column belongs to, for messages (`phone_enc` → `phone`).
fn field_of_column(col: &str) -> &str {
    col.strip_suffix("_enc")
        .or_else(|| col.strip_suffix("_bidx"))
        .or_else(|| col.strip_suffix("_norm"))
        .unwrap_or(col)
}

/// Undo a merge: the merged records come back with their ids, what moved goes back where it
/// still is, and the survivor's merged fields get their old values. Refused (409) when the
/// survivor has gone or a field the merge set has been changed since.
pub async fn undo(store: &Store, actor: &Access, id: &str) -> Result<Merge, DomainError> {
    let m = read(store, actor, id).await?;
    let def = merge_def(Object::parse(&m.object).ok_or(DomainError::NotFound)?)?;
    if m.status != "done" {
        return Err(DomainError::Conflict(format!(
            "this merge cannot be undone: it is {}",
            m.status
        )));
    }
    let survivor = records::read_record(store, actor, def, &m.survivor_id)
        .await
        .map_err(|_| {
            DomainError::Conflict(
                "the record this merge kept has since been merged or deleted; undo that first"
                    .into(),
            )
        })?;
    let update = actor.owners(def.object, Action::Update);
    if !update.is_some_and(|f| f.allows(survivor.owner_id())) {
        return Err(forbidden(def, "update"));
    }
    if actor.scope(def.object, Action::Create) == Scope::None {
        return Err(forbidden(def, "create"));
    }
    let tx = store.db.begin().await?;
    let (m, undo_text) = load(&tx, id).await?;
    if m.status != "done" {
        return Err(DomainError::Conflict(format!(
            "this merge cannot be undone: it is {}",
            m.status
        )));
    }
    let data = UndoData::parse(&undo_text)?;
    let by_id = |id: &str| Condition::all().add(Expr::col(t("id")).eq(id));
    let current = snapshot::rows(&tx, def.table, by_id(&m.survivor_id))
        .await?
        .pop()
        .ok_or_else(|| DomainError::Conflict("the record this merge kept is gone".into()))?;
    let mut restore = Row::new();
    let mut changed_since = Vec::new();
    for (col, before) in &data.survivor_before {
        let after = data.survivor_after.get(col).unwrap_or(&Cell::Null);
        if col == "updated_at" || before == after {
            continue;
        }
        if current.get(col).unwrap_or(&Cell::Null) != after {
            let f = field_of_column(col).to_string();
            if !changed_since.contains(&f) {
                changed_since.push(f);
            }
        }
        restore.insert(col.clone(), before.clone());
    }
    if !changed_since.is_empty() {
        return Err(DomainError::Conflict(format!(
            "the merge cannot be undone: {} changed since",
            changed_since.join(", ")
        )));
    }
    let mut merged_rows = data.merged_rows.clone();
    // A merged record comes back without a parent that has gone since. The merged records
    // come back first: the survivor's restored parent may be one of them.
    let returning: Vec<String> = merged_rows
        .iter()
        .filter_map(|r| r.get("id").and_then(Cell::as_text).map(String::from))
        .collect();
    for field in def.hooks.merging().map(|m| m.self_refs).unwrap_or(&[]) {
        for r in &mut merged_rows {
            if let Some(parent) = r.get(*field).and_then(Cell::as_text) {
                if !returning.iter().any(|id| id == parent)
                    && snapshot::rows(&tx, def.table, by_id(parent))
                        .await?
                        .is_empty()
                {
                    r.insert((*field).into(), Cell::Null);
                }
            }
        }
    }
    snapshot::insert(&tx, def.table, &merged_rows).await?;
    restore.insert("updated_at".into(), Cell::Time(store.now()));
    snapshot::update(&tx, def.table, &restore, by_id(&m.survivor_id)).await?;
    let text = |r: &Row, c: &str| r.get(c).and_then(Cell::as_text).map(String::from);
    let kept = data.tokens.iter().filter_map(|r| {
        Some((
            text(r, "object_type")?,
            text(r, "record_id")?,
            text(r, "token")?,
        ))
    });
    records::restore_tokens(&tx, kept).await?;
    references::undo(&tx, &data.moved).await?;
    exec(
        &tx,
        Query::delete()
            .from_table(t("merged_records"))
            .and_where(Expr::col(t("merge_id")).eq(id)),
    )
    .await?;
    let rec = records::find_in_scope(&tx, store, def, &OwnerFilter::All, &m.survivor_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    records::rewrite_tokens(&tx, store, def, &rec).await?;
    let now = store.now();
    exec(
        &tx,
        Query::update()
            .table(t("merges"))
            .value(t("status"), "undone")
            .value(t("undone_at"), now)
            .value(t("undone_by"), actor.user_id.as_str())
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(format!("{}.merge_undone", def.key()))
            .object(def.key(), &m.survivor_id)
            .details(json!({"merge_id": id, "restored_ids": m.merged_ids})),
    )
    .await?;
    outbox::emit(
        &tx,
        store,
        actor,
        &format!("{}.updated", def.key()),
        def.key(),
        &m.survivor_id,
        json!({"id": m.survivor_id, "merge_undone": id}),
    )
    .await?;
    for rid in &m.merged_ids {
        audit::record(
            &tx,
            store,
            actor,
            audit::Entry::new(format!("{}.unmerged", def.key()))
                .object(def.key(), rid)
                .details(json!({"merge_id": id, "survivor_id": m.survivor_id})),
        )
        .await?;
        outbox::emit(
            &tx,
            store,
            actor,
            &format!("{}.created", def.key()),
            def.key(),
            rid,
            json!({"id": rid, "restored_by_merge_undo": id}),
        )
        .await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(Merge {
        status: "undone".into(),
        undone_at: Some(now),
        ..m
    })
}

/// Drop what the merges into `survivor` kept for their undo (an erasure): they stay listed,
/// as `erased`, and can no longer be undone.
pub async fn forget_undo<C: sea_orm::ConnectionTrait>(
    c: &C,
    survivor: &str,
) -> Result<(), DomainError> {
    exec(
        c,
        Query::update()
            .table(t("merges"))
            .value(t("undo"), "{}")
            .value(t("status"), "erased")
            .and_where(Expr::col(t("survivor_id")).eq(survivor)),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_kept_before_migration_17_are_cut_on_undo() {
        let long = format!("{}{}", "ab12".repeat(4), "9".repeat(48));
        let mut rows = vec![Row::from([
            ("email_bidx".to_string(), Cell::text(&long)),
            ("mobile_bidx".to_string(), Cell::Null),
            ("name_norm".to_string(), Cell::text(&long)),
        ])];
        current_blind_tokens(&mut rows, "_bidx");
        assert_eq!(rows[0]["email_bidx"], Cell::text(&"ab12".repeat(4)));
        assert_eq!(rows[0]["mobile_bidx"], Cell::Null);
        // Only blind index columns are touched.
        assert_eq!(rows[0]["name_norm"], Cell::text(&long));
    }

    #[test]
    fn undo_data_of_before_migration_17_reads_with_todays_tokens() {
        let long = format!("{}{}", "cd34".repeat(4), "0".repeat(48));
        let row = Row::from([("email_bidx".to_string(), Cell::text(&long))]);
        let kept = UndoData {
            survivor_before: row.clone(),
            survivor_after: row.clone(),
            merged_rows: vec![row],
            tokens: vec![Row::from([("token".to_string(), Cell::text(&long))])],
            moved: Moved::default(),
        };
        let text = serde_json::to_string(&kept).unwrap_or_default();
        let data = UndoData::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let short = Cell::text(&"cd34".repeat(4));
        assert_eq!(data.survivor_before["email_bidx"], short);
        assert_eq!(data.survivor_after["email_bidx"], short);
        assert_eq!(data.merged_rows[0]["email_bidx"], short);
        assert_eq!(data.tokens[0]["token"], short);
    }
}
