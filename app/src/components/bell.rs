//! The bell in the header (SPEC §3.4): unread notifications about the user's imports.

use super::live::LiveJobs;
use crate::api::notifications::{MarkRead, load_notifications};
use crate::model::{NotificationRecord, Notifications};
use leptos::prelude::*;

#[component]
fn Item(n: NotificationRecord, mark: ServerAction<MarkRead>) -> impl IntoView {
    let NotificationRecord {
        id,
        job_id,
        job_title,
        text,
        created_at,
        read,
        job_errors,
    } = n;
    view! {
        <li class=if read { "note" } else { "note unread" } data-testid="notification">
            <span class="note-head">
                {job_title.map(|title| view! { <strong class="note-title">{title}</strong> " " })}
                <span class="muted note-time">{crate::components::listing::when(&created_at)}</span>
            </span>
            <span class="note-text">{super::notice::readable(&text)}</span>
            <span class="note-links">
                {job_id.map(|j| view! { <a href=format!("/imports/{j}")>"Details"</a> })}
                {job_id.filter(|_| job_errors > 0).map(|j| view! {
                    <a href=format!("/api/v1/imports/{j}/errors.csv") download="">"Error report"</a>
                })}
                {(!read).then(|| view! {
                    <ActionForm action=mark attr:class="inline">
                        <input type="hidden" name="id" value=id/>
                        <button class="linklike" type="submit">"Mark read"</button>
                    </ActionForm>
                })}
            </span>
        </li>
    }
}

#[component]
fn Panel(list: Notifications, mark: ServerAction<MarkRead>) -> impl IntoView {
    let Notifications { unread, latest } = list;
    let label = if unread == 0 {
        "Notifications".to_owned()
    } else {
        format!("Notifications: {unread} unread")
    };
    view! {
        <summary class="bell-button" aria-label=label title="Notifications">
            <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                <path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"/>
            </svg>
            {(unread > 0).then(|| view! { <span class="bell-count" data-testid="bell-count">{unread}</span> })}
        </summary>
        <div class="bell-panel">
            {if latest.is_empty() {
                view! { <p class="muted">"Nothing yet. You are told here when an import of yours ends."</p> }.into_any()
            } else {
                view! {
                    <ul class="notes">
                        {latest.into_iter().map(|n| view! { <Item n mark/> }).collect_view()}
                    </ul>
                    {(unread > 0).then(|| view! {
                        <ActionForm action=mark attr:class="inline">
                            <button class="btn btn-small" type="submit">"Mark all as read"</button>
                        </ActionForm>
                    })}
                }.into_any()
            }}
        </div>
    }
}

/// The bell, as the page was rendered with `initial`: reloads when one of the user's jobs
/// ends (pushed by the server) or when something is marked read; once the user signs out
/// (`signed_out`) it asks the server nothing more, so a job that ends while the sign-out is
/// under way does not ask for the notifications of a session that is gone.
#[component]
pub fn Bell(initial: Notifications, signed_out: Signal<bool>) -> impl IntoView {
    let live = LiveJobs::get();
    let ended = Memo::new(move |_| {
        live.last
            .get()
            .filter(|j| !j.status.is_running())
            .map(|j| (j.id, j.status))
    });
    let mark = ServerAction::<MarkRead>::new();
    let (list, _) = super::live::refreshed(
        initial,
        (None, 0, 0, false),
        move || {
            (
                ended.get(),
                live.resyncs.get(),
                mark.version().get(),
                signed_out.get(),
            )
        },
        move || async move {
            if signed_out.get_untracked() {
                return Err(crate::model::AppError::Unauthorized);
            }
            load_notifications().await
        },
    );
    let bell = NodeRef::<leptos::html::Details>::new();
    close_when_left(bell);
    view! {
        <details class="bell" data-testid="bell" node_ref=bell>
            {move || view! { <Panel list=list.get() mark/> }}
        </details>
    }
}

/// The open bell closes on Escape (focus goes back to it) and on a click anywhere else.
fn close_when_left(bell: NodeRef<leptos::html::Details>) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let escape = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.key() == "Escape"
                && let Some(d) = bell.get_untracked()
                && d.open()
            {
                d.set_open(false);
                if let Some(summary) = d
                    .query_selector("summary")
                    .ok()
                    .flatten()
                    .and_then(|s| s.dyn_into::<leptos::web_sys::HtmlElement>().ok())
                {
                    let _ = summary.focus();
                }
            }
        });
        let elsewhere = window_event_listener(leptos::ev::click, move |ev| {
            if let Some(d) = bell.get_untracked()
                && d.open()
            {
                let target = ev
                    .target()
                    .and_then(|t| t.dyn_into::<leptos::web_sys::Node>().ok());
                if !d.contains(target.as_ref()) {
                    d.set_open(false);
                }
            }
        });
        on_cleanup(move || {
            escape.remove();
            elsewhere.remove();
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = bell;
}
