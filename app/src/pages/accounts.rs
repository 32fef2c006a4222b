//! Accounts (SPEC §4): trading accounts with their clients; search, filters, sort, export.

use crate::api::browse::list_accounts;
use crate::components::import_form::ImportDialog;
use crate::components::listing::{ExportLink, Pager, SortHeader, day, full_name, link};
use crate::components::notice::PageError;
use crate::model::{AccountFilter, AccountRecord, AppError, ImportAction};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
fn AccountRow(a: AccountRecord) -> impl IntoView {
    let name = full_name(&a.client.first_name, a.client.last_name.as_deref());
    view! {
        <tr data-testid="account-row">
            <td>{a.account_number}</td>
            <td><a href=format!("/clients/{}", a.client.id)>{name}</a></td>
            <td>{a.client.email}</td>
            <td class="num">{a.product_id}</td>
            <td>{a.currency}</td>
            <td class="nowrap">{day(&a.created_at)}</td>
        </tr>
    }
}

#[component]
pub fn AccountsPage() -> impl IntoView {
    let query = use_query_map();
    let query = Memo::new(move |_| query.get());
    let filter = move || AccountFilter::from_query(|k| query.read().get(k));
    let page = move || query.read().get("page").and_then(|p| p.parse::<u64>().ok());
    let list = Resource::new(
        move || (filter(), page()),
        |(filter, page)| async move {
            match filter {
                Ok(filter) => list_accounts(filter.clone(), page)
                    .await
                    .map(|l| (l, filter)),
                Err(reason) => Err(AppError::Request(reason)),
            }
        },
    );
    let get = move |k: &str| query.read_untracked().get(k).filter(|v| !v.is_empty());
    let export = Signal::derive(move || link("/api/v1/accounts.csv", &query.get(), &[]));
    let header = move |label: &'static str, column: &'static str| {
        view! { <SortHeader label column base="/accounts" query/> }
    };
    view! {
        <Title text="Accounts"/>
        <div class="page-head with-actions">
            <div>
                <h1>"Accounts"</h1>
                <p class="muted">"Trading accounts and the clients who own them."</p>
            </div>
            <div class="actions">
                <ExportLink href=export/>
                <ImportDialog from="accounts" action=ImportAction::Accounts/>
            </div>
        </div>
        <form method="get" action="/accounts" class="filters filters-grid" role="search">
            <div class="field field-wide">
                <label for="search">"Search"</label>
                <input id="search" name="search" type="search" value=get("search")
                    placeholder="Start of an account number, or of the client's email, name or phone"/>
            </div>
            <div class="field">
                <label for="currency">"Currency"</label>
                <input id="currency" name="currency" type="text" size="6" maxlength="6" value=get("currency") placeholder="USD"/>
            </div>
            <div class="field">
                <label for="product_id">"Product"</label>
                <input id="product_id" name="product_id" type="number" min="1" value=get("product_id")/>
            </div>
            {get("sort").map(|s| view! { <input type="hidden" name="sort" value=s/> })}
            {get("dir").map(|d| view! { <input type="hidden" name="dir" value=d/> })}
            <div class="field field-buttons">
                <button class="btn btn-primary" type="submit">"Apply"</button>
                <a class="btn btn-quiet" href="/accounts">"Clear"</a>
            </div>
        </form>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(error) => view! { <PageError error/> }.into_any(),
                    Ok((page, filter)) if page.items.is_empty() => {
                        let text = if filter == (AccountFilter { sort: filter.sort.clone(), ..Default::default() }) {
                            "No trading accounts yet. Accounts arrive through an import of an account file: use Import above."
                        } else {
                            "No account matches this search and these filters."
                        };
                        view! { <div class="empty-state"><p>{text}</p></div> }.into_any()
                    }
                    Ok((page, _)) => view! {
                        <p class="summary" data-testid="account-count">{format!("{} accounts", crate::model::grouped(page.total as i64))}</p>
                        <div class="table-wrap">
                        <table class="data-table">
                            <thead><tr>
                                {header("Account number", "account_number")}
                                {header("Client", "client")}
                                <th>"Email"</th>
                                {header("Product", "product_id")}
                                {header("Currency", "currency")}
                                {header("Created", "created_at")}
                            </tr></thead>
                            <tbody>
                                {page.items.into_iter().map(|a| view! { <AccountRow a/> }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                        <Pager total=page.total page=page.page per_page=page.per_page base="/accounts" query=query.get_untracked()/>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
