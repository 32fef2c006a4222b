//! Clients (SPEC §4): the list with search, filters, sort and export, the Import dialog,
//! and one client's page.

use crate::api::browse::{list_clients, show_client};
use crate::components::import_form::ImportDialog;
use crate::components::listing::{
    Choice, ExportLink, Pager, SortHeader, day, full_name, link, when,
};
use crate::components::notice::PageError;
use crate::model::{
    AccountRecord, AppError, ClientDetails, ClientFilter, ClientList, ClientRecord, ImportAction,
    ReferralRecord,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use leptos_router::params::ParamsMap;

#[component]
fn ClientRow(c: ClientRecord) -> impl IntoView {
    view! {
        <tr data-testid="client-row">
            <td class="num"><a href=format!("/clients/{}", c.id)>{c.id}</a></td>
            <td>{c.first_name}</td>
            <td>{c.last_name.unwrap_or_default()}</td>
            <td><a href=format!("/clients/{}", c.id)>{c.email}</a></td>
            <td>{c.project.name}</td>
            <td>{c.desk.name}</td>
            <td>{if c.active { "Yes" } else { "No" }}</td>
            <td>{c.client_type}</td>
            <td>{c.country.unwrap_or_default()}</td>
            <td class="num">{c.verification_level}</td>
            <td class="nowrap">{day(&c.created_at)}</td>
        </tr>
    }
}

#[component]
fn Filters(list: ClientList, query: ParamsMap) -> impl IntoView {
    let get = |k: &str| query.get(k).filter(|v| !v.is_empty());
    let named = |items: &[crate::model::Named]| {
        items
            .iter()
            .map(|n| (n.id.to_string(), n.name.clone()))
            .collect::<Vec<_>>()
    };
    let pairs = |items: &[(&str, &str)]| {
        items
            .iter()
            .map(|(v, t)| (v.to_string(), t.to_string()))
            .collect::<Vec<_>>()
    };
    view! {
        <form method="get" action="/clients" class="filters filters-grid" role="search">
            <div class="field field-wide">
                <label for="search">"Search"</label>
                <input id="search" name="search" type="search" value=get("search")
                    placeholder="Start of an email, first or last name, or phone"/>
            </div>
            <div class="field"><Choice id="project" name="project" label="Project" options=named(&list.projects) chosen=get("project")/></div>
            <div class="field"><Choice id="desk" name="desk" label="Desk" options=named(&list.desks) chosen=get("desk")/></div>
            <div class="field"><Choice id="active" name="active" label="Active" options=pairs(&[("true", "Active"), ("false", "Inactive")]) chosen=get("active")/></div>
            <div class="field"><Choice id="type" name="type" label="Type" options=pairs(&[("personal", "Personal"), ("corporate", "Corporate")]) chosen=get("type")/></div>
            <div class="field">
                <label for="country">"Country"</label>
                <input id="country" name="country" type="text" size="3" maxlength="2" value=get("country") placeholder="GB"/>
            </div>
            <div class="field">
                <label for="verification_level">"Verification"</label>
                <input id="verification_level" name="verification_level" type="number" min="0" value=get("verification_level")/>
            </div>
            <div class="field">
                <label for="created_from">"Created from"</label>
                <input id="created_from" name="created_from" type="date" value=get("created_from")/>
            </div>
            <div class="field">
                <label for="created_to">"Created to"</label>
                <input id="created_to" name="created_to" type="date" value=get("created_to")/>
            </div>
            {get("sort").map(|s| view! { <input type="hidden" name="sort" value=s/> })}
            {get("dir").map(|d| view! { <input type="hidden" name="dir" value=d/> })}
            <div class="field field-buttons">
                <button class="btn btn-primary" type="submit">"Apply"</button>
                <a class="btn btn-quiet" href="/clients">"Clear"</a>
            </div>
        </form>
    }
}

/// Whether any search or filter narrows the list.
fn narrowed(filter: &ClientFilter) -> bool {
    let ClientFilter { sort: _, .. } = filter;
    *filter
        != ClientFilter {
            sort: filter.sort.clone(),
            ..Default::default()
        }
}

#[component]
pub fn ClientsPage() -> impl IntoView {
    let query = use_query_map();
    let query = Memo::new(move |_| query.get());
    let filter = move || ClientFilter::from_query(|k| query.read().get(k));
    let page = move || query.read().get("page").and_then(|p| p.parse::<u64>().ok());
    let list = Resource::new(
        move || (filter(), page()),
        |(filter, page)| async move {
            match filter {
                Ok(filter) => list_clients(filter.clone(), page)
                    .await
                    .map(|l| (l, filter)),
                Err(reason) => Err(AppError::Request(reason)),
            }
        },
    );
    let export = Signal::derive(move || link("/api/v1/clients.csv", &query.get(), &[]));
    let header = move |label: &'static str, column: &'static str| {
        view! { <SortHeader label column base="/clients" query/> }
    };
    view! {
        <Title text="Clients"/>
        <div class="page-head with-actions">
            <div>
                <h1>"Clients"</h1>
                <p class="muted">"Everyone who holds an account with the broker."</p>
            </div>
            <div class="actions">
                <ExportLink href=export/>
                <ImportDialog from="clients" action=ImportAction::Users/>
            </div>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(error) => view! { <PageError error/> }.into_any(),
                    Ok((list, filter)) => {
                        let page = list.page.clone();
                        let empty = if narrowed(&filter) {
                            "No client matches this search and these filters."
                        } else {
                            "No clients yet. Clients arrive through an import of a client file: use Import above."
                        };
                        view! {
                            <Filters list=list.clone() query=query.get_untracked()/>
                            {if page.items.is_empty() {
                                view! { <div class="empty-state"><p>{empty}</p></div> }.into_any()
                            } else {
                                view! {
                                    <p class="summary" data-testid="client-count">{if list.total_exact {
                                        format!("{} clients", crate::model::grouped(page.total as i64))
                                    } else {
                                        format!("More than {} clients", crate::model::grouped(page.total as i64))
                                    }}</p>
                                    <div class="table-wrap">
                                    <table class="data-table">
                                        <thead><tr>
                                            {header("ID", "id")}
                                            {header("First name", "first_name")}
                                            {header("Last name", "last_name")}
                                            {header("Email", "email")}
                                            {header("Project", "project")}
                                            {header("Desk", "desk")}
                                            {header("Active", "active")}
                                            {header("Type", "type")}
                                            {header("Country", "country")}
                                            {header("Verification", "verification_level")}
                                            {header("Created", "created_at")}
                                        </tr></thead>
                                        <tbody>
                                            {page.items.into_iter().map(|c| view! { <ClientRow c/> }).collect_view()}
                                        </tbody>
                                    </table>
                                    </div>
                                    <Pager total=page.total page=page.page per_page=page.per_page base="/clients" query=query.get_untracked() more=!list.total_exact/>
                                }.into_any()
                            }}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

fn client_link(c: &crate::model::ClientRef) -> impl IntoView + use<> {
    let name = full_name(&c.first_name, c.last_name.as_deref());
    view! { <a href=format!("/clients/{}", c.id)>{name}</a> " " <span class="muted">{c.email.clone()}</span> }
}

#[component]
fn AccountsTable(accounts: Vec<AccountRecord>) -> impl IntoView {
    if accounts.is_empty() {
        return view! { <p class="muted">"No trading accounts."</p> }.into_any();
    }
    view! {
        <div class="table-wrap"><table class="data-table">
            <thead><tr><th>"Account number"</th><th>"Product"</th><th>"Currency"</th><th>"Created"</th></tr></thead>
            <tbody>
                {accounts.into_iter().map(|a| view! {
                    <tr><td>{a.account_number}</td><td class="num">{a.product_id}</td><td>{a.currency}</td><td>{day(&a.created_at)}</td></tr>
                }).collect_view()}
            </tbody>
        </table></div>
    }
    .into_any()
}

#[component]
fn ReferralList(
    rows: Vec<ReferralRecord>,
    show_partner: bool,
    empty: &'static str,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">{empty}</p> }.into_any();
    }
    view! {
        <ul class="plain">
            {rows.into_iter().map(|r| {
                let who = if show_partner { r.partner } else { r.client };
                view! {
                    <li>{client_link(&who)} " in "
                        <a href=format!("/ib-programs/{}", r.program.id)>{r.program.name}</a></li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn Details(d: ClientDetails) -> impl IntoView {
    let ClientDetails {
        client: c,
        accounts,
        memberships,
        referred_by,
        referrals,
        imports,
        attributes,
    } = d;
    let text = |v: Option<String>| v.filter(|s| !s.is_empty()).unwrap_or_else(|| "—".into());
    let name = full_name(&c.first_name, c.last_name.as_deref());
    view! {
        <Title text=format!("Client · {name}")/>
        <div class="page-head">
            <p><a href="/clients">"← Clients"</a></p>
            <h1>{name.clone()} " " <span class="muted small">{format!("#{}", c.id)}</span></h1>
        </div>
        <section class="panel">
            <dl class="facts" data-testid="client-facts">
                <dt>"Email"</dt><dd>{c.email.clone()}</dd>
                <dt>"Username"</dt><dd>{c.username.clone()}</dd>
                <dt>"First name"</dt><dd>{c.first_name.clone()}</dd>
                <dt>"Middle name"</dt><dd>{text(c.middle_name.clone())}</dd>
                <dt>"Last name"</dt><dd>{text(c.last_name.clone())}</dd>
                <dt>"Date of birth"</dt><dd>{text(c.date_of_birth.clone())}</dd>
                <dt>"Country"</dt><dd>{text(c.country.clone())}</dd>
                <dt>"Phone"</dt><dd>{text(c.phone.clone())}</dd>
                <dt>"Address"</dt><dd>{text(c.address.clone())}</dd>
                <dt>"City"</dt><dd>{text(c.city.clone())}</dd>
                <dt>"Postal code"</dt><dd>{text(c.postal_code.clone())}</dd>
                <dt>"Verification level"</dt><dd>{c.verification_level}</dd>
                <dt>"Project / desk"</dt><dd>{format!("{} / {}", c.project.name, c.desk.name)}</dd>
                <dt>"Active"</dt><dd>{if c.active { "Yes" } else { "No" }}</dd>
                <dt>"Type"</dt><dd>{c.client_type.clone()}</dd>
                <dt>"Created"</dt><dd>{when(&c.created_at)}</dd>
                <dt>"Updated"</dt><dd>{when(&c.updated_at)}</dd>
            </dl>
        </section>
        <section class="panel">
            <h2>"Extra attributes"</h2>
            {if attributes.is_empty() {
                view! { <p class="muted">"None: no import kept a column of its own for this client."</p> }.into_any()
            } else {
                view! {
                    <dl class="facts" data-testid="client-attributes">
                        {attributes.into_iter().map(|(name, value)| view! {
                            <dt>{name}</dt><dd>{value}</dd>
                        }).collect_view()}
                    </dl>
                }.into_any()
            }}
        </section>
        <section class="panel">
            <h2>"Accounts"</h2>
            <AccountsTable accounts/>
        </section>
        <div class="two-columns">
            <section class="panel">
                <h2>"IB memberships"</h2>
                {if memberships.is_empty() {
                    view! { <p class="muted">"Not a partner in any IB program."</p> }.into_any()
                } else {
                    view! {
                        <ul class="plain">
                            {memberships.into_iter().map(|m| view! {
                                <li><a href=format!("/ib-programs/{}", m.program.id)>{m.program.name}</a>
                                    {format!(" · {} referrals", m.referrals)}</li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                <h2>"Referred by"</h2>
                <ReferralList rows=referred_by show_partner=true empty="No referring partner."/>
            </section>
            <section class="panel">
                <h2>"Referrals"</h2>
                <ReferralList rows=referrals show_partner=false empty="Has referred nobody."/>
            </section>
        </div>
        <section class="panel">
            <h2>"Imports"</h2>
            {if imports.is_empty() {
                view! { <p class="muted">"No import created or changed this client."</p> }.into_any()
            } else {
                view! {
                    <ul class="plain" data-testid="client-imports">
                        {imports.into_iter().map(|t| view! {
                            <li>{if t.operation == "created" { "Created by " } else { "Changed by " }}
                                <a href=format!("/imports/{}", t.job.id)>{t.job.title}</a>
                                <span class="muted">{format!(" · {} · {}", t.job.initiated_by.email, day(&t.job.created_at))}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

/// One client with everything linked to it.
#[component]
pub fn ClientPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
    };
    let details = Resource::new(id, |id| async move {
        match id {
            Some(id) => show_client(id).await,
            None => Err(AppError::NotFound("There is no such client.".into())),
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match details.await {
                    Ok(d) => view! { <Details d/> }.into_any(),
                    Err(error) => view! { <PageError error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
