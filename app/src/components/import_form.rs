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
                crate::model::grouped(rules.max_rows as i64),
                crate::model::file_size(rules.max_bytes)
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

/// A fresh key for one upload form: the server takes a second submission of the same form
/// (a double click, a resent request) as the first (`jobs::submission_key`). Forms are
/// rendered on the server only.
fn new_submission_key() -> String {
    #[cfg(feature = "ssr")]
    {
        use rand::RngCore;
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        hex::encode(bytes)
    }
    #[cfg(not(feature = "ssr"))]
    String::new()
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
            <input type="hidden" name="submission" value=new_submission_key()/>
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

/// An upload form in the browser (the server-rendered form is its child; without
/// JavaScript the form is sent as it is). A file over the limit is refused before a byte
/// is sent, with the reason above the form; otherwise the form is sent in the background
/// and its button, disabled (a second click sends nothing), shows how much has gone up.
/// The browser then goes where the server's answer leads: the new job's page, or this
/// page with the reason the file was refused.
#[island]
pub fn UploadGuard(max_bytes: u64, children: Children) -> impl IntoView {
    let (problem, set_problem) = signal(None::<String>);
    #[cfg(feature = "hydrate")]
    let on_submit = move |ev: web_sys::SubmitEvent| upload::submit(ev, max_bytes, set_problem);
    #[cfg(not(feature = "hydrate"))]
    let on_submit = move |_: leptos::ev::SubmitEvent| {
        let _ = (max_bytes, set_problem);
    };
    view! {
        {move || problem.get().map(|p| view! {
            <div class="notice notice-error" role="alert" data-testid="upload-error">{p}</div>
        })}
        <div on:submit=on_submit>{children()}</div>
    }
}

#[cfg(feature = "hydrate")]
mod upload {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{HtmlButtonElement, HtmlFormElement, HtmlInputElement, XmlHttpRequest};

    pub fn submit(ev: web_sys::SubmitEvent, max_bytes: u64, problem: WriteSignal<Option<String>>) {
        let Some(form) = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlFormElement>().ok())
        else {
            return;
        };
        let size = form
            .query_selector("input[type=file]")
            .ok()
            .flatten()
            .and_then(|input| input.dyn_into::<HtmlInputElement>().ok())
            .and_then(|input| input.files())
            .and_then(|files| files.get(0))
            .map(|file| file.size() as u64);
        if let Some(size) = size.filter(|size| *size > max_bytes) {
            ev.prevent_default();
            problem.set(Some(format!(
                "This file is {}, over the limit of {}. Split it into smaller files.",
                crate::model::file_size(size),
                crate::model::file_size(max_bytes)
            )));
            return;
        }
        let (Ok(data), Ok(xhr)) = (
            web_sys::FormData::new_with_form(&form),
            XmlHttpRequest::new(),
        ) else {
            // The browser sends the form itself.
            return;
        };
        ev.prevent_default();
        problem.set(None);
        let button = form
            .query_selector("button[type=submit]")
            .ok()
            .flatten()
            .and_then(|b| b.dyn_into::<HtmlButtonElement>().ok());
        let label = button
            .as_ref()
            .and_then(|b| b.text_content())
            .unwrap_or_default();
        let show = {
            let button = button.clone();
            move |text: &str| {
                if let Some(b) = &button {
                    b.set_text_content(Some(text));
                }
            }
        };
        if let Some(b) = &button {
            b.set_disabled(true);
        }
        show("Uploading…");
        let on_progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new({
            let show = show.clone();
            move |p: web_sys::ProgressEvent| {
                if p.length_computable() && p.total() > 0.0 {
                    let percent = (p.loaded() / p.total() * 100.0).floor() as u32;
                    show(&format!("Uploading… {percent}%"));
                }
            }
        });
        let on_load = Closure::<dyn FnMut()>::new({
            let xhr = xhr.clone();
            let show = show.clone();
            move || {
                show("Uploaded, opening the import…");
                let _ = window().location().assign(&xhr.response_url());
            }
        });
        let on_error = Closure::<dyn FnMut()>::new(move || {
            if let Some(b) = &button {
                b.set_disabled(false);
            }
            show(&label);
            problem.set(Some(
                "The upload did not reach the server (the connection was lost). Try again.".into(),
            ));
        });
        if let Ok(upload) = xhr.upload() {
            upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        }
        xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
        xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // Each lives as long as its request, which ends with the page or in an error.
        on_progress.forget();
        on_load.forget();
        on_error.forget();
        // The attribute, not `form.action`: the form's field named `action` (the Action
        // select) hides that property.
        let target = form.get_attribute("action").unwrap_or_default();
        let sent = xhr
            .open_with_async("POST", &target, true)
            .and_then(|_| xhr.set_request_header("Accept", "text/html"))
            .and_then(|_| xhr.send_with_opt_form_data(Some(&data)));
        if sent.is_err() {
            let _ = form.submit();
        }
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
                        <ImportModal action error=error.get_untracked()>
                            // The rules of every action, rendered here; the dialog shows those
                            // of the action chosen in the form.
                            {ImportAction::ALL.into_iter().map(|a| view! {
                                <div class="action-rules" data-action=a.as_str() hidden=a != action>
                                    <Rules rules=rules.clone() action=a/>
                                </div>
                            }).collect_view()}
                            <UploadGuard max_bytes=rules.max_bytes><ImportForm from action/></UploadGuard>
                        </ImportModal>
                    }.into_any()),
                    Ok(_) => None,
                    Err(error) => Some(view! { <ErrorNotice error/> }.into_any()),
                }
            })}
        </Transition>
    }
}

