//! Admin (SPEC §4): API tokens, projects and desks, and the audit log. Users are in
//! `admin_users`.

use crate::api::admin::{CreateDesk, CreateProject, audit_log, list_projects};
use crate::api::tokens::{CreateToken, RevokeToken, list_tokens};
use crate::components::forms::form_island;
use crate::components::listing::Pager;
use crate::components::notice::{Flash, PageError};
use crate::model::{AuditRecord, ProjectRecord, TokenView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

/// The admin section's own navigation, shown to admins only (anyone else gets the page's
/// "Access denied" without the tabs of pages they may not open).
#[component]
pub fn AdminNav() -> impl IntoView {
    let user = use_context::<crate::components::layout::UserResource>();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let admin = match user {
                    Some(user) => matches!(user.0.await, Ok(Some(u)) if u.is_admin()),
                    None => false,
                };
                admin.then(|| view! {
                    <nav class="tabs" aria-label="Admin">
                        <A href="/admin/users" attr:class="tab">"Users"</A>
                        <A href="/admin/tokens" attr:class="tab">"API tokens"</A>
                        <A href="/admin/projects" attr:class="tab">"Projects and desks"</A>
                        <A href="/admin/audit" attr:class="tab">"Audit log"</A>
                    </nav>
                })
            })}
        </Suspense>
    }
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[component]
fn TokenRow(t: TokenView) -> impl IntoView {
    let id = t.id;
    let revoked = t.revoked_at.is_some();
    let expired = t.expires_at.is_some_and(|end| end <= chrono::Utc::now());
    view! {
        <tr data-testid="token-row">
            <td>{t.name}</td>
            <td>{t.owner_email}</td>
            <td class="nowrap">{when(t.created_at)}</td>
            <td class="nowrap">{t.last_used_at.map(when).unwrap_or_else(|| "never".into())}</td>
            <td class="nowrap">{t.expires_at.map(when).unwrap_or_else(|| "when revoked".into())}</td>
            <td>{if revoked {
                view! { <span class="status status-off">"Revoked"</span> }.into_any()
            } else if expired {
                view! { <span class="status status-off">"Expired"</span> }.into_any()
            } else {
                view! { <span class="status status-ok">"Active"</span> }.into_any()
            }}</td>
            <td>{(!revoked && !expired).then(|| view! {
                <RevokeForm>
                    <input type="hidden" name="id" value=id/>
                    <button class="btn btn-small btn-danger" type="submit">"Revoke"</button>
                </RevokeForm>
            })}</td>
        </tr>
    }
}

form_island!(
    /// Issues a token; its secret is shown once on the reloaded page.
    IssueForm, CreateToken, "filters",
    |token: &crate::model::IssuedTokenView| Some(Flash::Token(token.clone()))
);
form_island!(
    /// Revokes a token.
    RevokeForm, RevokeToken, "inline"
);

