use crate::api::session::{Logout, whoami};
use crate::model::{CurrentUser, Notifications};
use leptos::prelude::*;
use leptos_router::components::{A, Outlet};

/// The signed-in user, loaded once per page and read by the header and by pages.
#[derive(Clone, Copy)]
pub struct UserResource(pub Resource<Result<Option<CurrentUser>, crate::model::AppError>>);

/// The application frame: navigation, the signed-in user, sign-out, and the page. Rendered
/// on the server; only the user's box (the bell and Sign out) is an island.
#[component]
pub fn Layout() -> impl IntoView {
    let user = Resource::new(|| (), |_| whoami());
    provide_context(UserResource(user));
    let notes = Resource::new(|| (), |_| crate::api::notifications::load_notifications());

    view! {
        <a class="skip-link" href="#main">"Skip to the page"</a>
        <header class="topbar">
            <a class="brand" href="/clients">"Back office"</a>
            <MenuToggle/>
            <nav class="mainnav" id="mainnav" aria-label="Main">
                <NavLinks/>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let admin = matches!(user.await, Ok(Some(u)) if u.is_admin());
                        admin.then(|| view! { <A href="/admin/users">"Admin"</A> })
                    })}
                </Suspense>
            </nav>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(Some(u)) => view! {
                            <UserBox email=u.email.clone() role=u.role.label().to_owned()
                                notes=notes.await.ok()/>
                        }
                        .into_any(),
                        _ => view! { <SignInBox/> }.into_any(),
                    }
                })}
            </Suspense>
        </header>
        <main class="content" id="main" tabindex="-1">
            <super::notice::FlashNotice/>
            <Outlet/>
        </main>
    }
}

/// The links of the main navigation every user has.
#[component]
fn NavLinks() -> impl IntoView {
    view! {
        <A href="/clients">"Clients"</A>
        <A href="/accounts">"Accounts"</A>
        <A href="/ib-programs">"IB Programs"</A>
        <A href="/imports">"Import Data"</A>
    }
}

#[component]
fn SignInBox() -> impl IntoView {
    view! { <div class="userbox"><a class="btn" href="/login">"Sign in"</a></div> }
}

/// The frame of an address no route knows (the 404 page): the same navigation and user's
/// box, with the user taken from the request itself. It asks the database nothing (the
/// bell is left out): this page is rendered outside the routes, where nothing should wait.
#[component]
pub fn PlainFrame(children: Children) -> impl IntoView {
    let user = request_user();
    let admin = user.as_ref().is_some_and(CurrentUser::is_admin);
    view! {
        <a class="skip-link" href="#main">"Skip to the page"</a>
        <header class="topbar">
            <a class="brand" href="/clients">"Back office"</a>
            <MenuToggle/>
            <nav class="mainnav" id="mainnav" aria-label="Main">
                <NavLinks/>
                {admin.then(|| view! { <A href="/admin/users">"Admin"</A> })}
            </nav>
            {match user {
                Some(u) => view! {
                    <UserBox email=u.email.clone() role=u.role.label().to_owned() notes=None/>
                }.into_any(),
                None => view! { <SignInBox/> }.into_any(),
            }}
        </header>
        <main class="content" id="main" tabindex="-1">{children()}</main>
    }
}

/// The signed-in user of the request being rendered (the server's middleware resolved it).
fn request_user() -> Option<CurrentUser> {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<crate::auth::Caller>().cloned())
            .and_then(|caller| caller.user)
    }
    #[cfg(not(feature = "ssr"))]
    None
}

/// The Menu button of a phone's top bar: where a script runs, the main navigation folds
/// away under it below 640 px (the style sheet's `.mainnav.folded`) and opens and closes on
/// it; without a script there is no button and the links stay in view, wrapped.
#[island]
fn MenuToggle() -> impl IntoView {
    let (open, set_open) = signal(false);
    // Set once the island runs in the browser: only then does the menu fold.
    let (running, set_running) = signal(false);
    Effect::new(move |_| set_running.set(true));
    Effect::new(move |_| {
        let folded = running.get() && !open.get();
        #[cfg(feature = "hydrate")]
        if let Some(nav) = document().get_element_by_id("mainnav") {
            let _ = nav.class_list().toggle_with_force("folded", folded);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = folded;
    });
    view! {
        <button type="button" class="menu-toggle" hidden=move || !running.get()
            aria-controls="mainnav" aria-expanded=move || open.get().to_string()
            on:click=move |_| set_open.update(|o| *o = !*o)>"Menu"</button>
    }
}

/// The signed-in user's box: the bell, who they are, and Sign out. Once the sign-out is
/// under way the bell asks the server nothing more.
#[island]
fn UserBox(email: String, role: String, notes: Option<Notifications>) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let signed_out = Signal::derive(move || logout.pending().get() || logout.version().get() > 0);
    view! {
        <div class="userbox">
            {notes.map(|initial| view! { <super::bell::Bell initial signed_out/> })}
            <span class="whoami" data-testid="current-user">
                <a class="email" href="/account" title="My account">{email}</a>
                <span class="role-badge">{role}</span>
            </span>
            <ActionForm action=logout attr:class="inline">
                <button type="submit" class="btn btn-quiet">"Sign out"</button>
            </ActionForm>
        </div>
    }
}

/// After a page has loaded, focus goes to its heading (`main h1`), so that a screen reader
/// starts from it and Tab from there, as after a change of page in one page. Not when the
/// page puts focus somewhere itself (`autofocus`, an address with `#…`) or the reader has
/// already moved it.
#[cfg(feature = "hydrate")]
pub fn focus_heading() {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let untouched = document
        .active_element()
        .is_none_or(|e| e.tag_name().eq_ignore_ascii_case("body"));
    let hash = document.location().and_then(|l| l.hash().ok());
    if !untouched
        || hash.is_some_and(|h| !h.is_empty())
        || document
            .query_selector("[autofocus]")
            .ok()
            .flatten()
            .is_some()
    {
        return;
    }
    let Some(heading) = document
        .query_selector("main h1")
        .ok()
        .flatten()
        .and_then(|h| h.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    if !heading.has_attribute("tabindex") {
        let _ = heading.set_attribute("tabindex", "-1");
    }
    let options = web_sys::FocusOptions::new();
    options.set_prevent_scroll(true);
    let _ = heading.focus_with_options(&options);
}
