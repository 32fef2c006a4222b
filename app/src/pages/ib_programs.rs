//! IB Programs (SPEC §4): programs with partner and referral counts, created and renamed
//! by admins; a program's page with its Introducing Brokers and Clients tabs.

use crate::api::browse::{CreateProgram, RenameProgram, list_programs, show_program};
use crate::components::forms::form_island;
use crate::components::import_form::ImportDialog;
use crate::components::listing::{Pager, day, full_name};
use crate::components::notice::PageError;
use crate::model::{AppError, ClientRef, ImportAction, ProgramDetails, ProgramRecord};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
fn ProgramRow(p: ProgramRecord, admin: bool) -> impl IntoView {
    let id = p.id;
    view! {
        <tr data-testid="program-row">
            <td class="num">{p.id}</td>
            <td><a href=format!("/ib-programs/{id}")>{p.name.clone()}</a></td>
            <td class="num">{p.partners}</td>
            <td class="num">{p.referrals}</td>
            <td class="nowrap">{day(&p.created_at)}</td>
            {admin.then(|| view! {
                <td>
                    <RenameForm>
                        <input type="hidden" name="id" value=id/>
                        <label class="visually-hidden" for=format!("rename-{id}")>{format!("New name for program {id}")}</label>
                        <input id=format!("rename-{id}") name="name" type="text" required value=p.name.clone()/>
                        <button class="btn btn-small" type="submit">"Rename"</button>
                    </RenameForm>
                </td>
            })}
        </tr>
    }
}

form_island!(
    /// A program's new name.
    RenameForm, RenameProgram, "inline rename"
);
form_island!(
    /// A new program.
    CreateProgramForm, CreateProgram, "filters"
);

