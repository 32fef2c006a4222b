//! The upload form (SPEC §3.4), as the Clients, Accounts and IB Programs pages open it in
//! their Import dialog and as Import Data's + Create page shows it. It is a plain
//! multipart form: it works without JavaScript, and the server answers it with the new
//! job's page or, when the file is refused, with this page again and the reason.

use crate::api::imports::import_rules;
use crate::components::notice::ErrorNotice;
use crate::model::{Delimiter, ImportAction, ImportRules};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

fn delimiter_label(d: Delimiter) -> &'static str {
    match d {
        Delimiter::Auto => "Detect from the header line",
        Delimiter::Comma => "Comma ,",
        Delimiter::Semicolon => "Semicolon ;",
        Delimiter::Tab => "Tab",
    }
}

fn delimiter_value(d: Delimiter) -> &'static str {
    match d {
        Delimiter::Auto => "auto",
        Delimiter::Comma => "comma",
        Delimiter::Semicolon => "semicolon",
        Delimiter::Tab => "tab",
    }
}

fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if mb >= 1.0 {
        format!("{mb:.0} MB")
    } else {
        format!("{} KB", bytes / 1024)
    }
}

/// The reason the last upload was refused, carried back in the address.
pub fn upload_error() -> Memo<Option<String>> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get("import_error").filter(|e| !e.is_empty()))
}

/// The rules of the file format and of `action`, with its template.
#[component]
fn Rules(rules: ImportRules, action: ImportAction) -> impl IntoView {
    let columns = rules
        .actions
        .iter()
        .find(|a| a.action == action.as_str())
        .cloned();
    view! {
        <ul class="rules">
            <li>"A text file: " <code>".csv"</code> ", " <code>".tsv"</code> " or " <code>".txt"</code>
                ", separated by commas, semicolons or tabs, with a header line."</li>
            <li>"UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252."</li>
            <li data-testid="limits">{format!(
                "At most {} data rows and {}.",
                rules.max_rows, megabytes(rules.max_bytes)
            )}</li>
            {columns.map(|c| view! {
                <li>"Required columns: " <strong data-testid="required-columns">{c.required.join(", ")}</strong></li>
                {(!c.optional.is_empty()).then(|| view! {
                    <li>"Optional columns: " {c.optional.join(", ")}</li>
                })}
                <li>{c.note}</li>
            })}
            <li>"Rows with errors are reported with their line and column; the other rows are imported."</li>
        </ul>
        <p>
            <a class="btn btn-small" href=format!("/templates/{}.csv", action.as_str()) download=""
                data-testid="template">{format!("Download the {} template", action.as_str())}</a>
        </p>
    }
}

/// The fields of an import.
#[component]
pub fn ImportForm(
    /// The page the form is on (`clients`, `accounts`, `ib-programs` or `new`).
    from: &'static str,
    /// The action chosen at first.
    action: ImportAction,
) -> impl IntoView {
    view! {
        <form class="form import-form" method="post" action=format!("/imports/upload?from={from}")
            enctype="multipart/form-data">
            <label for=format!("{from}-title")>"Title"</label>
            <input id=format!("{from}-title") name="title" type="text" required maxlength="200"
                placeholder="e.g. November clients from the old CRM"/>
            <label for=format!("{from}-description")>"Description " <span class="muted">"(optional)"</span></label>
            <textarea id=format!("{from}-description") name="description" rows="2"></textarea>
            <div class="form-row">
                <div>
                    <label for=format!("{from}-action")>"Action"</label>
                    <select id=format!("{from}-action") name="action">
                        {ImportAction::ALL.into_iter().map(|a| view! {
                            <option value=a.as_str() selected=a == action>{a.as_str()}</option>
                        }).collect_view()}
                    </select>
                </div>
                <div>
                    <label for=format!("{from}-delimiter")>"Delimiter"</label>
                    <select id=format!("{from}-delimiter") name="delimiter">
                        {Delimiter::ALL.into_iter().map(|d| view! {
                            <option value=delimiter_value(d)>{delimiter_label(d)}</option>
                        }).collect_view()}
                    </select>
                </div>
            </div>
            <label for=format!("{from}-file")>"File"</label>
            <input id=format!("{from}-file") name="file" type="file" required accept=".csv,.tsv,.txt,text/csv,text/plain"/>
            <label class="check">
                <input type="checkbox" name="review_mapping" value="true" data-testid="review-mapping"/>
                " Review the mapping: see each column with its values and choose what it fills (other \
                systems' column names, extra columns kept per client), then review the result before anything is written"
            </label>
            <label class="check">
                <input type="checkbox" name="validate_only" value="true"/>
                " Validate only: check every row and show what would change, write nothing until confirmed"
            </label>
            <button class="btn btn-primary" type="submit">"Upload and import"</button>
        </form>
    }
}

/// The **Import** button of a list page and the dialog it opens: the rules, a template
/// and the upload form. Shown only to roles that may import. It opens by itself when the
/// last upload from this page was refused, with the reason at the top.
#[component]
pub fn ImportDialog(from: &'static str, action: ImportAction) -> impl IntoView {
    let rules = Resource::new(|| (), |_| import_rules());
    let error = upload_error();
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match rules.await {
                    Ok(rules) if rules.can_import => Some(view! {
                        <details class="dialog" open=move || error.get().is_some()>
                            <summary class="btn btn-primary" data-testid="import-button">"Import"</summary>
                            <div class="dialog-body" role="dialog" aria-label="Import a file">
                                <h2>{format!("Import a file ({})", action.as_str())}</h2>
                                {move || error.get().map(|e| view! {
                                    <div class="notice notice-error" role="alert" data-testid="upload-error">{e}</div>
                                })}
                                <Rules rules action/>
                                <ImportForm from action/>
                            </div>
                        </details>
                    }.into_any()),
                    Ok(_) => None,
                    Err(error) => Some(view! { <ErrorNotice error/> }.into_any()),
                }
            })}
        </Transition>
    }
}

/// Import Data's + Create page: the rules for every action and the upload form.
#[component]
pub fn CreateImport() -> impl IntoView {
    let rules = Resource::new(|| (), |_| import_rules());
    let error = upload_error();
    view! {
        <leptos_meta::Title text="New import"/>
        <div class="page-head">
            <p><a href="/imports">"← Import Data"</a></p>
            <h1>"New import"</h1>
        </div>
        {move || error.get().map(|e| view! {
            <div class="notice notice-error" role="alert" data-testid="upload-error">{e}</div>
        })}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rules.await {
                    Ok(rules) if rules.can_import => view! {
                        <div class="two-columns">
                            <section class="panel"><ImportForm from="new" action=ImportAction::Users/></section>
                            <section class="panel">
                                <h2>"Files"</h2>
                                {ImportAction::ALL.into_iter().map(|action| view! {
                                    <h3>{action.as_str()}</h3>
                                    <Rules rules=rules.clone() action/>
                                }).collect_view()}
                            </section>
                        </div>
                    }.into_any(),
                    Ok(_) => view! { <ErrorNotice error=crate::model::AppError::Forbidden/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
