use crate::api::session::{Logout, whoami};
use crate::model::CurrentUser;
use leptos::prelude::*;
use leptos_router::components::{A, Outlet};

/// The signed-in user, loaded once per page and read by the header and by pages.
#[derive(Clone, Copy)]
pub struct UserResource(pub Resource<Result<Option<CurrentUser>, crate::model::AppError>>);

/// The application frame: navigation, the signed-in user, sign-out, and the page.
#[component]
pub fn Layout() -> impl IntoView {
    let user = Resource::new(|| (), |_| whoami());
    provide_context(UserResource(user));
    let logout = ServerAction::<Logout>::new();
    super::live::provide_live_jobs();

    view! {
        <header class="topbar">
            <a class="brand" href="/clients">"Back office"</a>
            <nav class="mainnav" aria-label="Main">
                <A href="/clients">"Clients"</A>
                <A href="/accounts">"Accounts"</A>
                <A href="/ib-programs">"IB Programs"</A>
                <A href="/imports">"Import Data"</A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let admin = matches!(user.await, Ok(Some(u)) if u.is_admin());
                        admin.then(|| view! { <A href="/admin/users">"Admin"</A> })
                    })}
                </Transition>
            </nav>
            <div class="userbox">
                <super::bell::Bell signed_out=Signal::derive(move || {
                    logout.pending().get() || logout.version().get() > 0
                })/>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(u)) => view! {
                                <span class="whoami" data-testid="current-user">
                                    <a class="email" href="/account" title="My account">{u.email.clone()}</a>
                                    <span class="role-badge">{u.role.label()}</span>
                                </span>
                                <ActionForm action=logout attr:class="inline">
                                    <button type="submit" class="btn btn-quiet">"Sign out"</button>
                                </ActionForm>
                            }
                            .into_any(),
                            _ => view! { <a class="btn" href="/login">"Sign in"</a> }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </header>
        <main class="content">
            <Outlet/>
        </main>
    }
}
