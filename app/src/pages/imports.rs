//! Import Data (SPEC §3.4): every job the user may see, and one job's details.

use crate::api::imports::{
    ChooseMapping, ConfirmImport, CorrectCell, DiscardImport, DropLine, ImportList, RevertImport,
    list_imports, mapping_step, show_import,
};
use crate::components::listing::{Choice, Pager, query_map, query_pairs, when};
use crate::components::live::LiveJobs;
use crate::components::notice::{ErrorNotice, PageError};
use crate::components::notice::{Flash, action_error, readable, reload_after, reload_when_done};
use crate::model::{
    ImportAction, ImportDetails, JobRecord, JobStatus, MappingStep, MessageRecord, grouped,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

fn status_class(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Success => "status status-ok",
        JobStatus::SuccessWithErrors
        | JobStatus::AwaitingConfirmation
        | JobStatus::AwaitingMapping => "status status-warn",
        JobStatus::Failed => "status status-bad",
        JobStatus::New | JobStatus::InProgress => "status status-busy",
        JobStatus::Reverted | JobStatus::Discarded => "status status-off",
    }
}

#[component]
fn StatusBadge(status: JobStatus) -> impl IntoView {
    view! { <span class=status_class(status) data-testid="status">{status.label()}</span> }
}

#[component]
fn JobRow(job: JobRecord) -> impl IntoView {
    let href = format!("/imports/{}", job.id);
    view! {
        <tr data-testid="import-row">
            <td><a href=href>{job.title}</a></td>
            <td class="nowrap">{job.action}</td>
            <td class="nowrap">{when(&job.created_at).trim_end_matches(" UTC").to_owned()}</td>
            <td>{job.initiated_by.email}</td>
            <td>
                <StatusBadge status=job.status/>
                {job.bulk.then(|| view! {
                    " " <span class="status status-off" data-testid="bulk-mode" title="The client search indexes are dropped while this file loads and rebuilt at its end">"bulk mode"</span>
                })}
            </td>
            <td class="num nowrap">{format!("{} / {}", grouped(job.processed_rows), grouped(job.total_rows))}</td>
            <td class="num">{grouped(job.created)}</td>
            <td class="num">{grouped(job.updated)}</td>
            <td class="num">{grouped(job.unchanged)}</td>
            <td class="num">{grouped(job.errors)}</td>
        </tr>
    }
}

