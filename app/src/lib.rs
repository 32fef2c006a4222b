//! The back office: pages, components and server functions (compiled for the server with
//! `ssr` and for the browser with `hydrate`), plus the server-only layers behind `ssr`.

// Leptos views nest deeply in their types.
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod entities;
#[cfg(feature = "engine")]
pub mod import;
#[cfg(feature = "ssr")]
pub mod jobs;
#[cfg(feature = "ssr")]
pub mod services;
#[cfg(feature = "ssr")]
pub mod state;

use components::import_form::CreateImport;
use components::layout::{Layout, PlainFrame};
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::SsrMode;
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::path;
use pages::{
    account::AccountPage,
    accounts::AccountsPage,
    admin::{AdminAuditPage, AdminProjectsPage, AdminTokensPage},
    admin_users::AdminUsersPage,
    clients::{ClientPage, ClientsPage},
    ib_programs::{IbProgramPage, IbProgramsPage},
    imports::ImportDetailsPage,
    imports::ImportMappingPage,
    imports::ImportsPage,
    login::LoginPage,
    not_found::NotFound,
};

/// The Content-Security-Policy of a page: scripts only from this site or inline with this
/// response's nonce (Leptos puts it on its hydration and streaming scripts), WebAssembly
/// compiled from this site, styles and images from this site, no framing, no plug-ins, forms
/// posted only here.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The HTML document around the application, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(response), Some(nonce)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        leptos::nonce::use_nonce(),
    ) && let Ok(policy) = http::HeaderValue::from_str(&page_policy(&nonce))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, policy);
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application. It runs on the server only: every page is rendered there whole
/// (`SsrMode::Async`, so pages are complete without JavaScript), and the browser hydrates
/// just the islands in it: the user's box with the bell, the forms, and the live import
/// views.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/crm.css"/>
        <Title formatter=|page: String| if page.is_empty() { "Back office".to_owned() } else { format!("{page} · Back office") }/>
        <Router>
            // Every page is rendered whole before it is sent: it works without JavaScript,
            // a refused job answers 403, and the islands in it are all there when the
            // browser hydrates them.
            // Any other address: "Page not found", inside the application's frame. (Not a
            // `*any` route: the server would then send every address, its files too, here.)
            <Routes fallback=|| view! { <PlainFrame><NotFound/></PlainFrame> }>
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=Layout ssr=SsrMode::Async>
                    <Route path=path!("") view=|| view! { <Redirect path="/clients"/> } ssr=SsrMode::Async/>
                    <Route path=path!("clients") view=ClientsPage ssr=SsrMode::Async/>
                    <Route path=path!("clients/:id") view=ClientPage ssr=SsrMode::Async/>
                    <Route path=path!("accounts") view=AccountsPage ssr=SsrMode::Async/>
                    <Route path=path!("account") view=AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("ib-programs") view=IbProgramsPage ssr=SsrMode::Async/>
                    <Route path=path!("ib-programs/:id") view=IbProgramPage ssr=SsrMode::Async/>
                    <Route path=path!("imports") view=ImportsPage ssr=SsrMode::Async/>
                    <Route path=path!("imports/new") view=CreateImport ssr=SsrMode::Async/>
                    <Route path=path!("imports/:id") view=ImportDetailsPage ssr=SsrMode::Async/>
                    <Route path=path!("imports/:id/mapping") view=ImportMappingPage ssr=SsrMode::Async/>
                    <Route path=path!("admin") view=|| view! { <Redirect path="/admin/users"/> } ssr=SsrMode::Async/>
                    <Route path=path!("admin/users") view=AdminUsersPage ssr=SsrMode::Async/>
                    <Route path=path!("admin/tokens") view=AdminTokensPage ssr=SsrMode::Async/>
                    <Route path=path!("admin/projects") view=AdminProjectsPage ssr=SsrMode::Async/>
                    <Route path=path!("admin/audit") view=AdminAuditPage ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
        <Hydrated/>
    }
}

/// Marks the page as interactive (`<body data-hydrated>`), for tests and anyone debugging.
/// It is the page's last island, and islands are hydrated in the order of the page, so
/// every other island is interactive by then.
#[island]
fn Hydrated() -> impl IntoView {
    Effect::new(|| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "");
        }
    });
}