#[component]
pub fn IbProgramsPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_programs());
    view! {
        <Title text="IB Programs"/>
        <div class="page-head with-actions">
            <div>
                <h1>"IB Programs"</h1>
                <p class="muted">"Introducing-broker partner programs, their partners and referrals."</p>
            </div>
            <div class="actions">
                <ImportDialog from="ib-programs" action=ImportAction::Ibs/>
            </div>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(error) => view! { <PageError error/> }.into_any(),
                    Ok((programs, admin)) => view! {
                        {admin.then(|| view! {
                            <CreateProgramForm>
                                <label for="program-id">"IB Type ID"</label>
                                <input id="program-id" name="id" type="number" min="1" size="6" placeholder="auto"/>
                                <label for="program-name">"Name"</label>
                                <input id="program-name" name="name" type="text" required placeholder="e.g. Gold"/>
                                <button class="btn btn-primary" type="submit">"Create program"</button>
                            </CreateProgramForm>
                        })}
                        {if programs.is_empty() {
                            view! { <div class="empty-state"><p>
                                "No IB programs yet. An admin creates them here; IB files then refer to them by IB Type ID."
                            </p></div> }.into_any()
                        } else {
                            view! {
                                <div class="table-wrap">
                                <table class="data-table">
                                    <thead><tr>
                                        <th>"IB Type ID"</th><th>"Name"</th><th>"Partners"</th><th>"Referrals"</th><th>"Created"</th>
                                        {admin.then(|| view! { <th>"Rename"</th> })}
                                    </tr></thead>
                                    <tbody>
                                        {programs.into_iter().map(|p| view! { <ProgramRow p admin/> }).collect_view()}
                                    </tbody>
                                </table>
                                </div>
                            }.into_any()
                        }}
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn client_cell(c: &ClientRef) -> impl IntoView + use<> {
    let name = full_name(&c.first_name, c.last_name.as_deref());
    view! {
        <td><a href=format!("/clients/{}", c.id)>{name}</a></td>
        <td>{c.email.clone()}</td>
    }
}

/// Arrow keys (and Home, End) move between the tabs of a tab list inside it, as in any
/// tab list; Tab leaves it from the selected tab, and Enter opens the focused one.
#[island]
fn TabKeys(children: Children) -> impl IntoView {
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        use leptos::wasm_bindgen::JsCast;
        let Some(tab) = ev
            .target()
            .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
            .filter(|t| t.get_attribute("role").as_deref() == Some("tab"))
        else {
            return;
        };
        let Some(list) = tab.parent_element() else {
            return;
        };
        let next = match ev.key().as_str() {
            "ArrowRight" => tab
                .next_element_sibling()
                .or_else(|| list.first_element_child()),
            "ArrowLeft" => tab
                .previous_element_sibling()
                .or_else(|| list.last_element_child()),
            "Home" => list.first_element_child(),
            "End" => list.last_element_child(),
            _ => return,
        };
        if let Some(next) = next.and_then(|n| n.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
            ev.prevent_default();
            let _ = next.focus();
        }
    };
    view! { <div on:keydown=on_key>{children()}</div> }
}

#[component]
fn ProgramView(d: ProgramDetails, clients_tab: bool) -> impl IntoView {
    let ProgramDetails {
        program,
        partners,
        clients,
    } = d;
    let id = program.id;
    let query = use_query_map().get_untracked();
    view! {
        <Title text=format!("IB program · {}", program.name)/>
        <div class="page-head">
            <p><a href="/ib-programs">"← IB Programs"</a></p>
            <h1>{program.name.clone()} " " <span class="muted small">{format!("IB Type ID {id}")}</span></h1>
            <p class="muted">{format!("{} partners, {} referrals", program.partners, program.referrals)}</p>
        </div>
        <TabKeys>
            <nav class="tabs" role="tablist" aria-label="Program">
                <a role="tab" href=format!("/ib-programs/{id}") aria-selected=(!clients_tab).to_string()
                    tabindex=if clients_tab { "-1" } else { "0" }
                    class=if clients_tab { "tab" } else { "tab active" }>"Introducing Brokers"</a>
                <a role="tab" href=format!("/ib-programs/{id}?tab=clients") aria-selected=clients_tab.to_string()
                    tabindex=if clients_tab { "0" } else { "-1" }
                    class=if clients_tab { "tab active" } else { "tab" }>"Clients"</a>
            </nav>
        </TabKeys>
        {partners.map(|page| if page.items.is_empty() {
            view! { <div class="empty-state"><p>"No partners in this program yet. An IB file (import-ibs) adds them."</p></div> }.into_any()
        } else {
            view! {
                <div class="table-wrap"><table class="data-table" data-testid="partners">
                    <thead><tr><th>"Partner"</th><th>"Email"</th><th>"Referrals"</th><th>"Joined"</th></tr></thead>
                    <tbody>
                        {page.items.iter().map(|p| view! {
                            <tr>{client_cell(&p.client)}<td class="num">{p.referrals}</td><td>{day(&p.joined_at)}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table></div>
                <Pager total=page.total page=page.page per_page=page.per_page base="" query=query.clone()/>
            }.into_any()
        })}
        {clients.map(|page| if page.items.is_empty() {
            view! { <div class="empty-state"><p>"No referred clients in this program yet."</p></div> }.into_any()
        } else {
            view! {
                <div class="table-wrap"><table class="data-table" data-testid="referred-clients">
                    <thead><tr><th>"Client"</th><th>"Email"</th><th>"Partner"</th><th>"Partner email"</th><th>"Since"</th></tr></thead>
                    <tbody>
                        {page.items.iter().map(|r| view! {
                            <tr>{client_cell(&r.client)}{client_cell(&r.partner)}<td>{day(&r.created_at)}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table></div>
                <Pager total=page.total page=page.page per_page=page.per_page base="" query=query.clone()/>
            }.into_any()
        })}
    }
}

/// One program, with the tab the address names.
#[component]
pub fn IbProgramPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        (
            params
                .read()
                .get("id")
                .and_then(|id| id.parse::<i64>().ok()),
            query.read().get("tab").as_deref() == Some("clients"),
            query.read().get("page").and_then(|p| p.parse::<u64>().ok()),
        )
    };
    let details = Resource::new(key, |(id, clients, page)| async move {
        match id {
            Some(id) => show_program(id, clients, page).await.map(|d| (d, clients)),
            None => Err(AppError::NotFound("There is no such IB program.".into())),
        }
    });
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match details.await {
                    Ok((d, clients_tab)) => view! { <ProgramView d clients_tab/> }.into_any(),
                    Err(error) => view! { <PageError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}