/// Admin → API tokens: issue (the secret is shown once), list, revoke.
#[component]
pub fn AdminTokensPage() -> impl IntoView {
    let tokens = Resource::new(|| (), |_| list_tokens());
    view! {
        <Title text="Admin · API tokens"/>
        <div class="page-head">
            <h1>"API tokens"</h1>
            <p class="muted">"Tokens let scripts and other systems use the HTTP API as a back-office user, with that user's role."</p>
        </div>
        <AdminNav/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Err(error) => view! { <PageError error/> }.into_any(),
                    Ok(list) => view! {
                        <section class="panel">
                            <h2>"Issue a token"</h2>
                            <IssueForm>
                                <label for="token-owner">"Acts as (email)"</label>
                                <input id="token-owner" name="owner_email" type="email" required/>
                                <label for="token-name">"Name"</label>
                                <input id="token-name" name="name" type="text" required maxlength="200" placeholder="e.g. nightly CRM sync"/>
                                <label for="token-days">"Valid for"</label>
                                <select id="token-days" name="days">
                                    <option value="30">"30 days"</option>
                                    <option value="90" selected>"90 days"</option>
                                    <option value="365">"1 year"</option>
                                    <option value="">"Until revoked"</option>
                                </select>
                                <button class="btn btn-primary" type="submit">"Issue token"</button>
                            </IssueForm>
                        </section>
                        {if list.is_empty() {
                            view! { <div class="empty-state"><p>"No API tokens yet."</p></div> }.into_any()
                        } else {
                            view! {
                                <div class="table-wrap"><table class="data-table">
                                    <thead><tr><th>"Name"</th><th>"Acts as"</th><th>"Created"</th><th>"Last used"</th><th>"Ends"</th><th>"Status"</th><th></th></tr></thead>
                                    <tbody>{list.into_iter().map(|t| view! { <TokenRow t/> }).collect_view()}</tbody>
                                </table></div>
                            }.into_any()
                        }}
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ProjectPanel(p: ProjectRecord) -> impl IntoView {
    let id = p.id;
    view! {
        <section class="panel" data-testid="project">
            <h2>{p.name.clone()} " " <span class="muted small">{format!("{} clients", p.clients)}</span></h2>
            <p>"Desks: " {p.desks.iter().map(|d| d.name.clone()).collect::<Vec<_>>().join(", ")}</p>
            <DeskForm>
                <input type="hidden" name="project" value=id/>
                <label for=format!("desk-{id}")>"New desk"</label>
                <input id=format!("desk-{id}") name="name" type="text" required/>
                <button class="btn btn-small" type="submit">"Add desk"</button>
            </DeskForm>
        </section>
    }
}

form_island!(
    /// A new project.
    ProjectForm, CreateProject, "filters"
);
form_island!(
    /// A new desk of a project.
    DeskForm, CreateDesk, "filters"
);

/// Admin → Projects and desks.
#[component]
pub fn AdminProjectsPage() -> impl IntoView {
    let projects = Resource::new(|| (), |_| list_projects());
    view! {
        <Title text="Admin · Projects and desks"/>
        <div class="page-head">
            <h1>"Projects and desks"</h1>
            <p class="muted">"Every client belongs to a project and one of its desks; client files name them in the Project and Desk columns."</p>
        </div>
        <AdminNav/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match projects.await {
                    Err(error) => view! { <PageError error/> }.into_any(),
                    Ok(list) => view! {
                        <ProjectForm>
                            <label for="project-name">"New project"</label>
                            <input id="project-name" name="name" type="text" required/>
                            <button class="btn btn-primary" type="submit">"Create project"</button>
                        </ProjectForm>
                        {list.into_iter().map(|p| view! { <ProjectPanel p/> }).collect_view()}
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AuditRow(e: AuditRecord) -> impl IntoView {
    view! {
        <tr data-testid="audit-row">
            <td class="nowrap">{chrono::DateTime::parse_from_rfc3339(&e.at).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or(e.at)}</td>
            <td>{e.actor.unwrap_or_else(|| "—".into())}</td>
            <td><code>{e.action}</code></td>
            <td>{e.subject.unwrap_or_default()}</td>
            <td>{e.details.unwrap_or_default()}</td>
            <td>{e.remote_addr.unwrap_or_default()}</td>
        </tr>
    }
}

/// Admin → Audit log, filtered by user and action.
#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &str| query.read().get(k).filter(|v| !v.is_empty());
    let log = Resource::new(
        move || {
            (
                get("actor"),
                get("action"),
                get("page").and_then(|p| p.parse::<u64>().ok()),
            )
        },
        |(actor, action, page)| audit_log(actor, action, page),
    );
    view! {
        <Title text="Admin · Audit log"/>
        <div class="page-head">
            <h1>"Audit log"</h1>
            <p class="muted">"Who did what, to what, from where. Newest first."</p>
        </div>
        <AdminNav/>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match log.await {
                    Err(error) => view! { <PageError error/> }.into_any(),
                    Ok((page, actions)) => {
                        let chosen = get("action");
                        view! {
                            <form method="get" action="/admin/audit" class="filters" role="search">
                                <label for="actor">"User (email)"</label>
                                <input id="actor" name="actor" type="search" value=get("actor")/>
                                <label for="audit-action">"Action"</label>
                                <select id="audit-action" name="action">
                                    <option value="">"Any"</option>
                                    {actions.into_iter().map(|a| {
                                        let selected = chosen.as_deref() == Some(a.as_str());
                                        view! { <option value=a.clone() selected=selected>{a.clone()}</option> }
                                    }).collect_view()}
                                </select>
                                <button class="btn btn-small" type="submit">"Filter"</button>
                            </form>
                            {if page.items.is_empty() {
                                view! { <div class="empty-state"><p>"No entries match."</p></div> }.into_any()
                            } else {
                                view! {
                                    <div class="table-wrap">
                                    <table class="data-table">
                                        <thead><tr><th>"When (UTC)"</th><th>"User"</th><th>"Action"</th><th>"Subject"</th><th>"Details"</th><th>"From"</th></tr></thead>
                                        <tbody>{page.items.into_iter().map(|e| view! { <AuditRow e/> }).collect_view()}</tbody>
                                    </table>
                                    </div>
                                    <Pager total=page.total page=page.page per_page=page.per_page base="/admin/audit" query=query.get_untracked()/>
                                }.into_any()
                            }}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