/// Import Data: the jobs, newest first, filtered by status, action and user. The list is
/// an island that follows running jobs live; without JavaScript it shows the jobs as they
/// were when the page was rendered.
#[component]
pub fn ImportsPage() -> impl IntoView {
    let query = use_query_map().get_untracked();
    let filter = ImportFilter::from(&query);
    let jobs = Resource::new(|| (), move |_| filter.clone().fetch());
    view! {
        <Title text="Import Data"/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let query = query_pairs(&query);
                Suspend::new(async move {
                    match jobs.await {
                        Ok(initial) => view! { <ImportsList query initial/> }.into_any(),
                        Err(error) => view! { <PageError error/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// The filters of Import Data, as the address gives them.
#[derive(Clone)]
struct ImportFilter {
    status: Option<String>,
    action: Option<String>,
    user: Option<String>,
    page: Option<u64>,
}

impl ImportFilter {
    fn from(q: &leptos_router::params::ParamsMap) -> Self {
        let get = |k: &str| q.get(k).filter(|s| !s.is_empty());
        ImportFilter {
            status: get("status"),
            action: get("action"),
            user: get("user"),
            page: get("page").and_then(|p| p.parse::<u64>().ok()),
        }
    }

    async fn fetch(self) -> Result<ImportList, crate::model::AppError> {
        let user = self.user.as_deref().and_then(|u| u.parse::<i64>().ok());
        list_imports(self.status, self.action, user, self.page).await
    }
}

/// The jobs as the page was rendered with them (`initial`), reloaded when the server pushes
/// a change of a job.
#[island]
fn ImportsList(query: Vec<(String, String)>, initial: ImportList) -> impl IntoView {
    let q = query_map(&query);
    let filter = ImportFilter::from(&q);
    let live = LiveJobs::get();
    let (jobs, _) = crate::components::live::refreshed(initial, 0, move || live.count.get(), {
        let filter = StoredValue::new(filter.clone());
        move || filter.get_value().fetch()
    });
    move || {
        let list = jobs.get();
        let ImportFilter {
            status,
            action,
            user,
            ..
        } = filter.clone();
        let q = q.clone();
        let ImportList {
            jobs: p,
            users,
            can_import,
        } = list;
        let statuses = JobStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), s.label().to_owned()))
            .collect();
        let actions = ImportAction::ALL
            .iter()
            .map(|a| (a.as_str().to_owned(), a.as_str().to_owned()))
            .collect();
        let users: Vec<(String, String)> = users
            .into_iter()
            .map(|u| (u.id.to_string(), u.email))
            .collect();
        view! {
            <div class="page-head with-actions">
                <div>
                    <h1>"Import Data"</h1>
                    <p class="muted">"Every import of clients, accounts and IB partners, with its status."</p>
                </div>
                {can_import.then(|| view! {
                    <div class="actions"><a class="btn btn-primary" href="/imports/new" data-testid="create-import">"+ Create"</a></div>
                })}
            </div>
            <form method="get" action="/imports" class="filters">
                <Choice id="status-filter" name="status" label="Status" options=statuses chosen=status/>
                <Choice id="action-filter" name="action" label="Action" options=actions chosen=action/>
                {(!users.is_empty()).then(|| view! {
                    <Choice id="user-filter" name="user" label="User" options=users chosen=user/>
                })}
                <button class="btn btn-small" type="submit">"Filter"</button>
            </form>
            {if p.items.is_empty() {
                view! { <div class="empty-state"><p>"No imports yet."</p></div> }.into_any()
            } else {
                view! {
                    <p class="summary" data-testid="import-count">{format!("{} imports", grouped(p.total as i64))}</p>
                    <div class="table-wrap">
                    <table class="data-table">
                        <thead><tr>
                            <th>"Title"</th><th>"Action"</th><th>"Created at (UTC)"</th><th>"User"</th>
                            <th>"Status"</th><th>"Rows"</th><th>"Created"</th><th>"Updated"</th>
                            <th>"Unchanged"</th><th>"Errors"</th>
                        </tr></thead>
                        <tbody>
                            {p.items.into_iter().map(|job| view! { <JobRow job/> }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                    <Pager total=p.total page=p.page per_page=p.per_page base="/imports" query=q/>
                }.into_any()
            }}
        }
    }
}

#[component]
fn MessageRow(m: MessageRecord, review: Option<i64>) -> impl IntoView {
    let fix = review.zip(m.line).map(|(job, line)| {
        view! {
            <td class="review">
                <ReviewCell job line column=m.column.clone() value=m.value.clone().unwrap_or_default()/>
            </td>
        }
    });
    view! {
        <tr data-testid="error-row">
            <td class="num">{m.line.map(|l| l.to_string()).unwrap_or_default()}</td>
            <td>{m.column.unwrap_or_default()}</td>
            <td class="value">{m.value.unwrap_or_default()}</td>
            <td>{readable(&m.message)}</td>
            {fix}
        </tr>
    }
}

/// The review's actions on a failing row: correct its cell, or drop the line. The page is
/// loaded again once the server has taken the change.
#[component]
fn ReviewCell(job: i64, line: i64, column: Option<String>, value: String) -> impl IntoView {
    let correct = ServerAction::<CorrectCell>::new();
    let drop = ServerAction::<DropLine>::new();
    reload_when_done(correct);
    reload_when_done(drop);
    let fix = column.map(|column| {
        let label = format!("New value of {column} on line {line}");
        view! {
            <ActionForm action=correct attr:class="inline fix">
                <input type="hidden" name="id" value=job/>
                <input type="hidden" name="line" value=line/>
                <input type="hidden" name="column" value=column/>
                <input type="text" name="value" value=value aria-label=label maxlength="1000"/>
                <button class="btn btn-small" type="submit">"Fix"</button>
            </ActionForm>
        }
    });
    view! {
        {fix}
        <ActionForm action=drop attr:class="inline">
            <input type="hidden" name="id" value=job/>
            <input type="hidden" name="line" value=line/>
            <button class="btn btn-small" type="submit"
                aria-label=format!("Drop line {line}")>"Drop row"</button>
        </ActionForm>
        {action_error(move || correct.value().get())}
        {action_error(move || drop.value().get())}
    }
}

// The job's actions are rendered by its page's island, also in the browser when the job
// changes: they are components (a form island's children exist only as the server rendered
// them). Each loads the page again once the server has taken it.

/// Drops an import that waits for its operator; nothing of it is written.
#[component]
fn DiscardButton(id: i64) -> impl IntoView {
    let discard = ServerAction::<DiscardImport>::new();
    reload_when_done(discard);
    view! {
        <ActionForm action=discard attr:class="inline">
            <input type="hidden" name="id" value=id/>
            <button class="btn" type="submit">"Discard this import"</button>
        </ActionForm>
        {action_error(move || discard.value().get())}
    }
}

/// Discard, on the mapping page (which is no island of its own).
#[island]
fn DiscardForm(id: i64) -> impl IntoView {
    view! { <DiscardButton id/> }
}

/// Runs a validated import for real.
#[component]
fn ConfirmButton(id: i64) -> impl IntoView {
    let confirm = ServerAction::<ConfirmImport>::new();
    reload_when_done(confirm);
    view! {
        <ActionForm action=confirm attr:class="inline">
            <input type="hidden" name="id" value=id/>
            <button class="btn btn-primary" type="submit">"Confirm: import these rows"</button>
        </ActionForm>
        {action_error(move || confirm.value().get())}
    }
}

/// Reverts a finished import; what the revert did is said on the page it reloads.
#[component]
fn RevertButton(id: i64) -> impl IntoView {
    let revert = ServerAction::<RevertImport>::new();
    reload_after(revert, |done: &String| Some(Flash::Done(done.clone())));
    view! {
        <ActionForm action=revert attr:class="inline">
            <input type="hidden" name="id" value=id/>
            <button class="btn btn-danger" type="submit">"Yes, revert this import"</button>
        </ActionForm>
        {action_error(move || revert.value().get())}
    }
}

/// What the job did to its rows, or, checked but not yet confirmed, would do.
fn counts(job: &crate::model::JobRecord) -> String {
    use crate::model::grouped as n;
    let errors = crate::model::error_count(job.errors);
    if job.status == JobStatus::AwaitingConfirmation {
        format!(
            "{} of {} rows checked: would create {}, would update {}, {} unchanged, {errors}. \
             Nothing is written until you confirm.",
            n(job.processed_rows),
            n(job.total_rows),
            n(job.created),
            n(job.updated),
            n(job.unchanged)
        )
    } else {
        format!(
            "{} of {} rows processed: {} created, {} updated, {} unchanged, {errors}.",
            n(job.processed_rows),
            n(job.total_rows),
            n(job.created),
            n(job.updated),
            n(job.unchanged)
        )
    }
}

/// `m:ss` (or `h:mm:ss`) of a number of seconds.
fn clock(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// How fast a running import goes and how long it has left (at `now`); how long a
/// finished one took.
fn pace(job: &crate::model::JobRecord, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let at = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let started = at(&job.started_at)?;
    let running = job.status == JobStatus::InProgress;
    let end = if running { now } else { at(&job.finished_at)? };
    let elapsed = (end - started).num_milliseconds().max(1) as f64 / 1000.0;
    let rate = job.processed_rows as f64 / elapsed;
    let speed = format!("{} rows/s", crate::model::grouped(rate.round() as i64));
    if running {
        let left = (job.total_rows - job.processed_rows).max(0) as f64;
        let remaining = if rate > 0.0 {
            format!("about {} left", clock((left / rate).ceil() as i64))
        } else {
            "time left not known yet".to_owned()
        };
        Some(format!(
            "{speed} · {} elapsed · {remaining}",
            clock(elapsed as i64)
        ))
    } else {
        Some(format!("Took {} ({speed})", clock(elapsed.round() as i64)))
    }
}

#[component]
fn Details(
    details: ImportDetails,
    /// The page's query, kept by the pagers' links.
    query: leptos_router::params::ParamsMap,
) -> impl IntoView {
    let ImportDetails {
        job,
        can_change,
        log,
        errors,
        changes,
    } = details;
    let may_confirm = can_change && job.status == JobStatus::AwaitingConfirmation;
    let may_discard = can_change && job.status.is_awaiting();
    let review = may_confirm.then_some(job.id);
    let may_revert = can_change
        && (!job.validate_only || job.confirmed_at.is_some())
        && job.status.is_revertible();
    let percent = if job.total_rows > 0 {
        (job.processed_rows * 100 / job.total_rows).clamp(0, 100)
    } else {
        0
    };
    let id = job.id;
    let optional = |t: Option<String>| t.as_deref().map(when).unwrap_or_else(|| "—".into());
    view! {
        <div class="page-head">
            <p><a href="/imports">"← Import Data"</a></p>
            <h1>{job.title.clone()} " " <StatusBadge status=job.status/></h1>
            {job.description.clone().map(|d| view! { <p class="muted">{d}</p> })}
        </div>
        // A `<progress>` rather than a styled width: the Content-Security-Policy allows no
        // inline style.
        <progress class="progress" max="100" value=percent.to_string() aria-label="Rows processed">
            {format!("{percent}%")}
        </progress>
        // Read out when it changes: the live page says how the import goes without a look.
        <div aria-live="polite">
            <p class="summary" data-testid="import-counts">{counts(&job)}</p>
            {pace(&job, chrono::Utc::now()).map(|p| view! {
                <p class="muted" data-testid="import-pace">{p}</p>
            })}
        </div>
        <dl class="facts">
            <dt>"Action"</dt><dd>{job.action.clone()}</dd>
            <dt>"File"</dt><dd>{format!("{} ({}, {})", job.file_name, crate::model::file_size(job.file_size.max(0) as u64), job.encoding.clone().unwrap_or_default())}</dd>
            <dt>"Initiated by"</dt><dd data-testid="initiator">{job.initiated_by.email.clone()}</dd>
            <dt>"Created"</dt><dd>{when(&job.created_at)}</dd>
            <dt>"Started"</dt><dd>{optional(job.started_at.clone())}</dd>
            <dt>"Finished"</dt><dd>{optional(job.finished_at.clone())}</dd>
            <dt>"Validate only"</dt><dd>{if job.validate_only { "Yes" } else { "No" }}</dd>
            {job.bulk.then(|| view! {
                <dt>"Bulk mode"</dt>
                <dd data-testid="bulk-mode">"Yes: the client search indexes are dropped while the file loads and rebuilt at its end"</dd>
            })}
            {job.confirmed_at.clone().map(|t| view! { <dt>"Confirmed"</dt><dd>{when(&t)}</dd> })}
            {job.reverted_at.clone().map(|t| view! { <dt>"Reverted"</dt><dd>{when(&t)}</dd> })}
        </dl>
        {job.mapping.clone().map(|mapping| view! {
            <details class="mapping" data-testid="job-mapping">
                <summary>{format!("Column mapping ({} columns chosen)", mapping.len())}</summary>
                <div class="table-wrap"><table class="table compact">
                    <thead><tr><th scope="col">"File column"</th><th scope="col">"Used as"</th></tr></thead>
                    <tbody>
                        {mapping.into_iter().map(|(column, target)| view! {
                            <tr><td>{column}</td><td>{target}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table></div>
            </details>
        })}
        <p class="downloads">
            <a class="btn btn-small" href=format!("/api/v1/imports/{id}/file") download="">"Original file"</a>
            " "
            {(job.errors > 0).then(|| view! {
                <a class="btn btn-small" href=format!("/api/v1/imports/{id}/errors.csv") download=""
                    data-testid="error-report">"Error report (CSV)"</a>
            })}
        </p>
        <div class="job-actions">
            {may_confirm.then(|| view! {
                <ConfirmButton id/>
            })}
            " "
            {may_discard.then(|| view! { <DiscardButton id/> })}
        </div>
        {(!changes.is_empty()).then(|| view! {
            <section class="panel">
                <h2>"What confirming would change"</h2>
                <p class="muted">{format!(
                    "A sample: {} changed fields of the {} that would be updated, from the top \
                     of the file. Nothing has been written yet.",
                    changes.len(),
                    match job.updated { 1 => "row".to_owned(), n => format!("{} rows", grouped(n)) },
                )}</p>
                <ul class="log" data-testid="change-sample">
                    {changes.iter().map(|m| view! { <li>{readable(&m.message)}</li> }).collect_view()}
                </ul>
            </section>
        })}
        {may_revert.then(|| view! {
            <details class="revert">
                <summary class="btn">"Revert…"</summary>
                <p>
                    "Reverting deletes the records this import created and puts back the fields it "
                    "changed. Rows a later import changed again are left as they are and listed in the log."
                </p>
                <RevertButton id/>
            </details>
        })}
        <section class="panel">
            <h2>"Log messages"</h2>
            <ul class="log" data-testid="log">
                {log.items.iter().map(|m| view! { <li>{readable(&m.message)}</li> }).collect_view()}
            </ul>
            {(log.total > log.per_page).then(|| view! {
                <Pager total=log.total page=log.page per_page=log.per_page
                    base=format!("/imports/{id}") query=query.clone() param="log" label="Log pages"/>
            })}
        </section>
        <section class="panel">
            <h2>{format!("Error messages ({})", errors.total)}</h2>
            {if errors.items.is_empty() {
                view! { <p class="muted">"No row errors."</p> }.into_any()
            } else {
                view! {
                    {review.map(|_| view! {
                        <p class="muted" data-testid="review-help">
                            "Correct a failing cell or drop its row: the import is checked again at once, \
                             and nothing is written until you confirm. The original file is kept as uploaded."
                        </p>
                    })}
                    <div class="table-wrap"><table class="data-table">
                        <thead><tr>
                            <th>"Line"</th><th>"Column"</th><th>"Value"</th><th>"Reason"</th>
                            {review.map(|_| view! { <th>"Fix"</th> })}
                        </tr></thead>
                        <tbody>{errors.items.into_iter().map(|m| view! { <MessageRow m review/> }).collect_view()}</tbody>
                    </table></div>
                    <Pager total=errors.total page=errors.page per_page=errors.per_page
                        base=format!("/imports/{id}") query=query param="errors" label="Error pages"/>
                }.into_any()
            }}
        </section>
    }
}

/// One import: metadata, progress, counts, log and row errors, downloads. Rendered whole
/// on the server (a refused job answers 403); in the browser it follows the running import.
#[component]
pub fn ImportDetailsPage() -> impl IntoView {
    let params = use_params_map().get_untracked();
    let query = use_query_map().get_untracked();
    let id = params.get("id").and_then(|id| id.parse::<i64>().ok());
    let errors = query.get("errors").and_then(|p| p.parse::<u64>().ok());
    let log = query.get("log").and_then(|p| p.parse::<u64>().ok());
    let details = Resource::new(
        || (),
        move |_| async move {
            match id {
                Some(id) => show_import(id, errors, log).await,
                None => Err(crate::model::AppError::NotFound(
                    "There is no such import.".into(),
                )),
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let query = query_pairs(&query);
                Suspend::new(async move {
                    match details.await {
                        Ok(initial) => view! {
                            <Title text=format!("Import · {}", initial.job.title)/>
                            <JobView initial query errors log/>
                        }.into_any(),
                        Err(error) => view! { <PageError error/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// The job as the page was rendered with it (`initial`), asked for again when the server
/// pushes a change of it or the live stream reconnects: a running import is watched to its
/// end without reloading the page. Its actions are forms that reload the page.
#[island]
fn JobView(
    initial: ImportDetails,
    query: Vec<(String, String)>,
    errors: Option<u64>,
    log: Option<u64>,
) -> impl IntoView {
    let id = initial.job.id;
    let live = LiveJobs::get();
    let (details, failed) = crate::components::live::refreshed(
        initial,
        (None, 0),
        move || live.job(Some(id)),
        move || show_import(id, errors, log),
    );
    view! {
        {move || failed.get().map(|error| view! { <ErrorNotice error/> })}
        {move || {
            let query = query_map(&query);
            view! { <Details details=details.get() query/> }
        }}
    }
}

/// The mapping step of the import wizard (SPEC §3.5): every column of the file with a few
/// of its values and what it will fill, proposed and changeable. A plain form: it works
/// without JavaScript, and the server checks the choice (a required field left out, or one
/// chosen twice, comes back as the reason).
#[component]
pub fn ImportMappingPage() -> impl IntoView {
    let params = use_params_map().get_untracked();
    let id = params.get("id").and_then(|id| id.parse::<i64>().ok());
    let step = Resource::new(
        || (),
        move |_| async move {
            match id {
                Some(id) => mapping_step(id).await,
                None => Err(crate::model::AppError::NotFound(
                    "There is no such import.".into(),
                )),
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match step.await {
                    Ok(step) => view! {
                        <Title text=format!("Map columns · {}", step.job.title)/>
                        <MappingForm step/>
                    }.into_any(),
                    Err(error) => view! { <PageError error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The form of a mapping step: its table of columns, rendered on the server, sent as it is.
/// Once the mapping is taken the server sends the browser on to the job's page; a mapping
/// it refuses comes back as the reason, above the form.
#[island]
fn ChooseForm(children: Children) -> impl IntoView {
    let choose = ServerAction::<ChooseMapping>::new();
    view! {
        {action_error(move || choose.value().get())}
        <ActionForm action=choose attr:class="panel" attr:data-testid="mapping-form">
            {children()}
        </ActionForm>
    }
}

/// The mapping step, with Discard. A discarded import's page is shown again, saying so.
#[component]
fn MappingForm(step: MappingStep) -> impl IntoView {
    let unmatched = step.mostly_unmatched().then(|| {
        format!(
            "{} of the file's {} columns match no field of {} by their names: is it the right \
             action? Choose what each column fills, keep it as an extra attribute or ignore it; \
             the proposal below is guessed from the names and the values.",
            step.unmatched,
            step.proposal.columns.len(),
            step.job.action
        )
    });
    let MappingStep {
        job,
        proposal,
        fields,
        required,
        extras,
        ..
    } = step;
    let id = job.id;
    let waiting = job.status == JobStatus::AwaitingMapping;
    view! {
        <div class="page-head">
            <p><a href=format!("/imports/{id}")>{format!("← {}", job.title)}</a></p>
            <h1>"Map the file's columns " <StatusBadge status=job.status/></h1>
            <p class="muted">
                {format!(
                    "{} · {} columns, {} rows. Choose what each column fills; nothing is written \
                     until you have reviewed the result and confirmed it.",
                    job.file_name,
                    proposal.columns.len(),
                    job.total_rows
                )}
            </p>
            {unmatched.map(|text| view! {
                <p class="notice notice-warning" role="status" data-testid="unmatched-columns">{text}</p>
            })}
            {proposal.saved.then(|| view! {
                <p class="notice notice-info" role="status" data-testid="saved-mapping">
                    "These columns were mapped the same way last time: that mapping is proposed."
                </p>
            })}
            <p class="muted">{format!("Required: {}.", required.join(", "))}</p>
        </div>
        {if waiting {
            view! {
                <ChooseForm>
                    <input type="hidden" name="id" value=id/>
                    <div class="table-wrap"><table class="table" data-testid="mapping-table">
                        <thead>
                            <tr>
                                <th scope="col">"File column"</th>
                                <th scope="col">"Sample values"</th>
                                <th scope="col">"Fills"</th>
                                <th scope="col">"Why"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {proposal.columns.into_iter().enumerate().map(|(i, c)| {
                                let own_extra = format!("extra:{}", c.column.trim());
                                let mut options: Vec<(String, String)> = fields
                                    .iter()
                                    .map(|f| (f.clone(), f.clone()))
                                    .collect();
                                if extras {
                                    options.push((own_extra.clone(), "Keep as extra attribute".into()));
                                }
                                // A proposed attribute of another name stays a choice.
                                if c.target.starts_with("extra:") && c.target != own_extra {
                                    options.push((c.target.clone(), format!("Extra attribute `{}`", &c.target[6..])));
                                }
                                options.push(("ignore".into(), "Ignore".into()));
                                let label = format!("What column {} fills", c.column);
                                view! {
                                    <tr data-column=c.column.clone()>
                                        <th scope="row">{c.column.clone()}</th>
                                        <td class="samples">{c.samples.join(" · ")}</td>
                                        <td>
                                            <select name=format!("targets[{i}]") aria-label=label>
                                                {options.into_iter().map(|(value, text)| {
                                                    let selected = value == c.target;
                                                    view! { <option value=value selected=selected>{text}</option> }
                                                }).collect_view()}
                                            </select>
                                        </td>
                                        <td class="muted small">{c.reason}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table></div>
                    <button class="btn btn-primary" type="submit">"Review the import"</button>
                </ChooseForm>
                <DiscardForm id/>
            }.into_any()
        } else if job.status == JobStatus::Discarded {
            view! {
                <p class="notice" role="status" data-testid="discarded">
                    "This import was discarded: nothing of it was imported. "
                    <a href=format!("/imports/{id}")>"See the import"</a>
                </p>
            }.into_any()
        } else {
            view! {
                <p class="notice" role="status">
                    "This import's columns are mapped already. "
                    <a href=format!("/imports/{id}")>"See the import"</a>
                </p>
            }.into_any()
        }}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: JobStatus, started: &str, finished: Option<&str>) -> JobRecord {
        JobRecord {
            id: 1,
            title: "t".into(),
            description: None,
            action: "import-users".into(),
            status,
            validate_only: false,
            bulk: false,
            created_at: started.into(),
            started_at: Some(started.into()),
            finished_at: finished.map(Into::into),
            confirmed_at: None,
            reverted_at: None,
            initiated_by: crate::model::UserRef {
                id: 1,
                email: "a@example.com".into(),
            },
            file_name: "f.csv".into(),
            file_size: 1,
            encoding: None,
            total_rows: 100_000,
            processed_rows: 40_000,
            created: 39_999,
            updated: 0,
            unchanged: 0,
            errors: 1,
            mapping: None,
        }
    }

    #[test]
    fn a_running_import_tells_its_pace_and_time_left() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-29T10:00:20Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let running = job(JobStatus::InProgress, "2026-11-29T10:00:00Z", None);
        assert_eq!(
            pace(&running, now).as_deref(),
            Some("2,000 rows/s · 0:20 elapsed · about 0:30 left")
        );
        let done = job(
            JobStatus::Success,
            "2026-11-29T10:00:00Z",
            Some("2026-11-29T11:02:05Z"),
        );
        assert_eq!(
            pace(&done, now).as_deref(),
            Some("Took 1:02:05 (11 rows/s)")
        );
        assert_eq!(
            counts(&running),
            "40,000 of 100,000 rows processed: 39,999 created, 0 updated, 0 unchanged, 1 error."
        );
        let checked = job(
            JobStatus::AwaitingConfirmation,
            "2026-11-29T10:00:00Z",
            None,
        );
        assert!(
            counts(&checked).starts_with(
                "40,000 of 100,000 rows checked: would create 39,999, would update 0,"
            )
        );
    }
}
