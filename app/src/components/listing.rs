//! Pieces of the browsing lists: links that keep the current view, sortable column
//! headers and the pager. Everything is a plain link, so lists work without JavaScript.

use leptos::prelude::*;
use leptos_router::params::ParamsMap;

/// `base` with the current query, changed by `set` (`None` removes a key). The page
/// number and a refused upload's message never carry over to another view.
pub fn link(base: &str, query: &ParamsMap, set: &[(&str, Option<String>)]) -> String {
    let mut q = query.clone();
    q.remove("import_error");
    if !set.iter().any(|(k, _)| *k == "page") {
        q.remove("page");
    }
    for (key, value) in set {
        q.remove(key);
        if let Some(v) = value {
            q.replace(key.to_string(), v.clone());
        }
    }
    format!("{base}{}", q.to_query_string())
}

/// A page's query as an island receives it: pairs of key and value, in order.
pub fn query_pairs(query: &ParamsMap) -> Vec<(String, String)> {
    query
        .clone()
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v))
        .collect()
}

/// The query an island was given, back as a map (its values as they were, not unescaped
/// a second time).
pub fn query_map(pairs: &[(String, String)]) -> ParamsMap {
    let mut map = ParamsMap::new();
    for (k, v) in pairs {
        map.insert(k.clone(), leptos_router::location::Url::escape(v));
    }
    map
}

/// A column header that sorts the list by `column`, and the other way on a second click.
#[component]
pub fn SortHeader(
    label: &'static str,
    column: &'static str,
    base: &'static str,
    query: Memo<ParamsMap>,
) -> impl IntoView {
    move || {
        let q = query.get();
        let current = q.get_str("sort") == Some(column);
        let desc = q.get_str("dir") == Some("desc");
        let next_dir = if current && !desc { "desc" } else { "asc" };
        let href = link(
            base,
            &q,
            &[
                ("sort", Some(column.to_owned())),
                ("dir", Some(next_dir.to_owned())),
            ],
        );
        let (mark, aria) = match (current, desc) {
            (true, false) => (" ▲", "ascending"),
            (true, true) => (" ▼", "descending"),
            _ => ("", "none"),
        };
        view! {
            <th aria-sort=aria><a class="sort" href=href>{label}{mark}</a></th>
        }
    }
}

/// Previous and next links and where the reader is.
#[component]
pub fn Pager(
    total: u64,
    page: u64,
    per_page: u64,
    #[prop(into)] base: String,
    query: ParamsMap,
    /// `total` is a lower bound: there are more rows than it says.
    #[prop(optional)]
    more: bool,
    /// The query key of the page number, for a page with more than one list.
    #[prop(default = "page")]
    param: &'static str,
    #[prop(default = "Pages")] label: &'static str,
) -> impl IntoView {
    let last = total.div_ceil(per_page.max(1)).max(1);
    let to = |n: u64| link(&base, &query, &[(param, Some(n.to_string()))]);
    let place = if more {
        format!("Page {page}")
    } else {
        format!("Page {page} of {last}")
    };
    view! {
        <nav class="pager" aria-label=label>
            {(page > 1).then(|| view! { <a href=to(page - 1) rel="prev">"← Previous"</a> })}
            <span class="muted">{place}</span>
            {(more || page < last).then(|| view! { <a href=to(page + 1) rel="next">"Next →"</a> })}
        </nav>
    }
}

/// `2026-11-21T10:00:00+00:00` as `2026-11-21 10:00 UTC`.
pub fn when(iso: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(iso)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| iso.to_owned())
}

/// `2026-11-21T10:00:00+00:00` as `2026-11-21`.
pub fn day(iso: &str) -> String {
    iso.get(..10).unwrap_or(iso).to_owned()
}

/// A person's name from its parts.
pub fn full_name(first: &str, last: Option<&str>) -> String {
    match last {
        Some(l) if !l.is_empty() => format!("{first} {l}"),
        _ => first.to_owned(),
    }
}

/// A labelled `<select>` of a filter form, with "Any" first.
#[component]
pub fn Choice(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    options: Vec<(String, String)>,
    chosen: Option<String>,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <select id=id name=name>
            <option value="">"Any"</option>
            {options.into_iter().map(|(value, text)| {
                let selected = chosen.as_deref() == Some(value.as_str());
                view! { <option value=value selected=selected>{text}</option> }
            }).collect_view()}
        </select>
    }
}

/// "Export CSV" of a list's current view, offered to those who may export (SPEC §1:
/// managers and admins).
#[component]
pub fn ExportLink(href: Signal<String>) -> impl IntoView {
    let user = use_context::<super::layout::UserResource>();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let exporter = match user {
                    Some(user) => matches!(
                        user.0.await,
                        Ok(Some(u)) if crate::model::policy::may_export(u.role)
                    ),
                    None => false,
                };
                exporter.then(|| view! {
                    <a class="btn" href=href download="" data-testid="export">"Export CSV"</a>
                })
            })}
        </Suspense>
    }
}
