//! The back office: pages, components and server functions (compiled for the server with
//! `ssr` and for the browser with `hydrate`), plus the server-only layers behind `ssr`.

pub mod api;
pub mod components;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod entities;
#[cfg(feature = "ssr")]
pub mod import;
#[cfg(feature = "ssr")]
pub mod services;
#[cfg(feature = "ssr")]
pub mod state;

use components::layout::Layout;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::path;
use pages::{
    accounts::AccountsPage, admin_users::AdminUsersPage, clients::ClientsPage,
    ib_programs::IbProgramsPage, imports::ImportDetailsPage, imports::ImportsPage,
    login::LoginPage, not_found::NotFound,
};

/// The HTML document around the application, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Runs only in the browser, once the page is interactive: lets tests (and anyone
    // debugging) tell a hydrated page from a server-rendered one.
    Effect::new(|| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/crm.css"/>
        <Title formatter=|page: String| if page.is_empty() { "Back office".to_owned() } else { format!("{page} · Back office") }/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/login") view=LoginPage/>
                <ParentRoute path=path!("") view=Layout>
                    <Route path=path!("") view=|| view! { <Redirect path="/clients"/> }/>
                    <Route path=path!("clients") view=ClientsPage/>
                    <Route path=path!("accounts") view=AccountsPage/>
                    <Route path=path!("ib-programs") view=IbProgramsPage/>
                    <Route path=path!("imports") view=ImportsPage/>
                    <Route path=path!("imports/:id") view=ImportDetailsPage/>
                    <Route path=path!("admin") view=|| view! { <Redirect path="/admin/users"/> }/>
                    <Route path=path!("admin/users") view=AdminUsersPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