/// The Import button and its modal dialog (the upload form is its child). Without
/// JavaScript the button is a link to + Create, which has the same form, and a refused
/// upload's dialog is shown open in the page. In the browser it is a real modal dialog:
/// Escape, the close button or a click beside it close it and focus goes back to the
/// button; the rules, required columns and template follow the Action chosen in the form.
#[island]
fn ImportModal(action: ImportAction, error: Option<String>, children: Children) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    let (chosen, set_chosen) = signal(action);
    // The rules shown are those of the chosen action (the server rendered every action's).
    Effect::new(move |_| {
        let chosen = chosen.get();
        if let Some(d) = dialog.get() {
            for a in ImportAction::ALL {
                let selector = format!(".action-rules[data-action=\"{}\"]", a.as_str());
                if let Ok(Some(block)) = d.query_selector(&selector) {
                    let _ = if a == chosen {
                        block.remove_attribute("hidden")
                    } else {
                        block.set_attribute("hidden", "")
                    };
                }
            }
        }
    });
    let show = move || {
        if let Some(d) = dialog.get() {
            // Shown open by the server (a refused upload): made modal.
            if d.open() {
                d.close();
            }
            let _ = d.show_modal();
        }
    };
    let close = move || {
        if let Some(d) = dialog.get() {
            d.close();
        }
    };
    let refused = error.is_some();
    Effect::new(move |_| {
        if refused {
            show();
        }
    });
    let on_open = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        show();
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == " " {
            ev.prevent_default();
            show();
        }
    };
    // A click on the backdrop lands on the dialog element itself (its content fills it).
    let on_backdrop = move |ev: leptos::ev::MouseEvent| {
        use leptos::wasm_bindgen::JsCast;
        if ev
            .target()
            .is_some_and(|t| t.dyn_into::<leptos::web_sys::HtmlDialogElement>().is_ok())
        {
            close();
        }
    };
    let on_change = move |ev: leptos::ev::Event| {
        use leptos::wasm_bindgen::JsCast;
        if let Some(select) = ev
            .target()
            .and_then(|t| t.dyn_into::<leptos::web_sys::HtmlSelectElement>().ok())
            .filter(|s| s.name() == "action")
            && let Ok(a) = select.value().parse::<ImportAction>()
        {
            set_chosen.set(a);
        }
    };
    view! {
        <a class="btn btn-primary" href="/imports/new" role="button" data-testid="import-button"
            aria-haspopup="dialog" on:click=on_open on:keydown=on_key>"Import"</a>
        <dialog node_ref=dialog class="import-dialog" aria-label="Import a file" open=refused
            on:click=on_backdrop on:change=on_change>
            <div class="dialog-content">
            <div class="dialog-head">
                <h2>{move || format!("Import a file ({})", chosen.get().as_str())}</h2>
                <button type="button" class="btn btn-quiet dialog-close" aria-label="Close"
                    on:click=move |_| close()>"×"</button>
            </div>
            {error.map(|e| view! {
                <div class="notice notice-error" role="alert" data-testid="upload-error">{crate::components::notice::readable(&e)}</div>
            })}
            {children()}
            </div>
        </dialog>
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
            <div class="notice notice-error" role="alert" data-testid="upload-error">{crate::components::notice::readable(&e)}</div>
        })}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rules.await {
                    Ok(rules) if rules.can_import => view! {
                        <div class="two-columns">
                            <section class="panel">
                                <UploadGuard max_bytes=rules.max_bytes><ImportForm from="new" action=ImportAction::Users/></UploadGuard>
                            </section>
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
